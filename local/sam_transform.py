"""Run with the SAM CLI's own Python (.venv-sam): prints template.yaml after the SAM transform, as
CloudFormation receives it (the template tier's checks, and the local stack's per-function IAM:
sparkai_local/function_roles.py). Offline: local code paths become placeholder S3 URIs (as cfn-lint
does), and the one managed policy SAM may look up is provided."""

import json
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class _Policies:
    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        }


def main(path, parameters):
    with open(path) as handle:
        template = yaml_parse(handle.read())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = "s3://sam-placeholder/" + props[key].strip("/")
    json.dump(transform(template, parameters, _Policies()), sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
