"""The hub's logs: one JSON object a line (``serve``, ``worker``) or plain text (interactive commands), and every
record masked before any of the hub's handlers writes it.

Masking has two layers. Values the code knows to be personal are passed as named extras
(``extra={"person_name": …, "address": …, "id_number": …}``) and masked by their key: a name keeps its first
character (``张＊``), an address its first administrative level (``云南省``), an ID number its first six digits. Under
that, every text of a record — the message, each extra, a traceback, uvicorn's access line — has anything shaped like
a resident ID number (18 characters, the last a digit or X, or a legacy 15-digit number; Unicode digits, a space or
hyphen between the number's groups) cut to its first six digits. Names and addresses cannot be found in free text, so
log calls name cases, records and messages by their keys and never quote a payload's values; an exception raised
while reading a payload (``exc_personal``) or handling a request (uvicorn's error logger) is logged with where it was
raised but without its message, which may quote one, and a database error never with its statement's parameters.
docs/security-privacy.md has the fields of a line and the rules."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TextIO

FORMATS = ("json", "text")
SERVICE_COMMANDS = ("serve", "worker")  # long-running processes whose logs a collector reads: JSON by default
MASK = "＊"
ID_KEEP = 6  # an ID number in a log keeps its issuing division: where it was issued, not who it is

# the extras masked by their key, whatever their value looks like
NAME_KEYS = frozenset({"person_name", "person_names", "alias", "aliases", "used_name"})
ADDRESS_KEYS = frozenset({"address", "addresses", "residence", "residence_address", "domicile"})
ID_KEYS = frozenset({"id_number", "id_numbers"})
FILE_KEYS = frozenset({"file_name", "filename"})
# the keys of a query string whose values say nothing about a person (kept in the access log); others are masked
PLAIN_QUERY_KEYS = frozenset({
    "status", "cause", "age", "message_type", "agency", "recipient", "county", "division", "rule", "state",
    "category", "reviewed", "channel", "code", "limit", "offset", "page", "page_no", "after", "format", "from", "to",
    "on", "year", "kind", "done", "lang", "same", "as_of"})

_D = r"\d"  # any Unicode decimal digit: full-width digits are caught too
_X = "[XxＸｘ]"
_SEP = "[ \\-]?"
ID_PATTERN = re.compile(
    rf"(?<!{_D})(?:{_D}{{6}}{_SEP}{_D}{{8}}{_SEP}{_D}{{3}}(?:{_D}(?!{_D})|{_X})"  # 18 characters
    rf"|{_D}{{6}}{_SEP}{_D}{{6}}{_SEP}{_D}{{3}}(?!{_D}))")  # legacy 15 digits
_ADMIN = re.compile(r"^\s*(\S{1,8}?(?:特别行政区|自治区|省|市))")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_QUERY = re.compile(r"([?&])([^=&#]*)=([^&#]*)")

# what JSON leaves raw but a reader may take for a line break or a terminal's command: DEL, C1 controls, U+2028/9
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_DROPPED = frozenset({"color_message", "xianjie_masked", "exc_personal"})
_RESERVED = frozenset({"time", "level", "logger", "message", "process", "exception", "stack"})


# ---- masking -------------------------------------------------------------------------------------------------------

def mask_id_numbers(text: str) -> str:
    """``text`` with every run shaped like a resident ID number cut to its first six digits and ``*`` for the rest."""
    return ID_PATTERN.sub(_masked_match, text)


def _masked_match(m: re.Match[str]) -> str:
    chars = [c for c in m.group(0) if c not in " -"]
    return "".join(chars[:ID_KEEP]) + "*" * (len(chars) - ID_KEEP)


def mask_id_value(value: str) -> str:
    """A value known to be an ID number (valid or not): its first six characters, ``*`` for the rest."""
    text = value.strip()
    if len(text) <= ID_KEEP:
        return "*" * len(text)
    return text[:ID_KEEP] + "*" * (len(text) - ID_KEEP)


def mask_name(value: str) -> str:
    """A person's name as a log shows it: its first character and ＊ (``张＊``)."""
    text = value.strip()
    return text[0] + MASK if text else ""


def mask_address(value: str) -> str:
    """An address as a log shows it: its first administrative level (``云南省``), or ＊ when it names none."""
    m = _ADMIN.match(value)
    return m.group(1) if m else (MASK if value.strip() else "")


def mask_file_name(value: str) -> str:
    """A file name as a log shows it: each run of non-ASCII characters (where a person's name would be written) cut
    to its first character and ＊, and ID numbers masked; the ASCII parts and the extension stay readable."""
    return mask_id_numbers(_NON_ASCII_RUN.sub(lambda m: m.group(0)[0] + MASK, value))


def mask_query(target: str) -> str:
    """A request target with the values of its query string masked, except those of PLAIN_QUERY_KEYS, and the ID
    numbers in its path masked."""
    path, sep, query = target.partition("?")
    if not sep:
        return mask_id_numbers(path)
    kept = _QUERY.sub(lambda m: m.group(0) if m.group(2) in PLAIN_QUERY_KEYS or not m.group(3)
                      else f"{m.group(1)}{m.group(2)}={MASK}", "?" + query)
    return mask_id_numbers(path) + mask_id_numbers(kept)


def _by_key(key: str) -> Callable[[str], str]:
    if key in NAME_KEYS:
        return mask_name
    if key in ADDRESS_KEYS:
        return mask_address
    if key in ID_KEYS:
        return mask_id_value
    if key in FILE_KEYS:
        return mask_file_name
    return mask_id_numbers


def mask_value(key: str, value: Any) -> Any:
    """An extra's value masked for its key: by the key's rule for text, recursively in mappings and sequences (a
    mapping's own keys choose the rule for their values), and as text for anything that is not JSON already."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _by_key(key)(value)
    if isinstance(value, Mapping):
        return {str(k): mask_value(str(k) if str(k) in _KEYED else key, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(key, v) for v in value]
    return _by_key(key)(str(value))


_KEYED = NAME_KEYS | ADDRESS_KEYS | ID_KEYS | FILE_KEYS


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
# loggers whose tracebacks come from handling a request: its payload's values may be in any exception's message
REQUEST_LOGGERS = frozenset({"uvicorn.error", "uvicorn.asgi"})


def format_traceback(exc_info: ExcInfo, *, withhold: bool) -> str:
    """A traceback, the oldest exception of its chain first, each with where it was raised and its type. With
    ``withhold`` (an exception raised while reading a payload, whose message may quote a person's name or address)
    without the messages; a database error's statement parameters — the values of a row — are never shown."""
    chain: list[BaseException] = []
    exc: BaseException | None = exc_info[1]
    while exc is not None and all(exc is not c for c in chain):
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    out: list[str] = []
    for n, e in enumerate(reversed(chain)):
        if n:
            out.append("\nwhich led to:\n\n")
        out.append("Traceback (most recent call last):\n")
        out.extend(traceback.format_tb(e.__traceback__))
        out.append(f"{_qualified(type(e))}: {_exception_text(e, withhold=withhold)}\n")
    return "".join(out).rstrip("\n")


def _qualified(kind: type[BaseException]) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


_PG_KEY = re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present| conflicts| is still)", re.S)
_PG_ROW = re.compile(r"Failing row contains \(.*\)", re.S)


def _row_values_withheld(text: str) -> str:
    """A database's message without the values it quotes (PostgreSQL's ``DETAIL: Key (…)=(…)``, a failing row)."""
    return _PG_ROW.sub("Failing row contains (withheld)", _PG_KEY.sub(r"\1=(withheld)", text))


def _exception_text(e: BaseException, *, withhold: bool) -> str:
    if withhold:
        return "[message withheld: it may quote personal data]"
    statement, orig = getattr(e, "statement", None), getattr(e, "orig", None)
    if isinstance(statement, str) and hasattr(e, "params"):  # SQLAlchemy's StatementError and its kin
        cause = f"({_qualified(type(orig))}) {_row_values_withheld(str(orig))}" if isinstance(orig, BaseException) \
            else type(e).__name__
        return f"{cause}\n[SQL: {statement}]\n[parameters withheld: they are a row's values]"
    return str(e)


class MaskingFilter(logging.Filter):
    """Masks a record in place, once, before any handler formats it: the message (its arguments merged in), every
    extra by its key, the traceback and stack; uvicorn's access line becomes method, path (query values masked)
    and status."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "xianjie_masked", False):
            return True
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, target, version, status = record.args
            path = mask_query(str(target))
            record.__dict__.update(client_addr=str(client), method=str(method), path=path, status=status,
                                   http_version=str(version))
            record.msg, record.args = f"{method} {path} {status}", None
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, masked, rather than lose the line
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = mask_id_numbers(message), None
        for key in [k for k in record.__dict__ if k not in _STANDARD]:
            if key in _DROPPED:
                continue
            record.__dict__[key] = mask_value(key, record.__dict__[key])
        record.__dict__.pop("color_message", None)  # uvicorn's copy of the message, with terminal colours
        # formatted here even if another handler did before (it caches the text unmasked on the record)
        if record.exc_info and record.exc_info[1] is not None:
            kind, value, tb = record.exc_info
            assert kind is not None and value is not None
            withhold = bool(getattr(record, "exc_personal", False)) or record.name in REQUEST_LOGGERS
            record.exc_text = mask_id_numbers(format_traceback((kind, value, tb), withhold=withhold))
        elif record.exc_text:
            record.exc_text = mask_id_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_id_numbers(record.stack_info)
        record.xianjie_masked = True
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured extras (what ``extra=`` added), by name; one that would shadow a fixed field of the
    JSON line is prefixed ``extra_``."""
    out: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD or key in _DROPPED:
            continue
        out[f"extra_{key}" if key in _RESERVED else key] = value
    return out


def utc_time(created: float) -> str:
    """A record's time in ISO 8601, UTC, to the millisecond, with ``Z``."""
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (ISO 8601 UTC), ``level``, ``logger``, ``message``, ``process``, then the
    record's extras by name, then ``exception`` (a traceback) and ``stack`` when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": utc_time(record.created), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage(), "process": record.process}
        line.update(extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        text = json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))
        return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …`` for a person at a terminal; masked as the JSON lines are."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        found = extras(record)
        tail = "".join(f" {k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in found.items())
        return super().formatMessage(record) + tail


class HubHandler(logging.StreamHandler[TextIO]):
    """The hub's one log handler: it masks every record it is given, then writes it in the chosen format."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.addFilter(MaskingFilter())
        self.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())


def choose_format(env: Mapping[str, str], command: str | None) -> str:
    """``XIANJIE_LOG_FORMAT`` if set (json or text), else JSON for ``serve`` and ``worker`` and text otherwise."""
    raw = (env.get("XIANJIE_LOG_FORMAT") or "").strip().lower()
    if not raw:
        return "json" if command in SERVICE_COMMANDS else "text"
    if raw not in FORMATS:
        raise ValueError(f"XIANJIE_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {raw!r}")
    return raw


def choose_level(env: Mapping[str, str]) -> int:
    """``XIANJIE_LOG_LEVEL`` (debug, info, warning, error; info by default)."""
    raw = (env.get("XIANJIE_LOG_LEVEL") or "info").strip().upper()
    level = logging.getLevelName(raw)
    if not isinstance(level, int):
        raise ValueError(f"XIANJIE_LOG_LEVEL must be one of debug, info, warning, error, not {raw.lower()!r}")
    return level


def setup(*, fmt: str, level: int = logging.INFO, stream: TextIO | None = None,
          force: bool = False) -> HubHandler | None:
    """Send every log record of the process through one masked handler in ``fmt``: the hub's loggers, uvicorn's
    (run with ``log_config=None``, so its access and error lines are the hub's too), warnings, and exceptions no
    one caught. Like ``logging.basicConfig``, it leaves a root logger that has another handler alone unless
    ``force`` (a test runner's capture, for one); returns the handler installed, or None."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, HubHandler)]:
        root.removeHandler(h)
    if root.handlers and not force:
        return None
    handler = HubHandler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request, with the agency's URL
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
        lg.setLevel(logging.NOTSET)  # the root's level, until uvicorn.run sets its --log-level
    logging.captureWarnings(True)
    _route_uncaught()
    return handler


def setup_from_env(env: Mapping[str, str] | None = None, *, command: str | None) -> HubHandler | None:
    """``setup`` with the format and level the environment chooses for ``command``."""
    e = os.environ if env is None else env
    return setup(fmt=choose_format(e, command), level=choose_level(e))


def _route_uncaught() -> None:
    """Exceptions no one caught, in the main thread or another, are logged (masked) instead of printed raw."""
    log = logging.getLogger("xianjie")

    def main_hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.critical("uncaught exception; the process ends", exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        log.error("uncaught exception in thread %s", args.thread.name if args.thread else "?",
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
