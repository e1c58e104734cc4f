"""The printed table: each hub figure beside the baseline it is measured against, and the ratio."""

from __future__ import annotations

from typing import Any

TARGETS = {"sqlite": {"notices_per_s": 250.0}, "sqlite_kombu": {"notices_per_s": 250.0},
           "postgres_rabbitmq": {"notices_per_s": 500.0, "p99_ms": 250.0}}
HEADS = {"sqlite": "embedded SQLite", "sqlite_kombu": "SQLite + kombu SQLA", "postgres_rabbitmq": "PostgreSQL+RabbitMQ"}


def _n(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}{unit}" if abs(x) >= 100 else f"{x:,.1f}{unit}"


def ratios(results: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Hub figures divided by their baselines."""
    b = results["baselines"]
    out: dict[str, dict[str, float | None]] = {}
    for name, h in results["hubs"].items():
        if "throughput" not in h:
            continue
        t = h["throughput"]
        # the embedded default polls its outbox (no kombu): its nearest broker baseline is kombu on SQLite
        broker = b["kombu_rabbitmq"] if name == "postgres_rabbitmq" else b["kombu_sqlalchemy_sqlite"]

        def div(x: float, y: float | None) -> float | None:
            return round(x / y, 4) if y else None

        out[name] = {
            "notices_per_s / bare_fastapi_posts_per_s": div(t["notices_per_s"], b["fastapi"]["bare"]["posts_per_s"]),
            "posts_per_s / fastapi_parse_posts_per_s": div(t["posts_per_s"], b["fastapi"]["parse"]["posts_per_s"]),
            "deliveries_per_s / kombu_publish_consume_per_s": div(t["deliveries_per_s"],
                                                                  broker["publish_consume_per_s"]),
            "notices_per_s / lxml_validate_per_s": div(t["notices_per_s"], b["lxml"]["lxml_validate_per_s"]),
            "notices_per_s / hub_parse_per_s": div(t["notices_per_s"], b["lxml"]["hub_parse_per_s"]),
        }
    return out


def table(results: dict[str, Any]) -> str:
    b, hubs, r = results["baselines"], results["hubs"], results["ratios"]
    if not b:
        return "(no baselines: BENCH_BASELINES=0; see the JSON)"
    lines = []
    m = results["meta"]
    lines.append(f"git {m['git']}" + (f" + uncommitted changes in {', '.join(m['dirty'])}" if m.get("dirty") else ""))
    lines.append(f"Xianjie bench — N={m['n']} notices × {m['fanout']} recipients, {m['concurrency']} concurrent "
                 f"POSTs ({m['client']} client), latency at {m['rate']:.0f}/s, {m['cpus']} cores, "
                 f"load before {m['loadavg_before']}")
    lines.append("")
    lines.append("Baselines (same notices, same run)")
    rows = [
        ("lxml parse + XSD validate (1 thread)", b["lxml"]["lxml_validate_per_s"], "/s"),
        ("hub.canonical.parse (1 thread)", b["lxml"]["hub_parse_per_s"], "/s"),
        ("kombu RabbitMQ quorum, confirms: publish+consume", b["kombu_rabbitmq"]["publish_consume_per_s"], " msg/s"),
        ("    publish (confirm each) / consume", None, ""),
        ("kombu SQLAlchemy on SQLite: publish+consume", b["kombu_sqlalchemy_sqlite"]["publish_consume_per_s"],
         " msg/s"),
        ("    publish / consume", None, ""),
        ("bare FastAPI POST (uvicorn)", b["fastapi"]["bare"]["posts_per_s"], "/s"),
        ("FastAPI POST + hub.canonical.parse, no DB", b["fastapi"]["parse"]["posts_per_s"], "/s"),
        ("load generator ceiling (null server)", b["loadgen_ceiling"]["posts_per_s"], "/s"),
    ]
    for label, v, unit in rows:
        if label.strip().startswith("publish (confirm"):
            k = b["kombu_rabbitmq"]
            lines.append(f"  {label:<52} {_n(k['publish_per_s'])} / {_n(k['consume_per_s'])} msg/s")
        elif label.strip().startswith("publish /"):
            k = b["kombu_sqlalchemy_sqlite"]
            lines.append(f"  {label:<52} {_n(k['publish_per_s'])} / {_n(k['consume_per_s'])} msg/s")
        else:
            lines.append(f"  {label:<52} {_n(v, unit)}")
    lines.append("")
    names = [n for n in hubs if "throughput" in hubs[n]]
    heads = {n: HEADS.get(n, n) for n in names}
    w = 30
    lines.append(f"  {'Hub end to end':<44}" + "".join(f"{heads[n]:>{w}}" for n in names))

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"  {label:<44}" + "".join(f"{c:>{w}}" for c in cells))

    def cell(n: str, v: float | None, unit: str = "", ratio: float | None = None, what: str = "") -> str:
        s = _n(v, unit)
        if ratio is not None:
            s += f" ({ratio * 100:.1f}% {what})" if ratio < 10 else f" ({ratio:.0f}× {what})"
        return s

    row("processes", [("1 (api+workers)" if hubs[n]["workers"] == 0 else f"api + {hubs[n]['workers']} worker")
                      for n in names])
    row("notices fully delivered /s", [cell(n, hubs[n]["throughput"]["notices_per_s"], "",
                                            r[n]["notices_per_s / bare_fastapi_posts_per_s"], "of bare")
                                       for n in names])
    row("  (notices complete / posted, in s)", [
        f"{hubs[n]['throughput']['completed']:,} / {hubs[n]['throughput']['posted']:,} in "
        f"{hubs[n]['throughput']['seconds']:.0f}" for n in names])
    row("  … until the DB shows all acknowledged", [_n(hubs[n]["throughput"]["notices_per_s_db"]) for n in names])
    row("  (DB caught up after the last arrival)", [
        _n(hubs[n]["throughput"]["db_confirmed_after_last_arrival_s"], " s") for n in names])
    row("  … ÷ lxml validate /s", [f"{r[n]['notices_per_s / lxml_validate_per_s'] * 100:.2f}%" for n in names])
    row("  … ÷ hub.canonical.parse /s", [f"{r[n]['notices_per_s / hub_parse_per_s'] * 100:.1f}%" for n in names])
    row("deliveries acknowledged /s", [cell(n, hubs[n]["throughput"]["deliveries_per_s"], "",
                                            r[n]["deliveries_per_s / kombu_publish_consume_per_s"], "of kombu")
                                       for n in names])
    row("POSTs answered /s (ingest)", [cell(n, hubs[n]["throughput"]["posts_per_s"], "",
                                            r[n]["posts_per_s / fastapi_parse_posts_per_s"], "of +parse")
                                       for n in names])
    row("target notices /s", [_n(TARGETS[n]["notices_per_s"]) for n in names])
    lat = {n: hubs[n]["latency"] for n in names}
    row(f"latency POST→last delivery p50 @{m['rate']:.0f}/s",
        [_n(lat[n]["post_to_last_delivery_ms"]["p50"], " ms") for n in names])
    row("                            p99", [_n(lat[n]["post_to_last_delivery_ms"]["p99"], " ms") for n in names])
    row("  (missing / achieved offered rate)",
        [f"{lat[n]['missing']} / {lat[n]['notices'] / max(lat[n]['seconds'], 1e-9):.0f}/s" for n in names])
    half = {n: hubs[n].get("latency_half_sustained") for n in names}
    row("latency at half the sustained rate p50/p99", [
        "—" if not half[n] else f"{_n(half[n]['post_to_last_delivery_ms']['p50'])} / "
        f"{_n(half[n]['post_to_last_delivery_ms']['p99'], ' ms')} @{half[n]['offered_per_s']:.0f}/s" for n in names])
    row("target p99", ["—" if "p99_ms" not in TARGETS[n] else _n(TARGETS[n]["p99_ms"], " ms") for n in names])
    for label, key in (("peak RSS (VmHWM)", "VmHWM"),):
        row(label, [" + ".join(f"{v.get(key, 0) / 1024:.0f}" for v in hubs[n]["memory_end_kib"].values()) + " MiB"
                    for n in names])
    row("RSS start → end", [" + ".join(
        f"{hubs[n]['memory_start_kib'][p].get('VmRSS', 0) / 1024:.0f}→{v.get('VmRSS', 0) / 1024:.0f}"
        for p, v in hubs[n]["memory_end_kib"].items()) + " MiB" for n in names])
    row("hub CPU ms / notice", [" + ".join(
        f"{v:.1f}" for k, v in hubs[n]["throughput"]["cpu_ms_per_notice"].items() if k.startswith("hub"))
        for n in names])
    row("machine busy during throughput run", [
        f"{hubs[n]['throughput']['cpu_seconds']['machine busy'] / hubs[n]['throughput']['cpu_seconds']['machine capacity'] * 100:.0f}%"  # noqa: E501
        for n in names])
    def redrives(n: str) -> str:
        tr = hubs[n]["database"]["throughput_run"]
        red = {k: v for k, v in tr.get("redriven", {}).items()}
        lease = sum(v for k, v in red.items() if "lease" in str(k))
        lost = sum(v for k, v in red.items() if "lost" in str(k))
        return f"{tr['attempts'] / max(tr['deliveries'], 1):.2f} / {lease:,} / {lost:,}"

    row("send attempts per delivery / redriven:", [redrives(n) for n in names])
    row("  lease expired / announcement lost", ["" for _ in names])
    row("DB: paced runs all acknowledged, 0 failed", ["yes" if hubs[n]["database"]["ok"] else "NO" for n in names])
    return "\n".join(lines)


def phases_table(ph: dict[str, Any]) -> str:
    """Single-threaded cost of each phase, per notice (ingest) or per delivery (the rest), on each database."""
    names = list(ph)
    lines = ["", "  Phases alone (1 thread, fresh DB; ms CPU+wait per item, SQL statements per item)"]
    lines.append(f"  {'':<44}" + "".join(f"{n:>30}" for n in names))
    for key, unit in (("parse", "notice"), ("ingest", "notice"), ("relay", "delivery"), ("claim", "delivery"),
                      ("send", "delivery"), ("record_outcomes", "delivery")):
        cells = []
        for n in names:
            x = ph[n][key]
            cells.append(f"{x[f'ms_per_{unit}']:.3f} ms, {x[f'statements_per_{unit}']:.1f} stmts")
        lines.append(f"  {key + ' / ' + unit:<44}" + "".join(f"{c:>30}" for c in cells))
    lines.append(f"  {'sum for one notice (ingest + 3 deliveries)':<44}"
                 + "".join(f"{ph[n]['ms_per_notice_all_phases']:>27.2f} ms" for n in names))
    lines.append(f"  {'  → ceiling on one core':<44}"
                 + "".join(f"{1000 / ph[n]['ms_per_notice_all_phases']:>25.0f} /s" for n in names))
    return "\n".join(lines)
