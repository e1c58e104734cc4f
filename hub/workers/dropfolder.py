"""Drop folders: agencies without an API write native files into ``<root>/<agency code>/incoming/``.

A file is taken only once it has stopped changing (same size and modification time on two polls, and older
than the settle time), so a file still being written is never read half-way; names starting with ``.`` or
``~$`` or ending in ``.tmp``/``.part`` are never taken. A taken file is first renamed into the poller's own
``processing/<claim>/`` (an atomic claim: two pollers never both take it), then, after its records are stored,
moved to ``done/`` — or to ``rejected/`` when the file could not be read whole or nothing in it was accepted.
Whenever a record or the file was refused, an error file ``<name>.errors.txt`` beside it names each problem (in
Chinese and English). When storing fails (the database is away) the file goes back to ``incoming/`` and is
taken again later.

Each poller holds an exclusive lock on ``<root>/.pollers/<claim>.lock`` while it lives. A claim whose lock
nobody holds belongs to a poller that died: every poller, at start and on each poll, puts that claim's files
back into ``incoming/``, and never touches the files of a live poller in another process. Reading a file
again is harmless: records are idempotent by the sender's document id.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine

from hub import inbound
from hub.canonical import load_schema
from hub.core.model import Agency, Directory
from hub.errors import Forbidden
from hub.service import Hub
from hub.settings import Settings

log = logging.getLogger("xianjie.dropfolder")

SPREADSHEETS = frozenset({".xlsx", ".csv"})
FOLDERS = ("incoming", "processing", "done", "rejected")


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
        self._seen: dict[Path, tuple[int, int]] = {}
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

    def _put_back(self, code: str, stuck: Path) -> None:
        os.replace(stuck, _free(self.folder(code, "incoming") / stuck.name))
        log.warning("put %s back into incoming/ after an interrupted run", stuck)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("drop-folder poll failed; will try again")
            stop.wait(self.interval)

    def poll_once(self) -> int:
        """Take every settled file once; returns how many files were processed."""
        done = 0
        self.recover()
        now = time.time()
        current: dict[Path, tuple[int, int]] = {}
        for code, agency in sorted(self.directory.agencies.items()):
            incoming = self.folder(code, "incoming")
            try:
                entries = sorted(incoming.iterdir())
            except FileNotFoundError:
                continue
            for path in entries:
                if not path.is_file() or is_temporary(path.name):
                    continue
                st = path.stat()
                sig = (st.st_size, st.st_mtime_ns)
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
            os.rename(path, claimed)
        except FileNotFoundError:
            return False  # another poller took it
        raw = claimed.read_bytes()
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
            log.exception("could not store %s/%s; it goes back to incoming/", agency.code, path.name)
            self._put_back(agency.code, claimed)
            return False
        ok = report.error is None and (report.accepted or report.duplicates)
        target = _free(self.folder(agency.code, "done" if ok else "rejected") / path.name)
        os.replace(claimed, target)
        if report.error is not None or report.rejected:
            _write_errors(target, error_text(report, path.name))
        log.info("%s/%s: %d accepted, %d duplicates, %d rejected%s", agency.code, path.name, report.accepted,
                 report.duplicates, report.rejected, f", unreadable: {report.error.message}" if report.error else "")
        return True


def _free(target: Path) -> Path:
    """``target``, or a timestamped name beside it if that name is taken."""
    if not target.exists():
        return target
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return target.with_name(f"{target.stem}.{stamp}{target.suffix}")


def _write_errors(target: Path, text: str) -> None:
    # UTF-8 with a byte-order mark so that Windows text editors show the Chinese correctly
    target.with_name(target.name + ".errors.txt").write_text(text, encoding="utf-8-sig")


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
