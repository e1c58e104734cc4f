"""Tables of the historical registers a bureau imports for the joint-meeting report (hub.report.history).

``history_imports``: every historical register file imported, as received (the raw bytes, also when refused) with
its per-row report. ``history_rows``: the accepted rows of the imports, one per person and case, that the report
counts for the days before the hub's own records; every import's rows are kept (the loader takes, for a person
and a first day of supervision, the row of the import whose register is of the latest day).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from hub.store.schema import TS, SeqType, metadata

history_imports = Table(
    "history_imports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("agency", String(12), nullable=False),  # the bureau whose register it is
    Column("filename", String(255)),
    Column("format", String(8)),  # csv | xlsx | xml; null when the file was refused before it was read
    Column("sha256", String(64), nullable=False),  # of the raw bytes
    Column("size", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # as received
    Column("as_of", Date),  # the day the register shows; null when not known (a refused file)
    Column("imported_at", TS, nullable=False),
    Column("imported_by", String(100), nullable=False),
    Column("rows_accepted", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("report", Text, nullable=False),  # JSON: the file's error, or each rejected row's problems at its cell
    Column("status", String(10), nullable=False),  # imported | refused
)
Index("ix_history_imports_agency", history_imports.c.agency, history_imports.c.sha256)

history_rows = Table(
    "history_rows",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("import_id", String(36), ForeignKey("history_imports.id"), nullable=False),
    Column("agency", String(12), nullable=False),
    Column("division", String(6), nullable=False),  # 执行地: the county
    Column("row_number", Integer, nullable=False),  # the row's place in the file (sheet row, CSV line, XML row)
    # the valid ID number, else ref|<agency>|<name as compared>|<birth date YYYYMMDD> (hub.report.history.person_key)
    Column("person_key", String(220), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_number", String(18)),  # valid and normalised, else null
    Column("birth_date", Date),
    Column("case_number", String(64)),
    Column("deciding_organ", String(12)),
    Column("correction_type", String(20), nullable=False),  # CONTROL | PROBATION | PAROLE | TEMP_OUTSIDE
    Column("received_on", Date, nullable=False),  # 矫正起始日期
    Column("period_end", Date),  # 矫正终止日期
    Column("ended_on", Date),  # 状态日期 of an ending status
    Column("end_kind", String(10)),  # released | terminated; null while on the books
)
Index("ix_history_rows_division", history_rows.c.division, history_rows.c.received_on)
Index("ix_history_rows_person", history_rows.c.person_key, history_rows.c.received_on)
Index("ix_history_rows_import", history_rows.c.import_id)
