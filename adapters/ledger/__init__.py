"""Ledger (台账) adapter: the spreadsheet ledger of a county office with no IT system (a 司法所 or a small county
bureau). An XLSX workbook or a CSV file with Chinese column headers, one notice or event per row, the 事项
column saying what each row records; every row is checked against schemas/agencies/ledger/columns.json first.
The hub delivers to such an office a one-row CSV per message. Spec page: docs/agencies/ledger.md."""

from __future__ import annotations

from collections.abc import Iterator

from adapters import DecodeContext, Encoded, Record
from adapters.bureau import BureauAdapter
from adapters.ledger import inbound, outbound


class LedgerAdapter:
    name = "ledger"
    # an office keeps in its ledger what a bureau's system sends, and is sent what a bureau's system receives,
    # but for the opinion on a change of the place of execution, which passes between the bureaus' systems (a
    # ledger row has no 事项 for it: an agency on this format reads it in its inbox as canonical XML, and on a push
    # transport it becomes a failed transfer)
    sends: frozenset[str] = BureauAdapter.sends - {"TransferOpinion"}
    receives: frozenset[str] = BureauAdapter.receives - {"TransferOpinion"}

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """A one-row ledger CSV (UTF-8 with byte-order mark, CRLF) of a canonical message; ValueError if the ledger
        has no 事项 or no column for its content."""
        return Encoded(outbound.encode(canonical, message_type), "text/csv; charset=utf-8", "csv")

    def decode(self, native: bytes, ctx: DecodeContext) -> Iterator[Record]:
        """One Record per data row, yielded while the file is read; NativeError (raised from the iteration) when
        the file as a whole cannot be read."""
        return inbound.decode(native, ctx)


ADAPTER = LedgerAdapter()
