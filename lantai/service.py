"""The service runner: builds every part from settings, starts them in order, stops them in reverse.

This is the only place that knows everybody. Data flows:
MQTT → collectors.Ingest → rules (own process) → alerts.AlarmService → listeners (log, console)
                        │                   ↘ tasks               ↘ outbox → SMS, voice, email…
                        │          inspections.InspectionService ─→ overdue alarms ↗
                        ↘ collectors.SqliteReadingStore (durable, then MQTT ack)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from alerts.feed import AlarmFeed
from alerts.listeners import ChangeListener
from alerts.listeners.console import ConsoleListener
from alerts.listeners.log import LogListener
from alerts.service import AlarmService
from alerts.store import AlarmStore
from alerts.tables import create_state_engine
from collectors.decode import Decoder
from collectors.influx_forwarder import InfluxForwarder, InfluxState, MetricsToInflux
from collectors.ingest import Ingest
from collectors.mqtt_source import PahoSource
from collectors.sqlite_store import SqliteReadingStore
from console.app import ConsoleContext, create_app
from console.auth import AuthContext, AuthService
from console.demo_actions import DemoInjector
from console.reports.compute import ReportBuilder
from console.sops import SopStore
from inspections.scheduler import InspectionScheduler
from inspections.service import InspectionService
from inspections.store import InspectionStore
from inspections.templates import default_templates, load_templates
from lantai.alerting import build_notifiers, load_routing
from lantai.database import upgrade_to_head
from lantai.influx_alarms import InfluxAlarmListener
from lantai.influx_health import InfluxHealthAlarm
from lantai.influx_sink import build_forwarder
from lantai.metrics import SYSTEM_SAMPLE_INTERVAL_S, SystemMetrics
from lantai.settings import LantaiSettings
from rules.config import load_rules
from rules.engine import RulesEngine
from rules.persistence import SqlStateStore
from rules.process import RulesProcess, RulesSpec
from sensors.clock import Clock, SystemClock
from sensors.events import MetricSink
from sensors.facility import Facility
from sensors.yamlconfig import ConfigError, ConfigProblem

log = logging.getLogger(__name__)
# How often the InfluxDB sink's alarm (spool nearly full, low disk, long outage) is checked.
INFLUX_HEALTH_INTERVAL_S = 30.0


class LantaiService:
    """One archive's monitoring: collector, rules, alarms and console in one process."""

    def __init__(
        self,
        settings: LantaiSettings,
        facility: Facility,
        clock: Clock | None = None,
        *,
        extra_listeners: Sequence[ChangeListener] = (),
    ) -> None:
        if settings.mqtt.share_group is not None:
            # Behind a shared subscription the rules would see only part of each sensor's
            # readings; their state is per sensor (README "Many archives").
            problem = "a shared subscription is for `lantai collect`; the rules need them all"
            raise ConfigError([ConfigProblem("settings", None, "mqtt.share_group", problem)])
        self.settings = settings
        self.facility = facility
        self.clock = clock or SystemClock()
        self.readings = SqliteReadingStore(settings.store.readings_path, settings.store.durability)
        # InfluxDB is downstream of the store: a forwarder tails what is stored, on its own
        # thread (None: no InfluxDB). Alarm changes and room metrics are queued for it.
        self.influx: InfluxForwarder | None = None
        influx_listeners: list[ChangeListener] = []
        self._metric_sink: MetricSink = self.readings
        if settings.influx is not None:
            self.influx = build_forwarder(settings.influx, self.readings, facility, self.clock)
            influx_listeners.append(InfluxAlarmListener(self.influx, self.clock))
            self._metric_sink = MetricsToInflux(self.readings, self.influx)
        self._state_engine = create_state_engine(settings.state.url)
        self.alarm_store = AlarmStore(self._state_engine)
        self.feed = AlarmFeed()
        self.routing = load_routing(settings, facility)
        self.alarms = AlarmService(
            self.alarm_store,
            facility,
            self.clock,
            routing=self.routing,
            notifiers=build_notifiers(settings),
            listeners=[
                LogListener(),
                ConsoleListener(self.feed),
                *influx_listeners,
                *extra_listeners,
            ],
        )
        self.influx_health = (
            InfluxHealthAlarm(self.influx, self.alarms, facility, self.clock)
            if self.influx is not None
            else None
        )
        self.source = PahoSource(settings.mqtt)
        self.rule_state = SqlStateStore(self._state_engine)
        # Rules ask for inspection tasks ("RH high for 2 h: check the dehumidifier"); the
        # inspection service records them beside the scheduled patrols.
        self.inspection_store = InspectionStore(self._state_engine)
        templates = (
            load_templates(settings.inspections, facility)
            if settings.inspections is not None
            else default_templates(facility)
        )
        self.inspections = InspectionService(
            self.inspection_store,
            facility,
            templates,
            self.clock,
            self.alarms,
            readings=self.readings,
        )
        self.inspection_timer = InspectionScheduler(self.inspections, self._state_engine)
        self.auth = AuthService(
            AuthContext(engine=self._state_engine, clock=self.clock, settings=settings.auth)
        )
        self.sops = SopStore(self._state_engine, self.clock)
        # Set by `lantai demo` before start(): the console may then stage incidents.
        self.demo: DemoInjector | None = None
        self.reports = ReportBuilder(
            facility,
            self.clock,
            self.readings,
            self.alarm_store,
            self.inspections,
            settings.reports,
        )
        rule_file = load_rules(settings.rules, facility) if settings.rules is not None else None
        self.rules: RulesEngine | RulesProcess
        # The rules' own process keeps the wall clock's time: on any other clock (tests)
        # they stay in this process, on that clock.
        if settings.rules_in_process or not isinstance(self.clock, SystemClock):
            self.rules = RulesEngine(
                facility,
                self.alarms,
                self.clock,
                rules=rule_file,
                tasks=self.inspections,
                metrics=self._metric_sink,
                state_store=self.rule_state,
                input_healthy=self._input_healthy,
            )
        else:
            # Off paho's interpreter lock (README "What bounds ingest").
            self.rules = RulesProcess(
                RulesSpec(facility, rule_file, settings.state.url),
                self.alarms,
                tasks=self.inspections,
                metrics=self._metric_sink,
                input_healthy=self._input_healthy,
                clock=self.clock,
            )
        self.ingest = Ingest(
            self.source,
            Decoder(facility, settings.mqtt.topic_prefix),
            self.readings,
            self.clock,
            self.rules,
        )
        # Lantai's own numbers: /metrics, and lantai_system points in InfluxDB.
        self.metrics = SystemMetrics(
            facility=facility,
            clock=self.clock,
            ingest=self.ingest,
            source=self.source,
            readings=self.readings,
            rules=self.rules,
            outbox=self.alarms.outbox,
            state=self._state_engine,
            influx=self._influx_state,
        )
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._server: uvicorn.Server | None = None
        self._started_at: datetime | None = None
        self._server_thread: threading.Thread | None = None

    def _input_healthy(self) -> bool:
        """Lantai can hear its sensors: connected, and the store is taking writes."""
        return self.source.connected and not self.ingest.store_failing

    def health(self) -> dict[str, object]:
        """Component status for /api/health."""
        stats = self.ingest.stats
        problems = []
        if not self.source.connected:
            problems.append("mqtt_disconnected")
        if self.ingest.store_failing:
            problems.append("store_write_failing")
        if isinstance(self.rules, RulesProcess) and self.rules.child_pid is None:
            problems.append("rules_process_down")
        return {
            "mqtt_connected": self.source.connected,
            "ingest": {k: v for k, v in asdict(stats).items() if k != "last_write_at"},
            "ingest_backlog": self.ingest.backlog,
            "rules": asdict(self.rules.stats),
            "inspections": {
                "alarms_waiting": len(self.inspection_store.pending_alarms()),
                "timer_running": self.inspection_timer.running,
            },
            "alarms": asdict(self.alarms.stats),
            "outbox": {
                "pending": self.alarms.outbox.pending(),
                "sent": self.alarms.outbox.sent,
                "failed": self.alarms.outbox.failed,
            },
            "problems": problems,
            # InfluxDB's troubles are not Lantai's: they raise the influx_spool alarm, and
            # the health verdict (compose's check) stays with the monitoring itself.
            "influx": _influx_health(self.influx),
            **({"demo": True} if self.demo is not None else {}),
        }

    def start(self, *, console: bool = True) -> None:
        self._started_at = self.clock.now()
        # The schema first: every store below finds its tables at the newest revision.
        upgrade_to_head(self._state_engine)
        self.readings.start()
        if self.influx is not None:
            self.influx.start()
        self.alarms.start()
        self.auth.start()
        self.sops.start()
        self.inspection_store.start()
        self.inspection_timer.start()
        self.rule_state.start()
        self.rules.start()
        self.ingest.start()
        self._scheduler.add_job(
            self.rules.tick,
            "interval",
            seconds=self.settings.sweep_interval_s,
            id="silence-sweep",
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.alarms.tick,
            "interval",
            seconds=self.settings.alarm_tick_s,
            id="alarm-timers",
            max_instances=1,
            coalesce=True,
        )
        if self.influx is not None:
            self._scheduler.add_job(
                self.forward_system_samples,
                "interval",
                seconds=SYSTEM_SAMPLE_INTERVAL_S,
                id="system-samples",
                max_instances=1,
                coalesce=True,
            )
        if self.influx_health is not None:
            self._scheduler.add_job(
                self.influx_health.check,
                "interval",
                seconds=INFLUX_HEALTH_INTERVAL_S,
                id="influx-health",
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.start()
        if console:
            self._start_console()

    def _influx_state(self) -> InfluxState | None:
        """The InfluxDB forwarder's health view; None without InfluxDB."""
        return None if self.influx is None else self.influx.state()

    def forward_system_samples(self) -> None:
        """Hand Lantai's own numbers to InfluxDB (the system-health board reads them)."""
        if self.influx is not None:
            now = self.clock.now()
            self.influx.enqueue_system(self.metrics.collect_at(now), now)

    def _start_console(self) -> None:
        app = create_app(
            ConsoleContext(
                facility=self.facility,
                readings=self.readings,
                alarms=self.alarm_store,
                feed=self.feed,
                health=self.health,
                clock=self.clock,
                listening_since=self._started_at,
                actions=self.alarms,
                routing=self.routing,
                twilio=self.settings.twilio,
                auth=self.auth,
                inspections=self.inspections,
                reports=self.reports,
                public_url=self.settings.console.address,
                history=self.readings,
                sops=self.sops,
                demo=self.demo,
                metrics=self.metrics.collect,
            )
        )
        c = self.settings.console
        # Live alarm streams never end by themselves: give them 2 s to close on shutdown.
        config = uvicorn.Config(
            app,
            host=c.host,
            port=c.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, name="lantai-console", daemon=True
        )
        self._server_thread.start()

    def console_started(self) -> bool:
        return self._server is not None and self._server.started

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
            self._server = None
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.ingest.stop()
        self.rules.stop()
        self.inspection_timer.stop()
        self.alarms.stop()
        if self.influx is not None:
            self.influx.stop()
        self.readings.stop()
        self._state_engine.dispose()


def _influx_health(influx: InfluxForwarder | None) -> dict[str, object] | None:
    """The forwarder's state for /api/health; None without InfluxDB."""
    if influx is None:
        return None
    state = influx.state()
    view: dict[str, object] = asdict(state)
    view["failing_since"] = state.failing_since.isoformat() if state.failing_since else None
    view["problems"] = state.problems
    return view
