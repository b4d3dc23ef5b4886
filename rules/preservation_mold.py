"""Mold risk: days to germination at constant conditions, and an index for changing ones.

dpcalc.org reads the days from a table (archive-standards.md §4.4) that we may not copy and
whose closed form is not published, so ``mold_days`` is our own fit to the published dpcalc
values listed in §4.4 (fitted once with a throwaway Nelder–Mead script minimising the sum of
the 8th powers of the log errors, i.e. close to minimax relative error; coefficients then
rounded and the errors below recomputed):

    days = (C + A · ((RH − 55) / 10) ** −P) · exp(B · (T − 20))
    C = 2.02 days, A = 1400 days, P = 5.24, B = −0.0064 per °C

C is the floor near saturation (2–3 days at 95–100 % RH); the power term is the steep rise
towards drier air; B is the weak temperature effect the table shows (165 → 156 days from
20 to 25 °C at 70 %). Error against every published dpcalc value (fit / table):

    T/RH     table   fit      error       T/RH      table   fit      error
    20/70    165     169.3    +2.6 %      25/70     156     164.0    +5.1 %
    20/75    38      39.1     +2.8 %      30/90     4       3.75     −6.4 %
    20/80    14      13.5     −3.4 %      15/80     15      14.0     −6.9 %
    20/85    6       6.45     +7.4 %      27.5/74   46      48.1     +4.6 %
    20/90    4       3.99     −0.2 %      32.5/80   13      12.5     −4.0 %
    20/95    3       3.00     +0.0 %

So within 7.5 % everywhere it was checked. Where it is worse, or unknown:
- dpcalc's table gives "no risk" at 20 °C up to 68 % RH; the fit gives 1400 days at 65 %
  falling to 356 at 68 %. That errs on the safe side: a slow index, not silence.
- Temperature is only pinned between 15 and 32.5 °C. Outside (2–15 and 32.5–45 °C) the fit
  extrapolates its weak slope. Germination is generally slower in the cold, so below 15 °C
  it probably predicts germination too early (again the safe side).
- dpcalc rounds T and RH to integers before its lookup; the fit is smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rules.preservation_rating import Rating

# dpcalc's no-risk rule (§4.4): no germination above 45 °C, below 2 °C or below 65 % RH.
MOLD_T_MIN = 2.0
MOLD_T_MAX = 45.0
MOLD_RH_MIN = 65.0

# The fit (module docstring).
_FLOOR_DAYS = 2.02
_SCALE_DAYS = 1400.0
_RH_ORIGIN = 55.0
_RH_STEP = 10.0
_POWER = 5.24
_T_SLOPE = -0.0064
_T_REF = 20.0

_SECONDS_PER_DAY = 86_400.0

# Index reset: IPI's own rule is UNVERIFIED (§4.4), so this is a design choice. While the air
# is drier than 65 % RH the index falls linearly and a full index (1.0) is back at 0 after
# 30 days. Linear, not a reset to 0, so a dry afternoon does not erase a week of damp
# nights; 30 days so one dry day undoes about five days at 20 °C / 70 % but only a few hours
# at 90 %. Too cold or too hot at high RH holds the index: spores wait, they do not die.
DRY_CLEAR_DAYS = 30.0
# Reaching 1.0 means germination is expected; the index stops there, so it reads as "the
# share of the germination time used up" and drying clears it in bounded time.
MOLD_INDEX_MAX = 1.0


def mold_days(t_c: float, rh: float) -> float | None:
    """Days to mold germination at constant ``t_c`` °C / ``rh`` %; None means no risk (§4.4)."""
    if t_c < MOLD_T_MIN or t_c > MOLD_T_MAX or rh < MOLD_RH_MIN:
        return None
    u = (min(rh, 100.0) - _RH_ORIGIN) / _RH_STEP
    return (_FLOOR_DAYS + _SCALE_DAYS * math.pow(u, -_POWER)) * math.exp(_T_SLOPE * (t_c - _T_REF))


@dataclass(frozen=True, slots=True)
class MoldState:
    """Share of the germination time used up under changing conditions (§4.4, last bullet).

    Each reading adds Δt / (days to germination · 24 h), as ConSciR calcMould.R sums
    1 / (days · 24 · 3600 / Δt); 1.0 means germination is expected.
    """

    index: float = 0.0

    def add(self, t_c: float, rh: float, dt_seconds: float) -> MoldState:
        """The state after ``dt_seconds`` at ``t_c`` / ``rh``; the same object if unchanged.

        A non-positive Δt (a repeated or out-of-order reading) adds nothing.
        """
        if dt_seconds <= 0:
            return self
        days = mold_days(t_c, rh)
        if days is not None:
            index = min(self.index + dt_seconds / (days * _SECONDS_PER_DAY), MOLD_INDEX_MAX)
        elif rh < MOLD_RH_MIN:
            index = max(self.index - dt_seconds / (DRY_CLEAR_DAYS * _SECONDS_PER_DAY), 0.0)
        else:
            return self
        if index == self.index:
            return self
        return MoldState(index)


def mold_rating(index: float, days: float | None) -> Rating:
    """RISK while the air lets mold grow or the index has not decayed back; else GOOD.

    dpcalc rates constant conditions (days > 0 → RISK, §4.4); the index adds the memory of
    damp spells that have just ended, so a room that dried an hour ago is not yet GOOD.
    """
    if index > 0 or days is not None:
        return Rating.RISK
    return Rating.GOOD
