"""``make demo``: the whole service on embedded defaults with a simulated archive."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from collectors.mqtt_source import MqttSettings
from lantai.broker import start_local_broker
from lantai.service import LantaiService
from lantai.settings import ConsoleSettings, LantaiSettings, StateSettings, StoreSettings
from sensors.clock import SystemClock
from sensors.facility import load_facility
from sensors.simulator import Simulator

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "sensors" / "example-site.yaml"
EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "rules" / "example-rules.yaml"


def run_demo(data_dir: Path, *, port: int = 8080, speed: float = 10.0) -> None:
    """Broker, service, simulator and console until Ctrl-C."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    facility = load_facility(EXAMPLE_SITE)
    broker = start_local_broker(data_dir / "broker")
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        rules=EXAMPLE_RULES,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-demo"),
        store=StoreSettings(readings_path=data_dir / "readings.db"),
        state=StateSettings(url=f"sqlite:///{data_dir / 'state.db'}"),
        console=ConsoleSettings(port=port),
        sweep_interval_s=2,
    )
    clock = SystemClock()
    service = LantaiService(settings, facility, clock)
    simulator = Simulator(facility, host=broker.host, port=broker.port, clock=clock, speed=speed)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.start()
        simulator.start()
        deadline = time.monotonic() + 15
        while not service.console_started() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(_banner(port, broker.port, data_dir), flush=True)  # noqa: T201
        stop.wait()
    finally:
        print("\nStopping Lantai…", flush=True)  # noqa: T201
        simulator.stop()
        service.stop()
        broker.stop()


def _banner(port: int, mqtt_port: int, data_dir: Path) -> str:
    return f"""
  兰台 Lantai demo is running — a simulated archive, 云溪市档案馆 (Yunxi Municipal Archives)

  Console        http://127.0.0.1:{port}/          (rooms and live alarms)
  API            http://127.0.0.1:{port}/api/rooms · /api/alarms · /api/quarantine
  OpenAPI        http://127.0.0.1:{port}/openapi.json
  MQTT broker    127.0.0.1:{mqtt_port}   (topics archive/<site>/<room>/<sensor>)
  Data           {data_dir}

  Try, in another terminal:
    .venv/bin/lantai inject fire B2-03 --port {mqtt_port}
    .venv/bin/lantai inject hvac-failure B2-01 --port {mqtt_port}
    .venv/bin/lantai inject door-forced B3-03 --port {mqtt_port}
    .venv/bin/lantai inject sensor-dropout b202-th1 --port {mqtt_port}
    .venv/bin/lantai inject garbage --port {mqtt_port}
    .venv/bin/lantai inject clear --port {mqtt_port}

  Ctrl-C stops everything.
"""
