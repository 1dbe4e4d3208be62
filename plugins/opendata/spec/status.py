"""A dataset file's status, and the model that reads the file.

``status: planned`` (with a ``target_date``) is an inventory entry that is not ready to run:
:class:`~opendata.spec.dataset.PlannedDataset`, which needs the playbook's inventory fields and
checks whichever run sections are already written. A file that says ``status: active``, or says
no status at all, is a dataset that runs: :class:`~opendata.spec.dataset.DatasetSpec`, exactly
as before statuses existed.

The status is read before the model is chosen, so a planned file is never held to what only a
run needs, and a misspelt status gets one error with a hint, plus the file's other errors as the
model it most likely meant sees them (not the errors of the wrong model); a status too far from
both to guess is the file's only error until it is one of them.
"""

from __future__ import annotations

from typing import Any

from opendata.spec.dataset import (
    ACTIVE,
    PLANNED,
    STATUSES,
    DatasetFile,
    DatasetSpec,
    PlannedDataset,
    model_for_status,
)
from opendata.spec.errors import SpecError, did_you_mean
from opendata.spec.validate import YamlDocument, validate_document

#: The city's time zone: a target date passes at the end of that day there (the freshness policy's
#: and the quarterly report's calendar, opendata.freshness.policy.CITY_TIMEZONE; the spec layer
#: imports nothing above it, so the name is kept here too and a test keeps the two equal).
CITY_TIMEZONE = "America/Los_Angeles"

# A misspelt status is quoted in its error up to this many characters.
_SHOWN_CHARS = 40

# Sections a planned file may leave out and a running one may not.
_RUN_SECTIONS = (("publishing",), ("source",), ("columns",))


def file_status(data: Any) -> str | None:
    """The status a dataset file's plain data declares (``active`` when it names none), or None
    when the value is not a status."""
    if not isinstance(data, dict):
        return ACTIVE
    raw = data.get("status", ACTIVE)
    # Exactly as written: the models' literals are not stripped either.
    return raw if isinstance(raw, str) and raw in STATUSES else None


def is_planned(data: Any) -> bool:
    return file_status(data) == PLANNED


def validate_dataset_document(doc: YamlDocument) -> tuple[DatasetFile | None, list[SpecError]]:
    """The file's model (chosen by its status), or every error found."""
    status = file_status(doc.data)
    if status is not None:
        model = model_for_status(status)
        spec: DatasetFile | None
        spec, errors = validate_document(model, doc)
        return spec, _with_fixes(errors, model)
    raw = doc.data.get("status") if isinstance(doc.data, dict) else None
    guess = did_you_mean(raw, list(STATUSES)) if isinstance(raw, str) else None
    status_error = SpecError(doc.path, ("status",), _status_message(raw), guess, doc.line_of(("status",)))
    if guess is None:
        # Which shape the file is meant to have is anyone's guess: the status first.
        return None, doc.problems + [status_error]
    model = model_for_status(guess)
    _, errors = validate_document(model, doc, replace={"status": guess})
    found = len(doc.problems)
    return None, errors[:found] + [status_error] + _with_fixes(errors[found:], model)


def _status_message(raw: object) -> str:
    choices = (f"expected {ACTIVE!r} (a dataset whose DAG runs; the default when status is left out) or "
               f"{PLANNED!r} (not ready to run yet, with a target_date; no DAG)")
    if not isinstance(raw, str):
        found = "nothing" if raw is None else f"a {type(raw).__name__}"
        return f"{choices}, found {found}"
    shown = raw if len(raw) <= _SHOWN_CHARS else raw[:_SHOWN_CHARS] + "..."
    return f"unknown status {shown!r}; {choices}"


def _with_fixes(errors: list[SpecError], model: type[DatasetSpec] | type[PlannedDataset]) -> list[SpecError]:
    """The missing-field errors that have a fix to name, with it."""
    out: list[SpecError] = []
    suggested = False
    for error in errors:
        if error.message == "required field is missing":
            if model is PlannedDataset and error.loc == ("target_date",):
                error = SpecError(error.file, error.loc, "required field is missing: a planned dataset names the day "
                                  "it is to go public, for example 'target_date: 2027-03-31'", error.hint, error.line)
            elif model is DatasetSpec and error.loc in _RUN_SECTIONS and not suggested:
                suggested = True
                error = SpecError(error.file, error.loc, "required field is missing (a dataset that is not ready to "
                                  "run yet can say 'status: planned' with a target_date until it is: a planned file "
                                  "needs no publishing, source or columns, and gets no DAG)", error.hint, error.line)
        out.append(error)
    return out
