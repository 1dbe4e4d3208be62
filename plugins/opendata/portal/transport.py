"""The HTTP layer under sodapy: one requests adapter that every portal call goes through, and
the session the portal modules send their requests on.

sodapy 2.2.0 accepts a ``session_adapter`` that it mounts on its session, so mounting
:class:`SocrataHTTPAdapter` there puts every request (sodapy's own and the hook's direct calls
on the same session) through one place that:

* uses separate ``(connect, read)`` timeouts, replacing sodapy's single number;
* adds ``Content-Type: application/json`` to bodies sent without a content type (sodapy sends
  ``data=json.dumps(...)`` and no header);
* retries per :class:`~opendata.portal.retry.RetryPolicy` (429, 5xx, 202, timeouts, connection
  errors; every method) with jittered exponential backoff, honouring ``Retry-After``;
* logs one line per attempt: method, path with an allow-listed query, status, elapsed time and
  ``X-Socrata-RequestId``; never headers, bodies or secret query values;
* raises typed :mod:`~opendata.portal.errors` for the final failure instead of returning it,
  so neither sodapy's ``requests.HTTPError`` nor a bare ``requests`` exception escapes;
* refuses to send ``DELETE`` for a whole view or dataset.

:class:`SocrataSession` is the public door to that adapter: ``request()`` sends one request on
the sodapy client's session and decodes the answer, ``sodapy_call()`` runs a sodapy method with
the same error typing. :class:`~opendata.portal.hook.SocrataHook` builds it with the client and
the adapter it owns and hands it out as ``hook.session``; the modules under the hook
(revisions, assets, the doctor) talk to the portal through it, never through the hook's insides.

:func:`send_json_body` hands sodapy a row body encoded already (off the request path, see
:func:`opendata.portal.serialization.prefetched`) instead of the list it would encode itself.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeAlias, TypeVar

import requests
from requests.adapters import HTTPAdapter
from sodapy import Socrata as SodapyClient
from sodapy import utils as sodapy_utils
from urllib3.exceptions import NewConnectionError

from opendata.portal.config import SocrataConnectionConfig
from opendata.portal.errors import (
    SocrataConnectionError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataTimeout,
    SocrataUnexpectedResponse,
    error_from_response,
)
from opendata.portal.redaction import Redactor, loggable_target, url_path
from opendata.portal.retry import RetryPolicy, parse_retry_after

T = TypeVar("T")

#: A decoded JSON answer (``None`` for an empty body).
JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"
#: A query string as requests takes it: a mapping, or pairs when a key repeats (``ids=a&ids=b``).
QueryParams: TypeAlias = Mapping[str, str | int | float] | Sequence[tuple[str, str | int | float]]
#: A JSON request body (the caller's dicts and lists, encoded by :meth:`SocrataSession.request`).
JSONBody: TypeAlias = Mapping[str, object] | Sequence[object]


class PortalLog(Protocol):
    """Where the portal modules write: a stdlib logger or adapter, or a hook's Airflow logger."""

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...

    def log(self, level: int, msg: str, /, *args: Any) -> object: ...

_default_log = logging.getLogger(__name__)

#: ``/api/views/abcd-1234``, ``/api/views/abcd-1234.json`` and the like: whole-view paths.
_VIEW_PATH = re.compile(r"^/+(api/+)?views/+[^/]+?(\.[a-z]+)?/*$", re.IGNORECASE)
#: ``/resource/abcd-1234.json`` (the whole dataset, not one row).
_RESOURCE_PATH = re.compile(r"^/+(api/+)?resource/+[^/]+?(\.[a-z]+)?/*$", re.IGNORECASE)

#: Set (by the hook) around requests that are not idempotent: creating a dataset, submitting an
#: approval request, publishing. Those are retried only when the portal cannot have acted on
#: them: HTTP 429, a connect timeout or a refused connection; HTTP 202 counts as accepted.
NON_IDEMPOTENT: contextvars.ContextVar[bool] = contextvars.ContextVar("socrata_non_idempotent", default=False)
_NON_IDEMPOTENT_RETRY_STATUSES = frozenset({429})
#: Set (by the hook) around requests whose documented success status is 202, such as reading a
#: DSMAPI apply job (``GET .../apply/{id}``): the 202 is the answer, not SODA's "retry later".
ACCEPT_202: contextvars.ContextVar[bool] = contextvars.ContextVar("socrata_accept_202", default=False)

_RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,  # includes ConnectTimeout, ProxyError, SSLError
    requests.exceptions.Timeout,  # includes ReadTimeout
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def send_json_body(client: SodapyClient, method: str, dataset_id: str, body: bytes) -> Any:
    """sodapy's ``upsert`` (``method="post"``) or ``replace`` (``"put"``) of an encoded body.

    sodapy 2.2.0's ``upsert``/``replace`` take a list and run ``json.dumps`` on it in the calling
    thread, between requests (17.7 s of a 141 s million-row load), and cannot take bytes: a file
    object is sent as ``text/csv``. So this does what its ``_perform_update`` does for a list,
    with the body already encoded: the same resource path (sodapy's own helper), the same
    ``_perform_request`` (session, timeout, status check, response decoding). sodapy is pinned
    at 2.2.0 and its publisher methods are gone from its next major version, so this private
    method will not move under us; the test suite sends through it against the emulator.
    The body is ``bytes``, so a retry by :class:`SocrataHTTPAdapter` re-sends the same bytes.
    """
    resource = sodapy_utils.format_new_api_request(dataid=dataset_id, content_type="json")
    return client._perform_request(method, resource, data=body, headers={"Content-Type": "application/json"})


def is_dataset_delete(method: str, url: str) -> bool:
    """True for a request that would delete a whole view or dataset."""
    if method.upper() != "DELETE":
        return False
    path = url_path(url)
    return bool(_VIEW_PATH.match(path) or _RESOURCE_PATH.match(path))


class SocrataHTTPAdapter(HTTPAdapter):
    """requests adapter adding timeouts, retries, logging and typed errors for the portal.

    :param policy: retry policy.
    :param connect_timeout: seconds.
    :param read_timeout: seconds.
    :param logger: where attempt lines go (the hook passes its own logger).
    :param redactor: scrubs secrets from error messages.
    :param sleep: injectable for tests.
    :param rng: injectable random source for tests.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        logger: PortalLog | None = None,
        redactor: Redactor | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        pool_maxsize: int = 4,
    ) -> None:
        # max_retries=0: urllib3 must not retry on its own, this class owns retrying.
        super().__init__(max_retries=0, pool_maxsize=pool_maxsize)
        self.policy = policy or RetryPolicy()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.logger: PortalLog = logger or _default_log
        self.redactor = redactor or Redactor()
        self._sleep = sleep
        self._rng = rng or random.Random()
        #: counters for observability and tests
        self.attempts = 0
        self.retries = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(policy={self.policy!r}, "
            f"timeout=({self.connect_timeout}, {self.read_timeout}))"
        )

    # -- requests API -------------------------------------------------------------------------
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: None | float | tuple[float, float] | tuple[float, None] = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = request.url or ""
        target = loggable_target(url)
        if is_dataset_delete(method, url):
            raise SocrataForbiddenOperation(
                "Deleting a dataset through the API is not allowed by this client; "
                "delete rows with a ':deleted' upsert instead",
                method=method,
                path=url_path(url),
            )
        if request.body and "Content-Type" not in request.headers:
            request.headers["Content-Type"] = "application/json"
        # A tuple from the caller wins; sodapy's single number is replaced by (connect, read).
        if not isinstance(timeout, tuple):
            timeout = (self.connect_timeout, self.read_timeout)
        rewindable = _rewindable(request)
        safe_to_repeat = not NON_IDEMPOTENT.get()
        accept_202 = ACCEPT_202.get()

        retry_number = 0
        while True:
            self.attempts += 1
            attempt = retry_number + 1
            started = time.monotonic()
            try:
                response = self._send_once(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
            except _RETRYABLE_EXCEPTIONS as err:
                elapsed = time.monotonic() - started
                kind = _exception_kind(err)
                can_retry = (
                    retry_number < self.policy.max_retries
                    and rewindable
                    and (safe_to_repeat or _not_sent(err))
                )
                self.logger.warning(
                    "Socrata %s %s failed: %s after %.3fs (attempt %d/%d)%s",
                    method,
                    target,
                    kind,
                    elapsed,
                    attempt,
                    self.policy.max_attempts,
                    "; retrying" if can_retry else "",
                )
                if not can_retry:
                    raise self._network_error(err, kind, method, url, attempt) from None
                self._backoff(retry_number, None, method, target)
                retry_number += 1
                _rewind(request)
                continue

            elapsed = time.monotonic() - started
            status = response.status_code
            request_id = response.headers.get("X-Socrata-RequestId")
            if safe_to_repeat:
                retryable = self.policy.should_retry_status(status) and not (status == 202 and accept_202)
            else:
                retryable = status in _NON_IDEMPOTENT_RETRY_STATUSES
            can_retry = retryable and retry_number < self.policy.max_retries and rewindable
            level = logging.INFO if status < 400 and (status != 202 or accept_202) else logging.WARNING
            self.logger.log(
                level,
                "Socrata %s %s -> %d in %.3fs (X-Socrata-RequestId: %s, attempt %d/%d)%s",
                method,
                target,
                status,
                elapsed,
                request_id or "-",
                attempt,
                self.policy.max_attempts,
                "; retrying" if can_retry else "",
            )
            if can_retry:
                retry_after = parse_retry_after(response.headers)
                _drain(response)
                self._backoff(retry_number, retry_after, method, target)
                retry_number += 1
                _rewind(request)
                continue
            if 200 <= status < 300 and (status != 202 or not safe_to_repeat or accept_202):
                return response
            raise self._http_error(response, method, url)

    def _send_once(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """One attempt on the wire (overridden in tests)."""
        return super().send(request, **kwargs)

    # -- helpers ------------------------------------------------------------------------------
    def _backoff(self, retry_number: int, retry_after: float | None, method: str, target: str) -> None:
        delay = self.policy.compute_delay(retry_number, retry_after=retry_after, rng=self._rng)
        self.retries += 1
        self.logger.info(
            "Socrata %s %s: waiting %.2fs before retry %d/%d%s",
            method,
            target,
            delay,
            retry_number + 1,
            self.policy.max_retries,
            f" (Retry-After {retry_after:g}s)" if retry_after is not None else "",
        )
        if delay > 0:
            self._sleep(delay)

    def _http_error(self, response: requests.Response, method: str, url: str) -> SocrataError:
        try:
            body = response.content
        except Exception:  # noqa: BLE001 - a broken body must not hide the status
            body = b""
        err = error_from_response(
            response.status_code,
            body,
            response.headers,
            method=method,
            path=url_path(url),
            reason=response.reason,
            retry_after=parse_retry_after(response.headers),
        )
        err.message = self.redactor.redact(err.message)
        err.args = (err.message,)
        response.close()
        return err

    def _network_error(
        self, err: BaseException, kind: str, method: str, url: str, attempts: int
    ) -> SocrataConnectionError:
        cls = SocrataTimeout if isinstance(err, requests.exceptions.Timeout) else SocrataConnectionError
        message = f"{kind} talking to the portal after {attempts} attempt(s)"
        return cls(self.redactor.redact(message), method=method, path=url_path(url))


def _not_sent(err: BaseException) -> bool:
    """True when the request certainly never reached the portal (connect timeout, refused)."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(err, requests.exceptions.ConnectionError) and not isinstance(
        err, requests.exceptions.Timeout
    ):
        seen: set[int] = set()
        cause: BaseException | None = err
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            if isinstance(cause, NewConnectionError):
                return True
            reason = getattr(cause, "reason", None)
            nxt = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
            cause = (
                (reason if isinstance(reason, BaseException) else None)
                or nxt
                or cause.__cause__
                or cause.__context__
            )
    return False


def _exception_kind(err: BaseException) -> str:
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(err, requests.exceptions.ReadTimeout):
        return "read timeout"
    if isinstance(err, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return "truncated response"
    if isinstance(err, requests.exceptions.ContentDecodingError):
        return "undecodable response"
    return "connection error"


def _rewindable(request: requests.PreparedRequest) -> bool:
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    return hasattr(body, "seek") and hasattr(body, "tell")


def _rewind(request: requests.PreparedRequest) -> None:
    body = request.body
    if body is not None and not isinstance(body, (bytes, str)) and hasattr(body, "seek"):
        body.seek(0)


def _drain(response: requests.Response) -> None:
    try:
        _ = response.content
    except Exception:  # noqa: BLE001 - we are discarding it anyway
        pass
    finally:
        response.close()


@contextmanager
def _non_idempotent(idempotent: bool) -> Iterator[None]:
    """Mark the requests sent inside as not safe to repeat (see :data:`NON_IDEMPOTENT`)."""
    if idempotent:
        yield
        return
    token = NON_IDEMPOTENT.set(True)
    try:
        yield
    finally:
        NON_IDEMPOTENT.reset(token)


class SocrataSession:
    """The way to the portal for the modules under the hook: one authenticated session.

    :class:`~opendata.portal.hook.SocrataHook` owns the connection, the sodapy client and its
    requests session (with :class:`SocrataHTTPAdapter` mounted), builds this object from them
    and hands it out as ``hook.session``; closing the hook closes the client. Every request
    goes through the adapter, so retries, the lost-answer rules for writes that must not be
    repeated, typed errors, secret redaction and the one log line per attempt apply to it.

    :param client: the hook's sodapy client (its ``session`` carries the auth and headers).
    :param adapter: the adapter mounted on that session (its counters are read here).
    :param config: the connection settings the client was built from.
    :param redactor: scrubs the connection's secrets from error messages.
    """

    def __init__(
        self,
        client: SodapyClient,
        adapter: SocrataHTTPAdapter,
        config: SocrataConnectionConfig,
        redactor: Redactor,
    ) -> None:
        self.client = client
        self.adapter = adapter
        self.config = config
        self._redactor = redactor

    def __repr__(self) -> str:
        return f"{type(self).__name__}(domain={self.config.domain!r}, adapter={self.adapter!r})"

    @property
    def retry_policy(self) -> RetryPolicy:
        """The connection's retry policy (also for the read-backs after an ambiguous write)."""
        return self.config.retry_policy

    @property
    def requests_sent(self) -> int:
        """Requests sent on this session so far, retries not counted."""
        return self.adapter.attempts - self.adapter.retries

    @property
    def retries(self) -> int:
        """Retries the transport made so far (a change tells that a request was sent again)."""
        return self.adapter.retries

    def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: JSONBody | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        idempotent: bool = True,
        accept_202: bool = False,
    ) -> JSONValue:
        """Send one request to ``path`` on the portal; return the decoded JSON (``None`` if empty).

        :param method: HTTP method (``DELETE`` of a whole view or dataset is refused).
        :param path: path on the portal, e.g. ``/api/views/abcd-1234/permissions``.
        :param params: query string.
        :param body: JSON body (encoded here, ``NaN`` refused). :param data: raw bytes instead,
            sent as ``content_type`` (default ``application/octet-stream``).
        :param idempotent: ``False`` for a write the portal may have applied although the answer
            was lost: then the transport retries only what the portal cannot have acted on (429, a
            refused connection, a connect timeout), and the caller reads the state back.
        :param accept_202: a 202 is the documented answer (DSMAPI job reads), not "retry later".
        :raises SocrataError: the typed error for the final failure (secrets redacted).
        """
        url = f"{self.client.uri_prefix}{self.client.domain}{path}"
        kwargs: dict[str, Any] = {"params": params, "timeout": self.config.timeout}
        if body is not None:
            kwargs["data"] = json.dumps(body, allow_nan=False)
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif data is not None:
            kwargs["data"] = data
            kwargs["headers"] = {"Content-Type": content_type or "application/octet-stream"}
        token = ACCEPT_202.set(True) if accept_202 else None
        try:
            with _non_idempotent(idempotent):
                try:
                    response = self.client.session.request(method, url, **kwargs)
                except requests.RequestException as err:  # the adapter converts these; belt and braces
                    raise SocrataConnectionError(
                        self._redactor.redact(type(err).__name__), method=method, path=path
                    ) from None
            return _decode(response, method, path)
        finally:
            if token is not None:
                ACCEPT_202.reset(token)

    def sodapy_call(self, what: str, call: Callable[..., T], *args: Any, idempotent: bool = True, **kwargs: Any) -> T:
        """Run a method of the sodapy client (``self.client``) and turn its odd failure modes into
        typed errors; ``idempotent`` as for :meth:`request`.

        :param what: names the operation in error messages (``"publish"``, ``"read rows"``).
        """
        with _non_idempotent(idempotent):
            try:
                return call(*args, **kwargs)
            except SocrataError:
                raise
            except requests.RequestException as err:
                raise SocrataConnectionError(self._redactor.redact(f"{what}: {type(err).__name__}")) from None
            except (AttributeError, ValueError) as err:  # sodapy: missing content-type, bad JSON
                raise SocrataUnexpectedResponse(
                    self._redactor.redact(f"{what}: unexpected response ({type(err).__name__})")
                ) from None
            except Exception as err:
                if type(err) is Exception:  # sodapy raises bare Exception("Unknown response format…")
                    raise SocrataUnexpectedResponse(self._redactor.redact(f"{what}: {err}")) from None
                raise


class SessionOwner(Protocol):
    """Whatever hands out a :class:`SocrataSession` (the hook does, as ``hook.session``)."""

    @property
    def session(self) -> SocrataSession: ...


def session_of(portal: SocrataSession | SessionOwner) -> SocrataSession:
    """The session itself, or the one its owner (a hook) hands out."""
    return portal if isinstance(portal, SocrataSession) else portal.session


def _decode(response: requests.Response, method: str, path: str) -> JSONValue:
    if not response.content or not response.content.strip():
        return None
    try:
        decoded: JSONValue = response.json()
    except ValueError:
        raise SocrataUnexpectedResponse(
            "Response body is not JSON",
            status=response.status_code,
            request_id=response.headers.get("X-Socrata-RequestId"),
            method=method,
            path=path,
        ) from None
    return decoded
