"""Rebuild ``tests/contract/recordings/*.json`` from the mirrored public repositories.

This is not a test. It documents, as code, exactly how each recording was derived, so a
reviewer can re-run it and diff the output. It needs the bare git mirrors under
``/work/.mirror`` (override with ``CONTRACT_MIRROR_ROOT``) and reads them with ``git show``;
it never touches the network.

    .venv/bin/python -m tests.contract.build_corpus            # rewrite every file
    .venv/bin/python -m tests.contract.build_corpus --check    # exit 1 if a file would change
    .venv/bin/python -m tests.contract.build_corpus --repin    # read each mirror's HEAD, not PINNED

Kinds (see README.md): ``recorded`` (a real HTTP response captured from a live portal),
``documented-example`` (an example response printed in Socrata's own docs, specs or official
client README), ``documented-schema`` (a skeleton built only from an OpenAPI property list).
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "recordings"
MIRROR_ROOT = Path(os.environ.get("CONTRACT_MIRROR_ROOT", "/work/.mirror"))

AFELD = "afeld/sodapy"
XMUNOZ = "xmunoz/sodapy"
DEVSITE = "socrata/dev.socrata.com"
SOCRATA_PY = "socrata/socrata-py"

# Response headers worth keeping. Transport headers (Connection, Transfer-Encoding, Server,
# Strict-Transport-Security, Vary) and Content-Encoding are dropped: the bodies stored here
# are already decoded (VCR stored the decompressed text although the header says gzip).
KEEP_HEADERS = {
    "content-type",
    "date",
    "last-modified",
    "etag",
    "age",
    "cache-control",
    "access-control-allow-origin",
    "x-error-code",
    "x-error-message",
    "x-socrata-requestid",
    "x-socrata-region",
    "x-soda2-fields",
    "x-soda2-types",
    "x-soda2-data-out-of-date",
    "x-soda2-truth-last-modified",
    "x-soda2-secondary-last-modified",
}


def mirror_dir(repo: str) -> Path:
    return MIRROR_ROOT / repo.replace("/", "+") / "repo"


# The commit each recording is read at. Pinned so that a refreshed mirror does not silently
# change the corpus; ``--repin`` reads each mirror's HEAD instead (then review the diff).
PINNED = {
    AFELD: "52e14224361dd083a37a0267676d8d9e0c581228",  # 2025-05-03, cassettes recorded 2025-04/05
    XMUNOZ: "c2cabc3458b577c81e7ac25d82aa427344c32668",  # 2022-08-31 "Last commit" (sodapy 2.2.0 era)
    DEVSITE: "65d4cd36b465bbe50842ceb51cdb7246b23a2296",  # 2024-03-07
    SOCRATA_PY: "eeb98f16156fdd90a4b35e351849986bad0e7e5a",  # 2026-06-09 (v1.2.0)
}
REPIN = False


@functools.cache
def head_commit(repo: str) -> str:
    """The commit to read ``repo`` at: the pinned one, or the mirror's HEAD with ``--repin``."""
    if not REPIN:
        return PINNED[repo]
    return subprocess.check_output(["git", "-C", str(mirror_dir(repo)), "rev-parse", "HEAD"], text=True).strip()


def git_show(repo: str, path: str, commit: str) -> bytes:
    return subprocess.check_output(["git", "-C", str(mirror_dir(repo)), "show", f"{commit}:{path}"])


def source(repo: str, path: str, what: str, kind: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"repo": repo, "path": path, "commit": head_commit(repo), "what": what, "kind": kind}
    out.update(extra)
    return out


def request(method: str, url_or_path: str, query: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    parts = urlsplit(url_or_path)
    out: dict[str, Any] = {"method": method}
    if parts.netloc:
        out["host"] = parts.netloc
    out["path"] = parts.path
    q: dict[str, Any] = {}
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        q[k] = v if k not in q else (q[k] if isinstance(q[k], list) else [q[k]]) + [v]
    q.update(query or {})
    out["query"] = q
    out.update(extra)
    return out


def record(name: str, src: dict, req: dict, status: int | None, headers: dict, body: Any) -> dict[str, Any]:
    return {"name": name, "source": src, "request": req, "status": status, "headers": headers, "body": body}


# ---------------------------------------------------------------------------------------------
# VCR cassettes (afeld/sodapy): real responses from data.cityofnewyork.us, April/May 2025.


@functools.cache
def load_cassette(repo: str, path: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(git_show(repo, path, head_commit(repo)), Loader=loader)


def cassette_interaction(repo: str, path: str, index: int) -> tuple[dict, int, dict, str]:
    doc = load_cassette(repo, path)
    it = doc["interactions"][index]
    hdrs = {}
    for k, v in it["response"]["headers"].items():
        if k.lower() in KEEP_HEADERS:
            hdrs[k] = v[0] if isinstance(v, list) and len(v) == 1 else v
    return it["request"], it["response"]["status"]["code"], hdrs, it["response"]["body"]["string"]


def from_cassette(
    name: str,
    path: str,
    index: int,
    what: str,
    *,
    first_rows: int | None = None,
    body_path: str | None = None,
) -> dict[str, Any]:
    req, status, hdrs, text = cassette_interaction(AFELD, path, index)
    body = json.loads(text)
    extra: dict[str, Any] = {"interaction": index}
    if first_rows is not None and isinstance(body, list) and len(body) > first_rows:
        extra["truncated"] = f"first {first_rows} of {len(body)} rows kept"
        body = body[:first_rows]
    if body_path is not None:
        extra["body_path"] = body_path
        for part in body_path.split("."):
            body = body[part]
    return record(
        name, source(AFELD, path, what, "recorded", **extra), request(req["method"], req["uri"]), status, hdrs, body
    )


# ---------------------------------------------------------------------------------------------
# sodapy tests/test_data/*.txt: responses saved to disk by sodapy's authors (2015-2018).


def from_test_data(name: str, repo: str, path: str, what: str, req: dict, status: int, **extra: Any) -> dict:
    body = json.loads(git_show(repo, path, head_commit(repo)))
    return record(
        name,
        source(repo, path, what, "recorded", **extra),
        req,
        status,
        {"Content-Type": "application/json; charset=utf-8"},
        body,
    )


# ---------------------------------------------------------------------------------------------
# Markdown examples on dev.socrata.com: JSON between two known line numbers (1-based, inclusive).


def md_block(repo: str, path: str, first: int, last: int) -> Any:
    lines = git_show(repo, path, head_commit(repo)).decode("utf-8").splitlines()
    return json.loads("\n".join(lines[first - 1 : last]))


def from_markdown(
    name: str,
    path: str,
    first: int,
    last: int,
    what: str,
    req: dict,
    status: int | None,
    headers: dict | None = None,
    repo: str = DEVSITE,
    **extra: Any,
) -> dict:
    body = md_block(repo, path, first, last)
    src = source(repo, path, what, "documented-example", lines=f"L{first}-L{last}", **extra)
    return record(name, src, req, status, headers or {}, body)


# ---------------------------------------------------------------------------------------------
# OpenAPI: examples and skeletons built from property lists.


def load_spec(path: str) -> dict:
    raw = git_show(DEVSITE, path, head_commit(DEVSITE))
    return json.loads(raw) if path.endswith(".json") else yaml.safe_load(raw)


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(spec: dict, ref: str) -> dict:
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


class Skeleton:
    """Builds a value of each documented type from an OpenAPI schema, noting every irregularity.

    Rules: a property's ``example`` is used when the spec gives one; otherwise strings become
    ``"<string>"`` (``"<string:FORMAT>"`` with a format), numbers ``0``, booleans ``false``, objects
    without properties ``{}``, arrays a one-item list of their item skeleton, and a property
    with no type at all ``null`` (null is compatible with any type in compare_shapes). An
    object-level ``example`` is overlaid on the property skeleton.
    """

    def __init__(self, spec: dict):
        self.spec = spec
        self.notes: list[str] = []

    def build(self, schema: Any, where: str) -> Any:
        if isinstance(schema, str):  # e.g. discovery.json "items": "string"
            self.notes.append(f"{where}: items given as the bare string {schema!r}; read as type {schema}")
            schema = {"type": schema}
        if "$ref" in schema:
            return self.build(resolve(self.spec, schema["$ref"]), where)
        if "oneOf" in schema:
            first = schema["oneOf"][0]
            self.notes.append(f"{where}: oneOf, first alternative {first.get('$ref', first)} used")
            value = self.build(first, where)
            disc = schema.get("discriminator", {})
            if disc.get("propertyName") and isinstance(value, dict):
                mapping = disc.get("mapping", {})
                self.notes.append(
                    f"{where}: discriminator property {disc['propertyName']!r} (mapping keys {sorted(mapping)}) "
                    f"is not among the alternative's properties; added with value 'upload'"
                )
                value = {disc["propertyName"]: "upload", **value}
            return value
        typ = schema.get("type")
        if typ is None and "properties" in schema:
            typ = "object"
        if typ == "object" or (typ is None and "properties" in schema):
            out = {k: self.build(v, f"{where}.{k}") for k, v in schema.get("properties", {}).items()}
            ex = schema.get("example")
            if isinstance(ex, dict):
                out.update(ex)
            return out
        if "example" in schema:
            return schema["example"]
        if typ == "array":
            return [self.build(schema.get("items", {}), f"{where}[]")]
        if typ == "string":
            fmt = schema.get("format")
            return f"<string:{fmt}>" if fmt else "<string>"
        if typ in ("number", "integer"):
            return 0
        if typ == "boolean":
            return False
        if typ in ("date-time", "url"):
            self.notes.append(f"{where}: type {typ!r} is not an OpenAPI type; read as a string")
            return f"<string:{typ}>"
        if typ is not None and typ in self.spec.get("components", {}).get("schemas", {}):
            self.notes.append(f"{where}: type {typ!r} names a schema; read as $ref to it")
            return self.build(self.spec["components"]["schemas"][typ], where)
        if typ is None:
            self.notes.append(f"{where}: no type documented; null used")
            return None
        raise ValueError(f"{where}: unhandled schema {schema}")


def from_schema(
    name: str, spec_path: str, ptr: str, what: str, req: dict, status: int | None, wrap: str | None = None
) -> dict:
    spec = load_spec(spec_path)
    sk = Skeleton(spec)
    body = sk.build(resolve(spec, ptr), "body")
    if wrap == "list":
        body = [body]
    src = source(DEVSITE, spec_path, what, "documented-schema", pointer=ptr)
    if sk.notes:
        src["notes"] = sk.notes
    return record(name, src, req, status, {"Content-Type": "application/json"}, body)


def from_spec_example(name: str, spec_path: str, ptr: str, what: str, req: dict, status: int) -> dict:
    spec = load_spec(spec_path)
    body = resolve(spec, ptr)
    return record(
        name,
        source(DEVSITE, spec_path, what, "documented-example", pointer=ptr),
        req,
        status,
        {"Content-Type": "application/json"},
        body,
    )


def from_python_repr(
    name: str,
    repo: str,
    path: str,
    first: int,
    last: int,
    prefix: str,
    what: str,
    req: dict,
    status: int,
    body_path: str,
) -> dict:
    """A printed ``Resource(attributes)`` repr in a README, parsed with ast.literal_eval (None -> null)."""
    lines = git_show(repo, path, head_commit(repo)).decode("utf-8").splitlines()
    text = "\n".join(lines[first - 1 : last]).strip()
    if not (text.startswith(prefix + "(") and text.endswith(")")):
        raise ValueError(f"{path} L{first}-L{last} is not a {prefix}(...) repr: {text[:60]!r}")
    body = ast.literal_eval(text[len(prefix) + 1 : -1])
    src = source(repo, path, what, "documented-example", lines=f"L{first}-L{last}", body_path=body_path)
    return record(name, src, req, status, {}, body)


# ---------------------------------------------------------------------------------------------


def corpus() -> list[dict[str, Any]]:
    c = "tests/cassettes/test_socrata/"
    meta = c + "test_get_metadata_and_attachments.yaml"
    recs: list[dict[str, Any]] = []

    # --- /api/views (core view metadata), recorded -----------------------------------------
    recs.append(
        from_cassette(
            "views_get_uczf-rk3c",
            meta,
            0,
            "GET /api/views/uczf-rk3c.json on data.cityofnewyork.us (NYC DOT 'Bicycle Counts'), anonymous "
            "(no app token, no auth), recorded 2025-04-27 by afeld/sodapy's VCR test; body complete. "
            "Contains approvals[] (one auto-approved public_audience_request) and grants[] with flags ['public'].",
        )
    )
    recs.append(
        from_cassette(
            "views_get_uczf-rk3c_approvals",
            meta,
            0,
            "The approvals[] member of the same recorded GET /api/views/uczf-rk3c.json response (2025-04-27, "
            "anonymous read); this is the record quoted in docs/socrata-api.md section 2.5. "
            "No reviewer or notes field.",
            body_path="approvals",
        )
    )
    recs.append(
        from_cassette(
            "views_get_missing_404",
            c + "test_get_metadata_and_attachments_missing.yaml",
            0,
            "GET /api/views/songs.json on data.cityofnewyork.us (no such view), recorded 2025-05-03: 404 with "
            "code 'not_found' and X-Error-Code/X-Error-Message headers.",
        )
    )

    # --- /resource (SODA2 rows), recorded ---------------------------------------------------
    recs.append(
        from_cassette(
            "resource_get_missing_404",
            c + "test_get_missing.yaml",
            0,
            "GET /resource/songs.json on data.cityofnewyork.us (no such dataset), recorded 2025-05-03: 404 with "
            "code 'dataset.missing' and, unlike /api/views, no X-Error-Code header.",
        )
    )
    recs.append(
        from_cassette(
            "resource_get_uczf-rk3c",
            c + "test_get.yaml",
            0,
            "GET /resource/uczf-rk3c.json on data.cityofnewyork.us, anonymous, recorded 2025-04-27; the response "
            "had 1000 rows (default limit), the first 5 are kept. Every value is a JSON string even where "
            "X-SODA2-Types says number.",
            first_rows=5,
        )
    )
    recs.append(
        from_cassette(
            "resource_get_uczf-rk3c_limit1",
            c + "test_get_all_hit_limit.yaml",
            0,
            "GET /resource/uczf-rk3c.json?$limit=1&$offset=0 on data.cityofnewyork.us, recorded 2025-05-03 "
            "(first page of sodapy get_all with limit 1); body complete (one row).",
        )
    )
    recs.append(
        from_cassette(
            "resource_get_xywu-7bv9",
            c + "test_get_all_hit_limit.yaml",
            888,
            "GET /resource/xywu-7bv9.json?$offset=0 on data.cityofnewyork.us (NYC population by borough, 6 rows, "
            "22 text/number columns), recorded 2025-05-04; body complete.",
        )
    )

    # --- Discovery API, recorded ------------------------------------------------------------
    recs.append(
        from_cassette(
            "catalog_v1_nyc_limit7",
            c + "test_get_datasets.yaml",
            0,
            "GET /api/catalog/v1?domains=data.cityofnewyork.us&limit=7&offset=0 on data.cityofnewyork.us, "
            "anonymous, recorded 2025-04-27; body complete (7 results, resultSetSize 3207). Recorded WITHOUT "
            "show_visibility, so results[].metadata has only 'domain' (no is_public/is_published/... keys).",
        )
    )

    # --- sodapy test_data: saved real responses -----------------------------------------------
    td = "tests/test_data/"
    recs.append(
        from_test_data(
            "views_create_foobar",
            AFELD,
            td + "create_foobar.txt",
            "Response to sodapy create() i.e. POST /api/views.json creating 'Foo Bar' (2 columns, rowIdentifier "
            "'bar'), saved 2015-11 (commit abb27ca); the new view is publicationStage 'unpublished' and "
            "newBackend false. sodapy's tests also reuse this file as the publish() response, so no real "
            "POST /api/views/{id}/publication.json response exists in these repos.",
            request(
                "POST",
                "/api/views.json",
                request_body={
                    "name": "Foo Bar",
                    "description": "test dataset",
                    "columns": [
                        {"fieldName": "foo", "name": "Foo", "dataTypeName": "text"},
                        {"fieldName": "bar", "name": "Bar", "dataTypeName": "number"},
                    ],
                    "tags": ["foo", "bar"],
                    "metadata": {"rowIdentifier": "bar"},
                },
            ),
            200,
        )
    )
    recs.append(
        from_test_data(
            "resource_upsert_songs",
            AFELD,
            td + "upsert_songs.txt",
            "Upsert report for sodapy upsert() i.e. POST /resource/songs.json with one JSON row, saved 2015-03 "
            "(commit c8cf36b); all six report keys present.",
            request("POST", "/resource/songs.json"),
            200,
        )
    )
    recs.append(
        from_test_data(
            "resource_replace_songs",
            AFELD,
            td + "replace_songs.txt",
            "Replace report for sodapy replace() i.e. PUT /resource/songs.json with two JSON rows, saved 2015-03 "
            "(commit c8cf36b); same six keys as the upsert report.",
            request("PUT", "/resource/songs.json"),
            200,
        )
    )
    recs.append(
        from_test_data(
            "views_update_metadata_songs",
            AFELD,
            td + "update_song_metadata.txt",
            "Response to sodapy update_metadata() i.e. PUT /api/views/songs.json with {category, attributionLink}, "
            "saved 2016-10 (commit f084b33). It equals xmunoz get_song_metadata.txt except for those two values, "
            "so it was probably hand-edited from a saved GET; 'songs' is not a real 4x4 either.",
            request(
                "PUT",
                "/api/views/songs.json",
                request_body={"category": "Education", "attributionLink": "https://testing.updates"},
            ),
            200,
        )
    )
    recs.append(
        from_test_data(
            "resource_upsert_403",
            AFELD,
            td + "403_response_json.txt",
            "403 body for an unauthenticated write (sodapy uses it for POST /resource/songs.json), saved 2015-03 "
            "(commit c8cf36b); note it has only message and error, no code.",
            request("POST", "/resource/songs.json"),
            403,
        )
    )
    recs.append(
        from_test_data(
            "views_get_songs_legacy",
            XMUNOZ,
            td + "get_song_metadata.txt",
            "GET /api/views/songs.json as saved by sodapy 2.2.0's tests (2015-12, commit 53fa308); an old-backend "
            "(newBackend false) view with owner, licenseId 'CC0_10', metadata.attachments [] and no approvals "
            "or grants keys.",
            request("GET", "/api/views/songs.json"),
            200,
        )
    )
    recs.append(
        from_test_data(
            "imports2_blob_create",
            AFELD,
            td + "successblobres.txt",
            "Response to sodapy create_non_data_file() i.e. POST /api/imports2/?method=blob (a zip), saved 2016-02 "
            "(commit 411515a): a published viewType 'blobby' view with blobId/blobFilename/blobMimeType.",
            request("POST", "/api/imports2/", {"method": "blob"}),
            200,
        )
    )
    recs.append(
        from_test_data(
            "catalog_v1_global_2018",
            XMUNOZ,
            td + "get_datasets.txt",
            "A Discovery API response saved by sodapy 2.2.0's tests (2018-09, commit e4f2822): 7 results from "
            "several domains (so probably api.us.socrata.com without a domains filter; the exact request is not "
            "recorded, sodapy's test asks for limit=7); results[].metadata carries 'license' on some results.",
            request("GET", "/api/catalog/v1", {"limit": "7", "offset": "0"}),
            200,
        )
    )

    # --- dev.socrata.com markdown examples -----------------------------------------------------
    json_ct = {"Content-Type": "application/json; charset=utf-8"}
    up = "publishers/soda-producer/upsert.md"
    recs.append(
        from_markdown(
            "resource_upsert_docs_example",
            up,
            104,
            108,
            "Upsert (POST /resource/4tka-6guv.json on soda.demo.socrata.com) response printed in Socrata's upsert "
            "guide: only Rows Deleted/Updated/Created (the recorded reports also have Errors, By SID, "
            "By RowIdentifier).",
            request("POST", "/resource/4tka-6guv.json", host="soda.demo.socrata.com"),
            200,
            json_ct,
        )
    )
    recs.append(
        from_markdown(
            "resource_upsert_docs_retry_example",
            up,
            117,
            122,
            "The same upsert retried, per Socrata's upsert guide: the already-deleted row is counted under "
            "'Errors': 1 while the guide calls the retry idempotent.",
            request("POST", "/resource/4tka-6guv.json", host="soda.demo.socrata.com"),
            200,
            json_ct,
        )
    )
    recs.append(
        from_markdown(
            "resource_replace_docs_example",
            "publishers/soda-producer/replace.md",
            87,
            90,
            "Replace (PUT /resource/4tka-6guv.json) response printed in Socrata's replace guide: only "
            "Rows Updated and Rows Created.",
            request("PUT", "/resource/4tka-6guv.json", host="soda.demo.socrata.com"),
            200,
            json_ct,
        )
    )
    drm = "publishers/soda-producer/direct-row-manipulation.md"
    recs.append(
        from_markdown(
            "resource_row_get_docs_example",
            drm,
            123,
            134,
            "GET /resource/hgqn-vki9/row-evac~sxbs~gm8t.json (one row by internal row id) response printed in "
            "Socrata's direct row manipulation guide (Date header 2014-03-27): a single object, not a list.",
            request("GET", "/resource/hgqn-vki9/row-evac~sxbs~gm8t.json", host="soda.demo.socrata.com"),
            200,
            {**json_ct, "Date": "Thu, 27 Mar 2014 00:48:42 GMT"},
        )
    )
    recs.append(
        from_markdown(
            "resource_row_delete_docs_example",
            drm,
            221,
            226,
            "DELETE /resource/hgqn-vki9/row-evac~sxbs~gm8t.json response printed in Socrata's direct row "
            "manipulation guide: a list of {typ, id}, not an upsert report.",
            request("DELETE", "/resource/hgqn-vki9/row-evac~sxbs~gm8t.json", host="soda.demo.socrata.com"),
            200,
            {**json_ct, "Date": "Thu, 27 Mar 2014 00:48:42 GMT"},
        )
    )
    recs.append(
        from_markdown(
            "resource_upsert_blog_sensor_push",
            "_posts/2015-01-11-soda-sensor-push.md",
            190,
            197,
            "Upsert report logged from a live POST /resource/e94e-r7vr.json on chriswhong.demo.socrata.com in a "
            "2015-01 dev.socrata.com blog post (the 2015-02-09 wufoo post prints the same body): all six keys.",
            request("POST", "/resource/e94e-r7vr.json", host="chriswhong.demo.socrata.com"),
            200,
        )
    )
    recs.append(
        from_markdown(
            "soda_error_docs_example",
            "docs/response-codes.md",
            40,
            47,
            "The standard SODA error body printed in Socrata's 'Response Codes & Headers' page "
            "(code/error/message/data); the page does not say which status it came with (status null).",
            request("GET", "/resource/{id}.json", {"$query": "select * where string_column > 42"}),
            None,
        )
    )
    recs.append(
        from_markdown(
            "imports2_accepted_202_docs_example",
            "publishers/import/index.md",
            142,
            146,
            "202 body printed in Socrata's import guide for a long-running POST /api/imports2 (poll "
            "/api/imports2.json?ticket=...): code 'accepted', error false, ticket.",
            request("POST", "/api/imports2"),
            202,
        )
    )

    # --- Permissions API (OpenAPI examples) ------------------------------------------------------
    perm_path = "/api/views/{assetId}/permissions"
    for method in ("get", "put"):
        recs.append(
            from_spec_example(
                f"permissions_{method}_example",
                "apis/permissions.json",
                pointer("paths", perm_path, method, "responses", "200", "content", "application/json", "example"),
                f"{method.upper()} /api/views/{{assetId}}/permissions 200 example from Socrata's Permissions API spec "
                "(OpenAPI 3.0.3): scope, the domain's accessLevels, users[] (one user with no id: an email share).",
                request(method.upper(), perm_path),
                200,
            )
        )

    # --- Approvals API (schema only: approvals.yaml has no response example) ---------------------
    ap = "/views/{fourByFour}/approvals"
    recs.append(
        from_schema(
            "approvals_guidance_v2_schema",
            "apis/approvals.yaml",
            "#/components/schemas/GuidanceSummary",
            "Skeleton of GET /views/{fourByFour}/approvals?method=guidance_v2 200 (GuidanceSummary: public and "
            "internal Guidance) built from approvals.yaml's schemas; the spec has no response example. The spec "
            "documents no reviewer, notes or submitter field in guidance. The 'submission' values are the spec's "
            "SubmissionObject example.",
            request("GET", ap, {"method": "guidance_v2", "assetId": "{assetId}"}),
            200,
        )
    )
    recs.append(
        from_schema(
            "approvals_error_400_schema",
            "apis/approvals.yaml",
            "#/components/schemas/CoreError",
            "Skeleton of the 400 CoreError body (code, error, message) documented for every Approvals API "
            "endpoint; built from approvals.yaml's schema.",
            request("POST", ap, {"method": "startWorkflowSubmission"}),
            400,
        )
    )

    # --- Metadata API (schema only: metadata.json has request examples but no response example) ---
    md_ptr = "#/components/schemas/Retrieving metadata for all public assets on a domainModel"
    recs.append(
        from_schema(
            "metadata_v1_list_schema",
            "apis/metadata.json",
            md_ptr,
            "Skeleton of GET /api/views/metadata/v1 (list of all public assets' metadata) built from the only "
            "response schema in metadata.json (a component no path references, named for this endpoint). "
            "attribution, attributionLink, category, externalId, license, customFields and tags are only "
            "'nullable' with no type, hence null; the spec's field table types them String/Array[String]/"
            "Custom Fields. Timestamps are ISO-8601 strings (unlike /api/views' epoch seconds).",
            request("GET", "/api/views/metadata/v1"),
            200,
            wrap="list",
        )
    )

    recs.append(
        from_schema(
            "metadata_v1_get_schema",
            "apis/metadata.json",
            md_ptr,
            "Skeleton of GET /api/views/metadata/v1/{uuid} (one asset's metadata) built from the same component "
            "as metadata_v1_list_schema: metadata.json gives the single GET no response schema of its own, but "
            "its field table lists the same 20 fields for the API as a whole. 'Blank fields are included as null "
            "instead of being omitted' (metadata.json). Private fields, if any, are not documented.",
            request("GET", "/api/views/metadata/v1/{uuid}"),
            200,
        )
    )

    # --- Discovery API with show_visibility (schema only) ---------------------------------------
    recs.append(
        from_schema(
            "catalog_v1_show_visibility_schema",
            "apis/discovery.json",
            "#/components/responses/SearchResponse",
            "Skeleton of GET /api/catalog/v1?show_visibility=true 200 (SearchResponse) from discovery.json; the "
            "only source for results[].metadata.{is_public,is_published,is_hidden,visible_to_anonymous,"
            "visible_to_site}, which no recording here shows. Values are the spec's property examples.",
            request("GET", "/api/catalog/v1", {"show_visibility": "true"}),
            200,
        )
    )

    # --- DSMAPI (publishing.json) skeletons ------------------------------------------------------
    pub = "apis/publishing.json"
    rp = "/api/publishing/v1/revision/:fourfour/:revision_seq"
    recs.append(
        from_schema(
            "dsmapi_revision_schema",
            pub,
            "#/components/responses/RevisionResponse",
            "Skeleton of the RevisionResponse (POST /api/publishing/v1/revision 201; the same schema serves GET/"
            "PUT/PATCH/DELETE of a revision) from publishing.json: resource = Revision (attachments typed as one "
            "object, not a list; no permission field outside action), links an untyped object. The spec's "
            "walk-through reads links.create_source and links.apply.",
            request("POST", "/api/publishing/v1/revision"),
            201,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_source_schema",
            pub,
            "#/components/responses/SourceResponse",
            "Skeleton of the SourceResponse (POST .../revision/:fourfour/:revision_seq/source 201) from "
            "publishing.json: resource = Source with schemas[] = InputSchema with output_schemas[] = OutputSchema "
            "with output_columns[] each holding a Transform. Source.finished_at = 'When bytes stopped flowing "
            "into the source'; OutputSchema has finished_at and error_count but no completed_at.",
            request("POST", rp + "/source"),
            201,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_apply_taskset_schema",
            pub,
            "#/components/responses/TaskSetResponse",
            "Skeleton of PUT .../revision/:fourfour/:revision_seq/apply 200 (TaskSetResponse) from publishing.json. "
            "TaskSet has no 'key' field: socrata-py's Job.submitted_for_approval() reads resource['key'] == "
            "'approval_submitted', which no Socrata document shows. log is typed as one object {stage,time,details}.",
            request("PUT", rp + "/apply", request_body={"output_schema_id": 0}),
            200,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_apply_job_get_schema",
            pub,
            "#/components/responses/TaskSetResponse",
            "Skeleton of GET .../revision/:fourfour/:revision_seq/apply/:id (poll the apply job) from "
            "publishing.json, which documents the response under status 202, not 200.",
            request("GET", rp + "/apply/:id"),
            202,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_input_schema_schema",
            pub,
            "#/components/responses/InputSchemaResponse",
            "Skeleton of GET /api/publishing/v1/source/:source_id/schema/:id 200 (InputSchemaResponse) from "
            "publishing.json; the POST to the same path (new output schema from output_columns) returns it too.",
            request("GET", "/api/publishing/v1/source/:source_id/schema/:id"),
            200,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_output_schema_schema",
            pub,
            "#/components/responses/OutputSchemaResponse",
            "Skeleton of GET /api/publishing/v1/source/:source_id/schema/:input_schema_id/output/:output_schema_id "
            "200 (OutputSchemaResponse) from publishing.json: finished_at ('When this schema finished "
            "processing') and error_count, but no completed_at, which socrata-py's OutputSchema.wait_for_finish "
            "polls and its tests assert.",
            request("GET", "/api/publishing/v1/source/:source_id/schema/:input_schema_id/output/:output_schema_id"),
            200,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_transform_schema",
            pub,
            "#/components/responses/TransformResponse",
            "Skeleton of GET /api/publishing/v1/source/:source_id/transform/:id 200 (TransformResponse) from "
            "publishing.json: error_count is 'nil if not yet complete'; finished_at/failed_at.",
            request("GET", "/api/publishing/v1/source/:source_id/transform/:id"),
            200,
        )
    )
    recs.append(
        from_schema(
            "dsmapi_source_initiate_schema",
            pub,
            pointer(
                "paths",
                "/api/publishing/v1/source/:source_id/initiate",
                "post",
                "responses",
                "default",
                "content",
                "application/json",
                "schema",
            ),
            "Skeleton of POST /api/publishing/v1/source/:source_id/initiate (chunked upload) from publishing.json, "
            "documented as the 'default' response; values are the spec's property examples.",
            request("POST", "/api/publishing/v1/source/:source_id/initiate", request_body={"content_type": "text/csv"}),
            None,
        )
    )

    # --- socrata-py README printed resources (2017) ---------------------------------------------
    recs.append(
        from_python_repr(
            "dsmapi_revision_socrata_py_readme",
            SOCRATA_PY,
            "README.md",
            320,
            328,
            "Revision",
            "A Revision's attributes (the response's 'resource' member) printed in socrata-py's README after "
            "Socrata(auth).new({'name': 'cool dataset'}), i.e. POST /api/publishing/v1/revision, dated "
            "2017-02-27. Its 2017 field names (inserted_at, update_seq, upsert_jobs) differ from publishing.json's "
            "Revision (created_at, revision_seq, task_sets); metadata is null although the README then reads "
            "metadata['name'].",
            request("POST", "/api/publishing/v1/revision"),
            201,
            body_path="resource",
        )
    )
    recs.append(
        from_python_repr(
            "dsmapi_source_socrata_py_readme",
            SOCRATA_PY,
            "README.md",
            343,
            354,
            "Source",
            "A Source's attributes (the response's 'resource' member) printed in socrata-py's README after "
            "revision.create_upload('foo.csv'), i.e. POST .../revision/:fourfour/:revision_seq/source, dated "
            "2017-02-27: finished_at null and schemas [] before any bytes are uploaded. Its source_type member was "
            "edited into the printed output in 2017-07 (commit fda9b89, 'Change upload to source'), so this is "
            "documentation, not a capture.",
            request("POST", rp + "/source"),
            201,
            body_path="resource",
        )
    )
    return recs


def render(rec: dict[str, Any]) -> str:
    body = {k: v for k, v in rec.items() if k != "name"}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="report files that would change; write nothing")
    ap.add_argument("--repin", action="store_true", help="read each mirror at its HEAD instead of PINNED")
    args = ap.parse_args(argv)
    global REPIN
    REPIN = args.repin
    head_commit.cache_clear()
    load_cassette.cache_clear()
    OUT.mkdir(exist_ok=True)
    changed = []
    names = set()
    for rec in corpus():
        if rec["name"] in names:
            raise SystemExit(f"duplicate recording name {rec['name']}")
        names.add(rec["name"])
        if not re.fullmatch(r"[a-z0-9_.-]+", rec["name"], flags=re.I):
            raise SystemExit(f"bad recording name {rec['name']}")
        target = OUT / f"{rec['name']}.json"
        text = render(rec)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target.name)
            if not args.check:
                target.write_text(text, encoding="utf-8")
    stale = sorted(p.name for p in OUT.glob("*.json") if p.stem not in names)
    for name in changed:
        print(("would change " if args.check else "wrote ") + name)
    for name in stale:
        print(f"not built by this script: {name}")
    return 1 if args.check and (changed or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
