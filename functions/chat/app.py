"""Lambda entry point: the chat API behind API Gateway (buffered responses, via Mangum)."""

from __future__ import annotations

from mangum import Mangum

import sparkai.snapstart as snapstart
from sparkai.api.app import app

handler = Mangum(app, lifespan="off")
# Under SnapStart the snapshot holds the app, boto3 and a DynamoDB client; restore reseeds.
snapstart.prepare(warm=snapstart.warm_dynamodb)
