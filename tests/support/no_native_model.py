"""No test process loads llama.cpp: the real model runs only in the local SageMaker child process
a test starts. A native crash there (SIGILL on a CPU that refuses an instruction, SIGSEGV) is one
failed test with the child's log; in an xdist worker it takes the worker, and its tests, down.

Importing `llama_cpp` in a test process raises ImportError saying so.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

BLOCKED = "llama_cpp"


class _RefuseNativeModel(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == BLOCKED or fullname.startswith(BLOCKED + "."):
            raise ImportError(
                f"{fullname} must not be imported in a test process: run the model in a child "
                "process (python -m sparkai_local.sagemaker --backend llama, or the local stack)"
            )
        return None


def pytest_configure() -> None:
    if BLOCKED in sys.modules:
        raise RuntimeError(f"{BLOCKED} was imported before the tests started")
    if not any(isinstance(f, _RefuseNativeModel) for f in sys.meta_path):
        sys.meta_path.insert(0, _RefuseNativeModel())
