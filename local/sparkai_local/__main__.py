"""`python -m sparkai_local` (what `make run` runs): start the local stack and wait for Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sparkai_local.stack import LocalStack, StackConfig, banner, llama_build_flags
from sparkai_local.supervisor import ChildDied


def parse_args(argv: list[str] | None) -> StackConfig:
    parser = argparse.ArgumentParser(
        prog="sparkai-local", description="Run SparkAI Stream locally, no AWS account needed."
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "3000")),
        help="API port (PORT env; default 3000)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--model",
        choices=["smollm2", "scripted"],
        default="smollm2",
        help="smollm2: the real SmolLM2-135M-Instruct; scripted: a fast fake for tests and demos",
    )
    parser.add_argument(
        "--gguf",
        action="append",
        default=[],
        metavar="ENDPOINT=PATH",
        help="serve a spark model's endpoint from another local GGUF file, e.g. spark-pro=/models/qwen.gguf",
    )
    parser.add_argument(
        "--n-ctx", type=int, default=4096, help="context window of the local model (>= 2048)"
    )
    parser.add_argument(
        "--aws-port", type=int, default=0, help="local AWS port (default: any free port)"
    )
    parser.add_argument(
        "--sagemaker-port",
        type=int,
        default=0,
        help="local SageMaker port (default: any free port)",
    )
    parser.add_argument(
        "--for-containers",
        action="store_true",
        help="listen on all interfaces with AWS on 8000 and SageMaker on 8081, for sam local (see local/sam-local-env.json)",
    )
    parser.add_argument("--verbose", action="store_true", help="show every process's logs")
    args = parser.parse_args(argv)
    config = StackConfig(
        port=args.port,
        host=args.host,
        model=args.model,
        gguf=args.gguf,
        n_ctx=args.n_ctx,
        aws_port=args.aws_port,
        sagemaker_port=args.sagemaker_port,
        verbose=args.verbose,
        demo_key=os.environ.get("SPARKAI_DEMO_KEY") or None,
    )
    if args.for_containers:
        config.bind_all, config.aws_port, config.sagemaker_port = (
            True,
            config.aws_port or 8000,
            config.sagemaker_port or 8081,
        )
    return config


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(config)
    print(f"Starting SparkAI Stream locally ({config.model} model)...", flush=True)
    if config.verbose and config.model == "smollm2":
        print(f"llama.cpp build flags: {llama_build_flags() or 'not recorded'}", flush=True)
    failed = True
    try:
        stack.start()
        print(banner(stack), flush=True)
        while not stop.wait(0.5):
            died = stack.failed()
            if died:
                raise died
        failed = False
    except RuntimeError as exc:  # ChildDied, StartupTimeout: the whole message for the user
        print(f"\nsparkai-local: {exc}", file=sys.stderr, flush=True)
        if isinstance(exc, ChildDied):
            print("Stopping the other processes.", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop(keep_logs=failed)
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
