"""`opendata portal doctor`: the pure checks (every verdict, including the failing ones) and the
whole command against a real portal emulator process, which must see nothing but reads."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
import yaml

from opendata import cli
from opendata.portal.doctor import (
    MARKER_FIELD,
    MARKER_FIELDSET,
    MARKER_WHY,
    DryRun,
    MarkerSearch,
    Needs,
    Problem,
    ReadOnlyPortal,
    Report,
    Status,
    attribute,
    check_approvals,
    check_categories,
    check_current_user,
    check_fieldsets,
    check_licenses,
    check_marker,
    check_settings,
    discovery_param,
    ensure_read_only,
    needs_from_catalog,
    registry_probe_candidates,
    render_text,
    run_doctor,
    validation_messages,
)
from opendata.portal.errors import (
    SocrataAuthError,
    SocrataConnectionError,
    SocrataForbiddenOperation,
    SocrataNotFound,
)
from opendata.spec.loader import load_catalog
from opendata.spec.vocab import LICENSES
from portal_emulator.config import DEFAULT_CATEGORIES, DEFAULT_FIELDSETS
from portal_emulator.testing import run_emulator
from tests.conftest import REPO_ROOT

SECRET = "Pw-Doctor-k8#Qz2"
APP_TOKEN = "AppTok-Doctor-4vRt9"
ACCOUNTS = {"publisher": ("pub-doctor", SECRET), "reviewer": ("cdo", "Pw-Cdo-x1"), "admin": ("admin", "Pw-Adm-y2")}


@pytest.fixture(scope="module")
def needs() -> Needs:
    return needs_from_catalog(load_catalog(REPO_ROOT / "include"))


def statuses(checks) -> dict[str, Status]:
    return {c.key: c.status for c in checks}


# -- what the dataset files need ---------------------------------------------------------------


def test_needs_are_what_the_pipeline_writes_including_the_marker(needs):
    assert set(needs.datasets) == {"building-permits", "restaurant-inspections", "service-requests-311"}
    assert needs.licenses == {
        "PUBLIC_DOMAIN": ("building-permits", "service-requests-311"),
        "CC0_10": ("restaurant-inspections",),
    }
    assert needs.categories["Health"] == ("restaurant-inspections",)
    assert MARKER_FIELD in needs.fieldsets[MARKER_FIELDSET]
    for dataset_id, body in needs.patches.items():
        assert body["customFields"][MARKER_FIELDSET][MARKER_FIELD] == dataset_id
    # The Metadata API takes license names, as the pipeline sends them.
    assert needs.patches["restaurant-inspections"]["license"] == LICENSES["CC0_10"]
    # The emulator's default domain is exactly what the bundled files need (it cannot import them).
    assert {k: tuple(v) for k, v in needs.fieldsets.items()} == DEFAULT_FIELDSETS
    assert set(needs.categories) == set(DEFAULT_CATEGORIES)


def test_discovery_param_follows_the_documented_form():
    assert discovery_param(MARKER_FIELDSET, MARKER_FIELD) == "Dataset-Information_Pipeline-Dataset-ID"
    assert discovery_param("Publication Metadata", "Publication Cycle") == "Publication-Metadata_Publication-Cycle"


# -- 1. connection settings --------------------------------------------------------------------


def test_settings_good_https_connection():
    checks, config = check_settings(
        host="data.lacity.org", login="key", password=SECRET, extra={"app_token": APP_TOKEN}
    )
    assert all(c.status is Status.OK for c in checks) and config is not None
    assert checks[0].summary == "https://data.lacity.org"
    assert SECRET not in json.dumps([c.to_dict() for c in checks]) and APP_TOKEN not in json.dumps(
        [c.to_dict() for c in checks]
    )


@pytest.mark.parametrize(
    ("kwargs", "key", "status", "words"),
    [
        ({"host": None}, "settings.host", Status.FAIL, "no host"),
        ({"host": "ftp://data.lacity.org"}, "settings.host", Status.FAIL, "Unsupported scheme"),
        ({"host": "http://data.lacity.org"}, "settings.host", Status.FAIL, "plain http is refused"),
        (
            {"host": "http://data.lacity.org", "extra": {"allow_insecure_http": True, "app_token": "t"}},
            "settings.host",
            Status.WARN,
            "unencrypted",
        ),
        ({"host": "http://127.0.0.1:8765"}, "settings.host", Status.OK, "this machine"),
        ({"login": None, "password": None}, "settings.credentials", Status.FAIL, "no login and password"),
        ({"password": None}, "settings.credentials", Status.FAIL, "no password"),
        ({"extra": {}}, "settings.app_token", Status.WARN, "throttled"),
        ({"extra": {"app_token": "t", "read_timeout": -1}}, "settings.extra", Status.FAIL, "read_timeout"),
    ],
)
def test_settings_verdicts(kwargs, key, status, words):
    base = {"host": "data.lacity.org", "login": "key", "password": SECRET, "extra": {"app_token": APP_TOKEN}}
    checks, config = check_settings(**{**base, **kwargs})
    check = next(c for c in checks if c.key == key)
    assert check.status is status and words in check.summary
    assert (config is None) == any(c.status is Status.FAIL for c in checks)
    assert SECRET not in json.dumps([c.to_dict() for c in checks])


# -- 2. credentials ----------------------------------------------------------------------------


def test_current_user_read_leniently():
    check, user = check_current_user({"id": "abcd-1234", "displayName": "Jane", "rights": ["x"]})
    assert check.status is Status.OK and user.id == "abcd-1234" and "Jane" in check.summary
    check, user = check_current_user({"id": "abcd-1234", "screenName": "jdoe"})
    assert check.status is Status.OK and user.name == "jdoe"
    check, user = check_current_user({"displayName": "Jane"})
    assert check.status is Status.WARN and user.id is None
    check, user = check_current_user(["not", "an", "object"])
    assert check.status is Status.WARN


def test_current_user_failures():
    check, user = check_current_user(error=SocrataAuthError("Invalid username or password", status=401))
    assert check.status is Status.FAIL and "the portal refused these credentials" in check.summary and user is None
    check, _ = check_current_user(error=SocrataAuthError("no", status=403))
    assert check.status is Status.FAIL and "HTTP 403" in check.summary
    check, _ = check_current_user(error=SocrataConnectionError("refused"))
    assert check.status is Status.FAIL and "could not be reached" in check.summary
    check, user = check_current_user(error=SocrataNotFound("Not found", status=404))
    assert check.status is Status.WARN and user is not None


# -- 3. licenses --------------------------------------------------------------------------------

PORTAL_LICENSES = [
    {"id": "PUBLIC_DOMAIN", "name": "Public Domain", "termsLink": None, "logoUrl": None},
    {"id": "CC0_10", "name": LICENSES["CC0_10"], "termsLink": None, "logoUrl": None},
    {"id": "USGOV_WORKS", "name": "U.S. Government Works", "termsLink": None, "logoUrl": None},
    {"id": "PDDL_10", "name": LICENSES["PDDL"], "termsLink": None, "logoUrl": None},
]


def test_licenses_all_known(needs):
    check, items = check_licenses(PORTAL_LICENSES, needs)
    assert check.status is Status.OK and items == []


@pytest.mark.parametrize(
    ("license_id", "words"),
    [
        ("CC_40_BY", "is not on the portal's license list"),
        ("USGOV_WORKS", "the portal calls it 'U.S. Government Works'"),
        ("PDDL", "under the id PDDL_10"),
    ],
)
def test_licenses_the_portal_does_not_know_as_the_pipeline_names_them(license_id, words):
    needs = Needs(datasets=("a",), licenses={license_id: ("a",)})
    check, items = check_licenses(PORTAL_LICENSES, needs)
    assert check.status is Status.FAIL and words in check.details[0]
    assert [(i.kind, i.name, i.license_id, i.confirmed) for i in items] == [
        ("license", LICENSES[license_id], license_id, True)
    ]


def test_licenses_unreadable_are_unconfirmed(needs):
    check, items = check_licenses(None, needs, error=SocrataNotFound("Not found", status=404))
    assert check.status is Status.WARN and {i.license_id for i in items} == {"PUBLIC_DOMAIN", "CC0_10"}
    assert not any(i.confirmed for i in items)


# -- reading a dry run's answer -------------------------------------------------------------


def test_validation_messages_shapes():
    assert validation_messages({"valid": True, "errors": [], "warnings": []}) == ([], [])
    errors, warnings = validation_messages(
        {"id": "x", "errors": [{"field": "category", "message": "bad"}, "plain text"], "warnings": "one"}
    )
    assert errors == [Problem("category", "bad"), Problem(None, "plain text")] and warnings == [Problem(None, "one")]
    nested = validation_messages({"metadata": {}, "validation": {"errors": [{"reason": "x y"}]}})
    assert nested == ([Problem(None, "x y")], [])
    assert validation_messages({"id": "abcd-1234", "name": "n"}) is None
    assert validation_messages(None) is None


BODY = {
    "category": "Health",
    "license": "Public Domain",
    "customFields": {
        "Update": {"Update Frequency": "Daily", "Automation": "Yes"},
        "Dataset Information": {"Department": "x", MARKER_FIELD: "a"},
    },
}


def test_attribution_tells_a_field_from_a_fieldset_whose_name_it_contains():
    message = "Custom field 'Update Frequency' does not exist in fieldset 'Update'"
    field = attribute(BODY, Problem("customFields", message))
    assert field.fields == {("Update", "Update Frequency")} and field.fieldsets == set()
    whole = attribute(BODY, Problem("customFields", "Custom fieldset 'Update' does not exist on this domain"))
    assert whole.fieldsets == {"Update"} and whole.fields == set()
    loose = attribute(BODY, Problem(None, "unknown key pipeline dataset id"))
    assert loose.fields == {("Dataset Information", MARKER_FIELD)}
    assert attribute(BODY, Problem("category", "not allowed")).category
    assert attribute(BODY, Problem(None, "License public domain is not enabled")).license
    assert not attribute(BODY, Problem(None, "something else entirely")).anything


def _dry(probe="abcd-1234", **answers) -> DryRun:
    dry = DryRun(probe=probe, probe_source="an asset you own")
    for dataset_id, payload in answers.items():
        dry.add(dataset_id, BODY, payload)
    return dry


def _needs_for_body() -> Needs:
    return Needs(
        datasets=("a",),
        licenses={"PUBLIC_DOMAIN": ("a",)},
        categories={"Health": ("a",)},
        fieldsets={fs: tuple(values) for fs, values in BODY["customFields"].items()},
        patches={"a": BODY},
    )


# -- 4. categories, 5. fieldsets, 7. marker -------------------------------------------------------


def test_fieldsets_accepted():
    needs = _needs_for_body()
    dry = _dry(a={"valid": True, "errors": [], "warnings": []})
    check, items = check_fieldsets(needs, dry)
    assert check.status is Status.OK and items == [] and "unchanged" in check.summary
    assert check_marker(needs, dry).status is Status.OK


def test_fieldsets_refused_name_what_to_create():
    needs = _needs_for_body()
    dry = _dry(
        a={
            "errors": [
                {"field": "customFields", "message": "Custom fieldset 'Update' does not exist on this domain"},
                {"field": "customFields", "message": f"Custom field '{MARKER_FIELD}' does not exist in fieldset "
                 "'Dataset Information'"},
            ],
            "warnings": [],
        }
    )
    check, items = check_fieldsets(needs, dry)
    assert check.status is Status.FAIL and "fieldset 'Update'" in check.summary
    assert [(i.kind, i.name, i.fieldset, i.fields) for i in items] == [
        ("fieldset", "Update", None, ("Update Frequency", "Automation")),
        ("field", MARKER_FIELD, "Dataset Information", ()),
    ]
    marker = check_marker(needs, dry)
    assert marker.status is Status.FAIL and MARKER_WHY in marker.details
    report = Report(conn_id="socrata_default", portal="https://x", checks=[check, marker], admin=items)
    text = render_text(report)
    assert 'fieldset "Update" with fields "Update Frequency", "Automation"' in text
    assert f'in fieldset "Dataset Information": field "{MARKER_FIELD}"' in text
    assert report.exit_code == 1


def test_marker_only_warned_about_still_fails():
    # A portal that only warns may drop the field silently: retries could not find datasets.
    needs = _needs_for_body()
    dry = _dry(a={"errors": [], "warnings": [{"message": f"{MARKER_FIELD} will be ignored"}]})
    assert check_fieldsets(needs, dry)[0].status is Status.WARN
    assert check_marker(needs, dry).status is Status.FAIL


def test_fieldsets_unverified_without_a_probe_list_everything_unconfirmed():
    needs = _needs_for_body()
    dry = DryRun(failure="no asset to dry-run the metadata against")
    check, items = check_fieldsets(needs, dry)
    assert check.status is Status.WARN and "not verified" in check.summary
    assert {(i.name, i.confirmed) for i in items} == {("Update", False), ("Dataset Information", False)}
    assert check_marker(needs, dry).status is Status.WARN
    assert "(not verified: create it if it is missing)" in render_text(Report("c", checks=[check], admin=items))


def test_fieldsets_a_changed_asset_and_unreadable_answers():
    needs = _needs_for_body()
    dry = _dry(a={"valid": True, "errors": [], "warnings": []})
    dry.changed = ["customFields", "metadataUpdatedAt"]
    assert check_fieldsets(needs, dry)[0].status is Status.FAIL
    assert check_marker(needs, dry).status is Status.FAIL
    unreadable = _dry(a={"id": "abcd-1234", "name": "what a plain PATCH would answer"})
    check, _ = check_fieldsets(needs, unreadable)
    assert check.status is Status.WARN and "no errors/warnings" in check.summary


def test_unplaceable_errors_fail_verbatim():
    needs = _needs_for_body()
    check, _ = check_fieldsets(needs, _dry(a={"errors": ["Asset is locked"], "warnings": []}))
    assert check.status is Status.FAIL and "Asset is locked (a)" in check.details


def test_categories_verdicts():
    needs = _needs_for_body()
    refused = _dry(a={"errors": [{"field": "category", "message": "Category 'Health' does not exist"}]})
    check, items = check_categories(None, needs, refused)
    assert check.status is Status.FAIL and [(i.name, i.confirmed) for i in items] == [("Health", True)]
    accepted = _dry(a={"errors": [], "warnings": []})
    assert check_categories({"results": []}, needs, accepted)[0].status is Status.OK
    # Without a dry run, Discovery's counts can only confirm categories some asset uses.
    listed = {"results": [{"domain_category": "Health", "count": 3}]}
    assert check_categories(listed, needs, DryRun())[0].status is Status.OK
    check, items = check_categories({"results": []}, needs, DryRun())
    assert check.status is Status.WARN and "no asset uses it yet, or it does not exist" in check.details[0]
    assert [(i.name, i.confirmed) for i in items] == [("Health", False)]


def test_marker_search_outcomes():
    needs = _needs_for_body()
    dry = _dry(a={"errors": [], "warnings": []})
    param = discovery_param(MARKER_FIELDSET, MARKER_FIELD)
    found = check_marker(needs, dry, MarkerSearch(param, "a", True))
    assert found.status is Status.OK and f"?{param}=a" in found.summary
    missing = check_marker(needs, dry, MarkerSearch(param, "a", False))
    assert missing.status is Status.WARN


# -- 6. approvals -----------------------------------------------------------------------------


def _guidance(expected: str) -> dict:
    option = {"workflowId": 1, "displayName": "Public datasets", "expectedState": expected}
    return {"public": {"currentState": "submittable", "toChangeAudience": {"queueOptions": [option]}}}


def test_approvals_verdicts():
    assert check_approvals(_guidance("pending"), "abcd-1234").status is Status.OK
    auto = check_approvals(_guidance("approved"), "abcd-1234")
    assert auto.status is Status.WARN and "Stage 2 would not wait for the CDO" in auto.summary
    none_yet = check_approvals(None, None)
    assert none_yet.status is Status.WARN and none_yet.summary == "cannot check until an asset exists"
    assert check_approvals({"internal": {}}, "abcd-1234").status is Status.FAIL
    assert check_approvals(None, "abcd-1234", SocrataNotFound("Not found", status=404)).status is Status.FAIL
    assert check_approvals(None, "abcd-1234", SocrataAuthError("no", status=403)).status is Status.FAIL
    no_queue = check_approvals({"public": {"currentState": "approved"}}, "abcd-1234")
    assert no_queue.status is Status.WARN and "no queue options" in no_queue.summary
    v1 = {"currentState": "submittable", "toChangeAudience": {"queueOptions": [{"expectedState": "pending"}]}}
    assert check_approvals(v1, "abcd-1234").status is Status.OK


# -- the read-only guard ----------------------------------------------------------------------


class RecordingHook:
    """Stands for a hook: hands out a session whose requests are recorded, never sent."""

    def __init__(self):
        self.sent = []

    @property
    def session(self):
        return self

    def request(self, method, path, *, params=None, body=None):
        self.sent.append((method, path, params, body))
        return {"errors": [], "warnings": []}


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("POST", "/api/views.json", None),
        ("PUT", "/api/views/abcd-1234.json", {"method": "setPermission", "value": "public.read"}),
        ("DELETE", "/api/views/abcd-1234.json", None),
        ("PATCH", "/api/views/metadata/v1/abcd-1234", None),
        ("PATCH", "/api/views/metadata/v1/abcd-1234", {"validateOnly": "false"}),
        ("PATCH", "/api/views/abcd-1234.json", {"validateOnly": "true"}),
        ("POST", "/api/views/abcd-1234/approvals", {"method": "startWorkflowSubmission"}),
    ],
)
def test_the_guard_refuses_every_write(method, path, params):
    with pytest.raises(SocrataForbiddenOperation, match="read-only"):
        ensure_read_only(method, path, params)
    hook = RecordingHook()
    portal = ReadOnlyPortal(hook)
    with pytest.raises(SocrataForbiddenOperation):
        portal._send(method, path, params=params, body={"name": "x"})
    assert hook.sent == [] and portal.sent == []


def test_the_guard_lets_reads_and_dry_runs_through():
    ensure_read_only("GET", "/api/licenses", None)
    ensure_read_only("get", "/api/catalog/v1", [("domains", "x")])
    hook = RecordingHook()
    portal = ReadOnlyPortal(hook)
    portal.dry_run_metadata("abcd-1234", {"category": "Health"})
    assert hook.sent == [
        (
            "PATCH",
            "/api/views/metadata/v1/abcd-1234",
            {"validateOnly": "true", "strict": "true"},
            {"category": "Health"},
        )
    ]


class FakeConnection:
    def __init__(self, **fields):
        self.host, self.port, self.schema = fields.get("host"), None, None
        self.login, self.password = fields.get("login"), fields.get("password")
        self.extra_dejson = fields.get("extra", {})


class OfflineHook(RecordingHook):
    """A hook whose connection is given; any request it is asked to send is recorded."""

    socrata_conn_id = "socrata_default"

    def __init__(self, conn=None):
        super().__init__()
        self.conn = conn

    def get_connection(self, conn_id):
        if self.conn is None:
            raise LookupError(f"The conn_id `{conn_id}` isn't defined")
        return self.conn


def test_runner_stops_before_sending_anything_when_the_settings_fail():
    catalog = load_catalog(REPO_ROOT / "include")
    missing = run_doctor(OfflineHook(), catalog)
    assert missing.exit_code == 1 and missing.stopped and missing.requests == []
    assert statuses(missing.checks)["settings.connection"] is Status.FAIL
    insecure = OfflineHook(FakeConnection(host="http://data.lacity.org", login="k", password=SECRET))
    report = run_doctor(insecure, catalog)
    assert report.exit_code == 1 and insecure.sent == [] and report.requests == []
    assert statuses(report.checks)["settings.host"] is Status.FAIL
    assert "Not determined yet" in render_text(report) and SECRET not in render_text(report)


def test_an_absent_sqlite_registry_is_empty_and_not_created(tmp_path, monkeypatch):
    path = tmp_path / "registry.sqlite"
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{path}")
    assert registry_probe_candidates(["a"]) == ([], None)
    assert not path.exists()
    # A database without the registry's tables is not migrated by a check.
    sqlite3.connect(path).close()
    assert registry_probe_candidates(["a"]) == ([], None)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", "postgresql://nobody:hunter2-secret@127.0.0.1:1/none")
    pairs, note = registry_probe_candidates(["a"])
    assert pairs == [] and "could not be read" in note and "hunter2" not in note


# -- end to end, against a real emulator process --------------------------------------------------


def _connection(monkeypatch, emu, password=SECRET):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        json.dumps(
            {
                "conn_type": "socrata",
                "host": emu.url,
                "login": ACCOUNTS["publisher"][0],
                "password": password,
                "extra": {"app_token": APP_TOKEN, "max_retries": 1, "backoff_base": 0.05},
            }
        ),
    )


def _doctor(capsys, *args) -> tuple[int, str]:
    code = cli.main(["portal", "doctor", *args])
    out = capsys.readouterr().out
    return code, out


def _portal_requests(emu) -> dict[str, int]:
    """Requests the emulator counted since the last reset, without the test's own admin calls."""
    return {k: n for k, n in emu.stats()["requests"].items() if "/__emulator/" not in k}


def _only_reads(emu) -> None:
    """Every request the emulator counted since the last reset was a read or a dry run."""
    stats = emu.stats()
    for template in _portal_requests(emu):
        assert template.startswith("GET ") or template == "PATCH /api/views/metadata/v1/{dataset_id}", template
    assert not stats["rows"] and not stats["revisions"]


@pytest.fixture
def registry_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", url)
    return url


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("portal"), accounts=ACCOUNTS) as emulator:
        yield emulator


def _metadata(emu, asset):
    return emu.session("publisher").get(f"{emu.url}/api/views/metadata/v1/{asset}").json()


def test_good_configuration_passes_and_changes_nothing(emu, monkeypatch, capsys, registry_url, needs):
    _connection(monkeypatch, emu)
    # Before any asset exists: nothing fails, the unverifiable checks say so.
    emu.reset_stats()
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "cannot check until an asset exists" in out and "(not verified: create it if it is missing)" in out
    _only_reads(emu)

    # The pipeline's first run created building-permits: the registry knows it, and it is marked.
    session = emu.session("publisher")
    columns = [{"fieldName": "permit_id", "name": "Permit", "dataTypeName": "text"}]
    answer = session.post(f"{emu.url}/api/views.json", json={"name": "Building Permits", "columns": columns})
    created = answer.json()["id"]
    own = needs.patches["building-permits"]
    assert session.patch(f"{emu.url}/api/views/metadata/v1/{created}", json=own).status_code == 200
    from opendata.registry import Registry

    registry = Registry(registry_url)
    registry.record_portal_dataset("building-permits", created)
    registry.close()

    before = _metadata(emu, created)
    emu.reset_stats()
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "Result: 0 FAIL, 0 WARN, 10 OK." in out
    assert f"Discovery found asset {created} with ?Dataset-Information_Pipeline-Dataset-ID=building-permits" in out
    assert "public audience requests wait for a reviewer" in out
    assert "Nothing: every category, fieldset, field and license the dataset files use is there." in out
    assert _metadata(emu, created) == before  # three dry runs later, the asset is as it was
    _only_reads(emu)
    assert _portal_requests(emu)["PATCH /api/views/metadata/v1/{dataset_id}"] == len(needs.datasets)
    assert SECRET not in out and APP_TOKEN not in out

    code, out = _doctor(capsys, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["probe_asset"] == created
    assert report["admin_must_create"] == [] and {c["status"] for c in report["checks"]} == {"OK"}
    assert all(r.startswith("GET ") or "validateOnly=true" in r for r in report["requests"])


def test_wrong_password_fails_and_stops(emu, monkeypatch, capsys, registry_url):
    _connection(monkeypatch, emu, password="Not-The-Password-7")
    emu.reset_stats()
    code, out = _doctor(capsys)
    assert code == 1
    assert "FAIL  Credentials accepted" in out and "the portal refused these credentials (HTTP 401)" in out
    assert "Stopped: the portal did not accept the connection" in out
    assert "Not determined yet" in out  # never "Nothing to create" when the set-up was not read
    assert "Not-The-Password-7" not in out
    assert _portal_requests(emu) == {"GET /api/users/current.json": 1}


def test_unknown_license_in_a_dataset_file_fails(emu, monkeypatch, capsys, registry_url, tmp_path):
    # A city adds its own license to the vocabulary, but the portal's list does not have it.
    monkeypatch.setitem(LICENSES, "CITY_OPEN_10", "City of Los Angeles Open Data License 1.0")
    include = tmp_path / "include"
    shutil.copytree(REPO_ROOT / "include", include)
    path = include / "datasets" / "building-and-safety" / "building-permits.yaml"
    data = yaml.safe_load(path.read_text())
    data["publishing"]["license"] = "CITY_OPEN_10"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _connection(monkeypatch, emu)
    emu.reset_stats()
    code, out = _doctor(capsys, "--include", str(include), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    by_key = {c["key"]: c for c in report["checks"]}
    assert by_key["licenses"]["status"] == "FAIL"
    assert "'City of Los Angeles Open Data License 1.0' (CITY_OPEN_10) is not on the portal's license list" in (
        by_key["licenses"]["details"][0]
    )
    assert [(i["kind"], i["name"], i["license_id"]) for i in report["admin_must_create"]] == [
        ("license", "City of Los Angeles Open Data License 1.0", "CITY_OPEN_10")
    ]
    # The dry run refused the license too; that is not blamed on the fieldsets.
    assert by_key["fieldsets"]["status"] == "OK" and by_key["categories"]["status"] == "OK"
    _only_reads(emu)


def test_a_missing_fieldset_fails_naming_it(tmp_path, monkeypatch, capsys, registry_url):
    # The administrator created two of the three fieldsets, and the first without the marker.
    fieldsets = (
        "Dataset Information=Department,Data Steward,Source System;Classification=Data Classification,Security Level"
    )
    with run_emulator(tmp_path / "portal", accounts=ACCOUNTS, extra_args=("--fieldsets", fieldsets)) as emu:
        session = emu.session("publisher")
        owned = session.post(
            f"{emu.url}/api/views.json",
            json={"name": "Something I own", "columns": [{"fieldName": "a", "name": "A", "dataTypeName": "text"}]},
        ).json()["id"]
        before = _metadata(emu, owned)
        _connection(monkeypatch, emu)
        emu.reset_stats()
        code, out = _doctor(capsys)
        assert code == 1
        assert "FAIL  Custom fieldsets" in out and "fieldset 'Update'" in out
        assert "FAIL  Dataset marker" in out and MARKER_WHY in out
        # One line per portal message, naming every dataset file it concerns.
        assert out.count("Custom fieldset 'Update' does not exist on this domain (") == 1
        assert 'fieldset "Update" with fields "Update Frequency", "Automation"' in out
        assert f'in fieldset "Dataset Information": field "{MARKER_FIELD}"' in out
        assert "an asset you own" in out and owned in out
        assert _metadata(emu, owned) == before
        _only_reads(emu)
