"""Preservation metrics against the worked values of archive-standards.md §4."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.preservation import (
    PI_CAP,
    MoldState,
    Rating,
    TwpiRating,
    TwpiState,
    assess,
    condensation_margin,
    corrosion_rating,
    dew_point,
    emc,
    mechanical_rating,
    mold_days,
    mold_rating,
    pi_rating,
    preservation_index,
    twpi,
    twpi_rating,
)

DAY = 86_400.0
temperatures = st.floats(min_value=-30.0, max_value=70.0)
humidities = st.floats(min_value=0.0, max_value=100.0)


# §4.5 dew point -----------------------------------------------------------------------


@pytest.mark.parametrize(("t", "rh", "expected"), [(20, 50, 9.26), (24, 60, 15.76), (14, 45, 2.25)])
def test_dew_point_matches_magnus_worked_values(t: float, rh: float, expected: float) -> None:
    assert dew_point(t, rh) == pytest.approx(expected, abs=0.05)


def test_condensation_margin_is_surface_minus_dew_point() -> None:
    assert condensation_margin(20, 50, 9.26) == pytest.approx(0.0, abs=0.05)
    assert condensation_margin(20, 50, 15.0) == pytest.approx(15.0 - 9.26, abs=0.05)
    assert condensation_margin(24, 60, 12.0) < 0  # a cold pipe in a JGJ-upper room sweats


def test_saturated_air_has_its_own_temperature_as_dew_point() -> None:
    assert dew_point(20, 100) == pytest.approx(20.0)
    assert dew_point(20, 130) == pytest.approx(20.0)  # a sensor over 100 % is clamped
    assert math.isfinite(dew_point(20, 0))  # a dead sensor reading 0 % does not crash


@given(temperatures.filter(lambda t: t > -40), humidities)
def test_dew_point_never_exceeds_air_temperature(t: float, rh: float) -> None:
    assert dew_point(t, rh) <= t + 1e-9


# §4.1 Preservation Index --------------------------------------------------------------

PI_TABLE = [
    (20, 50, 44),
    (20, 45, 50),
    (14, 45, 108),
    (24, 60, 21),
    (10, 50, 158),
    # preservationeval's validated cases
    (20, 70, 26),
    (23.5, 52.5, 25),
    (14, 30.5, 161),
]


@pytest.mark.parametrize(("t", "rh", "expected"), PI_TABLE)
def test_pi_within_ten_percent_of_dpcalc_table(t: float, rh: float, expected: float) -> None:
    assert preservation_index(t, rh) == pytest.approx(expected, rel=0.10)


def test_pi_clamps_to_the_dpcalc_domain_and_caps() -> None:
    assert preservation_index(-40, 50) == preservation_index(-23, 50)
    assert preservation_index(80, 50) == preservation_index(65, 50)
    assert preservation_index(20, 0) == preservation_index(20, 6)
    assert preservation_index(20, 100) == preservation_index(20, 95)
    assert preservation_index(-23, 6) == PI_CAP


@pytest.mark.parametrize(
    ("pi", "rating"),
    [
        (9999, Rating.GOOD),
        (75, Rating.GOOD),
        (74.99, Rating.OK),
        (45, Rating.OK),
        (44.99, Rating.RISK),
        (1, Rating.RISK),
    ],
)
def test_pi_rating_boundaries(pi: float, rating: Rating) -> None:
    assert pi_rating(pi) is rating


@given(temperatures, temperatures, humidities)
def test_pi_falls_as_it_gets_warmer(t1: float, t2: float, rh: float) -> None:
    cool, warm = sorted((t1, t2))
    assert preservation_index(cool, rh) >= preservation_index(warm, rh)


@given(temperatures, humidities, humidities)
def test_pi_falls_as_it_gets_damper(t: float, rh1: float, rh2: float) -> None:
    dry, damp = sorted((rh1, rh2))
    assert preservation_index(t, dry) >= preservation_index(t, damp)


# §4.2 TWPI ----------------------------------------------------------------------------


def test_twpi_is_the_harmonic_mean_of_the_worked_example() -> None:
    assert twpi([(44, 3600), (24, 3600)]) == pytest.approx(31.06, abs=0.005)


def test_twpi_weighs_by_time() -> None:
    assert twpi([(44, 3 * DAY), (24, DAY)]) == pytest.approx(4 / (3 / 44 + 1 / 24))


def test_twpi_of_no_time_is_none() -> None:
    assert twpi([]) is None
    assert TwpiState().value() is None
    assert twpi([(44, 0)]) is None


def test_twpi_ignores_non_positive_time_and_rejects_non_positive_pi() -> None:
    state = TwpiState().add(44, 60)
    assert state.add(10, 0) is state
    assert state.add(10, -60) is state
    with pytest.raises(ValueError, match="PI must be positive"):
        state.add(0, 60)


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.1, max_value=PI_CAP),
            st.floats(min_value=0.001, max_value=30 * DAY),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_incremental_twpi_equals_batch(samples: list[tuple[float, float]]) -> None:
    state = TwpiState()
    for pi, dt in samples:
        state = state.add(pi, dt)
    batch = math.fsum(dt for _, dt in samples) / math.fsum(dt / pi for pi, dt in samples)
    assert state.value() == pytest.approx(batch, rel=1e-9)
    assert twpi(samples) == pytest.approx(batch, rel=1e-9)


@pytest.mark.parametrize(
    ("value", "rating"),
    [
        (1, TwpiRating.POOR),
        (44.99, TwpiRating.POOR),
        (45, TwpiRating.OK),
        (74.99, TwpiRating.OK),
        (75, TwpiRating.GOOD),
        (100, TwpiRating.GOOD),
        (100.01, TwpiRating.EXCELLENT),
    ],
)
def test_twpi_rating_bands(value: float, rating: TwpiRating) -> None:
    assert twpi_rating(value) is rating


# §4.3 EMC -----------------------------------------------------------------------------

EMC_TABLE = [
    (20, 50, 9.3),
    (20, 30, 6.2),
    (20, 25, 5.4),
    (20, 20, 4.5),
    (20, 60, 11.0),
    (24, 60, 10.9),
    (20, 68, 12.7),
    (20, 70, 13.1),
]


@pytest.mark.parametrize(("t", "rh", "expected"), EMC_TABLE)
def test_emc_matches_dpcalc_table(t: float, rh: float, expected: float) -> None:
    assert emc(t, rh) == pytest.approx(expected, rel=0.10)  # the bound
    assert emc(t, rh) == pytest.approx(expected, rel=0.005)  # what the module claims


@pytest.mark.parametrize(
    ("t", "rh", "mechanical", "corrosion"),
    [
        (20, 20, Rating.RISK, Rating.GOOD),  # too dry
        (20, 30, Rating.OK, Rating.GOOD),
        (20, 50, Rating.OK, Rating.OK),
        (20, 60, Rating.OK, Rating.RISK),
        (24, 60, Rating.OK, Rating.RISK),  # the JGJ upper limit already corrodes (§4.3)
        (20, 68, Rating.RISK, Rating.RISK),  # too damp
    ],
)
def test_emc_ratings_of_the_table_rows(
    t: float, rh: float, mechanical: Rating, corrosion: Rating
) -> None:
    moisture = emc(t, rh)
    assert mechanical_rating(moisture) is mechanical
    assert corrosion_rating(moisture) is corrosion


@pytest.mark.parametrize(
    ("value", "rating"),
    [(4.99, Rating.RISK), (5.0, Rating.OK), (12.5, Rating.OK), (12.51, Rating.RISK)],
)
def test_mechanical_rating_boundaries(value: float, rating: Rating) -> None:
    assert mechanical_rating(value) is rating


@pytest.mark.parametrize(
    ("value", "rating"),
    [(6.99, Rating.GOOD), (7.0, Rating.OK), (10.49, Rating.OK), (10.5, Rating.RISK)],
)
def test_corrosion_rating_boundaries(value: float, rating: Rating) -> None:
    assert corrosion_rating(value) is rating


@given(temperatures, humidities, humidities)
def test_emc_rises_with_humidity(t: float, rh1: float, rh2: float) -> None:
    dry, damp = sorted((rh1, rh2))
    assert emc(t, dry) <= emc(t, damp)


# §4.4 mold ----------------------------------------------------------------------------

MOLD_TABLE = [
    (20, 70, 165),
    (20, 75, 38),
    (20, 80, 14),
    (20, 85, 6),
    (20, 90, 4),
    (20, 95, 3),
    (25, 70, 156),
    (30, 90, 4),
    (15, 80, 15),
    (27.5, 74, 46),
    (32.5, 80, 13),
]


@pytest.mark.parametrize(("t", "rh", "expected"), MOLD_TABLE)
def test_mold_fit_within_its_documented_error(t: float, rh: float, expected: float) -> None:
    assert mold_days(t, rh) == pytest.approx(expected, rel=0.075)


@pytest.mark.parametrize(("t", "rh"), [(20, 64.9), (20, 50), (1.9, 90), (45.1, 90)])
def test_no_mold_risk_outside_dpcalc_conditions(t: float, rh: float) -> None:
    assert mold_days(t, rh) is None


@pytest.mark.parametrize(("t", "rh"), [(20, 65), (2, 90), (45, 90), (20, 100)])
def test_mold_risk_at_the_edges_of_the_conditions(t: float, rh: float) -> None:
    days = mold_days(t, rh)
    assert days is not None
    assert days > 0


@given(st.floats(min_value=2, max_value=45), humidities, humidities)
def test_mold_comes_sooner_in_damper_air(t: float, rh1: float, rh2: float) -> None:
    dry, damp = sorted((max(rh1, 65), max(rh2, 65)))
    slow, fast = mold_days(t, dry), mold_days(t, damp)
    assert slow is not None
    assert fast is not None
    assert fast <= slow


def test_a_day_at_20_75_adds_a_day_over_days_to_germination() -> None:
    state = MoldState().add(20, 75, DAY)
    days = mold_days(20, 75)
    assert days is not None
    assert state.index == pytest.approx(1 / days)
    assert state.index == pytest.approx(1 / 38, rel=0.075)


def test_mold_index_accumulates_in_steps_and_stops_at_one() -> None:
    hourly = MoldState()
    for _ in range(24):
        hourly = hourly.add(20, 75, 3600)
    assert hourly.index == pytest.approx(MoldState().add(20, 75, DAY).index)
    assert MoldState().add(20, 95, 30 * DAY).index == 1.0


def test_mold_index_decays_in_dry_air_and_holds_in_the_cold() -> None:
    damp = MoldState(0.5)
    assert damp.add(20, 50, DAY).index == pytest.approx(0.5 - 1 / 30)
    assert damp.add(20, 50, 15 * DAY).index == 0.0
    assert damp.add(1, 90, DAY) is damp  # too cold to grow, too damp to dry out
    assert MoldState().add(20, 50, DAY) == MoldState()


def test_mold_state_ignores_non_positive_time() -> None:
    state = MoldState(0.25)
    assert state.add(20, 90, 0) is state
    assert state.add(20, 90, -60) is state


@pytest.mark.parametrize(
    ("index", "days", "rating"),
    [(0.0, None, Rating.GOOD), (0.01, None, Rating.RISK), (0.0, 165.0, Rating.RISK)],
)
def test_mold_rating(index: float, days: float | None, rating: Rating) -> None:
    assert mold_rating(index, days) is rating


# §4 applied to rooms (JGJ 25-2010 limits, §1.1) ---------------------------------------


def test_room_at_the_jgj_upper_limit() -> None:
    room = assess(24, 60, TwpiState(), MoldState())
    assert room.pi == pytest.approx(21, rel=0.10)
    assert room.pi_rating is Rating.RISK
    assert room.corrosion_rating is Rating.RISK
    assert room.mechanical_rating is Rating.OK
    assert room.mold_days is None
    assert room.mold_rating is Rating.GOOD
    assert room.dew_point == pytest.approx(15.76, abs=0.05)


def test_paper_stack_at_18_50_rates_pi_ok() -> None:
    room = assess(18, 50, TwpiState(), MoldState())
    assert room.pi_rating is Rating.OK
    assert room.corrosion_rating is Rating.OK


def test_assess_reads_the_accumulated_states() -> None:
    room = assess(20, 50, TwpiState(), MoldState())
    assert room.twpi is None
    assert room.twpi_rating is None
    assert room.mold_index == 0.0

    history = TwpiState().add(44, DAY).add(24, DAY)
    damp = MoldState().add(20, 80, DAY)
    room = assess(20, 50, history, damp)
    assert room.twpi == pytest.approx(31.06, abs=0.005)
    assert room.twpi_rating is TwpiRating.POOR
    assert room.mold_index == damp.index
    assert room.mold_rating is Rating.RISK  # dry now, but the damp day is not forgotten
