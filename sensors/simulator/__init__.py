"""A simulated site: realistic sensor readings over MQTT, with incidents on demand."""

from sensors.simulator.control import CONTROL_TOPIC, send_injection
from sensors.simulator.publisher import Simulator
from sensors.simulator.scenarios import SCENARIOS

__all__ = ["CONTROL_TOPIC", "SCENARIOS", "Simulator", "send_injection"]
