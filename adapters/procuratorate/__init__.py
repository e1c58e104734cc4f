"""The procuratorate's business application system (检察业务应用系统): JCJH field-list batches in UTF-8.

The procuratorate receives a copy of every business notice for legal supervision (法律监督) and sends its
own assessment commissions (调查评估委托). See docs/agencies/procuratorate.md.
"""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.procuratorate import inbound, outbound
from adapters.procuratorate.mapping import SPECS


class ProcuratorateAdapter:
    name = "procuratorate"
    sends: frozenset[str] = frozenset({"AssessmentCommission"})
    # copies of every business message (TechnicalAck has no notice type)
    receives: frozenset[str] = SPECS.message_types

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """A JCJH batch (UTF-8) holding the message as one notice; ValueError for a type it has no notice for."""
        return Encoded(outbound.encode(canonical, message_type), "application/xml; charset=utf-8", "xml")

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per notice of a JCJH batch (UTF-8 with or without BOM, or GB18030 as declared)."""
        return inbound.decode(native, ctx)


ADAPTER = ProcuratorateAdapter()
