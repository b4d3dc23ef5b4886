"""Room classes and their climate limits.

Every number here comes from ../shared/reference/archive-standards.md:
- §1.1, JGJ 25-2010 Table 5.2.1/5.2.2: temperature and RH bands per stack type;
- §1.1, JGJ 25-2010 §5.2.3 and §1.2, 1987 rules art. 7: the day-night fluctuation
  must stay within ±2 °C and ±5 % RH;
- §1.3, DA/T 87-2021: the optical disc store (15-20 °C, 25-45 %).
A facility file may add classes or override a room's limits.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Config data: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalName(StrictModel):
    """A name in Chinese and English; Chinese comes first for our users."""

    zh: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class Band(StrictModel):
    """An allowed range, inclusive at both ends."""

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self

    def contains(self, value: float) -> bool:
        return self.min <= value <= self.max


class ClimateLimits(StrictModel):
    """Temperature (°C) and relative humidity (%RH) bands and the allowed day-night swing."""

    temperature: Band
    humidity: Band
    # "±2 °C": the reading may move 2 °C either way of its daily level (JGJ 25-2010 §5.2.3).
    temperature_swing: float = Field(default=2.0, gt=0)
    humidity_swing: float = Field(default=5.0, gt=0)


class ClimateLimitsOverride(StrictModel):
    """A room's changes to its class limits; what is left out is inherited."""

    temperature: Band | None = None
    humidity: Band | None = None
    temperature_swing: float | None = Field(default=None, gt=0)
    humidity_swing: float | None = Field(default=None, gt=0)

    def apply(self, base: ClimateLimits) -> ClimateLimits:
        changes = {
            name: getattr(self, name)
            for name in type(self).model_fields
            if getattr(self, name) is not None
        }
        return base.model_copy(update=changes)


class RoomClass(StrictModel):
    """A kind of store (paper stack, film masters, ...) and the climate it needs."""

    name: LocalName
    limits: ClimateLimits


def _cls(zh: str, en: str, t: tuple[float, float], rh: tuple[float, float]) -> RoomClass:
    return RoomClass(
        name=LocalName(zh=zh, en=en),
        limits=ClimateLimits(
            temperature=Band(min=t[0], max=t[1]), humidity=Band(min=rh[0], max=rh[1])
        ),
    )


def builtin_room_classes() -> dict[str, RoomClass]:
    """The stack types of JGJ 25-2010 Table 5.2.1 and DA/T 87-2021 (archive-standards.md §1)."""
    return {
        "paper": _cls("纸质档案库", "Paper records stack", (14, 24), (45, 60)),
        "special": _cls("特藏库", "Special collections stack", (14, 20), (45, 55)),
        "av_tape": _cls("音像磁带库", "Audio-visual tape stack", (14, 24), (40, 60)),
        "film_copy": _cls("胶片库（拷贝片）", "Film stack, copies", (14, 24), (40, 60)),
        "film_master": _cls("胶片库（母片）", "Film stack, masters", (13, 15), (35, 45)),
        "optical_disc": _cls("光盘库", "Optical disc stack", (15, 20), (25, 45)),
    }
