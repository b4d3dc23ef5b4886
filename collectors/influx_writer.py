"""The narrow seam to InfluxDB: write one body of line protocol, or say why not.

``InfluxClientWriter`` adapts the influxdb-client library's synchronous write API (gzip
on, precision ns). The library's own retries are off: retry and backoff live in the
forwarder only (collectors.influx_forwarder), so there is one policy, and it is tested.
"""

from __future__ import annotations

from typing import Protocol, cast

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from collectors.influx_settings import InfluxSettings

# How much of an error body is kept: InfluxDB's JSON error names the bad line.
_DETAIL_CHARS = 500


class WriteFailed(Exception):  # noqa: N818 - reads as "the write failed"
    """InfluxDB did not take the body: its HTTP status (None: no answer) and Retry-After."""

    def __init__(self, status: int | None, detail: str, retry_after: str | None = None) -> None:
        super().__init__(f"{status or 'no answer'}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class InfluxWriter(Protocol):
    """Writes line protocol; ``write`` returns on 2xx and raises WriteFailed otherwise."""

    def start(self) -> None: ...

    def write(self, body: bytes) -> None: ...

    def stop(self) -> None: ...


class InfluxClientWriter:
    """influxdb-client's synchronous WriteApi: one HTTP request per ``write``."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._client: InfluxDBClient | None = None
        self._api: WriteApi | None = None

    def start(self) -> None:
        s = self._settings
        self._client = InfluxDBClient(
            url=s.url,
            # Empty: no Authorization header at all (a server without authentication).
            token=s.token.get_secret_value() if s.token is not None else "",
            org=s.org,
            timeout=int(s.timeout_s * 1000),
            enable_gzip=True,
            retries=False,  # one retry policy: the forwarder's
            ssl_ca_cert=str(s.ca_file) if s.ca_file is not None else None,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes) -> None:
        if self._api is None:
            raise RuntimeError("the InfluxDB writer is not started")
        try:
            self._api.write(
                bucket=self._settings.bucket,
                org=self._settings.org,
                record=body,
                # The library types its enum members as plain strings.
                write_precision=cast("WritePrecision", WritePrecision.NS),
            )
        except ApiException as exc:
            headers: dict[str, str] = {k.lower(): v for k, v in (exc.headers or {}).items()}
            body_text = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else ""
            raise WriteFailed(
                exc.status,
                (body_text or str(exc.reason))[:_DETAIL_CHARS],
                headers.get("retry-after"),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Refused, reset, timed out: no answer. The message names host and port only.
            raise WriteFailed(None, f"{type(exc).__name__}: {exc}"[:_DETAIL_CHARS]) from None

    def stop(self) -> None:
        if self._api is not None:
            self._api.close()  # type: ignore[no-untyped-call]
            self._api = None
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None
