"""Admission: whether this request may run. Its budget is reserved and, with an Idempotency-Key,
the key is claimed in the same round trip of waiting; or a stored answer is replayed.

Reserving: behind API Gateway the principal comes free with the event, so it is one DynamoDB
call, the reservation. With bearer keys (Function URL) the key must be good on every request
(revocation is immediate). A key this process remembers is reserved for in one conditional write
that also requires the account's keys epoch to be the one it was remembered at, so that write
vouches that no key of the account changed since: still one call. If the epoch moved, or the
remembered terms refused the request before the store was asked, nothing was reserved and the key
is checked again. A key checked now is confirmed after its reservation and remembered for next
time (Authenticator.confirm).

Claiming (sparkai.api.idempotency): the claim is one conditional write too, so it runs at the same
time as the reservation and the wait before the model stays one round trip. A replay gives its
speculative reservation back, so it is never charged; it is served even when the account is out
of budget, because it costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sparkai.api.idempotency import NO_KEY, Once, idempotency_key, replay_response
from sparkai.api.identity import Caller, verified
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.schemas import ChatRequest
from sparkai.chat.service import ChatService, Ticket
from sparkai.config import get_chat_settings
from sparkai.errors import (
    AuthUnavailableError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidApiKeyError,
)
from sparkai.idempotency.port import IdempotencyStore, fingerprint
from sparkai.limits import StaleKeyGuess


@dataclass(frozen=True)
class Admitted:
    """Either a reserved ticket to run (with its Once), or a ready response (a replay)."""

    ticket: Ticket | None = None
    once: Once = NO_KEY
    replay: Response | None = None


async def admit(
    request: Request,
    caller: Caller,
    chat_request: ChatRequest,
    *,
    openai: bool,
    authenticator: Authenticator,
    service: ChatService,
    store_factory: Callable[[], IdempotencyStore],
) -> Admitted:
    """The request with its budget reserved (and its Idempotency-Key claimed), or a replay."""
    key = idempotency_key(request)

    async def reserving() -> Ticket:
        return await reserve(caller, chat_request, authenticator, service)

    if key is None:
        return Admitted(await reserving())
    account_id = caller.known.account_id
    store = store_factory()
    digest = fingerprint(request.url.path, chat_request.model_dump(mode="json"))

    outcomes: dict[str, tuple[Any, BaseException | None]] = {}

    async def attempt(name: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            outcomes[name] = (await call(), None)
        except Exception as exc:
            outcomes[name] = (None, exc)

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, "reserve", reserving)
        group.start_soon(
            attempt, "claim", lambda: to_thread.run_sync(store.claim, account_id, key, digest)
        )
    ticket, reserve_error = outcomes["reserve"]
    result, claim_error = outcomes["claim"]

    async def release() -> None:
        if ticket is not None:
            await run_in_threadpool(service.release, ticket)

    claimed = result is not None and result.status == "claimed"
    wrong_account = ticket is not None and ticket.principal.account_id != account_id
    if isinstance(reserve_error, InvalidApiKeyError | AuthUnavailableError) or wrong_account:
        # The caller is not who the claim assumed: nothing is replayed or kept for them.
        if claimed:
            await run_in_threadpool(store.abandon, result.claim)
        await release()
        if reserve_error is not None:
            raise reserve_error
        raise InvalidApiKeyError("This API key is no longer valid.")
    if claim_error is not None:
        await release()
        raise claim_error
    if not claimed:
        await release()
        if result.status == "replay":
            return Admitted(replay=replay_response(result.answer, chat_request, openai=openai))
        if result.status == "mismatch":
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used with a different request in the last "
                "24 hours. Use a new key for a new request."
            )
        raise IdempotencyKeyInUseError(
            "A request with this Idempotency-Key is still running. Retry after it has finished "
            "to get its answer."
        )
    if reserve_error is not None:  # refused (429, 503, 400): the key stays free for a retry
        await run_in_threadpool(store.abandon, result.claim)
        raise reserve_error
    return Admitted(ticket, Once(store, result.claim))


async def reserve(
    caller: Caller, chat_request: ChatRequest, authenticator: Authenticator, service: ChatService
) -> Ticket:
    """The caller's request with its budget reserved (see the module docstring)."""
    remembered = caller.remembered
    if remembered is not None:
        try:
            return await run_in_threadpool(
                service.reserve,
                remembered.principal,
                chat_request,
                key_epoch=remembered.key_epoch,
            )
        except StaleKeyGuess:
            authenticator.forget(caller.authorization)
    principal = await verified(caller, authenticator)
    ticket = await run_in_threadpool(service.reserve, principal, chat_request)
    if get_chat_settings().auth_mode == "bearer":
        await run_in_threadpool(
            authenticator.confirm, caller.authorization, principal, ticket.reservation.key_epoch
        )
    return ticket
