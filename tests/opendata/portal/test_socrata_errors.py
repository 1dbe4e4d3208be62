"""Error parsing: portal JSON / headers -> typed exceptions (pure, no I/O)."""

from __future__ import annotations

import pickle

import pytest

from opendata.portal.errors import (
    SocrataAuthError,
    SocrataBadRequest,
    SocrataClientError,
    SocrataError,
    SocrataNotFound,
    SocrataRateLimited,
    SocrataServerError,
    SocrataStillProcessing,
    error_class_for_status,
    error_from_response,
    parse_error_body,
)


def test_recorded_view_404_not_found():
    body = b'{"code":"not_found","error":true,"message":"Not found","data":{"id":"songs"}}'
    err = error_from_response(
        404,
        body,
        {"X-Socrata-RequestId": "abc123", "X-Error-Code": "not_found"},
        method="GET",
        path="/api/views/songs.json",
    )
    assert isinstance(err, SocrataNotFound)
    assert isinstance(err, SocrataClientError)
    assert (err.status, err.code, err.message, err.request_id) == (404, "not_found", "Not found", "abc123")
    assert err.data == {"id": "songs"}
    text = str(err)
    assert "GET /api/views/songs.json" in text and "HTTP 404" in text
    assert "[not_found]" in text and "abc123" in text


def test_resource_404_dataset_missing():
    body = '{"code":"dataset.missing","error":true,"message":"Cannot find dataset","data":{}}'
    err = error_from_response(404, body, {}, method="GET", path="/resource/abcd-1234.json")
    assert isinstance(err, SocrataNotFound)
    assert err.code == "dataset.missing"


@pytest.mark.parametrize("status", [401, 403])
def test_logged_in_message_is_auth_error(status):
    body = b'{"message": "You must be logged in to access this resource", "error": true}'
    err = error_from_response(status, body, {})
    assert isinstance(err, SocrataAuthError)
    assert err.code is None
    assert err.message == "You must be logged in to access this resource"


def test_discovery_error_shape_and_header_fallback():
    code, message, _ = parse_error_body(b'{"error": "Invalid limit"}', {})
    assert (code, message) == (None, "Invalid limit")
    code, message, _ = parse_error_body(
        b"", {"x-error-code": "query.compiler.malformed", "X-Error-Message": "bad"}
    )
    assert (code, message) == ("query.compiler.malformed", "bad")


def test_errors_list_and_html_body():
    _, message, _ = parse_error_body(b'{"errors": [{"message": "a"}, "b"]}')
    assert message == "a; b"
    err = error_from_response(502, b"<html><body>Bad gateway</body></html>", {}, reason="Bad Gateway")
    assert isinstance(err, SocrataServerError)
    assert err.message == "Bad Gateway"  # HTML is not echoed into messages


def test_plain_text_body_is_truncated():
    _, message, _ = parse_error_body("x" * 2000)
    assert len(message) <= 501


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, SocrataBadRequest),
        (409, SocrataBadRequest),
        (422, SocrataBadRequest),
        (401, SocrataAuthError),
        (403, SocrataAuthError),
        (404, SocrataNotFound),
        (429, SocrataRateLimited),
        (500, SocrataServerError),
        (503, SocrataServerError),
        (202, SocrataStillProcessing),
    ],
)
def test_status_mapping(status, cls):
    assert error_class_for_status(status) is cls
    assert issubclass(cls, SocrataError)


def test_error_survives_pickling():
    err = error_from_response(
        404, b'{"code":"not_found","message":"Not found"}', {"X-Socrata-RequestId": "r1"}
    )
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is SocrataNotFound
    assert (clone.status, clone.code, clone.request_id, str(clone)) == (404, "not_found", "r1", str(err))
