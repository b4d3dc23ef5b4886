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


def test_demo_shows_live_rooms_and_a_fire_within_a_second(tmp_path: Path) -> None:
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
    try:
        wait_for(lambda: "MQTT broker" in log.read_text(encoding="utf-8"), 30, "the banner")
        found = re.search(r"MQTT broker\s+127\.0\.0\.1:(\d+)", log.read_text(encoding="utf-8"))
        assert found, log.read_text(encoding="utf-8")
        mqtt_port = found.group(1)

        def rooms_have_readings() -> bool:
            rooms = httpx.get(f"{base}/api/rooms", timeout=2).json()
            return all(room["temperature"] is not None for room in rooms)

        wait_for(rooms_have_readings, 30, "live readings in every room")
        page = httpx.get(base + "/", timeout=2)
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
            alarms = httpx.get(f"{base}/api/alarms?state=active", timeout=2).json()
            return any(a["category"] == "fire" and a["room"] == "B2-03" for a in alarms)

        wait_for(fire_alarm, 5, "the fire alarm")
        seen = time.monotonic()
        assert seen - injected < 1.0, (
            f"fire alarm after {seen - injected:.2f}s (inject took {injected - began:.2f}s)"
        )
        alarms = httpx.get(f"{base}/api/alarms?state=active", timeout=2).json()
        fire = next(a for a in alarms if a["category"] == "fire")
        assert fire["severity"] == "critical"
        room = httpx.get(f"{base}/api/rooms/yunxi/B2-03", timeout=2).json()
        assert room["state"] == "alarm"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-3000:]
    assert "Stopping Lantai" in log.read_text(encoding="utf-8")
