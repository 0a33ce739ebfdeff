"""The `sparkai` command: `sparkai chat "Hello"` streams the answer; `sparkai models` lists models.

Configuration comes from SPARKAI_API_KEY, SPARKAI_BASE_URL and SPARKAI_STREAM_URL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import SparkAI
from ._errors import SparkAIError
from ._version import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkai",
        description="SparkAI Stream from the command line (API key from SPARKAI_API_KEY).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--base-url", help="buffered API URL (default: $SPARKAI_BASE_URL)")
    parser.add_argument(
        "--stream-url", help="streaming URL (default: $SPARKAI_STREAM_URL or the base URL)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="send one message and print the answer as it arrives")
    chat.add_argument("prompt", help='the message; "-" reads it from stdin')
    chat.add_argument("-m", "--model", default="spark-1", help="model id (default: spark-1)")
    chat.add_argument("--max-tokens", type=int, help="cap on generated tokens")
    chat.add_argument("--temperature", type=float, help="sampling temperature, 0 to 2")
    chat.add_argument("--system", help="a system message sent before the prompt")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument("--usage", action="store_true", help="print token usage to stderr")

    commands.add_parser("models", help="list the available models")
    return parser


def _chat(
    client: SparkAI, args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO
) -> int:
    prompt = stdin.read() if args.prompt == "-" else args.prompt
    messages = [{"role": "user", "content": prompt}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    if args.no_stream:
        completion = client.chat.create(
            model=args.model,
            messages=messages,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
        )
        out.write(
            ((completion.choices[0].message.content if completion.choices else "") or "") + "\n"
        )
        usage = completion.usage
    else:
        printed = False
        try:
            with client.chat.create(
                model=args.model,
                messages=messages,
                max_tokens=args.max_tokens,
                temperature=args.temperature,
                stream=True,
            ) as stream:
                for text in stream.text_deltas():
                    out.write(text)
                    out.flush()
                    printed = True
                usage = stream.get_final_completion().usage
        finally:
            if printed:
                out.write("\n")
                out.flush()
    if args.usage and usage is not None:
        err.write(
            f"usage: prompt {usage.prompt_tokens}, completion {usage.completion_tokens}, "
            f"total {usage.total_tokens} tokens\n"
        )
    return EXIT_OK


def _models(client: SparkAI, out: TextIO) -> int:
    for model in client.models.list():
        price = model.pricing.per_1k_tokens_usd if model.pricing else None
        details = [
            f"max_tokens {model.max_tokens}" if model.max_tokens else "",
            f"${price}/1K tokens" if price else "",
        ]
        line = "  ".join([model.id.ljust(12), *(d for d in details if d)])
        out.write(f"{line}  {model.description or ''}".rstrip() + "\n")
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    client: SparkAI | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit code. `client` and the streams are injectable (tests)."""
    args = _parser().parse_args(argv)
    stdin, out, err = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        if client is None:
            client = SparkAI(base_url=args.base_url, stream_url=args.stream_url)
        with client:
            if args.command == "chat":
                return _chat(client, args, stdin, out, err)
            return _models(client, out)
    except SparkAIError as exc:
        err.write(f"sparkai: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
