"""Start-up configuration of one emulator process (accounts, workflow switches, faults)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

ROLES = ("publisher", "reviewer", "admin")
SIGN_IN_HINT_ENV = "PORTAL_EMULATOR_SIGN_IN_HINT"
ACCOUNTS_ENV = "PORTAL_EMULATOR_ACCOUNTS"
STRICT_ENV = "PORTAL_EMULATOR_STRICT"  # "1": ``serve`` runs in strict mode unless told --no-strict
# Strict mode's defaults for the inconvenient behaviours (an explicit flag wins in either mode).
STRICT_PARSE_COMPLETE_SECONDS = 1.0
STRICT_LOST_ANSWER_RATE = 0.03
FOURFOUR_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"  # Socrata's 4x4 alphabet, ASCII-sorted

# The domain's metadata vocabulary, which a real portal's administrator sets up once (Admin >
# Metadata): the categories assets may use and the custom fieldsets with their fields. The
# defaults are what the bundled sample dataset files write; they are spelled out here because
# the emulator never imports the pipeline. ``None`` (``--categories '*'``) accepts anything.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "City Infrastructure & Service Requests",
    "Health",
    "Housing and Real Estate",
)
DEFAULT_FIELDSETS: dict[str, tuple[str, ...]] = {
    "Dataset Information": ("Department", "Data Steward", "Source System", "Pipeline Dataset ID"),
    "Update": ("Update Frequency", "Automation"),
    "Classification": ("Data Classification", "Security Level"),
}
ANY = "*"


@dataclass(frozen=True)
class Account:
    name: str
    password: str = field(repr=False)  # never printed, never logged
    role: str = "publisher"

    @property
    def user_id(self) -> str:
        """A stable 4x4 user id derived from the name, like Socrata's ``owner.id``."""
        digest = hashlib.sha256(self.name.encode()).digest()
        chars = "".join(FOURFOUR_ALPHABET[b % 32] for b in digest[:8])
        return f"{chars[:4]}-{chars[4:]}"

    def can_write(self) -> bool:
        return self.role in ROLES

    def can_review(self) -> bool:
        return self.role in ("reviewer", "admin")

    def is_admin(self) -> bool:
        return self.role == "admin"


def parse_account(item: str) -> Account:
    """``name:password:role``; the password may itself contain colons."""
    parts = item.strip().split(":")
    if len(parts) < 3 or not parts[0]:
        raise ValueError("account must look like NAME:PASSWORD:ROLE")
    name, role, password = parts[0], parts[-1].strip().lower(), ":".join(parts[1:-1])
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} for account {name!r}; use one of {', '.join(ROLES)}")
    if not password:
        raise ValueError(f"account {name!r} has an empty password")
    return Account(name=name, password=password, role=role)


def parse_accounts(items: list[str], env_value: str | None) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    for item in [*(env_value.split(",") if env_value else []), *items]:
        if item.strip():
            acc = parse_account(item)
            accounts[acc.name] = acc
    return accounts


def parse_categories(value: str) -> tuple[str, ...] | None:
    """``A,B,C`` -> the domain's categories; ``*`` -> any category is accepted; ``""`` -> none."""
    if value.strip() == ANY:
        return None
    return tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))


def parse_fieldsets(value: str) -> dict[str, tuple[str, ...]] | None:
    """``Set=Field,Field;Other Set=Field`` -> custom fieldsets and their fields; ``*`` -> any
    fieldset and field is accepted; ``""`` -> the domain has no custom fieldsets."""
    if value.strip() == ANY:
        return None
    fieldsets: dict[str, tuple[str, ...]] = {}
    for item in value.split(";"):
        if not item.strip():
            continue
        name, sep, fields = item.partition("=")
        names = tuple(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
        if not sep or not name.strip() or not names:
            raise ValueError(f"fieldset must look like 'Fieldset=Field,Field', got {item.strip()!r}")
        fieldsets[name.strip()] = names
    return fieldsets


@dataclass
class FaultSettings:
    rate: float = 0.0
    kinds: list[str] = field(default_factory=lambda: ["500"])
    slow_seconds: float = 2.0
    timeout_seconds: float = 15.0
    # Share of faults that strike after the request was applied (the answer is lost).
    after_ratio: float = 0.25
    methods: list[str] | None = None  # only these HTTP methods (None = all)
    path_prefixes: list[str] | None = None  # only paths starting with one of these (None = all API paths)
    count: int | None = None  # fault exactly the next N matching requests, ignoring rate
    seed: int | None = None
    retry_after: float | None = None  # Retry-After seconds on 429/503 (the reference documents none)
    # Lost answers: this share of API writes is applied, then answered with a 500 or 502 (seeded by
    # lost_answer_seed). None keeps the current value, so clearing the faults leaves them on.
    lost_answer_rate: float | None = None
    lost_answer_seed: int | None = None


@dataclass
class EmulatorConfig:
    state_path: str
    accounts: dict[str, Account] = field(default_factory=dict)
    approvals_enabled: bool = True
    approval_applies_audience: bool = True
    require_socrata_host: bool = False
    domain: str | None = None  # None: the Host header of each request is the domain
    faults: FaultSettings = field(default_factory=FaultSettings)
    # DSMAPI revisions: what ``initiate`` offers, and how long each apply job stage lasts (a job
    # takes a moment on the portal; tests and demos see the statuses go by).
    upload_chunk_size: int = 4 * 1024 * 1024
    upload_parallelism: int = 2
    apply_stage_seconds: float = 0.1
    # An upload answers with its parsed schema when parsing ends within this time, else at once
    # with the source still parsing (poll GET /api/publishing/v1/source/{id}).
    sync_parse_seconds: float = 5.0
    # The Metadata API reports a category, fieldset or field outside these (see DEFAULT_*).
    categories: tuple[str, ...] | None = DEFAULT_CATEGORIES
    fieldsets: dict[str, tuple[str, ...]] | None = field(default_factory=lambda: dict(DEFAULT_FIELDSETS))

    # Strict mode: the real portal's inconvenient behaviours (README "Strict mode"): DSMAPI column
    # types guessed from the upload, applies to public datasets held for approval, and the two
    # below switched on by default.
    strict: bool = False
    # An output schema is complete (completed_at, error counts) this long after the bytes stopped.
    parse_complete_seconds: float = 0.0
    # Shown on every "Sign in required" page: where this deployment keeps the reviewer's password
    # (the demo's file), so a newcomer who missed the start-up banner is not stuck at a 401.
    sign_in_hint: str | None = None

    @property
    def uploads_dir(self) -> str:
        """Where uploaded source bytes wait to be parsed (next to the state file)."""
        return f"{self.state_path}.uploads"

    @staticmethod
    def accounts_from_env() -> str | None:
        return os.environ.get(ACCOUNTS_ENV)
