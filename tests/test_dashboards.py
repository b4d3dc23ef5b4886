"""The Grafana boards: golden JSON, their shape, the CLI, and the provisioning files.

Golden: dashboards/boards/*.json is what the code builds, byte for byte, so the committed
files Grafana provisions can never drift from dashboards/ (``lantai dashboards build``
refreshes them; ``lantai dashboards check`` is the same comparison for CI).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import build, desk, flux
from dashboards.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GRID_WIDTH,
    SCHEMA_VERSION,
    Panel,
    PanelType,
    layout,
)
from dashboards.publish import FOLDER_UID
from lantai.cli import main
from sensors.room_classes import builtin_room_classes

ROOT = Path(__file__).resolve().parent.parent
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
# The compose mount of contracts: ./dashboards/boards → this path, read-only.
BOARDS_IN_GRAFANA = "/var/lib/grafana/dashboards/lantai"


def _boards() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in build.rendered().items()}


def _all_datasources(node: object) -> list[dict[str, Any]]:
    """Every ``datasource`` object anywhere in a board."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                found.append(value)
            found.extend(_all_datasources(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_all_datasources(item))
    return found


# --- golden -------------------------------------------------------------------------------


def test_the_committed_boards_are_what_the_code_builds() -> None:
    expected = build.rendered()
    committed = {
        path.name: path.read_text(encoding="utf-8") for path in build.BOARDS_DIR.glob("*.json")
    }
    assert sorted(committed) == sorted(expected), "run: lantai dashboards build"
    for name, text in expected.items():
        assert committed[name] == text, f"{name} differs from the code: lantai dashboards build"


def test_the_output_is_deterministic_and_ends_with_a_newline() -> None:
    first, second = build.rendered(), build.rendered()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert (
            json.dumps(json.loads(text), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
            == text
        )


def test_four_boards_with_fixed_uids() -> None:
    boards = _boards()
    assert sorted(board["uid"] for board in boards.values()) == [
        "lantai-desk",
        "lantai-environment",
        "lantai-inspections",
        "lantai-system",
    ]
    for name, board in boards.items():
        assert name == f"{board['uid']}.json"


# --- shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(build.rendered()))
def test_a_board_is_grafana_11_4_json_on_the_lantai_data_source(name: str) -> None:
    board = _boards()[name]
    assert board["schemaVersion"] == SCHEMA_VERSION == 40
    assert isinstance(board["refresh"], str)  # what schemaVersion 40 requires
    sources = _all_datasources(board)
    ours = [s for s in sources if s.get("type") != "grafana"]
    assert len(sources) - len(ours) == 1  # only Grafana's own built-in annotation
    assert ours, "a board without queries"
    assert all(s == {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID} for s in ours)


@pytest.mark.parametrize("name", sorted(build.rendered()))
def test_panels_have_unique_ids_and_do_not_overlap(name: str) -> None:
    panels = _boards()[name]["panels"]
    assert [panel["id"] for panel in panels] == list(range(1, len(panels) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= GRID_WIDTH, panel["title"]
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] != "row":
            assert panel["targets"], f"{panel['title']} has no query"


def test_the_layout_starts_a_new_line_when_a_panel_does_not_fit() -> None:
    wide = Panel(type=PanelType.TEXT, title="a", width=16, height=4)
    placed = layout([wide, Panel(type=PanelType.TEXT, title="b", width=16, height=3)])
    assert [(pos.x, pos.y) for _, pos in placed] == [(0, 0), (0, 4)]
    with pytest.raises(ValueError, match="width 25"):
        layout([Panel(type=PanelType.TEXT, title="c", width=25, height=1)])


def test_every_board_reads_the_bucket_variable_defaulting_to_lantai() -> None:
    for board in _boards().values():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        bucket = variables[flux.BUCKET_VAR]
        assert bucket["type"] == "constant"
        assert bucket["query"] == "lantai"
        text = json.dumps(board)
        assert 'from(bucket: \\"${bucket}\\")' in text
        assert '\\"lantai\\"' not in text  # no query names the bucket itself


def test_another_bucket_is_a_build_option() -> None:
    board = json.loads(build.render(desk.build("archive_eu")))
    bucket = {v["name"]: v for v in board["templating"]["list"]}["bucket"]
    assert bucket["query"] == "archive_eu"


def test_the_environment_board_repeats_a_row_per_room_of_one_site() -> None:
    board = _boards()["lantai-environment.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["site"]["multi"] is False
    assert variables["room"]["multi"] is True
    assert "${site}" in variables["room"]["query"]  # rooms depend on the chosen site
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [row.get("repeat") for row in rows] == ["room"]


def test_every_board_marks_alarms_raised_red_and_cleared_green() -> None:
    for board in _boards().values():
        queries = [a for a in board["annotations"]["list"] if "target" in a]
        colors = {a["name"]: a["iconColor"] for a in queries}
        assert sorted(colors.values()) == ["green", "red"]
        for annotation in queries:
            query = annotation["target"]["query"]
            assert "text: r.message_zh" in query
            assert "r.message_en" in query
            assert query.rstrip().endswith("}))")  # one frame of time, text, tags


def test_the_band_dictionaries_are_the_room_classes_of_the_standards() -> None:
    query = desk.room_status_query()
    for name, room_class in builtin_room_classes().items():
        limits = room_class.limits
        assert f'{{key: "{name}", value: {limits.temperature.min:.1f}}}' in query.split("tHi")[0]
        assert f'{{key: "{name}", value: {limits.humidity.max:.1f}}}' in query.split("hHi")[1]


# --- CLI ----------------------------------------------------------------------------------


def test_build_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(build.rendered())
    assert main(["dashboards", "check", "--dir", str(tmp_path)]) == 0
    assert "4 boards match the code" in capsys.readouterr().out


def test_check_fails_on_an_edited_missing_or_stray_board(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build.write(tmp_path)
    edited = tmp_path / "lantai-desk.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("30s", "5s"), encoding="utf-8")
    (tmp_path / "lantai-system.json").unlink()
    (tmp_path / "old-board.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["dashboards", "check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{edited}: differs" in err
    assert f"{tmp_path / 'lantai-system.json'}: missing" in err
    assert f"{tmp_path / 'old-board.json'}: not built by the code" in err


def test_check_of_the_committed_boards_passes() -> None:
    assert main(["dashboards", "check"]) == 0


# --- provisioning -------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_provisioned_data_source_is_the_one_the_boards_name() -> None:
    config = _yaml(PROVISIONING / "datasources" / "influxdb.yaml")
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == DATASOURCE_TYPE
    assert source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["version"] == "Flux"
    assert source["jsonData"]["organization"] == "$INFLUXDB_ORG"
    assert source["jsonData"]["defaultBucket"] == "$INFLUXDB_BUCKET"
    # The token comes from the environment; nothing secret is committed.
    assert source["secureJsonData"] == {"token": "$INFLUXDB_TOKEN"}


def test_the_dashboard_provider_reads_the_mounted_boards_read_only() -> None:
    config = _yaml(PROVISIONING / "dashboards" / "lantai.yaml")
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == BOARDS_IN_GRAFANA
    assert provider["folder"] == "Lantai"
    assert provider["folderUid"] == FOLDER_UID
    assert provider["disableDeletion"] is True
    assert provider["allowUiUpdates"] is False


def test_compose_mounts_the_boards_and_passes_the_data_source_its_variables() -> None:
    compose = _yaml(ROOT / "compose.yaml")
    grafana = compose["services"]["grafana"]
    assert grafana["image"] == "grafana/grafana:11.4.0"
    assert f"./dashboards/boards:{BOARDS_IN_GRAFANA}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    text = json.dumps(_yaml(PROVISIONING / "datasources" / "influxdb.yaml"))
    used = set(re.findall(r"\$([A-Z_]+)", text))
    assert used == {"INFLUXDB_ORG", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"}
    assert used <= set(grafana["environment"])
