"""Any text the model writes reaches every client intact (issue 25 §1).

The server's own encoder (the chat route's `sse_data` and the idempotency replay, both through
`EventSourceResponse`) writes the stream; the bytes are cut into network reads anywhere (inside a
multi-byte character, between CR and LF, inside `data:`); every client we ship or support decodes
them: the Python SDK in-process, the JavaScript SDK's build in one Node process, the PHP SDK in one
php-cli process (each serves every Hypothesis example of the run, one JSON line per example), and
the official `openai` client. Each must give back exactly the text pieces the model wrote, and
the tool-call arguments it wrote, assembled from their streamed pieces (issue 26).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import openai
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState

import sparkaistream
from sparkai.api.app import create_app
from sparkai.api.idempotency import Once, replay_response
from sparkai.api.sse import EventSourceResponse
from sparkai.api.streaming import sse_data
from sparkai.chat.schemas import ChatCompletion, Usage, chunk, parse_chat_request
from sparkai.endpoints.port import TokenUsage
from sparkai.idempotency.port import Claim
from sparkai_local.sagemaker import Script
from tests.conftest import KeyFactory
from tests.support.fixtures_servers import SageMakerServer
from tests.support.servers import serve

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "support" / "sse_decoders"
JS_BUILD = ROOT / "sdk" / "js" / "dist" / "esm" / "index.js"
PHP_AUTOLOAD = ROOT / "sdk" / "php" / "autoload.php"

# Every character some line-splitting API treats as a line end (str.splitlines: \v \f \x1c-\x1e
# \x85 U+2028 U+2029; SSE: CR, LF, CRLF), NUL, a BOM, astral-plane and multi-byte characters,
# and text that looks like the wire format itself.
AWKWARD = [
    "\n", "\r", "\r\n", "\n\n", "\r\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
    "\u2028", "\u2029", "\x00", "\ufeff", "é", "日本", "👋", "\U0001f9d1\u200d\U0001f4bb",
    "𝄞", "\U0010ffff", "data: ", "data: [DONE]\n\n", ": ping\n\n", "[DONE]", '"}', "\\",
    "\\u2028", "event: error\n",
]  # fmt: skip
TEXT = st.lists(st.one_of(st.characters(codec="utf-8"), st.sampled_from(AWKWARD)), max_size=24).map(
    "".join
)
PIECES = st.lists(TEXT, min_size=1, max_size=6)


# -- the server's encoder ------------------------------------------------------------------------


class _ScriptedStream:
    """What sse_data (and the idempotency recording) read from a ChatStream: the chunks the
    service builds, in its order."""

    completion_id = "chat-anytext"
    created = 1795680000
    model = SimpleNamespace(id="spark-1")

    def usage(self) -> TokenUsage:
        return TokenUsage(9, 1)

    def __init__(self, pieces: list[str]) -> None:
        self._pieces = pieces

    def events(self) -> Iterator[dict[str, Any]]:
        ident = (self.completion_id, 1795680000, "spark-1")
        yield chunk(*ident, delta={"role": "assistant", "content": ""})
        for piece in self._pieces:
            yield chunk(*ident, delta={"content": piece})
        yield chunk(*ident, finish_reason="stop")
        yield chunk(*ident, usage=Usage.of(9, len(self._pieces)))

    def close(self) -> None:
        pass


async def _body(response: Any) -> bytes:
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    scope = {"type": "http", "method": "POST", "path": "/v1/chat", "headers": []}
    await response(scope, receive, send)
    return b"".join(sent)


def streamed_body(pieces: list[str]) -> bytes:
    """The bytes the chat route sends for an answer made of `pieces`."""
    response = EventSourceResponse(sse_data(_ScriptedStream(pieces)))  # type: ignore[arg-type]
    return anyio.run(_body, response)


class _ScriptedToolCalls(_ScriptedStream):
    """Tool calls as OpenAI streams them: per call its id and name, then argument pieces."""

    def __init__(self, calls: list[list[str]]) -> None:
        super().__init__([])
        self._calls = calls

    def events(self) -> Iterator[dict[str, Any]]:
        ident = (self.completion_id, 1795680000, "spark-1")
        yield chunk(*ident, delta={"role": "assistant", "content": ""})
        for index, arguments in enumerate(self._calls):
            first = {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": f"f{index}", "arguments": ""},
            }
            yield chunk(*ident, delta={"tool_calls": [{"index": index, **first}]})
            for piece in arguments:
                yield chunk(
                    *ident,
                    delta={"tool_calls": [{"index": index, "function": {"arguments": piece}}]},
                )
        yield chunk(*ident, finish_reason="tool_calls")
        yield chunk(*ident, usage=Usage.of(9, 1))


class _Store:
    """The idempotency store's side of one claim: the answer it was asked to keep."""

    answer: dict[str, Any] | None = None

    def complete(self, claim: Claim, answer: dict[str, Any]) -> None:
        self.answer = answer

    def abandon(self, claim: Claim) -> None:
        raise AssertionError("a complete stream is stored, not abandoned")


def recorded_answer(stream: _ScriptedStream) -> dict[str, Any]:
    """What the idempotency layer stores for a streamed answer, read to its end as the chat
    route reads it."""
    store = _Store()
    recording = Once(store, Claim("acct", "key", "fp", "owner")).recording(stream)  # type: ignore[arg-type]
    list(recording.events())
    recording.close()
    assert store.answer is not None
    return store.answer


def _stream_request() -> Any:
    return parse_chat_request(
        json.dumps(
            {"model": "spark-1", "messages": [{"role": "user", "content": "x"}], "stream": True}
        ).encode()
    )


def replayed_body(text: str) -> bytes:
    """The bytes an idempotent retry of that (stored, streamed) answer gets."""
    answer = ChatCompletion.model_validate(
        {
            "id": "chat-anytext",
            "created": 1795680000,
            "model": "spark-1",
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": Usage.of(9, 3).model_dump(),
        }
    ).model_dump()
    return anyio.run(_body, replay_response(answer, _stream_request(), openai=False))


# -- the clients ---------------------------------------------------------------------------------


class _Pieces(httpx.SyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


def _http(pieces: list[bytes]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_Pieces(pieces)
        )

    return httpx.Client(transport=httpx.MockTransport(answer))


def decoded(
    deltas: list[str | None],
    finish: str | None,
    error: str | None,
    tool_calls: list[list[str]] | None = None,
) -> dict[str, Any]:
    """What a client read: each choice's delta.content, the last finish_reason, the error it
    raised, and the tool calls its final completion assembled ([id, name, arguments])."""
    return {
        "deltas": deltas,
        "finish_reason": finish,
        "error": error,
        "tool_calls": tool_calls or [],
    }


def python_sdk(pieces: list[bytes]) -> dict[str, Any]:
    client = sparkaistream.SparkAI(
        api_key="sk-spark-x", base_url="http://sdk.test", max_retries=0, http_client=_http(pieces)
    )
    deltas: list[str | None] = []
    finish = None
    try:
        stream = client.chat.create(
            model="spark-1", messages=[{"role": "user", "content": "x"}], stream=True
        )
        for item in stream:
            for choice in item.choices:
                deltas.append(choice.delta.content)
                finish = choice.finish_reason or finish
        message = stream.get_final_completion().choices[0].message
    except sparkaistream.SparkAIError as exc:
        return decoded(deltas, finish, f"{type(exc).__name__}: {exc}")
    calls = [[c.id, c.function.name, c.function.arguments] for c in message.tool_calls or []]
    return decoded(deltas, finish, None, calls)


def openai_client(pieces: list[bytes]) -> dict[str, Any]:
    """The official client, and its own assembly of streamed tool calls (the state behind its
    chat.completions.stream() helper)."""
    client = openai.OpenAI(
        api_key="sk-x", base_url="http://sdk.test/v1", max_retries=0, http_client=_http(pieces)
    )
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    deltas: list[str | None] = []
    finish = None
    try:
        for item in client.chat.completions.create(
            model="spark-1", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            state.handle_chunk(item)
            for choice in item.choices:
                deltas.append(choice.delta.content)
                finish = choice.finish_reason or finish
        message = state.get_final_completion().choices[0].message
    except (openai.OpenAIError, ValueError) as exc:
        return decoded(deltas, finish, f"{type(exc).__name__}: {exc}")
    calls = [[c.id, c.function.name, c.function.arguments] for c in message.tool_calls or []]
    return decoded(deltas, finish, None, calls)


class LineProcess:
    """A decoder in another runtime: one JSON request line in, one JSON answer line out."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )

    def __call__(self, pieces: list[bytes]) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        request = {"pieces": [base64.b64encode(p).decode() for p in pieces]}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"{self.process.args[0]} exited with {self.process.poll()}"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def decoders() -> Iterator[dict[str, Any]]:
    missing = [tool for tool in ("node", "php") if shutil.which(tool) is None]
    if missing or not JS_BUILD.is_file():
        pytest.fail(
            f"needs {', '.join(missing) or 'the JS SDK build'}: run scripts/ensure-js.sh and "
            "scripts/ensure-php.sh (make test runs both first)"
        )
    node = LineProcess(["node", str(HARNESS / "decode.mjs"), str(JS_BUILD)])
    php = LineProcess(["php", str(HARNESS / "decode.php"), str(PHP_AUTOLOAD)])
    try:
        yield {"python SDK": python_sdk, "openai": openai_client, "JS SDK": node, "PHP SDK": php}
    finally:
        node.close()
        php.close()


def reads(body: bytes, cuts: set[int]) -> list[bytes]:
    edges = [0, *sorted({c % (len(body) + 1) for c in cuts}), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


def inside_every_character(body: bytes) -> set[int]:
    """A cut after the first byte of every multi-byte UTF-8 character (its lead byte >= 0xC0)."""
    return {i + 1 for i, byte in enumerate(body) if byte >= 0xC0}


def assert_every_client_reads(
    body: bytes, cuts: set[int], expected: dict[str, Any], decoders: dict[str, Any]
) -> None:
    """Each client, on the body cut where Hypothesis chose and inside every multi-byte
    character, reads `expected`."""
    for where in (cuts, inside_every_character(body)):
        pieces = reads(body, where)
        for name, decode in decoders.items():
            assert decode(pieces) == expected, f"{name} decoded {body!r} cut at {sorted(where)}"


FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Where the network cuts the body: offsets taken modulo its length, so they shrink with it.
CUTS = st.sets(st.integers(0, 1 << 20), max_size=12)


# -- the properties ------------------------------------------------------------------------------


@FAST
@given(pieces=PIECES, cuts=CUTS)
@example(pieces=["a\u2028b", "\u2029", "c\x85d\x0be\x0cf\x1cg\x1dh\x1ei"], cuts=set())
def test_streamed_text_reaches_every_client_intact(
    pieces: list[str], cuts: set[int], decoders: dict[str, Any]
) -> None:
    pieces = [piece for piece in pieces if piece]  # the service relays non-empty pieces only
    body = streamed_body(pieces)
    # The role chunk's "", each piece as written, the finish chunk (no content), then [DONE].
    expected = decoded(["", *pieces, None], "stop", None)
    assert_every_client_reads(body, cuts, expected, decoders)


@FAST
@given(pieces=PIECES, cuts=CUTS)
@example(pieces=["a\u2028b\u2029c\x85"], cuts=set())
def test_a_replayed_stream_reaches_every_client_intact(
    pieces: list[str], cuts: set[int], decoders: dict[str, Any]
) -> None:
    text = "".join(pieces)
    body = replayed_body(text)
    expected = decoded(["", *([text] if text else []), None], "stop", None)
    assert_every_client_reads(body, cuts, expected, decoders)


# -- end to end ----------------------------------------------------------------------------------

AWKWARD_ANSWER = [
    "Line\u2028separator",
    " para\u2029graph",
    " next\x85line",
    " \x0b\x0c\x1c 👋 \x00",
]


def test_a_streamed_answer_and_its_replay_reach_every_client_intact(
    moto: None,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
    make_key: KeyFactory,
    decoders: dict[str, Any],
) -> None:
    # Given a model whose answer holds every non-SSE line break, and the real app in front of it
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    sagemaker_server.backend.set_script("spark-1", Script(chunks=AWKWARD_ANSWER))
    key = make_key().secret
    body = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "any-text-1"}
    with serve(create_app()) as url:
        # When it streams the answer, and a retry with the same key gets the stored one again
        first = httpx.post(f"{url}/v1/chat", json=body, headers=headers, timeout=30)
        replay = httpx.post(f"{url}/v1/chat", json=body, headers=headers, timeout=30)
    assert first.status_code == replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    # Then every client reads exactly the text the model wrote, both times
    streamed = decoded(["", *AWKWARD_ANSWER, None], "stop", None)
    assert_every_client_reads(first.content, set(), streamed, decoders)
    replayed = decoded(["", "".join(AWKWARD_ANSWER), None], "stop", None)
    assert_every_client_reads(replay.content, set(), replayed, decoders)


@FAST
@given(calls=st.lists(PIECES, min_size=1, max_size=3), cuts=CUTS)
@example(calls=[['{"q":"a\u2028b', '\u2029\x85"}'], ["{}"]], cuts=set())
def test_streamed_tool_call_arguments_reach_every_client_intact(
    calls: list[list[str]], cuts: set[int], decoders: dict[str, Any]
) -> None:
    body = anyio.run(_body, EventSourceResponse(sse_data(_ScriptedToolCalls(calls))))  # type: ignore[arg-type]
    chunks = sum(1 + len(arguments) for arguments in calls)
    assembled = [[f"call_{i}", f"f{i}", "".join(arguments)] for i, arguments in enumerate(calls)]
    expected = decoded(["", *[None] * chunks, None], "tool_calls", None, assembled)
    assert_every_client_reads(body, cuts, expected, decoders)


@FAST
@given(calls=st.lists(PIECES, min_size=1, max_size=3), cuts=CUTS)
def test_replayed_tool_calls_reach_every_client_intact(
    calls: list[list[str]], cuts: set[int], decoders: dict[str, Any]
) -> None:
    # Given a streamed tool-call answer, recorded for replay as the chat route records it
    answer = recorded_answer(_ScriptedToolCalls(calls))
    # When a retry with the same Idempotency-Key gets it again as a stream
    body = anyio.run(_body, replay_response(answer, _stream_request(), openai=False))
    # Then every client assembles the same calls (each replayed whole, in one piece)
    assembled = [[f"call_{i}", f"f{i}", "".join(arguments)] for i, arguments in enumerate(calls)]
    expected = decoded(["", *[None] * len(calls), None], "tool_calls", None, assembled)
    assert_every_client_reads(body, cuts, expected, decoders)
    assert answer["choices"][0]["message"]["content"] is None  # as the buffered answer has it
