"""The one structured logger (Powertools); POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL apply.
And the one way a metric leaves the process: an EMF line on stdout, which CloudWatch Logs turns
into a metric (template.yaml's alarms read them; tests/template/test_alarm_bindings.py pairs them).
"""

from __future__ import annotations

import json
import os
import sys

from aws_lambda_powertools import Logger

logger = Logger(service="sparkai-stream")

NAMESPACE = "SparkAIStream"
SERVICE = "sparkai-stream"
# The roll-up every failure count is also published under: one alarm per failure, whatever the
# model (a per-model alarm would miss a model added to the catalog later).
SERVICE_DIMENSIONS = ["service"]


def write_emf(line: str) -> None:
    """CloudWatch Logs reads a Lambda's stdout (the Web Adapter's uvicorn process's too) and turns
    EMF lines into metrics. Elsewhere (the local stack, tests) there is no one to read them."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def count_failure(metric: str) -> None:
    """One EMF line counting one failure that no request line carries (the authorizer's, a settle
    that ran after the answer left). Imports the metrics module only then: never on a cold start."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    emf.add_metric(metric, MetricUnit.Count, 1)
    write_emf(json.dumps(emf.serialize_metric_set(), separators=(",", ":")))
