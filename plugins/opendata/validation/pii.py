"""A deterministic scanner for personal data, by column name and by value.

Why not a library: Presidio needs spaCy and a language model (heavy, and not deterministic
across model versions); the kinds that matter for a city's tables are few and have exact
rules (the SSN area and group numbers, the Luhn checksum of card numbers). Every rule here is
a plain regular expression or function, unit-tested with values that must and must not match.

Values are matched with RE2 through ``pyarrow.compute`` (vectorised C++: millions of cells a
second) so that scanning keeps up with the rest of validation. RE2 has no look-around and no
back-references; word edges are written as ``(?:^|[^0-9])`` instead. Rules RE2 cannot
express (Luhn, card issuers) run in Python, on the few cells RE2 already picked out.

Functions here never log and never return a value they matched: only kinds, counts and
positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.spec.privacy import PiiKind

# --- by column name ------------------------------------------------------------------------

_NAME_RULES: dict[PiiKind, str] = {
    PiiKind.SSN: r"ssn|social_?security(_(number|no|num))?|soc_sec(_(no|num))?",
    PiiKind.DATE_OF_BIRTH: r"dob|date_of_birth|birth_?date|birth_?day|birth_dt|born_on",
    PiiKind.DRIVERS_LICENSE: r"(drivers?|driving)_?licen[cs]e(_(number|no|num|id))?|dl_(number|no|num|id)|dln|"
                             r"cdl(_number)?",
    PiiKind.PASSPORT: r"passport(_(number|no|num|id))?",
    PiiKind.GOVERNMENT_ID: r"state_id(_number)?|national_id(_number)?|alien_(number|registration(_number)?)|"
                           r"green_card(_number)?|visa_number|voter_id|military_id|id_card(_number)?",
    PiiKind.PERSON_NAME: r"(first|last|middle|given|family|full|maiden)_?name|surname|fname|lname|"
                         r"(applicant|owner|resident|caller|patient|complainant|victim|suspect|tenant|employee|"
                         r"reporter|requester|requestor|customer|student|person|contact)_name",
    PiiKind.MEDICAL_RECORD: r"mrn|medical_record(_(number|no|num))?|patient_id|health_record(_(number|no))?|"
                            r"diagnosis(_code)?|icd_?(9|10)?_code|insurance_(id|number|member_id)|"
                            r"medica(id|re)(_(id|number))?",
    PiiKind.EMAIL: r"e_?mail(_address)?",
    PiiKind.PHONE: r"(tele)?phone(_(number|no|num))?|tel|mobile(_(number|no))?|cell_?phone|cell_number|"
                   r"fax(_number)?",
    PiiKind.CREDIT_CARD: r"(credit|debit)_?card(_(number|no|num))?|card_(number|no|num)|cc_?(number|no|num)|ccn",
    PiiKind.BANK_ACCOUNT: r"(bank_)?account_(number|no|num)|bank_account|iban|routing_(number|no|num)|aba_number",
    PiiKind.TAX_ID: r"tax_?id|tin|itin|taxpayer_id|f?ein",
    PiiKind.STREET_ADDRESS: r"(home|residential|residence|mailing|resident|personal|billing|caller|applicant|owner|"
                            r"patient|victim|tenant|complainant)_address",
    PiiKind.IP_ADDRESS: r"ip|ip_?address|ipv[46](_address)?|remote_addr|client_ip",
}
# The rule must cover whole name parts: "tin" is a tax id, "latitude" is not.
_NAME_PATTERNS = {kind: re.compile(rf"(?:^|_)(?:{rule})(?:_|$)") for kind, rule in _NAME_RULES.items()}


def normalize_name(name: str) -> str:
    """``"Driver's License #"``, ``driverLicense``, ``DRIVER_LICENSE`` -> ``driver_license``-style."""
    name = name.replace("'", "").replace("\u2019", "")
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def kinds_by_name(*names: str | None) -> set[PiiKind]:
    """Kinds of personal data a column's names (field, display, source) announce."""
    found: set[PiiKind] = set()
    for name in names:
        if name:
            normalized = normalize_name(name)
            found |= {kind for kind, pattern in _NAME_PATTERNS.items() if pattern.search(normalized)}
    return found


# --- by value --------------------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card_issuer(digits: str) -> bool:
    """A length and prefix some card network issues (Visa, Mastercard, Amex, Discover, Diners, JCB)."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    return ((digits[0] == "4" and n in (13, 16, 19))
            or ((51 <= two <= 55 or 2221 <= four <= 2720) and n == 16)
            or (two in (34, 37) and n == 15)
            or ((four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= n <= 19)
            or ((two in (36, 38) or 300 <= int(digits[:3]) <= 305) and n == 14)
            or (3528 <= four <= 3589 and 16 <= n <= 19))


_CARD_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def has_card_number(text: str) -> bool:
    """A digit run (spaces or dashes allowed) that is a valid card number: issuer and Luhn."""
    for match in _CARD_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if _card_issuer(digits) and luhn_valid(digits):
            return True
    return False


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_STREET_SUFFIX = (r"st|street|ave|avenue|blvd|boulevard|rd|road|dr|drive|ln|lane|way|ct|court|pl|place|ter|"
                  r"terrace|pkwy|parkway|hwy|highway|cir|circle|trl|trail|aly|alley")


@dataclass(frozen=True)
class ValueDetector:
    kind: PiiKind
    # RE2 syntax (pyarrow.compute), searched anywhere in the cell.
    pattern: str
    # An exact test in Python, run only on cells the pattern matched.
    confirm: Callable[[str], bool] | None = None


VALUE_DETECTORS: tuple[ValueDetector, ...] = (
    # Area 001-899 except 666, group 01-99, serial 0001-9999 (SSA rules, also after the 2011
    # randomisation). Written with separators only: nine bare digits are too often other ids.
    ValueDetector(PiiKind.SSN, r"(?:^|[^0-9-])(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6[0-57-9][0-9]|66[0-57-9])"
                               r"[- ](?:0[1-9]|[1-9][0-9])[- ](?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
                               r"(?:$|[^0-9-])"),
    ValueDetector(PiiKind.EMAIL, r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # North American numbers with separators: (213) 555-0100, 213-555-0100, +1 213.555.0100.
    ValueDetector(PiiKind.PHONE, r"(?:^|[^0-9.-])(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])"
                                 r"[2-9][0-9]{2}[ .-][0-9]{4}(?:$|[^0-9.-])"),
    ValueDetector(PiiKind.CREDIT_CARD, r"(?:^|[^0-9])[0-9](?:[ -]?[0-9]){12,18}(?:$|[^0-9])", has_card_number),
    ValueDetector(PiiKind.IP_ADDRESS, rf"(?:^|[^0-9.])(?:{_OCTET}\.){{3}}{_OCTET}(?:$|[^0-9.])"),
    # A house number, up to four words and a street suffix: "1234 N Main St", "5 W 3rd Ave Apt 2".
    # Hundred blocks ("12XX Main St", what masking publishes) do not match.
    ValueDetector(PiiKind.STREET_ADDRESS, rf"(?i)(?:^|[^0-9a-z])[0-9]{{1,6}}[a-z]?(?:-[0-9]{{1,5}})? +"
                                          rf"(?:[a-z0-9'.-]+ +){{0,4}}(?:{_STREET_SUFFIX})\.?(?:$|[^0-9a-z])"),
)

_ANY = "|".join(f"(?:{d.pattern})" for d in VALUE_DETECTORS)


def find_pii(values: pa.Array) -> dict[PiiKind, np.ndarray]:
    """Positions (within ``values``) of the cells holding each kind of personal data.

    One RE2 pass over every cell with all patterns at once finds the few candidate cells;
    each detector then looks at candidates only.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    candidate_mask = pc.fill_null(pc.match_substring_regex(values, _ANY), False)
    positions = pc.indices_nonzero(candidate_mask)
    if len(positions) == 0:
        return {}
    candidates = values.take(positions)
    found: dict[PiiKind, np.ndarray] = {}
    candidate_positions = positions.to_numpy().astype(np.int64)
    for detector in VALUE_DETECTORS:
        hit = pc.fill_null(pc.match_substring_regex(candidates, detector.pattern), False).to_numpy(
            zero_copy_only=False)
        if detector.confirm is not None and hit.any():
            texts = candidates.filter(pa.array(hit)).to_pylist()
            confirmed = np.fromiter((detector.confirm(t) for t in texts), dtype=bool, count=len(texts))
            hit[np.flatnonzero(hit)] = confirmed
        if hit.any():
            found[detector.kind] = found.get(detector.kind, np.empty(0, np.int64))
            found[detector.kind] = np.union1d(found[detector.kind], candidate_positions[hit])
    return found


def kinds_in(text: str) -> set[PiiKind]:
    """The kinds one piece of text holds (for tests and single values)."""
    return set(find_pii(pa.array([text], pa.string())))
