"""Source column names -> Socrata API field names and display names (pure).

A Socrata field name is lower-case ``[a-z0-9_]``, starts with a letter and has at most 63
characters (opendata.spec.dataset.Column). Source names are anything a database, a spreadsheet
header or a JSON key allows ("Permit #", "Date Issued", "déclaré", "select", the same header
twice), so each is folded to that alphabet, and the results are made unique in column order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_FIELD_NAME = 63

_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l",
                          "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D"})

# Written out as people say them in a display name.
_UPPER_WORDS = {"id", "zip", "url", "gps", "api", "ssn", "dob", "ip", "pcis", "sr", "gis", "apn", "fips", "usd",
                "ein", "llc", "ada", "hvac", "cd"}


def field_name(source: str) -> str:
    """``"Permit #"`` -> ``permit``, ``"updatedAt"`` -> ``updated_at``, ``"2024 total"`` -> ``c_2024_total``."""
    # Accents folded to their letter ("déclaré" -> "declare"), and the letters NFKD does not split;
    # other scripts have no such fold (their names become "column", numbered when repeated).
    text = str(source).translate(_LETTERS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.replace("'", "").replace("#", " number ").replace("%", " percent ")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not text:
        text = "column"
    if not text[0].isalpha():
        text = "c_" + text
    return text[:MAX_FIELD_NAME].rstrip("_")


def field_names(sources: Sequence[str]) -> list[str]:
    """Each source name's field name, unique in order: a second ``total`` becomes ``total_2``."""
    taken: set[str] = set()
    out: list[str] = []
    for source in sources:
        base = field_name(source)
        name, n = base, 1
        while name in taken:
            n += 1
            suffix = f"_{n}"
            name = base[:MAX_FIELD_NAME - len(suffix)].rstrip("_") + suffix
        taken.add(name)
        out.append(name)
    return out


def display_name(source: str, field: str) -> str:
    """A readable column title: the source name when it already reads as one ("Date Issued"),
    else the field name's words ("permit_nbr" -> "Permit Nbr", "zip_code" -> "ZIP Code")."""
    text = " ".join(str(source).split())
    if text and " " in text and text.isprintable() and len(text) <= 80 and text != text.lower():
        return text
    words = [word for word in field.split("_") if word]
    shown = " ".join(word.upper() if word in _UPPER_WORDS else word.capitalize() for word in words)
    return shown or field


def title(name: str) -> str:
    """A dataset's default name from a table, file or URL part: ``building_permits`` -> ``Building Permits``."""
    base = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", str(name).rsplit("/", 1)[-1])
    return display_name(base, field_name(base)) if base else "Untitled Dataset"
