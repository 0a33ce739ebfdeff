"""Stream deadlines: one thread runs every stream's deadline action.

A stream that outlives its deadline is cut (ChatService.open_stream_reserved arms it). That used a
threading.Timer per stream: a thread started and torn down for every stream, nearly always only
to be cancelled. Measured side by side with LiteLLM (benchmarks/peer.py), dropping it took ~0.05
off the whole-stream ratio. Here one daemon thread, started on first use, sleeps until the
earliest deadline; a cancelled entry is skipped when it comes up (and the heap is compacted when
cancelled entries outnumber live ones).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from sparkai.observability import logger


class Deadlines:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, seconds: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run `action` (on this scheduler's thread) `seconds` from now; returns its cancel."""
        with self._changed:
            entry = next(self._ids)
            heapq.heappush(self._heap, (self._clock() + max(0.0, seconds), entry, action))
            self._live.add(entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

        def cancel() -> None:
            with self._changed:
                self._live.discard(entry)
                if len(self._heap) > 2 * len(self._live) + 64:
                    self._heap = [item for item in self._heap if item[1] in self._live]
                    heapq.heapify(self._heap)

        return cancel

    def pending(self) -> int:
        """Deadlines scheduled and neither run nor cancelled."""
        with self._changed:
            return len(self._live)

    def _next_due(self) -> Callable[[], None]:
        """Wait for the earliest live deadline to come, and take it off the heap."""
        with self._changed:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # cancelled
                if not self._heap:
                    self._changed.wait()
                    continue
                due, entry, action = self._heap[0]
                delay = due - self._clock()
                if delay > 0:
                    self._changed.wait(delay)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(entry)
                return action

    def _run(self) -> None:
        while True:
            action = self._next_due()
            try:
                action()
            except Exception:  # one failed action must not stop the others' deadlines
                logger.exception("deadline.action_failed")


DEADLINES = Deadlines()
