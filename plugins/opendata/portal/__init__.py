"""Socrata portal access for the open-data pipeline.

Layout (one concern per module):

* :mod:`~opendata.portal.hook`: :class:`SocrataHook`, the Airflow hook and the only public
  entry point for portal operations;
* :mod:`~opendata.portal.config`: connection parsing (host/scheme, credentials, extra fields);
* :mod:`~opendata.portal.transport`: the requests adapter (timeouts, retries, logging, errors);
* :mod:`~opendata.portal.retry`: the retry/backoff policy;
* :mod:`~opendata.portal.errors`: typed exceptions and the error-body parser;
* :mod:`~opendata.portal.redaction`: keeping credentials out of logs and messages;
* :mod:`~opendata.portal.serialization`: Python/numpy/pandas values to SODA JSON, chunking;
* :mod:`~opendata.portal.models`: typed inputs/results and their JSON parsers;
* :mod:`~opendata.portal.approvals`: approval state parsing;
* :mod:`~opendata.portal.aio`: async approval-state read for triggers.
"""

from opendata.portal.approvals import ApprovalReview, ApprovalStatus, SubmissionResult
from opendata.portal.config import SocrataConnectionConfig
from opendata.portal.errors import (
    SocrataApprovalError,
    SocrataAuthError,
    SocrataBadRequest,
    SocrataClientError,
    SocrataConfigError,
    SocrataConnectionError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataNotFound,
    SocrataRateLimited,
    SocrataServerError,
    SocrataStillProcessing,
    SocrataTimeout,
    SocrataUnexpectedResponse,
)
from opendata.portal.hook import SocrataHook
from opendata.portal.models import (
    ApprovalState,
    AssetFreshness,
    AssetMetadata,
    Audience,
    ColumnSpec,
    DatasetMetadata,
    PublicationStage,
    UpsertResult,
    ViewMetadata,
)
from opendata.portal.retry import RetryPolicy

__all__ = [
    "ApprovalReview",
    "ApprovalState",
    "ApprovalStatus",
    "AssetFreshness",
    "AssetMetadata",
    "Audience",
    "ColumnSpec",
    "DatasetMetadata",
    "PublicationStage",
    "RetryPolicy",
    "SocrataApprovalError",
    "SocrataAuthError",
    "SocrataBadRequest",
    "SocrataClientError",
    "SocrataConfigError",
    "SocrataConnectionConfig",
    "SocrataConnectionError",
    "SocrataError",
    "SocrataForbiddenOperation",
    "SocrataHook",
    "SocrataNotFound",
    "SocrataRateLimited",
    "SocrataServerError",
    "SocrataStillProcessing",
    "SocrataTimeout",
    "SocrataUnexpectedResponse",
    "SubmissionResult",
    "UpsertResult",
    "ViewMetadata",
]
