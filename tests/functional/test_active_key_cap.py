"""The active-key cap is exact (issue 25 §3): counted on the account item (a set of key digests,
read consistently, grown under a size condition), so neither racing creations nor the keys
table's lagging by_account index let an account pass it; revoked and expired keys stop counting.
AccountAdmin over moto in process, and over the local AWS endpoint for the race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from sparkai.accounts.service import AccountAdmin
from sparkai.accounts.store import AccountStore
from sparkai.errors import ActiveKeyLimitError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.store import KeyStore
from sparkai_local.aws_server import provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client
from tests.conftest import REGION, TABLES
from tests.functional.test_fault_promises import LaggingIndexKeyStore

CAP = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_680_000.0

    def __call__(self) -> float:
        return self.now


def admin_over(
    dynamodb: Any, keys: KeyStore | None = None, clock: Clock | None = None
) -> AccountAdmin:
    return AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=keys or KeyStore(TABLES["ApiKeysTable"], lambda: dynamodb),
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
        clock=clock or Clock(),
    )


def key_items(dynamodb: Any, account_id: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=TABLES["ApiKeysTable"])["Items"]
    return [i for i in items if i["account_id"]["S"] == account_id]


def test_a_lagging_index_cannot_let_a_key_past_the_cap(moto: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    store = LaggingIndexKeyStore(TABLES["ApiKeysTable"], lambda: dynamodb)
    admin = admin_over(dynamodb, store)
    account = admin.create_account("starter").account_id
    store.lag()  # no key created from now on reaches the by_account index in this test
    for _ in range(CAP):
        admin.create_key(account, max_active=CAP)
    assert list(store.list_for_account(account)) == []  # the index shows none of them
    with pytest.raises(ActiveKeyLimitError):
        admin.create_key(account, max_active=CAP)
    # The refused key left nothing behind: it was never shown to anyone.
    assert len(key_items(dynamodb, account)) == CAP


def test_revoked_and_expired_keys_stop_counting(moto: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    clock = Clock()
    admin = admin_over(dynamodb, clock=clock)
    account = admin.create_account("starter").account_id
    first = admin.create_key(account, max_active=CAP)
    admin.create_key(account, max_active=CAP, expires_in=3600)
    admin.create_key(account, max_active=CAP)
    with pytest.raises(ActiveKeyLimitError):
        admin.create_key(account, max_active=CAP)
    # Revoking one (as the CLI or the dashboard does) makes room for one
    admin.revoke_key(first.record.key_id)
    admin.create_key(account, max_active=CAP)
    with pytest.raises(ActiveKeyLimitError):
        admin.create_key(account, max_active=CAP)
    # An hour later the expiring key has expired: nothing announced it, the next creation notices
    clock.now += 3600
    admin.create_key(account, max_active=CAP)
    with pytest.raises(ActiveKeyLimitError):
        admin.create_key(account, max_active=CAP)


def test_an_account_from_before_the_count_starts_from_its_keys(moto: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    admin = admin_over(dynamodb)
    account = admin.create_account("starter").account_id
    for _ in range(CAP):
        admin.create_key(account)
    # Given the account item without the count or its mark (as one created before they existed)
    dynamodb.update_item(
        TableName=TABLES["AccountsTable"],
        Key={"account_id": {"S": account}},
        UpdateExpression="REMOVE active_key_hashes, keys_counted",
    )
    with pytest.raises(ActiveKeyLimitError):
        admin.create_key(account, max_active=CAP)


@pytest.fixture(scope="module")
def aws_url() -> Iterator[str]:
    with provisioned_server() as server:
        yield server.url


def test_racing_creations_get_exactly_the_cap(aws_url: str) -> None:
    # Given 8 "dashboard tabs" (each its own client, as separate Lambda instances) creating
    # 2 keys each at once, on an account capped at 5
    def admin() -> AccountAdmin:
        dynamodb = client("dynamodb", aws_url)
        return AccountAdmin(
            accounts=AccountStore(LOCAL_TABLES["AccountsTable"], lambda: dynamodb),
            keys=KeyStore(LOCAL_TABLES["ApiKeysTable"], lambda: dynamodb),
            epochs=KeyEpochs(LOCAL_TABLES["RateLimitsTable"], lambda: dynamodb),
        )

    account = admin().create_account("starter").account_id
    workers, cap = 8, 5
    start = threading.Barrier(workers)

    def run(_: int) -> int:
        mine = admin()
        start.wait()
        created = 0
        for _ in range(2):
            try:
                mine.create_key(account, max_active=cap)
                created += 1
            except ActiveKeyLimitError:
                pass
        return created

    with ThreadPoolExecutor(workers) as pool:
        assert sum(pool.map(run, range(workers))) == cap
    # Then exactly 5 keys exist, all active (the refused ones were deleted, never shown)
    records = list(admin().list_keys(account))
    assert len(records) == cap and {r.status for r in records} == {"active"}
