"""Property: for ANY schema in the supported subset, what the real model writes under the grammar
built from it (llama-cpp-python's schema-to-grammar, as the local container builds it) parses and
validates, unless it was cut by max_tokens. Hypothesis generates the schemas; the model runs in
the local SageMaker container process, sampled (not greedy) so each example explores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sparkai.chat.schema_subset import check_schema
from tests.local.conftest import ROOT
from tests.support.fixtures_servers import sagemaker_runtime_client

pytestmark = [pytest.mark.local, pytest.mark.slow]

NAMES = st.sampled_from(["id", "name", "count", "tags", "kind", "ok", "note", "size", "when"])
SCALARS = st.one_of(st.integers(-50, 50), st.sampled_from(["red", "green", "a b", 'say "hi"']))


def _leaves() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 12)),
        st.builds(
            lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
            st.integers(0, 4),
            st.integers(0, 6),
        ),
        st.just({"type": "integer"}),
        st.just({"type": "number"}),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.just({"type": ["string", "null"]}),
        st.sampled_from([{"type": "string", "format": f} for f in ("date", "time", "uuid")]),
        st.lists(SCALARS, min_size=1, max_size=4, unique=True).map(lambda v: {"enum": v}),
        SCALARS.map(lambda v: {"const": v}),
    )


def _objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(NAMES, children, min_size=1, max_size=3))
        required = draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        return schema

    return build()


def _arrays(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda items, low, extra: {
            "type": "array",
            "items": items,
            "minItems": low,
            "maxItems": low + extra,
        },
        children,
        st.integers(0, 1),
        st.integers(0, 2),
    )


NODES = st.recursive(
    _leaves(),
    lambda children: st.one_of(
        _objects(children),
        _arrays(children),
        st.lists(children, min_size=2, max_size=3).map(lambda alts: {"anyOf": alts}),
    ),
    max_leaves=8,
)


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    """A root object (as response_format asks), sometimes reusing a $defs entry by reference."""
    root = draw(_objects(NODES))
    if draw(st.booleans()):
        root["$defs"] = {"Shared": draw(NODES)}
        root["properties"]["shared"] = {"$ref": "#/$defs/Shared"}
        root["required"] = sorted({*root.get("required", []), "shared"})
    return root


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sparkai_local.sagemaker",
            "--backend",
            "llama",
            "--port",
            "0",
            "--warm-up",
            "spark-1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if "listening on " in line:
            url = line.rsplit("listening on ", 1)[1].strip()
            break
    else:
        raise AssertionError("the container did not start:\n" + "".join(output))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@settings(
    max_examples=12,
    deadline=None,
    # The same 12 schemas every run (a CI failure replays as it happened); widen max_examples or
    # drop this locally to explore more (the quoted-enum crash was found at 15 random examples).
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(schema=schemas(), seed=st.integers(0, 2**31 - 1))
# The crash this test found: quotes and backslashes inside enum and const strings.
@example(
    schema={
        "type": "object",
        "properties": {"q": {"enum": ['say "hi"', "a\\b"]}, "c": {"const": 'x"\\'}},
        "required": ["q", "c"],
    },
    seed=1,
)
def test_every_output_under_a_subset_schema_validates(
    container: str, schema: dict[str, Any], seed: int
) -> None:
    check_schema(schema)  # the gateway accepts it: the strategy stays inside the subset
    body = {
        "messages": [
            {"role": "system", "content": "Answer with JSON matching: " + json.dumps(schema)},
            {"role": "user", "content": "Fill in an example."},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "example", "schema": schema, "strict": True},
        },
        "max_tokens": 200,
        "temperature": 1.0,
        "seed": seed,
    }
    response = sagemaker_runtime_client(container).invoke_endpoint(
        EndpointName="spark-1", Body=json.dumps(body), ContentType="application/json"
    )
    answer = json.loads(response["Body"].read())
    choice = answer["choices"][0]
    if choice["finish_reason"] == "length":
        return  # cut by max_tokens: OpenAI's one exception to the guarantee
    assert choice["finish_reason"] == "stop"
    jsonschema.validate(json.loads(choice["message"]["content"]), schema)
