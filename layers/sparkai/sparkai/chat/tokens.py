"""Counting tokens before the model does, for the rate-limit reservation.

The production models' tokenizers are not available offline, so the default is an estimate that
errs high for natural language: UTF-8 bytes / 3 (byte-level BPE vocabularies average 3.5-4.5
bytes per English token) plus 4 tokens of chat-template overhead per message and 3 for the reply
header. The model's own count replaces the estimate when the answer arrives. Where a GGUF file of
the served model exists (the local stack), `LlamaTokenCounter` counts exactly. `count_sent` is
what a stream the model did not count is billed for the text it sent (docs/api.md).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Protocol

PER_MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3


class TokenCounter(Protocol):
    def count_text(self, text: str) -> int: ...

    def count_messages(self, messages: Sequence[dict[str, str]]) -> int: ...

    def count_sent(self, text: str) -> int:
        """What a streamed answer the model did not count is billed for `text` (what was sent)."""
        ...


class _CountsMessages:
    """A conversation's count from count_text, the same for every counter."""

    def count_text(self, text: str) -> int:
        raise NotImplementedError

    def count_messages(self, messages: Sequence[dict[str, str]]) -> int:
        """Every field the model sees (role, content, name...), not only the content."""
        return REPLY_OVERHEAD + sum(
            PER_MESSAGE_OVERHEAD + sum(self.count_text(value) for value in m.values())
            for m in messages
        )


# The most a chat template adds: Qwen2.5's injects a ~25-token default system prompt when there is
# none, and every template wraps each message in a handful of special tokens.
TEMPLATE_ALLOWANCE = 64
PER_MESSAGE_ALLOWANCE = 8


def prompt_token_bound(messages: Sequence[dict[str, str]]) -> int:
    """A prompt's token count can never exceed this: byte-level BPE vocabularies (every spark
    model's) emit at most one token per UTF-8 byte, plus the template's own tokens. The monthly
    spend reservation uses it, so a settle at the model's real count can never pass the limit."""
    return TEMPLATE_ALLOWANCE + sum(
        PER_MESSAGE_ALLOWANCE + sum(len(value.encode("utf-8")) for value in m.values())
        for m in messages
    )


class EstimatingTokenCounter(_CountsMessages):
    def count_text(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8")) / 3)

    def count_sent(self, text: str) -> int:
        """An upper bound, not an estimate: without the model's tokenizer the only count that is
        never short is one token per UTF-8 byte (every token of a byte-level BPE vocabulary, every
        spark model's, carries at least one byte). bytes/3 would bill an emoji or a rare CJK
        character, which the model writes in 2-4 tokens, as one."""
        return len(text.encode("utf-8"))


class LlamaTokenCounter(_CountsMessages):
    """Exact counts with a GGUF file's own vocabulary (llama-cpp-python, vocabulary only)."""

    def __init__(self, gguf_path: str) -> None:
        import llama_cpp  # only where configured: the local stack, never a Lambda

        with _quiet_native_stderr():  # llama.cpp warns about the context of a vocabulary-only load
            self._llama = llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False)

    def count_text(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_sent(self, text: str) -> int:
        return self.count_text(text)


def token_counter_from_setting(setting: str) -> TokenCounter:
    """'estimate' or 'gguf:<path>'."""
    if setting.startswith("gguf:"):
        return LlamaTokenCounter(setting.removeprefix("gguf:"))
    return EstimatingTokenCounter()


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
