"""``python -m opendata.freshness``: the monitor from the command line.

    python -m opendata.freshness status [--all]              every public dataset's freshness (sends nothing)
    python -m opendata.freshness comments list               public comments waiting for an answer
    python -m opendata.freshness comments answered ID [--by NAME]
                                                             the coordinator answered: no more reminders

The same registry, portal connection and dataset files as the DAG (OPENDATA_REGISTRY_URL or
the ``opendata_registry`` connection, ``socrata_default``, OPENDATA_INCLUDE_DIR).
:func:`register` adds these commands to another parser (``opendata freshness ...``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from opendata.deployment import NotConfigured, load_demo_settings, require_connection, require_registry

if TYPE_CHECKING:
    from opendata.freshness.alert_store import AlertStore
    from opendata.registry import Registry


def _status(args: argparse.Namespace) -> int:
    from opendata.freshness.monitor import MonitorSettings, World, evaluate_now

    settings = MonitorSettings.from_env()
    world = World.connect(settings)
    try:
        evaluations = evaluate_now(world, settings, dt.datetime.now(dt.UTC))
    finally:
        world.close()
    from opendata.freshness.report import local

    shown = [ev for ev in evaluations if args.all or ev.state.value != "fresh"]
    for ev in shown:
        s = ev.status
        last = f"{local(s.last_update, settings.timezone):%Y-%m-%d %H:%M %Z}" if s.last_update else "never"
        late = f"{s.days_late:.1f} d late" if s.days_late else ""
        print(f"{ev.state.value:<12} {ev.dataset.dataset_id:<40} {ev.dataset.frequency:<13} {last:<22} {late}")
        for finding in ev.findings:
            print(f"{'':<13}{finding.message}")
    counts: dict[str, int] = {}
    for ev in evaluations:
        counts[ev.state.value] = counts.get(ev.state.value, 0) + 1
    print(f"{len(evaluations)} public dataset(s): " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def _store() -> tuple[Registry, AlertStore]:
    from opendata.freshness.alert_store import AlertStore
    from opendata.registry import Registry

    registry = Registry.from_settings()
    return registry, AlertStore(registry)


def _comments_list(args: argparse.Namespace) -> int:
    from opendata.freshness.comments import answer_deadline
    from opendata.freshness.monitor import MonitorSettings
    from opendata.freshness.report import local

    settings = MonitorSettings.from_env()
    registry, store = _store()
    try:
        waiting = [(s.pending_since, s) for s in store.comment_states().values() if s.pending_since is not None]
    finally:
        registry.close()
    for pending_since, state in sorted(waiting, key=lambda waits: waits[0]):
        since = local(pending_since, settings.timezone)
        deadline = local(answer_deadline(state, settings.answer_within, settings.timezone), settings.timezone)
        print(f"{state.dataset_id:<40} {state.count:>4} comment(s), waiting since {since:%Y-%m-%d %H:%M %Z}, "
              f"answer by {deadline:%Y-%m-%d %H:%M %Z}")
    print(f"{len(waiting)} dataset(s) with comments waiting for an answer")
    return 0


def _comments_answered(args: argparse.Namespace) -> int:
    from opendata.freshness.alert_store import NotWatched

    registry, store = _store()
    try:
        state = store.mark_comment_answered(args.dataset_id, by=args.by)
    except NotWatched:
        print(f"{args.dataset_id}: the comment watch has not read this dataset yet", file=sys.stderr)
        return 1
    finally:
        registry.close()
    print(f"{args.dataset_id}: {state.count} comment(s) marked answered"
          + (f" by {state.answered_by}" if state.answered_by else ""))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``status`` and ``comments`` under a ``freshness`` command of another parser."""
    parser = commands.add_parser("freshness", help="the freshness monitor and the public comment watch")
    _add_commands(parser)
    return parser


def _add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="freshness_command", required=True)
    status = commands.add_parser("status", help="every public dataset's freshness now (sends nothing)")
    status.add_argument("--all", action="store_true", help="also list the fresh ones")
    status.set_defaults(func=_status, needs=(require_registry, _require_portal))
    comments = commands.add_parser("comments", help="the public comment watch")
    comment_commands = comments.add_subparsers(dest="comments_command", required=True)
    listing = comment_commands.add_parser("list", help="comments waiting for an answer")
    listing.set_defaults(func=_comments_list, needs=(require_registry,))
    answered = comment_commands.add_parser("answered", help="mark a dataset's public comments answered")
    answered.add_argument("dataset_id")
    answered.add_argument("--by", help="who answered (recorded in the registry)")
    answered.set_defaults(func=_comments_answered, needs=(require_registry,))


def _require_portal() -> None:
    from opendata.freshness.monitor import MonitorSettings

    require_connection(MonitorSettings.from_env().socrata_conn_id, "the portal the monitor reads")


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point; ``opendata freshness`` goes through :func:`opendata.cli.main`."""
    parser = argparse.ArgumentParser(prog="python -m opendata.freshness", description=__doc__.split("\n\n")[0])
    _add_commands(parser)
    args = parser.parse_args(argv)
    try:
        # Before anything imports Airflow, which reads AIRFLOW_HOME and its settings once.
        load_demo_settings()
        needs: tuple[Callable[[], None], ...] = args.needs
        for need in needs:
            need()
        command: Callable[[argparse.Namespace], int] = args.func
        return command(args)
    except NotConfigured as exc:
        print(f"python -m opendata.freshness: {exc}", file=sys.stderr)
        return 2
