"""Admission: who is calling, and whether this request may run (its rate-limit reservation)."""

from __future__ import annotations

from typing import Any

import anyio
from anyio import to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.identity import get_principal
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.schemas import ChatRequest
from sparkai.chat.service import ChatService, Ticket
from sparkai.config import get_chat_settings
from sparkai.keys.records import Principal


async def admit(
    request: Request,
    authenticator: Authenticator,
    service: ChatService,
    chat_request: ChatRequest,
    *,
    principal: Principal | None = None,
) -> Ticket:
    """The caller's request with its budget reserved, in one DynamoDB round trip of waiting.

    Behind API Gateway the principal comes free with the event, so only the reservation waits.
    With bearer keys (Function URL) the key check must happen on every request (revocation is
    immediate), but a key this process accepted recently lets the reservation start at the same
    time as the check: two overlapping calls, not two in a row. If the check disagrees (revoked,
    expired, plan changed) the speculative reservation is given back before anything runs.
    """
    if principal is not None:  # already identified (before the body was read): reserve
        return await run_in_threadpool(service.reserve, principal, chat_request)
    header = request.headers.get("authorization")
    bearer = get_chat_settings().auth_mode == "bearer"
    guess = authenticator.recent(header) if bearer else None
    if guess is None:  # nothing to overlap: identify, then reserve
        principal = await get_principal(request, authenticator)
        return await run_in_threadpool(service.reserve, principal, chat_request)

    outcomes: dict[str, tuple[Any, BaseException | None]] = {}

    async def attempt(name: str, call: Any, *args: Any) -> None:
        try:
            outcomes[name] = (await to_thread.run_sync(call, *args), None)
        except Exception as exc:
            outcomes[name] = (None, exc)

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, "auth", authenticator.authenticate, header)
        group.start_soon(attempt, "reserve", service.reserve, guess, chat_request)
    principal, auth_error = outcomes["auth"]
    ticket, reserve_error = outcomes["reserve"]
    if auth_error is not None or principal != guess:
        if ticket is not None:
            await run_in_threadpool(service.release, ticket)
        if auth_error is not None:
            raise auth_error
        return await run_in_threadpool(service.reserve, principal, chat_request)
    if reserve_error is not None:
        raise reserve_error
    assert isinstance(ticket, Ticket)
    return ticket
