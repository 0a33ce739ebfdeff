"""Lambda SnapStart: what must not be shared by every execution environment restored from one
snapshot, and the warm-up worth putting into the snapshot.

Under SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) Lambda runs the init phase once, when
a version is published, and resumes every new environment from that memory image. So anything
drawn at init is identical in all of them: the `random` module's state (Powertools' log
sampling, botocore's retry jitter), and any open connection (its socket did not survive). UUIDs
and key secrets come from os.urandom, which the kernel reseeds on restore, so they need nothing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from sparkai import aws, wiring

SNAPSTART = "snap-start"


def under_snapstart(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("AWS_LAMBDA_INITIALIZATION_TYPE") == SNAPSTART


def after_restore() -> None:
    """A fresh random state, and no AWS client (nor pooled connection) from before the snapshot;
    the next call builds one from botocore's already-loaded service models, which is cheap."""
    random.seed()
    wiring.reset_clients()


def prepare(
    warm: Callable[[], object] | None = None,
    register: Callable[[Callable[[], None]], object] | None = None,
) -> bool:
    """Call at import time in a handler module. Under SnapStart: run `warm` (put imports and
    loaded service models into the snapshot) and register after_restore. Elsewhere: nothing, so
    ordinary cold starts pay no warm-up. Returns whether it applied."""
    if not under_snapstart():
        return False
    if register is None:
        # Shipped with the Lambda Python runtime (3.12+) for SnapStart's runtime hooks; imported
        # only here, so nothing else needs it.
        from snapshot_restore_py import register_after_restore

        register = register_after_restore
    if warm is not None:
        warm()
    register(after_restore)
    return True


def warm_dynamodb() -> None:
    """botocore's loaders and the DynamoDB client in the snapshot (dropped on restore, rebuilt
    from the warm caches)."""
    aws.client("dynamodb")
