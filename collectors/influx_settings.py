"""Settings of the InfluxDB sink: where to write, and how hard to try.

The ``influx:`` section of ``lantai run``'s settings file (collectors/example-influx.yaml
shows one); without it Lantai keeps its readings in SQLite only. The token belongs in the
environment: ``LANTAI_INFLUX__TOKEN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class InfluxSettings(BaseModel):
    """An InfluxDB 2 (or any server of its v2 write API) and the forwarder's tuning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    # InfluxDB 2 needs one (an all-access or a write token for the bucket); a server
    # without authentication (VictoriaMetrics) does not.
    token: SecretStr | None = None
    # A private CA's certificate for an https url (a regional InfluxDB behind its own CA).
    ca_file: Path | None = None
    # Points per write request. InfluxDB's guidance is 5,000 lines a batch.
    batch_points: int = Field(default=5000, ge=1, le=100_000)
    # How often the forwarder looks for new readings when it has caught up.
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    # One request's time limit; a hung server counts as down after it.
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Backoff after a failed write: doubles from the first to the cap. A Retry-After the
    # server sends is honoured instead, up to the cap.
    retry_initial_s: float = Field(default=1.0, gt=0, le=3600)
    retry_max_s: float = Field(default=60.0, gt=0, le=3600)
    # The spool (points stored locally, not yet in InfluxDB) is bounded: past it, the
    # oldest are skipped (they stay in the local store) and counted as dropped.
    spool_max_points: int = Field(default=5_000_000, ge=1)
    # From this fraction of the bound on the spool counts as nearly full (an alarm).
    spool_near_full: float = Field(default=0.8, gt=0, lt=1)
    # Free space below this in the store's folder raises the same alarm (SQLite keeps
    # everything, and a full disk stops the store).
    min_free_disk_mb: int = Field(default=1024, ge=0)
    # InfluxDB refusing or unreachable this long raises the alarm too.
    outage_alarm_after_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError("retry_initial_s must not exceed retry_max_s")
        return self
