"""Validation gates run on a staged extract before anything reaches the portal.

The playbook's criteria, checked automatically: high quality (``quality.py``, ``uniqueness.py``,
``schema.py``), respectful of privacy and security (``pii.py``, ``privacy.py``,
``small_cells.py``; ``masking.py`` runs earlier, while staging), well documented
(``documentation.py``); then a Data Submission Checklist report a reviewer can read
(``report.py``). ``run.validate_staged`` ties them together.

    from opendata.validation import validate_staged
    result = validate_staged(spec, staged, previous_rows=None, first_publication=True, report_dir=path)
    result.passed, result.summary, result.report_markdown, result.as_dict()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opendata.validation.run import ValidationResult, validate_staged

__all__ = ["ValidationResult", "validate_staged"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the extract step imports masking.py from this package and must
    # not pull in pandera (nor import the staging code back, which run.py needs).
    if name in __all__:
        from opendata.validation import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
