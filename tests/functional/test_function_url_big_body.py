"""A Function URL client sends `stream: false` with a 1 MiB body of one-byte messages (issue 25 §5):
the prompt's upper bound still holds, and the spend reservation is never more than one answer can
cost, the model's context window. The real app under uvicorn on the bearer (Function URL) path, the
local SageMaker runtime with a scripted model refusing the prompt as vLLM does, moto."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sparkai.accounts.service import CreatedKey
from sparkai.catalog import MODELS
from sparkai.chat.tokens import prompt_token_bound
from sparkai.plans import Limits
from sparkai_local.sagemaker import Script
from sparkai_local.sagemaker.scripted import InvokeError
from tests.conftest import KeyFactory
from tests.support.chat_server import ChatApi

MAX_BODY = 1_048_576
MESSAGE = {"role": "user", "content": "a"}


def one_byte_messages() -> dict[str, Any]:
    """The largest `stream: false` body of one-byte messages the API reads (1 MiB)."""
    head = {"model": "spark-1", "stream": False, "max_tokens": 16, "messages": [MESSAGE]}
    each = len(json.dumps(MESSAGE)) + 2  # ", " between messages
    room = MAX_BODY - len(json.dumps(head))
    return {**head, "messages": [MESSAGE] * (1 + room // each)}


@pytest.fixture
def budgeted_api(chat_api_for: Callable[[CreatedKey], ChatApi], make_key: KeyFactory) -> ChatApi:
    """An Enterprise account whose minute budget takes the prompt's estimate, with $0.01 left."""
    key = make_key("enterprise", limits=Limits(100, 1_000_000))
    make_key.admin.set_budget(key.record.account_id, Decimal("0.01"))
    return chat_api_for(key)


def test_the_bound_of_a_megabyte_of_one_byte_messages_holds_and_the_spend_reserved_fits_the_window(
    budgeted_api: ChatApi,
) -> None:
    body = one_byte_messages()
    raw = json.dumps(body).encode()
    assert MAX_BODY - 40 < len(raw) <= MAX_BODY
    messages = body["messages"]
    # The bound: 64 for the template, then 8 per message plus a token per byte of role and content
    # (the real tokenizer's count stays under it: the test below).
    bound = prompt_token_bound(messages)
    assert bound == 64 + len(messages) * (8 + len("user") + 1) > 400_000
    price = MODELS["spark-1"].price_per_1k_tokens
    assert price * (bound + 16) / 1000 > Decimal("0.01")  # more than the account has left
    # Given the model refuses the prompt, as vLLM does one longer than its window (16,384)
    budgeted_api.model.backend.set_script(
        "spark-1",
        Script(
            invoke_error=InvokeError(
                "ModelError",
                original_status_code=400,
                message="This model's maximum context length is 16384 tokens.",
            )
        ),
    )
    # When the client sends it through the Function URL (bearer key, stream: false)
    response = httpx.post(
        f"{budgeted_api.url}/v1/chat",
        content=raw,
        headers={"Authorization": f"Bearer {budgeted_api.key}", "Content-Type": "application/json"},
        timeout=60,
    )
    # Then the reservation (at most the window: 16,384 tokens, $0.0049) fit the $0.01 left, the
    # model was asked, and its refusal is the answer; nothing is charged.
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert budgeted_api.model.backend.invocations == {"spark-1": 1}
    usage = httpx.get(
        f"{budgeted_api.url}/v1/usage",
        headers={"Authorization": f"Bearer {budgeted_api.key}"},
        timeout=30,
    ).json()
    assert usage["totals"]["requests"] == 0 and usage["month_to_date_usd"] == "0"


# The real tokenizer and chat template (SmolLM2's, a byte-level BPE vocabulary with a ChatML
# template like the spark models' Qwen2.5), in a child process: native code never runs in a test
# worker. It prints the exact prompt count of the same conversation the API would send.
_COUNT_PROMPT = """
import json, sys
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from sparkai_local.sagemaker.llama import default_model_path

llama = Llama(model_path=str(default_model_path()), vocab_only=True, verbose=False)
text = lambda t: llama.detokenize([t], special=True).decode("utf-8", errors="ignore")
formatter = Jinja2ChatFormatter(
    template=llama.metadata["tokenizer.chat_template"],
    eos_token=text(llama.token_eos()),
    bos_token=text(llama.token_bos()),
)
prompt = formatter(messages=json.load(sys.stdin))
tokens = llama.tokenize(prompt.prompt.encode(), add_bos=not prompt.added_special, special=True)
print(len(tokens))
"""


@pytest.mark.slow
def test_the_prompt_bound_holds_for_one_byte_messages_with_a_real_tokenizer() -> None:
    # The same messages as the megabyte body, fewer of them: the template costs the same per
    # message, and rendering all ~35,000 takes minutes (the bound is a sum over messages).
    messages = one_byte_messages()["messages"][:2000]
    counted = subprocess.run(
        [sys.executable, "-c", _COUNT_PROMPT],
        input=json.dumps(messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    real = int(counted.stdout.strip())
    assert len(messages) * 5 <= real <= prompt_token_bound(messages)
