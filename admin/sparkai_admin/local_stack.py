"""Where a running local stack (`make run`) says how to reach it, so `sparkai-admin --local` needs
no environment: one small JSON file, written when the stack is ready and removed when it stops.

The file is the contract between `sparkai_local` (writer) and the admin CLI (reader); it holds
endpoints and table names only, never a key.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sparkai.errors import ConfigurationError

# Tests (and anyone running two stacks) point each stack and its admin calls at their own file.
STATE_ENV = "SPARKAI_LOCAL_STATE"


def state_path() -> Path:
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sparkai" / "local-stack.json"


@dataclass(frozen=True)
class LocalStackState:
    pid: int
    api_url: str
    aws_url: str
    sagemaker_url: str
    region: str
    keys_table: str
    accounts_table: str
    rate_limits_table: str
    usage_plan_prefix: str
    usage_table: str = ""  # the usage ledger (`sparkai-admin --local usage`)

    def settings_env(self) -> dict[str, str]:
        """The SPARKAI_* variables an admin process needs for this stack."""
        return {
            "SPARKAI_KEYS_TABLE": self.keys_table,
            "SPARKAI_ACCOUNTS_TABLE": self.accounts_table,
            "SPARKAI_RATE_LIMITS_TABLE": self.rate_limits_table,
            "SPARKAI_USAGE_PLAN_PREFIX": self.usage_plan_prefix,
            **({"SPARKAI_USAGE_TABLE": self.usage_table} if self.usage_table else {}),
        }


def write_state(state: LocalStackState, path: Path | None = None) -> Path | None:
    """Write the file, unless another stack that is still running owns it (the first one wins,
    so a second stack, e.g. a benchmark's, never hides the one a developer is using)."""
    path = path or state_path()
    try:
        owner = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        owner = None
    if owner is not None and owner != state.pid and _alive(owner):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n")
    partial.replace(path)  # readers never see half a file
    return path


def remove_state(pid: int, path: Path | None = None) -> None:
    """Remove the file if it is still this process's (another stack may have replaced it)."""
    path = path or state_path()
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def read_state(path: Path | None = None) -> LocalStackState:
    """The running stack's state; ConfigurationError (one sentence) when there is none."""
    path = path or state_path()
    try:
        data = json.loads(path.read_text())
        state = LocalStackState(**data)
    except FileNotFoundError:
        raise ConfigurationError(
            f"No local stack is running (no {path}); start one with `make run` and keep it running."
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"{path} is not a local stack state file ({exc}); stop and restart `make run`."
        ) from None
    if not _alive(state.pid):
        raise ConfigurationError(
            f"The local stack that wrote {path} (pid {state.pid}) is no longer running; "
            "start it again with `make run`."
        )
    return state
