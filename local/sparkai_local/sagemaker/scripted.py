"""A scripted model backend for tests: per-endpoint answers, delays, failures, raw wire bytes and a
gate that holds a stream until the test releases it."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sparkai_local.sagemaker import containers
from sparkai_local.sagemaker.backends import (
    BackendError,
    Recorder,
    StreamFailure,
    StreamFailureKind,
    StreamRecord,
)
from sparkai_local.sagemaker.containers import Style

DEFAULT_CHUNKS = [
    "Hello!",
    " I'm",
    " doing",
    " great.",
    " How",
    " can",
    " I",
    " help",
    " you",
    " today?",
]
DEFAULT_PROMPT_TOKENS = 24
# How often a blocked stream looks whether its client is still there (see _wait_at_gate).
_GATE_POLL_SECONDS = 0.02


@dataclass
class InvokeError:
    """Make the next `count` invocations fail with this SageMaker error."""

    code: str = "ServiceUnavailable"
    message: str = "The endpoint is temporarily unavailable."
    count: int = 1
    original_status_code: int | None = None  # ModelError only: what the container answered
    original_message: str | None = None

    def to_exception(self) -> BackendError:
        if self.code == "ModelError" and self.original_message is None:
            return BackendError.model_error(self.original_status_code or 500, self.message)
        return BackendError(
            self.code,
            self.message,
            original_status_code=self.original_status_code,
            original_message=self.original_message,
        )


@dataclass
class Script:
    """How one endpoint answers. JSON-serialisable through to_dict / from_dict."""

    chunks: list[str] = field(default_factory=lambda: list(DEFAULT_CHUNKS))
    delay_seconds: float = 0.0  # between two chunks
    style: Style = "tgi"
    include_usage: bool | None = None  # None: as the request's stream_options say
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    completion_tokens: int | None = None  # None: the sum of `tokens`
    # Tokens behind each chunk (None: one each). A model writes an emoji or a rare CJK character
    # in several tokens (the first ones send "") and vLLM merges tokens into one chunk under load.
    tokens: list[int] | None = None
    finish_reason: str = "stop"
    fail_after: int | None = None  # emit this many chunks, then fail with `fail_with`
    fail_with: StreamFailureKind = "ModelStreamError"
    fail_message: str = "The model container stopped responding."
    invoke_error: InvokeError | None = None
    raw_parts: list[bytes] | None = None  # sent verbatim, one PayloadPart each, instead of chunks
    gate_after: int | None = None  # emit this many chunks, then wait for release()
    # Answer with these calls ({"name", "arguments" as JSON text}) as vLLM's tool parser does:
    # message.tool_calls, or streamed as delta.tool_calls (id and name, then the arguments in
    # pieces), finish_reason "tool_calls". `chunks` is then the text before the calls (often none).
    tool_calls: list[dict[str, str]] | None = None

    def __post_init__(self) -> None:
        if self.style not in containers.STYLES:
            raise ValueError(f"style must be one of {containers.STYLES}")
        if self.fail_with not in ("ModelStreamError", "InternalStreamFailure"):
            raise ValueError("fail_with must be ModelStreamError or InternalStreamFailure")
        if self.tokens is not None and len(self.tokens) != len(self.chunks):
            raise ValueError("tokens must give one count per chunk")

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def token_counts(self) -> list[int]:
        return list(self.tokens) if self.tokens is not None else [1] * len(self.chunks)

    def usage(self) -> tuple[int, int]:
        arguments = sum(len(_pieces(c["arguments"])) for c in self.tool_calls or ())
        completion = (
            sum(self.token_counts()) + arguments
            if self.completion_tokens is None
            else self.completion_tokens
        )
        return self.prompt_tokens, completion

    @property
    def finish(self) -> str:
        return (
            "tool_calls" if self.tool_calls and self.finish_reason == "stop" else self.finish_reason
        )

    def message_tool_calls(self) -> list[dict[str, Any]] | None:
        if not self.tool_calls:
            return None
        return [
            {
                "id": f"chatcmpl-tool-{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for i, c in enumerate(self.tool_calls)
        ]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.raw_parts is not None:
            data["raw_parts"] = [_part_to_json(part) for part in self.raw_parts]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown script fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        if isinstance(values.get("invoke_error"), Mapping):
            values["invoke_error"] = InvokeError(**values["invoke_error"])
        if values.get("raw_parts") is not None:
            values["raw_parts"] = [_part_from_json(part) for part in values["raw_parts"]]
        return cls(**values)


def _pieces(text: str, size: int = 8) -> list[str]:
    """Arguments in pieces, the way a tool parser streams them as the model writes."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _part_to_json(part: bytes) -> str | dict[str, str]:
    try:
        return part.decode()
    except UnicodeDecodeError:  # e.g. a UTF-8 character split across two parts
        return {"base64": base64.b64encode(part).decode()}


def _part_from_json(part: str | Mapping[str, str]) -> bytes:
    if isinstance(part, str):
        return part.encode()
    return base64.b64decode(part["base64"])


class ScriptedBackend:
    """Answers from a Script per endpoint and records what each stream did.

    With `endpoints` given, only those names and the scripted ones exist (others get
    ValidationError 'not found'); without, any name answers, with the default script if unscripted.
    """

    # Made by reset() (which __init__ calls), so reset() checks whether they exist yet.
    _gates: dict[str, threading.Event]
    _default_gate: threading.Event

    def __init__(
        self,
        scripts: Mapping[str, Script] | None = None,
        *,
        endpoints: Iterable[str] | None = None,
        default: Script | None = None,
    ) -> None:
        self._initial_scripts = dict(scripts or {})
        self._initial_endpoints = (
            None if endpoints is None else set(endpoints) | set(self._initial_scripts)
        )
        self._default = default or Script()
        self._lock = threading.Lock()
        self.recorder = Recorder()
        self.requests: list[dict[str, Any]] = []  # every payload received, for tests to inspect
        self.reset()

    # -- configuration (tests, or PUT /_local/scripts) --

    def set_script(self, endpoint_name: str, script: Script) -> None:
        """Answer `endpoint_name` with `script` from now on (the endpoint now exists)."""
        with self._lock:
            self._scripts[endpoint_name] = script
            if self._endpoints is not None:
                self._endpoints.add(endpoint_name)
            self._pending_errors[endpoint_name] = (
                script.invoke_error.count if script.invoke_error else 0
            )
            self._gates[endpoint_name] = threading.Event()

    def script_for(self, endpoint_name: str) -> Script:
        with self._lock:
            return self._scripts.get(endpoint_name, self._default)

    def release(self, endpoint_name: str | None = None) -> None:
        """Open the gate of one endpoint, or of all; streams waiting there go on."""
        with self._lock:
            if endpoint_name is None:
                gates = [*self._gates.values(), self._default_gate]
            else:
                gates = [self._gates.get(endpoint_name, self._default_gate)]
        for gate in gates:
            gate.set()

    def reset(self) -> None:
        with self._lock:
            # Streams still held at an old gate must not hang forever.
            for gate in getattr(self, "_gates", {}).values():
                gate.set()
            if hasattr(self, "_default_gate"):
                self._default_gate.set()
            self._scripts = dict(self._initial_scripts)
            self._endpoints = (
                None if self._initial_endpoints is None else set(self._initial_endpoints)
            )
            self._pending_errors = {
                name: s.invoke_error.count if s.invoke_error else 0
                for name, s in self._scripts.items()
            }
            self._gates = {name: threading.Event() for name in self._scripts}
            self._default_gate = threading.Event()
            self._default_errors = (
                self._default.invoke_error.count if self._default.invoke_error else 0
            )
            self.requests = []
        self.recorder.reset()

    # -- observation --

    @property
    def invocations(self) -> dict[str, int]:
        return dict(self.recorder.invocations)

    @property
    def streams(self) -> list[StreamRecord]:
        return list(self.recorder.streams)

    def wait_for_stream(self, index: int = 0, timeout: float = 10.0) -> StreamRecord:
        """The `index`-th stream (0: the first), waiting until it has started."""
        return self.recorder.wait_for_streams(index + 1, timeout)[index]

    def stats(self) -> dict[str, Any]:
        return self.recorder.snapshot()

    # -- the ModelBackend port --

    def knows(self, endpoint_name: str) -> bool:
        with self._lock:
            return self._endpoints is None or endpoint_name in self._endpoints

    def style_for(self, endpoint_name: str) -> Style:
        return self.script_for(endpoint_name).style

    def complete(self, endpoint_name: str, request: dict[str, Any]) -> dict[str, Any]:
        script, gate = self._begin(endpoint_name, request)
        if script.gate_after is not None:
            gate.wait()
        if script.delay_seconds:
            # A buffered answer takes as long as generating every chunk would.
            time.sleep(script.delay_seconds * len(script.chunks))
        prompt, completion = script.usage()
        return containers.completion(
            endpoint_name,
            script.text if not script.tool_calls else script.text or None,
            finish_reason=script.finish,
            prompt_tokens=prompt,
            completion_tokens=completion,
            tool_calls=script.message_tool_calls(),
        )

    def stream(
        self, endpoint_name: str, request: dict[str, Any], disconnected: threading.Event
    ) -> Iterator[dict[str, Any] | bytes]:
        script, gate = self._begin(endpoint_name, request)
        return self._run(endpoint_name, script, request, gate, disconnected)

    def _begin(self, endpoint_name: str, request: dict[str, Any]) -> tuple[Script, threading.Event]:
        """Count the invocation, and fail it if the script says so (before any answer)."""
        self.recorder.invoked(endpoint_name)
        with self._lock:
            self.requests.append(request)
            if endpoint_name in self._scripts:
                script, gate = self._scripts[endpoint_name], self._gates[endpoint_name]
                pending = self._pending_errors.get(endpoint_name, 0)
                if pending:
                    self._pending_errors[endpoint_name] = pending - 1
            else:
                script, gate = self._default, self._default_gate
                pending = self._default_errors
                if pending:
                    self._default_errors -= 1
        if pending and script.invoke_error is not None:
            raise script.invoke_error.to_exception()
        return script, gate

    def _items(
        self, endpoint_name: str, script: Script, request: dict[str, Any]
    ) -> list[tuple[bool, dict[str, Any] | bytes]]:
        """Everything the stream will send, each flagged True when it counts as a chunk."""
        if script.raw_parts is not None:
            return [(True, part) for part in script.raw_parts]
        chunk_id = containers.completion_id()
        include_usage = (
            containers.wants_usage(request)
            if script.include_usage is None
            else script.include_usage
        )
        running = include_usage and containers.wants_running_usage(request)
        generated = 0

        def so_far(tokens: int) -> tuple[int, int] | None:
            """The running usage after `tokens` more (vLLM's continuous_usage_stats), if asked."""
            nonlocal generated
            generated += tokens
            return (script.prompt_tokens, generated) if running else None

        items: list[tuple[bool, dict[str, Any] | bytes]] = [
            (
                True,
                containers.chunk(
                    chunk_id,
                    endpoint_name,
                    content=piece,
                    role="assistant" if i == 0 else None,
                    running_usage=so_far(tokens),
                ),
            )
            for i, (piece, tokens) in enumerate(
                zip(script.chunks, script.token_counts(), strict=True)
            )
        ]
        for index, call in enumerate(script.message_tool_calls() or ()):
            function = call["function"]
            header = {"index": index, "id": call["id"], "type": "function"}
            head = {**header, "function": {"name": function["name"], "arguments": ""}}
            items.append(
                (
                    True,
                    containers.chunk(
                        chunk_id, endpoint_name, tool_calls=[head], running_usage=so_far(0)
                    ),
                )
            )
            items.extend(
                (
                    True,
                    containers.chunk(
                        chunk_id,
                        endpoint_name,
                        tool_calls=[{"index": index, "function": {"arguments": piece}}],
                        running_usage=so_far(1),
                    ),
                )
                for piece in _pieces(function["arguments"])
            )
        items.append(
            (
                False,
                containers.chunk(
                    chunk_id,
                    endpoint_name,
                    finish_reason=script.finish,
                    running_usage=script.usage() if running else None,
                ),
            )
        )
        if include_usage:
            items.append((False, containers.usage_chunk(chunk_id, endpoint_name, *script.usage())))
        return items

    def _run(
        self,
        endpoint_name: str,
        script: Script,
        request: dict[str, Any],
        gate: threading.Event,
        disconnected: threading.Event,
    ) -> Iterator[dict[str, Any] | bytes]:
        # Recorded from the first step on: a generator closed before it started runs no finally.
        record = self.recorder.stream_started(endpoint_name)
        gated = False
        try:
            for counts, item in self._items(endpoint_name, script, request):
                emitted = record.chunks_emitted
                if not gated and script.gate_after is not None and emitted >= script.gate_after:
                    gated = True
                    if not self._wait_at_gate(record, gate, disconnected):
                        return
                if script.fail_after is not None and emitted >= script.fail_after:
                    record.failed = script.fail_with
                    raise StreamFailure(script.fail_with, script.fail_message)
                if (
                    counts
                    and emitted
                    and script.delay_seconds
                    and disconnected.wait(script.delay_seconds)
                ):
                    return
                if disconnected.is_set():
                    return
                if counts:
                    # Counted when handed over: the server may close us at this very yield.
                    record.chunks_emitted += 1
                yield item
            record.completed = True
        finally:
            self.recorder.stream_ended(record)

    @staticmethod
    def _wait_at_gate(
        record: StreamRecord, gate: threading.Event, disconnected: threading.Event
    ) -> bool:
        """Block until the gate opens (True) or the client goes away (False)."""
        record.waiting_at_gate = True
        record.at_gate.set()
        # Two events cannot be waited on together; a short poll keeps a disconnect noticed promptly.
        while not gate.wait(_GATE_POLL_SECONDS):
            if disconnected.is_set():
                return False
        record.waiting_at_gate = False
        return not disconnected.is_set()
