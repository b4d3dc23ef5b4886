"""``lantai demo`` as a newcomer runs it: live readings, then an injected fire on the console."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lantai.broker import free_port
from tests.mqtt_helpers import wait_for

pytestmark = pytest.mark.integration


def test_demo_shows_live_rooms_and_a_fire_within_a_second(  # noqa: PLR0915 - one run, in order
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lantai",
                "demo",
                "--data-dir",
                str(tmp_path / "demo"),
                "--port",
                str(port),
                "--speed",
                "30",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def password(name: str) -> str:
        found = re.search(rf"^\s+{name}\s+(\S+)$", log.read_text(encoding="utf-8"), re.MULTILINE)
        assert found, log.read_text(encoding="utf-8")
        return found.group(1)

    try:
        wait_for(lambda: "MQTT broker" in log.read_text(encoding="utf-8"), 30, "the banner")
        found = re.search(r"MQTT broker\s+127\.0\.0\.1:(\d+)", log.read_text(encoding="utf-8"))
        assert found, log.read_text(encoding="utf-8")
        mqtt_port = found.group(1)

        # The desk operator logs in with the password the banner printed.
        desk = httpx.Client(base_url=base, timeout=5)
        login = desk.post(
            "/api/auth/login", json={"username": "desk", "password": password("desk")}
        )
        desk.headers["X-CSRF-Token"] = login.json()["csrf_token"]

        def rooms_have_readings() -> bool:
            rooms = desk.get("/api/rooms").json()
            return all(room["temperature"] is not None for room in rooms)

        wait_for(rooms_have_readings, 30, "live readings in every room")
        page = desk.get("/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]

        began = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "lantai", "inject", "fire", "B2-03", "--port", mqtt_port],
            check=True,
            timeout=30,
        )
        injected = time.monotonic()

        def fire_alarm() -> bool:
            alarms = desk.get("/api/alarms?state=active").json()
            return any(a["category"] == "fire" and a["room"] == "B2-03" for a in alarms)

        wait_for(fire_alarm, 5, "the fire alarm")
        seen = time.monotonic()
        assert seen - injected < 1.0, (
            f"fire alarm after {seen - injected:.2f}s (inject took {injected - began:.2f}s)"
        )
        alarms = desk.get("/api/alarms?state=active").json()
        fire = next(a for a in alarms if a["category"] == "fire")
        assert fire["severity"] == "critical"
        room = desk.get("/api/rooms/yunxi/B2-03").json()
        assert room["state"] == "alarm"

        # Demo mode: the desk stages a second fire from the console itself.
        staged = desk.post("/api/demo/inject", json={"scenario": "fire", "room": "B2-01"})
        assert staged.status_code == 202, staged.text

        def second_fire() -> bool:
            alarms = desk.get("/api/alarms?state=active").json()
            return any(a["category"] == "fire" and a["room"] == "B2-01" for a in alarms)

        wait_for(second_fire, 5, "the fire staged from the console")

        # The guard logs in with the password the banner printed and sees today's patrols.
        with httpx.Client(base_url=base, timeout=5) as phone:
            guard = {"username": "guard", "password": password("guard")}
            assert phone.post("/api/auth/login", json=guard).status_code == 200
            tasks = phone.get("/api/inspections/tasks").json()
            assert tasks, "no inspection tasks today"
            assert {t["role"] for t in tasks} == {"guard"}
            assert phone.get("/app/").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-3000:]
    assert "Stopping Lantai" in log.read_text(encoding="utf-8")
