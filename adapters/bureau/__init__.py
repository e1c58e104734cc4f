"""County judicial bureau (司法局) community-corrections information system (社区矫正信息管理系统): XML exchange
messages <JHBW xmlns="urn:sqjz:exchange:1"> with a header <BWTX> and records <SJX> tagged by business type
(业务类型 YWLX). Spec page: docs/agencies/bureau.md."""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.bureau import inbound, outbound


class BureauAdapter:
    name = "bureau"
    # what a bureau reports to the hub
    sends: frozenset[str] = frozenset({
        "AssessmentOpinion", "DocumentReceipt", "ReportingOutcome", "SupervisionEvent", "TransferPapers",
        "TransferOpinion", "RevocationProposal", "PursuitRequest", "ReleaseNotice",
    })
    # what the hub routes to a bureau
    receives: frozenset[str] = frozenset({
        "AssessmentCommission", "SentencingDecision", "TransferPapers", "TransferOpinion", "CustodyNotice",
        "RevocationDecision", "PursuitResult",
    })

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """The bureau's <JHBW> for a canonical message (UTF-8); ValueError if the format has no business type
        for it."""
        return Encoded(outbound.encode(canonical, message_type), "application/xml; charset=utf-8", "xml")

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per <SJX>; NativeError when the payload as a whole cannot be read."""
        return inbound.decode(native, ctx)


ADAPTER = BureauAdapter()
