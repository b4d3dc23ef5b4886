"""Preservation science for a stack room: the IPI metrics as pure, fast functions.

The metrics of archive-standards.md §4 (dpcalc.org / eClimateNotebook), one module each:

- ``preservation_chemical``: Preservation Index (§4.1) and TWPI (§4.2);
- ``preservation_moisture``: dew point (§4.5) and %EMC with its two ratings (§4.3);
- ``preservation_mold``: days to mold germination and the mold index (§4.4).

dpcalc itself uses lookup tables that cannot be installed here (preservationeval downloads
them) and must not be copied, so every metric is a published closed form or, for mold, our
own fit; each module says how close it comes to the worked values.

Everything is a pure function of (T, RH) or of a small frozen state the rules engine keeps
per room: ``TwpiState.add`` and ``MoldState.add`` take Δt instead of reading a clock, and
``assess`` only reads those states, so the engine decides when time has passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.preservation_chemical import (
    PI_CAP,
    TwpiState,
    pi_rating,
    preservation_index,
    twpi,
    twpi_rating,
)
from rules.preservation_moisture import (
    condensation_margin,
    corrosion_rating,
    dew_point,
    emc,
    mechanical_rating,
)
from rules.preservation_mold import MoldState, mold_days, mold_rating
from rules.preservation_rating import Rating, TwpiRating

__all__ = [
    "PI_CAP",
    "MoldState",
    "Rating",
    "RoomPreservation",
    "TwpiRating",
    "TwpiState",
    "assess",
    "condensation_margin",
    "corrosion_rating",
    "dew_point",
    "emc",
    "mechanical_rating",
    "mold_days",
    "mold_rating",
    "pi_rating",
    "preservation_index",
    "twpi",
    "twpi_rating",
]


@dataclass(frozen=True, slots=True)
class RoomPreservation:
    """A room's preservation metrics at one reading, with dpcalc-style ratings."""

    dew_point: float  # °C
    pi: float  # years, at the current T/RH
    pi_rating: Rating
    twpi: float | None  # years, over the time the engine has accumulated; None before any
    twpi_rating: TwpiRating | None
    emc: float  # %
    mechanical_rating: Rating
    corrosion_rating: Rating
    mold_days: float | None  # days to germination at the current T/RH; None = no risk
    mold_index: float  # 0…1, accumulated; 1 = germination expected
    mold_rating: Rating


def assess(t_c: float, rh: float, twpi_state: TwpiState, mold_state: MoldState) -> RoomPreservation:
    """The snapshot for air at ``t_c`` °C / ``rh`` %, given the room's accumulated states.

    The states are read, not advanced: call ``add`` on them with the reading's Δt first if
    the reading should count.
    """
    pi = preservation_index(t_c, rh)
    twpi_value = twpi_state.value()
    moisture = emc(t_c, rh)
    days = mold_days(t_c, rh)
    return RoomPreservation(
        dew_point=dew_point(t_c, rh),
        pi=pi,
        pi_rating=pi_rating(pi),
        twpi=twpi_value,
        twpi_rating=None if twpi_value is None else twpi_rating(twpi_value),
        emc=moisture,
        mechanical_rating=mechanical_rating(moisture),
        corrosion_rating=corrosion_rating(moisture),
        mold_days=days,
        mold_index=mold_state.index,
        mold_rating=mold_rating(mold_state.index, days),
    )
