"""Adapter throughput: ``python -m bench.adapters``.

Per agency system, single thread: outbound (canonical → native, ``encode``) and inbound (native → checked
canonical, ``decode``: native parse and schema validation, mapping, canonical XSD validation) messages/s,
each as a ratio to the raw lxml parse + canonical XSD validation of the same canonical messages measured in
the same run (target: every adapter ≥ 0.3). The messages are each system's golden canonical messages
(tests/golden/<system>/), every type it has a form for.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
SYSTEMS = ("court", "prison", "detention", "police", "bureau", "procuratorate", "ledger")


def _rate(items: Sequence[Any], fn: Callable[[Any], object], seconds: float) -> float:
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for it in items:
            fn(it)
        done += len(items)
    return done / (time.perf_counter() - t0)


def lxml_rate(canonicals: Sequence[bytes], seconds: float) -> float:
    """Raw lxml: parse with the hub's hardened options + validate against the canonical XSD."""
    from hub.canonical import load_schema

    schema = load_schema()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             collect_ids=False)

    def validate(body: bytes) -> None:
        assert schema.validate(etree.fromstring(body, parser).getroottree())

    return _rate(canonicals, validate, seconds)


def system_rates(system: str, seconds: float = 1.5) -> dict[str, Any]:
    from adapters import DecodeContext, get_adapter
    from adapters.kit.canonical import parse_canonical

    adapter = get_adapter(system)
    canonicals: list[tuple[str, bytes]] = []
    for path in sorted((GOLDEN / system).glob("*.canonical.xml")):
        body = path.read_bytes()
        mt, _ = parse_canonical(body)
        try:
            adapter.encode(body, message_type=mt)
        except ValueError:
            continue  # a type this format has no form for
        canonicals.append((mt, body))
    if not canonicals:
        return {"error": "no golden canonical messages this adapter can encode"}
    natives = [(adapter.encode(b, message_type=mt).body, parse_canonical(b)[1]["envelope"]["sender"])
               for mt, b in canonicals]
    at = dt.datetime.now(dt.UTC)

    def decode(item: tuple[bytes, str]) -> None:
        records = list(adapter.decode(item[0], DecodeContext(item[1], at)))
        assert records and all(r.ok for r in records), [r.problems for r in records]

    base = lxml_rate([b for _, b in canonicals], seconds)
    outbound = _rate(canonicals, lambda c: adapter.encode(c[1], message_type=c[0]), seconds)
    inbound = _rate(natives, decode, seconds)
    return {"messages": len(canonicals), "types": sorted({mt for mt, _ in canonicals}),
            "lxml_validate_per_s": round(base, 1), "outbound_per_s": round(outbound, 1),
            "inbound_per_s": round(inbound, 1), "outbound_ratio": round(outbound / base, 3),
            "inbound_ratio": round(inbound / base, 3)}


def run(seconds: float = 1.5) -> dict[str, Any]:
    return {s: system_rates(s, seconds) for s in SYSTEMS if (GOLDEN / s).is_dir()}


def table(results: dict[str, Any]) -> str:
    lines = ["adapter          msgs  lxml/s   out/s  out÷lxml    in/s  in÷lxml",
             "---------------  ----  ------  ------  --------  ------  -------"]
    for system, r in results.items():
        if "error" in r:
            lines.append(f"{system:<15}  {r['error']}")
            continue
        lines.append(f"{system:<15}  {r['messages']:>4}  {r['lxml_validate_per_s']:>6.0f}  {r['outbound_per_s']:>6.0f}"
                     f"  {r['outbound_ratio']:>8.2f}  {r['inbound_per_s']:>6.0f}  {r['inbound_ratio']:>7.2f}")
    lines.append("(single thread; ratios against raw lxml parse + canonical XSD validation of the same messages; "
                 "target ≥ 0.30)")
    return "\n".join(lines)


if __name__ == "__main__":
    res = run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.5)
    print(table(res))
    print(json.dumps(res, ensure_ascii=False))
