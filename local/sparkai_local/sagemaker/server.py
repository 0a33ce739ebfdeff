"""The SageMaker Runtime REST-JSON API on Starlette: InvokeEndpoint, InvokeEndpointWithResponseStream
(AWS event stream), SageMaker's error format, /ping, and a small /_local control API for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sparkai_local.sagemaker import containers, eventstream
from sparkai_local.sagemaker.backends import (
    ACCOUNT_ID,
    REGION,
    BackendError,
    ModelBackend,
    StreamFailure,
    log_stream_arn,
)
from sparkai_local.sagemaker.containers import Style
from sparkai_local.sagemaker.scripted import Script, ScriptedBackend

logger = logging.getLogger("sparkai_local.sagemaker")

EVENT_STREAM = "application/vnd.amazon.eventstream"
_END = (
    object()
)  # what next() returns at the end of a backend's iterator (StopIteration cannot cross threads)


def not_found(endpoint_name: str) -> BackendError:
    return BackendError(
        "ValidationError", f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found."
    )


def _request_id() -> str:
    return str(uuid.uuid4())


def error_response(error: BackendError, endpoint_name: str) -> JSONResponse:
    """An error as SageMaker Runtime sends it: botocore reads the code from x-amzn-ErrorType, the
    message from the body, and ModelError's extra members from the body's top level."""
    body: dict[str, Any]
    if error.code == "ModelError":
        original = error.original_status_code or 500
        origin = "CLIENT" if original < 500 else "SERVER"
        body = {
            "ErrorCode": f"{origin}_ERROR_FROM_MODEL",
            "LogStreamArn": log_stream_arn(endpoint_name),
            "Message": (
                f"Received {origin.lower()} error ({original}) from primary with message "
                f'"{error.original_message or error.message}". See '
                f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
                f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint_name} in account "
                f"{ACCOUNT_ID} for more information."
            ),
            "OriginalMessage": error.original_message or error.message,
            "OriginalStatusCode": original,
        }
    else:
        body = {"message": error.message}
    return JSONResponse(
        body,
        status_code=error.status,
        headers={"x-amzn-ErrorType": f"{error.code}:", "x-amzn-RequestId": _request_id()},
    )


def _parse_request(body: bytes) -> dict[str, Any]:
    """The container's own check of the JSON payload; SageMaker relays its 4xx as ModelError."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise BackendError.model_error(
            400, "Failed to deserialize the JSON body into the target type"
        )
    return payload


def _content_type(requested: str | None) -> str:
    if not requested or requested == "*/*":
        return "application/json"
    return requested


class EventStreamResponse(Response):
    """Relays a backend's iterator as PayloadPart events, flushing each one as it comes.

    A task watches for the client's disconnect the whole time, so a backend that is blocked (on
    a gate, a delay, or between tokens) hears about it at once through `disconnected`.
    """

    media_type = EVENT_STREAM

    def __init__(
        self,
        items: Iterator[dict[str, Any] | bytes],
        style: Style,
        disconnected: threading.Event,
        headers: dict[str, str],
    ) -> None:
        self.status_code = 200
        self.background = None
        self._items = items
        self._style = style
        self._disconnected = disconnected
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch, receive, tasks.cancel_scope)
            try:
                await self._relay(send)
            finally:
                tasks.cancel_scope.cancel()  # the watcher is no longer needed

    async def _watch(self, receive: Receive, scope: anyio.CancelScope) -> None:
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()
        finally:
            # Wake the backend (client gone, or the server cancelling us at shutdown): the relay
            # waits for the backend's current step to return before it can stop.
            self._disconnected.set()

    async def _relay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        ready: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
        stop = threading.Event()
        loop = asyncio.get_running_loop()

        def hand_over(item: Any, error: BaseException | None = None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: server shutting down
                loop.call_soon_threadsafe(ready.put_nowait, (item, error))

        started = threading.Event()

        def produce() -> None:
            started.set()
            # The backend runs ahead of the network, as a model server's generation loop does:
            # the next token is computed while this one is being sent, not after. (Pulling one
            # item per thread hop stalled llama.cpp between tokens: 20% of its tokens/s.)
            try:
                for item in self._items:
                    hand_over(item)
                    if stop.is_set():
                        break
            except BaseException as exc:  # re-raised by the relay, which turns it into a tail
                hand_over(_END, exc)
            else:
                hand_over(_END)
            finally:
                # Closed here, by the thread iterating it: what stops generation and releases the
                # backend (e.g. the llama lock) when the client has gone.
                _close(self._items)

        try:
            async with anyio.create_task_group() as producer:
                producer.start_soon(anyio.to_thread.run_sync, produce)
                try:
                    tail = await self._send_items(send, ready)
                finally:
                    stop.set()  # a cancelled relay (client gone) waits for the backend's step
        finally:
            if not started.is_set():  # cancelled before the producer ran: still release it
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_close, self._items)
        if tail:
            await self._send_part(send, tail)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_items(
        self, send: Send, ready: asyncio.Queue[tuple[Any, BaseException | None]]
    ) -> bytes:
        """Each item as a PayloadPart as it arrives; the closing part (end of stream, or the
        error the backend raised) is returned, to send once the backend is done."""
        framed_chunks = False
        try:
            while True:
                item, error = await ready.get()
                if error is not None:
                    raise error
                if item is _END:
                    break
                if isinstance(item, dict):
                    framed_chunks = True
                    data = containers.encode_chunk(item, self._style)
                else:
                    data = cast("bytes", item)  # the backend yields chunk dicts or raw bytes
                await self._send_part(send, eventstream.payload_part(data))
        except StreamFailure as failure:
            if failure.kind == "InternalStreamFailure":
                return eventstream.internal_stream_failure(failure.message)
            return eventstream.model_stream_error(failure.message, failure.error_code)
        except BackendError as error:
            return eventstream.model_stream_error(error.message, error.code)
        except Exception:
            logger.exception("The model backend failed mid-stream")
            return eventstream.internal_stream_failure(
                "An internal error occurred while streaming."
            )
        end = containers.end_of_stream(self._style) if framed_chunks else None
        return eventstream.payload_part(end) if end else b""

    async def _send_part(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})


def _close(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


def create_app(backend: ModelBackend) -> Starlette:
    """The SageMaker Runtime API in front of `backend`."""

    async def call_backend(request: Request, method: Callable[..., Any], *args: Any) -> Any:
        """The backend's answer for this endpoint, or the SageMaker error Response to send."""
        name = request.path_params["EndpointName"]
        if not backend.knows(name):
            return error_response(not_found(name), name)
        try:
            payload = _parse_request(await request.body())
            return await anyio.to_thread.run_sync(method, name, payload, *args)
        except BackendError as error:
            return error_response(error, name)
        except Exception:
            logger.exception("The model backend failed")
            return error_response(
                BackendError("InternalFailure", "An internal error occurred."), name
            )

    async def invoke(request: Request) -> Response:
        answer = await call_backend(request, backend.complete)
        if isinstance(answer, Response):
            return answer
        content_type = _content_type(
            request.headers.get("accept") or request.headers.get("content-type")
        )
        return Response(
            json.dumps(answer),
            media_type=content_type,
            headers={
                "x-Amzn-Invoked-Production-Variant": "AllTraffic",
                "x-amzn-RequestId": _request_id(),
            },
        )

    async def invoke_stream(request: Request) -> Response:
        disconnected = threading.Event()
        items = await call_backend(request, backend.stream, disconnected)
        if isinstance(items, Response):
            return items
        name = request.path_params["EndpointName"]
        accept = request.headers.get("x-amzn-sagemaker-accept")
        headers = {
            "x-Amzn-Invoked-Production-Variant": "AllTraffic",
            "X-Amzn-SageMaker-Content-Type": _content_type(accept),
            "x-amzn-RequestId": _request_id(),
        }
        return EventStreamResponse(items, backend.style_for(name), disconnected, headers)

    async def ping(request: Request) -> Response:
        return JSONResponse({"status": "healthy"})

    async def stats(request: Request) -> Response:
        return JSONResponse(backend.stats())

    async def stream_ended(request: Request) -> Response:
        # A blocking read, so a test waits on the event (the stream's end) instead of polling
        # /_local/stats in a loop.
        index = request.path_params["index"]
        try:
            timeout = float(request.query_params.get("timeout", "30"))
            record = await anyio.to_thread.run_sync(
                backend.recorder.wait_for_end, index, min(timeout, 120.0)
            )
        except ValueError:
            return JSONResponse({"message": "timeout must be a number"}, status_code=400)
        except TimeoutError as exc:
            return JSONResponse({"message": str(exc)}, status_code=504)
        return JSONResponse(record.to_dict())

    async def reset(request: Request) -> Response:
        backend.reset()
        return Response(status_code=204)

    def scripted() -> ScriptedBackend | Response:
        if isinstance(backend, ScriptedBackend):
            return backend
        return JSONResponse(
            {"message": "Only the scripted backend takes scripts."}, status_code=404
        )

    async def put_script(request: Request) -> Response:
        target = scripted()
        if isinstance(target, Response):
            return target
        try:
            script = Script.from_dict(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"message": f"Invalid script: {exc}"}, status_code=400)
        target.set_script(request.path_params["endpoint"], script)
        return JSONResponse(script.to_dict())

    async def release(request: Request) -> Response:
        target = scripted()
        if isinstance(target, Response):
            return target
        target.release(request.path_params["endpoint"])
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/endpoints/{EndpointName}/invocations", invoke, methods=["POST"]),
            Route(
                "/endpoints/{EndpointName}/invocations-response-stream",
                invoke_stream,
                methods=["POST"],
            ),
            Route("/ping", ping, methods=["GET"]),
            Route("/_local/stats", stats, methods=["GET"]),
            Route("/_local/streams/{index:int}/ended", stream_ended, methods=["GET"]),
            Route("/_local/reset", reset, methods=["POST"]),
            Route("/_local/scripts/{endpoint}", put_script, methods=["PUT"]),
            Route("/_local/release/{endpoint}", release, methods=["POST"]),
        ]
    )
