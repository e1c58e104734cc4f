"""The detention-centre system's message file (看守所报文, root ``KSSBW``): a header BWT, the records BWNR/RYXX.

Read and written with the batch machinery of ``adapters.prison.native`` (hardened parse, encoding check,
validation against this system's own XSD first, per-record schema errors, unmapped fields reported); the
element names, code lists and schema are this system's. Written in GB18030.
"""

from __future__ import annotations

from adapters.detention.mapping import HEADER, SPECS
from adapters.prison.native import BatchFormat

DETENTION = BatchFormat(
    system="detention",
    xsd="kssbw.xsd",
    title="看守所报文 (KSSBW)",
    root="KSSBW",
    header="BWT",
    body="BWNR",
    record="RYXX",
    type_field="YWLX",
    batch_field="BWBH",
    count_field="JLZS",
    header_fields=HEADER,
    specs=SPECS,
    encoding="GB18030",
)
