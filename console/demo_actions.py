"""POST /api/demo/inject: start a simulated incident from the console, in demo mode only.

``make demo`` runs a simulated archive; a newcomer injects a fire (or a leak, a forced
door) from the desk and handles it end to end. The console only asks: the demo wiring
(lantai/demo.py) hands over a ``DemoInjector`` that tells the simulator, whose readings
then go through the real chain (MQTT, rules, alarms) like any others. Without one, the
route is 404: a real console has no way to fake an incident.

Only an admin or a desk operator may inject: the people a demo is for, and nobody who
only reads (a viewer's click must not set off an alarm for everybody else watching).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from console.auth import AUTH_ERRORS, Principal, Role
from console.schemas import ErrorOut, UtcTime

if TYPE_CHECKING:  # annotations only: console.context imports this module
    from console.context import ConsoleContext
    from console.desk_access import DeskAccess


class DemoScenario(StrEnum):
    """What a demo can stage (the simulator's scenario names)."""

    FIRE = "fire"  # every smoke detector of the room alarms; heat rises
    LEAK = "leak"  # the room's leak detectors report water
    DOOR_FORCED = "door-forced"  # the room's door reports open and forced
    CLEAR = "clear"  # every staged incident ends (no room)


class DemoInjector(Protocol):
    """Stages an incident in the simulated archive (lantai/demo.py implements it)."""

    def inject(self, scenario: DemoScenario, site: str, room: str | None) -> None:
        """Start ``scenario`` in ``site``/``room`` (no room for clear); ValueError when the
        simulator cannot stage it there (say, a leak in a room without a leak detector)."""
        ...


# Who may stage an incident. A role, not a permission: roles.py has no demo permission,
# and the demo is the only place this question is asked (see the module docstring).
DEMO_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})


class DemoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: DemoScenario
    room: str | None = Field(default=None, description="required except for clear")
    site: str | None = Field(
        default=None, description="default: the caller's only site (422 if they have several)"
    )


class DemoOut(BaseModel):
    """What was staged; its alarms arrive on the alarm stream like any others."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scenario: DemoScenario
    site: str
    room: str | None
    at: UtcTime


_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **{code: {"model": ErrorOut} for code in (404, 422)},
}


def add_demo_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.post("/demo/inject", status_code=202, responses=_ERRORS)
    def inject(body: DemoIn, who: Principal = access.anyone) -> DemoOut:
        """Demo mode only: stage a fire, a leak or a forced door in a room of the simulated
        archive, or end them all (clear). 404 on a real console."""
        if who.role not in DEMO_ROLES:
            raise HTTPException(
                403,
                f"{who.role.value} 角色不能模拟事件（仅管理员和值班员）/ "
                f"a {who.role.value} may not stage incidents (admins and desk operators only)",
            )
        if ctx.demo is None:
            raise HTTPException(404, "不是演示模式 / not in demo mode")
        site, room = _place(ctx, access, who, body)
        try:
            ctx.demo.inject(body.scenario, site, room)
        except ValueError as exc:
            raise HTTPException(422, f"无法模拟 / cannot stage it: {exc}") from exc
        return DemoOut(scenario=body.scenario, site=site, room=room, at=ctx.clock.now())


def _place(
    ctx: ConsoleContext, access: DeskAccess, who: Principal, body: DemoIn
) -> tuple[str, str | None]:
    """The (site, room) the incident is staged in, checked against the caller's sites."""
    if body.site is not None:
        site = access.site(who, body.site)
    else:
        visible = who.visible(ctx.facility.sites)
        if len(visible) != 1:
            raise HTTPException(422, "请指定馆区 / name the site")
        site = visible[0]
    if body.scenario is DemoScenario.CLEAR:
        return site, None
    if body.room is None:
        raise HTTPException(422, "请指定库房 / name the room")
    access.room(who, site, body.room)
    return site, body.room
