"""Command line: ``serve`` runs the emulator, ``review`` works the approval queue over HTTP.

Passwords never come from argv (visible in ``ps``): ``serve`` also reads accounts from
``PORTAL_EMULATOR_ACCOUNTS`` and ``review`` reads its password from an environment variable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime

from .config import (
    ACCOUNTS_ENV,
    DEFAULT_CATEGORIES,
    DEFAULT_FIELDSETS,
    SIGN_IN_HINT_ENV,
    STRICT_ENV,
    STRICT_LOST_ANSWER_RATE,
    STRICT_PARSE_COMPLETE_SECONDS,
    EmulatorConfig,
    FaultSettings,
    parse_accounts,
    parse_categories,
    parse_fieldsets,
)

DEFAULT_PASSWORD_ENV = "PORTAL_EMULATOR_PASSWORD"
# Lets a process that starts the emulator for you (the demo) choose the lost answers' share.
LOST_ANSWER_RATE_ENV = "PORTAL_EMULATOR_LOST_ANSWER_RATE"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m portal_emulator", description="A local Socrata portal emulator."
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the emulator HTTP server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--state", required=True, help="SQLite file holding all portal state")
    s.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="NAME:PASSWORD:ROLE",
        help=f"an account (roles: publisher, reviewer, admin); repeatable; also ${ACCOUNTS_ENV}",
    )
    s.add_argument("--domain", help="domain name the portal reports (default: the request's Host)")
    s.add_argument(
        "--approvals",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="public audience needs a reviewer's approval (--no-approvals: public at once)",
    )
    s.add_argument(
        "--approval-applies-audience",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="approving a public audience request makes the dataset public",
    )
    s.add_argument(
        "--require-socrata-host",
        action="store_true",
        help="authenticated Discovery/Metadata calls see private assets only with X-Socrata-Host",
    )
    s.add_argument("--fault-rate", type=float, default=0.0)
    s.add_argument("--fault-kinds", default="500", help="comma list of 429,500,502,503,504,202,timeout,slow")
    s.add_argument(
        "--fault-after-ratio",
        type=float,
        default=0.25,
        help="share of faults that strike after the request was applied",
    )
    s.add_argument("--fault-seed", type=int)
    s.add_argument("--fault-retry-after", type=float, help="send Retry-After (seconds) with 429/503 faults")
    s.add_argument("--slow-seconds", type=float, default=2.0)
    s.add_argument("--timeout-seconds", type=float, default=15.0)
    s.add_argument(
        "--upload-chunk-size",
        type=int,
        default=4 * 1024 * 1024,
        help="preferred_chunk_size (bytes) that DSMAPI chunked uploads are offered",
    )
    s.add_argument(
        "--apply-stage-seconds",
        type=float,
        default=0.1,
        help="time each stage of a revision apply job takes before the next one starts",
    )
    s.add_argument(
        "--sync-parse-seconds",
        type=float,
        default=5.0,
        help="an upload waits this long for its parse to finish before answering",
    )
    s.add_argument(
        "--categories",
        default=",".join(DEFAULT_CATEGORIES),
        help="comma list of the domain's categories ('*': any); the Metadata API reports others "
        "(default: the bundled sample datasets' categories)",
    )
    s.add_argument(
        "--fieldsets",
        default=";".join(f"{name}={','.join(fields)}" for name, fields in DEFAULT_FIELDSETS.items()),
        help="the domain's custom fieldsets as 'Fieldset=Field,Field;Other=Field' ('*': any, '': none); "
        "the Metadata API reports others (default: what the pipeline writes)",
    )
    s.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes"),
        help="the real portal's inconvenient behaviours: guessed DSMAPI column types, output schemas "
        "complete after the bytes stop, applies to public datasets held for approval, lost answers "
        f"(default: ${STRICT_ENV}=1)",
    )
    s.add_argument(
        "--parse-complete-seconds",
        type=float,
        help=f"an output schema completes this long after its upload's bytes stopped "
        f"(default: {STRICT_PARSE_COMPLETE_SECONDS} with --strict, else 0)",
    )
    s.add_argument(
        "--lost-answer-rate",
        type=float,
        default=float(os.environ[LOST_ANSWER_RATE_ENV]) if os.environ.get(LOST_ANSWER_RATE_ENV) else None,
        help=f"share of API writes applied and then answered 500/502 (default: ${LOST_ANSWER_RATE_ENV}, else "
        f"{STRICT_LOST_ANSWER_RATE} with --strict, else 0)",
    )
    s.add_argument("--lost-answer-seed", type=int, help="seed of the lost answers' random choices")
    s.add_argument(
        "--sign-in-hint",
        default=os.environ.get(SIGN_IN_HINT_ENV) or None,
        help=f"text shown on every 'Sign in required' page, e.g. where the reviewer's password is "
        f"(default: ${SIGN_IN_HINT_ENV})",
    )
    s.add_argument("--log-level", default="info")

    r = sub.add_parser("review", help="list, approve or reject pending public audience requests")
    r.add_argument("--url", default="http://127.0.0.1:8765")
    r.add_argument("--user", required=True)
    r.add_argument(
        "--password-env", default=DEFAULT_PASSWORD_ENV, help="environment variable holding the password"
    )
    rs = r.add_subparsers(dest="action", required=True)
    rs.add_parser("list", help="datasets waiting for approval")
    for action in ("approve", "reject"):
        a = rs.add_parser(action)
        a.add_argument("dataset_id", help="DATASET_ID, or DATASET_ID:REVISION_SEQ for a held revision")
        a.add_argument("--notes", default="")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return review(args)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .faults import validate

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("portal_emulator")
    try:
        accounts = parse_accounts(args.account, os.environ.get(ACCOUNTS_ENV))
        faults = validate(
            FaultSettings(
                rate=args.fault_rate,
                kinds=[k for k in args.fault_kinds.split(",") if k],
                slow_seconds=args.slow_seconds,
                timeout_seconds=args.timeout_seconds,
                after_ratio=args.fault_after_ratio,
                retry_after=args.fault_retry_after,
                seed=args.fault_seed,
                lost_answer_rate=_strict_default(args.lost_answer_rate, args.strict, STRICT_LOST_ANSWER_RATE),
                lost_answer_seed=args.lost_answer_seed,
            )
        )
        categories = parse_categories(args.categories)
        fieldsets = parse_fieldsets(args.fieldsets)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        state_path=args.state,
        accounts=accounts,
        approvals_enabled=args.approvals,
        approval_applies_audience=args.approval_applies_audience,
        require_socrata_host=args.require_socrata_host,
        domain=args.domain,
        faults=faults,
        upload_chunk_size=args.upload_chunk_size,
        apply_stage_seconds=args.apply_stage_seconds,
        sync_parse_seconds=args.sync_parse_seconds,
        strict=args.strict,
        parse_complete_seconds=_strict_default(
            args.parse_complete_seconds, args.strict, STRICT_PARSE_COMPLETE_SECONDS
        ),
        categories=categories,
        fieldsets=fieldsets,
        sign_in_hint=args.sign_in_hint,
    )
    if (
        config.upload_chunk_size < 1
        or config.apply_stage_seconds < 0
        or config.sync_parse_seconds < 0
        or config.parse_complete_seconds < 0
    ):
        print("error: chunk size must be positive and times non-negative", file=sys.stderr)
        return 2
    _, asgi = create_app(config)
    # Names and roles only: passwords are never logged.
    log.info(
        "accounts: %s", ", ".join(f"{a.name} ({a.role})" for a in accounts.values()) or "none (read-only)"
    )
    log.info(
        "state %s, approvals %s, faults %.2f %s",
        args.state,
        "on" if args.approvals else "off",
        faults.rate,
        ",".join(faults.kinds),
    )
    log.info(
        "strict mode %s: output schemas complete %.1fs after the bytes, lost answers %.3f",
        "on" if config.strict else "off",
        config.parse_complete_seconds,
        faults.lost_answer_rate,
    )
    log.info(
        "categories: %s; custom fieldsets: %s",
        "any" if categories is None else ", ".join(categories) or "none",
        "any" if fieldsets is None else "; ".join(f"{k} ({', '.join(v)})" for k, v in fieldsets.items()) or "none",
    )
    # uvicorn's own access log is off: ours (faults.py) adds the account name and the fault, and
    # redacts app tokens. Short graceful shutdown so held "timeout" requests do not delay exit.
    uvicorn.run(
        asgi,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=2,
        log_config=None,
    )
    return 0


def _strict_default(value: float | None, strict: bool, strict_value: float) -> float:
    """An explicit flag wins; otherwise strict mode switches the behaviour on, else it is off."""
    if value is not None:
        return value
    return strict_value if strict else 0.0


def review(args: argparse.Namespace) -> int:
    import requests

    password = os.environ.get(args.password_env)
    if not password:
        print(f"error: set the reviewer's password in ${args.password_env}", file=sys.stderr)
        return 2
    session = requests.Session()
    session.auth = (args.user, password)
    session.headers["X-Socrata-Host"] = args.url.split("://", 1)[-1].rstrip("/")
    base = args.url.rstrip("/")
    try:
        if args.action == "list":
            return _list(session, base)
        return _decide(
            session, base, args.dataset_id, "approved" if args.action == "approve" else "rejected", args.notes
        )
    except requests.RequestException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _check(resp) -> dict:
    if resp.status_code != 200:
        try:
            message = resp.json().get("message") or resp.json().get("error")
        except ValueError:
            message = resp.text[:200]
        raise SystemExit(f"error: HTTP {resp.status_code}: {message}")
    return resp.json()


def _list(session, base: str) -> int:
    # Every dataset, not approval_status=pending: a revision held for approval is a draft of its
    # own, so Discovery's status of the (public, approved) dataset does not show it.
    found = _check(session.get(f"{base}/api/catalog/v1", params={"limit": 10000}))
    lines = []
    for entry in found["results"]:
        ds_id = entry["resource"]["id"]
        view = _check(session.get(f"{base}/api/views/{ds_id}.json"))
        for a in view.get("approvals", []):
            if a["state"] != "pending":
                continue
            asset = ds_id if a["submissionObject"] != "revision" else f"{ds_id}:{a['submissionDetails']['id']}"
            when = datetime.fromtimestamp(a["submittedAt"], UTC).strftime("%Y-%m-%d %H:%M")
            lines.append(f"{asset:<13} {when:<17} {a['submitter']['displayName']:<14} {entry['resource']['name']}")
    if not lines:
        print("Nothing is waiting for approval.")
        return 0
    print(f"{'ASSET':<13} {'SUBMITTED (UTC)':<17} {'SUBMITTER':<14} NAME")
    print("\n".join(lines))
    return 0


def _decide(session, base: str, dataset_id: str, state: str, notes: str) -> int:
    guidance = _check(
        session.get(  # assetId 4x4:seq names a revision draft (approvals.yaml)
            f"{base}/api/views/{dataset_id.split(':')[0]}/approvals",
            params={"method": "guidance_v2", "assetId": dataset_id},
        )
    )["public"]
    if guidance["currentState"] != "pending" or not guidance.get("updateUrl"):
        print(
            f"error: {dataset_id} has no pending approval (state: {guidance['currentState']})",
            file=sys.stderr,
        )
        return 1
    result = _check(session.put(guidance["updateUrl"], json={"state": state, "notes": notes}))
    print(f"{dataset_id}: {result['state']} (submission {result['submissionId']})")
    return 0
