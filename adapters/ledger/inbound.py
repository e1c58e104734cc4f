"""Ledger rows → canonical messages, one per row, yielded while the file is read."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.kit.pipeline import DecodeContext, NativeRecord, Record, translate
from adapters.kit.problems import NativeError, NativeProblem
from adapters.ledger import columns, mapping
from adapters.ledger.native import LEDGER_LIMITS, LedgerFormatError, Row, read_rows, row_text

# Rows rejected before the rest of a file is refused: a file with this many bad rows is the wrong file or has a
# column wrong throughout, and every rejected row is kept and reported one by one (a few KB of the hub's memory each).
MAX_REJECTED_ROWS = 1_000


def decode(payload: bytes, ctx: DecodeContext) -> Iterator[Record]:
    """One Record per data row, in sheet order, yielded as the rows are read (memory stays flat however long
    the ledger): canonical XML checked against the canonical XSD, or the row's problems at their cells.
    ``number`` is the row's number in the sheet, ``where`` the row (``台账!12:12``).

    NativeError, raised from the iteration, when the file as a whole cannot be read: not a spreadsheet,
    mis-encoded, corrupt, over the ledger's limits (``LEDGER_LIMITS``), a header that does not match the column
    specification, no data rows. A file that breaks part-way raises it after the rows before the break; so does one
    with more than MAX_REJECTED_ROWS rejected rows (``too_many_problems``), at the next rejected row.
    """
    spec = columns.load()
    layout: columns.Layout | None = None
    rejected = 0
    try:
        for row in read_rows(payload, filename=ctx.filename, limits=LEDGER_LIMITS):
            if layout is None:
                layout = columns.Layout.of(spec, row)
            record = _record(layout, row, ctx)
            if not record.ok:
                rejected += 1
                if rejected > MAX_REJECTED_ROWS:
                    where = f"{layout.ref}!{row.number}:{row.number}"
                    raise NativeError(
                        "too_many_problems",
                        f"{where}: more than {MAX_REJECTED_ROWS} rows rejected (MAX_REJECTED_ROWS); the file is "
                        f"refused from row {row.number} on",
                        [NativeProblem(f"超过 {MAX_REJECTED_ROWS} 行被拒，自第 {row.number} 行起不再读取 / more than "
                                       f"{MAX_REJECTED_ROWS} rows rejected: the rest of the file is not read; "
                                       "请更正后重新提交 / correct the file and send it again", where)])
            yield record
    except LedgerFormatError as e:
        raise NativeError(e.code, e.message if e.where is None else f"{e.where}: {e.message}",
                          [NativeProblem(e.message, e.where)]) from None
    if layout is None:
        raise NativeError("empty", "the ledger has a header but no data rows",
                          [NativeProblem("表头下没有数据行 / no data rows under the header")])


def _record(layout: columns.Layout, row: Row, ctx: DecodeContext) -> Record:
    number = row.number
    where = f"{layout.ref}!{number}:{number}"
    event, data, problems = layout.check(row)
    sender = data.get("发送单位")
    if sender is not None and ctx.sender is not None and sender != ctx.sender:
        problems.append(NativeProblem(
            f"发送单位: {sender} 不是上传台账的单位 {ctx.sender} / is not the agency that uploaded the ledger "
            f"({ctx.sender}); 台账只能登记本单位发出的事项 / a ledger carries only its own office's notices",
            layout.cell("发送单位", number)))
    if problems or event is None:
        message_type = mapping.SPECS.by_native(event.word).message_type if event is not None else None
        return Record(number, where, message_type, None, tuple(problems), {}, row_text(row))

    def locate(path: str) -> str:
        # 外出起止日期/起 and 缺少材料[2]/名称 live in the cell of their column
        return layout.cell(path.split("/", 1)[0].split("[", 1)[0], number) if path else where

    rec = NativeRecord(number, where, event.word, data, locate, (), row_text(row))
    return translate(mapping.SPECS, rec, ctx)
