"""The `sparkai` command, over a mock transport."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import sparkaistream
from sparkaistream import SparkAI
from sparkaistream.cli import main

from _support import (
    REQUEST_ID,
    STREAM_URL,
    Script,
    chat_events,
    completion_json,
    error_json,
    error_response,
    json_response,
    make_client,
    sse,
    stream_response,
)


class Terminal:
    def __init__(self, stdin: str = "") -> None:
        self.stdin = io.StringIO(stdin)
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()

    def run(self, argv: list[str], client: SparkAI | None) -> int:
        return main(argv, client=client, stdin=self.stdin, stdout=self.stdout, stderr=self.stderr)


class FlushLog(io.StringIO):
    """Records what had been written at every flush: the answer must appear as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_chat_streams_the_answer_as_it_arrives() -> None:
    script = Script(stream_response(sse(*chat_events("Hello", "!", " How can I help?"))))
    client, _ = make_client(script)
    out = FlushLog()
    code = main(["chat", "Hello!"], client=client, stdout=out, stderr=io.StringIO())
    assert code == 0
    assert out.getvalue() == "Hello! How can I help?\n"
    assert out.flushed[:3] == ["Hello", "Hello!", "Hello! How can I help?"]
    assert str(script.requests[0].url) == STREAM_URL + "/v1/chat"
    assert script.body() == {
        "model": "spark-1",
        "messages": [{"role": "user", "content": "Hello!"}],
        "stream": True,
    }


def test_chat_options_system_stdin_and_usage() -> None:
    script = Script(stream_response(sse(*chat_events("ok"))))
    client, _ = make_client(script)
    term = Terminal(stdin="from stdin")
    argv = ["chat", "-", "--model", "spark-pro", "--max-tokens", "50", "--temperature", "0.2"]
    code = term.run([*argv, "--system", "Be brief.", "--usage"], client)
    assert code == 0
    assert script.body() == {
        "model": "spark-pro",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "from stdin"},
        ],
        "max_tokens": 50,
        "temperature": 0.2,
        "stream": True,
    }
    assert term.stdout.getvalue() == "ok\n"
    assert term.stderr.getvalue() == "usage: prompt 9, completion 1, total 10 tokens\n"


def test_no_stream_uses_the_buffered_api() -> None:
    script = Script(json_response(completion_json("All at once.")))
    client, _ = make_client(script)
    term = Terminal()
    assert term.run(["chat", "Hi", "--no-stream"], client) == 0
    assert term.stdout.getvalue() == "All at once.\n"
    assert "stream" not in script.body()
    assert script.requests[0].url.host == "abc.execute-api.us-east-1.amazonaws.com"


def test_api_error_exits_1_with_the_message() -> None:
    script = Script(error_response(401, "invalid_api_key", message="Invalid API key provided."))
    client, _ = make_client(script)
    term = Terminal()
    assert term.run(["chat", "Hi"], client) == 1
    assert term.stdout.getvalue() == ""
    error = term.stderr.getvalue()
    assert error.startswith("sparkai: error: Invalid API key provided.")
    assert "status 401" in error
    assert REQUEST_ID in error


def test_mid_stream_error_keeps_the_partial_answer_and_exits_1() -> None:
    error = error_json("The model failed.", "server_error", "model_error")
    script = Script(stream_response(sse(*chat_events("Half an")[:2], error, done=False)))
    client, _ = make_client(script)
    term = Terminal()
    assert term.run(["chat", "Hi"], client) == 1
    assert term.stdout.getvalue() == "Half an\n"
    assert "The model failed." in term.stderr.getvalue()
    assert "model_error" in term.stderr.getvalue()


def test_missing_api_key_exits_1() -> None:
    term = Terminal()
    assert term.run(["chat", "Hi"], None) == 1
    assert "SPARKAI_API_KEY" in term.stderr.getvalue()


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKAI_API_KEY", "sk-spark-env")
    monkeypatch.setenv("SPARKAI_BASE_URL", "http://127.0.0.1:3000")
    script = Script(stream_response(sse(*chat_events("local"))))
    real_client = httpx.Client

    def mock_client(**kwargs: object) -> httpx.Client:
        return real_client(transport=httpx.MockTransport(script))

    monkeypatch.setattr(httpx, "Client", mock_client)
    term = Terminal()
    assert term.run(["chat", "Hi"], None) == 0
    assert term.stdout.getvalue() == "local\n"
    assert str(script.requests[0].url) == "http://127.0.0.1:3000/v1/chat"
    assert script.requests[0].headers["authorization"] == "Bearer sk-spark-env"


def test_models_command() -> None:
    card = {
        "id": "spark-1",
        "object": "model",
        "created": 1,
        "owned_by": "sparkai",
        "description": "Balanced model for most tasks",
        "max_tokens": 4096,
        "pricing": {"per_1k_tokens_usd": "0.0003"},
    }
    client, _ = make_client(Script(json_response({"object": "list", "data": [card]})))
    term = Terminal()
    assert term.run(["models"], client) == 0
    assert term.stdout.getvalue() == (
        "spark-1       max_tokens 4096  $0.0003/1K tokens  Balanced model for most tasks\n"
    )


def test_python_dash_m_entry_point() -> None:
    src = str(Path(sparkaistream.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-m", "sparkaistream", "--version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"sparkai {sparkaistream.__version__}"
