"""What the API needs from an idempotency store (the port), and the outcomes of a claim."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# How long an answer is kept for replay (and a key stays bound to its request body).
TTL_SECONDS = 24 * 3600


def fingerprint(route: str, request: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the parsed request and its route. Parsed, so that key
    order, whitespace and ignored unknown fields do not make a retry look like a new request;
    hashed, so that no prompt is ever stored in the clear for the sake of comparing bodies."""
    canonical = json.dumps(
        {"route": route, "request": request},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The right to run one request for (account, key); `owner` makes later writes conditional,
    so a run whose lease expired and was taken over cannot overwrite its successor's answer."""

    account_id: str
    key: str
    fingerprint: str
    owner: str = field(repr=False)


@dataclass(frozen=True)
class ClaimResult:
    """claimed: run the request (then complete or abandon the claim); replay: `answer` is the
    stored chat.completion; in_progress: another request with this key is running; mismatch: the
    key was used with a different body."""

    status: Literal["claimed", "replay", "in_progress", "mismatch"]
    claim: Claim | None = None
    answer: dict[str, Any] | None = field(default=None, repr=False)


class IdempotencyStore(Protocol):
    def claim(self, account_id: str, key: str, fingerprint: str) -> ClaimResult:
        """One conditional write. Raises IdempotencyUnavailableError if it cannot be made."""
        ...

    def complete(self, claim: Claim, answer: dict[str, Any]) -> None:
        """Store the answer for replay (failures are logged: the answer was already produced)."""
        ...

    def abandon(self, claim: Claim) -> None:
        """Forget a claim whose request did not produce an answer, so a retry runs it again."""
        ...
