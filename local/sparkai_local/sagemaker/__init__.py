"""A local SageMaker Runtime: InvokeEndpoint and InvokeEndpointWithResponseStream on the real wire
protocol, backed by a scripted fake (tests) or SmolLM2 through llama.cpp (a real, tiny model)."""

from __future__ import annotations

from sparkai_local.sagemaker.backends import BackendError, ModelBackend, StreamFailure
from sparkai_local.sagemaker.scripted import Script, ScriptedBackend
from sparkai_local.sagemaker.server import create_app

__all__ = [
    "BackendError",
    "ModelBackend",
    "Script",
    "ScriptedBackend",
    "StreamFailure",
    "create_app",
]
