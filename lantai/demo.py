"""``make demo``: the whole service on embedded defaults with a simulated archive."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from collectors.mqtt_source import MqttSettings
from console.auth import AuthService, Role
from console.demo_actions import DemoScenario
from lantai.broker import start_local_broker
from lantai.service import LantaiService
from lantai.settings import ConsoleSettings, LantaiSettings, StateSettings, StoreSettings
from sensors.clock import SystemClock
from sensors.facility import load_facility
from sensors.simulator import Simulator

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "sensors" / "example-site.yaml"
EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "rules" / "example-rules.yaml"
DEMO_ALERTING = Path(__file__).with_name("demo-alerting.yaml")
# One account per role, so a newcomer can see each view: (name, role, display name).
DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN, "管理员 Admin"),
    ("desk", Role.OPERATOR, "值班员 Desk operator"),
    ("guard", Role.GUARD, "保安 Guard"),
    ("manager", Role.SUPERVISOR, "库房主管 Stack manager"),
    ("leader", Role.VIEWER, "馆领导 Leadership"),
)
ACCOUNTS_FILE = "demo-accounts.txt"


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
        alerting=DEMO_ALERTING,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-demo"),
        store=StoreSettings(readings_path=data_dir / "readings.db"),
        state=StateSettings(url=f"sqlite:///{data_dir / 'state.db'}"),
        console=ConsoleSettings(port=port),
        sweep_interval_s=2,
    )
    clock = SystemClock()
    service = LantaiService(settings, facility, clock)
    simulator = Simulator(facility, host=broker.host, port=broker.port, clock=clock, speed=speed)
    service.demo = SimulatorInjector(simulator)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.start()
        accounts = demo_accounts(service.auth, data_dir / ACCOUNTS_FILE, list(facility.sites))
        simulator.start()
        deadline = time.monotonic() + 15
        while not service.console_started() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(_banner(port, broker.port, data_dir, accounts), flush=True)  # noqa: T201
        stop.wait()
    finally:
        print("\nStopping Lantai…", flush=True)  # noqa: T201
        simulator.stop()
        service.stop()
        broker.stop()


class SimulatorInjector:
    """The console's "inject" button, played by the simulated archive."""

    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator

    def inject(self, scenario: DemoScenario, site: str, room: str | None) -> None:
        # The simulator raises ValueError for a scenario it cannot stage there: the console
        # answers 422 with its words.
        self._simulator.inject(scenario.value, None if room is None else f"{site}/{room}")


def demo_accounts(auth: AuthService, path: Path, sites: list[str]) -> list[tuple[str, str]]:
    """The demo's accounts, made on its first run with random passwords (never a default
    one) kept in ``path`` (readable by this user only); later runs read them back."""
    if path.exists():
        return [
            (name, password)
            for name, _, password in (line.partition(" ") for line in path.read_text().splitlines())
        ]
    made = []
    for name, role, display in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)  # 16 characters: above the 12 the login asks
        auth.users.add(name, SecretStr(password), role, sites, display_name=display)
        made.append((name, password))
    path.touch(mode=0o600)
    path.write_text("".join(f"{name} {password}\n" for name, password in made))
    return made


def _banner(port: int, mqtt_port: int, data_dir: Path, accounts: list[tuple[str, str]]) -> str:
    logins = "\n".join(f"    {name:<8} {password}" for name, password in accounts)
    return f"""
  兰台 Lantai demo is running — a simulated archive, 云溪市档案馆 (Yunxi Municipal Archives)

  Console        http://127.0.0.1:{port}/          (rooms and live alarms)
  Checklist app  http://127.0.0.1:{port}/app/      (a guard's phone: today's patrols)
  Log in         http://127.0.0.1:{port}/login     accounts (also in {data_dir / ACCOUNTS_FILE}):
{logins}
  Reports        http://127.0.0.1:{port}/api/reports/yunxi/weekly?format=html
  Checkpoints    http://127.0.0.1:{port}/checkpoints/yunxi   (QR codes to print)
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
