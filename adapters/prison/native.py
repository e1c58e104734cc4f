"""The prison system's exchange file (监狱数据交换, root ``JYSJJH``), and the batch-file machinery it shares with
other XML formats built the same way: a header element, a container of records, one record per notice.

Reading guarantees: the payload is parsed hardened and its declared encoding checked; it is validated against
the system's own XSD before anything else; a schema error inside record n rejects only record n, an error in
the header or frame (or a record count that disagrees with the header) rejects the payload; every element of
a record that its document type does not map is reported rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree

from adapters.kit import mapping, nativexml
from adapters.kit.mapping import F, Group, Spec, Specs
from adapters.kit.pipeline import NativeRecord
from adapters.kit.problems import NativeError, NativeProblem
from adapters.prison.mapping import HEADER, SPECS


@dataclass(frozen=True)
class BatchFormat:
    """An XML batch format: ``<root><header>…</header><body><record>…</record>…</body></root>``.

    ``header_fields`` map header elements to canonical envelope values that hold for every record;
    ``batch_field`` and ``count_field`` are the header's batch id and record count (frame only)."""

    system: str
    xsd: str
    title: str
    root: str
    header: str
    body: str
    record: str
    type_field: str
    batch_field: str
    count_field: str
    header_fields: tuple[F, ...]
    specs: Specs
    encoding: str
    root_attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def header_spec(self) -> Spec:
        return Spec(self.header, "", self.header_fields)

    @cached_property
    def layouts(self) -> dict[str, Layout]:
        """Each document type's layout, by native code (computed once)."""
        return {s.native_type: Layout.of(s, frozenset({self.type_field})) for s in self.specs.items}

    def schema(self) -> etree.XMLSchema:
        return nativexml.load_xsd(self.system, self.xsd)

    # ---- reading ----------------------------------------------------------------------------------------

    def read(self, data: bytes) -> list[NativeRecord]:
        """The records of a payload (NativeError when the payload as a whole cannot be read)."""
        root = nativexml.parse(data)
        name = etree.QName(root)
        if name.namespace or name.localname != self.root:
            raise NativeError("wrong_format", f"the root element is {root.tag}, not {self.root} ({self.title})",
                              [NativeProblem(f"root element {root.tag}: a {self.title} file starts with "
                                             f"<{self.root}>", where=nativexml.path_of(root),
                                             line=root.sourceline if isinstance(root.sourceline, int) else None)])
        records = root.findall(f"{self.body}/{self.record}")
        by_record, frame = nativexml.split_errors(nativexml.schema_errors(root, self.schema()), records)
        if frame:
            raise NativeError("native_invalid", f"the batch header or frame does not match the {self.title} schema",
                              frame)
        header = root.find(self.header)
        assert header is not None  # the schema requires it
        envelope = self._header(header)
        declared = (header.findtext(self.count_field) or "").strip()
        if declared != str(len(records)):
            where = nativexml.path_of(header) + "/" + self.count_field
            raise NativeError("count_mismatch", f"the header announces {declared} records but the batch holds "
                                                f"{len(records)}",
                              [NativeProblem(f"{self.count_field} = {declared}, records found: {len(records)} "
                                             "(truncated or edited batch)", where=where)])
        return [self._record(i, el, by_record.get(i, []), envelope) for i, el in enumerate(records)]

    def _header(self, header: etree._Element) -> dict[str, str]:
        where = nativexml.path_of(header)
        tr = mapping.inbound(self.header_spec, nativexml.to_data(header), lambda p: f"{where}/{p}")
        if tr.problems:
            raise NativeError("native_invalid", "the batch header cannot be read", tr.problems)
        env = tr.data.get("envelope", {})
        return {k: v for k, v in env.items() if isinstance(v, str)}

    def _record(self, index: int, el: etree._Element, problems: list[NativeProblem],
                envelope: Mapping[str, str]) -> NativeRecord:
        where = nativexml.path_of(el)

        def locate(path: str) -> str:
            return f"{where}/{path}" if path else where

        data = nativexml.to_data(el)
        code = data.get(self.type_field)
        native_type = code.strip() if isinstance(code, str) and code.strip() else None
        found = list(problems)
        if not found and native_type in self.layouts:
            label = self.specs.by_native(native_type).label
            found.extend(NativeProblem(f"{path} is not part of {self.type_field} {native_type} ({label}); its "
                                       "content would be lost", where=locate(path))
                         for path in unmapped(self.layouts[native_type], data))
        raw = etree.tostring(el, encoding="UTF-8", with_tail=False)
        return NativeRecord(index + 1, where, native_type, data, locate, tuple(found), raw, dict(envelope))

    # ---- writing ----------------------------------------------------------------------------------------

    def write(self, batch_id: str, envelope: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> bytes:
        """A batch file in the format's encoding, checked against the format's XSD (ValueError if it is not
        valid, e.g. a canonical value the native format cannot hold)."""
        root = etree.Element(self.root, dict(self.root_attributes))
        header: dict[str, Any] = {self.batch_field: batch_id}
        header.update(mapping.outbound(self.header_spec, {"envelope": dict(envelope)}))
        header[self.count_field] = str(len(records))
        nativexml.build(etree.SubElement(root, self.header), header)
        body = etree.SubElement(root, self.body)
        for record in records:
            nativexml.build(etree.SubElement(body, self.record), record)
        errors = nativexml.schema_errors(root, self.schema())
        if errors:
            detail = "; ".join(f"{p.where}: {p.reason}" for _, p in errors)
            raise ValueError(f"the message cannot be written as {self.title}: {detail}")
        return nativexml.serialise(root, self.encoding)


@dataclass(frozen=True)
class Layout:
    """Which native paths a document type reads: leaf fields, repeated groups (with their item fields) and
    the elements that contain them."""

    leaves: frozenset[str]
    groups: Mapping[str, frozenset[str]]
    inner: frozenset[str]

    @staticmethod
    def of(spec: Spec, ignore: frozenset[str] = frozenset()) -> Layout:
        leaves = frozenset({f.native for f in spec.fields if isinstance(f, F)} | ignore)
        groups = {g.native: frozenset(f.native for f in g.fields) for g in spec.fields if isinstance(g, Group)}
        return Layout(leaves, groups, _containers(leaves | set(groups)))


def _containers(paths: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(p.rsplit("/", n)[0] for p in paths for n in range(1, p.count("/") + 1))


def unmapped(layout: Layout, data: Mapping[str, Any]) -> list[str]:
    """Native paths of values in ``data`` that the document type does not read: an element none of whose
    content is read is named once (``ZWJD``), not leaf by leaf; group items as ``G[n]/X``."""
    out: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str, known: frozenset[str], inner: frozenset[str],
             in_group: bool) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if not in_group and path in layout.groups:
                items = value if isinstance(value, list) else [value]
                for n, item in enumerate(items, 1):
                    step = f"{path}[{n}]/" if len(items) > 1 else f"{path}/"
                    if isinstance(item, Mapping):
                        fields = frozenset(f"{step}{name}" for name in layout.groups[path])
                        walk(item, step, fields, _containers(fields), True)
                    elif str(item).strip():
                        out.append(step[:-1])
            elif isinstance(value, Mapping) and path in inner:
                walk(value, f"{path}/", known, inner, in_group)
            elif isinstance(value, Mapping | list) or (path not in known and str(value).strip()):
                out.append(path)

    walk(data, "", layout.leaves, layout.inner, False)
    return out


PRISON = BatchFormat(
    system="prison",
    xsd="jysjjh.xsd",
    title="监狱数据交换文件 (JYSJJH)",
    root="JYSJJH",
    header="TXT",
    body="SJ",
    record="ZFXX",
    type_field="WSLX",
    batch_field="PCH",
    count_field="JLS",
    header_fields=HEADER,
    specs=SPECS,
    encoding="UTF-8",
    root_attributes={"BBH": "1.0"},
)
