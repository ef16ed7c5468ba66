"""Sign-in and roles in the dashboard: who the user is (``st.user`` after ``st.login``), what
their role lets them do (``analytics.access``), the sign-in page and the sidebar's account box.

Sign-in is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC
settings); roles come from ``cadence-roles.toml`` (or ``$CADENCE_ROLES``). Without ``[auth]``
Cadence runs single-user: whoever reaches the server is the local admin, which is why
``make run`` listens on 127.0.0.1 only. Every write checks :func:`permit` in its handler, not
only in the widgets that offer it.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import streamlit as st
from streamlit import config as st_config
from streamlit.errors import StreamlitSecretNotFoundError

from analytics import access
from analytics.access import LOCAL, Principal, RolesError
from analytics.store import PROJECT_ROOT

log = logging.getLogger("cadence.auth")


class SecretsError(RuntimeError):
    """``secrets.toml`` exists but cannot be read: sign-in may be meant, so nobody gets in."""


def roles_path() -> Path:
    """The roles file: ``$CADENCE_ROLES``, else ``cadence-roles.toml`` beside ``app.py``."""
    return Path(os.environ.get("CADENCE_ROLES") or PROJECT_ROOT / "cadence-roles.toml")


def _auth_section() -> Mapping | None:
    """The ``[auth]`` secrets section, None when there is none (or no secrets file at all)."""
    try:
        section = st.secrets.get("auth")
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return None
    except Exception as exc:  # a broken secrets.toml: fail closed, never fall back to local
        raise SecretsError(type(exc).__name__) from exc
    return section if isinstance(section, Mapping) and section else None


def sign_in_configured() -> bool:
    """Whether sign-in is on (an ``[auth]`` section in the secrets)."""
    return _auth_section() is not None


def providers() -> list[str]:
    """Named providers (``[auth.<name>]`` sub-sections); empty for one unnamed provider."""
    section = _auth_section() or {}
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def current() -> Principal:
    """The user of this session and their role, read afresh (the roles file can change)."""
    try:
        configured = sign_in_configured()
    except SecretsError as exc:
        return Principal("", None, problem=f"the secrets file cannot be read ({exc})")
    if not configured:
        return LOCAL
    user = st.user.to_dict()
    if not user.get("is_logged_in"):
        return Principal("", None)
    email = user.get("email")
    who = str(email or user.get("sub") or "signed-in user")
    try:
        config = access.load_roles(roles_path())
    except RolesError as exc:
        log.error("roles file: %s", exc)
        return Principal(who, None, signed_in=True, problem=str(exc))
    verified = user.get("email_verified")
    role = access.resolve_role(config, email, verified if isinstance(verified, bool) else None)
    return Principal(who, role, signed_in=True)


def can(action: str) -> bool:
    """Whether this session's user may do ``action`` (for showing or hiding a control)."""
    return current().may(action)


def permit(action: str) -> Principal | None:
    """The check in an action's handler: the user (to name in the audit log) when their role
    allows ``action``; otherwise None, after showing why and logging the refusal."""
    principal = current()
    if principal.may(action):
        return principal
    log.warning("refused %s for %s (role %s)", action, principal.who or "-", principal.role)
    st.error(principal.refusal(action), icon=":material/block:")
    return None


def explain(action: str) -> None:
    """The sentence shown in place of a control the user's role does not allow."""
    st.caption(current().refusal(action))


def _authlib_missing() -> bool:
    return importlib.util.find_spec("authlib") is None


def sign_in_page(principal: Principal) -> None:
    """The only page a visitor without access sees: sign in, or why they cannot get in."""
    st.title("Cadence")
    if principal.problem and not principal.signed_in:
        st.error(
            "Cadence cannot check who you are: " + principal.problem + ". Ask the person who "
            "runs this server to fix .streamlit/secrets.toml.",
            icon=":material/error:",
        )
        return
    if not principal.signed_in:
        st.markdown("Sign in to see the dashboard.")
        if _authlib_missing():
            st.error(
                "Sign-in is configured, but the Authlib package it needs is not installed on "
                "the server (pip install Authlib). Ask the person who runs Cadence.",
                icon=":material/error:",
            )
            return
        named = providers()
        for name in named or [None]:
            label = f"Sign in with {name}" if name else "Sign in"
            if st.button(label, type="primary", key=f"sign_in_{name or 'default'}"):
                if name:
                    st.login(name)
                else:
                    st.login()
        return
    if principal.problem:
        st.error(
            f"You are signed in as {principal.who}, but Cadence's roles file has a problem: "
            f"{principal.problem}. Nobody gets in until it is fixed; ask an administrator.",
            icon=":material/error:",
        )
    else:
        st.warning(
            f"You are signed in as {principal.who}, but this address has no role in Cadence. "
            "Ask an administrator to add it to the roles file.",
            icon=":material/block:",
        )
    if st.button("Sign out", key="sign_out"):
        st.logout()


def under_app_test() -> bool:
    """Whether this run is Streamlit's AppTest (no server listens; errors must reach the test).
    AppTest patches ``streamlit.config.get_option``, not the ``st.get_option`` alias."""
    return bool(st_config.get_option("global.appTest"))


def _loopback(address: str) -> bool:
    """Whether the server listens on this computer only (unset: every interface)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def account_box(principal: Principal) -> None:
    """The sidebar's account panel: who is signed in with which role, or single-user mode."""
    with st.sidebar.expander("Account", expanded=False):
        if principal.single_user:
            st.caption(
                "Single-user mode: sign-in is not configured, so whoever can reach this server "
                "is the admin (local user). make run listens on this computer only (127.0.0.1); "
                "see docs/security.md to share Cadence with a team."
            )
            address = str(st.get_option("server.address") or "")
            if not _loopback(address) and not under_app_test():
                st.warning(
                    "This server may be reachable from other computers, and without sign-in "
                    "everyone who reaches it can change or reset the data.",
                    icon=":material/warning:",
                )
            return
        st.caption(f"Signed in as {principal.who} · role: {principal.role}")
        if st.button("Sign out", key="sign_out", type="tertiary"):
            st.logout()


def mode_sentence(principal: Principal) -> str:
    """One sentence for the Data page: who may change the data here."""
    if principal.single_user:
        return (
            "Single-user mode: sign-in is not configured, so everyone who reaches this server "
            "is an admin (shown as local user in the audit log)."
        )
    return (
        f"Signed in as {principal.who} with the {principal.role} role: viewers see the pages, "
        "editors also upload and keep the CSI register and mapping profiles, admins also "
        "replace tables and reset to the demo data."
    )
