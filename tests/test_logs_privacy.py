"""The hub's logs carry no person's ID number, name or address. The masker, property-tested over generated ID numbers
embedded in any text; the handler's JSON lines, extras masked by key, tracebacks without what may quote a payload and
database errors without a row's values; and a real `xianjie serve` on both stacks, driven with a rejected notice, a
delivered one, one whose delivery fails, a register with a bad row, an identity review, a file dropped under a
person's name and lookups by ID number and name, whose every log line (and `xianjie identity index`'s) is JSON with
the documented fields and none of the personal values sent."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub import logs
from hub.cli import main
from hub.core.idnumber import PROVINCES, check_digit
from tests.conftest import Stack
from tests.harness import N, Recipients, auth, notice, states, wait_until
from tests.hubserver import env_for, hub_settings

FIELDS = ("time", "level", "logger", "message", "process")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A JSON handler installed on the root logger (beside the test runner's own), writing into a buffer."""
    out = io.StringIO()
    handler = logs.setup(fmt="json", stream=out, force=True)
    yield out
    logging.getLogger().removeHandler(handler)  # type: ignore[arg-type]
    logging.getLogger().setLevel(logging.WARNING)


def lines_of(text: str) -> list[dict[str, Any]]:
    """Each line of a log as JSON, each checked to carry the documented fields."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), line
        assert all(k in entry for k in FIELDS), line
        assert TIME.match(entry["time"]) and entry["level"] in LEVELS and isinstance(entry["process"], int), line
        found.append(entry)
    return found


# ---- the masker ---------------------------------------------------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@st.composite
def id_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(an ID number as it might be written — 18 characters or a legacy 15, x or X, groups apart, full-width digits —,
    what the masker must make of it: the first six characters and * for each of the others)."""
    division = f"{draw(st.sampled_from(sorted(PROVINCES))):02d}{draw(st.integers(0, 9999)):04d}"
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    seq = f"{draw(st.integers(0, 999)):03d}"
    if draw(st.booleans()) and born.year < 2000:
        groups = [division, born.strftime("%y%m%d"), seq]
    else:
        body = division + born.strftime("%Y%m%d") + seq
        last = check_digit(body)
        last = last.lower() if last == "X" and draw(st.booleans()) else last
        groups = [division, body[6:14], seq + last]
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    number = sep.join(groups)
    if draw(st.integers(0, 9)) == 0:
        number = number.translate(FULL_WIDTH)
    chars = [c for c in number if c not in " -"]
    return number, "".join(chars[:6]) + "*" * (len(chars) - 6)


# text around a number: anything but a digit (a number within a longer run of digits is not an ID number)
AROUND = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(number=id_numbers(), before=AROUND, after=AROUND)
def test_an_id_number_anywhere_in_a_text_is_cut_to_its_first_six_digits(number: tuple[str, str], before: str,
                                                                        after: str) -> None:
    written, masked = number
    # Given a text holding an ID number, When it is masked
    out = logs.mask_id_numbers(before + written + after)
    # Then the number is its first six characters and one * for each other, and the text around it is untouched
    assert out == before + masked + after
    digits = [c for c in written if c not in " -"]
    assert "".join(digits[6:]) not in out


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(id_numbers(), min_size=1, max_size=4), name=st.text(min_size=2, max_size=6),
       words=st.lists(AROUND, min_size=5, max_size=5))
def test_a_record_s_message_arguments_and_extras_are_masked_in_its_json_line(
        numbers: list[tuple[str, str]], name: str, words: list[str]) -> None:
    out = io.StringIO()
    handler = logs.HubHandler("json", out)
    record = logging.LogRecord("xianjie.test", logging.WARNING, __file__, 1, "%s refused: %s", (
        words[0] + numbers[0][0], words[1] + numbers[-1][0] + words[2]), None)
    record.__dict__.update(person_name=name, id_number=numbers[0][0], note=[{"text": words[3] + n[0]} for n in numbers],
                           address="云南省保山市" + words[4] + name)
    handler.handle(record)
    (line,) = lines_of(out.getvalue())
    text = json.dumps(line, ensure_ascii=False)
    for written, masked in numbers:
        digits = "".join(c for c in written if c not in " -")
        assert digits[6:] not in text.replace("*", "")
        assert masked in text
    assert line["person_name"] == name.strip()[0] + "＊"
    assert line["address"] == "云南省"


def test_names_addresses_and_ids_passed_by_key_are_masked_however_nested(captured: io.StringIO) -> None:
    log = logging.getLogger("xianjie.test")
    log.info("register row refused", extra={
        "person_name": "司马南风", "address": "云南省保山市腾冲市和顺镇水碓村88号", "id_number": "53058119880314033",
        "rows": [{"person_name": "上官雨霏", "residence": "北京市朝阳区建国路1号", "note": "见530581198803140337号"}],
        "file_name": "判决书-诸葛青云-530581198803140337.xml", "count": 3})
    (line,) = lines_of(captured.getvalue())
    assert (line["person_name"], line["address"], line["id_number"]) == ("司＊", "云南省", "530581***********")
    assert line["rows"] == [{"person_name": "上＊", "residence": "北京市", "note": "见530581************号"}]
    assert line["file_name"] == "判＊-诸＊-530581************.xml" and line["count"] == 3
    assert "南风" not in captured.getvalue() and "和顺镇" not in captured.getvalue()


def test_an_address_keeps_its_first_level_only_and_a_name_its_first_character() -> None:
    addresses = ("云南省保山市隆阳区", "上海市浦东新区", "广西壮族自治区南宁市", "香港特别行政区中西区",
                 "隆阳区永昌街道", "Rue de Rivoli 1", "")
    assert [logs.mask_address(a) for a in addresses] == [
        "云南省", "上海市", "广西壮族自治区", "香港特别行政区", "＊", "＊", ""]
    assert [logs.mask_name(n) for n in ("杨国富", "欧阳娜娜", " 李 ", "")] == ["杨＊", "欧＊", "李＊", ""]
    # a run of digits longer than an ID number, or shorter, is not one
    assert logs.mask_id_numbers("seq 1700000000000000000 and 5305021988031403 and 53050219880314") == \
        "seq 1700000000000000000 and 5305021988031403 and 53050219880314"


def test_a_traceback_keeps_where_but_withholds_what_may_quote_a_payload(captured: io.StringIO) -> None:
    log = logging.getLogger("xianjie.inbound")
    name, address, number = "司马南风", "云南省保山市腾冲市和顺镇", "530581198803140337"
    try:
        raise ValueError(f"no such county in {name}'s address {address}, ID {number}")
    except ValueError:
        log.exception("the court adapter failed on payload p-1", extra={"exc_personal": True})
        log.exception("an unexpected error")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    personal, plain, request = lines_of(captured.getvalue())
    # an exception raised reading a payload, or handling a request: its place and type, not its message
    for entry in (personal, request):
        assert "test_logs_privacy.py" in entry["exception"] and "ValueError: [message withheld" in entry["exception"]
        assert "司马" not in entry["exception"] and "和顺镇" not in entry["exception"]
    # any other traceback keeps its message, with ID numbers masked
    assert "ValueError: no such county" in plain["exception"] and "530581************" in plain["exception"]
    assert "530581198803140337" not in captured.getvalue()


def test_a_database_error_is_logged_without_the_row_s_values(captured: io.StringIO) -> None:
    engine = sa.create_engine("sqlite://")
    row = {"n": "司马南风", "a": "和顺镇水碓村"}
    with engine.begin() as conn:
        conn.execute(sa.text("create table person (name text unique, address text)"))
        conn.execute(sa.text("insert into person values (:n, :a)"), row)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("insert into person values (:n, :a)"), row)
    except sa.exc.IntegrityError:
        logging.getLogger("xianjie.ingest").exception("could not store message m-1")
    (line,) = lines_of(captured.getvalue())
    assert "UNIQUE constraint failed: person.name" in line["exception"]
    assert "insert into person values (?, ?)" in line["exception"] and "parameters withheld" in line["exception"]
    assert "司马" not in line["exception"] and "水碓村" not in line["exception"]


def test_uvicorn_s_access_line_becomes_method_path_and_status_with_the_query_s_values_masked(
        captured: io.StringIO) -> None:
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                "/api/v1/persons/530581198803140337/timeline?q=%E5%8F%B8%E9%A9%AC&status=open&limit=5", "1.1", 200)
    (line,) = lines_of(captured.getvalue())
    path = "/api/v1/persons/530581************/timeline?q=＊&status=open&limit=5"
    assert (line["logger"], line["method"], line["path"], line["status"]) == ("uvicorn.access", "GET", path, 200)
    assert line["message"] == f"GET {path} 200" and line["client_addr"] == "127.0.0.1:5000"


def test_text_lines_are_masked_too_and_the_format_is_chosen_by_command_or_environment() -> None:
    out = io.StringIO()
    handler = logs.HubHandler("text", out)
    record = logging.LogRecord("xianjie.x", logging.INFO, __file__, 1, "looked up %s", ("530581198803140337",), None)
    record.person_name = "司马南风"
    handler.handle(record)
    assert out.getvalue().rstrip().endswith('xianjie.x: looked up 530581************ person_name="司＊"')
    assert [logs.choose_format({}, c) for c in ("serve", "worker", "migrate", "report", None)] == [
        "json", "json", "text", "text", "text"]
    assert logs.choose_format({"XIANJIE_LOG_FORMAT": "TEXT"}, "serve") == "text"
    assert logs.choose_format({"XIANJIE_LOG_FORMAT": "json"}, "migrate") == "json"
    with pytest.raises(ValueError, match="XIANJIE_LOG_FORMAT must be one of json, text, not 'xml'"):
        logs.choose_format({"XIANJIE_LOG_FORMAT": "xml"}, "serve")
    with pytest.raises(ValueError, match="XIANJIE_LOG_LEVEL"):
        logs.choose_level({"XIANJIE_LOG_LEVEL": "loud"})


def test_the_command_refuses_a_log_format_it_does_not_know(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XIANJIE_LOG_FORMAT", "yaml")
    with pytest.raises(SystemExit) as stop:
        main(["agencies"])
    assert stop.value.code == 2 and "XIANJIE_LOG_FORMAT must be one of json, text" in capsys.readouterr().err


def test_an_exception_no_one_caught_is_a_masked_json_line() -> None:
    code = ("from hub import logs; logs.setup(fmt='json'); "
            "raise RuntimeError('person 530581198803140337 not found')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    (line,) = lines_of(done.stderr)
    assert line["level"] == "CRITICAL" and "RuntimeError: person 530581************ not found" in line["exception"]
    assert "198803140337" not in done.stderr


# ---- a real hub ---------------------------------------------------------------------------------------------------

def an_id(division: str, born: str, seq: int) -> str:
    body = f"{division}{born}{seq:03d}"
    return body + check_digit(body)


def wrong_check(number: str) -> str:
    return number[:17] + ("1" if number[17] == "0" else "0")


def ending_in_x(division: str, born: str) -> str:
    return next(n for n in (an_id(division, born, s) for s in range(1, 999, 2)) if n.endswith("X"))  # odd: male


# what the traffic below sends: none of it may appear in a log, whole or in part
REJECTED = ("司马南风", "云南省保山市腾冲市和顺镇水碓村八十八号", wrong_check(an_id("530581", "19880314", 33)))
DELIVERED = ("上官雨霏", "云南省保山市龙陵县龙山镇白塔社区十二号", ending_in_x("530523", "19910522"))
FAILING = ("诸葛青云", "云南省保山市昌宁县田园镇右甸社区七号", an_id("530524", "19790102", 15))
REGISTER = ("皇甫松涛", "", an_id("530502", "19850611", 21))
REVIEWED = ("慕容秋水", "云南省保山市腾冲市腾越街道文星路九号", an_id("530581", "19930918", 45))
DROPPED = ("独孤明月", "云南省保山市隆阳区永昌街道正阳南路三号", an_id("530502", "19820228", 77))
POLICE_NAME = "慕蓉秋水"  # 慕容秋水 as the police wrote it
LEGACY = "530522880314032"


def person(name: str, address: str, birth: str) -> Any:
    def edit(root: etree._Element) -> None:
        p = root.find("x:person", N)
        p.find("x:name", N).text = name
        p.find("x:residence/x:address", N).text = address
        p.find("x:birthDate", N).text = birth
    return edit


def judgment(who: tuple[str, str, str], division: str, **kw: Any) -> bytes:
    name, address, number = who
    edit = person(name, address, f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
    xml = notice("SentencingDecision", sender="530502FY", execution_division=division, id_number=number, edit=edit,
                 **kw)[1]
    return xml.replace(f"<idNumber>{number}</idNumber>".encode(), f"<idNumber>{number.lower()}</idNumber>".encode())


def secrets() -> list[str]:
    """Every personal value the traffic sends, and the parts of each that would still say who it is."""
    out = [LEGACY, LEGACY[6:], POLICE_NAME]
    for name, address, number in (REJECTED, DELIVERED, FAILING, REGISTER, REVIEWED, DROPPED):
        out += [name, name[2:], number, number.lower(), number[6:], number[6:14]]
        if address:
            out += [address, address[3:]]
    return out + [quote(s) for s in out if not s.isascii()]  # as a URL carries them


class Served:
    """`xianjie serve` (API and workers) as a process, its output in files."""

    def __init__(self, stack: Stack, registry: Path, tmp_path: Path) -> None:
        self.settings = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                     queue_prefix=stack.queue_prefix, registry_path=registry)
        self.inbound = tmp_path / "inbound"
        self.env = env_for(self.settings) | {
            "XIANJIE_INBOUND_ROOT": str(self.inbound), "XIANJIE_INBOUND_POLL_INTERVAL": "0.2",
            "XIANJIE_INBOUND_SETTLE_SECONDS": "0.2"}
        for name in ("XIANJIE_LOG_FORMAT", "XIANJIE_LOG_LEVEL"):
            self.env.pop(name, None)  # serve's own default: JSON
        self.out, self.err = tmp_path / "serve.out", tmp_path / "serve.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "serve", "--migrate", "--host", "127.0.0.1",
                 "--port", str(self.settings.port), "--access-log", "--log-level", "info"],
                env=self.env, stdout=out, stderr=err)
        self.url = f"http://127.0.0.1:{self.settings.port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.err.read_text()
            assert time.time() < deadline, "the hub did not start"
            time.sleep(0.2)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `xianjie` command on the same database, its logs as JSON."""
        return subprocess.run([sys.executable, "-m", "hub", *args], env=self.env | {"XIANJIE_LOG_FORMAT": "json"},
                              capture_output=True, text=True, timeout=120)

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.out.read_text(encoding="utf-8"), self.err.read_text(encoding="utf-8")


def register_csv() -> bytes:
    name, _, number = REGISTER
    return ("姓名,身份证号码,矫正类别,矫正起始日期,状态\n"
            f"{name},{number},缓刑,2025-02-30,在册\n"  # a day that does not exist: the row is refused
            f"{REVIEWED[0]},{REVIEWED[2]},缓刑,2025-03-01,在册\n").encode()


def test_a_hub_driven_with_personal_data_logs_json_lines_that_carry_none_of_it(
        stack: Stack, registry: Path, recipients: Recipients, tmp_path: Path) -> None:
    recipients.modes["530524SF"] = "reject"
    hub = Served(stack, registry, tmp_path)
    index: subprocess.CompletedProcess[str] | None = None
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as c:
            court = {"Content-Type": "application/xml", **auth("530502FY")}
            # a notice rejected (its ID number's check character is wrong), naming the person and their address
            r = c.post("/api/v1/messages", content=judgment(REJECTED, "530581"), headers=court)
            assert r.status_code == 422 and r.json()["error"]["code"] == "semantic_invalid", r.text
            # one accepted and delivered (its ID number with a lower-case x)
            r = c.post("/api/v1/messages", content=judgment(DELIVERED, "530523"), headers=court)
            assert r.status_code == 202, r.text
            delivered = r.json()["message_id"]
            # one the recipient refuses: a failed transfer
            r = c.post("/api/v1/messages", content=judgment(FAILING, "530524"), headers=court)
            assert r.status_code == 202, r.text
            failing = r.json()["message_id"]
            wait_until(lambda: states(c, delivered).get("530523SF") == "delivered", what="the delivery")
            wait_until(lambda: states(c, failing).get("530524SF") == "failed", what="the failed transfer")
            # a register with a bad row
            r = c.post("/api/v1/registers/bureau_register", content=register_csv(), headers=auth("530502SF"),
                       params={"as_of": dt.date.today().isoformat(), "filename": f"{REGISTER[0]}名册.csv"})
            assert r.status_code in (200, 201, 202, 207), r.text
            # an identity review: the court's person, and the police naming the same person without an ID number
            r = c.post("/api/v1/messages", content=judgment(REVIEWED, "530581"), headers=court)
            assert r.status_code == 202, r.text
            _, address, number = REVIEWED

            def police(root: etree._Element) -> None:  # the same name in pinyin, written with another character
                person(POLICE_NAME, address, f"{number[6:10]}-{number[10:12]}-{number[12:14]}")(root)
                p = root.find("x:person", N)
                p.remove(p.find("x:idNumber", N))
                p.find("x:sex", N).text = "MALE"
                root.find("x:case/x:caseNumber", N).text = "（2025）云0581刑初77号"

            xml = notice("PursuitResult", sender="530581GA", edit=police)[1]
            r = c.post("/api/v1/messages", content=xml, headers={"Content-Type": "application/xml",
                                                                 **auth("530581GA")})
            assert r.status_code == 202, r.text
            index = hub.command("identity", "index")
            assert index.returncode == 0, index.stderr
            reviews = c.get("/api/v1/identity/reviews", params={"status": "open"}, headers=auth("530500ZX"))
            (item,) = reviews.json()["reviews"]
            r = c.post(f"/api/v1/identity/reviews/{item['id']}/decide", headers=auth("530500ZX"),
                       json={"same": False, "by": "王科长", "reason": "公安核实：另有其人"})
            assert r.status_code == 200, r.text
            # a file dropped under the person's name and ID number
            incoming = hub.inbound / "530502FY" / "incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            dropped = f"判决书-{DROPPED[0]}-{DROPPED[2]}.xml"
            (incoming / dropped).write_bytes(judgment(DROPPED, "530502"))
            done = hub.inbound / "530502FY" / "done" / dropped
            wait_until(lambda: done.exists() and "xianjie.dropfolder" in hub.err.read_text(encoding="utf-8"),
                       what="the dropped file taken")
            # lookups by ID number (legacy too) and by name, whose addresses go into the access log
            for path, params in ((f"/api/v1/persons/{DELIVERED[2]}/timeline", {}),
                                 (f"/api/v1/persons/{LEGACY}/timeline", {}),
                                 ("/api/v1/failed-transfers", {"q": FAILING[0], "status": "open"}),
                                 ("/api/v1/failed-transfers", {"q": FAILING[2]})):
                assert c.get(path, params=params, headers=auth("530500ZX")).status_code in (200, 404)
            assert c.get("/console/persons", params={"ref": REVIEWED[2]}).status_code == 303
    finally:
        out, err = hub.stop()
    # Then every line the hub logged is JSON with the documented fields
    served = lines_of(err)
    assert index is not None
    indexed = lines_of(index.stderr)
    # and the hub's, uvicorn's error and access loggers all wrote through the one masked handler
    loggers = {e["logger"] for e in served}
    assert {"uvicorn.error", "uvicorn.access", "xianjie.dropfolder"} <= loggers, loggers
    paths = [e.get("path") for e in served if e["logger"] == "uvicorn.access"]
    assert f"/api/v1/persons/{DELIVERED[2][:6]}{'*' * 12}/timeline" in paths
    assert f"/api/v1/persons/{LEGACY[:6]}{'*' * 9}/timeline" in paths
    assert "/api/v1/failed-transfers?q=＊&status=open" in paths and "/console/persons?ref=＊" in paths
    taken = next(e for e in served if e["logger"] == "xianjie.dropfolder" and "file_name" in e)
    assert taken["file_name"] == f"判＊-独＊-{DROPPED[2][:6]}{'*' * 12}.xml" and taken["payload_id"]
    # and nothing anyone sent about a person is in any of it: not in the logs, not on the console's output
    everything = "\n".join((out, err, index.stderr))
    leaked = sorted({s for s in secrets() if s in everything})
    assert leaked == [], leaked
    assert len(served) > 20 and indexed is not None
