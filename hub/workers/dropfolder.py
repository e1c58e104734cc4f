"""Drop folders: agencies without an API write native files into ``<root>/<agency code>/incoming/``.

A file is taken only once it has stopped changing (same size and modification time on two polls, and older
than the settle time), so a file still being written is never read half-way; names starting with ``.`` or
``~$`` or ending in ``.tmp``/``.part`` are never taken. A taken file is first renamed into the poller's own
``processing/<claim>/`` (an atomic claim: two pollers never both take it), then, after its records are stored,
moved to ``done/`` — or to ``rejected/`` when the file could not be read whole or nothing in it was accepted.
Whenever a record or the file was refused, an error file ``<name>.errors.txt`` beside it names each problem (in
Chinese and English). When storing fails (the database is away) the file goes back to ``incoming/`` and is
taken again later.

Only regular files with one link are read. An entry that is anything else — a symbolic link (wherever it points), a
hard link to a file that also lives elsewhere, a directory, a FIFO, a device or a socket — or a file larger than
``max_native_bytes`` is moved as it is (a link itself, never its target) to ``rejected/`` without being opened or
read, with its reason in the error file and in the quarantine (no bytes kept). The claimed file is opened with
``O_NOFOLLOW | O_NONBLOCK`` and checked again on the open descriptor (a regular file, the same inode as the entry
that was claimed, one link, within the size limit, read up to the limit), so that an entry swapped between the
check and the read is refused too. Names are kept as they are; where a name is too long for the error file's
suffix, the moved file's name is shortened. An ``incoming/`` that is itself a symbolic link is not read.

Each poller holds an exclusive lock on ``<root>/.pollers/<claim>.lock`` while it lives. A claim whose lock
nobody holds belongs to a poller that died: every poller, at start and on each poll, puts that claim's files
back into ``incoming/``, and never touches the files of a live poller in another process. Reading a file
again is harmless: records are idempotent by the sender's document id.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import shutil
import stat
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine

from hub import inbound
from hub.canonical import load_schema
from hub.core.model import Agency, Directory
from hub.errors import Forbidden, Problem
from hub.service import Hub
from hub.settings import Settings

log = logging.getLogger("xianjie.dropfolder")

SPREADSHEETS = frozenset({".xlsx", ".csv"})
FOLDERS = ("incoming", "processing", "done", "rejected")
NAME_MAX = 255  # bytes in one file name (Linux filesystems)
# what a moved file's name may need beside it: a timestamp when the name is taken, then ".errors.txt"
_SUFFIX_ROOM = len(".20260101-120000-000000") + len(".errors.txt")


class Refused(Exception):
    """A dropped entry that is not read: ``code`` and ``reason`` say why; ``status`` as an HTTP answer would."""

    def __init__(self, code: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status


_KINDS = ((stat.S_ISLNK, "a symbolic link", "symlink"), (stat.S_ISDIR, "a directory", "directory"),
          (stat.S_ISFIFO, "a FIFO (named pipe)", "fifo"), (stat.S_ISCHR, "a character device", "device"),
          (stat.S_ISBLK, "a block device", "device"), (stat.S_ISSOCK, "a socket", "socket"))


def _not_regular(mode: int) -> Refused | None:
    for test, what, kind in _KINDS:
        if test(mode):
            return Refused(f"not_a_file_{kind}", f"不是普通文件，未读取 / {what}, not a regular file: not read; "
                                                 "请放入文件本身 / drop the file itself")
    if not stat.S_ISREG(mode):
        return Refused("not_a_file", "不是普通文件，未读取 / not a regular file: not read")
    return None


def read_claimed(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (the poller's own claim), read through a descriptor opened without
    following a link and without blocking, and checked on that descriptor; Refused for anything else, or a file
    over ``limit`` bytes (found from its size, or while reading if it grows), before it is read whole."""
    before = os.lstat(path)
    refused = _not_regular(before.st_mode)
    if refused is not None:
        raise refused
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Refused("not_a_file_symlink", "符号链接，未读取 / a symbolic link (it replaced the file being "
                                                "taken): not read") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        refused = _not_regular(st.st_mode)
        if refused is not None:
            raise refused
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise Refused("replaced", "文件在读取前被替换，未读取 / the file was replaced while it was being taken: "
                                      "not read; 请重新放入 / drop it again")
        if st.st_nlink != 1:
            raise Refused("hard_link", f"文件有 {st.st_nlink} 个硬链接，未读取 / a hard link ({st.st_nlink} links): "
                                       "its content is also another file's; not read; 请放入文件的副本 / drop a copy")
        if st.st_size > limit:
            raise Refused("too_large", f"文件 {st.st_size} 字节，超过上限 {limit} 字节，未读取 / {st.st_size} bytes; "
                                       f"at most {limit} bytes (max_native_bytes): not read; 请拆分 / split it", 413)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Refused("too_large", f"文件超过上限 {limit} 字节（读取时仍在增长）/ more than {limit} bytes "
                                   "(max_native_bytes; it grew while it was read): refused", 413)
    return data


def is_temporary(name: str) -> bool:
    low = name.lower()
    return name.startswith((".", "~$")) or low.endswith((".tmp", ".part", ".partial", ".crdownload", ".errors.txt"))


def system_for(agency: Agency, path: Path) -> str:
    """The native system of a dropped file: spreadsheets are ledgers, anything else the agency's own format."""
    if path.suffix.lower() in SPREADSHEETS and "ledger" in agency.inbound_systems:
        return "ledger"
    return agency.adapter


class DropFolders:
    """Polls every agency's ``incoming/`` folder under the inbound root."""

    def __init__(self, settings: Settings, engine: Engine, directory: Directory, *,
                 on_commit: object = None) -> None:
        assert settings.inbound_root is not None
        self.root = settings.inbound_root
        self.settle = settings.inbound_settle_seconds
        self.interval = settings.inbound_poll_interval
        self.directory = directory
        self.hub = Hub(engine=engine, directory=directory, schema=load_schema())
        if callable(on_commit):
            self.hub.on_commit = on_commit
        self._seen: dict[Path, tuple[int, int, int, int]] = {}
        self.limit = settings.max_native_bytes
        self.claim = uuid.uuid4().hex
        pollers = self.root / ".pollers"
        pollers.mkdir(parents=True, exist_ok=True)
        # held until this object is closed or the process dies; the kernel drops it with the process
        self._lock = (pollers / f"{self.claim}.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.prepare()

    def folder(self, code: str, name: str) -> Path:
        return self.root / code / name

    def close(self) -> None:
        """Give up the claim (its folders are empty between files)."""
        if not self._lock.closed:
            for code in self.directory.agencies:
                shutil.rmtree(self.folder(code, "processing") / self.claim, ignore_errors=True)
            (self.root / ".pollers" / f"{self.claim}.lock").unlink(missing_ok=True)
            self._lock.close()

    def prepare(self) -> None:
        """Create every agency's folders and put back the files of pollers that died."""
        for code in self.directory.agencies:
            for name in FOLDERS:
                self.folder(code, name).mkdir(parents=True, exist_ok=True)
            self.folder(code, "processing").joinpath(self.claim).mkdir(exist_ok=True)
            for stuck in self.folder(code, "processing").iterdir():
                if stuck.is_file():  # a file claimed before claims had their own folders
                    self._put_back(code, stuck)
        self.recover()

    def recover(self) -> int:
        """Put back into incoming/ the files of every claim whose poller is gone; returns how many."""
        moved = 0
        for lock_path in (self.root / ".pollers").glob("*.lock"):
            claim = lock_path.stem
            if claim == self.claim:
                continue
            with lock_path.open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its poller is alive
                for code in self.directory.agencies:
                    folder = self.folder(code, "processing") / claim
                    if folder.is_dir():
                        for stuck in folder.iterdir():
                            self._put_back(code, stuck)
                            moved += 1
                        shutil.rmtree(folder, ignore_errors=True)
                lock_path.unlink(missing_ok=True)
        return moved

    def _refuse(self, agency: Agency, claimed: Path, name: str, e: Refused) -> bool:
        """An entry not read: its reason in the quarantine, then the entry moved as it is to rejected/ with the
        reason beside it. When the quarantine cannot be written (the database is away) it goes back to incoming/."""
        try:
            qid = self.hub.quarantine(b"", agency=agency.code, channel="drop-folder", status=e.status, code=e.code,
                                      message=f"dropped file {name!r} not read: {e.reason}",
                                      problems=[Problem(e.reason, path=name)], content_type=None,
                                      size=os.lstat(claimed).st_size)
        except Exception:
            log.exception("could not record a refused entry of %s; it goes back to incoming/", agency.code,
                          extra={"file_name": name, "exc_personal": True})  # a database error quotes its values
            self._put_back(agency.code, claimed)
            return False
        target = _free(self.folder(agency.code, "rejected") / name)
        os.replace(claimed, target)
        _write_errors(target, f"文件 file: {name}\n隔离编号 quarantine id: {qid}\n\n拒收 refused: {e.code} — "
                              f"{e.reason}\n")
        log.warning("%s: a dropped entry refused unread (%s)", agency.code, e.code,
                    extra={"file_name": name, "quarantine_id": qid})
        return True

    def _put_back(self, code: str, stuck: Path) -> None:
        os.replace(stuck, _free(self.folder(code, "incoming") / stuck.name))
        log.warning("put a file back into %s/incoming/ after an interrupted run", code, extra={"file_name": stuck.name})

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # an OSError names the file, whose name may name a person: where it failed is logged, not its text
                log.exception("drop-folder poll failed; will try again", extra={"exc_personal": True})
            stop.wait(self.interval)

    def poll_once(self) -> int:
        """Take every settled file once; returns how many files were processed."""
        done = 0
        self.recover()
        now = time.time()
        current: dict[Path, tuple[int, int, int, int]] = {}
        for code, agency in sorted(self.directory.agencies.items()):
            incoming = self.folder(code, "incoming")
            if incoming.is_symlink():
                log.error("%s/incoming/ is a symbolic link: not read (make it a folder of its own)", code)
                continue
            try:
                entries = sorted(incoming.iterdir())
            except FileNotFoundError:
                continue
            for path in entries:
                if is_temporary(path.name):
                    continue
                try:
                    st = path.lstat()  # the entry itself: a link is not followed
                except FileNotFoundError:
                    continue
                sig = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns)
                current[path] = sig
                if self._seen.get(path) != sig or now - st.st_mtime < self.settle:
                    continue  # still being written, or not yet seen unchanged
                if self.take(agency, path):
                    done += 1
                    current.pop(path, None)
        self._seen = current
        return done

    def take(self, agency: Agency, path: Path) -> bool:
        claimed = self.folder(agency.code, "processing") / self.claim / path.name
        claimed.parent.mkdir(exist_ok=True)
        try:
            os.rename(path, claimed)  # renames the entry itself, whatever it is
        except FileNotFoundError:
            return False  # another poller took it
        try:
            raw = read_claimed(claimed, self.limit)
        except (Refused, OSError) as e:
            refused = e if isinstance(e, Refused) else Refused(
                "unreadable", f"无法读取 / cannot be read: {e.strerror or type(e).__name__}")
            return self._refuse(agency, claimed, path.name, refused)
        system = system_for(agency, claimed)
        try:
            report = inbound.receive(self.hub, raw, agency=agency, system=system, channel="drop-folder",
                                     filename=path.name)
        except Forbidden as e:
            target = _free(self.folder(agency.code, "rejected") / path.name)
            os.replace(claimed, target)
            _write_errors(target, f"拒收 refused: {e}\n")
            return True
        except Exception:
            # nothing is lost: what was stored stays stored, and the file is read again on a later poll
            log.exception("could not store a file of %s; it goes back to incoming/", agency.code,
                          extra={"file_name": path.name, "exc_personal": True})
            self._put_back(agency.code, claimed)
            return False
        ok = report.error is None and (report.accepted or report.duplicates)
        target = _free(self.folder(agency.code, "done" if ok else "rejected") / path.name)
        os.replace(claimed, target)
        if report.error is not None or report.rejected:
            _write_errors(target, error_text(report, path.name))
        # the file's name may carry a person's name and an error may quote a value: the name is masked by its key,
        # the error named by its code (the reasons are in the .errors.txt beside the file)
        log.info("%s: a file taken: %d accepted, %d duplicates, %d rejected%s", agency.code, report.accepted,
                 report.duplicates, report.rejected, f", unreadable ({report.error.code})" if report.error else "",
                 extra={"file_name": path.name, "payload_id": report.payload_id})
        return True


def _fitting(name: str) -> str:
    """``name``, its stem shortened (the extension kept) when a timestamp and ".errors.txt" would not fit beside it
    in one file name."""
    room = NAME_MAX - _SUFFIX_ROOM
    if len(os.fsencode(name)) <= room:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(os.fsencode(ext)) > 16:
        stem, ext = name, ""
    ext = f".{ext}" if ext else ""
    while stem and len(os.fsencode(stem + "…" + ext)) > room:
        stem = stem[:-1]
    return stem + "…" + ext


def _free(target: Path) -> Path:
    """``target`` (its name shortened to fit, see ``_fitting``), or a timestamped name beside it if that name is
    taken (by anything, a dangling link too)."""
    target = target.with_name(_fitting(target.name))
    if not os.path.lexists(target):
        return target
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return target.with_name(f"{target.stem}.{stamp}{target.suffix}")


def _write_errors(target: Path, text: str) -> None:
    # UTF-8 with a byte-order mark so that Windows text editors show the Chinese correctly; written under a hidden
    # temporary name and then linked into place, so that whoever watches the folder finds the error file whole or
    # not at all; never through a link nor over a file someone left under that name (a timestamped name then)
    tmp = target.with_name(f".{uuid.uuid4().hex}.errors.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig") as f:
            f.write(text)
        path = target.with_name(target.name + ".errors.txt")
        if os.path.lexists(path):
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            path = target.with_name(f"{target.name}.{stamp}.errors.txt")
        try:
            os.link(tmp, path)  # fails when the name was taken meanwhile: nothing is replaced
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise
            os.rename(tmp, path)  # a share without hard links (a mounted Windows folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def error_text(report: inbound.InboundReport, name: str) -> str:
    """The error file's text: the payload's fate, then every refused record with each problem and its place."""
    lines = [
        f"文件 file: {name}",
        f"载荷编号 payload id: {report.payload_id}",
        f"格式 format: {report.system}",
        f"记录 records: {report.records}  已接收 accepted: {report.accepted}  重复 duplicates: {report.duplicates}"
        f"  被拒 rejected: {report.rejected}",
        "",
    ]
    if report.error is not None:
        lines.append(f"整个文件无法读取 the whole file could not be read: {report.error.code} — {report.error.message}")
        lines.extend(f"  - {_place(p.path, p.line)}{p.reason}" for p in report.error.problems)
    for o in report.outcomes:
        if o.status != "rejected":
            continue
        lines.append(f"第 {o.number} 条记录 record {o.number} ({o.where}) 被拒 rejected: {o.code}")
        lines.extend(f"  - {_place(p.path, p.line)}{p.reason}" for p in o.problems)
    return "\n".join(lines) + "\n"


def _place(path: str | None, line: int | None) -> str:
    parts = [x for x in (path, f"line {line}" if line else None) if x]
    return f"[{', '.join(parts)}] " if parts else ""
