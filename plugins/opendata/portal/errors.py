"""Typed errors raised by the Socrata portal client, and the pure parser that builds them.

Every error carries what the portal said (``code``, ``message``), the HTTP ``status``, the
``X-Socrata-RequestId`` to quote to Tyler support, and the request ``method`` and ``path``.
Errors never carry the request, its headers or its query string, so they cannot leak
credentials; messages pass through the hook's redactor before they are raised.

Hierarchy::

    SocrataError
    ├── SocrataConfigError            bad connection settings (no HTTP involved)
    ├── SocrataClientError            4xx
    │   ├── SocrataBadRequest         400, 409, 422 and other 4xx
    │   ├── SocrataAuthError          401, 403
    │   ├── SocrataNotFound           404 (``not_found``, ``dataset.missing``)
    │   └── SocrataRateLimited        429 after the retries ran out
    ├── SocrataServerError            5xx after the retries ran out
    │   └── SocrataStillProcessing    202 "request processing" after the retries ran out
    ├── SocrataConnectionError        connection refused/reset after the retries ran out
    │   └── SocrataTimeout            connect or read timeout after the retries ran out
    ├── SocrataUnexpectedResponse     a 2xx whose body is not what the API documents
    ├── SocrataApprovalError          approval workflow refuses the submission
    ├── SocrataForbiddenOperation     the client refused to send a destructive request
    ├── SocrataRevisionFailed         a DSMAPI revision's source or apply job failed
    └── SocrataRevisionTimeout        a revision's apply job did not finish in time
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

_MAX_MESSAGE_CHARS = 500


class SocrataError(Exception):
    """Base class of every error raised for the Socrata portal."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        data: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        self.data = data
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = []
        if self.method or self.path:
            parts.append(f"{self.method or '?'} {self.path or '?'}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        head = " -> ".join(parts)
        code = f"[{self.code}] " if self.code else ""
        text = f"{head}: {code}{self.message}" if head else f"{code}{self.message}"
        if self.request_id:
            text += f" (X-Socrata-RequestId: {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r}, "
            f"method={self.method!r}, path={self.path!r})"
        )

    def __reduce__(  # keep keyword-only attributes when pickled (Airflow serialises errors)
        self,
    ) -> tuple[Callable[[type[SocrataError], str, dict[str, Any]], SocrataError], tuple[Any, ...]]:
        return (_rebuild_error, (type(self), self.message, self.__dict__.copy()))


def _rebuild_error(cls: type[SocrataError], message: str, state: dict[str, Any]) -> SocrataError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class SocrataConfigError(SocrataError):
    """The Airflow connection is missing something or has an invalid value."""


class SocrataClientError(SocrataError):
    """The portal rejected the request (HTTP 4xx)."""


class SocrataBadRequest(SocrataClientError):
    """HTTP 400 and other 4xx without a more specific class (e.g. 409, 422)."""


class SocrataAuthError(SocrataClientError):
    """HTTP 401/403: missing or wrong credentials, or the user lacks the right."""


class SocrataNotFound(SocrataClientError):
    """HTTP 404: the dataset or view does not exist, or is invisible to this user."""


class SocrataRateLimited(SocrataClientError):
    """HTTP 429 that persisted through every retry."""


class SocrataServerError(SocrataError):
    """HTTP 5xx that persisted through every retry."""


class SocrataStillProcessing(SocrataServerError):
    """HTTP 202 "request processing" that persisted through every retry."""


class SocrataConnectionError(SocrataError):
    """The portal could not be reached (refused, reset, DNS) even after retrying."""


class SocrataTimeout(SocrataConnectionError):
    """Connect or read timeout that persisted through every retry."""


class SocrataUnexpectedResponse(SocrataError):
    """A successful status with a body that does not match the documented shape."""


class SocrataApprovalError(SocrataError):
    """The approvals workflow does not allow the requested submission."""


class SocrataForbiddenOperation(SocrataError):
    """The client refuses to send this request (e.g. a DELETE of a whole dataset)."""


class SocrataRevisionFailed(SocrataError):
    """A DSMAPI revision could not replace the data: its upload was refused (``stage="source"``),
    rows would have been dropped (``"schema"``) or the apply job ended in ``failure`` (``"apply"``).

    The dataset is unchanged. ``details`` holds what the portal said (the source's
    ``failure_details`` or the job's ``failure`` log entry); ``log`` the job's log, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset_id: str | None = None,
        revision_seq: int | None = None,
        stage: str | None = None,
        details: Any = None,
        log: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.dataset_id = dataset_id
        self.revision_seq = revision_seq
        self.stage = stage
        self.details = details
        self.log = log


class SocrataRevisionTimeout(SocrataError):
    """An applied revision's job did not finish within the timeout. It may still finish: check
    ``GET /api/publishing/v1/revision/{dataset_id}/{revision_seq}`` before trying again."""

    def __init__(
        self,
        message: str,
        *,
        dataset_id: str | None = None,
        revision_seq: int | None = None,
        task_set_id: int | None = None,
        last_status: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.dataset_id = dataset_id
        self.revision_seq = revision_seq
        self.task_set_id = task_set_id
        self.last_status = last_status


def error_class_for_status(status: int) -> type[SocrataError]:
    """Map an HTTP status to the error class raised for it."""
    if status in (401, 403):
        return SocrataAuthError
    if status == 404:
        return SocrataNotFound
    if status == 429:
        return SocrataRateLimited
    if status == 202:
        return SocrataStillProcessing
    if 400 <= status < 500:
        return SocrataBadRequest
    if status >= 500:
        return SocrataServerError
    return SocrataUnexpectedResponse


def parse_error_body(
    body: bytes | str | None, headers: Mapping[str, str] | None = None
) -> tuple[str | None, str | None, Any]:
    """Return ``(code, message, data)`` from a Socrata error response.

    Handles the shapes seen in Socrata's docs and recorded responses:

    * SODA / core: ``{"code": "not_found", "error": true, "message": "Not found", "data": {...}}``
    * sodapy fixture: ``{"message": "You must be logged in ...", "error": true}``
    * Discovery: ``{"error": "..."}``
    * lists of errors: ``{"errors": [{"message": ...}, ...]}``
    * ``X-Error-Code`` / ``X-Error-Message`` headers when the body is empty or not JSON.
    """
    code: str | None = None
    message: str | None = None
    data: Any = None
    payload: Any = None
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            payload = json.loads(text)
        except ValueError:
            stripped = " ".join(text.split())
            if stripped and not stripped.lstrip().startswith("<"):
                message = stripped
    if isinstance(payload, Mapping):
        code, message, data = error_fields(payload)
    elif isinstance(payload, str) and payload:
        message = payload
    if headers is not None:
        code = code or _header(headers, "X-Error-Code")
        message = message or _header(headers, "X-Error-Message")
    if message and len(message) > _MAX_MESSAGE_CHARS:
        message = message[:_MAX_MESSAGE_CHARS] + "…"
    return code, message, data


def error_fields(payload: Mapping[str, Any]) -> tuple[str | None, str | None, Any]:
    """``(code, message, data)`` of a decoded error body: Socrata's ``{code, error, message,
    data}`` (recorded), Discovery's ``{error}`` and the Metadata API's ``{errors: [...]}``."""
    raw_code = payload.get("code") or payload.get("errorCode")
    code = str(raw_code) if raw_code not in (None, "") else None
    raw_msg = payload.get("message")
    if raw_msg in (None, "") and isinstance(payload.get("error"), str):
        raw_msg = payload["error"]
    if raw_msg in (None, "") and isinstance(payload.get("errors"), list):
        msgs = []
        for item in payload["errors"]:
            if isinstance(item, Mapping):
                msgs.append(str(item.get("message") or item.get("error") or item))
            else:
                msgs.append(str(item))
        raw_msg = "; ".join(msgs)
    message = str(raw_msg) if raw_msg not in (None, "") else None
    return code, message, payload.get("data")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive
        lowered = name.lower()
        for key, val in headers.items():
            if key.lower() == lowered:
                value = val
                break
    return value or None


def error_from_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    method: str | None = None,
    path: str | None = None,
    reason: str | None = None,
    retry_after: float | None = None,
) -> SocrataError:
    """Build the typed error for a failed response. Pure: no I/O, no raising."""
    code, message, data = parse_error_body(body, headers)
    if not message:
        message = reason or f"HTTP {status}"
    request_id = _header(headers, "X-Socrata-RequestId") if headers is not None else None
    cls = error_class_for_status(status)
    return cls(
        message,
        status=status,
        code=code,
        request_id=request_id,
        method=method,
        path=path,
        data=data,
        retry_after=retry_after,
    )
