"""Water in the air and in the objects: dew point (condensation) and %EMC.

Dew point tells when a cold wall, pipe or shelf gets wet (archive-standards.md §4.5). %EMC,
the equilibrium moisture content of wood-like material, drives the mechanical-damage and
metal-corrosion ratings of dpcalc.org (§4.3).
"""

from __future__ import annotations

import math

from rules.preservation_rating import Rating

# Magnus (August–Roche–Magnus) constants of §4.5 (ConSciR calcDP.R, from bmcnoldy): valid
# for 0 < T < 60 °C and 1 < RH < 100 %. dpcalc's own formula reads up to 0.09 °C lower on the
# worked values of §4.5; Magnus is the one with a published validity range.
_MAGNUS_A = 17.625
_MAGNUS_B_C = 243.04
# RH is clamped into Magnus's range: 0 % (a dead or dry-air sensor) has no logarithm, and
# above 100 % the dew point would exceed the air temperature.
_DEW_RH_MIN, _DEW_RH_MAX = 1.0, 100.0

# %EMC: dpcalc uses a table whose closed form is UNVERIFIED (§4.3), so this is the
# Hailwood–Horrobin form for wood of Simpson (FPL-RN-0268) as in ConSciR calcEMC_wood.R,
# with the coefficients of §4.3. It lands within 0.4 % of every dpcalc value listed there
# (e.g. 20/50 → 9.27 against 9.3, 20/68 → 12.66 against 12.7), well inside the 10 % asked.
# T is clamped to dpcalc's table domain (−20…65 °C), RH to 0…100 %.
_EMC_T_MIN, _EMC_T_MAX = -20.0, 65.0
_EMC_RH_MIN, _EMC_RH_MAX = 0.0, 100.0

# Thresholds (§4.3, preservationeval eval_functions.py, from dpcalc).
MECHANICAL_OK_MIN = 5.0  # EMC below this: too dry, RISK
MECHANICAL_OK_MAX = 12.5  # above this: too damp, RISK
CORROSION_OK_FROM = 7.0  # below: GOOD
CORROSION_RISK_FROM = 10.5  # from here: RISK; 60 % RH at 20–24 °C already gets here (§4.3)


def dew_point(t_c: float, rh: float) -> float:
    """Dew point in °C of air at ``t_c`` °C and ``rh`` % (Magnus, §4.5)."""
    h = min(max(rh, _DEW_RH_MIN), _DEW_RH_MAX)
    gamma = math.log(h / 100.0) + _MAGNUS_A * t_c / (_MAGNUS_B_C + t_c)
    return _MAGNUS_B_C * gamma / (_MAGNUS_A - gamma)


def condensation_margin(air_t: float, air_rh: float, surface_t: float) -> float:
    """How far a surface is above the air's dew point, in K; ≤ 0 means it is wetting (§4.5)."""
    return surface_t - dew_point(air_t, air_rh)


def emc(t_c: float, rh: float) -> float:
    """Equilibrium moisture content of wood in % at ``t_c`` °C and ``rh`` % (§4.3)."""
    t = min(max(t_c, _EMC_T_MIN), _EMC_T_MAX)
    h = min(max(rh, _EMC_RH_MIN), _EMC_RH_MAX) / 100.0
    w = 349.0 + 1.29 * t + 0.0135 * t * t
    k = 0.805 + 0.000736 * t - 2.73e-6 * t * t
    k1 = 6.27 - 0.00938 * t - 0.000303 * t * t
    k2 = 1.91 + 0.0407 * t - 0.000293 * t * t
    kh = k * h
    # Hailwood–Horrobin: a hydrate term (single layer) plus a dissolved-water term.
    dissolved = kh / (1.0 - kh)
    hydrate = (k1 * kh + 2.0 * k1 * k2 * kh * kh) / (1.0 + k1 * kh + k1 * k2 * kh * kh)
    return 1800.0 / w * (dissolved + hydrate)


def mechanical_rating(emc_percent: float) -> Rating:
    """OK for 5 ≤ EMC ≤ 12.5, RISK outside: too dry cracks, too damp swells (§4.3)."""
    if MECHANICAL_OK_MIN <= emc_percent <= MECHANICAL_OK_MAX:
        return Rating.OK
    return Rating.RISK


def corrosion_rating(emc_percent: float) -> Rating:
    """GOOD below 7.0, OK below 10.5, RISK from 10.5 (§4.3)."""
    if emc_percent < CORROSION_OK_FROM:
        return Rating.GOOD
    if emc_percent < CORROSION_RISK_FROM:
        return Rating.OK
    return Rating.RISK
