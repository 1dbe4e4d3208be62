"""Socrata portal access for the open-data pipeline.

Layout (one concern per module):

* :mod:`~opendata.portal.hook`: :class:`SocrataHook`, the Airflow hook and the only public
  entry point for portal operations;
* :mod:`~opendata.portal.config`: connection parsing (host/scheme, credentials, extra fields);
* :mod:`~opendata.portal.transport`: the requests adapter (timeouts, retries, logging, errors)
  and :class:`~opendata.portal.transport.SocrataSession`, the one way a request is sent (the
  hook hands it out as ``hook.session``; the modules below the hook use it, not the hook);
* :mod:`~opendata.portal.retry`: the retry/backoff policy;
* :mod:`~opendata.portal.errors`: typed exceptions and the error-body parser;
* :mod:`~opendata.portal.redaction`: keeping credentials out of logs and messages;
* :mod:`~opendata.portal.serialization`: Python/numpy/pandas values to SODA JSON, chunking;
* :mod:`~opendata.portal.models`: typed inputs/results and their JSON parsers;
* :mod:`~opendata.portal.approvals`: approval state parsing;
* :mod:`~opendata.portal.revisions`: atomic replace through DSMAPI revisions;
* :mod:`~opendata.portal.aio`: the async approval-state read under
  ``SocrataHook.aget_approval_status`` (which the approval trigger awaits).
"""

from __future__ import annotations

from opendata._lazy import lazy_exports

_EXPORTS = {
    "ApprovalReview": "opendata.portal.approvals",
    "ApprovalStatus": "opendata.portal.approvals",
    "SubmissionResult": "opendata.portal.approvals",
    "SocrataConnectionConfig": "opendata.portal.config",
    "SocrataApprovalError": "opendata.portal.errors",
    "SocrataAuthError": "opendata.portal.errors",
    "SocrataBadRequest": "opendata.portal.errors",
    "SocrataClientError": "opendata.portal.errors",
    "SocrataConfigError": "opendata.portal.errors",
    "SocrataConnectionError": "opendata.portal.errors",
    "SocrataError": "opendata.portal.errors",
    "SocrataForbiddenOperation": "opendata.portal.errors",
    "SocrataNotFound": "opendata.portal.errors",
    "SocrataRateLimited": "opendata.portal.errors",
    "SocrataRevisionFailed": "opendata.portal.errors",
    "SocrataRevisionTimeout": "opendata.portal.errors",
    "SocrataServerError": "opendata.portal.errors",
    "SocrataStillProcessing": "opendata.portal.errors",
    "SocrataTimeout": "opendata.portal.errors",
    "SocrataUnexpectedResponse": "opendata.portal.errors",
    "SocrataHook": "opendata.portal.hook",
    "ApprovalState": "opendata.portal.models",
    "AssetFreshness": "opendata.portal.models",
    "AssetMetadata": "opendata.portal.models",
    "Audience": "opendata.portal.models",
    "ColumnSpec": "opendata.portal.models",
    "DatasetMetadata": "opendata.portal.models",
    "PublicationStage": "opendata.portal.models",
    "UpsertResult": "opendata.portal.models",
    "ViewMetadata": "opendata.portal.models",
    "RetryPolicy": "opendata.portal.retry",
    "RevisionResult": "opendata.portal.revisions",
}

__all__ = sorted(_EXPORTS)

# Lazy, so that DAG files can import small modules of this package at parse time without
# pulling in the heavy ones.
__getattr__ = lazy_exports(__name__, _EXPORTS)
