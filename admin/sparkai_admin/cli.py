"""sparkai-admin: accounts and keys against the deployed tables (or any endpoint_url).

sparkai-admin --stack sparkai-stream account create --plan pro --name "Acme"
sparkai-admin --stack sparkai-stream key create acct_... --expires-in 90d
sparkai-admin key list acct_...            (tables from SPARKAI_* variables)
sparkai-admin --local account create --plan pro   (the running `make run` stack)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError

from sparkai.accounts.edge import EdgeQuotaError, NoEdge, UsagePlanEdge
from sparkai.accounts.service import DEFAULT_ROTATION_GRACE_SECONDS, AccountAdmin, AdminError
from sparkai.accounts.store import AccountStore
from sparkai.dynamo import retry_transaction_conflicts
from sparkai.errors import ConfigurationError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.records import ApiKeyRecord
from sparkai.keys.store import KeyStore
from sparkai.limits.trial import TrialCounter
from sparkai.plans import PLANS, Limits
from sparkai.usage.pricing import usd
from sparkai.usage.reporter import UsageReporter

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'90d', '24h', '30m', '45s' or plain seconds."""
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90d, 24h, 30m)")
    return int(match.group(1)) * _UNIT[match.group(2)]


def parse_budget(text: str) -> Decimal | None:
    """A monthly spend limit in USD ('250', '99.50') or 'none'."""
    if text.strip().lower() == "none":
        return None
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r} (or 'none')") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"a budget must be a non-negative amount: {text!r}")
    return value


def parse_month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text.strip()):
        raise argparse.ArgumentTypeError(f"not a month: {text!r} (use YYYY-MM, e.g. 2026-11)")
    return text.strip()


def _when(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkai-admin", description="Manage SparkAI Stream accounts and API keys."
    )
    parser.add_argument(
        "--stack", help="read table names and the usage-plan prefix from this stack's outputs"
    )
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    parser.add_argument(
        "--endpoint-url", help="DynamoDB/API Gateway endpoint, e.g. the local stack's"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="the running local stack (`make run`): endpoints and tables from its state file",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    groups = parser.add_subparsers(dest="group", required=True)

    account = groups.add_parser("account", help="accounts and plans").add_subparsers(
        dest="action", required=True
    )
    create = account.add_parser("create", help="create an account")
    create.add_argument("--plan", choices=list(PLANS), required=True)
    create.add_argument("--name", default="")
    create.add_argument("--rpm", type=int, help="requests/min (enterprise)")
    create.add_argument("--tpm", type=int, help="tokens/min (enterprise)")
    create.add_argument(
        "--trial-usd",
        type=parse_budget,
        default=None,
        help="make it a trial with this one-off credit (USD); default: a paid account",
    )
    show = account.add_parser("show", help="show an account")
    show.add_argument("account_id")
    set_plan = account.add_parser("set-plan", help="change an account's plan")
    set_plan.add_argument("account_id")
    set_plan.add_argument("--plan", choices=list(PLANS), required=True)
    set_plan.add_argument("--rpm", type=int)
    set_plan.add_argument("--tpm", type=int)
    set_budget = account.add_parser(
        "set-budget", help="set the monthly spend limit (USD) on the account and all its keys"
    )
    set_budget.add_argument("account_id")
    set_budget.add_argument(
        "--monthly-usd",
        type=parse_budget,
        required=True,
        help="e.g. 250 or 99.50; 'none' removes it",
    )

    set_trial = account.add_parser(
        "set-trial",
        help="raise (or grant) a trial's one-off credit, or with 'none' end the trial (paid)",
    )
    set_trial.add_argument("account_id")
    set_trial.add_argument(
        "--credit-usd",
        type=parse_budget,
        required=True,
        help="the trial's total credit, e.g. 20 (what it spent still counts); 'none' = paid",
    )

    usage = groups.add_parser("usage", help="an account's metered usage for one month")
    usage.add_argument("account_id")
    usage.add_argument(
        "--month", type=parse_month, required=True, help="YYYY-MM (UTC), e.g. 2026-11"
    )
    usage.add_argument("--csv", action="store_true", help="one CSV row per day, model and key")

    key = groups.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="issue a key (printed once)")
    key_create.add_argument("account_id")
    key_create.add_argument("--name", default="")
    key_create.add_argument("--expires-in", type=parse_duration, help="e.g. 90d")
    key_list = key.add_parser("list", help="list an account's keys (prefixes only)")
    key_list.add_argument("account_id")
    revoke = key.add_parser("revoke", help="revoke a key now")
    revoke.add_argument("key_id")
    rotate = key.add_parser(
        "rotate", help="issue a replacement; the old key works for a grace period"
    )
    rotate.add_argument("key_id")
    rotate.add_argument(
        "--grace", type=parse_duration, default=DEFAULT_ROTATION_GRACE_SECONDS, help="default 24h"
    )
    return parser


def _stack_outputs(stack: str, session: Any) -> dict[str, str]:
    outputs = (
        session.client("cloudformation")
        .describe_stacks(StackName=stack)["Stacks"][0]
        .get("Outputs", [])
    )
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def _use_local_stack(args: argparse.Namespace) -> Any:
    """Point this process at the running local stack: its endpoint, region and tables (they win
    over SPARKAI_* variables meant for a deployed stack), with the local stack's fake credentials."""
    import boto3

    from sparkai_admin.local_stack import read_state

    state = read_state()
    args.endpoint_url = args.endpoint_url or state.aws_url
    os.environ.update(state.settings_env())
    return boto3.Session(
        region_name=args.region or state.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
    )


def build_admin(args: argparse.Namespace) -> AccountAdmin:
    import boto3

    if args.local:
        session = _use_local_stack(args)
    else:
        session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    env = dict(os.environ)
    if args.stack:
        outputs = _stack_outputs(args.stack, session)
        env.setdefault("SPARKAI_KEYS_TABLE", outputs["KeysTableName"])
        env.setdefault("SPARKAI_ACCOUNTS_TABLE", outputs["AccountsTableName"])
        env.setdefault("SPARKAI_RATE_LIMITS_TABLE", outputs["RateLimitsTableName"])
        env.setdefault("SPARKAI_USAGE_PLAN_PREFIX", outputs["UsagePlanPrefix"])
        if "UsageTableName" in outputs:
            env.setdefault("SPARKAI_USAGE_TABLE", outputs["UsageTableName"])
    from sparkai.config import AccountSettings, load_settings

    settings = load_settings(AccountSettings, env)
    dynamodb = retry_transaction_conflicts(
        session.client("dynamodb", endpoint_url=args.endpoint_url)
    )
    edge = (
        UsagePlanEdge(
            session.client("apigateway", endpoint_url=args.endpoint_url), settings.usage_plan_prefix
        )
        if settings.usage_plan_prefix
        else NoEdge()
    )
    return AccountAdmin(
        accounts=AccountStore(settings.accounts_table, lambda: dynamodb),
        keys=KeyStore(settings.keys_table, lambda: dynamodb),
        epochs=KeyEpochs(settings.rate_limits_table, lambda: dynamodb),
        edge=edge,
        trials=TrialCounter(settings.rate_limits_table, lambda: dynamodb),
        usage=UsageReporter(env["SPARKAI_USAGE_TABLE"], settings.accounts_table, lambda: dynamodb)
        if env.get("SPARKAI_USAGE_TABLE")
        else None,
    )


def _key_row(record: ApiKeyRecord, now: float) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "prefix": record.prefix + "…",
        "name": record.name,
        "status": record.state(now),
        "created": _when(record.created_at),
        "last_used": _when(record.last_used_at),
        "expires": _when(record.expires_at),
        "plan": record.plan,
    }


def _budget(limit: Decimal | None) -> str:
    return "none" if limit is None else f"${usd(limit)}"


def _print_usage(args: argparse.Namespace, report: dict[str, Any]) -> None:
    columns = ["date", "model", "key_id", "requests", "prompt_tokens", "completion_tokens"]
    columns += ["total_tokens", "cost_usd"]
    if args.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in report["data"])
        sys.stdout.write(out.getvalue())
        return
    totals = report["totals"]
    lines = [f"{'DATE':<11} {'MODEL':<12} {'KEY ID':<21} {'REQUESTS':>8} {'TOKENS':>12} COST (USD)"]
    lines += [
        f"{r['date']:<11} {r['model']:<12} {r['key_id']:<21} {r['requests']:>8,} "
        f"{r['total_tokens']:>12,} {r['cost_usd']}"
        for r in report["data"]
    ]
    lines.append(
        f"{'total':<46} {totals['requests']:>8,} {totals['total_tokens']:>12,} {totals['cost_usd']}"
    )
    limit = report["spend_limit_usd"]
    lines.append(
        f"month to date ${report['month_to_date_usd']}; monthly spend limit "
        f"{'none' if limit is None else '$' + limit}"
    )
    _print(args, report, "\n".join(lines))


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def run(args: argparse.Namespace, admin: AccountAdmin) -> None:
    import time

    now = time.time()
    limits = (
        Limits(args.rpm, args.tpm)
        if getattr(args, "rpm", None) and getattr(args, "tpm", None)
        else None
    )
    if args.group == "usage":
        _print_usage(args, admin.usage_report(args.account_id, args.month))
        return
    if args.group == "account":
        if args.action == "create":
            account = admin.create_account(
                args.plan, name=args.name, limits=limits, trial_credit_usd=args.trial_usd
            )
        elif args.action == "set-plan":
            account = admin.change_plan(args.account_id, args.plan, limits=limits)
        elif args.action == "set-budget":
            account = admin.set_budget(args.account_id, args.monthly_usd)
        elif args.action == "set-trial":
            account = admin.set_trial_credit(args.account_id, args.credit_usd)
        else:
            account = admin.get_account(args.account_id)
        data = {k: v for k, v in asdict(account).items() if k != "usage_key"}
        trial = ""
        if account.trial_credit_usd is not None:
            data["trial_used_usd"] = used = admin.trial_used(account.account_id)
            trial = f" (${usd(used)} used)"
        _print(
            args,
            data,
            f"{account.account_id}  plan={account.plan}  {account.limits.requests_per_minute:,} requests/min, "
            f"{account.limits.tokens_per_minute:,} tokens/min  "
            f"monthly spend limit={_budget(account.spend_limit_usd)}  "
            f"trial={'none (paid)' if account.trial_credit_usd is None else _budget(account.trial_credit_usd) + ' credit' + trial}  "
            f"name={account.name!r}",
        )
        if account.trial_credit_usd is not None and args.action in {"set-plan", "set-budget"}:
            # A plan or budget change does not end a trial: the credit still caps the account.
            print(
                f"sparkai-admin: {account.account_id} is still a trial (a one-off "
                f"{_budget(account.trial_credit_usd)} credit); a paying customer's account ends it "
                f"with: account set-trial {account.account_id} --credit-usd none",
                file=sys.stderr,
            )
    elif args.action in {"create", "rotate"}:
        if args.action == "create":
            created = admin.create_key(args.account_id, name=args.name, expires_in=args.expires_in)
        else:
            created = admin.rotate_key(args.key_id, grace_seconds=args.grace)
        row = _key_row(created.record, now)
        _print(
            args,
            {"key": created.secret, **row},
            f"{created.secret}\n\nThis is the only time the key is shown: store it now.\n"
            f"key_id={row['key_id']}  account={created.record.account_id}  expires={row['expires']}",
        )
    elif args.action == "list":
        rows = [_key_row(r, now) for r in admin.list_keys(args.account_id)]
        lines = [
            f"{'KEY ID':<22} {'PREFIX':<16} {'STATUS':<8} {'CREATED':<21} {'LAST USED':<21} NAME"
        ]
        lines += [
            f"{r['key_id']:<22} {r['prefix']:<16} {r['status']:<8} {r['created']:<21} {r['last_used']:<21} {r['name']}"
            for r in rows
        ]
        _print(args, rows, "\n".join(lines))
    elif args.action == "revoke":
        record = admin.revoke_key(args.key_id)
        _print(args, _key_row(record, now), f"{record.key_id} revoked")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        run(args, build_admin(args))
    except (AdminError, EdgeQuotaError, LookupError) as exc:
        print(f"sparkai-admin: {exc}", file=sys.stderr)
        return 1
    except ConfigurationError as exc:  # one sentence saying what to set, never a traceback
        print(f"sparkai-admin: {_configuration_hint(exc)}", file=sys.stderr)
        return 2
    except BotoCoreError as exc:  # no credentials or region, endpoint unreachable
        print(f"sparkai-admin: {exc}", file=sys.stderr)
        return 1
    return 0


def _configuration_hint(exc: ConfigurationError) -> str:
    message = str(exc)
    if "must be set" in message:
        return (
            f"{message.split(' (')[0]}: pass --stack NAME (a deployed stack), --local (the running "
            "`make run` stack) or set the SPARKAI_* variables."
        )
    return message


if __name__ == "__main__":
    sys.exit(main())
