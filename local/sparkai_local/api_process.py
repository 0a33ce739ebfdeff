"""The local stack's API process: uvicorn serving the API (and /dashboard/) on a listening socket
the stack bound before starting anything else (passed as a file descriptor; the local AWS and
SageMaker processes get theirs the same way, `--fd`).

Why not `uvicorn --port`: the stack used to pick the port up front and let uvicorn bind it last,
seconds later, after the model server's warm-up. In that window another process could take the
port (on CI, another test worker's servers); uvicorn then failed to bind while the squatter
answered the readiness check, and requests went to the wrong server. Bound first, the port is ours
from the start, and a busy port fails `make run` at once with a sentence, before the model loads.
(`uvicorn --fd` would do, but it labels the socket AF_UNIX, and asyncio then leaves Nagle on for
accepted TCP connections.)
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn

APP = "sparkai_local.dashboard_site:app"  # the API app, plus /dashboard/
GRACEFUL_SHUTDOWN_SECONDS = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="a bound, listening TCP socket")
    parser.add_argument("--verbose", action="store_true", help="access log, info level")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)  # family and protocol read from the socket itself
    config = uvicorn.Config(
        APP,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
