"""监狱管理信息系统 (provincial prison administration): XML exchange files ``JYSJJH``, UTF-8.

The prison sends parole rulings and 暂予监外执行 decisions with their documents, escorted handovers and
assessment commissions; it receives what a deciding or commissioning organ receives, and the recommittal
decisions that return a person to it. The codec covers every document type of the format in both
directions. See docs/agencies/prison.md.
"""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.prison import inbound, outbound


class PrisonAdapter:
    name = "prison"
    sends = frozenset({"SentencingDecision", "TransferPapers", "AssessmentCommission"})
    receives = frozenset({"AssessmentOpinion", "DocumentReceipt", "ReportingOutcome", "TransferPapers",
                          "SupervisionEvent", "RevocationProposal", "RevocationDecision", "ReleaseNotice"})

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """One JYSJJH file (UTF-8) holding the message (ValueError if the format has no document type for it)."""
        return outbound.encode(canonical, message_type=message_type)

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per ZFXX record of a JYSJJH file."""
        return inbound.decode(native, ctx)


ADAPTER = PrisonAdapter()
