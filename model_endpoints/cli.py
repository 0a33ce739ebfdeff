"""sparkai-endpoints: plan, deploy, inspect and tear down the SageMaker endpoints behind the spark models.

sparkai-endpoints plan [--model spark-1|all] [--region us-east-1] [--json]   (dry run, no AWS calls)
sparkai-endpoints deploy --model all --role-arn arn:aws:iam::123456789012:role/SageMakerRole
sparkai-endpoints status [--model spark-pro]
sparkai-endpoints teardown --model spark-turbo [--yes]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from model_endpoints import economics
from model_endpoints.config import PlanError, load_config
from model_endpoints.deploy import DeployError, EndpointDeployer
from model_endpoints.instances import get_instance
from model_endpoints.plan import (
    DeploymentPlan,
    build_plans,
    sam_deploy_command,
    serving_problems,
    validate,
)
from sparkai.catalog import MODELS

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


def _role_arn(text: str) -> str:
    if not _ROLE_ARN.match(text):
        raise argparse.ArgumentTypeError(
            f"not an IAM role ARN: {text!r} (arn:aws:iam::<account>:role/<name>)"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkai-endpoints",
        description="Plan and deploy the SageMaker endpoints that serve the spark models.",
    )
    parser.add_argument(
        "--config", type=Path, help="another models.toml (default: the packaged one)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    choices = [*MODELS, "all"]

    def command(name: str, help_text: str, *, model_required: bool) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--model",
            choices=choices,
            required=model_required,
            default=None if model_required else "all",
            help="a spark model, or all",
        )
        sub.add_argument(
            "--region", help="AWS region (default: the AWS configuration, else models.toml)"
        )
        return sub

    plan = command("plan", "print the full plan; a dry run with no AWS calls", model_required=False)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    deploy = command(
        "deploy", "create or update endpoints and their autoscaling", model_required=True
    )
    deploy.add_argument(
        "--role-arn", type=_role_arn, required=True, help="SageMaker execution role"
    )
    deploy.add_argument(
        "--no-wait", action="store_true", help="return once SageMaker accepts the change"
    )
    command("status", "show what is deployed against the plan", model_required=False)
    teardown = command(
        "teardown", "delete endpoints, configs, models and autoscaling", model_required=True
    )
    teardown.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _default_region(configured: str) -> str:
    import boto3  # reads the AWS configuration only; no call is made

    return boto3.session.Session().region_name or configured


def _selected(plans: dict[str, DeploymentPlan], model: str) -> list[DeploymentPlan]:
    return list(plans.values()) if model == "all" else [plans[model]]


def _print_plan(plan: DeploymentPlan) -> None:
    model, scaling, gen = plan.source, plan.autoscaling, plan.generation
    instance = get_instance(model.instance_type)
    gpus = instance.describe() if instance else "unknown GPUs"
    rows = [
        ("endpoint", f"{plan.endpoint_name}  (template parameter {plan.template_parameter})"),
        ("model", plan.model_name),
        ("endpoint config", plan.endpoint_config_name),
        ("image", plan.image_uri),
        (
            "instance",
            f"{model.instance_type} x{model.initial_instance_count} ({gpus}; tensor parallel"
            f" {model.tensor_parallel_degree}; ~{plan.weights_gib_per_gpu():.1f} GiB weights per"
            f" GPU, ~{plan.required_gib_per_gpu():.1f} GiB with overhead)",
        ),
        (
            "context",
            f"{model.max_model_len} tokens (catalog: context {plan.catalog.context_length},"
            f" max_tokens {plan.catalog.max_tokens}); batch up to {model.max_batch_size}",
        ),
        (
            "autoscaling",
            f"{scaling.min_capacity}-{scaling.max_capacity} instances, target"
            f" {scaling.target_invocations_per_instance:g} invocations/instance/minute",
        ),
        (
            "timeouts",
            f"startup health check {model.startup_health_check_timeout_s} s,"
            f" model download {model.model_download_timeout_s} s",
        ),
        (
            "generation",
            f"temperature {gen.temperature}, top_p {gen.top_p}, top_k {gen.top_k},"
            f" repetition_penalty {gen.repetition_penalty}",
        ),
    ]
    print(
        f"{plan.spark_id}: {model.hf_model_id} ({model.license}, {model.parameters_billion}B"
        f" parameters, native context {model.native_context_length})"
    )
    for label, value in rows:
        print(f"  {label:<16}{value}")
    print("  environment")
    for key, value in plan.environment.items():
        print(f"    {key}={value}")
    _print_serving(plan)


def _print_serving(plan: DeploymentPlan) -> None:
    """The serving option's economics: what a million tokens cost and sell for."""
    option = economics.configured(plan.source)
    print("  serving")
    if option is None:
        print("    no cited throughput figure backs this configuration")
        return
    cost = option.cost_per_million_tokens()
    revenue = economics.revenue_per_million_tokens(plan.catalog)
    even = economics.break_even_utilisation(option, plan.catalog)
    print(f"    {option.describe()}; first token {option.first_token_seconds:.2f} s")
    print(f"    figure: {option.figure.basis} x {option.figure.scale:g}; {option.figure.source}")
    print(
        f"    ${cost:.3f} per million tokens served at {economics.UTILISATION:.0%} utilisation"
        f" (${option.price_per_hour}/hour); revenue ${revenue:.2f} per million tokens"
    )
    if even > 1:
        print(f"    SageMaker never breaks even: it would need {even:.0%} utilisation")
    else:
        print(f"    SageMaker breaks even at {even:.1%} utilisation")


def _plan(args: argparse.Namespace, plans: dict[str, DeploymentPlan], region: str) -> int:
    selected = _selected(plans, args.model)
    if args.json:
        document: dict[str, Any] = {
            "region": region,
            "plans": {plan.spark_id: plan.to_dict() for plan in selected},
            "sam_deploy": sam_deploy_command(plans.values()),
        }
        print(json.dumps(document, indent=2))
        return 0
    for plan in selected:
        _print_plan(plan)
        print()
    _print_economics(selected)
    print(f"Dry run in {region}: nothing was created. To deploy:")
    print(
        f"  sparkai-endpoints deploy --model {args.model} --role-arn <SageMaker execution role ARN>"
    )
    print("then point the chat functions at the endpoints:")
    print(f"  {sam_deploy_command(plans.values())}")
    return 0


def _print_economics(plans: list[DeploymentPlan]) -> None:
    print(
        f"{'model':<12}{'$/M tokens served':>19}{'revenue $/M tokens':>20}"
        f"{'break-even utilisation':>24}"
    )
    for plan in plans:
        option = economics.configured(plan.source)
        revenue = economics.revenue_per_million_tokens(plan.catalog)
        if option is None:
            print(f"{plan.spark_id:<12}{'uncited':>19}{revenue:>20.2f}{'-':>24}")
            continue
        even = economics.break_even_utilisation(option, plan.catalog)
        print(
            f"{plan.spark_id:<12}{option.cost_per_million_tokens():>19.3f}{revenue:>20.2f}"
            f"{even:>24.1%}"
        )
    print(
        f"(SageMaker only, at {economics.UTILISATION:.0%} utilisation, half the tokens prompt;"
        " the gateway per plan is in docs/cost.md)"
    )
    print()


def _clients(region: str) -> tuple[Any, Any]:
    import boto3

    return (
        boto3.client("sagemaker", region_name=region),
        boto3.client("application-autoscaling", region_name=region),
    )


def _deploy(
    args: argparse.Namespace, plans: dict[str, DeploymentPlan], deployer: EndpointDeployer
) -> int:
    for plan in _selected(plans, args.model):
        deployer.create_or_update(plan, args.role_arn, wait=not args.no_wait)
    print()
    for plan in plans.values():
        print(f"{plan.spark_id}: endpoint {plan.endpoint_name}")
    print("Point the chat functions at them with:")
    print(f"  {sam_deploy_command(plans.values())}")
    return 0


def _status(
    args: argparse.Namespace, plans: dict[str, DeploymentPlan], deployer: EndpointDeployer
) -> int:
    for plan in _selected(plans, args.model):
        state = deployer.status(plan)
        if state.status == "NotFound":
            print(f"{plan.spark_id}: endpoint {plan.endpoint_name} is not deployed")
            continue
        config = (
            "matches the plan" if state.up_to_date else f"plan wants {plan.endpoint_config_name}"
        )
        scaling = (
            f"{state.autoscaling[0]}-{state.autoscaling[1]}"
            if state.autoscaling
            else "not registered"
        )
        print(
            f"{plan.spark_id}: endpoint {plan.endpoint_name} {state.status};"
            f" config {state.endpoint_config_name} ({config}); instances {state.instance_count};"
            f" autoscaling {scaling}"
        )
        if state.failure_reason:
            print(f"  failure: {state.failure_reason}")
    return 0


def _teardown(
    args: argparse.Namespace, plans: dict[str, DeploymentPlan], deployer: EndpointDeployer
) -> int:
    selected = _selected(plans, args.model)
    names = ", ".join(plan.endpoint_name for plan in selected)
    if not args.yes:
        try:
            answer = input(
                f"Delete endpoint(s) {names} with their configs, models and autoscaling? [y/N] "
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    for plan in selected:
        result = deployer.teardown(plan)
        print(
            f"{plan.spark_id}: endpoint {'deleted' if result.endpoint_deleted else 'was not deployed'},"
            f" {len(result.endpoint_configs)} endpoint config(s), {len(result.models)} model(s) deleted"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        region = args.region or _default_region(config.region)
        plans = build_plans(config, region)
        problems = validate(config, plans)
        if args.command in ("plan", "deploy"):
            problems += serving_problems(plans)
    except PlanError as exc:
        print(exc, file=sys.stderr)
        return 2
    if problems:
        print(PlanError(problems, str(args.config or "models.toml")), file=sys.stderr)
        # status and teardown only need the endpoint names, so a broken config must not block them.
        if args.command in ("plan", "deploy"):
            return 2
    missing = [m for m in ([*MODELS] if args.model == "all" else [args.model]) if m not in plans]
    if missing:
        print(f"models.toml has no plan for {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.command == "plan":
        return _plan(args, plans, region)

    deployer = EndpointDeployer(*_clients(region))
    handlers = {"deploy": _deploy, "status": _status, "teardown": _teardown}
    try:
        return handlers[args.command](args, plans, deployer)
    # AWS refusals (quota, permissions, credentials) are answers to show, not crashes.
    except (DeployError, BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
