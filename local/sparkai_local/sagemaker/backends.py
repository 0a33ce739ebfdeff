"""The model-backend port of the local SageMaker Runtime, the errors a backend may raise, and the
per-stream records tests assert on."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sparkai_local.sagemaker.containers import Style

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# The HTTP status SageMaker Runtime answers with for each error code (its service model says so).
ERROR_STATUS: dict[str, int] = {
    "ValidationError": 400,
    "ThrottlingException": 400,
    "ModelNotReadyException": 429,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ModelError": 424,
    "InternalDependencyException": 530,
}

StreamFailureKind = Literal["ModelStreamError", "InternalStreamFailure"]


def log_stream_arn(endpoint_name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}"


class BackendError(Exception):
    """An invocation SageMaker refuses before any answer: returned as an HTTP error response.

    `code` is the SageMaker error code (a key of ERROR_STATUS). For ModelError, the container's
    own answer travels in `original_status_code` / `original_message`.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        original_status_code: int | None = None,
        original_message: str | None = None,
    ) -> None:
        if code not in ERROR_STATUS:
            raise ValueError(f"Unknown SageMaker error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.original_status_code = original_status_code
        self.original_message = original_message

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]

    @classmethod
    def model_error(cls, original_status_code: int, container_message: str) -> BackendError:
        """The container answered 4xx/5xx; SageMaker wraps that as ModelError (HTTP 424)."""
        # TGI and vLLM answer errors as {"error": "...", "error_type": "..."}.
        kind = "validation" if original_status_code < 500 else "generation"
        return cls(
            "ModelError",
            container_message,
            original_status_code=original_status_code,
            original_message=json.dumps({"error": container_message, "error_type": kind}),
        )


class StreamFailure(Exception):
    """A failure after the stream started: sent as an exception event, ending the stream."""

    def __init__(
        self, kind: StreamFailureKind, message: str, error_code: str = "ModelStreamError"
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.error_code = error_code


class ModelBackend(Protocol):
    """What the server needs from a model: a container's answers, buffered or streamed."""

    def knows(self, endpoint_name: str) -> bool:
        """False makes the server answer ValidationError 'Endpoint ... not found.'"""

    def style_for(self, endpoint_name: str) -> Style:
        """How the container behind this endpoint frames a stream (SSE or JSON lines)."""

    def complete(self, endpoint_name: str, request: dict[str, Any]) -> dict[str, Any]:
        """A buffered `chat.completion`; may raise BackendError."""

    def stream(
        self, endpoint_name: str, request: dict[str, Any], disconnected: threading.Event
    ) -> Iterator[dict[str, Any] | bytes]:
        """Chunks as the model produces them.

        BackendError raised by this call itself becomes an HTTP error; the iterator then yields
        `chat.completion.chunk` dicts (framed in the endpoint's style, with its end marker after
        the last one) or bytes (sent verbatim as one PayloadPart each), and may raise
        StreamFailure. `disconnected` is set when the client went away: stop generating promptly,
        even while waiting. The server closes the iterator when it stops reading.
        """

    recorder: Recorder  # what GET /_local/streams/{index}/ended waits on

    def stats(self) -> dict[str, Any]:
        """Invocations per endpoint and per-stream records (GET /_local/stats)."""

    def reset(self) -> None:
        """Back to the initial configuration, counters cleared (POST /_local/reset)."""


@dataclass(eq=False)
class StreamRecord:
    """What one stream did, as the server saw it; updated live while the stream runs."""

    endpoint: str
    chunks_emitted: int = 0  # text chunks (or raw parts) handed to the server
    waiting_at_gate: bool = False
    completed: bool = False  # everything was sent, end marker included
    closed_early: bool = False  # the client went away (or stopped reading) before the end
    failed: str | None = None  # the exception event that ended it, if any
    at_gate: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "chunks_emitted": self.chunks_emitted,
            "waiting_at_gate": self.waiting_at_gate,
            "completed": self.completed,
            "closed_early": self.closed_early,
            "failed": self.failed,
        }


class Recorder:
    """Thread-safe counters shared by the backends: invocations and stream records."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.invocations: Counter[str] = Counter()
        self.streams: list[StreamRecord] = []

    def invoked(self, endpoint_name: str) -> None:
        with self._changed:
            self.invocations[endpoint_name] += 1

    def stream_started(self, endpoint_name: str) -> StreamRecord:
        record = StreamRecord(endpoint_name)
        with self._changed:
            self.streams.append(record)
            self._changed.notify_all()
        return record

    def stream_ended(self, record: StreamRecord) -> None:
        # Whatever did not complete or fail was abandoned by the reader.
        if not record.completed and record.failed is None:
            record.closed_early = True
        record.waiting_at_gate = False
        record.finished.set()

    def wait_for_streams(self, count: int, timeout: float = 10.0) -> list[StreamRecord]:
        """The first `count` stream records, once that many streams have started."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.streams) >= count, timeout):
                raise TimeoutError(f"{len(self.streams)} of {count} streams started")
            return self.streams[:count]

    def wait_for_end(self, index: int, timeout: float) -> StreamRecord:
        """The `index`-th stream's record (0: the first since reset), once that stream has ended:
        completed, failed or closed early. TimeoutError when it has not within `timeout`."""
        deadline = time.monotonic() + timeout
        record = self.wait_for_streams(index + 1, timeout)[index]
        if not record.finished.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"stream {index} has not ended")
        return record

    def snapshot(self) -> dict[str, Any]:
        with self._changed:
            streams = list(self.streams)
            invocations = dict(self.invocations)
        return {
            "invocations": invocations,
            "streams": {
                "started": len(streams),
                "completed": sum(s.completed for s in streams),
                "closed_early": sum(s.closed_early for s in streams),
                "failed": sum(s.failed is not None for s in streams),
            },
            "stream_records": [s.to_dict() for s in streams],
        }

    def reset(self) -> None:
        with self._changed:
            self.invocations.clear()
            self.streams.clear()
