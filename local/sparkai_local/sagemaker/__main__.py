"""Run the local SageMaker Runtime: `python -m sparkai_local.sagemaker --backend scripted|llama`."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from sparkai_local.net import listening_socket
from sparkai_local.sagemaker.backends import ModelBackend
from sparkai_local.sagemaker.containers import STYLES
from sparkai_local.sagemaker.llama import DEFAULT_N_CTX, MIN_N_CTX, LlamaBackend, ModelCannotRun
from sparkai_local.sagemaker.scripted import Script, ScriptedBackend
from sparkai_local.sagemaker.server import create_app

# Streams held at a gate (or a slow model) must not keep a SIGTERM waiting for ever.
GRACEFUL_SHUTDOWN_SECONDS = 5


def _model_mapping(values: list[str]) -> dict[str, str]:
    mapping = {}
    for value in values:
        endpoint, sep, path = value.partition("=")
        if not sep or not endpoint or not path:
            raise argparse.ArgumentTypeError(f"--model wants ENDPOINT=PATH.gguf, got {value!r}")
        mapping[endpoint] = path
    return mapping


def _scripts(path: str | None, style: str) -> tuple[dict[str, Script], Script]:
    """Scripts from a JSON file {endpoint: script}, where the key "*" sets the default script."""
    default = Script(style=style)  # type: ignore[arg-type]
    if path is None:
        return {}, default
    data = json.loads(Path(path).read_text())
    scripts = {name: Script.from_dict({"style": style, **spec}) for name, spec in data.items()}
    return scripts, scripts.pop("*", default)


def build_backend(args: argparse.Namespace) -> ModelBackend:
    if args.backend == "llama":
        return LlamaBackend(
            _model_mapping(args.model), n_ctx=args.n_ctx, n_threads=args.threads, style=args.style
        )
    scripts, default = _scripts(args.script, args.style)
    return ScriptedBackend(scripts, endpoints=args.endpoint or None, default=default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sparkai_local.sagemaker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--fd", type=int, help="serve on this listening socket (host/port unused)")
    parser.add_argument("--backend", choices=["scripted", "llama"], default="scripted")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ENDPOINT=PATH.gguf",
        help="serve ENDPOINT with this GGUF (llama; others get SmolLM2)",
    )
    parser.add_argument(
        "--n-ctx", type=int, default=DEFAULT_N_CTX, help=f"llama context, >= {MIN_N_CTX}"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama: generation threads (default: every core but one, left to the gateway)",
    )
    parser.add_argument(
        "--style",
        choices=STYLES,
        default="tgi",
        help="stream framing: SSE (tgi) or JSON lines (lmi)",
    )
    parser.add_argument(
        "--script", metavar="FILE.json", help="scripted: {endpoint: Script, '*': default}"
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        help="scripted: the only endpoint names that exist (default: any)",
    )
    parser.add_argument(
        "--warm-up",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="llama: generate one token with ENDPOINT's model before listening; exit 3 if it cannot",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.n_ctx < MIN_N_CTX:
        parser.error(f"--n-ctx must be at least {MIN_N_CTX}")
    try:
        _model_mapping(args.model)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # uvicorn catches SIGINT/SIGTERM while it runs, shuts down gracefully, then re-raises the
    # signal to the handlers that were there before: make both a quiet, successful exit, which
    # they also are if the signal comes before uvicorn has taken over.
    signal.signal(signal.SIGTERM, _exit_quietly)
    # If native model code dies (SIGILL, SIGSEGV), the log shows the Python stack that called it.
    faulthandler.enable()
    with contextlib.suppress(KeyboardInterrupt):
        backend = build_backend(args)
        if isinstance(backend, LlamaBackend) and args.warm_up:
            try:
                for line in backend.warm_up(args.warm_up):
                    print(line, flush=True)
            except ModelCannotRun as exc:
                print(f"Local SageMaker Runtime: {exc.message}", file=sys.stderr, flush=True)
                print(f"Fix: {exc.fix}", file=sys.stderr, flush=True)
                sys.exit(3)
        app = create_app(backend)
        # Bind first so `--port 0` can say which port it got, and clients may connect at once.
        sock = (
            socket.socket(fileno=args.fd)  # bound by the local stack
            if args.fd is not None
            else listening_socket(args.host, args.port)
        )
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            app, log_level=args.log_level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
        )
        print(
            f"Local SageMaker Runtime ({args.backend}) listening on http://{host}:{port}",
            flush=True,
        )
        uvicorn.Server(config).run(sockets=[sock])


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


if __name__ == "__main__":
    main()
