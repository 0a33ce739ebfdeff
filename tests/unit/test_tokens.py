"""The prompt-token estimate errs high for natural language, and never reads files."""

from __future__ import annotations

from sparkai.chat.tokens import EstimatingTokenCounter, token_counter_from_setting


def test_estimate_is_bytes_over_three_plus_template_overhead() -> None:
    counter = EstimatingTokenCounter()
    assert counter.count_text("") == 0
    assert counter.count_text("abc") == 1
    assert counter.count_text("Grüße") == 3  # 7 UTF-8 bytes
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    assert counter.count_messages(messages) == 3 + 4 + 7 + 2


def test_english_is_overestimated() -> None:
    # ~4.5 characters per token for English prose with byte-level BPE; the estimate uses 3.
    text = (
        "The quick brown fox jumps over the lazy dog while the cat watches from the window. " * 10
    )
    assert EstimatingTokenCounter().count_text(text) >= len(text.split()) * 1.2


def test_default_setting_is_the_estimate() -> None:
    assert isinstance(token_counter_from_setting("estimate"), EstimatingTokenCounter)
