"""`make deploy-dashboard`: the dashboard's files and a config.json from the stack's outputs land
in the bucket with types a browser accepts for ES modules, and CloudFront is invalidated."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sparkai_admin.dashboard_publish import DEFAULT_DIR, publish, spa_config

OUTPUTS = {
    "UserPoolId": "eu-west-1_AbCdEf123",
    "UserPoolClientId": "client123",
    "ApiBaseUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/live",
    "StreamUrl": "https://xyz.lambda-url.eu-west-1.on.aws/",
    "DashboardBucketName": "dashboard-bucket",
    "DashboardDistributionId": "E123",
}


class Invalidations:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_invalidation(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_publish_uploads_files_and_the_stacks_config(moto: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="dashboard-bucket")
    cloudfront = Invalidations()
    config = spa_config(OUTPUTS, "eu-west-1")

    written = publish(
        s3, cloudfront, bucket="dashboard-bucket", distribution_id="E123", config=config
    )

    assert {"index.html", "app.css", "js/app.js", "config.json"} <= set(written)
    module = s3.get_object(Bucket="dashboard-bucket", Key="js/app.js")
    assert module["ContentType"].startswith("text/javascript")
    assert module["Body"].read() == (DEFAULT_DIR / "js" / "app.js").read_bytes()
    index = s3.get_object(Bucket="dashboard-bucket", Key="index.html")
    assert index["ContentType"].startswith("text/html") and index["CacheControl"] == "no-cache"
    served = json.loads(s3.get_object(Bucket="dashboard-bucket", Key="config.json")["Body"].read())
    assert served == {
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbCdEf123",
        "userPoolClientId": "client123",
        "cognitoEndpoint": "https://cognito-idp.eu-west-1.amazonaws.com/",
        "signUpEndpoint": "https://cognito-idp.eu-west-1.amazonaws.com/",
        "dashboardApiUrl": "",
        "apiBaseUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/live",
        "streamUrl": "https://xyz.lambda-url.eu-west-1.on.aws",
    }
    (invalidation,) = cloudfront.calls
    assert invalidation["DistributionId"] == "E123"
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_the_custom_domain_is_the_base_url_when_there_is_one() -> None:
    outputs = {**OUTPUTS, "CustomDomainBaseUrl": "https://api.example.com/v1"}
    assert spa_config(outputs, "eu-west-1")["apiBaseUrl"] == "https://api.example.com"


def test_the_spa_reads_every_key_the_config_has() -> None:
    """The local config (make run) and the deployed one have the same keys, all used by the app."""
    from sparkai_local.cognito import LocalUserPool
    from sparkai_local.dashboard_site import spa_config as local_config

    local = local_config(LocalUserPool("http://127.0.0.1:1", "us-east-1_x", "c"), "http://x")
    assert set(local) == set(spa_config(OUTPUTS, "eu-west-1"))
    sources = "".join(p.read_text() for p in (DEFAULT_DIR / "js").glob("*.js"))
    for key in local:
        # region and pool id are for people reading it: Cognito's calls need only the client id.
        if key not in {"region", "userPoolId"}:
            assert f"config.{key}" in sources, key
