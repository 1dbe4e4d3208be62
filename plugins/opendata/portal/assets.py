"""Creating, publishing and submitting one asset, and checking who can see it: the client side.

:class:`SocrataHook <opendata.portal.hook.SocrataHook>` methods delegate here, passing the hook,
which these functions know only as an :class:`AssetPortal` (what they use of it: its session,
its log and two reads), so this module does not import the hook. Three of these
calls are not idempotent on the wire: ``POST /api/views.json`` (create), ``POST
/api/views/{id}/publication.json`` (publish) and ``POST /api/views/{id}/approvals?method=
startWorkflowSubmission`` (submit). A 5xx or a timeout can arrive *after* the portal applied
one of them (reference, "Corrections from review"), so none is ever repeated blindly:

* publish and submit go through :func:`act_confirmed`: read the state, act only if it is not
  there yet, and after an ambiguous failure read it again before acting again;
* create cannot be read back by id (the id is in the lost answer), so every new asset carries a
  :class:`~opendata.portal.models.DatasetMarker` (a custom field naming its dataset file) and is
  looked up by it: before creating, and after an ambiguous failure. When the lookup still finds
  nothing, :class:`SocrataCreationUnknown` is raised instead of creating again: the catalog may
  not list a new asset yet, and the caller (which records its intent) decides when to try again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from opendata.portal.approvals import ApprovalStatus
from opendata.portal.errors import (
    SocrataAuthError,
    SocrataConnectionError,
    SocrataError,
    SocrataNotFound,
    SocrataServerError,
    SocrataUnexpectedResponse,
)
from opendata.portal.models import (
    ColumnSpec,
    DatasetMarker,
    DatasetMetadata,
    ViewMetadata,
    Visibility,
    hidden_from_catalog,
    parse_catalog_page,
)
from opendata.portal.transport import PortalLog, SocrataSession

T = TypeVar("T")

#: Failures after which the write may or may not have been applied.
AMBIGUOUS = (SocrataServerError, SocrataConnectionError, SocrataUnexpectedResponse)


class AssetPortal(Protocol):
    """What these steps use of the hook (:class:`~opendata.portal.hook.SocrataHook` is one)."""

    @property
    def log(self) -> PortalLog: ...

    @property
    def session(self) -> SocrataSession: ...

    def get_view(self, dataset_id: str) -> ViewMetadata: ...

    def get_approval_status(
        self, dataset_id: str, audience: str = "public", *, view: ViewMetadata | None = None
    ) -> ApprovalStatus: ...


class SocrataCreationUnknown(SocrataError):
    """Creating an asset failed in a way that leaves its outcome unknown (the portal may have
    created it and lost the answer), and no asset carrying the marker could be found yet.

    Nothing was created twice. Try again later: the next attempt looks for the marker first.
    """


def act_confirmed(
    hook: AssetPortal,
    what: str,
    *,
    done: Callable[[], T | None],
    act: Callable[[], Any],
    settle_seconds: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, bool]:
    """Bring the portal to a state with a write that must not be repeated blindly.

    ``done()`` reads the state and returns something (truthy) once the state is reached, else
    ``None``. ``act()`` sends the write once, without transport retries of ambiguous failures.
    After a clean answer the state is polled for ``settle_seconds`` (the portal may apply the
    write asynchronously, e.g. a publication answering 202); after an ambiguous failure it is
    read again before anything else. Returns ``(state, acted)``: ``acted`` is False when the
    state was there before this call.
    """
    policy = hook.session.retry_policy
    last: SocrataError | None = None
    for attempt in range(policy.max_attempts):
        state = done()
        if state is not None:
            if last is not None:
                hook.log.info("Socrata %s: the portal had applied it although the answer was lost", what)
            return state, attempt > 0
        try:
            act()
        except AMBIGUOUS as err:
            last = err
            delay = policy.compute_delay(attempt)
            hook.log.warning(
                "Socrata %s: outcome unknown (%s); reading the state again in %.1fs before anything else",
                what,
                err,
                delay,
            )
            sleep(delay)
            continue
        state = _poll(done, settle_seconds, sleep)
        if state is not None:
            return state, True
        raise SocrataUnexpectedResponse(
            f"{what}: the portal accepted the request but the change did not show within {settle_seconds:g}s"
        )
    # The last try may have been applied too: read once more before giving up.
    state = done()
    if state is not None:
        hook.log.info("Socrata %s: the portal had applied the last try although its answer was lost", what)
        return state, True
    assert last is not None
    raise last


def _poll(read: Callable[[], T | None], seconds: float, sleep: Callable[[float], None]) -> T | None:
    deadline = time.monotonic() + seconds
    delay = 0.2
    while True:
        state = read()
        if state is not None or time.monotonic() >= deadline:
            return state
        sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
        delay = min(delay * 2, 5.0)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


def publish(hook: AssetPortal, dataset_id: str, *, sleep: Callable[[float], None] = time.sleep) -> ViewMetadata:
    """Publish a draft (``POST /api/views/{id}/publication.json``, reference §2.7); the audience
    does not change. Already published: nothing is sent. Returns the published view."""

    def published() -> ViewMetadata | None:
        view = hook.get_view(dataset_id)
        return view if view.is_published else None

    def send() -> None:
        session = hook.session
        session.sodapy_call("publish", session.client.publish, dataset_id, idempotent=False)

    view, acted = act_confirmed(
        hook, f"publish {dataset_id}", done=published, act=send,
        settle_seconds=hook.session.config.publish_wait_seconds, sleep=sleep,
    )
    hook.log.info("Dataset %s is published%s", dataset_id, "" if acted else " (it already was)")
    return view


# ---------------------------------------------------------------------------------------------
# create
# ---------------------------------------------------------------------------------------------


def find_marked(hook: AssetPortal, marker: DatasetMarker, *, name: str | None = None) -> list[ViewMetadata]:
    """Every asset carrying ``marker``, oldest first (normally one).

    Asks the Discovery API (authenticated with ``X-Socrata-Host``, so private drafts are
    included) twice: by the marker's custom-metadata parameter and, when ``name`` is given, by
    the exact name, because a domain whose marker field is not indexed would otherwise hide the
    asset. Each candidate is confirmed by reading its view: only the marker decides.
    """
    key, value = marker.catalog_param()
    queries: list[list[tuple[str, str]]] = [[(key, value)]]
    if name:
        queries.append([("names", name)])
    candidates: list[str] = []
    session = hook.session
    for filters in queries:
        params = [*filters, ("domains", session.config.host_header), ("limit", "100")]
        items, _ = parse_catalog_page(session.request("GET", "/api/catalog/v1", params=params))
        candidates.extend(item.id for item in items if item.id not in candidates)
    found: list[ViewMetadata] = []
    for candidate in candidates:
        try:
            view = hook.get_view(candidate)
        except (SocrataNotFound, SocrataAuthError):  # listed, then gone, or not ours to read
            continue
        if marker.matches(view):
            found.append(view)
    return sorted(found, key=lambda v: (v.created_at.timestamp() if v.created_at else 0.0, v.id))


def create_marked(
    hook: AssetPortal,
    name: str,
    specs: Sequence[ColumnSpec],
    *,
    row_identifier: str | None,
    metadata: DatasetMetadata,
    marker: DatasetMarker | None,
    new_backend: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """``POST /api/views.json`` once; after an ambiguous failure, find the asset by its marker."""
    payload = metadata.to_view_json()
    payload.pop("name", None)
    view_metadata: dict[str, Any] = {"rowIdentifier": row_identifier} if row_identifier else {}
    custom = {k: dict(v) for k, v in (metadata.custom_fields or {}).items() if v is not None}
    if marker is not None:
        custom.setdefault(marker.fieldset, {})[marker.field] = marker.value
    if custom:
        view_metadata["custom_fields"] = custom
    payload["columns"] = [c.to_view_json() for c in specs]
    payload["metadata"] = view_metadata
    session = hook.session
    try:
        created = session.sodapy_call(
            "create dataset", session.client.create, name, new_backend=new_backend, idempotent=False, **payload
        )
    except AMBIGUOUS as err:
        if marker is None:
            raise
        hook.log.warning("Socrata create %r: outcome unknown (%s); looking for the asset by its marker", name, err)
        found = _poll(
            lambda: find_marked(hook, marker, name=name) or None, session.config.create_lookup_seconds, sleep
        )
        if found:
            hook.log.info("Socrata create %r: the portal had created %s although the answer was lost",
                          name, found[0].id)
            return found[0].id
        raise SocrataCreationUnknown(
            f"Creating {name!r} failed with an unknown outcome ({err}) and no asset marked "
            f"{marker.field}={marker.value!r} is listed yet; not creating another one now",
            method="POST",
            path="/api/views.json",
        ) from None
    if not isinstance(created, Mapping) or not created.get("id"):
        raise SocrataUnexpectedResponse("Dataset creation returned no id", method="POST", path="/api/views.json")
    return str(created["id"])


# ---------------------------------------------------------------------------------------------
# visibility
# ---------------------------------------------------------------------------------------------


def visibility(hook: AssetPortal, dataset_id: str) -> Visibility:
    """Read back the four things that decide anonymous visibility."""
    view = hook.get_view(dataset_id)
    status = hook.get_approval_status(dataset_id, view=view)
    return Visibility(
        dataset_id=dataset_id,
        published=view.is_published,
        audience=view.audience,
        approval=status.state,
        hidden=hidden_from_catalog(view),
    )
