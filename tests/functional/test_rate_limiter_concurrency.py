"""Exact under concurrency: N + k simultaneous reservations from many threads and processes, with
a limit of N, let exactly N through. Run against the local AWS endpoint (moto's server, which
serializes requests the way DynamoDB makes each conditional write atomic)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import boto3
import pytest

from sparkai.errors import RateLimitExceededError
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from sparkai_local.aws_server import provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES
from sparkai_local.function_credentials import FUNCTION_URL
from tests.support.clock import T0

LIMIT = 25


class Endpoint(NamedTuple):
    """The local AWS endpoint, and the key of the function the limiter runs in (the Function
    URL's: its role is what the local AWS process enforces for these calls)."""

    url: str
    key_id: str
    secret: str


@pytest.fixture(scope="module")
def aws_url() -> Iterator[Endpoint]:
    with provisioned_server() as server:
        key = server.functions[FUNCTION_URL]
        yield Endpoint(server.url, key.access_key_id, key.secret_access_key)


def _limiter(endpoint: Endpoint) -> DynamoDBRateLimiter:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id=endpoint.key_id,
        aws_secret_access_key=endpoint.secret,
    )
    # A frozen clock: no refill during the test, so "exactly N" does not depend on timing.
    return DynamoDBRateLimiter(LOCAL_TABLES["RateLimitsTable"], lambda: dynamodb, clock=lambda: T0)


def _reserve_many(
    url: Endpoint,
    account: str,
    limits: Limits,
    tokens: int,
    attempts: int,
    start: threading.Barrier | None = None,
) -> int:
    limiter = _limiter(url)  # one "Lambda instance" per worker
    principal = Principal(account_id=account, key_id="key", plan="enterprise", limits=limits)
    if start is not None:
        start.wait()
    allowed = 0
    for _ in range(attempts):
        try:
            limiter.reserve(principal, tokens)
            allowed += 1
        except RateLimitExceededError:
            pass
    return allowed


def _process_worker(args: tuple[Endpoint, str, int, int, int, int]) -> int:
    url, account, rpm, tpm, tokens, attempts = args
    return _reserve_many(url, account, Limits(rpm, tpm), tokens, attempts)


def test_threads_get_exactly_the_request_limit(aws_url: Endpoint) -> None:
    # Given 16 workers each trying 3 times at once (48 attempts) against 25 requests/min
    workers, attempts = 16, 3
    start = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        results = list(
            pool.map(
                lambda _: _reserve_many(
                    aws_url, "acct_threads", Limits(LIMIT, 10**9), 1, attempts, start
                ),
                range(workers),
            )
        )
    assert sum(results) == LIMIT


def test_threads_get_exactly_the_token_limit(aws_url: Endpoint) -> None:
    # 10,000 tokens/min and 40 requests of 500 tokens: exactly 20 fit.
    workers = 20
    start = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        results = list(
            pool.map(
                lambda _: _reserve_many(
                    aws_url, "acct_tokens", Limits(10**6, 10_000), 500, 2, start
                ),
                range(workers),
            )
        )
    assert sum(results) == 20


def test_processes_get_exactly_the_request_limit(aws_url: Endpoint) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_process_worker, [(aws_url, "acct_processes", LIMIT, 10**9, 1, 10)] * 4)
    assert sum(results) == LIMIT
