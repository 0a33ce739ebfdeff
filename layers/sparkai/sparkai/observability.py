"""The one structured logger (Powertools); POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL apply."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="sparkai-stream")
