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

    @cached_property
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
        return [self._record(i, el, where, by_record.get(i, []), envelope)
                for i, (el, where) in enumerate(zip(records, nativexml.paths_of(records), strict=True))]

    def _header(self, header: etree._Element) -> dict[str, str]:
        where = nativexml.path_of(header)
        tr = mapping.inbound(self.header_spec, nativexml.to_data(header), lambda p: f"{where}/{p}")
        if tr.problems:
            raise NativeError("native_invalid", "the batch header cannot be read", tr.problems)
        env = tr.data.get("envelope", {})
        return {k: v for k, v in env.items() if isinstance(v, str)}

    def _record(self, index: int, el: etree._Element, where: str, problems: list[NativeProblem],
                envelope: Mapping[str, str]) -> NativeRecord:
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
        """A batch file in the format's encoding.

        Not validated against the format's XSD here: checking every message would cost about a third of
        encoding it, and what the mapping writes from a valid canonical message is valid (the tests check every
        golden and generated message against the schema)."""
        header: dict[str, Any] = {self.batch_field: batch_id}
        header.update(mapping.outbound(self.header_spec, {"envelope": dict(envelope)}))
        header[self.count_field] = str(len(records))
        return nativexml.to_text(self.root, {self.header: header,
                                             self.body: {self.record: list(records)} if records else {}},
                                 attributes=self.root_attributes, encoding=self.encoding)


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

    @cached_property
    def items(self) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        """Each group's item fields and the elements that contain them, relative to the item."""
        return {path: (fields, _containers(fields)) for path, fields in self.groups.items()}


def _containers(paths: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(p.rsplit("/", n)[0] for p in paths for n in range(1, p.count("/") + 1))


def unmapped(layout: Layout, data: Mapping[str, Any]) -> list[str]:
    """Native paths of values in ``data`` that the document type does not read: an element none of whose
    content is read is named once (``ZWJD``), not leaf by leaf; group items as ``G[n]/X``."""
    out: list[str] = []

    # ``rel`` is the path below the record, or below the group item ``prefix`` (``G[n]/``) inside a group
    def walk(node: Mapping[str, Any], prefix: str, rel: str, known: frozenset[str], inner: frozenset[str],
             in_group: bool) -> None:
        for key, value in node.items():
            path = rel + key
            structured = type(value) is dict or isinstance(value, Mapping)
            if not in_group and path in layout.groups:
                items = value if isinstance(value, list) else [value]
                fields, containers = layout.items[path]
                for n, item in enumerate(items, 1):
                    step = f"{path}[{n}]/" if len(items) > 1 else f"{path}/"
                    if type(item) is dict or isinstance(item, Mapping):
                        walk(item, step, "", fields, containers, True)
                    elif str(item).strip():
                        out.append(step[:-1])
            elif structured and path in inner:
                walk(value, prefix, f"{path}/", known, inner, in_group)
            elif structured or isinstance(value, list) or (path not in known and str(value).strip()):
                out.append(prefix + path)

    walk(data, "", "", layout.leaves, layout.inner, False)
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
