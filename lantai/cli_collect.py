"""``lantai collect``: run a collector-only process (lantai/collect.py)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from sensors.yamlconfig import ConfigError, ConfigProblem

# How often the waiting main thread looks whether the subscription was granted.
_POLL_S = 0.2


def add_collect_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    collect = sub.add_parser(
        "collect",
        help="collector only: MQTT → store, no rules or console (scale out with share_group)",
    )
    collect.add_argument(
        "--config", "--settings", dest="config", type=Path, required=True, help="settings YAML"
    )
    collect.add_argument(
        "--client-id",
        help="this process's MQTT client id (each collector of a share group needs its own)",
    )
    collect.set_defaults(func=_collect)


def _collect(args: argparse.Namespace) -> int:
    from pydantic import ValidationError  # noqa: PLC0415 - keep `lantai --help` light

    from collectors.mqtt_source import MqttSettings  # noqa: PLC0415
    from lantai.collect import CollectorService  # noqa: PLC0415
    from lantai.settings import load_settings  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(args.config)
    if args.client_id is not None:
        try:
            mqtt = MqttSettings.model_validate(
                settings.mqtt.model_dump() | {"client_id": args.client_id}
            )
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"]
            raise ConfigError(
                [ConfigProblem("--client-id", None, "mqtt.client_id", message)]
            ) from exc
        settings = settings.model_copy(update={"mqtt": mqtt})
    service = CollectorService(settings, load_facility(settings.facility))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    announced = False
    while not stop.wait(_POLL_S):
        if not announced and service.source.wait_subscribed(0):
            # One line on stdout, for operators and for scripts that wait for it.
            sys.stdout.write(
                f"Lantai collector {settings.mqtt.client_id} subscribed to {service.subscription}\n"
            )
            sys.stdout.flush()
            announced = True
    service.stop()
    sys.stdout.write(json.dumps({"stopped": True, **service.health()}) + "\n")
    return 0
