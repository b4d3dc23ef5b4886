"""`lantai deploy mosquitto-acl` / `mosquitto-accounts`: accounts derived from the facility."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lantai.cli import main
from lantai.cli_deploy import (
    AccountConflict,
    AccountRole,
    broker_accounts,
    new_credentials,
    read_usernames,
    render_acl,
)
from sensors.facility import Facility, load_facility
from tests.conftest import EXAMPLE_SITE

TWO_SITES = """
sites:
  - id: north
    name: {zh: 北馆, en: North}
    buildings:
      - id: main
        name: {zh: 主楼, en: Main}
        floors:
          - id: F1
            name: {zh: 一层, en: Ground}
            rooms:
              - id: R1
                name: {zh: 一库, en: Stack 1}
                class: paper
                sensors: [{id: th1, kind: climate}]
  - id: south
    name: {zh: 南馆, en: South}
    buildings:
      - id: main
        name: {zh: 主楼, en: Main}
        floors:
          - id: F1
            name: {zh: 一层, en: Ground}
            rooms:
              - id: R1
                name: {zh: 一库, en: Stack 1}
                class: paper
                sensors: [{id: SENSOR, kind: smoke}]
"""


def _two_sites(tmp_path: Path, south_sensor: str = "th2") -> Path:
    path = tmp_path / "two-sites.yaml"
    path.write_text(TWO_SITES.replace("SENSOR", south_sensor), encoding="utf-8")
    return path


def test_every_sensor_may_write_only_its_own_two_topics(facility: Facility) -> None:
    accounts = {a.username: a for a in broker_accounts(facility)}
    devices = [a for a in accounts.values() if a.role is AccountRole.DEVICE]
    assert len(devices) == len(facility.sensors)
    th = accounts["b201-th1"]
    assert th.write == ("archive/yunxi/B2-01/b201-th1", "archive/yunxi/B2-01/b201-th1/status")
    assert th.read == ()
    assert accounts["lantai"].read == ("archive/#",)
    assert accounts["lantai"].write == ()
    assert accounts["healthcheck"].read == ("$SYS/broker/uptime",)
    assert accounts["healthcheck"].write == ()


def test_gateways_write_their_batch_topic_and_bridges_their_site(facility: Facility) -> None:
    accounts = {
        a.username: a
        for a in broker_accounts(
            facility,
            prefix="arch",
            gateways={"gw-yunxi": "yunxi"},
            bridges={"bridge-yunxi": "yunxi"},
        )
    }
    assert accounts["gw-yunxi"].write == ("arch/yunxi/_batch",)
    assert accounts["bridge-yunxi"].write == ("arch/yunxi/#",)
    assert accounts["lantai"].read == ("arch/#",)
    assert accounts["b201-th1"].write[0] == "arch/yunxi/B2-01/b201-th1"


def test_the_acl_has_nothing_for_anonymous_and_one_block_per_account(facility: Facility) -> None:
    accounts = broker_accounts(facility, bridges={"bridge-yunxi": "yunxi"})
    text = render_acl(accounts, source="site.yaml")
    lines = text.splitlines()
    first_user = next(i for i, line in enumerate(lines) if line.startswith("user "))
    # Mosquitto applies topic lines before the first `user` to anonymous clients.
    assert all(line.startswith("#") or not line for line in lines[:first_user])
    assert [line for line in lines if line.startswith("user ")] == [
        f"user {a.username}" for a in accounts
    ]
    block = text.split("user b202-door\n", 1)[1].split("\n\n", 1)[0]
    assert block.splitlines() == [
        "topic write archive/yunxi/B2-02/b202-door",
        "topic write archive/yunxi/B2-02/b202-door/status",
    ]
    assert "user bridge-yunxi\ntopic write archive/yunxi/#\n" in text
    assert "pattern" not in text  # explicit grants only


def test_a_sensor_id_used_in_two_sites_is_refused(tmp_path: Path) -> None:
    facility = load_facility(_two_sites(tmp_path, south_sensor="th1"))
    with pytest.raises(
        AccountConflict, match=r"username 'th1' is both the climate sensor in north"
    ):
        broker_accounts(facility)


@pytest.mark.parametrize(
    ("gateways", "bridges", "message"),
    [
        ({"lantai": "north"}, {}, "username 'lantai' is both the collector"),
        ({"gw": "west"}, {}, r"gateway 'gw': unknown site 'west' \(known: north, south\)"),
        ({}, {"br": "east"}, r"bridge 'br': unknown site 'east'"),
        ({"x": "north"}, {"x": "south"}, "username 'x' is both the gateway"),
    ],
)
def test_gateway_and_bridge_names_are_checked(
    tmp_path: Path, gateways: dict[str, str], bridges: dict[str, str], message: str
) -> None:
    facility = load_facility(_two_sites(tmp_path))
    with pytest.raises(AccountConflict, match=message):
        broker_accounts(facility, gateways=gateways, bridges=bridges)


def test_passwords_are_random_and_never_contain_the_separator(facility: Facility) -> None:
    accounts = broker_accounts(facility)
    first = dict(new_credentials(accounts))
    second = dict(new_credentials(accounts))
    assert first.keys() == {a.username for a in accounts}
    assert all(first[user] != second[user] for user in first)
    assert all(":" not in p and len(p) >= 32 for p in first.values())
    assert new_credentials(accounts, existing=list(first)) == []


def test_acl_command_prints_the_acl(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["deploy", "mosquitto-acl", "--facility", str(EXAMPLE_SITE), "--gateway", "gw-1=yunxi"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out == render_acl(
        broker_accounts(load_facility(EXAMPLE_SITE), gateways={"gw-1": "yunxi"}),
        source=str(EXAMPLE_SITE),
    )


@pytest.mark.parametrize("value", ["gw", "gw=", "=yunxi", "g w=yunxi"])
def test_a_malformed_gateway_option_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["deploy", "mosquitto-acl", "--facility", str(EXAMPLE_SITE), "--gateway", value])
    assert code == 2
    assert f"--gateway {value!r}: expected USER=SITE" in capsys.readouterr().err


def test_accounts_file_is_private_and_additions_keep_old_passwords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mqtt-credentials.txt"
    args = ["deploy", "mosquitto-accounts", "--facility", str(_two_sites(tmp_path))]
    assert main([*args, "--output", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    before = out.read_text(encoding="utf-8")
    assert read_usernames(out) == ["lantai", "healthcheck", "th1", "th2"]

    # A second run without --add-missing must not overwrite every device's password.
    assert main([*args, "--output", str(out), "--gateway", "gw-north=north"]) == 2
    assert "exists; --add-missing" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == before

    added = [*args, "--output", str(out), "--gateway", "gw-north=north", "--add-missing"]
    assert main(added) == 0
    after = out.read_text(encoding="utf-8")
    assert after.startswith(before)
    assert read_usernames(out) == ["lantai", "healthcheck", "th1", "th2", "gw-north"]
    assert "1 account(s) added, 4 kept" in capsys.readouterr().out
