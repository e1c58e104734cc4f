"""A case's whole state as JSON and back (``cases.state_json``), so the projection resumes from the row.

The encoding follows the frozen dataclasses of the core field by field: dates and timestamps as ISO strings,
tuples and frozensets as lists, enums as their values, and the body of a message held back (``pending``) tagged
with its class, since a body may be any of the message families. Decoding is driven by the classes' annotations,
compiled once per class, and gives back values equal to the ones encoded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from hub.core import fact_bodies
from hub.core.case_state import CaseState

Decoder = Callable[[Any], Any]
_BODIES: dict[str, type] = {
    name: cls for name, cls in vars(fact_bodies).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and name.endswith("Facts")
    and name not in ("PersonFacts", "CaseFacts")
}
_TAG = "type"


def encode_state(state: CaseState) -> str:
    """The state as compact JSON (``decode_state`` reads it back to an equal state)."""
    return json.dumps(_compiled(CaseState)(state), ensure_ascii=False, separators=(",", ":"))


def decode_state(text: str) -> CaseState:
    """The state ``encode_state`` wrote; ValueError if the text is not such a state."""
    try:
        value = _decoder(CaseState)(json.loads(text))
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not a stored case state: {e!r}") from e
    assert isinstance(value, CaseState)
    return value


def _plain(value: Any) -> Any:
    encode = _ENCODERS.get(type(value))
    if encode is None:
        encode = _ENCODERS[type(value)] = _encoder(type(value))
    return encode(value)


def _same(value: Any) -> Any:
    return value


def _encoder(kind: type) -> Callable[[Any], Any]:
    if issubclass(kind, enum.Enum):
        return lambda v: v.value
    if kind in (str, int, bool, float, type(None)):
        return _same
    if issubclass(kind, dt.date):  # datetimes too
        return lambda v: v.isoformat()
    if issubclass(kind, tuple | list):
        return lambda v: [_plain(x) for x in v]
    if issubclass(kind, frozenset | set):
        return lambda v: sorted(_plain(x) for x in v)
    if dataclasses.is_dataclass(kind):
        names = tuple(f.name for f in dataclasses.fields(kind))
        tag = kind.__name__ if kind.__name__ in _BODIES else None

        def encode(v: Any) -> dict[str, Any]:
            out = {n: _plain(getattr(v, n)) for n in names}
            if tag is not None:
                out[_TAG] = tag
            return out

        return encode
    raise TypeError(f"cannot store a {kind.__name__} in a case state")


_ENCODERS: dict[type, Callable[[Any], Any]] = {}
_FIELD_PLANS: dict[type, Callable[[Any], dict[str, Any]]] = {}
_PLAIN_HINTS = (str, int, bool, float, type(None))


def _compiled(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``_plain`` for one dataclass, planned once from its annotations: a field whose type is a plain value (or
    None) is copied without a look-up per value, so a projection batch writing thousands of states spends its
    time on the states, not on dispatch. Gives exactly what ``_plain`` gives."""
    found = _FIELD_PLANS.get(cls)
    if found is not None:
        return found
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Callable[[Any], Any] | None]] = []
    for f in dataclasses.fields(cls):
        plan.append((f.name, _field(hints[f.name])))
    tag = cls.__name__ if cls.__name__ in _BODIES else None

    def encode(v: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, how in plan:
            x = getattr(v, name)
            out[name] = x if how is None else how(x)
        if tag is not None:
            out[_TAG] = tag
        return out

    _FIELD_PLANS[cls] = encode
    return encode


def _field(hint: Any) -> Callable[[Any], Any] | None:
    """How to encode a value annotated ``hint``: None when it is stored as it is."""
    if hint in _PLAIN_HINTS:
        return None
    if hint is dt.date or hint is dt.datetime:
        return lambda v: v.isoformat()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: v.value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and not (isinstance(rest[0], type) and rest[0].__name__ in _BODIES):
            inner = _field(rest[0])
            if inner is None:
                return None
            return lambda v: None if v is None else inner(v)
        return _plain  # a union of message bodies: by the value's own class
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _field(args[0])
        if item is None:
            return list
        return lambda v: [item(x) for x in v]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint.__name__ not in _BODIES:
        return _compiled(hint)
    return _plain
_CACHE: dict[object, Decoder] = {}


def _decoder(hint: Any) -> Decoder:
    found = _CACHE.get(hint)
    if found is None:
        found = _CACHE[hint] = _build(hint)
    return found


def _build(hint: Any) -> Decoder:
    if hint is type(None):
        return lambda v: None
    if hint in (str, int, bool, float):
        return lambda v: v
    if hint is dt.datetime:
        return dt.datetime.fromisoformat
    if hint is dt.date:
        return dt.date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return _union(args)
    if origin is tuple:
        item = _decoder(args[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is frozenset:
        item = _decoder(args[0])
        return lambda v: frozenset(item(x) for x in v)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    raise TypeError(f"no decoder for {hint!r}")


def _union(args: tuple[Any, ...]) -> Decoder:
    rest = [a for a in args if a is not type(None)]
    if all(isinstance(a, type) and a.__name__ in _BODIES for a in rest):
        def body(v: Any) -> Any:
            return None if v is None else _decoder(_BODIES[v[_TAG]])(v)
        return body
    if len(rest) != 1:
        raise TypeError(f"ambiguous union {args!r}")
    inner = _decoder(rest[0])
    return lambda v: None if v is None else inner(v)


def _dataclass(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    # Filled in lazily: a class may refer to itself or to classes compiled after it.
    decoders: dict[str, Decoder] = {}

    def decode(v: dict[str, Any]) -> Any:
        if not decoders:
            decoders.update({n: _decoder(hints[n]) for n in names})
        return cls(**{n: decoders[n](v[n]) for n in names if n in v})

    return decode
