"""The JSON Schema subset whose output we guarantee: every keyword here is one that both grammar
engines (llama.cpp's schema-to-grammar locally, vLLM's guided decoding in production) turn into
a constraint, so what the model writes under it validates. Anything else is refused with a 400
rather than silently loosened. Starts from OpenAI's strict-mode rules (docs/api.md lists it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Caps (docs/api.md): OpenAI's 128 tools; a schema's size and depth bound the grammar built per
# request (llama.cpp compiles it before the first token; 16 KiB compiles in milliseconds).
MAX_TOOLS = 128
MAX_SCHEMA_BYTES = 16_384
MAX_SCHEMA_DEPTH = 10  # OpenAI's nesting limit for strict schemas

TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
# Formats both engines enforce by grammar; others (email, uri...) would be a promise we cannot keep.
FORMATS = frozenset({"date", "time", "date-time", "uuid"})
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment"})
_ANY = frozenset({"type", "enum", "const", "anyOf", "$ref"}) | _ANNOTATIONS
_BY_TYPE: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "string": frozenset({"minLength", "maxLength", "format"}),
}
_ROOT_ONLY = frozenset({"$defs", "definitions", "$schema"})


class SchemaError(ValueError):
    """The schema uses something outside the subset; `path` locates it inside the schema."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def check_schema(schema: Any) -> None:
    """Raise SchemaError unless `schema` is inside the supported subset and under the caps."""
    if not isinstance(schema, Mapping):
        raise SchemaError("", "a schema must be a JSON object")
    size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_SCHEMA_BYTES:
        raise SchemaError("", f"the schema is {size:,} bytes; at most {MAX_SCHEMA_BYTES:,} allowed")
    definitions: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key, {})
        if not isinstance(found, Mapping):
            raise SchemaError(key, f"'{key}' must be an object of schemas")
        definitions.update({f"#/{key}/{name}": value for name, value in found.items()})
    for ref, value in definitions.items():
        _check(value, ref.removeprefix("#/"), 1, definitions, root=False)
    _check(schema, "", 0, definitions, root=True)


def _check(
    schema: Any, path: str, depth: int, definitions: Mapping[str, Any], *, root: bool
) -> None:
    if not isinstance(schema, Mapping):
        raise SchemaError(path, "a schema must be a JSON object")
    if depth > MAX_SCHEMA_DEPTH:
        raise SchemaError(path, f"schemas may nest at most {MAX_SCHEMA_DEPTH} levels deep")
    allowed = _ANY | (_ROOT_ONLY if root else frozenset())
    kind = schema.get("type")
    types = _types(kind, path)
    if isinstance(kind, str):
        allowed |= _BY_TYPE.get(kind, frozenset())
    elif kind is None:  # untyped: keywords of any single type may say what it is
        allowed |= _BY_TYPE["object"] | _BY_TYPE["array"] | _BY_TYPE["string"]
    for keyword in schema:
        if keyword not in allowed:
            where = _join(path, keyword)
            if isinstance(kind, list) and any(keyword in words for words in _BY_TYPE.values()):
                raise SchemaError(
                    where, f"'{keyword}' cannot go with a list of types; use anyOf instead"
                )
            raise SchemaError(where, f"the keyword '{keyword}' is not supported")
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref not in definitions:
            raise SchemaError(
                _join(path, "$ref"), "only references to this schema's own $defs are supported"
            )
        if len(set(schema) - _ANNOTATIONS) > 1:
            raise SchemaError(path, "'$ref' cannot be combined with other keywords")
    if "anyOf" in schema:
        alternatives = schema["anyOf"]
        if not isinstance(alternatives, list) or not alternatives:
            raise SchemaError(_join(path, "anyOf"), "'anyOf' must be a non-empty list of schemas")
        if len(set(schema) - _ANNOTATIONS) > 1:
            raise SchemaError(path, "'anyOf' cannot be combined with other keywords")
        for i, alternative in enumerate(alternatives):
            _check(alternative, f"{_join(path, 'anyOf')}[{i}]", depth + 1, definitions, root=False)
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaError(_join(path, "enum"), "'enum' must be a non-empty list")
        for value in values:
            _fits(value, types, _join(path, "enum"))
    if "const" in schema:
        _fits(schema["const"], types, _join(path, "const"))
    _check_object(schema, path, depth, definitions)
    _check_array(schema, path, depth, definitions)
    _check_string(schema, path)


def _types(kind: Any, path: str) -> frozenset[str]:
    if kind is None:
        return TYPES
    names = kind if isinstance(kind, list) else [kind]
    if not names or not all(isinstance(n, str) and n in TYPES for n in names):
        raise SchemaError(_join(path, "type"), f"'type' must be one of {', '.join(sorted(TYPES))}")
    return frozenset(names)


def _fits(value: Any, types: frozenset[str], path: str) -> None:
    """An enum or const value must have the schema's type, or the grammar would emit an invalid
    value (the grammar writes the listed values verbatim)."""
    if isinstance(value, bool):
        kinds = {"boolean"}
    elif isinstance(value, int):
        kinds = {"integer", "number"}
    elif isinstance(value, float):
        kinds = {"number", "integer"} if value.is_integer() else {"number"}
    elif isinstance(value, str):
        kinds = {"string"}
    elif value is None:
        kinds = {"null"}
    elif isinstance(value, list):
        kinds = {"array"}
    else:
        kinds = {"object"}
    if not kinds & types:
        raise SchemaError(path, f"{json.dumps(value)} is not of the schema's type")


def _count(schema: Mapping[str, Any], keyword: str, path: str) -> int | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SchemaError(_join(path, keyword), f"'{keyword}' must be a non-negative integer")
    return value


def _check_object(
    schema: Mapping[str, Any], path: str, depth: int, definitions: Mapping[str, Any]
) -> None:
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise SchemaError(_join(path, "properties"), "'properties' must be an object of schemas")
    for name, value in properties.items():
        _check(value, _join(_join(path, "properties"), name), depth + 1, definitions, root=False)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError(_join(path, "required"), "'required' must be a list of property names")
    for name in required:
        if name not in properties:
            raise SchemaError(
                _join(path, "required"), f"'{name}' is required but not in 'properties'"
            )
    extra = schema.get("additionalProperties", False)
    if not isinstance(extra, bool):
        raise SchemaError(
            _join(path, "additionalProperties"), "'additionalProperties' must be true or false"
        )


def _check_array(
    schema: Mapping[str, Any], path: str, depth: int, definitions: Mapping[str, Any]
) -> None:
    if "items" in schema:
        _check(schema["items"], _join(path, "items"), depth + 1, definitions, root=False)
    low, high = _count(schema, "minItems", path), _count(schema, "maxItems", path)
    if low is not None and high is not None and low > high:
        raise SchemaError(_join(path, "minItems"), "'minItems' is larger than 'maxItems'")


def _check_string(schema: Mapping[str, Any], path: str) -> None:
    low, high = _count(schema, "minLength", path), _count(schema, "maxLength", path)
    if low is not None and high is not None and low > high:
        raise SchemaError(_join(path, "minLength"), "'minLength' is larger than 'maxLength'")
    if "format" in schema and schema["format"] not in FORMATS:
        raise SchemaError(
            _join(path, "format"),
            f"the format {json.dumps(schema['format'])} is not supported "
            f"(supported: {', '.join(sorted(FORMATS))})",
        )
    if "format" in schema and (low is not None or high is not None):
        raise SchemaError(path, "'format' cannot be combined with 'minLength' or 'maxLength'")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
