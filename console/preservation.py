"""GET /api/rooms/{site}/{room}/preservation: a room's preservation figures over a window.

The rules engine writes a metric sample per room and minute (dew point, PI, EMC, mold
index, T, RH); this reads them back, takes the time-weighted PI (TWPI) over the window
asked for, and rates everything with the same functions the rules alarm on, so the
console and the alarms cannot disagree about what "RISK" means.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from console.auth import AUTH_ERRORS, Principal
from console.context import ConsoleContext
from console.desk_access import DeskAccess
from console.schemas import ErrorOut
from rules.preservation import (
    corrosion_rating,
    mechanical_rating,
    mold_days,
    mold_rating,
    pi_rating,
    twpi,
    twpi_rating,
)
from sensors.duration import parse_duration

# One sample a minute; a gap longer than this (Lantai down) does not stretch the sample
# before it over the whole gap (the same cap the preservation rule uses).
MAX_SAMPLE_SPAN = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=366)


class PreservationOut(BaseModel):
    """A room's preservation figures: latest values, the window's TWPI and the ratings."""

    site: str
    room: str
    window: str = Field(description="the window asked for, e.g. 30d")
    samples: int
    first_at: datetime | None
    last_at: datetime | None
    temperature: float | None
    humidity: float | None
    dew_point: float | None
    pi: float | None = Field(description="Preservation Index at the latest sample, years")
    pi_rating: str | None
    twpi: float | None = Field(description="time-weighted PI over the window, years")
    twpi_rating: str | None
    emc: float | None = Field(description="equilibrium moisture content, %")
    mechanical_rating: str | None
    corrosion_rating: str | None
    mold_index: float | None = Field(description="0…1, accumulated; 1 = germination expected")
    mold_rating: str | None
    temperature_range: tuple[float, float] | None
    humidity_range: tuple[float, float] | None


def add_preservation_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get(
        "/rooms/{site}/{room}/preservation",
        responses={**AUTH_ERRORS, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    def preservation(
        site: str,
        room: str,
        window: Annotated[str, Query(pattern=r"^\d+(\.\d+)?(m|h|d)$")] = "30d",
        who: Principal = access.reader,
    ) -> PreservationOut:
        """A room's preservation figures over ``window`` (TWPI, PI, EMC, mold), rated."""
        access.room(who, site, room)
        span = parse_duration(window)
        if span > LONGEST_WINDOW:
            raise HTTPException(422, "the window is at most 366d")
        samples = ctx.readings.metrics(site, room, ctx.clock.now() - span)
        return summarise(site, room, window, samples)


def summarise(
    site: str, room: str, window: str, samples: list[tuple[datetime, dict[str, float]]]
) -> PreservationOut:
    """The figures for a list of samples, oldest first."""
    if not samples:
        return PreservationOut(
            site=site,
            room=room,
            window=window,
            samples=0,
            first_at=None,
            last_at=None,
            temperature=None,
            humidity=None,
            dew_point=None,
            pi=None,
            pi_rating=None,
            twpi=None,
            twpi_rating=None,
            emc=None,
            mechanical_rating=None,
            corrosion_rating=None,
            mold_index=None,
            mold_rating=None,
            temperature_range=None,
            humidity_range=None,
        )
    weighted = []
    for (at, values), (after, _) in pairwise(samples):
        span = min(after - at, MAX_SAMPLE_SPAN).total_seconds()
        if span > 0 and values.get("pi", 0) > 0:
            weighted.append((values["pi"], span))
    last_at, last = samples[-1]
    window_twpi = twpi(weighted) if weighted else None
    temps = [v["temperature"] for _, v in samples if "temperature" in v]
    hums = [v["humidity"] for _, v in samples if "humidity" in v]
    t, rh = last.get("temperature"), last.get("humidity")
    index = last.get("mold_index")
    return PreservationOut(
        site=site,
        room=room,
        window=window,
        samples=len(samples),
        first_at=samples[0][0],
        last_at=last_at,
        temperature=t,
        humidity=rh,
        dew_point=last.get("dew_point"),
        pi=last.get("pi"),
        pi_rating=pi_rating(last["pi"]).value if "pi" in last else None,
        twpi=None if window_twpi is None else round(window_twpi, 1),
        twpi_rating=None if window_twpi is None else twpi_rating(window_twpi).value,
        emc=last.get("emc"),
        mechanical_rating=mechanical_rating(last["emc"]).value if "emc" in last else None,
        corrosion_rating=corrosion_rating(last["emc"]).value if "emc" in last else None,
        mold_index=index,
        mold_rating=(
            mold_rating(index, mold_days(t, rh)).value
            if index is not None and t is not None and rh is not None
            else None
        ),
        temperature_range=(min(temps), max(temps)) if temps else None,
        humidity_range=(min(hums), max(hums)) if hums else None,
    )
