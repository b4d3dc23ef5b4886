"""Config loading: every refused file names file, line, field and reason.

After Alertmanager's config tests: one small invalid file per case under
``tests/testdata/invalid/``, and the expected problems written out here by hand, not
derived from the code under test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lantai.settings import LantaiSettings, load_settings
from sensors.duration import format_duration, parse_duration
from sensors.facility import (
    DEFAULT_INTERVALS,
    Facility,
    FacilityConfig,
    SensorKind,
    load_facility,
)
from sensors.room_classes import builtin_room_classes
from sensors.yamlconfig import ConfigError, ConfigProblem, load_yaml_model, parse_yaml_model

ROOT = Path(__file__).resolve().parent.parent
INVALID = Path(__file__).resolve().parent / "testdata" / "invalid"
EXAMPLE_SITE = ROOT / "sensors" / "example-site.yaml"
EXAMPLE_SETTINGS = ROOT / "lantai" / "example-settings.yaml"

ROOM = "sites.0.buildings.0.floors.0.rooms"
ID_RULE = "String should match pattern '^[A-Za-z0-9_-]{1,64}$'"
EXTRA = "Extra inputs are not permitted"
KNOWN_CLASSES = "(known: av_tape, film_copy, film_master, optical_disc, paper, special)"
KINDS = "Input should be 'climate', 'smoke', 'heat', 'door', 'water_leak', 'light', 'dust' or 'gas'"


@dataclass(frozen=True)
class Expected:
    """One problem a file must produce: its line, its dotted field path, part of the message."""

    line: int | None
    field: str
    fragment: str


@dataclass(frozen=True)
class Case:
    """An invalid file and every problem it must produce; ``bug`` marks a known product bug."""

    name: str
    problems: tuple[Expected, ...]
    bug: pytest.MarkDecorator | None = None


def _case(name: str, *problems: Expected, bug: pytest.MarkDecorator | None = None) -> Case:
    return Case(name, problems, bug)


def _params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(
            case.name,
            list(case.problems),
            id=case.name.removesuffix(".yaml"),
            marks=[case.bug] if case.bug else [],
        )
        for case in cases
    ]


FACILITY_CASES = [
    _case("unknown_top_level_key.yaml", Expected(14, "alerting", EXTRA)),
    _case(
        "unknown_room_key.yaml",
        Expected(11, f"{ROOM}.0.class", "Field required"),
        Expected(13, f"{ROOM}.0.clas", f"{EXTRA} (got 'paper')"),
    ),
    _case(
        "unknown_room_class.yaml",
        Expected(16, f"{ROOM}.1.class", f"unknown room class 'vault' {KNOWN_CLASSES}"),
    ),
    _case(
        "duplicate_sensor_id.yaml",
        Expected(21, f"{ROOM}.1.sensors.1.id", "duplicate sensor id 'th1' in site 's1'"),
    ),
    _case(
        "duplicate_room_id.yaml",
        Expected(17, "sites.0.buildings.0.floors.1.rooms.0.id", "duplicate room id 'R1'"),
    ),
    _case("duplicate_site_id.yaml", Expected(12, "sites.1.id", "duplicate site id 's1'")),
    _case("duplicate_yaml_key.yaml", Expected(14, f"{ROOM}.0.class", "duplicate key")),
    _case("bad_id_characters.yaml", Expected(11, f"{ROOM}.0.id", f"{ID_RULE} (got 'B2/01')")),
    _case("id_too_long.yaml", Expected(17, f"{ROOM}.0.sensors.1.id", ID_RULE)),
    _case(
        "limits_min_not_below_max.yaml",
        Expected(16, f"{ROOM}.0.limits.temperature", "min (24.0) must be below max (14.0)"),
    ),
    _case(
        "unknown_timezone.yaml",
        Expected(4, "sites.0.timezone", "unknown time zone 'Asia/Beijing'"),
    ),
    _case(
        "unknown_sensor_kind.yaml",
        Expected(16, f"{ROOM}.0.sensors.1.kind", f"{KINDS} (got 'humidity')"),
    ),
    _case(
        "bad_duration.yaml",
        Expected(17, f"{ROOM}.0.sensors.0.interval", "not a duration: 'soon'"),
    ),
    _case("empty.yaml", Expected(1, "", "the file is empty")),
    _case("only_comments.yaml", Expected(1, "", "the file is empty")),
    _case(
        "invalid_yaml.yaml",
        Expected(4, "", "not valid YAML: found character '\\t' that cannot start any token"),
    ),
    _case("unclosed_flow_mapping.yaml", Expected(4, "", "not valid YAML")),
    _case(
        "site_without_buildings.yaml",
        Expected(4, "sites.0.buildings", "List should have at least 1 item"),
    ),
    _case("site_missing_buildings.yaml", Expected(3, "sites.0.buildings", "Field required")),
    _case("no_sites.yaml", Expected(1, "sites", "List should have at least 1 item")),
    _case(
        "unknown_key_in_custom_class.yaml",
        Expected(7, "room_classes.vault.limits.temprature_swing", EXTRA),
    ),
    _case(
        "several_problems.yaml",
        Expected(4, "sites.0.timezone", "unknown time zone 'Europe/Atlantis'"),
        Expected(16, f"{ROOM}.0.limits.humidity", "min (60.0) must be below max (45.0)"),
        Expected(18, f"{ROOM}.0.sensors.0.interval", "not a duration: 'soon'"),
        Expected(19, f"{ROOM}.0.sensors.1.id", f"{ID_RULE} (got 'smoke 1')"),
    ),
    _case(
        "several_cross_check_problems.yaml",
        Expected(13, f"{ROOM}.0.class", f"unknown room class 'papr' {KNOWN_CLASSES}"),
        Expected(16, f"{ROOM}.1.id", "duplicate room id 'R1'"),
        Expected(20, f"{ROOM}.1.sensors.0.id", "duplicate sensor id 'th1' in site 's1'"),
    ),
    _case(
        "zero_interval.yaml",
        Expected(17, f"{ROOM}.0.sensors.0.interval", ""),
    ),
    _case(
        "infinite_interval.yaml",
        Expected(17, f"{ROOM}.0.sensors.0.interval", "duration"),
    ),
    _case(
        "huge_interval.yaml",
        Expected(17, f"{ROOM}.0.sensors.0.interval", "duration"),
    ),
]

SETTINGS_CASES = [
    _case("unknown_key.yaml", Expected(4, "mqtt.pasword", f"{EXTRA} (got 'hunter2')")),
    _case("unknown_top_level_key.yaml", Expected(2, "database", EXTRA)),
    _case(
        "bad_mqtt_port.yaml",
        Expected(4, "mqtt.port", "Input should be less than or equal to 65535 (got 70000)"),
    ),
    _case(
        "bad_protocol.yaml",
        Expected(4, "mqtt.protocol", "Input should be '3.1.1' or '5' (got '3.1')"),
    ),
    _case("bad_durability.yaml", Expected(4, "store.durability", "Input should be 'full'")),
    _case("missing_facility.yaml", Expected(2, "facility", "Field required")),
]


@pytest.fixture(autouse=True)
def _no_lantai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read LANTAI_* from the environment: keep the developer's shell out of it."""
    for name in list(os.environ):
        if name.upper().startswith("LANTAI_"):
            monkeypatch.delenv(name)


def _assert_problems(path: Path, error: ConfigError, expected: list[Expected]) -> None:
    found = sorted(error.problems, key=lambda p: (p.line or 0, p.field))
    want = sorted(expected, key=lambda e: (e.line or 0, e.field))
    summary = "\n".join(str(p) for p in found)
    assert [(p.line, p.field) for p in found] == [(e.line, e.field) for e in want], summary
    for problem, exp in zip(found, want, strict=True):
        assert problem.file == str(path)
        assert exp.fragment in problem.message, summary


@pytest.mark.parametrize(("name", "expected"), _params(FACILITY_CASES))
def test_invalid_facility_file(name: str, expected: list[Expected]) -> None:
    path = INVALID / "facility" / name
    with pytest.raises(ConfigError) as caught:
        load_facility(path)
    _assert_problems(path, caught.value, expected)


@pytest.mark.parametrize(("name", "expected"), _params(SETTINGS_CASES))
def test_invalid_settings_file(name: str, expected: list[Expected]) -> None:
    path = INVALID / "settings" / name
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    _assert_problems(path, caught.value, expected)


@pytest.mark.parametrize(
    ("folder", "cases"), [("facility", FACILITY_CASES), ("settings", SETTINGS_CASES)]
)
def test_every_invalid_file_has_a_case(folder: str, cases: list[Case]) -> None:
    on_disk = {p.name for p in (INVALID / folder).glob("*.yaml")}
    assert on_disk == {case.name for case in cases}


def test_several_problems_are_all_reported() -> None:
    path = INVALID / "facility" / "several_problems.yaml"
    with pytest.raises(ConfigError) as caught:
        load_facility(path)
    assert len(caught.value.problems) == 4
    assert len({p.field for p in caught.value.problems}) == 4


def test_config_error_lists_one_problem_per_line() -> None:
    path = INVALID / "facility" / "several_cross_check_problems.yaml"
    with pytest.raises(ConfigError) as caught:
        load_facility(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines == [str(p) for p in caught.value.problems]
    assert f"{path}:13: {ROOM}.0.class: unknown room class 'papr'" in str(caught.value)
    for line in lines:
        assert line.startswith(f"{path}:")


def test_problem_without_line_or_field() -> None:
    problem = ConfigProblem("site.yaml", None, "", "cannot read: gone")
    assert str(problem) == "site.yaml: (top level): cannot read: gone"
    assert str(ConfigProblem("site.yaml", 3, "sites", "bad")) == "site.yaml:3: sites: bad"


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(missing, FacilityConfig)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(missing), None, "")
    assert problem.message.startswith("cannot read:")


def test_parse_yaml_model_names_the_given_file() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml_model("sites: []\n", FacilityConfig, filename="inline.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("inline.yaml", 1, "sites")


# --- what a valid facility compiles to ---------------------------------------------------


def _one_room_site(site: str, sensors: str, *, extra: str = "", room_class: str = "paper") -> str:
    return f"""{extra}
  - id: {site}
    name: {{zh: 馆, en: Site}}
    buildings:
      - id: main
        name: {{zh: 主馆, en: Main}}
        floors:
          - id: F1
            name: {{zh: 一层, en: Floor 1}}
            rooms:
              - id: R1
                name: {{zh: 一库, en: Room 1}}
                class: {room_class}
                sensors: {sensors}
"""


def test_partial_limits_override_keeps_the_other_bound() -> None:
    facility = load_facility(EXAMPLE_SITE)
    room = facility.room("yunxi", "B2-02")
    assert room is not None
    assert (room.limits.humidity.min, room.limits.humidity.max) == (45, 55)
    assert (room.limits.temperature.min, room.limits.temperature.max) == (14, 24)
    assert (room.limits.temperature_swing, room.limits.humidity_swing) == (2.0, 5.0)
    # Its neighbour without an override has the plain paper-class band.
    plain = facility.room("yunxi", "B2-01")
    assert plain is not None
    assert (plain.limits.humidity.min, plain.limits.humidity.max) == (45, 60)


def test_rooms_take_their_limits_from_their_class() -> None:
    facility = load_facility(EXAMPLE_SITE)
    expected = {
        "B2-04": ((14, 20), (45, 55)),  # special
        "B3-01": ((14, 24), (40, 60)),  # av_tape
        "B3-03": ((13, 15), (35, 45)),  # film_master
        "B3-04": ((15, 20), (25, 45)),  # optical_disc
    }
    for room_id, (temperature, humidity) in expected.items():
        room = facility.room("yunxi", room_id)
        assert room is not None, room_id
        limits = room.limits
        assert (limits.temperature.min, limits.temperature.max) == temperature, room_id
        assert (limits.humidity.min, limits.humidity.max) == humidity, room_id


# archive-standards.md §1.1 (JGJ 25-2010 Table 5.2.1/5.2.2, §5.2.3) and §1.3 (DA/T 87-2021).
STANDARD_LIMITS = {
    "paper": ((14, 24), (45, 60)),
    "special": ((14, 20), (45, 55)),
    "av_tape": ((14, 24), (40, 60)),
    "film_copy": ((14, 24), (40, 60)),
    "film_master": ((13, 15), (35, 45)),
    "optical_disc": ((15, 20), (25, 45)),
}


def test_builtin_classes_are_exactly_the_standard_ones() -> None:
    assert set(builtin_room_classes()) == set(STANDARD_LIMITS)


@pytest.mark.parametrize(("name", "bands"), sorted(STANDARD_LIMITS.items()))
def test_room_class_limits_follow_the_standards(
    name: str, bands: tuple[tuple[float, float], tuple[float, float]]
) -> None:
    limits = builtin_room_classes()[name].limits
    (t_min, t_max), (rh_min, rh_max) = bands
    assert (limits.temperature.min, limits.temperature.max) == (t_min, t_max)
    assert (limits.humidity.min, limits.humidity.max) == (rh_min, rh_max)
    # §5.2.3: the day-night swing stays within ±2 °C and ±5 % RH.
    assert limits.temperature_swing == 2.0
    assert limits.humidity_swing == 5.0


def test_band_is_inclusive() -> None:
    band = builtin_room_classes()["paper"].limits.temperature
    assert band.contains(14)
    assert band.contains(24)
    assert not band.contains(24.1)
    assert not band.contains(13.9)


EXPECTED_INTERVALS = {
    SensorKind.CLIMATE: timedelta(minutes=1),
    SensorKind.HEAT: timedelta(minutes=1),
    SensorKind.SMOKE: timedelta(minutes=5),
    SensorKind.DOOR: timedelta(minutes=5),
    SensorKind.WATER_LEAK: timedelta(minutes=5),
    SensorKind.LIGHT: timedelta(minutes=5),
    SensorKind.DUST: timedelta(minutes=5),
    SensorKind.GAS: timedelta(minutes=5),
}


def test_every_kind_has_a_default_interval() -> None:
    assert set(EXPECTED_INTERVALS) == set(SensorKind)
    assert dict(DEFAULT_INTERVALS) == EXPECTED_INTERVALS


@pytest.mark.parametrize("kind", list(SensorKind))
def test_sensor_without_interval_gets_its_kinds_default(kind: SensorKind) -> None:
    text = "sites:" + _one_room_site("s1", f"[{{id: x1, kind: {kind.value}}}]")
    facility = _compile(text)
    sensor = facility.sensor("s1", "x1")
    assert sensor is not None
    assert sensor.interval == EXPECTED_INTERVALS[kind]


def test_explicit_interval_wins_over_the_default() -> None:
    text = "sites:" + _one_room_site("s1", "[{id: x1, kind: smoke, interval: 90s}]")
    sensor = _compile(text).sensor("s1", "x1")
    assert sensor is not None
    assert sensor.interval == timedelta(seconds=90)


def test_same_sensor_id_in_two_sites_is_allowed() -> None:
    text = (
        "sites:"
        + _one_room_site("s1", "[{id: th1, kind: climate}]")
        + _one_room_site("s2", "[{id: th1, kind: climate}]")
    )
    facility = _compile(text)
    assert facility.sensor("s1", "th1") is not None
    assert facility.sensor("s2", "th1") is not None


def test_id_of_64_characters_is_allowed() -> None:
    long_id = "x" * 64
    text = "sites:" + _one_room_site("s1", f"[{{id: {long_id}, kind: door}}]")
    assert _compile(text).sensor("s1", long_id) is not None


def test_facility_file_may_add_a_room_class() -> None:
    extra = """room_classes:
  vault:
    name: {zh: 保险库, en: Vault}
    limits:
      temperature: {min: 16, max: 18}
      humidity: {min: 40, max: 50}
sites:"""
    facility = _compile(_one_room_site("s1", "[]", extra=extra, room_class="vault"))
    room = facility.room("s1", "R1")
    assert room is not None
    assert room.room_class == "vault"
    assert (room.limits.temperature.min, room.limits.temperature.max) == (16, 18)
    assert "paper" in facility.room_classes


def _compile(text: str) -> Facility:
    return Facility.compile(parse_yaml_model(text, FacilityConfig))


# --- durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5h", timedelta(minutes=90)),
        (" 5 m ", timedelta(minutes=5)),
        (30, timedelta(seconds=30)),
        (2.5, timedelta(seconds=2.5)),
        (0, timedelta(0)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_duration(given: object, expected: timedelta) -> None:
    assert parse_duration(given) == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("soon", "not a duration: 'soon'"),
        ("5", "not a duration"),
        ("5 minutes", "not a duration"),
        ("-5s", "not a duration"),
        ("5M", "not a duration"),
        ("", "not a duration"),
        (None, "not a duration"),
        ([5], "not a duration"),
        (-1, "cannot be negative"),
        (True, "a duration is a number of seconds"),
    ],
)
def test_parse_duration_refuses(given: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration(given)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=3), "3h"),
        (timedelta(minutes=5), "5m"),
        (timedelta(seconds=90), "90s"),
        (timedelta(milliseconds=250), "0.25s"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


# --- settings ------------------------------------------------------------------------


SECRET = "s3cr3t-Lantai-broker-pw"  # noqa: S105 - a made-up value to look for


def test_password_from_environment_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTAI_MQTT__PASSWORD", SECRET)
    settings = load_settings(EXAMPLE_SETTINGS)
    password = settings.mqtt.password
    assert isinstance(password, SecretStr)
    assert password.get_secret_value() == SECRET
    # The rest of the file's mqtt section is kept alongside the environment's password.
    assert settings.mqtt.client_id == "lantai-collector"
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in repr(settings.mqtt)
    assert SECRET not in settings.model_dump_json()


def test_without_environment_there_is_no_password() -> None:
    assert load_settings(EXAMPLE_SETTINGS).mqtt.password is None


def test_environment_fills_in_a_field_the_file_leaves_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("facility: site.yaml\n", encoding="utf-8")
    monkeypatch.setenv("LANTAI_MQTT__HOST", "broker.internal")
    monkeypatch.setenv("LANTAI_CONSOLE__PORT", "9090")
    settings = load_settings(path)
    assert settings.mqtt.host == "broker.internal"
    assert settings.console.port == 9090


def test_environment_overrides_a_value_in_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTAI_MQTT__PORT", "1884")
    assert load_settings(EXAMPLE_SETTINGS).mqtt.port == 1884


def test_relative_paths_resolve_against_the_settings_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / "settings.yaml"
    path.write_text(
        "facility: site.yaml\n"
        "store:\n  readings_path: data/readings.db\n"
        "state:\n  url: sqlite:///data/state.db\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(Path("../conf/settings.yaml"))
    base = conf.resolve()
    assert settings.facility == base / "site.yaml"
    assert settings.store.readings_path == base / "data" / "readings.db"
    assert settings.state.url == f"sqlite:///{base}/data/state.db"


def test_example_settings_paths_are_taken_from_its_folder() -> None:
    settings = load_settings(EXAMPLE_SETTINGS)
    assert settings.facility.resolve() == EXAMPLE_SITE
    assert settings.store.readings_path.resolve() == ROOT / "lantai-data" / "readings.db"


def test_absolute_paths_and_other_urls_are_kept(tmp_path: Path) -> None:
    site = tmp_path / "abs" / "site.yaml"
    readings = tmp_path / "abs" / "readings.db"
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"facility: {site}\n"
        f"store:\n  readings_path: {readings}\n"
        "state:\n  url: postgresql://lantai@db/lantai\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.facility == site
    assert settings.store.readings_path == readings
    assert settings.state.url == "postgresql://lantai@db/lantai"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:////var/lib/lantai/state.db"])
def test_in_memory_and_absolute_sqlite_urls_are_kept(tmp_path: Path, url: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"facility: site.yaml\nstate:\n  url: {url}\n", encoding="utf-8")
    assert load_settings(path).state.url == url


def test_sqlite_memory_url_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    text = 'facility: site.yaml\nstate:\n  url: "sqlite:///:memory:"\n'
    path.write_text(text, encoding="utf-8")
    assert load_settings(path).state.url == "sqlite:///:memory:"


def test_settings_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("facility: site.yaml\n", encoding="utf-8")
    settings = load_settings(path)
    assert isinstance(settings, LantaiSettings)
    assert (settings.mqtt.host, settings.mqtt.port) == ("127.0.0.1", 1883)
    assert settings.mqtt.protocol == "3.1.1"
    assert settings.console.port == 8080
    assert settings.sweep_interval_s == 5.0
