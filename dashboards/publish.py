"""Publish the boards to an existing Grafana over its HTTP API (grafana-client).

For a Grafana that Lantai's compose stack does not provision (a regional or shared one).
grafana-client is an optional extra (``pip install 'lantai[grafana]'``) and is imported only
inside :func:`publish`: it pulls niquests and urllib3-future, which have no place in the
runtime that runs ``lantai run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi

    from dashboards.model import Dashboard

FOLDER_UID: Final = "lantai"
FOLDER_TITLE: Final = "Lantai"
NOT_FOUND: Final = 404
TIMEOUT_SECONDS: Final = 10.0


class PublishError(Exception):
    """Grafana refused or could not be reached; the message says which board and why."""


@dataclass(frozen=True, slots=True)
class Published:
    """What Grafana answered for one board."""

    uid: str
    url: str
    version: int


def publish(
    url: str, token: SecretStr, boards: Sequence[Dashboard], *, timeout: float = TIMEOUT_SECONDS
) -> list[Published]:
    """Ensure the folder "Lantai", then create or overwrite every board in it (by uid)."""
    # Lazy on purpose (module docstring): the runtime never imports grafana-client.
    try:
        from grafana_client.api import GrafanaApi  # noqa: PLC0415
        from grafana_client.client import GrafanaClientError, GrafanaException  # noqa: PLC0415
    except ImportError as exc:
        raise PublishError(
            "publishing needs grafana-client: pip install 'lantai[grafana]'"
        ) from exc

    api = GrafanaApi.from_url(url, credential=token.get_secret_value(), timeout=timeout)
    try:
        _ensure_folder(api, GrafanaClientError)
    except GrafanaException as exc:
        raise PublishError(f"folder {FOLDER_UID}: {_reason(exc)}") from exc
    except OSError as exc:  # connection refused, DNS: niquests raises OSError subclasses
        raise PublishError(f"cannot reach Grafana at {_safe(url)}: {exc}") from exc
    return [_save(api, board, GrafanaException) for board in boards]


def _ensure_folder(api: GrafanaApi, client_error: type[Exception]) -> None:
    """Create the folder unless it exists; a 404 is the only "no" we act on."""
    try:
        api.folder.get_folder(FOLDER_UID)  # type: ignore[no-untyped-call]  # library lacks hints
    except client_error as exc:
        if getattr(exc, "status_code", None) != NOT_FOUND:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)  # type: ignore[no-untyped-call]


def _save(api: GrafanaApi, board: Dashboard, grafana_error: type[Exception]) -> Published:
    """Create or overwrite one board by its uid (``overwrite``: the code is the truth)."""
    try:
        answer: dict[str, Any] = api.dashboard.update_dashboard(  # type: ignore[no-untyped-call]
            {
                "dashboard": board.to_json(),
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "lantai dashboards publish",
            }
        )
    except (grafana_error, OSError) as exc:
        raise PublishError(f"board {board.uid}: {_reason(exc)}") from exc
    return Published(
        uid=str(answer.get("uid", board.uid)),
        url=str(answer.get("url", "")),
        version=int(answer.get("version", 0)),
    )


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    # Grafana's own words ({"message": …}) rather than grafana-client's "Client Error 412: …".
    response = getattr(exc, "response", None)
    message = response.get("message") if isinstance(response, dict) else None
    message = message or getattr(exc, "message", None) or str(exc)
    return f"HTTP {status}: {message}" if status else str(message)


def _safe(url: str) -> str:
    """The URL without any user:password in it, for error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
