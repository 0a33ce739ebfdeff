"""The local AWS process moves what survives a full garbage collection out of the next ones
(sparkai_local.aws_server.keep_survivors_out_of_full_collections), so a full collection's cost does
not grow with the tables. Run in a child process, since the collector's state is process-wide; the
project's editable install lets the child import sparkai_local as this process does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc
    from sparkai_local.aws_server import keep_survivors_out_of_full_collections

    keep_survivors_out_of_full_collections()
    frozen = gc.get_freeze_count()
    kept = [[] for _ in range(5000)]       # survivors, like a table's new items
    garbage = [[] for _ in range(5000)]
    for item in garbage:
        item.append(item)                  # cycles: only the collector frees them
    del garbage
    gc.collect()                           # a full collection
    print(gc.get_freeze_count() - frozen, len(kept), gc.collect())
    """
)


def test_a_full_collection_moves_its_survivors_out_and_still_frees_cycles() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    moved, kept, found_later = (int(x) for x in out)
    assert moved >= kept == 5000  # the survivors are out of the next full collection's reach
    assert found_later == 0  # and the cycles were freed, not frozen
