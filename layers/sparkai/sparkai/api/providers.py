"""Async faces of the wiring's providers, for FastAPI's Depends.

Why: FastAPI runs a plain `def` dependency in the thread pool, so every chat request paid one
thread hop per provider (the authenticator and the chat service: two hops, each a few hundred
microseconds of scheduling on a busy 2-core machine) just to read an lru_cache. Once a provider
has built its object these return it on the event loop; the first call, which may build clients
or load a tokenizer, still runs in the thread pool so it never blocks other requests.

Tests replace these (not the `sparkai.wiring` functions) through `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from starlette.concurrency import run_in_threadpool

from sparkai import wiring
from sparkai.auth.authenticator import Authenticator
from sparkai.chat.service import ChatService


async def _resolved[T](provider: Callable[[], T]) -> T:
    if cast(Any, provider).cache_info().currsize:  # built: a dictionary lookup
        return provider()
    return await run_in_threadpool(provider)


async def get_authenticator() -> Authenticator:
    return await _resolved(wiring.get_authenticator)


async def get_chat_service() -> ChatService:
    return await _resolved(wiring.get_chat_service)
