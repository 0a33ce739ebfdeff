"""Key material: format, randomness, hashing, bearer parsing."""

from __future__ import annotations

import hashlib

import pytest

from sparkai.keys.material import (
    digests_match,
    display_prefix,
    generate_key,
    hash_key,
    is_well_formed,
    parse_bearer,
)
from sparkai.keys.records import ApiKeyRecord
from sparkai.plans import Limits


def test_generated_keys_have_the_prefix_and_256_random_bits() -> None:
    key = generate_key()
    assert key.startswith("sk-spark-")
    assert len(key.removeprefix("sk-spark-")) == 43  # 32 bytes, url-safe base64
    assert is_well_formed(key)
    assert len({generate_key() for _ in range(1000)}) == 1000


def test_only_a_sha256_digest_is_derived_and_compared_in_constant_time() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert digests_match(hash_key(key), key)
    assert not digests_match(hash_key(key), key + "x")


def test_display_prefix_shows_four_characters() -> None:
    assert display_prefix("sk-spark-AbCdEfGh") == "sk-spark-AbCd"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer sk-spark-abcdefghijklmnopqrstuvwxyz", "sk-spark-abcdefghijklmnopqrstuvwxyz"),
        ("bearer sk-spark-abcdefghijklmnopqrstuvwxyz", "sk-spark-abcdefghijklmnopqrstuvwxyz"),
        ("  Bearer   sk-spark-abcdefghijklmnopqrstuvwxyz  ", "sk-spark-abcdefghijklmnopqrstuvwxyz"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic sk-spark-abcdefghijklmnopqrstuvwxyz", None),
        ("Bearer sk-openai-abcdefghijklmnopqrstuvwxyz", None),
        ("Bearer sk-spark-short", None),
        ("Bearer sk-spark-abcdefghijklmnopqrstuvwxyz extra", None),
        ("Bearer sk-spark-abc$defghijklmnopqrstuvwxyz", None),
        ("Bearer sk-spark-" + "a" * 129, None),
    ],
)
def test_parse_bearer(header: str | None, expected: str | None) -> None:
    assert parse_bearer(header) == expected


def record(**overrides: object) -> ApiKeyRecord:
    fields: dict[str, object] = dict(
        key_id="key_1",
        key_hash="h",
        account_id="acct_1",
        prefix="sk-spark-abcd",
        status="active",
        created_at=0,
        plan="pro",
        limits=Limits(90, 75_000),
    )
    fields.update(overrides)
    return ApiKeyRecord(**fields)  # type: ignore[arg-type]


def test_key_state() -> None:
    assert record().state(now=100) == "active"
    assert record(status="revoked").state(now=100) == "revoked"
    assert record(expires_at=100).state(now=100) == "expired"
    assert record(expires_at=101).state(now=100) == "active"
