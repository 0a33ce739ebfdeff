"""The public OpenAPI contract: the chat request and answer schemas generated from their pydantic
models, hand-written JSON Schemas for the rest of what clients see (stream chunks, errors, models,
usage), merged over what FastAPI derives from the routes. Built on the first GET /openapi.json, never at import (the chat
function's cold start pays nothing), and kept equal to docs/openapi.yaml by a test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkai.catalog import MODELS

if TYPE_CHECKING:
    from fastapi import FastAPI

REF = "#/components/schemas/"
DASHBOARD_PREFIX = "/v1/dashboard/"
ERROR_STATUSES = {
    "400": "Invalid request: a parameter is wrong (`param` names it), or the body is not JSON.",
    "401": "Missing, malformed, unknown, revoked or expired API key (`invalid_api_key`).",
    "404": "Unknown route, or unknown model id (`model_not_found`).",
    "409": "Another request with this Idempotency-Key is still running "
    "(`idempotency_key_in_use`); retry after `retry-after` seconds.",
    "413": "The body is larger than 1 MiB (`request_too_large`).",
    "422": "This Idempotency-Key was used with a different body (`idempotency_key_reused`).",
    "429": "A per-minute budget is spent (`rate_limit_exceeded`, `type` names it, with "
    "`retry-after`), or the monthly spend limit is reached or a trial's one-off credit is used "
    "up (`insufficient_quota`, no `retry-after`: do not retry).",
    "500": "A bug (`internal_error`); report the `x-request-id`.",
    "502": "The model failed (`model_error`).",
    "503": "Temporarily unavailable (`model_unavailable`, `auth_unavailable`, "
    "`rate_limiter_unavailable`, `idempotency_unavailable`); always with `retry-after`.",
    "504": "The model did not answer in time (`model_timeout`).",
}
RETRY_AFTER_STATUSES = {"409", "429", "503"}
RATE_LIMIT_HEADERS = [
    f"x-ratelimit-{what}-{budget}"
    for budget in ("requests", "tokens")
    for what in ("limit", "remaining", "reset")
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _untitled(node: Any) -> Any:
    """pydantic's schemas without the `title` it derives from every class and field name."""
    if isinstance(node, dict):
        return {
            k: _untitled(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_untitled(v) for v in node]
    return node


def _chat_schemas() -> dict[str, Any]:
    """The chat request and answer schemas, generated from the pydantic models that validate and
    build them (one source for the contract), plus what only the catalog knows: the model ids and
    each model's max_tokens."""
    from pydantic.json_schema import models_json_schema

    from sparkai.chat.schemas import ChatCompletion, ChatRequest

    _, top = models_json_schema(
        [(ChatRequest, "validation"), (ChatCompletion, "serialization")],
        ref_template=REF + "{model}",
    )
    schemas: dict[str, Any] = _untitled(top["$defs"])
    request = schemas["ChatRequest"]
    largest = max(m.max_tokens for m in MODELS.values())
    limits = ", ".join(f"{m.max_tokens:,} ({i})" for i, m in MODELS.items())
    request["properties"]["model"] = {"enum": list(MODELS)}
    for name in ("max_tokens", "max_completion_tokens"):
        request["properties"][name] = {
            **_nullable({"type": "integer", "minimum": 1, "maximum": largest}),
            "description": request["properties"][name].get("description", "")
            + f" At most {limits}.",
        }
    # max_tokens depends on the model: one `if/then` per distinct limit below the largest.
    request["allOf"] = request.get("allOf", []) + [
        {
            "if": {
                "properties": {
                    "model": {"enum": [i for i, m in MODELS.items() if m.max_tokens == limit]}
                },
                "required": ["model"],
            },
            "then": {
                "properties": {
                    name: _nullable({"type": "integer", "maximum": limit})
                    for name in ("max_tokens", "max_completion_tokens")
                }
            },
        }
        for limit in sorted({m.max_tokens for m in MODELS.values()} - {largest})
    ]
    return schemas


def _schemas() -> dict[str, Any]:
    usage_counts = {
        "requests": {"type": "integer", "minimum": 0},
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
        "cost_usd": _ref("DecimalString"),
    }
    return {
        **_chat_schemas(),
        "Error": {
            "type": "object",
            "description": "Every error, from the app or from API Gateway, has this body.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type", "param", "code"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {
                            "type": ["string", "null"],
                            "description": "`invalid_request_error`, `server_error`, "
                            "`insufficient_quota`, or for rate limits the spent budget "
                            "(`requests` / `tokens`).",
                        },
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                    },
                }
            },
        },
        "DecimalString": {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "An exact decimal amount in USD, as a string (never a float).",
            "examples": ["0.0003"],
        },
        "ChatCompletionChunk": {
            "type": "object",
            "description": "One `data:` event of a stream. The role comes first, then content "
            "deltas, a chunk with `finish_reason`, a usage chunk (empty `choices`; always on "
            "/v1/chat, on /v1/chat/completions only with `stream_options.include_usage`), then "
            '`data: [DONE]`. A failure after the first byte is one `data: {"error": {...}}` '
            "event (the Error schema) and the stream ends without [DONE].",
            "required": ["id", "object", "created", "model", "choices"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "chat.completion.chunk"},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "delta", "finish_reason"],
                        "properties": {
                            "index": {"type": "integer"},
                            "delta": {
                                "type": "object",
                                "properties": {
                                    "role": {"const": "assistant"},
                                    "content": {"type": "string"},
                                    "tool_calls": {
                                        "type": "array",
                                        "items": _ref("ToolCallChunk"),
                                    },
                                },
                            },
                            "finish_reason": {"type": ["string", "null"]},
                        },
                    },
                },
                "usage": _ref("Usage"),
            },
        },
        "ToolCallChunk": {
            "type": "object",
            "description": "A piece of tool call `index`: its first piece carries `id`, `type` "
            "and `function.name` (with empty arguments), later pieces more of "
            "`function.arguments`; concatenated they are the call's JSON arguments.",
            "required": ["index"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "id": {"type": "string"},
                "type": {"const": "function"},
                "function": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
                },
            },
        },
        "ChatStreamEvent": {
            "type": "object",
            "description": "One server-sent event: `data` is a ChatCompletionChunk as JSON, an "
            "Error (a failure after the first byte; the stream then ends), or `[DONE]`. "
            "Comment lines (`: ping`) keep idle connections open.",
            "required": ["data"],
            "properties": {
                "event": {"type": "string"},
                "id": {"type": "string"},
                "data": {
                    "type": "string",
                    "if": {"const": "[DONE]"},
                    "else": {
                        "contentMediaType": "application/json",
                        "contentSchema": {"oneOf": [_ref("ChatCompletionChunk"), _ref("Error")]},
                    },
                },
            },
        },
        "Model": {
            "type": "object",
            "required": [
                "id",
                "object",
                "created",
                "owned_by",
                "description",
                "context_length",
                "max_tokens",
                "pricing",
            ],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "model"},
                "created": {"type": "integer"},
                "owned_by": {"type": "string"},
                "description": {"type": "string"},
                "context_length": {"type": "integer"},
                "max_tokens": {"type": "integer"},
                "pricing": {
                    "type": "object",
                    "required": ["per_1k_tokens_usd"],
                    "properties": {"per_1k_tokens_usd": _ref("DecimalString")},
                },
            },
        },
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": _ref("Model")},
            },
        },
        "UsageTotals": {
            "type": "object",
            "required": list(usage_counts),
            "properties": usage_counts,
        },
        "UsageRow": {
            "type": "object",
            "required": ["date", "model", "key_id", *usage_counts],
            "properties": {
                "date": {"type": "string", "format": "date"},
                "model": {"type": "string"},
                "key_id": {"type": "string"},
                **usage_counts,
            },
        },
        "UsageReport": {
            "type": "object",
            "required": [
                "object",
                "start",
                "end",
                "data",
                "totals",
                "spend_limit_usd",
                "month_to_date_usd",
            ],
            "properties": {
                "object": {"const": "usage"},
                "start": {"type": "string", "format": "date"},
                "end": {"type": "string", "format": "date"},
                "data": {"type": "array", "items": _ref("UsageRow")},
                "totals": _ref("UsageTotals"),
                "spend_limit_usd": _nullable(_ref("DecimalString")),
                "month_to_date_usd": _ref("DecimalString"),
            },
        },
    }


def _headers() -> dict[str, Any]:
    described = {
        "x-ratelimit-limit-requests": ("integer", "Requests per minute of the plan."),
        "x-ratelimit-remaining-requests": ("integer", "Requests left in the budget now."),
        "x-ratelimit-reset-requests": (
            "string",
            "Time until the budget is full: `2s`, `20ms`, `1m2s`.",
        ),
        "x-ratelimit-limit-tokens": ("integer", "Tokens per minute of the plan."),
        "x-ratelimit-remaining-tokens": ("integer", "Tokens left in the budget now."),
        "x-ratelimit-reset-tokens": ("string", "Time until the budget is full."),
    }
    headers: dict[str, Any] = {
        "x-request-id": {
            "description": "The request's id; quote it when reporting a problem.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
        "retry-after": {
            "description": "Seconds to wait before retrying (at most 60).",
            "required": True,
            "schema": {"type": "string", "pattern": r"^\d+$"},
        },
    }
    for name, (kind, text) in described.items():
        headers[name] = {"description": text, "schema": {"type": kind}}
    return headers


def _header_refs(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {n: {"$ref": f"#/components/headers/{n}"} for n in (*names, *required)}


def _error(status: str, *, retry_after: bool = False) -> dict[str, Any]:
    # A 429 for `insufficient_quota` has no retry-after, so it is documented as optional there.
    headers = _header_refs("x-request-id")
    if status == "429":
        headers.update(_header_refs(*RATE_LIMIT_HEADERS))
        headers["retry-after"] = {
            "description": "Seconds to wait (absent for `insufficient_quota`: do not retry).",
            "schema": {"type": "string", "pattern": r"^\d+$"},
        }
    elif retry_after:
        headers.update(_header_refs("retry-after"))
    return {
        "description": ERROR_STATUSES[status],
        "headers": headers,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return {s: _error(s, retry_after=s in RETRY_AFTER_STATUSES) for s in statuses}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1 to 255 printable ASCII characters. The first request with a key runs; a retry "
    "with the same key and body within 24 h gets the stored answer without running (or billing) "
    "again. SDKs send `sparkai-<uuid4 hex>` per logical call.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x20-\x7e]+$"},
}


def _chat_operation(path: str) -> dict[str, Any]:
    openai = path.endswith("/completions")
    return {
        "operationId": "createChatCompletion" if openai else "createChat",
        "summary": "OpenAI-compatible chat completions"
        if openai
        else "A chat completion, buffered or streamed",
        "description": (
            "The OpenAI-compatible twin of /v1/chat: the usage chunk is sent only with "
            "`stream_options.include_usage`, and `n` must be 1."
            if openai
            else "A `chat.completion`, or with `stream: true` server-sent `chat.completion.chunk` "
            "events ending with `data: [DONE]`."
        ),
        "tags": ["chat"],
        "security": [{"apiKey": []}],
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("ChatRequest")}},
        },
        "responses": {
            "200": {
                "description": "`stream: false`: the completion. `stream: true`: an event stream "
                "(`data: <ChatCompletionChunk>` events, `: ping` keep-alives every 15 s, then "
                "`data: [DONE]`).",
                "headers": _header_refs("x-request-id", *RATE_LIMIT_HEADERS),
                "content": {
                    "application/json": {"schema": _ref("ChatCompletion")},
                    # OpenAPI 3.1: for an event stream, `schema` describes one event.
                    "text/event-stream": {"schema": _ref("ChatStreamEvent")},
                },
            },
            **_errors("400", "401", "404", "409", "413", "422", "429", "500", "502", "503", "504"),
        },
    }


def _public_paths() -> dict[str, Any]:
    read_errors = _errors("401", "500", "503")
    return {
        "/v1/chat": {"post": _chat_operation("/v1/chat")},
        "/v1/chat/completions": {"post": _chat_operation("/v1/chat/completions")},
        "/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "The spark models: ids, context lengths, max tokens, prices",
                "tags": ["models"],
                "security": [{"apiKey": []}],
                "responses": {
                    "200": {
                        "description": "The models.",
                        "headers": _header_refs("x-request-id"),
                        "content": {"application/json": {"schema": _ref("ModelList")}},
                    },
                    **read_errors,
                },
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "operationId": "retrieveModel",
                "summary": "One model",
                "tags": ["models"],
                "security": [{"apiKey": []}],
                "parameters": [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "examples": {"spark-1": {"value": "spark-1"}},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The model.",
                        "headers": _header_refs("x-request-id"),
                        "content": {"application/json": {"schema": _ref("Model")}},
                    },
                    **_errors("401", "404", "500", "503"),
                },
            }
        },
        "/v1/usage": {
            "get": {
                "operationId": "retrieveUsage",
                "summary": "Metered usage of the calling account",
                "description": "Requests, tokens and cost per UTC day, model and key, with "
                "totals, the monthly spend limit and this month's spend. Both dates inclusive; "
                "default: the first day of this month to today; at most 93 days.",
                "tags": ["usage"],
                "security": [{"apiKey": []}],
                "parameters": [
                    {
                        "name": name,
                        "in": "query",
                        "required": False,
                        "description": text,
                        "schema": {"type": "string", "format": "date"},
                    }
                    for name, text in (
                        ("start", "First day, YYYY-MM-DD (UTC)."),
                        ("end", "Last day, YYYY-MM-DD (UTC), not before `start`."),
                    )
                ],
                "responses": {
                    "200": {
                        "description": "The usage report (money as decimal strings).",
                        "headers": _header_refs("x-request-id"),
                        "content": {"application/json": {"schema": _ref("UsageReport")}},
                    },
                    **_errors("400", "401", "500", "503"),
                },
            }
        },
    }


def _document_other_routes(paths: dict[str, Any]) -> None:
    """Routes FastAPI derived that are not hand-described above (the dashboard): give every
    operation the error shape and its security, so no public route is undocumented."""
    for path, item in paths.items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].pop("422", None)  # FastAPI's validation shape is never sent
            operation["responses"].update(_errors("400", "401", "404", "500", "503"))
            ok = operation["responses"].get("200", {})
            ok.setdefault("headers", _header_refs("x-request-id"))
            ok.setdefault("content", {"application/json": {"schema": {"type": "object"}}})
            ok["content"].setdefault("application/json", {"schema": {"type": "object"}})
            ok["content"]["application/json"]["schema"] = {"type": "object"}
            if path.startswith("/v1/dashboard/"):
                operation["security"] = [{"dashboardToken": []}]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The whole document: FastAPI's view of the routes, with the public ones hand-described."""
    from fastapi.openapi.utils import get_openapi  # first request only: pydantic-heavy

    public = _public_paths()
    # The document is the whole API's, whichever function serves it: a chat function does not
    # route the dashboard (sparkai.api.app), but its routes are described all the same.
    routes = list(app.routes)
    if not any(getattr(route, "path", "").startswith(DASHBOARD_PREFIX) for route in routes):
        from sparkai.api.dashboard import router as dashboard_router

        routes += dashboard_router.routes
    derived = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description="Chat completions from the spark models, buffered or streamed as "
        "server-sent events. Errors always have the `Error` body and an `x-request-id`.",
        routes=routes,
    )
    others = {p: item for p, item in derived.get("paths", {}).items() if p not in public}
    _document_other_routes(others)
    derived["paths"] = {**public, **others}
    components = derived.setdefault("components", {})
    # FastAPI's own validation-error shapes are never sent (one handler maps them to 400 Error).
    schemas = {
        name: schema
        for name, schema in components.get("schemas", {}).items()
        if name not in {"HTTPValidationError", "ValidationError"}
    }
    components["schemas"] = {**schemas, **_schemas()}
    components["headers"] = _headers()
    components["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk-spark-…",
            "description": "An API key: `Authorization: Bearer sk-spark-…`.",
        },
        "dashboardToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito ID token (dashboard routes only; API keys never work there).",
        },
    }
    derived["security"] = [{"apiKey": []}]
    return derived


def install_openapi(app: FastAPI) -> None:
    """Serve build_openapi() at /openapi.json, built once on the first request."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "document" not in cache:
            cache["document"] = build_openapi(app)
        return cache["document"]

    app.openapi = openapi  # type: ignore[method-assign]
