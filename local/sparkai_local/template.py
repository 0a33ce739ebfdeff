"""Reading template.yaml: the CloudFormation tags, and the DynamoDB tables it defines, so that the
local stack and the tests create exactly the tables that `sam deploy` creates."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt ...) as their long forms."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # the only other kind of YAML node
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


@lru_cache
def _cached_template() -> dict[str, Any]:
    return load_template()


def table_logical_ids(template: dict[str, Any] | None = None) -> list[str]:
    template = template or _cached_template()
    return [
        name for name, res in template["Resources"].items() if res["Type"] == "AWS::DynamoDB::Table"
    ]


def create_table_requests(
    names: dict[str, str], template: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """boto3 create_table (and TTL) arguments for every table in the template.

    `names` maps logical ids (ApiKeysTable, ...) to the table names to create.
    """
    template = template or _cached_template()
    requests = []
    for logical_id in table_logical_ids(template):
        props = template["Resources"][logical_id]["Properties"]
        request: dict[str, Any] = {
            "TableName": names[logical_id],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification", {}).get("SSEEnabled"):
            request["SSESpecification"] = {"Enabled": True}
        ttl = props.get("TimeToLiveSpecification")
        requests.append(
            {
                "create": request,
                "ttl_attribute": ttl["AttributeName"] if ttl and ttl.get("Enabled") else None,
            }
        )
    return requests


def create_tables(
    client: Any, names: dict[str, str], template: dict[str, Any] | None = None
) -> None:
    """Create the template's tables through `client` (moto, the local stack, DynamoDB Local)."""
    for request in create_table_requests(names, template):
        client.create_table(**request["create"])
        if request["ttl_attribute"]:
            client.update_time_to_live(
                TableName=request["create"]["TableName"],
                TimeToLiveSpecification={
                    "AttributeName": request["ttl_attribute"],
                    "Enabled": True,
                },
            )
