"""Normal sensor behaviour: a pure function from (facility, sensor, time, state) to a payload.

Nothing here touches the network or the wall clock, so a test can generate a simulated
day in a fraction of a second and replay it exactly from the same seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sensors.facility import Facility, RoomInfo, SensorInfo, SensorKind
from sensors.room_classes import Band

# Working hours for badge events and stack lighting, in the site's own time zone.
# archive-standards.md §2 has 上班/下班 checks but no clock times: an engineering default.
WORK_START = time(8, 30)
WORK_END = time(17, 30)
SATURDAY = 5  # datetime.weekday(): Monday is 0
# Chance that a door heartbeat during working hours carries a (granted) badge event.
BADGE_CHANCE = 0.15
# Battery percentage lost per message: about 5 % a year at one message a minute.
BATTERY_DECAY = 0.000_01

# Climate shape, as fractions of the band's half-width so that narrow bands (film
# masters, 13-15 °C) get proportionally quieter rooms. With every term at its maximum a
# value sits within 0.1 + 0.25 + 3 * 0.05 = 0.5 of the half-width from the centre, so
# normal operation never leaves the band (RoomInfo.limits, archive-standards.md §1.1).
OFFSET_SHARE = 0.1  # per-sensor calibration offset
WAVE_SHARE = 0.25  # day-night wave amplitude
NOISE_SHARE = 0.05  # noise standard deviation, clipped at 3 sigma
# Absolute caps: the wave stays well under the allowed day-night swing of ±2 °C / ±5 %RH
# (JGJ 25-2010 §5.2.3, archive-standards.md §1.1); a quarter of it at most.
WAVE_SWING_SHARE = 0.25
TEMPERATURE_NOISE_CAP = 0.1  # °C
HUMIDITY_NOISE_CAP = 0.3  # %RH
# Buildings are warmest mid-afternoon; RH moves the other way at constant moisture.
WARMEST_HOUR = 15.0

# Light: UV must stay under 75 µW/lm (JGJ 25-2010 §5.5.2, ISO 11799 §6.5; archive-standards.md
# §1.1, §3.1); filtered stack lighting is far below that.
UV_MEAN, UV_SD, UV_MAX = 20.0, 4.0, 35.0  # µW/lm
LUX_ON, LUX_SD = 100.0, 8.0  # engineering value; the reference gives no stack lux figure
# Filtered stack air: PM2.5 in µg/m³ and VOC in mg/m³. DA/T 81 limits are UNVERIFIED
# (archive-standards.md §1.4), so these are clean-room engineering values.
PM25_MEAN, PM25_SD = 8.0, 2.0
VOC_MEAN, VOC_SD = 0.05, 0.01


@dataclass(slots=True)
class SensorState:
    """What one simulated sensor remembers between messages."""

    rng: random.Random
    seq: int = 0
    battery: float = 100.0
    temperature_offset: float = 0.0  # in [-1, 1], scaled by the band
    humidity_offset: float = 0.0


def new_state(sensor: SensorInfo, seed: int) -> SensorState:
    """A sensor's starting state, derived from the seed and its identity only."""
    # String seeds hash with SHA-512, so the stream does not depend on PYTHONHASHSEED.
    rng = random.Random(f"{seed}/{sensor.site}/{sensor.id}")  # noqa: S311 - not for secrets
    return SensorState(
        rng=rng,
        battery=rng.uniform(85.0, 100.0),
        temperature_offset=rng.uniform(-1.0, 1.0),
        humidity_offset=rng.uniform(-1.0, 1.0),
    )


def format_ts(when: datetime) -> str:
    """RFC 3339 in UTC with a Z, to the microsecond (the wire contract's ``ts``)."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def is_working_hours(facility: Facility, site: str, when: datetime) -> bool:
    """Weekday office hours in the site's time zone."""
    local = when.astimezone(facility.sites[site].timezone)
    return local.weekday() < SATURDAY and WORK_START <= local.time() < WORK_END


def next_payload(
    facility: Facility, sensor: SensorInfo, now: datetime, state: SensorState
) -> dict[str, Any]:
    """The sensor's next normal message; advances ``state`` (seq, battery, random stream)."""
    state.seq += 1
    state.battery = max(0.0, state.battery - BATTERY_DECAY)
    payload: dict[str, Any] = {"ts": format_ts(now), "seq": state.seq}
    rng = state.rng
    kind = sensor.kind
    if kind in (SensorKind.CLIMATE, SensorKind.HEAT):
        temperature, humidity = climate(facility, _room(facility, sensor), now, state)
        payload["temperature"] = temperature
        if kind is SensorKind.CLIMATE:
            payload["humidity"] = humidity
    elif kind is SensorKind.SMOKE:
        payload["smoke"] = False
    elif kind is SensorKind.DOOR:
        payload |= _door(facility, sensor, now, rng)
    elif kind is SensorKind.WATER_LEAK:
        payload["water_leak"] = False
    elif kind is SensorKind.LIGHT:
        payload |= _light(facility, sensor, now, rng)
    elif kind is SensorKind.DUST:
        payload["pm25"] = round(_clipped(rng, PM25_MEAN, PM25_SD), 1)
    elif kind is SensorKind.GAS:
        payload["voc"] = round(_clipped(rng, VOC_MEAN, VOC_SD), 3)
    payload["battery"] = round(state.battery, 3)
    return payload


def climate(
    facility: Facility, room: RoomInfo, now: datetime, state: SensorState
) -> tuple[float, float]:
    """Temperature (°C) and RH (%) near the middle of the room's bands, with a daily wave."""
    # Local time, so that the warmest hour is the site's own afternoon.
    local = now.astimezone(facility.sites[room.site].timezone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    # sin peaks a quarter-day after its zero crossing: shift so the peak is WARMEST_HOUR.
    wave = math.sin(2 * math.pi * (hour - WARMEST_HOUR + 6) / 24)
    limits = room.limits
    temperature = _in_band(
        limits.temperature,
        wave,
        state.temperature_offset,
        state.rng,
        swing=limits.temperature_swing,
        noise_cap=TEMPERATURE_NOISE_CAP,
    )
    humidity = _in_band(
        limits.humidity,
        -wave,
        state.humidity_offset,
        state.rng,
        swing=limits.humidity_swing,
        noise_cap=HUMIDITY_NOISE_CAP,
    )
    return round(temperature, 2), round(humidity, 1)


def _in_band(
    band: Band,
    wave: float,
    offset: float,
    rng: random.Random,
    *,
    swing: float,
    noise_cap: float,
) -> float:
    half = (band.max - band.min) / 2
    centre = band.min + half
    amplitude = min(WAVE_SHARE * half, WAVE_SWING_SHARE * swing)
    sigma = min(NOISE_SHARE * half, noise_cap)
    noise = max(-3 * sigma, min(3 * sigma, rng.gauss(0.0, sigma)))
    return centre + OFFSET_SHARE * half * offset + amplitude * wave + noise


def _door(
    facility: Facility, sensor: SensorInfo, now: datetime, rng: random.Random
) -> dict[str, Any]:
    # A granted badge opens the door; at night the door stays shut and nobody badges in.
    if is_working_hours(facility, sensor.site, now) and rng.random() < BADGE_CHANCE:
        badge = f"card-{rng.randint(1001, 1060)}"
        return {"door": "open", "forced": False, "badge": badge, "granted": True}
    return {"door": "closed", "forced": False}


def _light(
    facility: Facility, sensor: SensorInfo, now: datetime, rng: random.Random
) -> dict[str, Any]:
    if is_working_hours(facility, sensor.site, now):
        lux = _clipped(rng, LUX_ON, LUX_SD)
        uv = min(UV_MAX, _clipped(rng, UV_MEAN, UV_SD))
        return {"lux": round(lux, 1), "uv": round(uv, 1)}
    # Lights off: a dark room has no meaningful UV ratio, and sensors then report 0.
    return {"lux": round(rng.uniform(0.0, 1.0), 1), "uv": 0.0}


def _clipped(rng: random.Random, mean: float, sd: float) -> float:
    """Gaussian noise kept within 3 sigma and never negative."""
    return max(0.0, mean + max(-3 * sd, min(3 * sd, rng.gauss(0.0, sd))))


def _room(facility: Facility, sensor: SensorInfo) -> RoomInfo:
    room = facility.room(sensor.site, sensor.room)
    if room is None:
        raise ValueError(
            f"sensor {sensor.id!r} is in room {sensor.room!r}, unknown to the facility"
        )
    return room
