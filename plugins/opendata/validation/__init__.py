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

from opendata.validation.run import ValidationResult, validate_staged

__all__ = ["ValidationResult", "validate_staged"]
