"""SocrataHook: the pipeline's only way to the Socrata portal.

The hook owns the Airflow connection, the sodapy 2.2.0 client and the requests session under it
(see :mod:`opendata.portal.transport` for timeouts, retries, logging and typed errors). The
modules it delegates to (:mod:`~opendata.portal.revisions`, :mod:`~opendata.portal.assets`, the
doctor) send their requests through the public :attr:`SocrataHook.session`
(:class:`~opendata.portal.transport.SocrataSession`) and do not import this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any

import pandas as pd
import requests
from airflow.sdk import BaseHook
from sodapy import Socrata as SodapyClient

from opendata.portal import assets
from opendata.portal.approvals import (
    NO_RESUBMIT_STATES,
    ApprovalStatus,
    SubmissionResult,
    approval_status_from_json,
    guidance_for_audience,
    submission_body,
)
from opendata.portal.config import CONN_TYPE, DEFAULT_CONN_ID, SocrataConnectionConfig
from opendata.portal.described import CatalogAsset, PortalDescription, parse_catalog_assets
from opendata.portal.errors import (
    SocrataApprovalError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataUnexpectedResponse,
)
from opendata.portal.models import (
    AssetFreshness,
    AssetMetadata,
    Audience,
    ColumnSpec,
    DatasetMarker,
    DatasetMetadata,
    UpsertResult,
    ViewMetadata,
    Visibility,
    audience_from_permissions,
    chunked,
    parse_catalog_page,
)
from opendata.portal.redaction import Redactor, basic_auth_token
from opendata.portal.revisions import (
    RevisionInfo,
    RevisionReplace,
    RevisionResult,
    RowsInput,
    check_audience,
    discard_revision,
    get_revision,
)
from opendata.portal.serialization import (
    EncodedChunk,
    deletion_rows,
    encode_json,
    encoded_chunks,
    known_total,
    prefetched,
)
from opendata.portal.transport import JSONValue, SocrataHTTPAdapter, SocrataSession, send_json_body

_DATASET_ID = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
USER_AGENT = "civic-opendata SocrataHook (sodapy 2.2.0)"


def _check_id(dataset_id: str) -> str:
    if not isinstance(dataset_id, str) or not _DATASET_ID.match(dataset_id):
        raise ValueError(f"Not a Socrata 4x4 dataset id: {dataset_id!r}")
    return dataset_id


class SocrataHook(BaseHook):
    """Talk to a Socrata portal (publisher side) through an Airflow ``socrata`` connection.

    **Connection** (``conn_type="socrata"``, default id ``socrata_default``):

    * *host*: portal domain. ``data.lacity.org`` or ``https://data.lacity.org`` (HTTPS);
      ``http://127.0.0.1:PORT`` for the local emulator (plain http is refused for non-loopback
      hosts unless ``allow_insecure_http`` is set).
    * *login* / *password*: API key id and secret (recommended) or username and password, sent as
      HTTP Basic. Leave both empty for anonymous reads.
    * *extra* (JSON; every key optional):

      ======================  =========  ====================================================
      key                     default    meaning
      ======================  =========  ====================================================
      ``app_token``           none       application token, sent as ``X-App-Token``
      ``connect_timeout``     10         seconds to connect
      ``read_timeout``        300        seconds to wait for a response (big upserts are slow)
      ``max_retries``         6          retries after the first attempt
      ``backoff_base``        1          first backoff cap (s); doubles per retry
      ``backoff_max``         60         largest backoff cap (s)
      ``retry_after_max``     300        largest ``Retry-After`` honoured (s)
      ``chunk_size``          10000      rows per upsert/replace request
      ``page_size``           10000      rows per paged read request
      ``socrata_host``        host       ``X-Socrata-Host`` value if it differs from the host
      ``allow_insecure_http`` false      allow ``http://`` to a non-loopback host
      ======================  =========  ====================================================

    **Retries**: 429, 500, 502, 503, 504, 202 and timeouts/connection errors are retried for every
    method (SODA upserts with a row identifier and replaces are idempotent) with equal-jitter
    exponential backoff, at least ``Retry-After`` when the portal sends it. Requests that are
    not idempotent (dataset creation, approval submission, publication) are retried by the
    transport only when the portal cannot have acted on them (429, connect timeout, connection
    refused); after any other failure the hook reads the state first and acts again only if the
    write did not take (see :mod:`opendata.portal.assets`). A created dataset carries a marker
    (:class:`DatasetMarker`) so that a lost answer never leads to a second dataset.

    **Atomic replace**: :meth:`replace_via_revision` replaces every row through a DSMAPI revision
    opened with the dataset's current audience as its permission; readers see the old rows or
    the new ones, never a mix. Uploading is retried chunk by chunk; applying is never repeated
    blindly (see :mod:`opendata.portal.revisions`).

    **Safety**: there is no method that deletes a dataset, and the transport refuses to send a
    ``DELETE`` for a whole view or dataset. Rows are deleted only by ``:deleted`` upserts
    (:meth:`upsert_deletions`). The only ``DELETE`` sent is DSMAPI's discard of an unapplied
    revision (:meth:`discard_revision`), which leaves the dataset as it was. Passwords, app tokens
    and the Basic auth header never appear in logs, error messages or reprs.

    **Requests**: every request goes through :attr:`session`
    (:meth:`SocrataSession.request <opendata.portal.transport.SocrataSession.request>`), which
    the hook builds from the connection, the sodapy client and the adapter it owns.

    :param socrata_conn_id: Airflow connection id.
    :param chunk_size: rows per write request; overrides the connection's ``chunk_size``.
    """

    conn_name_attr = "socrata_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Socrata"

    def __init__(
        self,
        socrata_conn_id: str = default_conn_name,
        *,
        chunk_size: int | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.socrata_conn_id = socrata_conn_id
        self._chunk_size = chunk_size
        self._config: SocrataConnectionConfig | None = None
        self._session: SocrataSession | None = None
        self._redactor = Redactor()

    def __repr__(self) -> str:
        domain = self._config.domain if self._config else "?"
        return f"{type(self).__name__}(socrata_conn_id={self.socrata_conn_id!r}, domain={domain!r})"

    # -- connection and client ----------------------------------------------------------------
    @property
    def config(self) -> SocrataConnectionConfig:
        """Parsed connection settings (read once per hook).

        For the hook and its transport. Callers outside :mod:`opendata.portal` read what they
        need through the named properties below (:attr:`base_url`,
        :attr:`approval_changes_audience`, :attr:`catalog_lag_seconds`,
        :attr:`visibility_wait_seconds`); the modules under the hook read ``session.config``.
        """
        if self._config is None:
            conn = self.get_connection(self.socrata_conn_id)
            return self._set_config(SocrataConnectionConfig.from_connection(conn))
        return self._config

    def _set_config(self, config: SocrataConnectionConfig) -> SocrataConnectionConfig:
        self._config = config
        self._redactor = Redactor(config.secrets())
        self._redactor.add_basic_auth(config.username, config.password)
        self._mask_secrets(config)
        return config

    async def _aconfig(self) -> SocrataConnectionConfig:
        """:attr:`config`, the connection read without blocking (in the triggerer's event loop)."""
        if self._config is None:
            conn = await self.aget_connection(self.socrata_conn_id)
            return self._set_config(SocrataConnectionConfig.from_connection(conn))
        return self._config

    @staticmethod
    def _mask_secrets(config: SocrataConnectionConfig) -> None:
        """Register secrets (incl. the Basic auth token) with Airflow's log masker, if available."""
        values = list(config.secrets())
        if config.username and config.password:
            values.append(basic_auth_token(config.username, config.password))
        if not values:
            return
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:  # pragma: no cover - older SDKs
            return
        for value in values:
            try:
                mask_secret(value)
            except Exception:  # noqa: BLE001 - masking is best effort; never break the hook
                pass

    @property
    def chunk_size(self) -> int:
        return self._chunk_size or self.config.chunk_size

    # -- what callers outside the portal package need of the connection's settings -------------
    @property
    def base_url(self) -> str:
        """The portal's address, ``https://data.example.gov`` (for links in e-mails and reports)."""
        return self.config.base_url

    @property
    def approval_changes_audience(self) -> bool:
        """Whether approving a public-audience request makes the asset public at once."""
        return self.config.approval_changes_audience

    @property
    def catalog_lag_seconds(self) -> float:
        """How long the Discovery API may take to list a new asset."""
        return self.config.catalog_lag_seconds

    @property
    def visibility_wait_seconds(self) -> float:
        """How long an anonymous read may take to see a dataset that was just made public."""
        return self.config.visibility_wait_seconds

    # -- the client and the session ---------------------------------------------------------------
    def get_conn(self) -> SodapyClient:
        """The sodapy client, its session wired through :class:`SocrataHTTPAdapter`."""
        return self.session.client

    @property
    def session(self) -> SocrataSession:
        """The authenticated session every request to the portal goes through: its
        :meth:`~opendata.portal.transport.SocrataSession.request` is the one way to send one
        (retries, lost-answer rules, typed errors, redaction and logging included). Built with
        the sodapy client on first use; :meth:`close` closes both."""
        if self._session is None:
            cfg = self.config
            adapter = self._make_adapter(cfg)
            client = SodapyClient(
                cfg.domain,
                cfg.app_token,
                username=cfg.username,
                password=cfg.password,
                session_adapter={"prefix": f"{cfg.scheme}://", "adapter": adapter},
                timeout=cfg.read_timeout,
            )
            headers = client.session.headers
            if cfg.app_token:
                headers.pop("X-App-token", None)
                headers["X-App-Token"] = cfg.app_token
            headers["X-Socrata-Host"] = cfg.host_header
            headers["User-Agent"] = USER_AGENT
            self._session = SocrataSession(client, adapter, cfg, self._redactor)
        return self._session

    def _make_adapter(self, cfg: SocrataConnectionConfig) -> SocrataHTTPAdapter:
        return SocrataHTTPAdapter(
            policy=cfg.retry_policy,
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            logger=self.log,
            redactor=self._redactor,
        )

    @property
    def adapter(self) -> SocrataHTTPAdapter:
        """The transport adapter under the session (its attempt and retry counters, for tests and
        diagnostics)."""
        return self.session.adapter

    def close(self) -> None:
        if self._session is not None:
            self._session.client.close()
        self._session = None

    def __enter__(self) -> SocrataHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Airflow UI "Test": one authenticated catalog request."""
        try:
            self.session.request("GET", "/api/catalog/v1", params={"limit": 1})
        except SocrataError as err:
            return False, str(err)
        return True, f"Connected to {self.config.domain}"

    # -- dataset lifecycle --------------------------------------------------------------------
    def create_dataset(
        self,
        name: str,
        columns: Sequence[ColumnSpec | Mapping[str, Any]],
        *,
        row_identifier: str | None,
        metadata: DatasetMetadata | None = None,
        marker: DatasetMarker | None = None,
        new_backend: bool = False,
    ) -> str:
        """Create a PRIVATE draft dataset and return its 4x4 id.

        Uses the legacy ``POST /api/views.json`` (as sodapy ``create`` does) with the columns,
        ``metadata.rowIdentifier``, descriptive metadata and custom fields, then sets and
        verifies the private audience. The new asset is a draft (``publicationStage:
        "unpublished"``) until :meth:`publish`.

        Creation is not idempotent and never repeated here. With a ``marker`` (recommended) an
        ambiguous failure is followed by a lookup of the asset by the marker; if none is listed
        yet, :class:`~opendata.portal.assets.SocrataCreationUnknown` is raised and nothing else
        is created (look with :meth:`find_marked_datasets` before trying again).

        :param columns: :class:`ColumnSpec` or mappings with fieldName/name/dataTypeName/description.
        :param row_identifier: field name of the row identifier column (makes upserts idempotent);
            ``None`` for a dataset that is only ever replaced.
        :param metadata: description, category, tags, license, attribution, custom fields.
        :param marker: the custom field naming the dataset file the asset belongs to.
        :param new_backend: create with ``?nbe=true``.
        """
        specs = [ColumnSpec.coerce(c) for c in columns]
        if not specs:
            raise ValueError("A dataset needs at least one column")
        field_names = [c.field_name for c in specs]
        if len(set(field_names)) != len(field_names):
            raise ValueError("Duplicate column field names")
        if row_identifier is not None and row_identifier not in field_names:
            raise ValueError(f"row_identifier {row_identifier!r} is not one of the columns")
        dataset_id = assets.create_marked(
            self, name, specs, row_identifier=row_identifier, metadata=metadata or DatasetMetadata(),
            marker=marker, new_backend=new_backend,
        )
        self.log.info("Created dataset %s (%r); making sure it is private", dataset_id, name)
        self.make_private(dataset_id)
        return dataset_id

    def make_private(self, dataset_id: str) -> None:
        """Set the private audience and read it back (``setPermission`` is idempotent)."""
        self.set_audience(dataset_id, Audience.PRIVATE)
        audience = self.get_audience(dataset_id)
        if audience is not Audience.PRIVATE:
            raise SocrataError(
                f"Dataset {dataset_id} is {audience.value} after asking for private",
                path=f"/api/views/{dataset_id}/permissions",
            )

    def find_marked_datasets(self, marker: DatasetMarker, *, name: str | None = None) -> list[ViewMetadata]:
        """Assets carrying ``marker``, oldest first (see :func:`opendata.portal.assets.find_marked`)."""
        return assets.find_marked(self, marker, name=name)

    def get_view(self, dataset_id: str) -> ViewMetadata:
        """``GET /api/views/{id}.json`` as :class:`ViewMetadata` (full payload in ``.raw``)."""
        session = self.session
        payload = session.sodapy_call("get view", session.client.get_metadata, _check_id(dataset_id))
        return ViewMetadata.from_json(payload)

    def describe_dataset(self, dataset_id: str) -> PortalDescription:
        """The dataset as the portal describes it (one ``GET /api/views/{id}.json``): metadata,
        columns, row identifier, custom fields, publication and audience; for taking over a
        dataset the pipeline did not create (``opendata adopt``). Raises ``SocrataNotFound``."""
        return PortalDescription.from_view(self.get_view(dataset_id))

    def list_catalog_datasets(
        self,
        *,
        categories: Sequence[str] = (),
        owner: str | None = None,
        page_size: int = 100,
    ) -> list[CatalogAsset]:
        """Datasets of this domain the Discovery API lists (``GET /api/catalog/v1`` with
        ``domains``, ``only=dataset``, ``categories`` and ``for_user`` (the owner's user id),
        paged with ``limit``/``offset`` until ``resultSetSize``), in the catalog's order. With
        ``X-Socrata-Host`` the catalog includes what this account may see that is not public;
        callers check each dataset's view before acting on it."""
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        filters: list[tuple[str, str]] = [("domains", self.config.host_header), ("only", "dataset")]
        filters += [("categories", c) for c in categories]
        if owner:
            filters.append(("for_user", owner))
        found: dict[str, CatalogAsset] = {}
        offset = 0
        while True:
            params = [*filters, ("limit", str(page_size)), ("offset", str(offset))]
            payload = self.session.request("GET", "/api/catalog/v1", params=params)
            assets, returned, total = parse_catalog_assets(payload)
            for asset in assets:
                found.setdefault(asset.id, asset)
            offset += returned
            if returned < page_size or (total is not None and offset >= total):
                return list(found.values())

    def get_asset_metadata(self, dataset_id: str) -> AssetMetadata:
        """``GET /api/views/metadata/v1/{id}`` (Metadata API) as :class:`AssetMetadata`."""
        payload = self.session.request("GET", f"/api/views/metadata/v1/{_check_id(dataset_id)}")
        return AssetMetadata.from_json(payload)

    def update_metadata(
        self, dataset_id: str, patch: DatasetMetadata | Mapping[str, Any], *, strict: bool = False
    ) -> AssetMetadata:
        """``PATCH /api/views/metadata/v1/{id}``: change only the given fields.

        :param patch: a :class:`DatasetMetadata` (unset fields are left alone) or a mapping in
            Metadata API field names (``name, description, category, tags, license,
            attribution, attributionLink, externalId, customFields``).
        :param strict: ask the portal to treat warnings as errors.
        """
        body = patch.to_metadata_api() if isinstance(patch, DatasetMetadata) else dict(patch)
        if not body:
            raise ValueError("Empty metadata patch")
        params = {"strict": "true"} if strict else None
        path = f"/api/views/metadata/v1/{_check_id(dataset_id)}"
        payload = self.session.request("PATCH", path, params=params, body=body)
        if not isinstance(payload, Mapping) or not payload.get("id"):
            return self.get_asset_metadata(dataset_id)
        return AssetMetadata.from_json(payload)

    def validate_metadata(
        self, dataset_id: str, patch: DatasetMetadata | Mapping[str, Any], *, strict: bool = False
    ) -> Any:
        """Dry-run a metadata patch (``?validateOnly=true``); returns the portal's report."""
        body = patch.to_metadata_api() if isinstance(patch, DatasetMetadata) else dict(patch)
        params = {"validateOnly": "true"}
        if strict:
            params["strict"] = "true"
        return self.session.request(
            "PATCH", f"/api/views/metadata/v1/{_check_id(dataset_id)}", params=params, body=body
        )

    def set_audience(self, dataset_id: str, audience: Audience | str) -> None:
        """Make a dataset public or private (legacy ``setPermission``).

        Making it public may put it in the approvals queue on portals with approvals enabled;
        use :meth:`submit_for_public_approval` for the reviewed path.
        """
        value = Audience.parse(audience) if not isinstance(audience, Audience) else audience
        if value not in (Audience.PUBLIC, Audience.PRIVATE):
            raise ValueError("audience must be 'public' or 'private'")
        session = self.session
        session.sodapy_call("set permission", session.client.set_permission, _check_id(dataset_id), value.value)
        self.log.info("Set audience of %s to %s", dataset_id, value.value)

    def get_audience(self, dataset_id: str) -> Audience:
        """Audience from ``GET /api/views/{id}/permissions`` (``scope``)."""
        payload = self.session.request("GET", f"/api/views/{_check_id(dataset_id)}/permissions")
        return audience_from_permissions(payload)

    def publish(self, dataset_id: str) -> ViewMetadata:
        """Publish a draft (``POST /api/views/{id}/publication.json``) with its audience kept;
        nothing is sent when it is published already, and a lost answer is read back, never
        repeated blindly. Returns the published view."""
        return assets.publish(self, _check_id(dataset_id))

    def visibility(self, dataset_id: str) -> Visibility:
        """Published, audience, approval, hidden: read back from the view and the guidance."""
        return assets.visibility(self, _check_id(dataset_id))

    def anonymous_read_status(self, dataset_id: str) -> int:
        """HTTP status of ``GET /resource/{id}.json?$limit=1`` sent as an anonymous visitor (no
        credentials; the app token only, as a public app would send it). 200 means the public
        sees the rows."""
        _check_id(dataset_id)
        cfg = self.config
        session = requests.Session()
        session.mount(f"{cfg.scheme}://", self._make_adapter(cfg))
        if cfg.app_token:
            session.headers["X-App-Token"] = cfg.app_token
        try:
            try:
                response = session.get(
                    f"{cfg.base_url}/resource/{dataset_id}.json", params={"$limit": 1}, timeout=cfg.timeout
                )
            except SocrataError as err:  # the adapter raises typed errors for what it gave up on
                if err.status is None:
                    raise
                return err.status
            return response.status_code
        finally:
            session.close()

    # -- rows -------------------------------------------------------------------------------
    def upsert(
        self,
        dataset_id: str,
        rows: Iterable[Mapping[str, Any]] | Iterable[pd.DataFrame] | pd.DataFrame,
        *,
        chunk_size: int | None = None,
        total: int | None = None,
        require_row_identifier: bool = True,
    ) -> UpsertResult:
        """Chunked upsert (``POST /resource/{id}.json``); returns the summed report.

        :param rows: row mappings keyed by API field name, DataFrames, or a mix. Include
            ``":deleted": True`` in a row to delete it (see :meth:`upsert_deletions`).
            NaN/NaT/None become null; see :mod:`opendata.portal.serialization`.
        :param chunk_size: rows per request (default: hook/connection ``chunk_size``, 10,000).
        :param total: expected row count, for progress logs (inferred for DataFrames and lists).
        :param require_row_identifier: refuse datasets without a row identifier, where a
            retried request would append duplicates. With ``False`` such datasets are written
            without retrying ambiguous failures.

        Counts are summed over chunks; a chunk retried after a read timeout may be counted as
        "updated" the second time, so check the portal's row count when exactness matters.

        Rows are read, converted and encoded (once per chunk: a retry re-sends the same bytes) in
        a background thread while the previous chunk is on the wire, so at most three chunks are
        held (one sent, one ready, one being prepared). A conversion error is raised here,
        naming the row and column; the thread has ended by then.
        """
        _check_id(dataset_id)
        idempotent = self._writes_are_idempotent(dataset_id, require_row_identifier)
        size = self._resolve_chunk_size(chunk_size)
        total = total if total is not None else known_total(rows)
        # Rows are read, converted and encoded in a background thread while the previous chunk is
        # on the wire; closing the stream stops that thread on every way out of here.
        with closing(prefetched(encoded_chunks(rows, size))) as chunks:
            return self._write_chunks(dataset_id, chunks, total, replace_first=False, idempotent=idempotent)

    def _writes_are_idempotent(self, dataset_id: str, require_row_identifier: bool) -> bool:
        """Check the dataset has a row identifier (so retried writes cannot duplicate rows)."""
        if not require_row_identifier:
            return False
        view = self.get_view(dataset_id)
        if not view.has_row_identifier:
            raise SocrataForbiddenOperation(
                f"Dataset {dataset_id} has no row identifier: retried writes would append duplicate "
                "rows. Set a row identifier, or pass require_row_identifier=False.",
                path=f"/resource/{dataset_id}.json",
            )
        return True

    def _resolve_chunk_size(self, chunk_size: int | None) -> int:
        size = chunk_size or self.chunk_size
        if size < 1:
            raise ValueError("chunk_size must be >= 1")
        return size

    def upsert_deletions(
        self, dataset_id: str, row_id_field: str, ids: Iterable[Any], *, chunk_size: int | None = None
    ) -> UpsertResult:
        """Delete rows by row identifier with ``:deleted`` upserts (the only way rows are deleted)."""
        ids = list(ids)
        return self.upsert(
            dataset_id, deletion_rows(row_id_field, ids), chunk_size=chunk_size, total=len(ids)
        )

    def replace(
        self,
        dataset_id: str,
        rows: Iterable[Mapping[str, Any]] | Iterable[pd.DataFrame] | pd.DataFrame,
        *,
        chunk_size: int | None = None,
        total: int | None = None,
        allow_empty: bool = False,
        require_row_identifier: bool = True,
    ) -> UpsertResult:
        """Replace all rows: the first chunk with ``PUT /resource/{id}.json``, the rest upserted.

        **Not atomic.** Between the first and the last chunk the dataset holds only part of the
        new rows, and a failure midway leaves it that way (re-running the replace repairs it).
        For an atomic replace use :meth:`replace_via_revision` (a DSMAPI revision). Prefer
        :meth:`upsert` with ``:deleted`` rows for incremental loads.

        :param allow_empty: an empty input would truncate the dataset; refused unless ``True``.
        :param require_row_identifier: as for :meth:`upsert` (the chunks after the first are upserts).
        """
        _check_id(dataset_id)
        size = self._resolve_chunk_size(chunk_size)
        total = total if total is not None else known_total(rows)
        with closing(prefetched(encoded_chunks(rows, size))) as chunks:
            first = next(chunks, None)
            if first is None:
                if not allow_empty:
                    raise ValueError("Refusing to replace a dataset with no rows; pass allow_empty=True")
                first = EncodedChunk(rows=0, body=encode_json([]))
            idempotent = self._writes_are_idempotent(dataset_id, require_row_identifier)
            return self._write_chunks(
                dataset_id, itertools.chain([first], chunks), total, replace_first=True, idempotent=idempotent
            )

    def _write_chunks(
        self,
        dataset_id: str,
        chunks: Iterable[EncodedChunk],
        total: int | None,
        *,
        replace_first: bool,
        idempotent: bool,
    ) -> UpsertResult:
        session = self.session
        verb = "replace" if replace_first else "upsert"
        result = UpsertResult()
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            if replace_first and index == 0:
                report = session.sodapy_call("replace", send_json_body, session.client, "put", dataset_id, chunk.body)
            else:
                report = session.sodapy_call(
                    "upsert", send_json_body, session.client, "post", dataset_id, chunk.body, idempotent=idempotent
                )
            part = UpsertResult.from_json(report, rows_sent=chunk.rows)
            result = result + part
            elapsed = max(time.monotonic() - started, 1e-6)
            self.log.info(
                "Socrata %s %s: chunk %d sent %d rows, %d/%s so far (%.0f rows/s); "
                "created %d, updated %d, deleted %d, errors %d",
                verb,
                dataset_id,
                index + 1,
                chunk.rows,
                result.rows_sent,
                total if total is not None else "?",
                result.rows_sent / elapsed,
                part.rows_created,
                part.rows_updated,
                part.rows_deleted,
                part.errors,
            )
            if part.errors:
                self.log.warning(
                    "Socrata %s %s: the portal reported %d row error(s) in chunk %d",
                    verb,
                    dataset_id,
                    part.errors,
                    index + 1,
                )
        self.log.info(
            "Socrata %s %s done: %d rows in %d request(s); created %d, updated %d, deleted %d, errors %d",
            verb,
            dataset_id,
            result.rows_sent,
            result.requests,
            result.rows_created,
            result.rows_updated,
            result.rows_deleted,
            result.errors,
        )
        return result

    # -- atomic replace: DSMAPI revisions ---------------------------------------------------------
    def replace_via_revision(
        self,
        dataset_id: str,
        rows_or_frames: RowsInput,
        *,
        total: int | None = None,
        audience: Audience | str,
        poll_seconds: float = 2.0,
        timeout: float = 3600.0,
        allow_empty: bool = False,
        allow_missing_columns: bool = False,
        attempts: int = 3,
        column_types: Mapping[str, str] | None = None,
    ) -> RevisionResult:
        """Replace every row atomically through a DSMAPI revision: readers see the old rows until
        the portal switches to the new ones, never a mix (see :mod:`opendata.portal.revisions`).

        The revision is opened with permission ``audience``, explicitly, and only after checking
        that the dataset has that audience now: applying a revision sets the dataset's audience to
        the revision's permission, so a wrong one would publish or hide the dataset as a side
        effect. A mismatch raises :class:`SocrataForbiddenOperation` before anything is written.

        :param rows_or_frames: DataFrames (one, or an iterable of them, e.g. read one row group at
            a time), row mappings keyed by API field name, or a zero-argument callable returning
            either (which lets a failed upload start again from the beginning). Streamed: rows are
            serialised to CSV a batch at a time and sent in the portal's preferred chunk size, so
            memory does not grow with the row count. Every dataset column must be present (unless
            ``allow_missing_columns``); values follow :mod:`opendata.portal.serialization` (an
            empty string is sent as an empty cell, which the portal stores as null).
        :param total: expected row count, for progress logs.
        :param audience: the dataset's audience as the caller knows it (``public``/``private``).
        :param poll_seconds: longest pause between polls of the source parse and the apply job.
        :param timeout: seconds to wait for the parse, and again for the apply job.
        :param allow_empty: an empty input would empty the dataset; refused unless ``True``.
        :param attempts: uploads tried (each in a fresh revision, the failed one discarded) when a
            transient error outlasts the per-request retries; only for re-iterable inputs.
        :param column_types: ``/api/views`` type per field name to load the rows as (the dataset
            file's); by default the dataset's current column types. Socrata guesses types from the
            upload, and every column whose guess differs gets a transform to this type.
        :returns: counts from the apply job's ``upsert_complete`` log entry and the upload.
        :raises SocrataRevisionFailed: the upload was refused, rows would be dropped, or the apply
            job failed (the dataset is unchanged; the revision was discarded).
        :raises SocrataRevisionTimeout: the job did not finish in time (it may still finish).
        """
        _check_id(dataset_id)
        wanted = check_audience(audience, self.get_audience(dataset_id), dataset_id)
        view = self.get_view(dataset_id)
        replace = RevisionReplace(
            self.session,
            dataset_id,
            view,
            wanted,
            log=self.log,
            total=total if total is not None else known_total(rows_or_frames),
            poll_seconds=poll_seconds,
            timeout=timeout,
            allow_empty=allow_empty,
            allow_missing_columns=allow_missing_columns,
            attempts=attempts,
            column_types=column_types,
        )
        return replace.run(rows_or_frames)

    def discard_revision(self, dataset_id: str, revision_seq: int) -> None:
        """Close an open DSMAPI revision without applying it; the dataset does not change."""
        discard_revision(self.session, _check_id(dataset_id), revision_seq)
        self.log.info("Discarded revision %s/%d", dataset_id, revision_seq)

    def get_revision(self, dataset_id: str, revision_seq: int) -> RevisionInfo:
        """One DSMAPI revision as the portal has it now (open or closed, its apply jobs)."""
        return get_revision(self.session, _check_id(dataset_id), revision_seq)

    def iter_rows(
        self,
        dataset_id: str,
        *,
        page_size: int | None = None,
        select: str | None = None,
        where: str | None = None,
        order: str = ":id",
        exclude_system_fields: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Yield every row, paging with ``$limit``/``$offset`` in a stable ``$order``.

        ``:id`` is always part of the order (appended as a tie-breaker to a custom order), so
        pages neither overlap nor skip rows.
        """
        _check_id(dataset_id)
        size = page_size or self.config.page_size
        order_by = order.strip() or ":id"
        if ":id" not in [part.strip().split(" ")[0] for part in order_by.split(",")]:
            order_by = f"{order_by},:id"
        session = self.session
        offset = 0
        while True:
            kwargs: dict[str, Any] = {"order": order_by, "limit": size, "offset": offset}
            if select:
                kwargs["select"] = select
            if where:
                kwargs["where"] = where
            if not exclude_system_fields:
                kwargs["exclude_system_fields"] = "false"
            page = session.sodapy_call("read rows", session.client.get, dataset_id, **kwargs)
            if not isinstance(page, list):
                raise SocrataUnexpectedResponse(
                    "Row page is not a JSON array", method="GET", path=f"/resource/{dataset_id}.json"
                )
            yield from page
            if len(page) < size:
                return
            offset += size

    # -- approvals ----------------------------------------------------------------------------
    def get_approval_guidance(self, dataset_id: str) -> JSONValue:
        """Raw ``GET /api/views/{id}/approvals?method=guidance_v2&assetId={id}``."""
        _check_id(dataset_id)
        return self.session.request(
            "GET",
            f"/api/views/{dataset_id}/approvals",
            params={"method": "guidance_v2", "assetId": dataset_id},
        )

    def get_approval_status(
        self, dataset_id: str, audience: str = "public", *, view: ViewMetadata | None = None
    ) -> ApprovalStatus:
        """Current approval state for ``audience`` plus the latest review from ``approvals[]``
        (of ``view`` when the caller has just read it)."""
        guidance = self.get_approval_guidance(dataset_id)
        view = view or self.get_view(dataset_id)
        return approval_status_from_json(dataset_id, guidance, view.approvals, audience)

    def submit_for_public_approval(self, dataset_id: str) -> SubmissionResult:
        """Ask for the public audience (``startWorkflowSubmission``), once.

        Idempotent: when a submission is already pending or approved nothing is sent. After a
        rejection a new submission is sent. An ambiguous failure (5xx, timeout) is followed by
        a new reading of the approval state; the submission is sent again only if it did not
        take. Raises :class:`SocrataApprovalError` when the portal says the asset cannot be
        submitted.
        """
        latest: list[ApprovalStatus] = []

        def submitted() -> ApprovalStatus | None:
            status = self.get_approval_status(dataset_id)
            latest[:] = [status]
            return status if status.state in NO_RESUBMIT_STATES else None

        def send() -> None:
            status = latest[0]
            if not status.can_submit:
                raise SocrataApprovalError(
                    f"Dataset {dataset_id} cannot be submitted for public approval (state {status.state.value})",
                    path=f"/api/views/{dataset_id}/approvals",
                )
            body = submission_body(guidance_for_audience(status.raw_guidance or {"public": {}}, "public"))
            self.session.request(
                "POST",
                f"/api/views/{dataset_id}/approvals",
                params={"method": "startWorkflowSubmission"},
                body=body,
                idempotent=False,
            )

        status, acted = assets.act_confirmed(
            self, f"submit {dataset_id} for public approval", done=submitted, act=send, settle_seconds=30.0
        )
        if acted:
            self.log.info("Submitted dataset %s for public approval (now %s)", dataset_id, status.state.value)
        else:
            self.log.info(
                "Dataset %s public approval is already %s; not submitting again", dataset_id, status.state.value
            )
        return SubmissionResult(submitted=acted, status=status)

    async def aget_approval_status(self, dataset_id: str, audience: str = "public") -> ApprovalStatus:
        """Async :meth:`get_approval_status` (httpx), for deferrable triggers: the triggerer calls
        it as Airflow's ``HttpTrigger`` calls ``HttpAsyncHook``. The connection is read once per
        hook, without blocking the event loop; each call opens and closes its own httpx client.
        Read-only; the same retry policy, typed errors, redaction and log lines as the sync path.

        :raises SocrataConfigError: the connection is unusable (raised before any request).
        """
        from opendata.portal.aio import fetch_approval_status

        _check_id(dataset_id)
        config = await self._aconfig()
        return await fetch_approval_status(
            config, dataset_id, audience=audience, logger=self.log, redactor=self._redactor
        )

    # -- catalog / freshness ------------------------------------------------------------------
    def list_asset_freshness(
        self,
        ids: Iterable[str] | None = None,
        *,
        batch_size: int = 100,
        page_size: int = 1000,
        with_comments: bool = False,
    ) -> dict[str, AssetFreshness]:
        """``data_updated_at``, ``metadata_updated_at`` and audience per asset, in bulk.

        Uses the Discovery API on the portal host (``GET /api/catalog/v1``, authenticated with
        ``X-Socrata-Host`` so private assets are included) with ``show_visibility=true``.
        ``ids`` are sent ``batch_size`` per request (keeps URLs short); ``ids=None`` lists every
        asset of the domain, ``page_size`` per request. Ids the catalog does not return are
        missing from the result (and logged).

        ``number_of_comments`` is not in the Discovery API; it stays ``None`` unless
        ``with_comments=True``, which costs one extra ``GET /api/views/{id}.json`` per asset.
        """
        out: dict[str, AssetFreshness] = {}
        if ids is None:
            self._catalog_pages([], page_size, out)
        else:
            wanted = list(dict.fromkeys(_check_id(i) for i in ids))
            for batch in chunked(wanted, batch_size):
                self._catalog_pages([("ids", i) for i in batch], len(batch), out)
            missing = [i for i in wanted if i not in out]
            if missing:
                self.log.warning(
                    "Catalog returned no entry for %d asset(s): %s", len(missing), ", ".join(missing)
                )
        if with_comments:
            for asset_id, item in list(out.items()):
                if _DATASET_ID.match(asset_id):
                    comments = self.get_view(asset_id).number_of_comments
                    out[asset_id] = dataclasses.replace(item, number_of_comments=comments)
        return out

    def _catalog_pages(
        self, filters: list[tuple[str, str]], limit: int, out: dict[str, AssetFreshness]
    ) -> None:
        offset = 0
        while True:
            params = [
                *filters,
                ("domains", self.config.host_header),
                ("show_visibility", "true"),
                ("limit", str(limit)),
                ("offset", str(offset)),
            ]
            payload = self.session.request("GET", "/api/catalog/v1", params=params)
            items, total = parse_catalog_page(payload)
            for item in items:
                out[item.id] = item
            results = payload.get("results") if isinstance(payload, Mapping) else None
            offset += len(results) if isinstance(results, list) else 0
            if not items or len(items) < limit or (total is not None and offset >= total):
                return
