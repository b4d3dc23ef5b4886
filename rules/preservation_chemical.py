"""Chemical decay: the Preservation Index (PI) and its time-weighted form (TWPI).

PI is the expected years until noticeable decay of a sensitive organic material at constant
T and RH (archive-standards.md §4.1). dpcalc.org looks it up in a table we may not copy, so
this uses Padfield's 2004 closed-form fit to that table, which stays within 10 % of the
published table values (worst: (23.5, 52.5) at +8.9 %, because dpcalc rounds its inputs to
whole degrees and percent before the lookup and the fit does not).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rules.preservation_rating import Rating, TwpiRating

# Padfield 2004 fit to the IPI table (§4.1, form 2, via ConSciR calcIPI.R):
#   PI = exp((E − 134.9·RH) / (R·(T + 273.15)) + 0.0284·RH − 28.023) / 365
_E_J_PER_MOL = 95_220.0
_RH_ENERGY = 134.9  # J/mol per % RH
_R_J_PER_MOL_K = 8.314
_RH_TERM = 0.0284
_OFFSET = 28.023
_KELVIN = 273.15
_DAYS_PER_YEAR = 365.0

# The dpcalc table's domain: T is clamped to −23…65 °C and RH to 6…95 % before the lookup,
# and a cell of 9999 means "9999 or more" (§4.1, form 3). Clamping keeps the fit from
# reporting millions of years for a freezer reading, and keeps us comparable to dpcalc.
PI_T_MIN, PI_T_MAX = -23.0, 65.0
PI_RH_MIN, PI_RH_MAX = 6.0, 95.0
PI_CAP = 9999.0

# Rating (§4.1, preservationeval rate_natural_aging): ≥ 75 GOOD, 45–75 OK, < 45 RISK.
PI_GOOD_FROM = 75.0
PI_OK_FROM = 45.0

# TWPI bands (§4.1): 1–45 poor, 45–75 OK, 75–100 good, > 100 excellent.
TWPI_OK_FROM = 45.0
TWPI_GOOD_FROM = 75.0
TWPI_EXCELLENT_ABOVE = 100.0


def preservation_index(t_c: float, rh: float) -> float:
    """PI in years at constant ``t_c`` °C and ``rh`` % (Padfield fit, dpcalc domain and cap)."""
    t = min(max(t_c, PI_T_MIN), PI_T_MAX)
    h = min(max(rh, PI_RH_MIN), PI_RH_MAX)
    exponent = (_E_J_PER_MOL - _RH_ENERGY * h) / (_R_J_PER_MOL_K * (t + _KELVIN))
    pi = math.exp(exponent + _RH_TERM * h - _OFFSET) / _DAYS_PER_YEAR
    return min(pi, PI_CAP)


def pi_rating(pi: float) -> Rating:
    """GOOD from 75 years, OK from 45, RISK below (§4.1)."""
    if pi >= PI_GOOD_FROM:
        return Rating.GOOD
    if pi >= PI_OK_FROM:
        return Rating.OK
    return Rating.RISK


@dataclass(frozen=True, slots=True)
class TwpiState:
    """Running sums for TWPI = Σ Δt / Σ (Δt / PI) (§4.2), kept per room instead of history.

    TWPI is a harmonic, not arithmetic, mean because what adds up over time is the decay
    *rate* 1/PI (§4.2: half the time at 44 and half at 24 is 31.06, not 34).
    """

    weighted_time: float = 0.0  # Σ Δt, seconds
    weighted_inverse: float = 0.0  # Σ Δt / PI, seconds per year of PI

    def add(self, pi: float, dt_seconds: float) -> TwpiState:
        """The state after ``dt_seconds`` spent at ``pi``; a non-positive Δt adds nothing.

        Δt ≤ 0 means a repeated or out-of-order reading, which has no time to weigh; the
        same state object comes back so the engine can tell nothing changed.
        """
        if dt_seconds <= 0:
            return self
        if pi <= 0:
            raise ValueError(f"PI must be positive, got {pi}")
        return TwpiState(self.weighted_time + dt_seconds, self.weighted_inverse + dt_seconds / pi)

    def value(self) -> float | None:
        """The TWPI in years, or None before any time has been added."""
        if self.weighted_inverse <= 0:
            return None
        return self.weighted_time / self.weighted_inverse


def twpi(samples: Iterable[tuple[float, float]]) -> float | None:
    """TWPI over (PI, Δt seconds) pairs; None when they hold no time."""
    state = TwpiState()
    for pi, dt_seconds in samples:
        state = state.add(pi, dt_seconds)
    return state.value()


def twpi_rating(value: float) -> TwpiRating:
    """poor below 45, OK to 75, good to 100, excellent above 100 (§4.1 TWPI bands)."""
    if value > TWPI_EXCELLENT_ABOVE:
        return TwpiRating.EXCELLENT
    if value >= TWPI_GOOD_FROM:
        return TwpiRating.GOOD
    if value >= TWPI_OK_FROM:
        return TwpiRating.OK
    return TwpiRating.POOR
