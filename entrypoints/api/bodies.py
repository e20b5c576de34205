"""What every JSON body goes through before and after it is decoded.

Before (a ``before_request`` hook, on the raw bytes, after the webhook's signature): a body is
required, nested at most :data:`MAX_DEPTH` deep, and names each key of an object once. The checks
cost next to nothing on an ordinary body: a body with at most ``MAX_DEPTH`` brackets cannot be too
deep, and one with no more ``:`` than its Struct's required keys cannot repeat a key (each key
needs its own colon, and a body that decodes has every required key) — only bodies past those
counts are scanned.

After (only when decoding failed): msgspec stops at the first error, so the body, already decoded
to plain JSON values by Litestar, is checked again field by field to name *every* offending field
in plain words (:func:`shape_problems`).

A route declares its body Struct in its ``opt``: ``opt={JSON_BODY: CreateOrderBody}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from domain.grammar import TextRule

#: The deepest nesting of arrays and objects a body may have.
MAX_DEPTH = 32
#: The ``opt`` key naming a route's body Struct.
JSON_BODY = "json_body"
#: The ``opt`` key of a route's full second pass (``value -> [(field, words)]``), if it has one
#: beyond :func:`shape_problems`.
BODY_PROBLEMS = "body_problems"

Problems = list[tuple[str, str]]


class InvalidBody(Exception):
    """A body refused before decoding: a 400 with ``code`` and the fields named."""

    def __init__(self, code: str, detail: str, errors: Problems) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors


# --- before decoding ---------------------------------------------------------------------------

# A JSON string (escapes included) or a bracket: strings are skipped by the regex engine, in C.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` nests arrays and objects deeper than ``limit`` (outside strings). Stops at
    the first bracket past the limit, so a hostile body costs ``limit`` steps."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(raw):
        first = token.group()[0]
        if first in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif first in b"]}":
            depth -= 1
    return False


@functools.cache
def required_keys(struct_type: type[msgspec.Struct]) -> int:
    """How many keys any body that decodes into ``struct_type`` has at least."""
    count = 0
    for field in msgspec.structs.fields(struct_type):
        if field.required:
            count += 1
            info = msgspec.inspect.type_info(field.type)
            if isinstance(info, msgspec.inspect.StructType):
                count += required_keys(info.cls)
    return count


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers the keys it saw more than once."""

    repeated: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    repeated = []
    for key, value in pairs:
        if key in obj:
            repeated.append(key)
        obj[key] = value
    obj.repeated = repeated
    return obj


def _repeated_paths(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, _Object):
        found.extend(_join(path, key) for key in value.repeated if _join(path, key) not in found)
        for key, item in value.items():
            _repeated_paths(item, _join(path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _repeated_paths(item, f"{path}[{index}]", found)


def repeated_keys(raw: bytes, min_keys: int = 0) -> list[str]:
    """The dotted paths of keys that appear more than once in an object of ``raw``. Free when
    ``raw`` has no more colons than ``min_keys``; otherwise a decode with the standard library's
    ``json`` (bodies here are at most 64 KiB and :data:`MAX_DEPTH` deep). Malformed JSON: [],
    left to the decoder to refuse."""
    if raw.count(b":") <= min_keys:
        return []
    try:
        decoded = json.loads(raw, object_pairs_hook=_pairs)
    except ValueError:
        return []
    found: list[str] = []
    _repeated_paths(decoded, "", found)
    return found


def check_raw_body(raw: bytes, body_type: type[msgspec.Struct] | None) -> None:
    """The checks on the raw bytes; :class:`InvalidBody` when one fails."""
    if not raw.strip():
        raise InvalidBody(
            "body_required",
            "a JSON body is required",
            [("body", "is required: send a JSON object")],
        )
    if too_deep(raw):
        raise InvalidBody(
            "body_too_deep",
            f"the body nests arrays and objects more than {MAX_DEPTH} deep",
            [("body", f"must not nest arrays and objects more than {MAX_DEPTH} deep")],
        )
    repeated = repeated_keys(raw, required_keys(body_type) if body_type is not None else 0)
    if repeated:
        raise InvalidBody(
            "duplicate_key",
            f"a key appears more than once: {', '.join(repeated)}",
            [(path, "appears more than once in its object") for path in repeated],
        )


async def check_json_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` part: the raw checks on this request's body (cached by Litestar for
    the decoding that follows)."""
    check_raw_body(await request.body(), request.route_handler.opt.get(JSON_BODY))


# --- after a failed decode --------------------------------------------------------------------

_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "a JSON object",
    "array": "an array",
    "null": "null",
}
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `[^`]+`")
_AT_LEAST = re.compile(r"Expected `\w+` of length >= (\d+)")
_NAMED = re.compile(r"Object (missing required|contains unknown) field")
_AT_MOST = re.compile(r"Expected `\w+` of length <= (\d+)")


def plain(error: msgspec.ValidationError | str) -> str:
    """A msgspec message in plain words (no type syntax, no regex)."""
    text = str(error)
    if m := _NAMED.match(text):
        return "is required" if m.group(1) == "missing required" else "is not a field of this body"
    if m := _EXPECTED.match(text):
        kinds = [_KINDS.get(k, "a value of another kind") for k in m.group(1).split(" | ")]
        return "must be " + " or ".join(kinds)
    if m := _AT_LEAST.match(text):
        n = int(m.group(1))
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    if m := _AT_MOST.match(text):
        return f"must be at most {m.group(1)} characters"
    if "matching regex" in text:
        return "contains characters that are not allowed"
    if text.startswith("Invalid enum value"):
        return "is not one of the allowed values"
    return "is not valid"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _struct_of(annotation: Any) -> tuple[type[msgspec.Struct] | None, bool]:
    """The Struct a field holds (or None) and whether null is allowed."""
    info = msgspec.inspect.type_info(annotation)
    if isinstance(info, msgspec.inspect.StructType):
        return info.cls, False
    if isinstance(info, msgspec.inspect.UnionType):
        nullable = any(isinstance(t, msgspec.inspect.NoneType) for t in info.types)
        structs = [t.cls for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        return (structs[0] if structs else None), nullable
    return None, False


def shape_problems(
    struct_type: type[msgspec.Struct],
    value: Any,
    *,
    rules: Mapping[str, TextRule] | None = None,
    path: str = "",
) -> Problems:
    """Every field of ``value`` (plain JSON values) that does not fit ``struct_type``: missing,
    unknown (when the Struct forbids unknown fields) or of the wrong type or shape, in plain
    words. ``rules`` gives the domain's wording for the constrained strings, by dotted path."""
    if not isinstance(value, dict):
        return [(path or "body", "must be a JSON object")]
    rules = rules or {}
    found: Problems = []
    fields, forbid_unknown = _fields_of(struct_type)
    if forbid_unknown:
        known = {f.name for f in fields}
        found.extend(
            (_join(path, key), "is not a field of this body") for key in value if key not in known
        )
    for field in fields:
        where = _join(path, field.name)
        if field.name not in value:
            if field.required:
                found.append((where, "is required"))
            continue
        item = value[field.name]
        if item is None and field.nullable:
            continue
        if field.nested is not None:
            found.extend(shape_problems(field.nested, item, rules=rules, path=where))
        elif where in rules:
            if (words := rules[where].problem(item)) is not None:
                found.append((where, words))
        else:
            try:
                msgspec.convert(item, field.annotation)
            except msgspec.ValidationError as exc:
                found.append((where, plain(exc)))
    return found


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    required: bool
    annotation: Any
    nested: type[msgspec.Struct] | None
    nullable: bool


@functools.cache
def _fields_of(struct_type: type[msgspec.Struct]) -> tuple[tuple[_Field, ...], bool]:
    """The fields of ``struct_type`` as the second pass reads them (msgspec's introspection is
    slow: once per Struct)."""
    fields = []
    for field in msgspec.structs.fields(struct_type):
        nested, nullable = _struct_of(field.type)
        fields.append(_Field(field.encode_name, field.required, field.type, nested, nullable))
    return tuple(fields), bool(struct_type.__struct_config__.forbid_unknown_fields)


def every_problem(request: Request[Any, Any, Any]) -> Problems:
    """The second pass of a body that failed to decode: every offending field, or [] when the
    route declares no body Struct or the body was never decoded."""
    body_type = request.route_handler.opt.get(JSON_BODY)
    if body_type is None:
        return []
    value = ScopeState.from_scope(request.scope).json  # Litestar's decode, cached
    if value is Empty:
        return []
    full: Callable[[Any], Problems] | None = request.route_handler.opt.get(BODY_PROBLEMS)
    return full(value) if full is not None else shape_problems(body_type, value)
