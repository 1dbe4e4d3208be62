"""The personal-data detectors: values and column names that must match, and look-alikes that must not."""

from __future__ import annotations

import pyarrow as pa
import pytest

from opendata.spec.privacy import PiiKind
from opendata.validation.pii import find_pii, kinds_by_name, kinds_in, luhn_valid, normalize_name

K = PiiKind

MUST_MATCH = [
    ("123-45-6789", K.SSN), ("SSN on file: 078-05-1120.", K.SSN), ("772 12 3456", K.SSN),
    ("jane.doe@example.com", K.EMAIL), ("write to J_Smith+311@mail.city.example.org please", K.EMAIL),
    ("(213) 555-0123", K.PHONE), ("213-555-0123", K.PHONE), ("+1 213.555.0123", K.PHONE),
    ("caller said call back at 818 555 0199", K.PHONE),
    ("4111 1111 1111 1111", K.CREDIT_CARD), ("5500-0000-0000-0004", K.CREDIT_CARD),
    ("378282246310005", K.CREDIT_CARD), ("6011111111111117", K.CREDIT_CARD),
    ("192.168.1.20", K.IP_ADDRESS), ("login from 10.0.0.1 at noon", K.IP_ADDRESS),
    ("1234 N Main St", K.STREET_ADDRESS), ("5 W 3rd Ave Apt 2", K.STREET_ADDRESS),
    ("lives at 742 Evergreen Terrace", K.STREET_ADDRESS), ("12489 N SPRING ST", K.STREET_ADDRESS),
]

MUST_NOT_MATCH = [
    # SSN rules: area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
    "000-12-3456", "666-12-3456", "900-12-3456", "987-65-4321", "123-00-4567", "123-45-0000",
    "123456789",                      # bare digits: too often another id
    "4111 1111 1111 1112",            # fails Luhn
    "1234 5678 9012 3456",            # no card issuer starts with 1
    "256.1.1.1", "1.2.3",             # not an IPv4 address
    "12XX Main St",                   # a hundred block, what masking publishes
    "25016-31880-00000", "1-3000000037", "DAJ01000000", "FA7961788",   # the samples' identifiers
    "2025-08-24", "2026-04-17T03:54:00", "-118.508844", "33.899118", "POINT (-118.2 34.1)", "90012",
    "Add 400 sq ft bedroom and bath to rear of dwelling", "Kitchen and bathroom remodel, replace windows",
    "user at example dot com", "213-5550123",
]


@pytest.mark.parametrize("text,kind", MUST_MATCH, ids=[m[0] for m in MUST_MATCH])
def test_value_detectors_find_their_kind(text, kind):
    assert kinds_in(text) == {kind}


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_value_detectors_ignore_look_alikes(text):
    assert kinds_in(text) == set()


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("79927398710")


def test_find_pii_returns_positions_not_values():
    values = pa.array([None, "clean", "mail a@b.example", "x", "213-555-0100 or a@b.example", None])
    found = find_pii(values)
    assert {kind: list(positions) for kind, positions in found.items()} == {K.EMAIL: [2, 4], K.PHONE: [4]}


def test_find_pii_on_a_column_without_candidates_is_empty():
    assert find_pii(pa.array(["Bulky Items", "Graffiti Removal", None] * 1000)) == {}


NAMES = [
    ("ssn", K.SSN), ("Social Security Number", K.SSN), ("DOB", K.DATE_OF_BIRTH), ("birthDate", K.DATE_OF_BIRTH),
    ("date_of_birth", K.DATE_OF_BIRTH), ("Driver's License #", K.DRIVERS_LICENSE), ("dl_number", K.DRIVERS_LICENSE),
    ("passport_no", K.PASSPORT), ("state_id", K.GOVERNMENT_ID), ("first_name", K.PERSON_NAME),
    ("OwnerName", K.PERSON_NAME), ("mrn", K.MEDICAL_RECORD), ("patient_id", K.MEDICAL_RECORD),
    ("contact_email", K.EMAIL), ("Phone Number", K.PHONE), ("card_number", K.CREDIT_CARD),
    ("account_number", K.BANK_ACCOUNT), ("tin", K.TAX_ID), ("home_address", K.STREET_ADDRESS),
    ("ip_address", K.IP_ADDRESS),
]


@pytest.mark.parametrize("name,kind", NAMES, ids=[n[0] for n in NAMES])
def test_column_names_announce_their_kind(name, kind):
    assert kinds_by_name(name) == {kind}


@pytest.mark.parametrize("name", ["facility_name", "address", "latitude", "permit_nbr", "zip_code", "contractor",
                                  "inspection_id", "sr_number", "council_district", "description", "tint_color",
                                  "Facility Address", "status"])
def test_ordinary_column_names_are_not_personal_data(name):
    assert kinds_by_name(name) == set()


def test_normalize_name():
    assert normalize_name("Driver's License #") == "drivers_license"
    assert normalize_name("dateOfBirth") == "date_of_birth"
