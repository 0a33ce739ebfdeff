"""Each function's role, as the SAM transform writes it, as an IAM user of the local AWS process.

The policies come from template.yaml after the SAM transform (the SAM CLI's own translator,
local/sam_transform.py, run with .venv-sam's Python, its answer cached by the template's hash),
with every intrinsic function resolved to the local world: table ARNs for the local tables, the
local usage plans' ids, the parameters' defaults. Nothing here writes a policy again: what a
function may do locally is what CloudFormation would grant it.

A user rather than a role: the local AWS process checks requests signed with an access key, and
moto's users carry inline policies exactly as a role's. AWS managed policies (logs, X-Ray) are not
attached: nothing local calls CloudWatch Logs or X-Ray.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkai_local.endpoint import LOCAL_TABLES, LOCAL_USAGE_PLAN_PREFIX, REGION, client
from sparkai_local.iam_enforcer import ACCOUNT_ID, PARTITION, table_arn
from sparkai_local.template import ROOT, TEMPLATE

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
TRANSFORM = ROOT / "local" / "sam_transform.py"


@dataclass(frozen=True)
class FunctionCredentials:
    """A function's access key in the local AWS process."""

    access_key_id: str
    secret_access_key: str = ""

    def as_pair(self) -> list[str]:
        return [self.access_key_id, self.secret_access_key]


def transformed_template(template: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml after the SAM transform; ~2.5 s the first time, then read from a cache file
    named after the template's and the script's hash (so `make run` pays it once per change)."""
    digest = hashlib.sha256(template.read_bytes() + TRANSFORM.read_bytes()).hexdigest()[:20]
    cached = Path(tempfile.gettempdir()) / f"sparkai-transformed-{digest}.json"
    if cached.exists():
        loaded: dict[str, Any] = json.loads(cached.read_text())
        return loaded
    if not SAM_PYTHON.exists():
        raise FileNotFoundError(
            f"{SAM_PYTHON} is missing: the local stack reads each function's IAM role from the "
            "SAM-transformed template. Run scripts/bootstrap.sh (make run does)."
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"})
    result = subprocess.run(  # our own script, with the SAM CLI's Python
        [str(SAM_PYTHON), str(TRANSFORM), str(template)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the SAM transform of {template} failed:\n{result.stderr}")
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(result.stdout)
    partial.replace(cached)  # atomic: a concurrent reader sees all of it or nothing
    transformed: dict[str, Any] = json.loads(result.stdout)
    return transformed


def function_policies(transformed: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each Lambda function's role's policy documents (intrinsics unresolved): the role's inline
    policies, and every AWS::IAM::Policy resource attached to the role."""
    resources = transformed["Resources"]
    policies = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
        documents += [
            other["Properties"]["PolicyDocument"]
            for other in resources.values()
            if other["Type"] == "AWS::IAM::Policy"
            and {"Ref": role} in other["Properties"].get("Roles", [])
        ]
        policies[name] = documents
    return policies


class LocalWorld:
    """Resolves CloudFormation's intrinsic functions to the local stack's names and ids."""

    def __init__(self, transformed: dict[str, Any], refs: dict[str, str]) -> None:
        self._parameters = {
            name: str(p.get("Default", "")) for name, p in transformed["Parameters"].items()
        }
        self._refs = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": LOCAL_USAGE_PLAN_PREFIX,  # the stack's name prefixes its plans
            "AWS::URLSuffix": "amazonaws.com",
            **self._parameters,
            **refs,
        }
        self._arns = {logical: table_arn(REGION, LOCAL_TABLES[logical]) for logical in LOCAL_TABLES}

    def ref(self, name: str) -> str:
        if name not in self._refs:
            raise KeyError(f"no local value for Ref {name!r}: add it to the local world")
        return self._refs[name]

    def get_att(self, logical: str, attribute: str) -> str:
        if attribute != "Arn" or logical not in self._arns:
            raise KeyError(f"no local value for {logical}.{attribute}")
        return self._arns[logical]

    def _sub(self, text: str, variables: dict[str, str]) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name in variables:
                out.append(variables[name])
            elif "." in name:
                out.append(self.get_att(*name.split(".", 1)))
            else:
                out.append(self.ref(name))
        return "".join(out) + rest

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::Join":
                return arg[0].join(self.resolve(arg[1]))
            if key.startswith("Fn::"):
                raise KeyError(f"{key} in a policy is not resolved locally")
        return {k: self.resolve(v) for k, v in value.items()}


def local_usage_plan_refs(aws_url: str) -> dict[str, str]:
    """Ref of each template usage plan: its local id (found by the name the template gives)."""
    plans = client("apigateway", aws_url).get_usage_plans()["items"]
    by_name = {p["name"]: p["id"] for p in plans}
    return {
        logical: by_name[f"{LOCAL_USAGE_PLAN_PREFIX}-{tier}"]
        for logical, tier in (
            ("StarterUsagePlan", "starter"),
            ("ProUsagePlan", "pro"),
            ("EnterpriseUsagePlan", "enterprise"),
        )
        if f"{LOCAL_USAGE_PLAN_PREFIX}-{tier}" in by_name
    }


def provision_function_roles(aws_url: str) -> dict[str, FunctionCredentials]:
    """An IAM user per function, with its role's policies, and an access key each."""
    transformed = transformed_template()
    world = LocalWorld(transformed, local_usage_plan_refs(aws_url))
    iam = client("iam", aws_url)
    credentials = {}
    for function, documents in function_policies(transformed).items():
        iam.create_user(UserName=function)
        for index, document in enumerate(documents):
            iam.put_user_policy(
                UserName=function,
                PolicyName=f"{function}RolePolicy{index}",
                # The version SAM leaves implicit ("2012-10-17": no policy variables are left).
                PolicyDocument=json.dumps({"Version": "2012-10-17", **world.resolve(document)}),
            )
        key = iam.create_access_key(UserName=function)["AccessKey"]
        credentials[function] = FunctionCredentials(key["AccessKeyId"], key["SecretAccessKey"])
    return credentials
