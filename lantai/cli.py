"""``lantai``: run, check-config, openapi, simulate, inject, demo, bench."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from sensors.yamlconfig import ConfigError

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print("Configuration refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lantai", description="兰台 Lantai: archive safety monitoring"
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the service (production entry point)")
    run.add_argument("--config", type=Path, required=True, help="settings YAML")
    run.set_defaults(func=_run)

    check = sub.add_parser("check-config", help="validate a settings or facility file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check_config)

    openapi = sub.add_parser("openapi", help="print the console's OpenAPI document")
    openapi.set_defaults(func=_openapi)

    demo = sub.add_parser("demo", help="broker + service + simulated archive + console")
    demo.add_argument("--data-dir", type=Path, default=Path(".lantai-demo"))
    demo.add_argument("--port", type=int, default=8080, help="console port")
    demo.add_argument("--speed", type=float, default=10.0, help="simulated time per real second")
    demo.set_defaults(func=_demo)

    simulate = sub.add_parser("simulate", help="publish a simulated archive to a broker")
    simulate.add_argument("--facility", type=Path, default=_example_site())
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=1883)
    simulate.add_argument("--speed", type=float, default=1.0)
    simulate.set_defaults(func=_simulate)

    inject = sub.add_parser("inject", help="inject a scenario into a running simulator")
    inject.add_argument(
        "scenario",
        choices=["hvac-failure", "fire", "door-forced", "sensor-dropout", "garbage", "clear"],
    )
    inject.add_argument("target", nargs="?", help="ROOM or SENSOR (none for garbage/clear)")
    inject.add_argument("--host", default="127.0.0.1")
    inject.add_argument("--port", type=int, default=1883)
    inject.set_defaults(func=_inject)

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(required=True, metavar="BENCH")
    ingest = bench_sub.add_parser("ingest", help="pipeline vs bare paho on one stream")
    ingest.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    ingest.add_argument("--count", type=int, default=100_000)
    ingest.add_argument("--sensors", type=int, default=200)
    ingest.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    ingest.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported"
    )
    ingest.add_argument("--no-rules", action="store_true", help="leave the rules engine out")
    ingest.set_defaults(func=_bench_ingest)
    rules = bench_sub.add_parser("rules", help="rule evaluations/s and state memory")
    rules.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    rules.add_argument("--sensors", type=int, default=10_000)
    rules.add_argument("--minutes", type=int, default=24 * 60, help="simulated minutes")
    rules.set_defaults(func=_bench_rules)
    alarm = bench_sub.add_parser("alarm", help="smoke publish → notifier latency under load")
    alarm.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    alarm.add_argument("--samples", type=int, default=200)
    alarm.add_argument("--background", type=float, default=2000, help="readings/s of load")
    alarm.set_defaults(func=_bench_alarm)
    return parser


def _example_site() -> Path:
    return Path(__file__).resolve().parent.parent / "sensors" / "example-site.yaml"


def _run(args: argparse.Namespace) -> int:
    from lantai.service import LantaiService  # noqa: PLC0415 - keep `lantai --help` light
    from lantai.settings import load_settings  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(args.config)
    service = LantaiService(settings, load_facility(settings.facility))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    print(f"Lantai running; console on http://{settings.console.host}:{settings.console.port}/")
    stop.wait()
    service.stop()
    return 0


def _check_config(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415

    from lantai.settings import load_settings  # noqa: PLC0415
    from rules.compile import compile_rules  # noqa: PLC0415
    from rules.config import load_rules  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    try:
        head = yaml.safe_load(args.file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        head = None  # the loaders below report it with file and line
    # A settings file names its facility file; anything else is read as a facility file,
    # so a typo in `sites:` is reported as a facility problem, not a missing `facility:`.
    if not (isinstance(head, dict) and "facility" in head):
        facility = load_facility(args.file)
        print(
            f"{args.file}: facility OK — {len(facility.sites)} site(s), "
            f"{len(facility.rooms)} rooms, {len(facility.sensors)} sensors"
        )
        return 0
    settings = load_settings(args.file)
    facility = load_facility(settings.facility)
    print(
        f"{args.file}: settings OK; facility {settings.facility}: {len(facility.rooms)} rooms, "
        f"{len(facility.sensors)} sensors"
    )
    rule_file = load_rules(settings.rules, facility) if settings.rules is not None else None
    compiled = compile_rules(facility, rule_file)
    source = settings.rules or "the defaults only"
    print(
        f"rules: {source}: {compiled.rule_count} rule instances over {len(compiled.slots)} sensors"
    )
    from lantai.alerting import coverage_report, load_routing  # noqa: PLC0415
    from sensors.clock import SystemClock  # noqa: PLC0415

    routing = load_routing(settings, facility)
    config = routing.config
    print(
        f"alerting: {settings.alerting or 'none (console and log only)'}: "
        f"{len(config.people)} people, {len(config.rotas)} rotas, {len(config.policies)} policies"
    )
    for line in coverage_report(routing, facility, SystemClock().now()):
        print(line)
    return 0


def _openapi(_args: argparse.Namespace) -> int:
    from console.openapi import openapi_text  # noqa: PLC0415

    sys.stdout.write(openapi_text())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lantai.demo import run_demo  # noqa: PLC0415

    run_demo(args.data_dir.resolve(), port=args.port, speed=args.speed)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from sensors.clock import SystemClock  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415
    from sensors.simulator import Simulator  # noqa: PLC0415

    simulator = Simulator(
        load_facility(args.facility),
        host=args.host,
        port=args.port,
        clock=SystemClock(),
        speed=args.speed,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    simulator.start()
    print(f"Simulating {args.facility} on {args.host}:{args.port}; Ctrl-C stops.")
    stop.wait()
    simulator.stop()
    return 0


def _inject(args: argparse.Namespace) -> int:
    from sensors.simulator import send_injection  # noqa: PLC0415

    send_injection(args.host, args.port, args.scenario, args.target)
    print(f"Injected {args.scenario} {args.target or ''}".rstrip())
    return 0


def _bench_ingest(args: argparse.Namespace) -> int:
    from lantai.bench.ingest import run_ingest_bench  # noqa: PLC0415

    result = run_ingest_bench(
        count=args.count,
        sensors=args.sensors,
        protocol=args.protocol,
        rounds=args.rounds,
        rules=not args.no_rules,
    )
    print(json.dumps(result))
    return 0


def _bench_rules(args: argparse.Namespace) -> int:
    from lantai.bench.rules import run_rules_bench  # noqa: PLC0415

    print(json.dumps(run_rules_bench(sensors=args.sensors, minutes=args.minutes)))
    return 0


def _bench_alarm(args: argparse.Namespace) -> int:
    from lantai.bench.alarm import run_alarm_bench  # noqa: PLC0415

    print(json.dumps(run_alarm_bench(samples=args.samples, background_per_s=args.background)))
    return 0
