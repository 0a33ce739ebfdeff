"""The HTTP request the Lambda Web Adapter sends uvicorn for one Lambda event, as its source does
(aws-lambda-web-adapter src/lib.rs, `fetch_response`): method, path and query from the event, the
client's headers, then `x-amzn-request-context` (the event's requestContext as JSON) and
`x-amzn-lambda-context` *inserted*, replacing any header of that name the client sent."""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

REQUEST_CONTEXT = "x-amzn-request-context"
LAMBDA_CONTEXT = "x-amzn-lambda-context"


@dataclass(frozen=True)
class Relayed:
    method: str
    path: str  # with the query string
    headers: list[tuple[str, str]]
    body: bytes


def _query(event: dict[str, Any]) -> str:
    if "rawQueryString" in event:  # Function URL / HTTP API (payload 2.0)
        return event.get("rawQueryString") or ""
    multi = event.get("multiValueQueryStringParameters") or {}
    return urllib.parse.urlencode([(k, v) for k, values in multi.items() for v in values])


def relay(event: dict[str, Any], function_name: str = "f") -> Relayed:
    if event.get("version") == "2.0":
        method = event["requestContext"]["http"]["method"]
        path = event["rawPath"]
        headers = list((event.get("headers") or {}).items())
    else:  # REST API proxy event (also the response-streaming integration's input)
        method = event["httpMethod"]
        path = event["path"]
        multi = event.get("multiValueHeaders") or {}
        headers = [(k, v) for k, values in multi.items() for v in values] or list(
            (event.get("headers") or {}).items()
        )
    query = _query(event)
    body = (event.get("body") or "").encode()
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    # HeaderMap::insert: the adapter's values replace the client's, whatever their case.
    headers = [(k, v) for k, v in headers if k.lower() not in {REQUEST_CONTEXT, LAMBDA_CONTEXT}]
    headers.append((REQUEST_CONTEXT, json.dumps(event["requestContext"])))
    headers.append((LAMBDA_CONTEXT, json.dumps({"function_name": function_name})))
    return Relayed(method, path + ("?" + query if query else ""), headers, body)


def send(base_url: str, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
    """Relay `event` to the app at `base_url` as the adapter would, and read the whole answer."""
    relayed = relay(event)
    return httpx.request(
        relayed.method,
        base_url + relayed.path,
        headers=relayed.headers,
        content=relayed.body,
        timeout=30,
        **kwargs,
    )
