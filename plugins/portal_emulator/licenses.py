"""The domain's license list (``GET /api/licenses``), ids and names as Socrata publishes them."""

from __future__ import annotations

LICENSES = [
    {"id": "PUBLIC_DOMAIN", "name": "Public Domain", "termsLink": None, "logoUrl": None},
    {
        "id": "USGOV_WORKS",
        "name": "Public Domain U.S. Government",  # the name Socrata shows for USGOV_WORKS
        "termsLink": "https://www.usa.gov/government-works",
        "logoUrl": None,
    },
    {
        "id": "CC0_10",
        "name": "Creative Commons 1.0 Universal (Public Domain Dedication)",
        "termsLink": "http://creativecommons.org/publicdomain/zero/1.0/legalcode",
        "logoUrl": "images/licenses/ccZero.png",
    },
    {
        "id": "CC_30_BY",
        "name": "Creative Commons Attribution 3.0 Unported",
        "termsLink": "http://creativecommons.org/licenses/by/3.0/legalcode",
        "logoUrl": "images/licenses/cc30by.png",
    },
    {
        "id": "CC_40_BY",
        "name": "Creative Commons Attribution 4.0 International",
        "termsLink": "https://creativecommons.org/licenses/by/4.0/legalcode",
        "logoUrl": None,
    },
    {
        "id": "CC_30_BY_SA",
        "name": "Creative Commons Attribution | Share Alike 3.0 Unported",
        "termsLink": "http://creativecommons.org/licenses/by-sa/3.0/legalcode",
        "logoUrl": None,
    },
    {
        "id": "CC_40_BY_SA",
        "name": "Creative Commons Attribution | Share Alike 4.0 International",
        "termsLink": "https://creativecommons.org/licenses/by-sa/4.0/legalcode",
        "logoUrl": None,
    },
    {
        "id": "PDDL",
        "name": "Open Data Commons Public Domain Dedication and License",
        "termsLink": "http://opendatacommons.org/licenses/pddl/1.0/",
        "logoUrl": None,
    },
    {
        "id": "ODC_BY",
        "name": "Open Data Commons Attribution License",
        "termsLink": "http://opendatacommons.org/licenses/by/1.0/",
        "logoUrl": None,
    },
    {
        "id": "ODBL",
        "name": "Open Database License",
        "termsLink": "http://opendatacommons.org/licenses/odbl/1.0/",
        "logoUrl": None,
    },
    {
        "id": "UK_OGLV3.0",
        "name": "UK Open Government Licence v3",
        "termsLink": "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "logoUrl": None,
    },
    {"id": "SEE_TERMS_OF_USE", "name": "See Terms of Use", "termsLink": None, "logoUrl": None},
]
BY_ID = {lic["id"]: lic for lic in LICENSES}
BY_NAME = {lic["name"].lower(): lic for lic in LICENSES}


def find(ref: str | None) -> dict | None:
    """A license by id or by name (the Metadata API writes names, view JSON uses ids)."""
    if not ref:
        return None
    return BY_ID.get(ref) or BY_NAME.get(ref.lower()) or BY_ID.get(ref.upper())
