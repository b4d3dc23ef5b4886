"""Who may do what on the desk's routes: the permission each needs, and the site checks.

Every desk route asks the accounts' gate for a permission (console/auth/roles.py is the
one table of who has which), then checks each site it touches: a site in the path or the
query must be granted to the caller (403), and lists show only granted sites. Unknown
things are 404 before they are 403, as in the inspection routes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import NoReturn

from fastapi import Depends, HTTPException, Request

from alerts.models import Alarm, MaintenanceWindow, Via
from console.auth import (
    Credential,
    Gate,
    Permission,
    Principal,
    require_site,
    shelve_permission,
)
from console.auth.roles import SHORT_SHELVE
from console.context import ConsoleContext
from sensors.duration import format_duration
from sensors.facility import RoomInfo

# Re-asks, for a request already let in, who it is now (None: nobody any more).
Reauthorise = Callable[[], Principal | None]


def not_found(zh: str, en: str) -> NoReturn:
    raise HTTPException(404, f"{zh} / {en}")


def via(who: Principal) -> Via:
    """How an action reached Lantai, for the audit trail: a person's browser session is
    the desk's page (console), a Bearer token another program (api)."""
    return Via.CONSOLE if who.credential is Credential.SESSION else Via.API


class DeskAccess:
    """The dependencies of the desk's routes, and the checks on what they touch."""

    def __init__(self, ctx: ConsoleContext, gate: Gate) -> None:
        self._ctx = ctx
        self._gate = gate
        # Defaults, not ``Annotated[...]``: these are locals, and FastAPI resolves postponed
        # annotations in the module's globals (see console.auth.dependencies).
        self.reader = Depends(gate.require(Permission.READ))
        self.acker = Depends(gate.require(Permission.ACK))
        # Which of the two a shelve needs depends on its length: see may_shelve.
        self.shelver = Depends(gate.require(Permission.SHELVE_SHORT, Permission.SHELVE_LONG))
        self.maintainer = Depends(gate.require(Permission.MAINTENANCE))
        # A procedure is what a guard does at the door as much as what the desk reads.
        self.sop_reader = Depends(gate.require(Permission.READ, Permission.INSPECT))
        self.sop_editor = Depends(gate.require(Permission.SOP_EDIT))
        self.anyone = Depends(gate.current_principal)

    # -- sites, rooms, alarms, windows ---------------------------------------------------

    def site(self, who: Principal, site: str) -> str:
        """``site`` if it exists (404) and is granted to ``who`` (403)."""
        if site not in self._ctx.facility.sites:
            not_found(f"没有馆区 {site!r}", f"unknown site {site!r}")
        require_site(who, site)
        return site

    def sites(self, who: Principal, site: str | None) -> list[str]:
        """The one site asked for (checked), or every site granted to ``who``."""
        if site is not None:
            return [self.site(who, site)]
        return who.visible(self._ctx.facility.sites)

    def room(self, who: Principal, site: str, room: str) -> RoomInfo:
        self.site(who, site)
        found = self._ctx.facility.room(site, room)
        if found is None:
            not_found(f"馆区 {site!r} 没有库房 {room!r}", f"unknown room {room!r} in site {site!r}")
        return found

    def alarm(self, who: Principal, alarm_id: int) -> Alarm:
        found = self._ctx.alarms.get(alarm_id)
        if found is None:
            not_found(f"没有报警 {alarm_id}", f"no alarm {alarm_id}")
        require_site(who, found.site)
        return found

    def window(self, who: Principal, window_id: int) -> MaintenanceWindow:
        for window in self._ctx.alarms.windows(include_ended=True):
            if window.id == window_id:
                require_site(who, window.site)
                return window
        not_found(f"没有维护窗口 {window_id}", f"no maintenance window {window_id}")

    @staticmethod
    def may_shelve(who: Principal, duration: timedelta) -> None:
        """403 unless ``who`` may shelve for ``duration`` (roles.shelve_permission)."""
        needed = shelve_permission(duration)
        if not who.can(needed):
            limit = format_duration(SHORT_SHELVE)
            raise HTTPException(
                403,
                f"{who.role.value} 角色只能搁置 {limit} 以内，更长须主管 ({needed.value}) / "
                f"a {who.role.value} may shelve for up to {limit}; longer needs {needed.value}",
            )

    # -- who is asking, outside the gate's dependencies ------------------------------------

    def reauthorise(self, request: Request) -> Reauthorise:
        """Who sent ``request``, asked again each time the result is called: a session
        ended, an account disabled, a token revoked or a role changed counts at once. For
        the alarm stream, which outlives the check made when it opened, and for routes open
        to strangers that show more to a reader (the health check)."""
        return partial(self._gate.identify, request)
