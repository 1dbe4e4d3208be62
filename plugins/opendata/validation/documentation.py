"""Metadata completeness: the playbook's "well documented" criterion, checked on the file.

Data should come with "a description of its source, license, topic, and explanation of any
unclear terms -- written in plain English for public consumption". The dataset file's model
already refuses empty fields; what is left are answers that are there but say nothing
("TBD", a column described by its own name) and terms a reader will not know.

A term is flagged as unclear when it is an abbreviation in capitals (PCIS, WGS, SR) that is
not everyday English; it needs a glossary entry. Problems are errors on a dataset's first
publication (nothing goes out undocumented) and warnings on refreshes.
"""

from __future__ import annotations

import re

from opendata.spec.dataset import DatasetSpec
from opendata.validation.findings import Area, CheckResult, Severity, result

# Answers that only hold a place.
_PLACEHOLDER = re.compile(r"^\W*(tbd|tba|todo|fixme|n/?a|none|null|unknown|xxx+|\?+|-+|\.+|lorem ipsum.*|"
                          r"description|to be (determined|added|written))\W*$", re.IGNORECASE)
# Capitalised abbreviations: two or more capitals, digits allowed after the first two (PCIS,
# LADBS, WGS, SR). Single letters (grades A, B, C) are not abbreviations.
_ABBREVIATION = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2,}[A-Z0-9]*(?![A-Za-z0-9])")
# Abbreviations any reader knows; everything else needs a glossary entry.
COMMON_ABBREVIATIONS = frozenset({
    "ID", "IDS", "US", "USA", "ZIP", "URL", "AM", "PM", "OK", "TV", "LA", "CA", "PDF", "FAQ", "GPS", "ATM",
    "DC", "II", "III", "IV",
})
MIN_WORDS = 3


def placeholder(text: str | None) -> bool:
    return text is None or not text.strip() or bool(_PLACEHOLDER.match(text.strip()))


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", text.lower())


def description_problem(field_name: str, display_name: str, description: str) -> str | None:
    """Why a column description is not a plain-English explanation, or None when it is."""
    if placeholder(description):
        return "a placeholder, not a description"
    words = _words(description)
    if words in (_words(display_name), _words(field_name.replace("_", " "))):
        return "repeats the column's name"
    if len(words) < MIN_WORDS:
        return f"too short to explain the column (fewer than {MIN_WORDS} words)"
    return None


def unclear_terms(text: str) -> set[str]:
    return {term for term in _ABBREVIATION.findall(text) if term not in COMMON_ABBREVIATIONS}


def _texts(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(where, text) of everything the public reads about the dataset."""
    texts = [("name", spec.name), ("description", spec.description)]
    for column in spec.columns:
        texts += [(f"{column.field_name} display name", column.display_name),
                  (f"{column.field_name} description", column.description)]
    return texts


def documentation_results(spec: DatasetSpec, first_publication: bool) -> list[CheckResult]:
    severity: Severity = "error" if first_publication else "warning"
    out = []

    dataset_fields = {
        "description": spec.description,
        "source": spec.source_system,
        "license": spec.publishing.license,
        "category": spec.publishing.category,
        "tags": ", ".join(spec.publishing.tags),
        "contact": spec.publishing.contact.name,
        "update frequency": spec.update_frequency.value,
        "attribution": spec.publishing.attribution,
    }
    missing = [name for name, value in dataset_fields.items() if placeholder(value)]
    if not placeholder(spec.description) and len(_words(spec.description)) < 8:
        missing.append("description (fewer than 8 words)")
    out.append(result(Area.DOCUMENTATION, "dataset_metadata", None, severity, len(missing), len(dataset_fields),
                      "description, source, license, category, tags, contact and update frequency are filled in",
                      note=f"missing or placeholder: {', '.join(missing)}" if missing else None))

    for column in spec.columns:
        problem = description_problem(column.field_name, column.display_name, column.description)
        out.append(result(Area.DOCUMENTATION, "column_description", column.field_name, severity,
                          1 if problem else 0, 1, "a plain-English description", note=problem))

    glossary = {term.casefold() for term in spec.glossary}
    undefined: dict[str, list[str]] = {}
    for where, text in _texts(spec):
        for term in sorted(unclear_terms(text)):
            if term.casefold() not in glossary:
                undefined.setdefault(term, []).append(where)
    flagged = {term for _, text in _texts(spec) for term in unclear_terms(text)}
    note = "; ".join(f"{term} ({', '.join(places[:3])})" for term, places in sorted(undefined.items())) or None
    out.append(result(Area.DOCUMENTATION, "glossary", None, severity, len(undefined), len(flagged),
                      "abbreviations and unclear terms have a glossary entry",
                      note=f"no glossary entry: {note}" if note else None))
    return out
