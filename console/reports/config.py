"""The reports' settings: how the climate figures treat missing data.

Validated once where the settings file is read; the builder takes the model as it is.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from sensors.duration import PositiveDuration


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A climate sample stands for the time until the next one, but at most this long;
    # beyond it the room counts as "no data" (a gap). The preservation rule writes a
    # sample a minute (rules/preservation_rule.py), and the silence alarm speaks after
    # three missed intervals, so ten minutes without a sample is an outage, not jitter.
    # Engineering default, no standard.
    sample_hold: PositiveDuration = timedelta(minutes=10)
    # How many of a room's longest gaps the report lists (all are counted).
    longest_gaps: int = Field(default=5, ge=0, le=100)
