"""Who may do what: the roles, the permissions, and the one table between them.

Every route of the console asks for a permission, never for a role: "may acknowledge",
not "is an operator". The table below is the only place a role turns into permissions,
so the role-matrix test can walk it and a reviewer can read the policy in one screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Role(StrEnum):
    """What a person does for the archive (issue 6, "Accounts and roles")."""

    GUARD = "guard"  # the checklist app on a phone: their own inspection tasks
    OPERATOR = "operator"  # the security desk: acknowledge, shelve briefly
    SUPERVISOR = "supervisor"  # maintenance windows, SOPs, rotas, long shelving
    ADMIN = "admin"  # users, sites, configuration
    VIEWER = "viewer"  # read-only, for leadership and auditors (peers.md, D59)


class Permission(StrEnum):
    """One thing a route may ask of its caller."""

    READ = "read"  # rooms, alarms, readings, history
    ACK = "ack"  # acknowledge alarms
    SHELVE_SHORT = "shelve_short"  # shelve up to the short limit (see shelve_permission)
    SHELVE_LONG = "shelve_long"  # shelve up to the alarm service's own limit
    MAINTENANCE = "maintenance"  # open and end maintenance windows
    SOP_EDIT = "sop_edit"  # edit the standard operating procedures
    ROTA_EDIT = "rota_edit"  # edit rotas
    INSPECT = "inspect"  # do checklist tasks and sign them off
    HAZARD_MANAGE = "hazard_manage"  # assign, accept and file hazards (隐患)
    REPORT_SIGN = "report_sign"  # sign the quarterly assessment (季考核)
    USERS = "users"  # accounts and API tokens
    SITES = "sites"  # sites and their rooms
    CONFIG = "config"  # rules, alerting and service settings


_DESK = frozenset({Permission.READ, Permission.ACK, Permission.SHELVE_SHORT})
_SUPERVISION = _DESK | {
    Permission.SHELVE_LONG,
    Permission.MAINTENANCE,
    Permission.SOP_EDIT,
    Permission.ROTA_EDIT,
    Permission.INSPECT,  # monthly sweeps and quarterly assessments are theirs
    Permission.HAZARD_MANAGE,
    Permission.REPORT_SIGN,
}

# The policy. A guard gets the checklist app only: the phone is carried through stack
# rooms and lost more easily than a desk, so it opens no more than the guard's own work.
# An admin can do everything a supervisor can: small archives have few staff, and the
# person who keeps the accounts often stands in at the desk.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.GUARD: frozenset({Permission.INSPECT}),
    Role.OPERATOR: _DESK,
    Role.SUPERVISOR: _SUPERVISION,
    Role.ADMIN: frozenset(Permission),
    Role.VIEWER: frozenset({Permission.READ}),
}

# Shelving beyond this needs shelve_long. ISA-18.2 treats shelving as a short, operator
# action; an hour covers a known nuisance while somebody fixes it, and anything longer
# is a supervisor's decision (the alarm service's own cap, 24 h by default, still holds).
SHORT_SHELVE = timedelta(hours=1)


def shelve_permission(duration: timedelta, short_limit: timedelta = SHORT_SHELVE) -> Permission:
    """The permission a shelve of ``duration`` needs."""
    return Permission.SHELVE_SHORT if duration <= short_limit else Permission.SHELVE_LONG


class Language(StrEnum):
    """The console's languages; a user's choice is kept with their account."""

    ZH_CN = "zh-CN"
    EN = "en"


class Credential(StrEnum):
    """How a request proved who sent it."""

    SESSION = "session"  # a person's browser: the session cookie, plus CSRF on changes
    TOKEN = "token"  # noqa: S105 - a machine: Authorization: Bearer, no cookie, no CSRF


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, as the routes see it: built afresh for each request from the
    account (or token) as it is now, so a changed role or a disabled account counts at once.
    """

    username: str  # a person's login name, or "token:<name>" for an API token
    display_name: str
    role: Role
    # The sites granted. Empty means every site for an admin, and none for anyone else.
    sites: frozenset[str]
    language: Language = Language.ZH_CN
    credential: Credential = Credential.SESSION

    @property
    def all_sites(self) -> bool:
        return self.role is Role.ADMIN and not self.sites

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def sees(self, site: str) -> bool:
        """Whether ``site`` is granted to this principal."""
        return self.all_sites or site in self.sites

    def visible(self, sites: Iterable[str]) -> list[str]:
        """The granted ones of ``sites``, in their order: for lists and site pickers."""
        return [site for site in sites if self.sees(site)]
