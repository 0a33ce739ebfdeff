"""Admission: who is calling, and whether this request may run (its rate-limit reservation)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sparkai.api.identity import get_principal
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.schemas import ChatRequest
from sparkai.chat.service import ChatService, Ticket
from sparkai.config import get_chat_settings
from sparkai.keys.records import Principal
from sparkai.limits import StaleKeyGuess


async def admit(
    request: Request,
    authenticator: Authenticator,
    service: ChatService,
    chat_request: ChatRequest,
    *,
    principal: Principal | None = None,
) -> Ticket:
    """The caller's request with its budget reserved.

    Behind API Gateway the principal comes free with the event: one DynamoDB call, the
    reservation. With bearer keys (Function URL) the key must be good on every request
    (revocation is immediate). A key this process remembers (Authenticator.recent) is reserved
    for in one conditional write that also requires the account's keys epoch to be the one it was
    remembered at, so that write vouches that no key of the account changed since: still one call.
    If the epoch moved, or the remembered terms refused the request before the store was asked,
    nothing was reserved and the key is checked again. Otherwise the key is read, the budget
    reserved, and the key confirmed and remembered for next time (Authenticator.confirm).
    """
    header = request.headers.get("authorization")
    bearer = get_chat_settings().auth_mode == "bearer"
    if principal is None and bearer:
        remembered = authenticator.recent(header)
        if remembered is not None:
            try:
                return await run_in_threadpool(
                    service.reserve,
                    remembered.principal,
                    chat_request,
                    key_epoch=remembered.key_epoch,
                )
            except StaleKeyGuess:
                authenticator.forget(header)
    if principal is None:
        principal = await get_principal(request, authenticator)
    ticket = await run_in_threadpool(service.reserve, principal, chat_request)
    if bearer:
        await run_in_threadpool(
            authenticator.confirm, header, principal, ticket.reservation.key_epoch
        )
    return ticket
