"""Publish the dashboard (`make deploy-dashboard STACK=...`): upload dashboard/ to the stack's
private bucket with a config.json written from the stack's outputs, then invalidate CloudFront.

A deploy step rather than a custom resource: the files change with every release, the config
only names the stack's own outputs, and one boto3 script is easier to read and test than a Lambda
that CloudFormation would have to run. Run it after `sam deploy`.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "dashboard"
# HTML and config change in place on every publish; the browser must always revalidate them.
NO_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"


def spa_config(outputs: dict[str, str], region: str) -> dict[str, Any]:
    """config.json: the same keys `make run` serves (sparkai_local/dashboard_site.py)."""
    cognito = f"https://cognito-idp.{region}.amazonaws.com/"
    return {
        "region": region,
        "userPoolId": outputs["UserPoolId"],
        "userPoolClientId": outputs["UserPoolClientId"],
        "cognitoEndpoint": cognito,
        "signUpEndpoint": cognito,
        "dashboardApiUrl": "",  # same origin: CloudFront routes /v1/dashboard/* to API Gateway
        "apiBaseUrl": outputs.get("CustomDomainBaseUrl", "").removesuffix("/v1")
        or outputs["ApiBaseUrl"],
        "streamUrl": outputs["StreamUrl"].rstrip("/"),
    }


def content_type(path: Path) -> str:
    if path.suffix == ".js":
        return "text/javascript; charset=utf-8"  # ES modules need a JavaScript type
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


def publish(
    s3: Any,
    cloudfront: Any,
    *,
    bucket: str,
    distribution_id: str,
    config: dict[str, Any],
    files: Path = DEFAULT_DIR,
) -> list[str]:
    """Upload every file and config.json; returns the object keys written."""
    written = []
    for path in sorted(p for p in files.rglob("*") if p.is_file()):
        key = path.relative_to(files).as_posix()
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type(path),
            CacheControl=NO_CACHE if path.suffix == ".html" else ASSET_CACHE,
        )
        written.append(key)
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config, indent=2).encode(),
        ContentType="application/json",
        CacheControl=NO_CACHE,
    )
    written.append("config.json")
    cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"sparkai-dashboard-{time.time_ns()}",
        },
    )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish the dashboard to a deployed stack")
    parser.add_argument("--stack", required=True, help="the CloudFormation stack (sam deploy's)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the dashboard's files")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    written = publish(
        session.client("s3"),
        session.client("cloudfront"),
        bucket=outputs["DashboardBucketName"],
        distribution_id=outputs["DashboardDistributionId"],
        config=spa_config(outputs, session.region_name),
        files=args.dir,
    )
    print(f"published {len(written)} files; the dashboard is at {outputs['DashboardUrl']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
