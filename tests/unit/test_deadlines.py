"""Stream deadlines (sparkai.chat.deadlines): one thread runs each due action once, in deadline
order; a cancelled one never runs; a failing one does not stop the rest. Ordering is arranged by
holding the scheduler's lock while scheduling (its thread cannot look until it is released), and
every wait is on an event with a deadlock guard, never a sleep."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sparkai.chat.deadlines import Deadlines
from tests.support.clock import Clock

GUARD_SECONDS = 30


def _recorder(log: list[str], name: str) -> Callable[[], None]:
    return lambda: log.append(name)


def test_due_actions_run_once_in_deadline_order_not_scheduling_order() -> None:
    clock, log, done = Clock(1000.0), [], threading.Event()
    deadlines = Deadlines(clock)
    with deadlines._changed:  # the scheduler's thread waits until all four are in
        deadlines.schedule(3, _recorder(log, "third"))
        deadlines.schedule(1, _recorder(log, "first"))
        deadlines.schedule(2, _recorder(log, "second"))
        deadlines.schedule(4, done.set)
        clock.now += 10  # all four are due
    assert done.wait(GUARD_SECONDS)
    assert log == ["first", "second", "third"]
    assert deadlines.pending() == 0


def test_a_cancelled_deadline_never_runs() -> None:
    log, done = [], threading.Event()
    deadlines = Deadlines()
    with deadlines._changed:
        cancel = deadlines.schedule(0, _recorder(log, "cancelled"))
        cancel()  # before the scheduler could see it due
        deadlines.schedule(0, done.set)  # due at the same time, after it in the heap
    assert done.wait(GUARD_SECONDS)
    assert log == []


def test_a_deadline_not_yet_due_waits_and_its_cancel_forgets_it() -> None:
    log, done = [], threading.Event()
    deadlines = Deadlines()
    cancel = deadlines.schedule(3600, _recorder(log, "an hour from now"))
    deadlines.schedule(0, done.set)
    assert done.wait(GUARD_SECONDS)
    assert log == [] and deadlines.pending() == 1
    cancel()
    assert deadlines.pending() == 0


def test_a_failing_action_does_not_stop_the_others() -> None:
    done = threading.Event()
    deadlines = Deadlines()

    def broken() -> None:
        raise RuntimeError("a stream's cut failed")

    with deadlines._changed:
        deadlines.schedule(0, broken)
        deadlines.schedule(0, done.set)
    assert done.wait(GUARD_SECONDS)


def test_cancelled_entries_do_not_pile_up() -> None:
    deadlines = Deadlines()
    for _ in range(1000):  # a stream that ends in time cancels its deadline
        deadlines.schedule(3600, lambda: None)()
    assert deadlines.pending() == 0
    assert len(deadlines._heap) <= 64 + 1  # compacted as cancellations outnumber live entries
