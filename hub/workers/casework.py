"""The case-ledger worker: projects new messages promptly and runs the deadline clock on a schedule.

Woken after each ingest commit in the same process (and polling every ``ledger_poll`` seconds for messages other
processes stored), it projects a batch at a time until caught up, then runs ``hub.alarming.run_clock`` once the
messages that arrived are projected (at most every ``ARRIVAL_GAP`` seconds) and every ``clock_interval`` seconds
(0 switches the clock off). The clock it hands on is injectable, so a test runs months of deadlines in seconds.
With several worker processes on PostgreSQL, the ledger's advisory lock lets one project at a time, and the clock's
last run, kept in ``ledger_cursor``, lets one of them run it per interval. After a rule change or a calendar year
loaded, open obligations are rescheduled (once: the fingerprint of the rules and calendar they were computed with
is kept with the cursor). Once caught up, it also lets identity linking read the new messages' persons and relink
(at most every ``IDENTITY_INTERVAL`` seconds).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select, update

from hub import alarming, casework, identity_store, rulebook
from hub.core.calendar import Calendar
from hub.core.model import Directory
from hub.core.rules import RuleBook
from hub.service import Hub
from hub.settings import Settings
from hub.store.ledger_schema import ledger_cursor

log = logging.getLogger("xianjie.ledger")
ARRIVAL_GAP = 5.0  # seconds: the clock runs on arrivals no more often than this
IDENTITY_INTERVAL = 30.0  # seconds: identity linking reads new messages no more often than this


class Casework:
    """One loop: project, reschedule after rule or calendar changes, run the clock."""

    def __init__(self, *, settings: Settings, engine: Engine, directory: Directory,
                 clock: Callable[[], dt.datetime], wake: threading.Event,
                 make_hub: Callable[[], Hub]) -> None:
        self.settings, self.engine, self.directory, self.clock, self.wake = settings, engine, directory, clock, wake
        self.make_hub = make_hub
        self.hub: Hub | None = None
        self.fingerprint: str | None = None
        self.rules: RuleBook | None = None
        self.calendar: Calendar | None = None
        self.inputs_checked = 0.0
        self.last_clock = 0.0  # monotonic time of this process's last clock run
        self.clock_runs = 0
        self.arrived = False  # messages were projected since the clock last ran
        self.unlinked = True  # messages may have come that identity linking has not read
        self.last_link = 0.0

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: a step at a time, sleeping when caught up until woken or the poll interval passes."""
        while not stop.is_set():
            try:
                read = self.step()
            except Exception:
                log.exception("ledger step failed; trying again in %.1f s", self.settings.ledger_poll,
                              extra={"exc_personal": True})
                stop.wait(self.settings.ledger_poll)
                continue
            if not read:
                self.wake.wait(self.settings.ledger_poll)
                self.wake.clear()

    def inputs(self) -> tuple[RuleBook, Calendar]:
        """The rules and calendar in force, reloaded when they changed (checked every poll interval); open
        obligations are rescheduled when the ledger's were computed with others."""
        due = time.monotonic() - self.inputs_checked >= self.settings.ledger_poll
        if self.rules is None or self.calendar is None or due:
            self.inputs_checked = time.monotonic()
            with self.engine.connect() as conn:
                fp = casework.inputs_fingerprint(conn)
                stored = conn.execute(select(ledger_cursor.c.inputs)).scalar()
            if fp != self.fingerprint or self.rules is None or self.calendar is None:
                changed = self.fingerprint is not None
                self.rules = rulebook.rules_in_force(self.engine)
                self.calendar = rulebook.calendar_in_force(self.engine)
                self.fingerprint = fp
                if changed or stored != fp:
                    n = casework.reschedule_open(self.engine, rules=self.rules, calendar=self.calendar,
                                                 fingerprint=fp)
                    if n:
                        log.info("ledger: rules or calendar changed (%s); %d open obligations rescheduled", fp, n)
        return self.rules, self.calendar

    def step(self) -> int:
        """Project one batch, then run the clock if it is time; how many messages were read."""
        rules, calendar = self.inputs()
        read = casework.project(self.engine, rules=rules, calendar=calendar, directory=self.directory,
                                limit=self.settings.ledger_batch)
        self.arrived = self.arrived or read > 0
        self.unlinked = self.unlinked or read > 0
        if self.unlinked and not read and time.monotonic() - self.last_link >= IDENTITY_INTERVAL:
            self.link_identities()
        interval = self.settings.clock_interval
        if interval <= 0:
            return read  # the clock is switched off
        since = time.monotonic() - self.last_clock
        if since >= interval or (self.arrived and not read and since >= min(ARRIVAL_GAP, interval)):
            self.arrived = False
            self.run_clock(scheduled=since >= interval)
        return read

    def link_identities(self) -> None:
        """Read the persons of the messages stored since the last run, then relink (at most every
        ``IDENTITY_INTERVAL`` seconds, once the ledger has caught up); several processes are serialised by the
        identity store's own lock."""
        self.last_link = time.monotonic()
        self.unlinked = False
        records = 0
        for _ in range(50):
            found = identity_store.index_messages(self.engine, limit=self.settings.ledger_batch)
            records += found.records
            if found.caught_up or not found.read:
                break
        else:
            self.unlinked = True  # more to read next time
        if records:
            identity_store.relink(self.engine)

    def run_clock(self, *, scheduled: bool) -> bool:
        """Call ``hub.alarming.run_clock`` with the clock's time, unless the ledger is being rebuilt or another
        process ran it less than an interval ago (for a run on arrival: ``ARRIVAL_GAP``); whether it ran."""
        self.last_clock = time.monotonic()
        now = self.clock()
        gap = self.settings.clock_interval if scheduled else min(ARRIVAL_GAP, self.settings.clock_interval)
        # The run is claimed in a short transaction (the cursor row is locked while it is read and written), and
        # made outside it: the alarms write through transactions of their own.
        with self.engine.begin() as conn:
            cur = casework.cursor(conn)
            if cur["rebuild_target"] is not None:
                log.info("ledger: rebuild in progress; the clock waits")
                return False
            last = cur["clock_run_at"]
            if last is not None:
                last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
                if dt.timedelta(0) <= now - last < dt.timedelta(seconds=gap):
                    return False
            conn.execute(update(ledger_cursor).where(ledger_cursor.c.id == 1).values(clock_run_at=now))
        if self.hub is None:
            self.hub = self.make_hub()
        sent = alarming.run_clock(hub=self.hub, now=now)
        self.clock_runs += 1
        if sent:
            log.info("clock at %s: %d notices", now.isoformat(), sent)
        return True
