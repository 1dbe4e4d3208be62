"""The draft's ``privacy:`` section, from the project's own scanner run on the sampled values and
the column names (opendata.validation.pii: the rules every extract is checked with) (pure).

A finding blocks every run until the file answers it (opendata.validation.privacy), so the draft
answers each one the way that is safe by default, and leaves a person the decision only where
publishing is a choice:

* kinds that are never open data (social security, card, bank, passport, driver's licence, tax,
  government or medical record numbers): the column is left out of the data dictionary (and
  out of the query, or dropped on read with ``privacy.remove``): nothing to decide to stay safe;
* street addresses found in the values: ``mask: hundred_block`` (1234 Main St -> 12XX Main St);
  if they are the addresses of places, not people, a person may publish them instead;
* dates of birth in a date column: ``mask: year``;
* everything else (e-mail addresses, phone numbers, names, ...), and any kind the column's
  name announces (masking does not change a name): ``allowed`` with the kinds and a
  ``justification: "TODO: ..."``. Lint refuses the file until a person writes why publishing
  them is right, or removes the column: the first run passes only once someone decided.

Comments say what the scanner saw, as kinds and counts, never a value. Small cells: columns
that describe people (age, sex, race, birth year, with ZIP code beside them) are proposed as
``quasi_identifiers`` with ``k: 11``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.scaffold.todo import todo
from opendata.spec.privacy import PiiKind
from opendata.spec.vocab import SocrataType
from opendata.validation.pii import find_pii, kinds_by_name
from opendata.validation.privacy import SCANNED_TYPES

#: Never published as open data: left out of the dictionary by the draft.
RESTRICTED = frozenset({PiiKind.SSN, PiiKind.CREDIT_CARD, PiiKind.BANK_ACCOUNT, PiiKind.MEDICAL_RECORD,
                        PiiKind.PASSPORT, PiiKind.DRIVERS_LICENSE, PiiKind.GOVERNMENT_ID, PiiKind.TAX_ID})

#: The small-cell threshold suggested: no combination of the quasi-identifiers in fewer than 11
#: rows, the rule of thumb of public health reporting (CMS's cell-size suppression policy); the
#: playbook names no number.
SMALL_CELL_K = 11

WORDS: dict[PiiKind, str] = {
    PiiKind.SSN: "social security numbers", PiiKind.EMAIL: "e-mail addresses", PiiKind.PHONE: "phone numbers",
    PiiKind.CREDIT_CARD: "payment card numbers", PiiKind.DATE_OF_BIRTH: "dates of birth",
    PiiKind.STREET_ADDRESS: "street addresses", PiiKind.DRIVERS_LICENSE: "driver's licence numbers",
    PiiKind.PASSPORT: "passport numbers", PiiKind.GOVERNMENT_ID: "government id numbers",
    PiiKind.PERSON_NAME: "names of people", PiiKind.MEDICAL_RECORD: "medical record numbers",
    PiiKind.BANK_ACCOUNT: "bank account numbers", PiiKind.TAX_ID: "tax id numbers", PiiKind.IP_ADDRESS: "IP addresses",
}

_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}

# Columns that describe a person, for the small-cell check; ZIP codes count only beside one of them
# (a ZIP code alone describes a place, not a person).
_PERSON_QI = re.compile(r"(?:^|_)(?:age|age_group|age_range|age_band|sex|gender|race|ethnicity|race_ethnicity|"
                        r"birth_year|year_of_birth|yob|marital_status)(?:_|$)")
_PLACE_QI = re.compile(r"(?:^|_)(?:zip|zipcode|zip_code|postal|postal_code|postcode)(?:_|$)")
# A quasi-identifier has few values: an age, a sex, a ZIP code; not a free-text or unique column.
_MAX_QI_DISTINCT = 200


@dataclass(frozen=True)
class ColumnFinding:
    column: ColumnProfile
    by_name: frozenset[PiiKind]
    # Kind -> sampled values that hold it.
    by_value: dict[PiiKind, int]
    # Non-empty sampled values scanned (0: the column's type is not scanned by value).
    scanned: int

    @property
    def kinds(self) -> list[PiiKind]:
        return sorted(self.by_name | set(self.by_value), key=lambda k: list(PiiKind).index(k))

    def describe(self) -> str:
        """``values look like e-mail addresses (37 of 40 sampled); the column name says phone numbers``."""
        parts = [f"values look like {WORDS[kind]} ({n:,} of {self.scanned:,} sampled)"
                 for kind, n in sorted(self.by_value.items(), key=lambda item: -item[1])]
        if self.by_name:
            parts.append("the column name says " + _and([WORDS[k] for k in sorted(self.by_name)]))
        return "; ".join(parts)


def scan(profile: SourceProfile) -> list[ColumnFinding]:
    """The scanner's findings on the sample, per column (kinds and counts only)."""
    findings: list[ColumnFinding] = []
    for column in profile.columns:
        by_name = frozenset(kinds_by_name(column.field_name, column.name))
        by_value: dict[PiiKind, int] = {}
        scanned = 0
        if column.socrata_type in SCANNED_TYPES and column.samples:
            texts = [_text(v) for v in column.samples]
            scanned = len(texts)
            by_value = {kind: len(positions) for kind, positions in find_pii(pa.array(texts, pa.string())).items()}
        if by_name or by_value:
            findings.append(ColumnFinding(column, by_name, by_value, scanned))
    return findings


@dataclass
class PrivacyDraft:
    # The file's privacy section (empty: nothing to say).
    section: dict[str, Any] = field(default_factory=dict)
    # Comments by path from the file's root.
    comments: dict[tuple[str | int, ...], str] = field(default_factory=dict)
    # Columns left out of the data dictionary, with why.
    removed: list[tuple[ColumnProfile, str]] = field(default_factory=list)
    # One line per suggestion, for the command's summary.
    summary: list[str] = field(default_factory=list)


def draft_privacy(profile: SourceProfile, findings: Sequence[ColumnFinding], *, row_identifier: str | None,
                  drop_on_read: bool) -> PrivacyDraft:
    """``drop_on_read``: a removed column is still read from the source (a file, an API) and must be
    dropped with ``privacy.remove``; False for a SQL table, whose query simply leaves it out."""
    out = PrivacyDraft()
    allowed: dict[str, Any] = {}
    mask: dict[str, Any] = {}
    remove: list[str] = []
    for finding in findings:
        column = finding.column
        restricted = RESTRICTED & set(finding.kinds)
        if restricted and column.field_name != row_identifier:
            why = f"{finding.describe()}: never open data"
            out.removed.append((column, why))
            out.summary.append(f"{column.name}: left out ({why})")
            if drop_on_read:
                remove.append(column.name)
            continue
        masked: set[PiiKind] = set()
        method = None
        if PiiKind.STREET_ADDRESS in finding.by_value and column.socrata_type is SocrataType.TEXT \
                and column.field_name != row_identifier:
            method, masked = "hundred_block", {PiiKind.STREET_ADDRESS}
            mask[column.field_name] = {"method": method}
            out.comments[("privacy", "mask", column.field_name)] = (
                f"suggested: {finding.describe()}. Published as hundred blocks (1234 Main St -> 12XX Main St). If "
                f"these are addresses of places, not of people (a facility, a permit's parcel), publish them whole: "
                f"move the column to privacy.allowed with a justification")
        elif PiiKind.DATE_OF_BIRTH in finding.kinds and column.socrata_type in _TIMESTAMPS \
                and column.field_name != row_identifier:
            method = "year"
            mask[column.field_name] = {"method": method}
            out.comments[("privacy", "mask", column.field_name)] = (
                f"suggested: {finding.describe()}. Only the year is published")
        to_allow = [k for k in finding.kinds if k in finding.by_name or k not in masked]
        if to_allow:
            words = _and([WORDS[k] for k in to_allow])
            allowed[column.field_name] = {
                "kinds": [k.value for k in to_allow],
                "justification": todo(f"say why publishing the {words} in {column.field_name} is right (whose are "
                                      f"they? why may the public have them?), or take the column out of columns"
                                      + (" and list it under privacy.remove" if drop_on_read else
                                         " and out of source.query")),
            }
            masked_too = (f" The scanner reads column names as well as values, so {column.field_name} needs this "
                          f"even masked.") if method and set(to_allow) <= finding.by_name else ""
            out.comments[("privacy", "allowed", column.field_name)] = (
                f"suggested: {finding.describe()}.{masked_too} Every run stops at the privacy check until this is "
                f"answered: a person decides to publish (the justification) or not (remove the column)")
        out.summary.append(f"{column.name}: {finding.describe()} -> "
                           + ", ".join(([f"mask {method}"] if method else []) + (["allowed, justification TODO"]
                                                                               if to_allow else [])))
    if allowed:
        out.section["allowed"] = allowed
    if remove:
        out.section["remove"] = remove
        out.comments[("privacy", "remove")] = "\n".join(
            f"{column.name}: {why}; dropped as soon as it is read" for column, why in out.removed)
    if mask:
        out.section["mask"] = mask
    return out


def draft_quasi_identifiers(profile: SourceProfile, published: Collection[str]) -> tuple[dict[str, Any], str] | None:
    """``{columns, k}`` and its comment, when columns describing people are published."""
    candidates = [c for c in profile.columns if c.field_name in published and c.samples
                  and c.distinct_count <= _MAX_QI_DISTINCT and c.distinct_count < len(c.samples)]
    people = [c for c in candidates if _PERSON_QI.search(c.field_name)]
    if not people:
        return None
    chosen = [c for c in candidates if c in people or _PLACE_QI.search(c.field_name)]
    counted = _small_cells(chosen, profile.row_count_sampled)
    seen = (f" In the sample, {counted[0]:,} of {counted[1]:,} combinations occur fewer than {SMALL_CELL_K} times "
            f"(a sample: `opendata check` counts the whole extract).") if counted else ""
    comment = (f"suggested: {_and([c.name for c in chosen])} describe people; together they could single one out. "
               f"The small-cell check fails a run when a combination occurs in fewer than k rows ({SMALL_CELL_K}: "
               f"the usual suppression threshold of public health reporting).{seen} Coarsen where cells are small "
               f"(age groups; ZIP codes masked keep_first 3)")
    return {"columns": [c.field_name for c in chosen], "k": SMALL_CELL_K}, comment


def _small_cells(columns: Sequence[ColumnProfile], rows: int) -> tuple[int, int] | None:
    """(combinations in fewer than k sampled rows, combinations) when every sampled row has all the
    columns (the samples keep non-empty values only, so rows line up only then)."""
    if any(len(c.samples) != rows for c in columns):
        return None
    counts: dict[tuple[str, ...], int] = {}
    for i in range(rows):
        key = tuple(repr(c.samples[i]) for c in columns)
        counts[key] = counts.get(key, 0) + 1
    return sum(1 for n in counts.values() if n < SMALL_CELL_K), len(counts)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
