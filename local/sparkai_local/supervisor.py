"""The local stack's children as the supervisor sees them: each one's output kept in a log file and
its last lines in memory, and, when one dies, a message that says what died, how (the signal's
name, not "-4"), the last lines it wrote and the one command that fixes it."""

from __future__ import annotations

import collections
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

TAIL_LINES = 20
# A child may end its own diagnosis with "Fix: <command>"; the supervisor repeats that command.
FIX_PREFIX = "Fix: "
ROOT = Path(__file__).resolve().parents[2]  # the repository, for an editable install (make run)


class Child:
    """One supervised process: stdout and stderr merged into a log file and a tail in memory."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_dir: Path,
        *,
        echo: bool = False,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.log_path = log_dir / (name.lower().replace(" ", "-") + ".log")
        self.tail: collections.deque[str] = collections.deque(maxlen=200)
        self.process = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to the supervisor, which stops children in order
            pass_fds=pass_fds,  # e.g. the API's listening socket, bound by the stack
        )
        self._echo = echo
        self._reader = threading.Thread(
            target=self._read, args=(self.process.stdout,), name=f"log:{name}", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream, self.log_path.open("ab") as log:
            for raw in iter(stream.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self.tail.append(line)
                if self._echo:
                    print(line, flush=True)

    def poll(self) -> int | None:
        return self.process.poll()

    def last_lines(self, count: int = TAIL_LINES) -> list[str]:
        """The child's last lines, once everything it wrote before dying has been read."""
        self._reader.join(timeout=5)
        return list(self.tail)[-count:]


def describe_exit(returncode: int) -> str:
    """'killed by SIGILL (Illegal instruction)' or 'exited with code 3'."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"killed by signal {-returncode}"
        return f"killed by {sig.name} ({signal.strsignal(sig) or 'no description'})"
    return f"exited with code {returncode}"


def llama_rebuild_command() -> str:
    """The one command that throws away the cached llama.cpp wheel and builds a portable one."""
    try:
        import importlib.metadata

        version = importlib.metadata.version("llama-cpp-python")
        flags_script = ROOT / "scripts" / "llama-flags.sh"
        cache = subprocess.run(
            [str(flags_script), "--cache-dir", version],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError, importlib.metadata.PackageNotFoundError):
        cache = str(Path.home() / ".cache" / "sparkai" / "wheels")
    home = str(Path.home())
    if cache.startswith(home + os.sep) and shlex.quote(cache) == cache:
        cache = "~" + cache[len(home) :]  # shorter to read; the shell expands it
    else:
        cache = shlex.quote(cache)
    return f"rm -rf {cache} .venv/.bootstrapped && make run"


def fix_for(child: Child, returncode: int, lines: list[str]) -> str:
    for line in reversed(lines):
        if line.startswith(FIX_PREFIX):
            return line.removeprefix(FIX_PREFIX)
    crashed = -returncode in {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE}
    if child.name == "local SageMaker" and (crashed or -returncode == signal.SIGABRT):
        # Native code died: the llama.cpp build does not suit this CPU (or is damaged).
        return llama_rebuild_command()
    if -returncode == signal.SIGKILL:
        return 'make run ARGS="--model scripted"   (SIGKILL is usually the kernel out of memory)'
    return 'make run ARGS="--verbose"   (shows every process\'s output as it happens)'


class ChildDied(RuntimeError):
    """A supervised process ended on its own; str() is the whole message for the user."""

    def __init__(self, child: Child, when: str) -> None:
        self.child = child
        self.returncode = child.poll()
        assert self.returncode is not None
        self.lines = child.last_lines()
        self.fix = fix_for(child, self.returncode, self.lines)
        self.summary = f"{child.name} {describe_exit(self.returncode)} {when}."
        shown = "\n".join(f"  | {line}" for line in self.lines) or "  | (it wrote nothing)"
        super().__init__(
            f"{self.summary}\n"
            f"Last lines of its log ({child.log_path}):\n{shown}\n"
            f"To fix it, run:\n  {self.fix}"
        )


class StartupTimeout(RuntimeError):
    def __init__(self, child: Child, seconds: float) -> None:
        shown = "\n".join(f"  | {line}" for line in child.last_lines()) or "  | (it wrote nothing)"
        super().__init__(
            f"{child.name} did not start within {seconds:.0f} s.\n"
            f"Last lines of its log ({child.log_path}):\n{shown}"
        )
