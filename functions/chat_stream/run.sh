#!/bin/sh
# Lambda entry point of the streaming function: the Lambda Web Adapter (/opt/bootstrap) runs this,
# then relays Function URL requests to uvicorn and streams the answers back.
# uvloop + httptools (in the layer) cut the relay's CPU per chunk; named, so a missing wheel fails loudly.
# Layer code lives in /opt/python; a process started here does not get the runtime's sys.path.
export PYTHONPATH="/opt/python:${LAMBDA_TASK_ROOT:-.}:${PYTHONPATH:-}"
exec python -m uvicorn sparkai.api.app:app --loop uvloop --http httptools --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --timeout-graceful-shutdown 5
