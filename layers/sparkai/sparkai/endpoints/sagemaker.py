"""SageMaker real-time endpoints through `sagemaker-runtime` (InvokeEndpoint and its streaming twin)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from sparkai.endpoints.container_errors import detail_of, rejected
from sparkai.endpoints.payloads import (
    PayloadPartDecoder,
    build_payload,
    delta_from_event,
    parse_completion,
)
from sparkai.endpoints.port import GenerationRequest, ModelDelta, ModelReply
from sparkai.errors import (
    ModelEndpointError,
    ModelTimeoutError,
    ModelUnavailableError,
    SparkAIError,
)
from sparkai.observability import logger

if TYPE_CHECKING:
    from sparkai.aws import SageMakerRuntimeFactory

_UNAVAILABLE_CODES = {
    "ServiceUnavailable",
    "ModelNotReadyException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
}
# Containers answer 4xx for prompts they cannot take (TGI: 422 "inputs tokens + max_new_tokens
# must be <= ..."; vLLM: 400 "maximum context length is ..."). That is the caller's error.
_CLIENT_ERROR_STATUSES = {400, 413, 422}


def translate_error(exc: Exception, endpoint_name: str) -> SparkAIError:
    """A botocore failure as the domain error a client should see (logged for operators)."""
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return ModelTimeoutError(
            "The model did not answer in time. Try a smaller max_tokens or stream."
        )
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        logger.error("model.unreachable", extra={"endpoint": endpoint_name})
        return ModelUnavailableError("The model is temporarily unreachable; please retry.")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "")
        logger.warning(
            "model.error", extra={"endpoint": endpoint_name, "code": code, "detail": message}
        )
        if code in _UNAVAILABLE_CODES:
            return ModelUnavailableError("The model is busy or warming up; please retry shortly.")
        if code == "ValidationError" and "not found" in message.lower():
            # The stack points at an endpoint that does not exist: an operator problem.
            return ModelUnavailableError("The model is not deployed right now; please retry later.")
        if code == "ModelError":
            original = exc.response.get("OriginalStatusCode")
            if original in _CLIENT_ERROR_STATUSES:
                # Only the useful part leaves: the container's text names the underlying
                # model, its paths and hosts (container_errors keeps it in our logs).
                detail = detail_of(str(exc.response.get("OriginalMessage") or message))
                return rejected(detail, endpoint_name)
            return ModelEndpointError("The model failed to produce an answer.")
        if code in {"ModelStreamError", "InternalStreamFailure"}:
            return ModelEndpointError("The model stream failed before the answer was complete.")
        return ModelEndpointError("The model endpoint returned an error.")
    if isinstance(exc, BotoCoreError):
        return ModelUnavailableError("The model is temporarily unreachable; please retry.")
    return ModelEndpointError("The model endpoint returned an error.")


class SageMakerEndpoint:
    """One spark model's SageMaker endpoint."""

    def __init__(self, endpoint_name: str, client_factory: SageMakerRuntimeFactory) -> None:
        self.endpoint_name = endpoint_name
        self._client_factory = client_factory

    def invoke(self, request: GenerationRequest) -> ModelReply:
        payload = build_payload(replace(request, stream=False))
        try:
            response = self._client_factory().invoke_endpoint(
                EndpointName=self.endpoint_name,
                Body=json.dumps(payload).encode(),
                ContentType="application/json",
                Accept="application/json",
            )
            body = response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise translate_error(exc, self.endpoint_name) from exc
        return parse_completion(body)

    def stream(self, request: GenerationRequest) -> SageMakerStream:
        payload = build_payload(replace(request, stream=True))
        try:
            response = self._client_factory().invoke_endpoint_with_response_stream(
                EndpointName=self.endpoint_name,
                Body=json.dumps(payload).encode(),
                ContentType="application/json",
                Accept="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise translate_error(exc, self.endpoint_name) from exc
        return SageMakerStream(response["Body"], self.endpoint_name)


class SageMakerStream:
    """Iterates PayloadParts as ModelDeltas, relaying each as soon as botocore decodes it."""

    def __init__(self, event_stream: Any, endpoint_name: str) -> None:
        self._events = event_stream
        self._endpoint = endpoint_name
        self._decoder = PayloadPartDecoder()
        self._closed = threading.Event()
        self._exhausted = False  # read to the end: the connection went back to the pool

    def __iter__(self) -> Iterator[ModelDelta]:
        try:
            for event in self._events:
                part = event.get("PayloadPart")
                if part is None:
                    continue
                for decoded in self._decoder.feed(part.get("Bytes", b"")):
                    if (delta := delta_from_event(decoded)) is not None:
                        yield delta
            self._exhausted = True
            for decoded in self._decoder.finish():
                if (delta := delta_from_event(decoded)) is not None:
                    yield delta
        except (BotoCoreError, ClientError, OSError, ValueError) as exc:
            if self._closed.is_set():
                return  # we closed it ourselves (client went away): not an error
            raise translate_error(exc, self._endpoint) from exc

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        # Cut short: shut the socket down first. A plain close() does not wake a thread blocked
        # reading it, and SageMaker keeps generating (and billing) until the connection ends.
        # A stream read to the end is left alone: its connection is back in the pool for reuse.
        sock = None if self._exhausted else _socket_of(getattr(self._events, "_raw_stream", None))
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        try:
            self._events.close()
        except Exception:
            logger.debug("model.stream_close_failed", exc_info=True)


def _socket_of(raw: Any) -> socket.socket | None:
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None
