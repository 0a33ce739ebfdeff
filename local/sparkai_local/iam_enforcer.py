"""IAM in the local AWS process: a signed request is answered only if its signer's policies allow
every action it performs on every resource it names, as AWS decides it.

moto has IAM access control (INITIAL_NO_AUTH_ACTION_COUNT), but for this project it decides
nothing useful (moto/core/responses.py `call_action`, moto/iam/access_control.py, 5.2.x):
- the resource is always "*" except for S3, SQS, IAM and STS, so every statement naming a table or
  usage plan ARN (all of template.yaml's) matches nothing and every call would be refused;
- TransactWriteItems is checked as the action dynamodb:TransactWriteItems, which IAM does not have
  (AWS authorizes each item as PutItem/UpdateItem/DeleteItem/ConditionCheckItem on its table);
- API Gateway is checked as apigateway:CreateApiKey ..., where IAM's actions are apigateway:POST,
  GET, PATCH, PUT, DELETE on the path's ARN;
- conditions: only StringEquals on sts:ExternalId is evaluated; any other operator counts as met
  (ForAllValues:/ForAnyValue: dynamodb:Attributes, aws:ResourceTag/... would allow everything).
So moto is used here for what it does right: its IAM backend holds the users, access keys and
inline policies; its IAMRequest verifies the SigV4 signature; its IAMPolicyStatement matches
Action, Resource and Effect. This module adds what it lacks: the actions and resource ARNs of
DynamoDB (items of a transaction included) and API Gateway requests, and the condition keys
template.yaml uses, computed from the request. A condition on any other key never holds here
(stricter than AWS, never looser). docs/operations.md, "IAM enforced locally", lists the rest.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from moto.core.exceptions import InvalidClientTokenIdError, SignatureDoesNotMatchError
from moto.iam.access_control import IAMPolicyStatement, IAMRequest, PermissionResult
from moto.iam.models import iam_backends
from werkzeug.wrappers import Response

ACCOUNT_ID = "123456789012"  # moto's default account: every local ARN names it
PARTITION = "aws"
# The operator's credentials (the local stack's provisioning, `sparkai-admin --local`, tests'
# setup): an IAM user allowed everything, as an administrator's are in AWS.
OPERATOR_USER = "sparkai-local-operator"
OPERATOR_KEY = ("local", "local")

_TRANSACTION_ITEMS = {
    "TransactWriteItems": {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
    },
    "TransactGetItems": {"Get": "GetItem"},
}
_EXPRESSIONS = (
    "UpdateExpression",
    "ConditionExpression",
    "ProjectionExpression",
    "KeyConditionExpression",
    "FilterExpression",
)
# A top-level name in an expression: not after "." (a nested path) nor ":" (a value).
_NAME = re.compile(r"(?<![.\w#:])(#?[A-Za-z_]\w*)(\s*\()?")
_KEYWORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}
# The condition keys computed here; a condition on any other key never holds.
_KNOWN_KEYS = (
    "dynamodb:attributes",
    "dynamodb:enclosingoperation",
    "dynamodb:leadingkeys",
    "aws:tagkeys",
)
_KNOWN_KEY_PREFIXES = ("aws:requesttag/", "aws:resourcetag/")


@dataclass(frozen=True)
class Need:
    """One authorization a request needs: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Mapping[str, list[str]] = field(default_factory=dict)


# -- what a request needs ------------------------------------------------------------------------


def _expression_names(text: str, placeholders: Mapping[str, str]) -> set[str]:
    names = set()
    for token, call in _NAME.findall(text):
        if call or token.upper() in _KEYWORDS:
            continue  # a function (attribute_exists, if_not_exists ...) or a keyword
        names.add(placeholders.get(token, token) if token.startswith("#") else token)
    return names


def dynamodb_attributes(operation: str, request: Mapping[str, Any]) -> list[str] | None:
    """dynamodb:Attributes: the top-level attribute names the request names (key, item,
    expressions). None for a read that names none (it reads the whole item)."""
    placeholders = request.get("ExpressionAttributeNames", {})
    names: set[str] = set(request.get("Key", {})) | set(request.get("Item", {}))
    names |= set(request.get("AttributeUpdates", {})) | set(request.get("Expected", {}))
    names |= set(request.get("AttributesToGet", []))
    for expression in _EXPRESSIONS:
        if expression in request:
            names |= _expression_names(request[expression], placeholders)
    reads = operation in ("GetItem", "Query", "Scan")
    projected = "ProjectionExpression" in request or "AttributesToGet" in request
    if reads and not projected:
        return None
    return sorted(names)


def table_arn(region: str, table: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT_ID}:table/{table}"


def dynamodb_needs(operation: str, request: Mapping[str, Any], region: str) -> list[Need]:
    def one(action: str, spec: Mapping[str, Any], extra: Mapping[str, list[str]]) -> Need:
        resource = table_arn(region, spec["TableName"])
        if spec.get("IndexName"):
            resource += "/index/" + spec["IndexName"]
        context = dict(extra)
        if spec.get("Key"):
            # dynamodb:LeadingKeys: the partition key's value. Every table here has a one-
            # attribute key; a composite key would give its sort key's value too (stricter).
            context["dynamodb:LeadingKeys"] = [
                str(next(iter(value.values()))) for value in spec["Key"].values()
            ]
        attributes = dynamodb_attributes(action, spec)
        if attributes is not None:
            context["dynamodb:Attributes"] = attributes
        return Need("dynamodb:" + action, resource, context)

    if operation in _TRANSACTION_ITEMS:
        # IAM authorizes a transaction item by item, as the single-item action on its table.
        kinds = _TRANSACTION_ITEMS[operation]
        enclosing = {"dynamodb:EnclosingOperation": [operation]}
        needs = []
        for item in request.get("TransactItems", []):
            ((kind, spec),) = item.items()
            needs.append(one(kinds[kind], spec, enclosing))
        return needs
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            Need("dynamodb:" + operation, table_arn(region, table))
            for table in request.get("RequestItems", {})
        ]
    if "TableName" in request:
        return [one(operation, request, {})]
    return [Need("dynamodb:" + operation, "*")]  # ListTables and the like: no resource


def apigateway_arn(region: str, path: str) -> str:
    return f"arn:{PARTITION}:apigateway:{region}::{path}"


def apigateway_needs(
    method: str,
    path: str,
    body: bytes,
    region: str,
    resource_tags: Callable[[str], Mapping[str, str]],
) -> list[Need]:
    """API Gateway's management API: the HTTP method is the action, the path the resource."""
    context: dict[str, list[str]] = {
        f"aws:ResourceTag/{k}": [v] for k, v in resource_tags(path).items()
    }
    tags: Mapping[str, str] = {}
    if method in ("POST", "PUT", "PATCH") and body:
        document = json.loads(body)
        tags = document.get("tags") or {} if isinstance(document, dict) else {}
    if tags:
        context["aws:TagKeys"] = sorted(tags)
        context.update({f"aws:RequestTag/{k}": [v] for k, v in tags.items()})
    needs = [Need(f"apigateway:{method}", apigateway_arn(region, path), context)]
    if method == "POST" and tags and path == "/apikeys":
        # Tags given at creation are authorized as PUT on the tags resource too (Service
        # Authorization Reference, API Gateway Management: CreateApiKey -> POST and PUT).
        collection = quote(apigateway_arn(region, path), safe="")
        tags_resource = apigateway_arn(region, "/tags/" + collection)
        needs.append(Need("apigateway:PUT", tags_resource, context))
    return needs


# -- how a statement decides ---------------------------------------------------------------------


def _known(key: str) -> bool:
    lowered = key.lower()
    return lowered in _KNOWN_KEYS or lowered.startswith(_KNOWN_KEY_PREFIXES)


def _string_match(operator: str, expected: str, actual: str) -> bool:
    if operator.startswith("StringLike") or operator.startswith("StringNotLike"):
        pattern = "^" + re.escape(expected).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        return re.match(pattern, actual) is not None
    if "IgnoreCase" in operator:
        return expected.lower() == actual.lower()
    return expected == actual


_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
}


def condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    """IAM's condition block: every operator, every key, any of the listed values."""
    lowered = {k.lower(): v for k, v in context.items()}
    for raw_operator, keys in condition.items():
        qualifier, _, operator = raw_operator.rpartition(":")
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, expected_values in keys.items():
            if not _known(key):
                return False  # not computed here: never holds (stricter than AWS)
            expected = expected_values if isinstance(expected_values, list) else [expected_values]
            actual = lowered.get(key.lower())
            if operator == "Null":
                if (actual is None) != (str(expected[0]).lower() == "true"):
                    return False
                continue
            if operator not in _OPERATORS:
                return False
            negated = "Not" in operator
            if actual is None:
                # A missing key: ForAllValues holds (vacuously), IfExists holds, others do not.
                if qualifier == "ForAllValues" or if_exists or (negated and not qualifier):
                    continue
                return False

            hits = [any(_string_match(operator, str(e), v) for e in expected) for v in actual]
            matched = [not hit for hit in hits] if negated else hits
            if qualifier == "ForAllValues":
                ok = all(matched)
            elif qualifier == "ForAnyValue":
                ok = any(matched)
            else:
                ok = len(matched) == 1 and matched[0]
            if not ok:
                return False
    return True


def decide(statements: Iterable[Mapping[str, Any]], need: Need) -> PermissionResult:
    """Explicit deny wins, then any allow; else denied implicitly (NEUTRAL). moto matches
    Action, Resource and Effect; the conditions are decided above."""
    allowed = False
    for statement in statements:
        if "Condition" in statement:
            if not condition_holds(statement["Condition"], need.context):
                continue
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        result = IAMPolicyStatement(statement).is_action_permitted(need.action, need.resource)
        if result == PermissionResult.DENIED:
            return result
        allowed = allowed or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if allowed else PermissionResult.NEUTRAL


# -- the local AWS process's check ---------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    user: str
    statements: list[Mapping[str, Any]]

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/{self.user}"


def _statements(document: str | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed["Statement"]
    return list(found) if isinstance(found, list) else [found]


def install_operator(region: str = "us-east-1") -> None:
    """The operator's IAM user and its fixed access key, in this process's moto IAM backend."""
    backend = iam_backends[ACCOUNT_ID][PARTITION]
    if OPERATOR_USER in backend.users:
        return
    backend.create_user(region, OPERATOR_USER)
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    backend.put_user_policy(OPERATOR_USER, "everything", json.dumps(everything))
    key = backend.create_access_key(OPERATOR_USER)
    key.access_key_id, key.secret_access_key = OPERATOR_KEY


class Refusal(Exception):
    """A request the local AWS process refuses, with AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class IamEnforcer:
    """Decides each signed request; unsigned ones (the browser's public Cognito calls, the JWKS)
    are not IAM's to decide (Cognito serves them to anyone in AWS too)."""

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self._lock = threading.Lock()
        # While recording: each user's allowed (action, resource) pairs, for the IAM pairing
        # test (every granted permission must be one a code path used).
        self.allowed: dict[str, set[tuple[str, str]]] | None = None

    def record(self) -> dict[str, set[tuple[str, str]]]:
        """Start recording what each user was allowed; the record (filled as requests come)."""
        self.allowed = {}
        return self.allowed

    def forget(self) -> None:
        """Read users and policies again (after an IAM call changed them)."""
        with self._lock:
            self._principals.clear()

    def _principal(self, access_key_id: str) -> Principal | None:
        found = self._principals.get(access_key_id)
        if found is not None:
            return found
        backend = iam_backends[ACCOUNT_ID][PARTITION]
        for user in backend.users.values():
            if any(k.access_key_id == access_key_id for k in user.access_keys):
                statements = [s for doc in user.policies.values() for s in _statements(doc)]
                for attached in user.managed_policies.values():
                    default = next(v for v in attached.versions if v.is_default)
                    statements += _statements(default.document)
                principal = Principal(user.name, statements)
                with self._lock:
                    self._principals[access_key_id] = principal
                return principal
        return None

    def refusal(self, environ: Mapping[str, Any], body: bytes) -> Response | None:
        """None if the request may go on; else AWS's error answer for it."""
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization.startswith("AWS4-HMAC-SHA256"):
            return None
        scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
        access_key_id, region, service = scope[0], scope[2], scope[3]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        try:
            self._check(environ, body, access_key_id, region, service, target)
        except Refusal as refused:
            return _error_response(service, target, refused)
        if service == "iam":
            self.forget()  # users or policies may change with this call
        return None

    def _check(
        self,
        environ: Mapping[str, Any],
        body: bytes,
        access_key_id: str,
        region: str,
        service: str,
        target: str,
    ) -> None:
        principal = self._principal(access_key_id)
        if principal is None:
            raise Refusal(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        method = environ["REQUEST_METHOD"]
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").title()] = environ[key]
        try:  # moto's own SigV4 check, with the secret its IAM backend holds for this key
            IAMRequest(
                account_id=ACCOUNT_ID,
                method=method,
                path=raw_path,
                data={},
                body=body,
                headers=headers,
                action=target.rpartition(".")[2] or method,
            ).check_signature()
        except KeyError as exc:  # a header the signature needs is missing (X-Amz-Date ...)
            raise Refusal(
                "IncompleteSignatureException", f"The request signature lacks {exc.args[0]}."
            ) from exc
        except (InvalidClientTokenIdError, SignatureDoesNotMatchError) as exc:
            raise Refusal(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            ) from exc
        needs = self.needs(service, target, method, raw_path, body, region)
        for need in needs:
            if decide(principal.statements, need) != PermissionResult.PERMITTED:
                raise Refusal(
                    "AccessDeniedException"
                    if target or service == "apigateway"
                    else "AccessDenied",
                    f"User: {principal.arn} is not authorized to perform: {need.action} on "
                    f"resource: {need.resource} because no identity-based policy allows the "
                    f"{need.action} action",
                )
        if self.allowed is not None:
            with self._lock:
                used = self.allowed.setdefault(principal.user, set())
                used.update((need.action, need.resource) for need in needs)

    def needs(
        self, service: str, target: str, method: str, raw_path: str, body: bytes, region: str
    ) -> list[Need]:
        operation = target.rpartition(".")[2]
        if service == "dynamodb" and operation:
            return dynamodb_needs(operation, json.loads(body or b"{}"), region)
        if service == "apigateway":
            path = raw_path.partition("?")[0]
            return apigateway_needs(method, path, body, region, _apigateway_tags(region))
        # Any other service: its operation on "*" (moto's own rule): the operator's only.
        return [Need(f"{service}:{operation or method}", "*")]


def _apigateway_tags(region: str) -> Callable[[str], Mapping[str, str]]:
    def tags(path: str) -> Mapping[str, str]:
        from moto.apigateway.models import apigateway_backends

        parts = path.strip("/").split("/")
        if len(parts) < 2:
            return {}
        backend = apigateway_backends[ACCOUNT_ID][region]
        collections: dict[str, dict[str, Any]] = {
            "apikeys": backend.keys,
            "usageplans": backend.usage_plans,
        }
        resource = collections.get(parts[0], {}).get(parts[1])
        raw = getattr(resource, "tags", None) or {}
        if isinstance(raw, list):
            return {t["key"]: t["value"] for t in raw}
        return dict(raw)

    return tags


def _error_response(service: str, target: str, refused: Refusal) -> Response:
    """AWS's error in the service's own protocol, so botocore raises ClientError with its code."""
    if target:  # the JSON protocols (DynamoDB, Cognito ...)
        body = {"__type": f"com.amazon.coral.service#{refused.code}", "Message": refused.message}
        return Response(json.dumps(body), status=400, content_type="application/x-amz-json-1.0")
    if service == "apigateway":  # REST-JSON: the code in a header
        return Response(
            json.dumps({"message": refused.message}),
            status=403,
            headers={"x-amzn-ErrorType": refused.code},
            content_type="application/json",
        )
    xml = (  # the query protocols (IAM, STS)
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{refused.code}</Code><Message>{refused.message}</Message>"
        "</Error><RequestId>local</RequestId></ErrorResponse>"
    )
    return Response(xml, status=403, content_type="text/xml")
