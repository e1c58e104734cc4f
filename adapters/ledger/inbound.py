"""Ledger rows → canonical messages, one per row, yielded while the file is read."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.kit.pipeline import DecodeContext, NativeRecord, Record, translate
from adapters.kit.problems import NativeError, NativeProblem
from adapters.ledger import columns, mapping
from adapters.ledger.native import LedgerFormatError, Row, read_rows, row_text


def decode(payload: bytes, ctx: DecodeContext) -> Iterator[Record]:
    """One Record per data row, in sheet order, yielded as the rows are read (memory stays flat however long
    the ledger): canonical XML checked against the canonical XSD, or the row's problems at their cells.
    ``number`` is the row's number in the sheet, ``where`` the row (``台账!12:12``).

    NativeError, raised from the iteration, when the file as a whole cannot be read: not a spreadsheet,
    mis-encoded, corrupt, a header that does not match the column specification, no data rows. A file that
    breaks part-way raises it after the rows before the break.
    """
    spec = columns.load()
    layout: columns.Layout | None = None
    try:
        for row in read_rows(payload, filename=ctx.filename):
            if layout is None:
                layout = columns.Layout.of(spec, row)
            yield _record(layout, row, ctx)
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
