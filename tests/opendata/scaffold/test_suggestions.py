"""Row identifier, watermark and privacy suggestions from a profile (pure)."""

from __future__ import annotations

import datetime as dt

from opendata.scaffold.identify import composite_key_note, suggest_row_identifier
from opendata.scaffold.privacy import SMALL_CELL_K, draft_privacy, draft_quasi_identifiers, scan
from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.scaffold.watermark import suggest_watermark, updated_at_without_watermark
from opendata.spec.vocab import SocrataType as T


def col(name, socrata_type=T.TEXT, kind="text", samples=(), pk=False, nulls=0) -> ColumnProfile:
    return ColumnProfile(name=name, field_name=name, source_type="x", socrata_type=socrata_type, kind=kind,
                         is_primary_key=pk, samples=tuple(samples), null_count=nulls,
                         distinct_count=len({repr(s) for s in samples}))


def profile(*columns, kind="file", pk=(), rows=None) -> SourceProfile:
    return SourceProfile(columns=tuple(columns), row_count_sampled=rows if rows is not None else
                         max((len(c.samples) + c.null_count for c in columns), default=0), primary_key=tuple(pk),
                         source={"kind": kind}, source_system="s", title="t")


def test_the_primary_key_is_the_row_identifier_and_a_composite_one_is_explained():
    p = profile(col("id", T.NUMBER, "integer", [1, 2], pk=True), col("name", samples=["a", "b"]), kind="sql",
                pk=["id"])
    assert suggest_row_identifier(p).field_name == "id" and not suggest_row_identifier(p).inferred
    both = profile(col("a", pk=True, samples=["x"]), col("b", pk=True, samples=["y"]), kind="sql", pk=["a", "b"])
    assert suggest_row_identifier(both) is None and "2 columns (a, b)" in composite_key_note(both)


def test_an_id_like_unique_column_is_inferred_but_not_a_repeated_or_unnamed_one():
    p = profile(col("name", samples=["a", "b", "c"]), col("case_number", samples=["1", "2", "3"]),
                col("facility_id", samples=["f1", "f2", "f3"]))
    suggested = suggest_row_identifier(p)
    assert suggested.field_name == "facility_id" and suggested.inferred
    assert suggest_row_identifier(profile(col("facility_id", samples=["f1", "f1", "f2"]))) is None
    assert suggest_row_identifier(profile(col("facility_id", samples=["f1", "f2"], nulls=1))) is None
    assert suggest_row_identifier(profile(col("code", samples=["a", "b"]))) is None


def test_watermark_prefers_updated_at_then_an_integer_key_and_only_for_sql():
    ts = T.FLOATING_TIMESTAMP
    both = profile(col("id", T.NUMBER, "integer", [1, 2], pk=True), col("last_modified", ts, "timestamp", [1, 2]),
                   kind="sql", pk=["id"])
    assert suggest_watermark(both, {"id", "last_modified"}).field_name == "last_modified"
    assert suggest_watermark(both, {"id"}).field_name == "id"
    created = profile(col("created_at", ts, "timestamp", [1]), kind="sql")
    assert suggest_watermark(created, {"created_at"}) is None
    text_key = profile(col("id", T.TEXT, "text", ["a"], pk=True), kind="sql", pk=["id"])
    assert suggest_watermark(text_key, {"id"}) is None
    as_file = profile(col("updated_at", ts, "timestamp", [1]))
    assert suggest_watermark(as_file, {"updated_at"}) is None
    assert "read whole on every run" in updated_at_without_watermark(as_file, {"updated_at"})
    nullable = profile(col("updated_at", ts, "timestamp", [1], nulls=3), kind="sql")
    assert "3 of 4 sampled rows have no updated_at" in suggest_watermark(nullable, {"updated_at"}).reason


def test_privacy_each_kind_answered_safely_and_only_counts_shown():
    p = profile(col("contact", samples=[f"p{i}@example.org" for i in range(9)] + ["none"]),
                col("site", samples=[f"{100 + i} W 3rd St" for i in range(10)]),
                col("ssn", samples=[f"123-45-{6000 + i}" for i in range(10)]),
                col("home_address", samples=[f"{200 + i} Oak Ave" for i in range(10)]),
                col("date_of_birth", T.FLOATING_TIMESTAMP, "date", [dt.date(1990, 1, 1)]),
                col("status", samples=["open"] * 10))
    found = scan(p)
    assert [f.column.name for f in found] == ["contact", "site", "ssn", "home_address", "date_of_birth"]
    assert found[0].describe() == "values look like e-mail addresses (9 of 10 sampled)"
    draft = draft_privacy(p, found, row_identifier=None, drop_on_read=True)
    assert draft.section["allowed"]["contact"]["kinds"] == ["email"]
    assert draft.section["allowed"]["contact"]["justification"].startswith("TODO: ")
    assert draft.section["remove"] == ["ssn"] and [c.name for c, _ in draft.removed] == ["ssn"]
    assert draft.section["mask"] == {"site": {"method": "hundred_block"}, "home_address": {"method": "hundred_block"},
                                     "date_of_birth": {"method": "year"}}
    # Masking does not change a name: a column named like personal data still needs a justification.
    assert "site" not in draft.section["allowed"]
    assert draft.section["allowed"]["home_address"]["kinds"] == ["street_address"]
    assert draft.section["allowed"]["date_of_birth"]["kinds"] == ["date_of_birth"]
    values = {str(v) for c in p.columns for v in c.samples}
    assert not any(value in text for text in draft.comments.values() for value in values if len(value) > 4)


def test_a_restricted_row_identifier_is_kept_and_asked_about():
    p = profile(col("ssn", samples=[f"123-45-{6000 + i}" for i in range(3)]))
    draft = draft_privacy(p, scan(p), row_identifier="ssn", drop_on_read=True)
    assert draft.removed == [] and draft.section["allowed"]["ssn"]["kinds"] == ["ssn"]


def test_quasi_identifiers_need_a_person_column():
    ages = [20 + i % 5 for i in range(40)]
    sexes = ["F", "M"] * 20
    zips = ["90012", "90013"] * 20
    p = profile(col("age", T.NUMBER, "integer", ages), col("sex", samples=sexes), col("zip_code", samples=zips),
                col("request_id", samples=[str(i) for i in range(40)]))
    section, comment = draft_quasi_identifiers(p, {"age", "sex", "zip_code", "request_id"})
    assert section == {"columns": ["age", "sex", "zip_code"], "k": SMALL_CELL_K}
    assert "combinations occur fewer than 11 times" in comment
    assert draft_quasi_identifiers(profile(col("zip_code", samples=zips)), {"zip_code"}) is None
