"""The ``xianjie`` command: serve, worker, migrate, agencies, demo, rules, calendar."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from sqlalchemy import Engine

from hub import (
    cli_alarms,
    cli_audit,
    cli_authz,
    cli_cases,
    cli_identity,
    cli_keys,
    cli_registers,
    cli_report,
    cli_retention,
    cli_rules,
    cli_users,
)
from hub.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("host", "port", "database_url", "broker_url"):
        v = getattr(args, name, None)
        if v is not None:
            overrides[name] = v
    if getattr(args, "registry", None):
        from pathlib import Path

        overrides["registry_path"] = Path(args.registry)
    return Settings.from_env(None, **overrides)


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.migrate import upgrade

    s = _settings(args)
    upgrade(s.database_url)
    print(f"database at {_safe(s.database_url)} is up to date")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.api import tls
    from hub.api.app import create_app
    from hub.migrate import upgrade

    s = tls.apply_serve_flags(_settings(args), args)
    _warn_if_demo_registry(s)
    try:
        served = tls.uvicorn_options(s)  # HTTPS, client certificates, trusted proxies (docs/security-keys.md)
    except ValueError as e:
        raise SystemExit(f"not serving: {e}") from None
    if s.is_sqlite or args.migrate:
        upgrade(s.database_url)
    app = create_app(s, workers=not args.no_workers)
    # log_config=None: uvicorn's error and access lines go through the hub's masked handler (hub.logs), not its own
    uvicorn.run(app, host=s.host, port=s.port, log_level=args.log_level, access_log=args.access_log, log_config=None,
                **served)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from hub.bus.kombu_bus import make_bus
    from hub.bus.topology import build_topology
    from hub.registry import load_registry
    from hub.store.db import make_engine
    from hub.workers.runtime import Workers

    s = _settings(args)
    _warn_if_demo_registry(s)
    engine = make_engine(s.database_url)
    bus = make_bus(s.broker_url, build_topology(broker_url=s.broker_url, prefix=s.queue_prefix))
    w = Workers(settings=s, engine=engine, bus=bus, directory=load_registry(s.registry_path))
    done = threading.Event()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` dumps every thread's stack to stderr
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    w.start()
    logging.getLogger("xianjie").info("worker started; SIGTERM stops it cleanly")
    done.wait()
    w.stop()
    engine.dispose()
    return 0


def cmd_agencies(args: argparse.Namespace) -> int:
    from hub.registry import load_registry

    s = _settings(args)
    d = load_registry(s.registry_path)
    rows = sorted(d.agencies.values(), key=lambda a: (a.division, a.organ_type.value, a.code))
    print(f"{'code':<10} {'organ':<13} {'division':<8} {'receives':<7} {'adapter':<10} name / endpoint")
    for a in rows:
        print(f"{a.code:<10} {a.organ_type.value:<13} {a.division:<8} {a.transport.value:<7} {a.adapter:<10} "
              f"{a.name}" + (f"  → {a.endpoint}" if a.endpoint else ""))
    print(f"{len(rows)} agencies in {s.registry_path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return int(run_demo(_settings(args), duration=args.duration))


def _engine(args: argparse.Namespace) -> Engine:
    """The hub's database, brought up to date first on SQLite (as ``serve`` does)."""
    from hub.migrate import upgrade
    from hub.store.db import make_engine

    s = _settings(args)
    if s.database_url.startswith("sqlite"):
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade(s.database_url)
    engine = make_engine(s.database_url, pool_size=2)
    _ENGINES.append(engine)  # closed when the command ends
    return engine


_ENGINES: list[Engine] = []


def _warn_if_demo_registry(s: Settings) -> None:
    from hub.resources import default_registry_path

    if s.registry_path.resolve() == default_registry_path().resolve():
        logging.getLogger("xianjie").warning(
            "serving with the packaged 保山 DEMO registry, whose API keys are public (demo-<code>): "
            "set XIANJIE_REGISTRY to your own registry before any real agency connects")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="xianjie", description="Xianjie 衔接 — community-corrections data-exchange hub")
    p.add_argument("--database-url", help="overrides XIANJIE_DATABASE_URL")
    p.add_argument("--broker-url", help="overrides XIANJIE_BROKER_URL")
    p.add_argument("--registry", help="agency registry TOML (overrides XIANJIE_REGISTRY)")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("serve", help="API and workers in one process (the embedded default)")
    sp.add_argument("--host")
    sp.add_argument("--port", type=int)
    sp.add_argument("--no-workers", action="store_true", help="API only; run `xianjie worker` beside it")
    sp.add_argument("--migrate", action="store_true", help="run migrations first (always done on SQLite)")
    sp.add_argument("--log-level", default="info")
    sp.add_argument("--access-log", action="store_true")
    from hub.api.tls import add_serve_flags

    add_serve_flags(sp)
    sp.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="relay, deliverers and sweeper only (scale out)").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    sub.add_parser("agencies", help="list the agency registry").set_defaults(func=cmd_agencies)
    dp = sub.add_parser("demo", help="the hub plus simulated 保山 agencies and a feed of notices")
    dp.add_argument("--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)")
    dp.set_defaults(func=cmd_demo)

    for area in (cli_rules, cli_cases, cli_alarms, cli_identity, cli_registers, cli_report, cli_users, cli_keys,
                 cli_audit, cli_retention, cli_authz):
        area.register(sub, _engine)

    args = p.parse_args(argv)
    from hub import logs

    try:  # JSON lines for serve and worker, text at a terminal; masked either way (docs/security-privacy.md)
        logs.setup_from_env(command=args.command)
    except ValueError as e:
        p.error(str(e))
    try:
        return int(args.func(args))
    finally:
        while _ENGINES:
            _ENGINES.pop().dispose()


if __name__ == "__main__":
    sys.exit(main())
