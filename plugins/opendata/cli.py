"""The ``opendata`` command line.

    opendata lint [--include DIR] [FILE...]  check every dataset file and the governance file (FILEs: report
                                           only theirs, for the pre-commit hook)
    opendata new ID --department D (--sql CONN TABLE_OR_QUERY | --file PATH | --http URL [--records-path P])
                                           draft a dataset file from its source; TODOs where a person must write
    opendata samples generate [--out DIR]  write the seeded sample sources
    opendata samples load-sql URL          load the building-permits sample into a database
    opendata samples serve-api [--port N]  serve the restaurant-inspections sample as a JSON API
    opendata adopt PORTAL_ID --by PERSON   take over a dataset already public on the portal (its file, the registry)
    opendata adopt --department D (--owner U | --category C) --by PERSON   a batch from the catalog, one file each
    opendata registry init                 create the publication registry's database and tables
    opendata pools                         create or resize the Airflow pool of portal writes (socrata_writes)
    opendata history list|export ID        archived versions of a dataset; export one as CSV
    opendata retire ID --reason --approved-by   stop refreshing a dataset (it stays published)
    opendata freshness status|comments     the freshness monitor and the public comment watch
    opendata catalog data-json [--out F]   the published inventory as DCAT-US 1.1 data.json
    opendata report quarterly [--quarter 2026-q3] [--email]   the working group's quarterly report
    opendata portal doctor [--conn-id ID] [--json]   read-only check of a real portal before the first run
    opendata check ID [--out DIR] [--keep-extract]   dry run: extract and validate here, no portal, no scheduler
    opendata demo [--check] [--celery]     run the whole demo (make run); --check exits once ready;
                                           --celery on Celery workers that share no disk
    opendata mailbox [--port N] [--dir D]  catch the pipeline's e-mail locally, one .eml file per message

``lint`` exits 1 on any error, for pre-commit hooks and CI; ``portal doctor`` exits 1 when a check FAILs;
``check`` exits 1 on an error finding (or a failed extract), 2 when the dataset file does not pass lint;
``new`` exits 2 with one line naming what is wrong (an unknown connection, table or department, a file there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from opendata import settings
from opendata.deployment import require_registry


def _lint(args: argparse.Namespace) -> int:
    from opendata.registry.stage_snapshot import read_dataset_files, read_stages
    from opendata.spec.cache import ShardedParseCache
    from opendata.spec.loader import dataset_files, load_catalog
    from opendata.spec.prefill import prefill

    include = Path(args.include) if args.include else settings.include_dir()
    # The record of which file holds each id (and the stages) as the deployment has them, read only.
    # The parse cache is the DAG processor's: files it has checked are not parsed again, and files
    # checked here are not parsed again by the next DAG parse.
    cache = ShardedParseCache.for_include(include, settings.state_dir()) if settings.parse_cache_enabled() else None
    if cache is not None:
        # Files the cache has no result for are parsed on every CPU first (the load finds them there).
        prefill(cache, dataset_files(include / "datasets"), include)
    catalog = load_catalog(include, record=read_dataset_files(), stages=read_stages(), cache=cache)
    if cache is not None:
        cache.save()
    ignored = settings.settings_problems()
    for problem in ignored:
        print(f"settings: {problem}", file=sys.stderr)
    if args.files:
        return _lint_files(args.files, include, catalog, ignored)
    for error in catalog.errors:
        print(error, file=sys.stderr)
    for warning in catalog.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    files = {str(error.file) for error in catalog.errors}
    warned = f", {len(catalog.warnings)} warning(s)" if catalog.warnings else ""
    # Valid planned files (status: planned) are counted apart: they build no DAG.
    planned = f", {len(catalog.planned)} planned" if catalog.planned else ""
    print(f"{len(catalog.datasets)} dataset file(s) valid{planned}, {len(catalog.errors)} error(s) in {len(files)} "
          f"file(s){warned} under {include}")
    return 1 if catalog.errors or ignored else 0


def _lint_files(named: list[str], include: Path, catalog, ignored: list[str]) -> int:
    """Lint's answer for the files a pre-commit hook hands over (the ones a commit changes): the
    whole include folder was checked (ids and holders are cross-file), their errors are shown,
    and the governance file's (every dataset file depends on it); other files' errors are only
    counted, so that a commit is held up by what it changes."""
    from opendata.spec.loader import dataset_files

    def key(path: Path | str) -> Path:
        return Path(path).absolute().resolve()

    known = {key(path) for path in dataset_files(include / "datasets")} | {key(settings.governance_file(include))}
    wanted = {key(name) for name in named}
    for outside in sorted(wanted - known):
        print(f"warning: {outside} is not a dataset file of {include} (include/datasets/<department>/<id>.yaml) "
              f"or its governance file; not checked", file=sys.stderr)
    shown = wanted | {key(settings.governance_file(include))}
    errors = [error for error in catalog.errors if key(error.file) in shown]
    for error in errors:
        print(error, file=sys.stderr)
    for warning in catalog.warnings:
        if key(warning.file) in shown:
            print(f"warning: {warning}", file=sys.stderr)
    others = {str(error.file) for error in catalog.errors if key(error.file) not in shown}
    elsewhere = f"; {len(others)} other file(s) have errors (run `opendata lint`)" if others else ""
    checked = len(wanted & known)
    print(f"{checked} named file(s) checked: {len(errors)} error(s) in {len({str(e.file) for e in errors})} "
          f"file(s){elsewhere}")
    return 1 if errors or ignored else 0


def _new(args: argparse.Namespace) -> int:
    from opendata.scaffold.command import NewRequest, run_new, summary
    from opendata.scaffold.errors import ScaffoldError

    include = Path(args.include) if args.include else settings.include_dir()
    request = NewRequest(dataset_id=args.dataset_id, department=args.department, include_dir=include,
                         sql=tuple(args.sql) if args.sql else None, file=Path(args.file) if args.file else None,
                         http=args.http, records_path=args.records_path, name=args.name, sample_rows=args.sample_rows,
                         overwrite=args.overwrite, stdout=args.stdout)
    try:
        result = run_new(request)
    except ScaffoldError as exc:
        print(f"opendata new: {exc}", file=sys.stderr)
        return 2
    if args.stdout:
        sys.stdout.write(result.text)
    print(summary(result, include), file=sys.stderr if args.stdout else sys.stdout)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from opendata.spec.json_schema import schema_path, schema_text

    text = schema_text()
    if not args.write:
        sys.stdout.write(text)
        return 0
    include = Path(args.include) if args.include else settings.include_dir()
    target = schema_path(include)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from opendata.samples.generate import generate_all

    out = Path(args.out) if args.out else settings.include_dir() / "sample_sources"
    for name, rows in generate_all(out).items():
        print(f"{out / name}: {rows:,} rows")
    return 0


def _load_sql(args: argparse.Namespace) -> int:
    from opendata.samples.sql import load_permits

    csv_path = Path(args.csv) if args.csv else settings.include_dir() / "sample_sources" / "building_permits.csv"
    rows = load_permits(args.url, csv_path)
    print(f"loaded {rows:,} building permits into table building_permits")
    return 0


def _serve_api(args: argparse.Namespace) -> int:
    from opendata.samples.api_server import make_server

    server = make_server(settings.include_dir() / "sample_sources" / "restaurant_inspections.json",
                         args.host, args.port)
    print(f"serving the inspections sample at http://{args.host}:{server.server_address[1]}/api/v1/inspections",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.celery:
        from opendata.cluster.command import main as cluster_main

        return cluster_main(check_only=args.check)
    from opendata.demo import main as demo_main

    return demo_main(check_only=args.check)


def _adopt(args: argparse.Namespace) -> int:
    """`opendata adopt`: one portal dataset, or a batch from the catalog; nothing is sent to the portal."""
    import os
    import time

    # The hook's line per request belongs in a task log; here it would split the summary lines. Set
    # before Airflow is first imported (its logging reads it once); a level the user set wins.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    from opendata.adopt.take_over import AdoptRequest, Outcome, adopt_batch, catalog_ids
    from opendata.portal.errors import SocrataError
    from opendata.portal.hook import SocrataHook
    from opendata.registry import Registry
    from opendata.scaffold.errors import ScaffoldError
    from opendata.spec.errors import did_you_mean
    from opendata.spec.loader import load_governance

    def refuse(message: str) -> int:
        print(f"opendata adopt: {message}", file=sys.stderr)
        return 2

    batch = args.owner is not None or args.category is not None
    if batch == (args.portal_id is not None):
        return refuse("give one PORTAL_ID, or --department with --owner or --category for a batch")
    if batch and (args.department is None or args.id is not None or args.sql or args.file or args.http):
        return refuse("a batch takes --department, and no --id or source (each dataset's file says its own)")
    include = Path(args.include) if args.include else settings.include_dir()
    governance, errors = load_governance(settings.governance_file(include), root=include)
    if governance is None:
        return refuse(f"the governance file has errors; fix them first (opendata lint): {errors[0] if errors else ''}")
    if args.by not in governance.people:
        hint = did_you_mean(args.by, set(governance.people))
        return refuse(f"--by {args.by!r} is not a person of governance.yaml" + (f" (did you mean '{hint}'?)" if hint
                                                                               else ""))
    if args.department is not None and args.department not in governance.departments:
        hint = did_you_mean(args.department, set(governance.departments))
        return refuse(f"--department {args.department!r} is not a department of governance.yaml"
                      + (f" (did you mean '{hint}'?)" if hint else ""))
    profile = None
    try:
        if args.sql:
            from opendata.scaffold.profile import profile_sql

            profile = profile_sql(args.sql[0], args.sql[1])
        elif args.file:
            from opendata.scaffold.profile import profile_file

            profile = profile_file(args.file, include_dir=include)
        elif args.http:
            from opendata.scaffold.profile import profile_http

            profile = profile_http(args.http, args.records_path)
    except ScaffoldError as exc:
        return refuse(str(exc))
    request = AdoptRequest(include_dir=include, governance=governance, by=args.by, department=args.department,
                           dataset_id=args.id, overwrite=args.overwrite, dry_run=args.dry_run, profile=profile)
    started = time.monotonic()
    with SocrataHook(args.conn_id) as hook:
        try:
            ids = catalog_ids(hook, category=args.category, owner=args.owner) if batch else [args.portal_id]
        except SocrataError as exc:
            return refuse(f"the portal's catalog cannot be read: {exc}")
        registry = Registry.from_settings()
        results = []
        for result in adopt_batch(hook, registry, ids, request):
            results.append(result)
            print(result.line(), flush=True)
            for line in result.mismatch:
                print(f"    column mismatch: {line}")
            if not batch:
                for path, text in result.todos:
                    print(f"    {path}: {text}")
            if result.text is not None:
                print(result.text)
    counts = {outcome: sum(r.outcome is outcome for r in results) for outcome in Outcome}
    if batch:
        print(f"{len(results)} dataset(s) in {time.monotonic() - started:.1f} s: "
              + ", ".join(f"{n} {outcome.value}" for outcome, n in counts.items() if n))
        return 1 if counts[Outcome.FAILED] else 0
    return 0 if results and results[0].outcome in (Outcome.ADOPTED, Outcome.DRY_RUN, Outcome.ALREADY) else 1


def _mailbox(args: argparse.Namespace) -> int:
    from opendata.notify.mailbox import serve

    return serve(args.dir, args.host, args.port)


def _registry_init(args: argparse.Namespace) -> int:
    from opendata.registry import Registry
    from opendata.registry.store import create_database_if_missing, registry_url

    url = registry_url()
    if create_database_if_missing(url):
        print("created the registry database")
    registry = Registry(url)
    print(f"registry ready ({registry.engine.url.render_as_string(hide_password=True)})")
    registry.close()
    return 0


def _pools(args: argparse.Namespace) -> int:
    """Create the ``socrata_writes`` pool, or set its size, in Airflow's configured metadata
    database (idempotent: the demo, the compose init service and the distributed test call it at
    every start). Deferred tasks take no slot: a dataset waiting days for its review holds none."""
    try:
        slots = settings.socrata_write_slots()
    except ValueError as exc:
        print(f"opendata pools: {exc}", file=sys.stderr)
        return 2
    import sqlalchemy as sa
    from airflow.models.pool import Pool

    name = settings.SOCRATA_WRITE_POOL
    description = (f"Tasks that write to the Socrata portal (Socrata throttles per account); size: "
                   f"{settings.SOCRATA_WRITE_SLOTS_VAR}")
    try:
        before = Pool.get_pool(name)
        previous = before.slots if before is not None else None
        Pool.create_or_update_pool(name, slots, description, include_deferred=False)
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        print(f"opendata pools: Airflow's metadata database cannot be used ({type(exc).__name__}: {reason}); "
              f"run `airflow db migrate` first and check [database] sql_alchemy_conn", file=sys.stderr)
        return 1
    if previous is None:
        print(f"created pool {name} with {slots} slot(s)")
    elif previous != slots:
        print(f"resized pool {name} from {previous} to {slots} slot(s)")
    else:
        print(f"pool {name} has {slots} slot(s) already")
    return 0


def _history_list(args: argparse.Namespace) -> int:
    from opendata.registry import Registry

    versions = Registry.from_settings().versions(args.dataset_id)
    if not versions:
        print(f"no published versions of {args.dataset_id}")
        return 1
    for v in versions:
        where = v.archive_path or f"pruned {v.pruned_at:%Y-%m-%d}"
        print(f"{v.published_at:%Y-%m-%d %H:%M}  {v.kind:<11} {v.rows:>10,} rows  {v.checksum[:12]}  "
              f"{v.run_id}  {where}")
    return 0


def _history_export(args: argparse.Namespace) -> int:
    import pyarrow.csv as pacsv

    from opendata.lifecycle.context import load_spec
    from opendata.lifecycle.history import restore
    from opendata.registry import Registry

    spec = load_spec(args.dataset_id)
    table = restore(Registry.from_settings(), args.dataset_id, args.run, spec.publishing.row_identifier)
    pacsv.write_csv(table, args.out)
    print(f"wrote {table.num_rows:,} rows of {args.dataset_id} as published by {args.run} to {args.out}")
    return 0


def _retire(args: argparse.Namespace) -> int:
    from opendata.lifecycle.inputs import TaskInputs
    from opendata.notify import NotificationEvent, notify
    from opendata.registry import Registry

    dataset = TaskInputs(args.dataset_id)  # the dataset and governance files, read once each
    spec = dataset.spec  # a clear error for a dataset id that does not exist
    registry = Registry.from_settings()
    registry.record_retirement(args.dataset_id, reason=args.reason, approved_by=args.approved_by)
    state = registry.get_state(args.dataset_id)  # recorded just now
    notify(NotificationEvent.RETIRED, spec, dataset.governance, {}, portal_id=state.portal_id if state else None,
           notes=args.reason, reviewer=args.approved_by)
    print(f"{args.dataset_id} is retired: no more refreshes; the published data stays on the portal")
    return 0


def _data_json(args: argparse.Namespace) -> int:
    from opendata.catalog.program import publish_data_json

    written = publish_data_json(socrata_conn_id=args.conn_id, path=Path(args.out) if args.out else None)
    print(f"wrote {written.path}: {len(written.listed)} published dataset(s)"
          + (f"; carried over {', '.join(written.carried_over)}" if written.carried_over else "")
          + (f"; missing (dataset file does not load): {', '.join(written.missing)}" if written.missing else ""))
    return 0


def _quarterly_report(args: argparse.Namespace) -> int:
    from opendata import storage
    from opendata.catalog.program import email_quarterly_report, write_quarterly_report
    from opendata.catalog.quarterly import parse_quarter, previous_quarter, report_title
    from opendata.lifecycle.context import read_governance, valid_governance

    try:
        quarter = parse_quarter(args.quarter) if args.quarter else previous_quarter(dt.datetime.now(dt.UTC))
    except ValueError as exc:
        print(f"opendata report quarterly: {exc}", file=sys.stderr)
        return 2
    files = write_quarterly_report(quarter, out_dir=Path(args.out) if args.out else None)
    print(f"{report_title(files.report)}\n  {storage.recorded(files.html)}\n  {storage.recorded(files.csv)}")
    if args.email:
        sent = email_quarterly_report(files, valid_governance(*read_governance()), smtp_conn_id=args.smtp_conn_id)
        print(f"e-mailed to {', '.join(sent)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """``opendata check DATASET_ID``: extract and validate on this machine (opendata.dryrun)."""
    import logging
    import os

    import sqlalchemy as sa

    from opendata.dryrun.check import ProgressOnly, dry_run, summary_lines
    from opendata.lifecycle.context import read_governance
    from opendata.sources.base import ExtractError
    from opendata.sources.coerce import SchemaMismatch
    from opendata.spec.errors import SpecFileError, did_you_mean
    from opendata.spec.loader import dataset_file_for, dataset_files, load_dataset

    include = Path(args.include) if args.include else settings.include_dir()
    if args.include:
        # The extract resolves the file's relative source paths against the deployment's include folder.
        os.environ["OPENDATA_INCLUDE_DIR"] = str(include.absolute())
    name = f"opendata check {args.dataset_id}"
    try:
        path = dataset_file_for(args.dataset_id, include)
    except SpecFileError as exc:
        print(f"{name}:\n{exc}", file=sys.stderr)
        return 2
    if path is None:
        known = sorted({p.stem for p in dataset_files(include / "datasets")})
        hint = did_you_mean(args.dataset_id, known)
        print(f"{name}: no dataset file for {args.dataset_id!r} under {include / 'datasets'}"
              + (f" (did you mean {hint!r}?)" if hint else ""), file=sys.stderr)
        return 2
    governance, governance_errors = read_governance()
    spec, errors = load_dataset(path, governance, include)
    if spec is None:
        for error in [*governance_errors, *errors]:
            print(error, file=sys.stderr)
        print(f"{name}: the dataset file does not pass lint; nothing was read", file=sys.stderr)
        return 2
    first_publication, previous_rows = True, None
    if not args.first_publication and os.environ.get("OPENDATA_REGISTRY_URL"):
        # A configured deployment's registry says whether the dataset is public already (the checks
        # of a refresh then apply); never created here, read with a short timeout.
        first_publication, previous_rows = _recorded_publication(args.dataset_id, name)
    out = Path(args.out) if args.out else Path.cwd() / ".opendata" / "check" / args.dataset_id
    # The extract's and validation's progress lines (rows read, validated), as in the task log.
    progress = logging.StreamHandler(sys.stderr)
    progress.setFormatter(logging.Formatter("%(message)s"))
    progress.addFilter(ProgressOnly())
    logging.basicConfig(level=logging.INFO, handlers=[progress])
    for noisy in ("airflow", "sqlalchemy", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        run = dry_run(spec, out, first_publication=first_publication, previous_rows=previous_rows,
                      keep_extract=args.keep_extract)
    except (ExtractError, SchemaMismatch, OSError) as exc:
        print(f"{name}: the extract failed: {exc}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        print(f"{name}: the source database refused the extract ({type(exc).__name__}: {reason})", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(run)))
    return 0 if run.passed else 1


def _recorded_publication(dataset_id: str, name: str) -> tuple[bool, int | None]:
    """(first publication?, the published row count) as the registry records them; a first
    publication when the registry cannot be read (said on stderr)."""
    import sqlalchemy as sa

    from opendata.registry import Registry
    from opendata.registry.errors import RegistryUnavailable

    try:
        state = Registry.from_settings(dataset_id, connect_timeout=2).get_state(dataset_id)
    except (RegistryUnavailable, sa.exc.SQLAlchemyError) as exc:
        print(f"{name}: the registry could not be read ({type(exc).__name__}); checking as a first publication",
              file=sys.stderr)
        return True, None
    if state is None or not state.stage.is_public:
        return True, None
    return False, state.published_rows


def _portal_doctor(args: argparse.Namespace) -> int:
    from opendata.portal.doctor import doctor_command

    return doctor_command(args.conn_id, include=Path(args.include) if args.include else None, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opendata", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="validate dataset and governance files")
    lint.add_argument("--include", help="the include folder (default: $OPENDATA_INCLUDE_DIR or ./include)")
    lint.add_argument("files", nargs="*", help="report only these dataset files' errors (and the governance "
                                               "file's): what a pre-commit hook hands over")
    lint.set_defaults(func=_lint)

    new = commands.add_parser("new", help="draft a dataset file from its source (SQL table or query, CSV/Excel file, "
                                          "JSON API); TODOs where a person must write")
    new.add_argument("dataset_id", metavar="DATASET_ID", help="the new dataset's id (the file name and the DAG id)")
    new.add_argument("--department", required=True, help="a department key of governance.yaml")
    new_source = new.add_mutually_exclusive_group(required=True)
    new_source.add_argument("--sql", nargs=2, metavar=("CONN_ID", "TABLE_OR_QUERY"),
                            help="an Airflow connection and a table (name or schema.name) or one read-only query")
    new_source.add_argument("--file", metavar="PATH", help="a CSV or Excel file in the include folder or a data root")
    new_source.add_argument("--http", metavar="URL", help="a JSON API answering a page of records")
    new.add_argument("--records-path", metavar="PATH", help="dotted path to the records in the JSON body (data.items)")
    new.add_argument("--name", help="the display name (default: from the table, file or URL)")
    new.add_argument("--sample-rows", type=int, default=1000, metavar="N", help="rows sampled (default 1000)")
    new.add_argument("--include", help="the include folder (default: the configured one)")
    new.add_argument("--overwrite", action="store_true", help="replace the dataset file if it exists")
    new.add_argument("--stdout", action="store_true", help="print the draft instead of writing it")
    new.set_defaults(func=_new)

    schema = commands.add_parser("schema", help="the JSON Schema of dataset files, for editors")
    schema.add_argument("--write", action="store_true", help="write it to include/dataset.schema.json")
    schema.add_argument("--include", help="the include folder (default: the deployment's)")
    schema.set_defaults(func=_schema)

    samples = commands.add_parser("samples", help="the bundled sample sources")
    sample_commands = samples.add_subparsers(dest="samples_command", required=True)
    generate = sample_commands.add_parser("generate", help="write the seeded sample files")
    generate.add_argument("--out", help="output folder (default: include/sample_sources)")
    generate.set_defaults(func=_generate)
    load_sql = sample_commands.add_parser("load-sql", help="load building permits into a database")
    load_sql.add_argument("url", help="SQLAlchemy URL, e.g. sqlite:////tmp/permits.sqlite")
    load_sql.add_argument("--csv", help="the generated building_permits.csv")
    load_sql.set_defaults(func=_load_sql)
    serve_api = sample_commands.add_parser("serve-api", help="serve the inspections sample as a paged JSON API")
    serve_api.add_argument("--host", default="127.0.0.1")
    serve_api.add_argument("--port", type=int, default=8766)
    serve_api.set_defaults(func=_serve_api)

    adopt = commands.add_parser("adopt", help="take over datasets already public on the portal (writes their files "
                                              "and records them public; sends nothing to the portal)")
    adopt.add_argument("portal_id", nargs="?", help="the portal dataset's id (4x4); or a batch: --owner/--category")
    adopt.add_argument("--by", required=True, help="who adopts it: a person key of governance.yaml")
    adopt.add_argument("--department", help="the governance.yaml department (default: the portal's Department "
                                            "custom field)")
    adopt.add_argument("--id", help="the dataset id (default: from the portal's name)")
    adopt_source = adopt.add_mutually_exclusive_group()
    adopt_source.add_argument("--sql", nargs=2, metavar=("CONN_ID", "TABLE_OR_QUERY"), help="the source: a table "
                              "or query of an Airflow connection")
    adopt_source.add_argument("--file", help="the source: a CSV or Excel file")
    adopt_source.add_argument("--http", metavar="URL", help="the source: a JSON API")
    adopt.add_argument("--records-path", help="with --http: the dotted path to the records (e.g. data)")
    adopt_batch = adopt.add_mutually_exclusive_group()
    adopt_batch.add_argument("--owner", help="batch: every dataset of the catalog this user id owns")
    adopt_batch.add_argument("--category", help="batch: every dataset of the catalog in this category")
    adopt.add_argument("--include", help="the include folder (default: $OPENDATA_INCLUDE_DIR or ./include)")
    adopt.add_argument("--conn-id", default="socrata_default", help="the portal's Airflow connection")
    adopt.add_argument("--overwrite", action="store_true", help="replace an existing dataset file")
    adopt.add_argument("--dry-run", action="store_true", help="print the file(s) and what would be recorded; "
                                                               "write nothing")
    adopt.set_defaults(func=_adopt, needs=(require_registry,))

    registry = commands.add_parser("registry", help="the publication registry")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    registry_init = registry_commands.add_parser("init", help="create its database (PostgreSQL) and tables")
    registry_init.set_defaults(func=_registry_init)

    pools = commands.add_parser("pools", help=f"create or resize the Airflow pool {settings.SOCRATA_WRITE_POOL} "
                                              f"(size: {settings.SOCRATA_WRITE_SLOTS_VAR}, default "
                                              f"{settings.DEFAULT_SOCRATA_WRITE_SLOTS})")
    pools.set_defaults(func=_pools)

    history = commands.add_parser("history", help="archived versions of a dataset")
    history_commands = history.add_subparsers(dest="history_command", required=True)
    history_list = history_commands.add_parser("list", help="every version the portal confirmed")
    history_list.add_argument("dataset_id")
    history_list.set_defaults(func=_history_list, needs=(require_registry,))
    history_export = history_commands.add_parser("export", help="a version as CSV (restore)")
    history_export.add_argument("dataset_id")
    history_export.add_argument("--run", required=True, help="the run that published the version")
    history_export.add_argument("--out", required=True, help="the CSV file to write")
    history_export.set_defaults(func=_history_export, needs=(require_registry,))

    retire = commands.add_parser("retire", help="stop refreshing a dataset (never deletes it)")
    retire.add_argument("dataset_id")
    retire.add_argument("--reason", required=True)
    retire.add_argument("--approved-by", required=True, help="who in the Mayor's Office approved it")
    retire.set_defaults(func=_retire, needs=(require_registry,))

    catalog = commands.add_parser("catalog", help="the published inventory as DCAT-US 1.1 data.json")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    data_json = catalog_commands.add_parser("data-json", help="write data.json now (the catalog DAG does it after "
                                                              "each publication)")
    data_json.add_argument("--out", help="where to write it (default: OPENDATA_DATA_JSON_PATH)")
    data_json.add_argument("--conn-id", default="socrata_default", help="the portal's Airflow connection")
    data_json.set_defaults(func=_data_json, needs=(require_registry,))

    report = commands.add_parser("report", help="the Open Data Working Group's reports")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    quarterly = report_commands.add_parser("quarterly", help="the quarterly report as HTML and CSV (the quarterly "
                                                             "DAG e-mails it)")
    quarterly.add_argument("--quarter", help="e.g. 2026-q3 or '2026 Q3' (default: the last complete quarter)")
    quarterly.add_argument("--out", help="folder for the files (default: OPENDATA_REPORTS_DIR/quarterly)")
    quarterly.add_argument("--email", action="store_true", help="also e-mail it to the CDO and every coordinator")
    quarterly.add_argument("--smtp-conn-id", default="smtp_default", help="the Airflow SMTP connection for --email")
    quarterly.set_defaults(func=_quarterly_report, needs=(require_registry,))

    portal = commands.add_parser("portal", help="the Socrata portal connection")
    portal_commands = portal.add_subparsers(dest="portal_command", required=True)
    doctor = portal_commands.add_parser(
        "doctor", help="read-only check of the portal connection before the first pipeline run"
    )
    doctor.add_argument("--conn-id", default="socrata_default", help="Airflow connection id (default: socrata_default)")
    doctor.add_argument("--json", action="store_true", help="print a machine-readable report")
    doctor.add_argument("--include", help="the include folder (default: $OPENDATA_INCLUDE_DIR or ./include)")
    doctor.set_defaults(func=_portal_doctor)

    check = commands.add_parser("check", help="dry run: extract and validate a dataset on this machine (no portal, "
                                              "no scheduler); exits 1 on an error finding")
    check.add_argument("dataset_id")
    check.add_argument("--include", help="the include folder (default: $OPENDATA_INCLUDE_DIR or ./include)")
    check.add_argument("--out", help="folder for the report (default: ./.opendata/check/<dataset id>)")
    check.add_argument("--first-publication", action="store_true",
                       help="check as a first publication even when the registry says the dataset is public "
                            "(metadata gaps are errors)")
    check.add_argument("--keep-extract", action="store_true",
                       help="keep the staged Parquet extract next to the report (it holds the source's rows)")
    check.set_defaults(func=_check)

    from opendata.freshness.cli import register as register_freshness

    register_freshness(commands)

    demo = commands.add_parser("demo", help="run the portal emulator, sample sources and Airflow")
    demo.add_argument("--check", action="store_true", help="exit 0 once everything is up and every DAG parsed")
    demo.add_argument("--celery", action="store_true",
                      help="the distributed deployment: CeleryExecutor, two workers sharing no disk, PostgreSQL, "
                           "Redis, an S3 object store (moto, a dev requirement); see opendata.cluster.launcher")
    demo.set_defaults(func=_demo)

    mailbox = commands.add_parser("mailbox", help="a local SMTP server that stores every message as an .eml file")
    mailbox.add_argument("--host", default="127.0.0.1")
    mailbox.add_argument("--port", type=int, default=8025)
    mailbox.add_argument("--dir", default=".local/mail", help="where messages are stored (default: .local/mail)")
    mailbox.set_defaults(func=_mailbox)
    return parser


# Commands that start or serve something themselves: they never read another deployment's settings.
_SELF_CONTAINED = {"demo", "mailbox", "samples"}


def main(argv: list[str] | None = None) -> int:
    from opendata.deployment import NotConfigured, load_demo_settings

    args = build_parser().parse_args(argv)
    try:
        if args.command not in _SELF_CONTAINED:
            # Before anything imports Airflow, which reads AIRFLOW_HOME and its settings once.
            load_demo_settings()
        for need in getattr(args, "needs", ()):
            need()
        return args.func(args)
    except NotConfigured as exc:
        print(f"opendata {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
