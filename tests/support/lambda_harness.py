"""Invoke a function the way `sam local invoke` does: template.yaml says where its code is, which
handler to call, which layers it has and which environment it gets; the handler gets an event
from events/ and a Lambda context. A wrong CodeUri, Handler or layer fails here."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sparkai import wiring
from sparkai_local.template import ROOT, load_template

_modules: dict[str, ModuleType] = {}


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 1024
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "2026/11/26/[$LATEST]example"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    layer_dirs: list[Path]
    environment: dict[str, Any]


def _resolve(value: Any, template: dict[str, Any], refs: dict[str, str]) -> str:
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name in refs:
            return refs[name]
        parameter = template.get("Parameters", {}).get(name)
        if parameter is not None:
            return str(parameter.get("Default", ""))
        raise KeyError(f"the harness cannot resolve Ref {name}")
    return str(value)


def function_spec(logical_id: str, template: dict[str, Any] | None = None) -> FunctionSpec:
    template = template or load_template()
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::Serverless::Function", logical_id
    props = resource["Properties"]
    defaults = template.get("Globals", {}).get("Function", {})
    layers = [*defaults.get("Layers", []), *props.get("Layers", [])]
    layer_dirs = []
    for layer in layers:
        if isinstance(layer, dict) and "Ref" in layer:  # our own layer; public ARNs are skipped
            layer_props = template["Resources"][layer["Ref"]]["Properties"]
            layer_dirs.append(ROOT / layer_props["ContentUri"])
    environment = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **props.get("Environment", {}).get("Variables", {}),
    }
    return FunctionSpec(
        logical_id, ROOT / props["CodeUri"], props["Handler"], layer_dirs, environment
    )


def table_refs() -> dict[str, str]:
    """Table logical ids -> the table names the tests created (from the SPARKAI_* variables)."""
    return {
        "ApiKeysTable": os.environ["SPARKAI_KEYS_TABLE"],
        "AccountsTable": os.environ["SPARKAI_ACCOUNTS_TABLE"],
        "RateLimitsTable": os.environ["SPARKAI_RATE_LIMITS_TABLE"],
        "UsageTable": os.environ["SPARKAI_USAGE_TABLE"],
        "IdempotencyTable": os.environ["SPARKAI_IDEMPOTENCY_TABLE"],
    }


def _reset_caches() -> None:
    wiring.reset()  # settings, clients and services: the next call builds them as a cold start


@contextmanager
def function_environment(spec: FunctionSpec) -> Iterator[None]:
    """The function's template environment for the duration of a call (and a clean slate)."""
    resolved = {k: _resolve(v, load_template(), table_refs()) for k, v in spec.environment.items()}
    # Variables the template leaves empty are the ones `sam local --env-vars` fills in (endpoint
    # URLs); here the test's own environment plays that file.
    resolved = {k: v for k, v in resolved.items() if v != "" or k not in os.environ}
    saved = {k: os.environ.get(k) for k in resolved}
    os.environ.update(resolved)
    _reset_caches()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_caches()


def load_handler(spec: FunctionSpec) -> Any:
    module_name, attribute = spec.handler.rsplit(".", 1)
    for layer_dir in spec.layer_dirs:  # what Lambda puts on /opt/python
        assert (layer_dir / "sparkai" / "__init__.py").is_file(), (
            f"{layer_dir} does not hold the sparkai package"
        )
        if str(layer_dir) not in sys.path:
            sys.path.append(str(layer_dir))
    path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
    assert path.is_file(), f"{spec.logical_id}: Handler {spec.handler} has no file {path}"
    key = f"{spec.logical_id}:{path}"
    if key not in _modules:
        module_spec = importlib.util.spec_from_file_location(
            f"lambda_{spec.logical_id}_{module_name}", path
        )
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        _modules[key] = module
    handler = getattr(_modules[key], attribute, None)
    assert callable(handler), f"{spec.logical_id}: {spec.handler} is not a callable in {path}"
    return handler


@contextmanager
def deployed(
    logical_id: str, *, environment_of: str | None = None
) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """A warm container of the function: call it with events while the block lasts. Clients made
    inside the block are the container's, so a test can stub or instrument them there.
    `environment_of` runs the handler with another function's template environment."""
    handler = load_handler(function_spec(logical_id))
    with function_environment(function_spec(environment_of or logical_id)):
        yield lambda event: handler(event, LambdaContext(logical_id))


def invoke(logical_id: str, event: dict[str, Any]) -> Any:
    """Call the function's handler with `event` inside its template environment."""
    with deployed(logical_id) as call:
        return call(event)
