"""The wire contract's payload: what a sensor may say in one MQTT message.

External sensors and gateways depend on this; keep it stable. Ranges are the sensors'
physical ranges, not the rooms' limits: a reading outside them is not a bad climate but
a broken sensor or a corrupted message, so it is refused with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# Timestamps outside this window are a sensor whose clock was never set (1970) or garbage.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TS = datetime(2100, 1, 1, tzinfo=UTC)

# The measurement fields, in the order the store keeps them.
MEASUREMENTS = (
    "temperature",
    "humidity",
    "smoke",
    "door",
    "forced",
    "badge",
    "granted",
    "water_leak",
    "lux",
    "uv",
    "pm25",
    "voc",
    "battery",
)


def check_timestamp(when: datetime | None) -> datetime | None:
    """Refuse naive times (which zone?) and clocks that were never set."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise PydanticCustomError("bad_timestamp", "ts needs a UTC offset (e.g. Z or +08:00)")
    when = when.astimezone(UTC)
    if not EARLIEST_TS <= when < LATEST_TS:
        raise PydanticCustomError(
            "bad_timestamp", "ts is outside 2000-2100: is the sensor clock set?"
        )
    return when


class ReadingPayload(BaseModel):
    """One sensor message. Unknown keys are kept (``model_extra``), wrong types refused."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    temperature: float | None = Field(default=None, ge=-60, le=150)  # °C, heat detectors incl.
    humidity: float | None = Field(default=None, ge=0, le=100)  # %RH
    smoke: bool | None = None
    door: Literal["open", "closed"] | None = None
    forced: bool | None = None
    badge: str | None = Field(default=None, min_length=1, max_length=64)
    granted: bool | None = None
    water_leak: bool | None = None
    lux: float | None = Field(default=None, ge=0, le=200_000)
    uv: float | None = Field(default=None, ge=0, le=100_000)  # µW/lm
    pm25: float | None = Field(default=None, ge=0, le=10_000)  # µg/m³
    voc: float | None = Field(default=None, ge=0, le=1_000)  # mg/m³
    battery: float | None = Field(default=None, ge=0, le=100)  # %
    # RFC 3339 text, or Unix epoch seconds or milliseconds: pydantic's own (Rust) datetime
    # parsing, lax for this field only, tells seconds from ms (above 2e10 is ms). It costs
    # half of a Python validator on the hot path; the offset and range are checked after.
    ts: Annotated[datetime | None, Field(strict=False), AfterValidator(check_timestamp)] = None
    seq: int | None = Field(default=None, ge=0, le=2**63 - 1)

    def measurements(self) -> dict[str, object]:
        """The known measurement fields that this message carries."""
        return {
            name: getattr(self, name) for name in MEASUREMENTS if getattr(self, name) is not None
        }
