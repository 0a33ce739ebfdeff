"""Work still running after a response's last byte (settling usage, with
SPARKAI_SETTLE_AFTER_LAST_BYTE=1), tracked so GET /v1/usage can wait for it.

Why: docs/api.md promises an answer's usage shows "as soon as each answer has completed". Where the
settle runs after the body (the local stack), a client that has its whole answer can ask for its
usage before the settle has landed; the usage route waits for the settles this process had in
flight when it was asked, a few milliseconds each, and never for ones begun later (so steady
traffic cannot hold it). Where nothing is in flight (Lambda: the settle runs first) the wait costs
nothing: no thread hop, no lock.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from anyio import to_thread

# Only a bound for a settle that hangs (its DynamoDB client has its own timeouts): the usage read
# then answers with what the ledger holds rather than never.
WAIT_BOUND_SECONDS = 30.0


class AfterBody:
    """The pieces of after-body work of this process that have not finished yet. Thread-safe:
    servers in tests run apps on several event loops of one process."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tickets = itertools.count()
        self._running: set[int] = set()

    @property
    def running(self) -> int:
        return len(self._running)

    def started(self) -> int:
        """A ticket for one piece of work; take it before the client can have the last byte."""
        with self._changed:
            ticket = next(self._tickets)
            self._running.add(ticket)
            return ticket

    def finished(self, ticket: int) -> None:
        with self._changed:
            self._running.discard(ticket)
            self._changed.notify_all()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Tracked for the duration of the block (which must begin before the last byte)."""
        ticket = self.started()
        try:
            yield
        finally:
            self.finished(ticket)

    async def settled(self, bound: float = WAIT_BOUND_SECONDS) -> None:
        """Return once the work running now has finished (or after `bound` seconds)."""
        if not self._running:
            return
        with self._changed:
            pending = set(self._running)
        await to_thread.run_sync(self._wait, pending, bound, abandon_on_cancel=True)

    def _wait(self, pending: set[int], bound: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: not pending & self._running, bound)


after_body = AfterBody()  # one per process
