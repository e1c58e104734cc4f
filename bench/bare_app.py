"""Baseline servers run like the hub (uvicorn, one process, loopback, same flags): a bare FastAPI POST endpoint,
and the same endpoint doing the hub's parse (hub.canonical.parse in the threadpool) but no database.

``python -m bench.bare_app --port P [--parse]``
"""

from __future__ import annotations

import argparse
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool


def create(parse: bool) -> FastAPI:
    app = FastAPI()
    schema = None
    if parse:
        from hub.canonical import load_schema
        from hub.canonical import parse as hub_parse

        schema = load_schema()

    @app.post("/api/v1/messages", status_code=202)
    async def post_message(request: Request) -> Response:
        body = await request.body()
        if parse:
            parsed = await run_in_threadpool(hub_parse, body, schema=schema)
            mid = parsed.canonical.message_id
        else:
            mid = str(uuid.uuid4())
        return JSONResponse({"message_id": mid, "status_url": f"/api/v1/messages/{mid}", "created": True},
                            status_code=202)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--parse", action="store_true")
    a = p.parse_args()
    uvicorn.run(create(a.parse), host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
