"""Tables of the case ledger: cases, obligations, case timeline, projection cursor.

The ledger is a projection of ``messages`` (hub.casework): every row here can be rebuilt from the stored messages,
and ``ledger_cursor`` says how far the projection has got. The alarm clock reads ``obligations`` and ``cases``; the
register reconciliation reads ``cases`` (through ``hub.casework.ledger_people``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Text

from hub.store.schema import TS, SeqType, metadata

# One row per case (deciding organ + case number): the columns operators filter on, and the whole CaseState as
# JSON so that projection resumes from the row without replaying the case's messages.
cases = Table(
    "cases",
    metadata,
    Column("case_key", String(120), primary_key=True),
    Column("person_key", String(220)),
    Column("person_name", String(100)),
    Column("id_number", String(18)),  # the valid 18-character resident ID number, when the ledger has one
    Column("birth_date", Date),
    Column("deciding_organ", String(12), nullable=False),
    Column("case_number", String(64), nullable=False),  # as the messages write it
    Column("case_number_key", String(64), nullable=False),  # normalised (hub.core.facts.normalise_case_number)
    Column("division", String(6), nullable=False),  # 执行地 now
    Column("correction_type", String(20), nullable=False),
    Column("effective_on", Date),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("status", String(30), nullable=False),  # hub.core.case_state.CaseStatus
    Column("register_status", String(30)),  # hub.core.reconcile_values.Status; null before any decision
    Column("status_since", Date),  # legal day the register status began
    Column("responsible", String(12), nullable=False),
    Column("documents_served", Integer, nullable=False),  # 1: the decision's papers reached the bureau
    Column("state_json", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("last_seq", BigInteger, nullable=False),  # the messages.seq last applied to this case
)
Index("ix_cases_person_key", cases.c.person_key)
Index("ix_cases_id_number", cases.c.id_number)
Index("ix_cases_case_number_key", cases.c.case_number_key)
Index("ix_cases_division", cases.c.division, cases.c.status)

# One row per obligation (id = hub.core.obligations.obligation_id, stable across rebuilds). ``soon_from`` is the
# first day the obligation is "due soon" (due_date - due_soon_days): with ``due_date`` it gives every open status
# of a day in SQL (pending < soon_from <= due_soon < due_date = due_today < overdue).
obligations = Table(
    "obligations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_key", String(120), nullable=False),
    Column("person_key", String(220)),
    Column("division", String(6), nullable=False),  # the county whose rule row applies
    Column("rule_id", String(40), nullable=False),
    Column("step", Integer, nullable=False),
    Column("obligor", String(12), nullable=False),
    Column("obligee", String(12), nullable=False),
    Column("owes", String(40), nullable=False),
    Column("trigger_message", String(36), nullable=False),
    Column("trigger_date", Date, nullable=False),
    Column("due_date", Date),  # null while the working-day calendar of the year it needs is missing
    Column("due_soon_days", Integer, nullable=False),
    Column("soon_from", Date),
    Column("calendar_missing_year", Integer),
    Column("is_open", Integer, nullable=False),  # 1 until met or waived
    Column("met_on", Date),
    Column("met_by", String(36)),  # the message that discharged it
    Column("waived_on", Date),
    Column("waived_by", String(100)),  # an operator, or "ledger" when a later fact made it moot
    Column("waived_reason", Text),
    Column("opened_at", TS, nullable=False),  # when the hub received the message that opened it
)
Index("ix_obligations_clock", obligations.c.is_open, obligations.c.soon_from)
Index("ix_obligations_due", obligations.c.is_open, obligations.c.due_date)
Index("ix_obligations_case", obligations.c.case_key)
Index("ix_obligations_obligor", obligations.c.obligor, obligations.c.is_open)
Index("ix_obligations_obligee", obligations.c.obligee, obligations.c.is_open)
Index("ix_obligations_division", obligations.c.division, obligations.c.is_open)
Index("ix_obligations_rule", obligations.c.rule_id, obligations.c.is_open)

# The person timeline as the ledger saw it: each message applied (or held for its antecedent), each obligation
# opened, met, waived or rescheduled, and each message the ledger could not read or apply.
case_events = Table(
    "case_events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("case_key", String(120)),  # null for a message the ledger could not read
    Column("person_key", String(220)),
    Column("at", TS, nullable=False),
    Column("day", Date, nullable=False),  # the legal day (Asia/Shanghai)
    Column("kind", String(30), nullable=False),
    Column("message_id", String(36)),
    Column("detail", Text),  # JSON
)
Index("ix_case_events_case", case_events.c.case_key, case_events.c.seq)
Index("ix_case_events_person", case_events.c.person_key)
Index("ix_case_events_message", case_events.c.message_id)

# What the joint-meeting report counts, one row per message applied to a case and county it matters to: a person
# received (reported, handed over), released or ended, warned, given leave, moved, revoked, pursued; an assessment
# commissioned or given. ``on`` is the day the document names (reported on, effective on …), else the legal day the
# hub received it. A county transfer gives two rows: out of the old county, into the new.
case_facts = Table(
    "case_facts",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("division", String(6), primary_key=True),  # the county the fact belongs to
    Column("seq", BigInteger, nullable=False),  # messages.seq: the order the hub accepted them
    Column("case_key", String(120), nullable=False),
    Column("person_key", String(220)),
    Column("person_name", String(100)),
    Column("id_number", String(18)),
    Column("correction_type", String(20), nullable=False),
    Column("kind", String(30), nullable=False),  # hub.report.facts.FactKind
    Column("detail", String(40)),  # the document's own kind (REVOKE_PAROLE, ASSIST_SEARCH, REPORTED_LATE …)
    Column("on", Date, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("sender", String(12), nullable=False),
    Column("organ", String(12)),  # the other party it concerns: the commissioning organ, the deciding organ …
)
Index("ix_case_facts_division", case_facts.c.division, case_facts.c.on)
Index("ix_case_facts_case", case_facts.c.case_key, case_facts.c.on)

# One row (id 1): how far the projection has got. ``last_seq`` is the highest messages.seq applied; ``gaps`` the
# lower seqs not yet seen (a transaction still committing, or a number its rollback burnt), JSON {seq: noticed at}.
ledger_cursor = Table(
    "ledger_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("gaps", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("rebuild_target", BigInteger),  # while a rebuild runs: the last seq it must reach before alarms resume
    Column("replay", Text),  # while a rebuild runs: operators' waivers still to be made again (JSON list)
    Column("inputs", Text),  # fingerprint of the rules and calendar the open obligations were computed with
    Column("clock_run_at", TS),  # the clock time of the last alarm clock run
    Column("format", Integer),  # the ledger's format (hub.casework.LEDGER_FORMAT) its rows were written in
)
