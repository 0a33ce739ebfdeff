"""ChatService: validate the budget, reserve it, ask the model, settle what was really used."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from sparkai.catalog import MODELS, SparkModel
from sparkai.chat.conversation import (
    assistant_message,
    choice_mode,
    model_conversation,
    new_tool_call_id,
    prompt_texts,
)
from sparkai.chat.deadlines import DEADLINES
from sparkai.chat.schemas import ChatCompletion, ChatRequest, Choice, Usage, chunk
from sparkai.chat.structured import function_tools, response_format
from sparkai.chat.tokens import TokenCounter
from sparkai.chat.usage import UsageRecord, UsageRecorder
from sparkai.endpoints.port import (
    FunctionTool,
    GenerationRequest,
    Message,
    ModelDelta,
    ModelEndpoint,
    ModelStream,
    ResponseFormat,
    TokenUsage,
)
from sparkai.errors import (
    InvalidRequestError,
    ModelEndpointError,
    ModelTimeoutError,
    StreamDeadlineExceededError,
)
from sparkai.keys.records import Principal
from sparkai.limits import (
    LimitsChanged,
    RateLimiter,
    RateLimitStatus,
    Reservation,
    StaleKeyGuess,
)
from sparkai.plans import plan_name
from sparkai.usage.ledger import Charge
from sparkai.usage.pricing import cost_usd

# Failures after the model call started: the endpoint worked (and may still be generating), so the
# request and its prompt are charged and only the unused completion budget is returned.
CHARGED_FAILURES = (ModelTimeoutError, ModelEndpointError)

Schedule = Callable[[float, Callable[[], None]], Callable[[], None]]
# A limits change corrects a principal once; more only if changes land while it retries.
_LIMITS_ATTEMPTS = 3


def new_completion_id() -> str:
    return "chat-" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class Completed:
    completion: ChatCompletion
    rate: RateLimitStatus


@dataclass(frozen=True)
class _Prepared:
    model: SparkModel
    messages: list[dict[str, str]]  # every text the model reads, tools and schema included
    prompt_estimate: int
    max_tokens: int
    conversation: tuple[Message, ...]  # what the model is sent, with any schema instruction
    prompt_bound: int  # the most the prompt can be billed (its upper bound, within the window)
    tools: tuple[FunctionTool, ...]  # converted once: counted in the prompt and sent to the model
    response_format: ResponseFormat | None


@dataclass(frozen=True)
class Ticket:
    """A request whose budget is reserved: everything the model call and the settlement need."""

    principal: Principal
    request: ChatRequest
    prepared: _Prepared
    reservation: Reservation


class ChatService:
    def __init__(
        self,
        endpoint_for: Callable[[str], ModelEndpoint],
        limiter: RateLimiter,
        tokens: TokenCounter,
        usage: UsageRecorder,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_completion_id,
        schedule: Schedule = DEADLINES.schedule,
    ) -> None:
        self._endpoint_for = endpoint_for
        self._limiter = limiter
        self._tokens = tokens
        self._usage = usage
        self._clock = clock
        self._new_id = new_id
        self._schedule = schedule

    # -- reserving ---------------------------------------------------------------------------------

    def reserve(
        self, principal: Principal, request: ChatRequest, *, key_epoch: int | None = None
    ) -> Ticket:
        """Check the request fits the plan and reserve its requests and tokens (429 if not).
        With `key_epoch` (a remembered key) only while the account's keys are unchanged since;
        StaleKeyGuess if they changed, or if the remembered plan refuses the request (the key's
        own check then decides). A principal whose copy of the account's limits is behind is
        checked and reserved again with the current ones (sparkai.limits.published)."""
        for _ in range(_LIMITS_ATTEMPTS):
            try:
                return self._reserve(principal, request, key_epoch)
            except LimitsChanged as changed:
                principal = changed.principal
        return self._reserve(principal, request, key_epoch)

    def _reserve(self, principal: Principal, request: ChatRequest, key_epoch: int | None) -> Ticket:
        try:
            prepared = self._prepare(principal, request)
        except InvalidRequestError:
            if key_epoch is not None:
                raise StaleKeyGuess(principal.account_id) from None
            raise
        # Rate budgets reserve the estimate (an overage is charged at settle and only slows the
        # next minute); the spend limit is a hard cap, so it reserves the prompt's upper bound.
        reservation = self._limiter.reserve(
            principal,
            prepared.prompt_estimate + prepared.max_tokens,
            spend_usd=cost_usd(
                prepared.model.price_per_1k_tokens, prepared.prompt_bound + prepared.max_tokens
            ),
            key_epoch=key_epoch,
        )
        return Ticket(principal, request, prepared, reservation)

    def release(self, ticket: Ticket) -> None:
        """Give a reservation back unused (the request will not run)."""
        self._limiter.settle(ticket.reservation, 0, served=False)

    # -- buffered -----------------------------------------------------------------------------------

    def complete(self, principal: Principal, request: ChatRequest) -> Completed:
        return self.complete_reserved(self.reserve(principal, request))

    def complete_reserved(self, ticket: Ticket) -> Completed:
        """The model's answer, settled."""
        completed, settle = self.answer_reserved(ticket)
        settle()
        return completed

    def answer_reserved(self, ticket: Ticket) -> tuple[Completed, Callable[[], None]]:
        """The model's answer and its settlement, not yet run: the caller runs it exactly once,
        before the answer leaves or (where the process outlives the response) after it."""
        prepared = ticket.prepared
        try:
            reply = self._endpoint_for(prepared.model.id).invoke(
                self._generation(ticket.request, prepared, stream=False)
            )
        except CHARGED_FAILURES:
            self._charge_prompt(ticket)
            raise
        except BaseException:
            self.release(ticket)
            raise
        used = _with_prompt(reply.usage, prepared.prompt_estimate) or TokenUsage(
            prepared.prompt_estimate,
            self._tokens.count_text(
                reply.content + "".join(c.name + c.arguments for c in reply.tool_calls)
            ),
        )
        completion_id = self._new_id()
        completion = ChatCompletion(
            id=completion_id,
            created=int(self._clock()),
            model=prepared.model.id,  # the spark name, never the underlying model's
            choices=[
                Choice(
                    message=assistant_message(reply.content, reply.tool_calls),
                    finish_reason=reply.finish_reason,
                )
            ],
            usage=Usage.of(used.prompt_tokens, used.completion_tokens),
        )
        settle = partial(self._settle, ticket, completion_id, used, streamed=False, complete=True)
        return Completed(completion, ticket.reservation.status), settle

    # -- streamed -----------------------------------------------------------------------------------

    def open_stream(
        self, principal: Principal, request: ChatRequest, *, include_usage: bool = True
    ) -> ChatStream:
        return self.open_stream_reserved(
            self.reserve(principal, request), include_usage=include_usage
        )

    def open_stream_reserved(
        self, ticket: Ticket, *, include_usage: bool = True, deadline: float | None = None
    ) -> ChatStream:
        """Open the model stream and wait for its first piece, so that every failure up to here
        is still an ordinary HTTP error; later failures travel inside the stream.

        `deadline` (epoch seconds, this service's clock): the stream ends there with one
        StreamDeadlineExceededError event, settled and metered with what was sent, before the
        function that carries it is killed."""
        prepared = ticket.prepared
        model_stream: ModelStream | None = None
        try:
            model_stream = self._endpoint_for(prepared.model.id).stream(
                self._generation(ticket.request, prepared, stream=True)
            )
            deltas = iter(model_stream)
            first = next(deltas, None)
        except BaseException as exc:
            if model_stream is not None:
                model_stream.close()
            if isinstance(exc, CHARGED_FAILURES):
                self._charge_prompt(ticket)
            else:
                self.release(ticket)
            raise
        stream = ChatStream(
            completion_id=self._new_id(),
            created=int(self._clock()),
            model=prepared.model,
            deltas=itertools.chain([first] if first else [], deltas),
            model_stream=model_stream,
            prompt_estimate=prepared.prompt_estimate,
            max_tokens=prepared.max_tokens,
            count_sent=self._tokens.count_sent,
            include_usage=include_usage,
            rate=ticket.reservation.status,
            on_close=lambda used, complete, cid: self._settle(
                ticket, cid, used, streamed=True, complete=complete
            ),
            clock=self._clock,
            deadline=deadline,
        )
        if deadline is not None:  # a stalled model cannot hold the stream past the deadline
            stream.watch(self._schedule(deadline - self._clock(), stream.cut))
        return stream

    def _charge_prompt(self, ticket: Ticket) -> None:
        """Settle a call that failed after it started: the request and the prompt, no completion."""
        used = TokenUsage(ticket.prepared.prompt_estimate, 0)
        self._settle(ticket, self._new_id(), used, streamed=False, complete=False)

    # -- shared -------------------------------------------------------------------------------------

    def _prepare(self, principal: Principal, request: ChatRequest) -> _Prepared:
        model = MODELS[request.model]
        tools = function_tools(request.tools)
        format_ = response_format(request.response_format)
        conversation = model_conversation(request, format_)
        messages, bound = prompt_texts(conversation, tools)
        prompt = self._tokens.count_messages(messages)
        budget = principal.limits.tokens_per_minute
        plan = plan_name(principal.plan)
        if request.token_limit is not None:
            max_tokens = request.token_limit
        else:  # the default shrinks to what the plan can ever allow, rather than failing
            max_tokens = min(model.default_max_tokens(), budget - prompt)
        if max_tokens < 1 or prompt + max_tokens > budget:
            raise InvalidRequestError(
                f"This request could use {prompt + max(max_tokens, 0):,} tokens (about {prompt:,} in "
                f"the prompt plus max_tokens {max(max_tokens, 0):,}), more than the {plan} plan's "
                f"{budget:,} tokens per minute, so it can never run. Lower max_tokens or shorten the prompt.",
                param=request.token_limit_param if request.token_limit is not None else "messages",
                code="tokens_exceed_rate_limit",
            )
        # The model takes at most its context window, prompt and completion together, and refuses
        # a longer prompt (released, not charged): no answer is billed, nor reserved against the
        # spend limit, for more. A 1 MiB body of one-byte messages bounds at ~400,000 tokens.
        window = model.context_length - max_tokens
        return _Prepared(
            model,
            messages,
            min(prompt, window),
            max_tokens,
            conversation,
            min(bound, window),
            tools,
            format_,
        )

    @staticmethod
    def _generation(
        request: ChatRequest, prepared: _Prepared, *, stream: bool
    ) -> GenerationRequest:
        choice = request.tool_choice
        return GenerationRequest(
            messages=prepared.conversation,
            max_tokens=prepared.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=tuple(request.stop_sequences),
            stream=stream,
            tools=prepared.tools,
            tool_choice=choice_mode(choice),
            tool_choice_function=None if isinstance(choice, str | None) else choice.function.name,
            parallel_tool_calls=request.parallel_tool_calls,
            response_format=prepared.response_format,
            seed=request.seed,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
        )

    def _settle(
        self,
        ticket: Ticket,
        completion_id: str,
        used: TokenUsage,
        *,
        streamed: bool,
        complete: bool,
    ) -> None:
        principal = ticket.principal
        model = ticket.prepared.model
        self._limiter.settle(
            ticket.reservation,
            used.prompt_tokens + used.completion_tokens,
            served=True,
            charge=Charge(
                completion_id=completion_id,
                account_id=principal.account_id,
                key_id=principal.key_id,
                model=model.id,
                day=ticket.reservation.day or time.strftime("%Y-%m-%d", time.gmtime(self._clock())),
                prompt_tokens=used.prompt_tokens,
                completion_tokens=used.completion_tokens,
                price_per_1k_usd=model.price_per_1k_tokens,
            ),
        )
        self._usage.record(
            principal,
            UsageRecord(
                account_id=principal.account_id,
                key_id=principal.key_id,
                model=ticket.prepared.model.id,
                completion_id=completion_id,
                prompt_tokens=used.prompt_tokens,
                completion_tokens=used.completion_tokens,
                streamed=streamed,
                complete=complete,
            ),
        )


def _with_prompt(usage: TokenUsage | None, prompt_estimate: int) -> TokenUsage | None:
    if usage is None:
        return None
    if usage.prompt_tokens <= 0:  # TGI token streams report only generated tokens
        return TokenUsage(prompt_estimate, usage.completion_tokens)
    return usage


class ChatStream:
    """The chunks of one streamed answer. `close()` may come from another thread at any time (the
    client went away); it stops the model stream and settles exactly once with what was produced."""

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: SparkModel,
        deltas: Iterator[ModelDelta],
        model_stream: ModelStream,
        prompt_estimate: int,
        include_usage: bool,
        rate: RateLimitStatus,
        max_tokens: int,
        count_sent: Callable[[str], int],
        on_close: Callable[[TokenUsage, bool, str], None],
        clock: Callable[[], float] = time.time,
        deadline: float | None = None,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.rate = rate
        self._deltas = deltas
        self._model_stream = model_stream
        self._prompt_estimate = prompt_estimate
        self._max_tokens = max_tokens
        self._count_sent = count_sent
        self._sent: list[str] = []
        self._include_usage = include_usage
        self._on_close = on_close
        self._lock = threading.Lock()
        self._closed = False
        self._pieces = 0
        self._model_usage: TokenUsage | None = None
        self._complete = False
        self._clock = clock
        self._deadline = deadline
        self._deadline_hit = False
        self._cancel_watchdog: Callable[[], None] | None = None
        self._tool_calls_seen: set[int] = set()

    def watch(self, cancel: Callable[[], None]) -> None:
        """Keep the watchdog's cancel, so closing the stream stops it."""
        self._cancel_watchdog = cancel

    def cut(self) -> None:
        """The deadline: stop the model, settle what was sent; events() ends with the error."""
        with self._lock:
            if self._closed:
                return
            self._deadline_hit = True
        self.close()

    def _deadline_error(self) -> StreamDeadlineExceededError:
        return StreamDeadlineExceededError(
            "The stream reached this function's time limit and was ended; the tokens sent so far "
            "are counted. Lower max_tokens, or continue the answer in a new request."
        )

    def _chunk(self, **fields: Any) -> dict[str, Any]:
        return chunk(self.completion_id, self.created, self.model.id, **fields)

    def events(self) -> Iterator[dict[str, Any]]:
        """chat.completion.chunk dicts: role, content..., finish_reason, usage. Raises SparkAIError
        if the model fails mid-stream (the caller turns it into an error event). The role chunk
        comes first and never waits on the model (sparkai.api.streaming relies on it)."""
        yield self._chunk(delta={"role": "assistant", "content": ""})
        finish_reason = "stop"
        try:
            for delta in self._deltas:
                if self._deadline is not None and self._clock() >= self._deadline:
                    self.cut()
                    break
                if delta.usage is not None:
                    self._model_usage = delta.usage
                if delta.content:
                    with self._lock:
                        if self._closed:
                            break
                        self._pieces += 1
                        self._sent.append(delta.content)
                    yield self._chunk(delta={"content": delta.content})
                if delta.tool_calls:
                    with self._lock:
                        if self._closed:
                            break
                        self._pieces += 1
                        # The model wrote the names and arguments: billed like text if uncounted.
                        self._sent.extend((c.name or "") + c.arguments for c in delta.tool_calls)
                    yield self._chunk(delta={"tool_calls": self._tool_call_pieces(delta)})
                if delta.finish_reason:
                    finish_reason = delta.finish_reason
        except Exception:
            # The watchdog closed the model stream under a blocked read: whatever that read raised
            # (urllib3's ProtocolError, a decoding error) is the deadline's doing, not a fault.
            if self._deadline_hit:
                raise self._deadline_error() from None
            raise
        if self._deadline_hit:
            raise self._deadline_error()
        if self._closed:  # closed from outside (client gone): nothing more to say
            return
        self._complete = True
        yield self._chunk(finish_reason=finish_reason)
        if self._include_usage:
            used = self.usage()
            yield self._chunk(usage=Usage.of(used.prompt_tokens, used.completion_tokens))
        self.close()

    def _tool_call_pieces(self, delta: ModelDelta) -> list[dict[str, Any]]:
        """OpenAI's delta.tool_calls: a call's first piece carries its id, type and name (an id
        is made up if the model sent none), later pieces only more of the arguments."""
        pieces: list[dict[str, Any]] = []
        for call in delta.tool_calls:
            piece: dict[str, Any] = {"index": call.index}
            function: dict[str, str] = {}
            if call.index not in self._tool_calls_seen:
                self._tool_calls_seen.add(call.index)
                piece["id"] = call.id or new_tool_call_id()
                piece["type"] = "function"
                function["name"] = call.name or ""
            function["arguments"] = call.arguments
            piece["function"] = function
            pieces.append(piece)
        return pieces

    def usage(self) -> TokenUsage:
        """What the stream is billed, complete or ended early (docs/api.md, "What a stream that
        ends early costs"): the model's own count, which vLLM under LMI puts on every chunk
        (continuous_usage_stats), as of the last chunk read; the prompt at the model's count when
        it sent one, else the estimate.

        Without a count from the model (or one behind the pieces relayed, so not running), the
        text sent counted by `count_sent` (the model's tokenizer where there is one, else one per
        UTF-8 byte, an upper bound), never fewer than the pieces and never more than max_tokens.
        Pieces alone are not tokens: a token that ends inside a multi-byte character sends an
        empty piece, and vLLM merges several tokens into one chunk under load."""
        with self._lock:
            model_usage = _with_prompt(self._model_usage, self._prompt_estimate)
            if self._complete and model_usage is not None:
                return model_usage
            prompt = model_usage.prompt_tokens if model_usage else self._prompt_estimate
            if model_usage is not None and model_usage.completion_tokens >= self._pieces:
                return TokenUsage(prompt, model_usage.completion_tokens)
            # The model stops at max_tokens, so the bill does too (the pieces are at most that).
            counted = min(self._count_sent("".join(self._sent)), self._max_tokens)
            return TokenUsage(prompt, max(self._pieces, counted))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._cancel_watchdog is not None:
            self._cancel_watchdog()
        self._model_stream.close()
        self._on_close(self.usage(), self._complete, self.completion_id)
