"""Who may do what: the roles, the actions each role allows and the roles file.

Pure (no Streamlit): ``ui.auth`` reads the signed-in user and asks this module. Without
sign-in Cadence runs single-user and the local user is an admin (:data:`LOCAL`).

The roles file (``cadence-roles.toml`` beside ``app.py``, or ``$CADENCE_ROLES``)::

    default = "viewer"          # anyone signed in and not listed; "none" lets nobody else in
    [users]
    "ana@example.com" = "admin"
    "ben@example.com" = "editor"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

VIEWER, EDITOR, ADMIN = "viewer", "editor", "admin"
ROLES = (VIEWER, EDITOR, ADMIN)  # each role may do everything the ones before it may
NO_ROLE = "none"  # a default role that lets nobody in who is not listed

# The actions Cadence checks, and the least role each one needs.
VIEW = "view"
UPLOAD = "upload"  # append uploaded files to the data
EDIT_REGISTER = "edit_register"  # add, edit or remove CSI register entries
SAVE_MAPPING = "save_mapping"  # save or delete a column-mapping profile
REPLACE = "replace"  # replace whole tables with uploaded files
RESET = "reset"  # reset to the demo data (also the recovery of a broken database)
NEEDS = {
    VIEW: VIEWER,
    UPLOAD: EDITOR,
    EDIT_REGISTER: EDITOR,
    SAVE_MAPPING: EDITOR,
    REPLACE: ADMIN,
    RESET: ADMIN,
}
# How an action reads in a sentence ("<doing> needs the editor role").
DOING = {
    VIEW: "Seeing the dashboard",
    UPLOAD: "Uploading data",
    EDIT_REGISTER: "Adding, editing and removing improvements",
    SAVE_MAPPING: "Saving a mapping profile",
    REPLACE: "Replacing whole tables",
    RESET: "Resetting to the demo data",
}
LOCAL_USER = "local user"  # who the audit log names when sign-in is off


class RolesError(ValueError):
    """The roles file cannot be used; the message names the file (not its folder) and why."""


class AccessDenied(PermissionError):
    """An action the user's role does not allow; the message is the sentence to show."""


@dataclass(frozen=True)
class RoleConfig:
    """E-mail (lower case) → role, and the role of everyone else who signs in (or ``none``)."""

    default: str = VIEWER
    users: dict[str, str] = field(default_factory=dict)


def _role(value: object, where: str, source: str) -> str:
    role = str(value).strip().lower() if isinstance(value, str) else ""
    if role not in (*ROLES, NO_ROLE):
        raise RolesError(
            f"{source}: {where} is {value!r}; use one of {', '.join(ROLES)} or {NO_ROLE}"
        )
    return role


def parse_roles(doc: object, source: str = "roles") -> RoleConfig:
    """A :class:`RoleConfig` from the parsed TOML (a dict); raises :class:`RolesError` for an
    unknown role, an entry that is not an e-mail address, or an unknown key."""
    if not isinstance(doc, dict):
        raise RolesError(f"{source}: expected a table with 'default' and [users]")
    unknown = set(doc) - {"default", "users"}
    if unknown:
        raise RolesError(f"{source}: unknown key(s) {sorted(unknown)}; use default and [users]")
    default = _role(doc.get("default", VIEWER), "default", source)
    users_doc = doc.get("users", {})
    if not isinstance(users_doc, dict):
        raise RolesError(f"{source}: [users] must map e-mail addresses to roles")
    users: dict[str, str] = {}
    for email, role in users_doc.items():
        address = str(email).strip().lower()
        if "@" not in address:
            raise RolesError(f"{source}: {email!r} in [users] is not an e-mail address")
        users[address] = _role(role, repr(email), source)
    return RoleConfig(default, users)


def load_roles(path: str | os.PathLike) -> RoleConfig:
    """The roles file at ``path``; a missing file gives the default config (everyone who signs
    in is a viewer). Raises :class:`RolesError` for a file that is not valid TOML or roles."""
    path = Path(path)
    if not path.exists():
        return RoleConfig()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise RolesError(f"{path.name}: cannot be read ({exc})") from None
    return parse_roles(doc, path.name)


def resolve_role(config: RoleConfig, email: str | None, verified: bool | None = None) -> str | None:
    """The role of a signed-in user: their entry in ``config.users`` (e-mail compared case-
    insensitively), else the default; None when that is ``none``. An address the identity
    provider marks as not verified (``email_verified`` false) gets only the default."""
    address = (email or "").strip().lower()
    role = config.default
    if address and verified is not False:
        role = config.users.get(address, config.default)
    return None if role == NO_ROLE else role


def allows(role: str | None, action: str) -> bool:
    """Whether ``role`` (None: no access) may do ``action``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(NEEDS[action])


@dataclass(frozen=True)
class Principal:
    """Who is using Cadence: ``who`` for the audit log (an e-mail address or ``local user``),
    their role (None: no access), whether they signed in, and why they have no role, if so."""

    who: str
    role: str | None
    signed_in: bool = False
    single_user: bool = False
    problem: str | None = None

    def may(self, action: str) -> bool:
        """Whether this user's role allows ``action``."""
        return allows(self.role, action)

    def refusal(self, action: str) -> str:
        """The sentence shown where ``action`` is refused (or disabled) for this user."""
        need = NEEDS[action]
        has = f"you are signed in as {self.role}" if self.role else "you have no role"
        return f"{DOING[action]} needs the {need} role; {has}."

    def require(self, action: str) -> None:
        """Raise :class:`AccessDenied` with :meth:`refusal` unless the role allows ``action``."""
        if not self.may(action):
            raise AccessDenied(self.refusal(action))


LOCAL = Principal(LOCAL_USER, ADMIN, signed_in=False, single_user=True)
