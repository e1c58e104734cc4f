"""看守所管理信息系统 (detention centres, run by the police): XML message files ``KSSBW``, GB18030.

The detention centre sends escorted handovers of 暂予监外执行 persons and custody notices for supervised
persons it takes in; it receives the revocation and recommittal decisions that send a person to it, release
notices for 暂予监外执行 persons it handed over, and copies of transfer papers. The codec covers every
business type of the format in both directions. See docs/agencies/detention.md.
"""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.detention import inbound, outbound


class DetentionAdapter:
    name = "detention"
    sends = frozenset({"TransferPapers", "CustodyNotice"})
    receives = frozenset({"RevocationDecision", "ReleaseNotice", "TransferPapers"})

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """One KSSBW file (GB18030) holding the message (ValueError if the format has no business type for it)."""
        return outbound.encode(canonical, message_type=message_type)

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per RYXX record of a KSSBW file."""
        return inbound.decode(native, ctx)


ADAPTER = DetentionAdapter()
