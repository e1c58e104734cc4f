"""Agency authentication: ``Authorization: Bearer <key>`` or ``X-Api-Key``; keys are compared by hash."""

from __future__ import annotations

from fastapi import Request

from hub.core.model import Agency, Directory
from hub.errors import Unauthorised
from hub.registry import key_hash


def authenticate(request: Request, directory: Directory) -> Agency:
    """The agency whose key the request carries; Unauthorised if none or unknown."""
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        raise Unauthorised("no API key: send 'Authorization: Bearer <key>'")
    agency = directory.by_key_hash(key_hash(key))
    if agency is None:
        raise Unauthorised("unknown API key")
    return agency
