"""schemathesis against the console's OpenAPI document, as every kind of caller.

The console is built as tests/test_role_matrix.py builds it (real stores, the real alarm
and inspection services, an archive with alarms, tasks, a hazard and a photo) and served
by uvicorn on a free port. Each of the five roles logs in, plus a supervisor of another
site and a stranger; for every operation of the app's document schemathesis generates
requests (valid ones, invalid ones, and valid ones aimed at real ids) and sends them over
HTTP with the caller's session cookie and CSRF header. Every answer must be no server
error, declared in the document for that operation, and shaped as the document says. A
caller the role matrix's table refuses on a route must be refused there on every
generated request (401 for the stranger, 403 for the rest), never let through.

Repeatable: hypothesis draws with ``derandomize=True`` and no example database, so every
run sends the same requests; a few per operation keep the file near a minute.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from console.app import create_app
from console.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from console.openapi import openapi_document
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import DESK_PASSWORD, SITE, console_stores, serve
from tests.test_role_matrix import (
    ACCOUNTS,
    CALLERS,
    EXPECTED,
    OTHER_SITE,
    STRANGER,
    SUPERVISOR,
    Archive,
    RecordingInjector,
    matrix_alerting,
)

# Examples per operation and caller, in each of the three passes.
VALID, INVALID, REAL_IDS = 5, 3, 4
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
LOGIN, LOGOUT = ("POST", "/api/auth/login"), ("POST", "/api/auth/logout")
# Never ends by itself; who may open it is the role matrix's test (it reads the head only).
STREAM = ("GET", "/api/alarms/stream")


@dataclass
class Site:
    url: str
    archive: Archive
    schema: Any  # schemathesis' OpenAPI schema of the app


@pytest.fixture
def site(tmp_path: Path, facility: Facility) -> Iterator[Site]:
    # Monday 09:00 in Shanghai: the morning patrols are open, as in the role matrix.
    clock = FakeClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    with console_stores(tmp_path, facility, clock, matrix_alerting(tmp_path)) as console:
        app = create_app(console.context(demo=RecordingInjector(), metrics=list))
        from pydantic import SecretStr  # noqa: PLC0415

        for name, (role, sites) in ACCOUNTS.items():
            console.auth.users.add(name, SecretStr(DESK_PASSWORD), role, sites)
        with serve(app) as url:
            console.url = url
            document = tuples_as_items(copy.deepcopy(app.openapi()))
            yield Site(url, Archive(console), schemathesis.openapi.from_dict(document))


def tuples_as_items(node: Any) -> Any:
    """The document with each same-typed tuple (``prefixItems``, as pydantic writes
    ``tuple[float, float]``) said as ``items`` of that type: the same constraint, since
    both have min and max items. schemathesis' response validation rewrites prefixItems
    into the older list form of ``items`` and then refuses it as an invalid schema
    (schemathesis issues #3842, #4099)."""
    if isinstance(node, list):
        return [tuples_as_items(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: tuples_as_items(value) for key, value in node.items()}
    prefix = out.get("prefixItems")
    if prefix and all(item == prefix[0] for item in prefix) and "items" not in out:
        assert out.get("minItems") == out.get("maxItems") == len(prefix), out
        out["items"] = out.pop("prefixItems")[0]
    return out


def session_for(site: Site, caller: str) -> httpx.Client:
    """A client as ``caller``: its cookie, and the CSRF header the desk's page sends."""
    # A connection per request: on a kept-alive connection to the test's uvicorn every
    # answer after the first takes ~44 ms here (a new connection: ~1.5 ms).
    client = httpx.Client(base_url=site.url, timeout=10, headers={"Connection": "close"})
    if caller != STRANGER:
        credentials = {"username": caller, "password": DESK_PASSWORD}
        answer = client.post("/api/auth/login", json=credentials)
        assert answer.status_code == 200, answer.text
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    return client


def _file_part(name: str, part: Any) -> tuple[str, Any]:
    """A multipart part as httpx takes it: requests writes any value as text, httpx wants
    bytes, text or a file (a generated form field may be a number or null)."""
    filename, content, *rest = part if isinstance(part, tuple) else (None, part)
    if not isinstance(content, str | bytes):
        content = "" if content is None else json.dumps(content)
    return name, (filename, content, *rest)


def send_case(client: httpx.Client, case: Any, base_url: str) -> httpx.Response:
    """The case's request, sent with httpx.

    schemathesis' own transport is requests, whose connection pool it inspects; the dev
    install's urllib3-future (pulled in by grafana-client) has another pool, and that
    transport fails on it. The case serialises to requests' keywords; httpx takes them
    but for a raw body, which it calls ``content``.
    """
    kwargs = case.as_transport_kwargs(base_url=base_url)
    kwargs.pop("timeout", None)
    kwargs.pop("allow_redirects", None)
    if isinstance(kwargs.get("data"), str | bytes):
        kwargs["content"] = kwargs.pop("data")
    if "files" in kwargs:
        kwargs["files"] = [_file_part(name, part) for name, part in kwargs["files"]]
    # The document's security schemes make schemathesis invent credentials (a bearer token,
    # a session cookie); the caller's own are what this test is about, so those go. So
    # does requests' "Connection: keep-alive" (see session_for).
    headers = kwargs.pop("headers", {})
    kwargs["headers"] = {
        k: v for k, v in headers.items() if k.lower() not in {"authorization", "connection"}
    }
    cookies = {k: v for k, v in (kwargs.pop("cookies", None) or {}).items() if k != SESSION_COOKIE}
    # Generated cookies go with the caller's own (a session cookie among them overrides).
    for name, value in cookies.items():
        client.cookies.set(name, value)
    try:
        response = client.request(**kwargs)
        response.request.read()  # a multipart body is streamed; the checks read it
        return response
    finally:
        for name in cookies:
            client.cookies.delete(name)


def real_ids(archive: Archive) -> dict[str, Any]:
    """Path parameters naming things that exist (a fresh alarm and window per operation)."""
    return {
        "site": SITE,
        "room": "B2-01",
        "alarm_id": archive.alarm(),
        "window_id": archive.window(),
        "task_id": archive.task.id,
        "item_key": archive.check_item,
        "hazard_id": archive.hazard_id,
        "photo_id": archive.photo_id,
        "category": "fire",
        "period": "daily",
        "outbox_id": 1,
    }


def refusal_problem(caller: str, key: tuple[str, str], status: int, mode: str) -> str | None:
    """What is wrong with ``status`` as the answer to ``caller`` on a route the role
    matrix's table refuses them, or None.

    A refusal by role comes from the gate before the request is read, so a well-formed
    request gets exactly 401 (the stranger) or 403, and an invalid one anything but a way
    through (FastAPI reads the body first: 400 for one it cannot decode). A supervisor of
    another site is refused by the site of what the request names: made-up ids and sites
    (the first two passes) may name nothing, or their own site, so only the pass aimed at
    this site's real things must be refused, with 403 (or 422 for a body that fails
    validation before the thing is looked up).
    """
    if caller in EXPECTED[key]:
        return None
    refused = 401 if caller == STRANGER else 403
    if caller == OTHER_SITE and SUPERVISOR in EXPECTED[key]:  # refused by site, not role
        if mode != "real ids" or status in {refused, 422}:
            return None
        return f"{caller} must be refused with {refused} on this site's things"
    if status < 400:
        return f"{caller} got through ({status})"
    if mode == "invalid" or status == refused:
        return None
    return f"{caller} must be refused with {refused}"


def run_examples(
    strategy: Any,
    count: int,
    send: Callable[[Any], None],
) -> None:
    """``count`` cases drawn from ``strategy``, the same on every run, each sent."""

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def each(case: Any) -> None:
        send(case)

    each()


class Walk:
    """One caller's requests, and what went wrong with their answers."""

    def __init__(self, site: Site, caller: str) -> None:
        self.site = site
        self.caller = caller
        self.session = session_for(site, caller)
        self.problems: list[str] = []
        self.sent = 0

    def operation(self, key: tuple[str, str], operation: Any) -> None:
        """The three passes over one operation: valid, invalid, aimed at real things."""
        run_examples(operation.as_strategy(), VALID, self._sender(key, "valid"))
        # Invalid requests need an input to spoil: a path, query or body parameter.
        if operation.path_parameters or operation.query or operation.body:
            strategy = operation.as_strategy(GenerationMode.NEGATIVE)
            run_examples(strategy, INVALID, self._sender(key, "invalid"))
        names = {p.name for p in operation.path_parameters}
        query = {"site": SITE} if "site" in {p.name for p in operation.query} else None
        if names or query:
            ids = real_ids(self.site.archive)
            strategy = operation.as_strategy(
                path_parameters={name: ids[name] for name in names}, query=query
            )
            run_examples(strategy, REAL_IDS, self._sender(key, "real ids"))

    def _sender(self, key: tuple[str, str], mode: str) -> Callable[[Any], None]:
        return lambda case: self._send(key, mode, case)

    def _send(self, key: tuple[str, str], mode: str, case: Any) -> None:
        # A logout ends the session it is sent with, and a login starts another: both go
        # on a session of their own, so the caller's stays as it was.
        if key == LOGOUT:
            client = session_for(self.site, self.caller)
        elif key == LOGIN:
            client = session_for(self.site, STRANGER)
        else:
            client = self.session
        response = send_case(client, case, self.site.url)
        self.sent += 1
        label = f"{key[0]} {case.formatted_path} ({mode}) -> {response.status_code}"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:  # every check that failed on this response
            self.problems.extend(f"{label}: {f.title}: {f.message[:300]}" for f in group.exceptions)
        wrong = refusal_problem(self.caller, key, response.status_code, mode)
        if wrong is not None:
            self.problems.append(f"{label}: {wrong}")


@pytest.mark.parametrize("caller", CALLERS)
def test_generated_requests_as(site: Site, caller: str) -> None:
    operations = {}
    for result in site.schema.get_all_operations():
        operation = result.ok()
        operations[(operation.method.upper(), operation.path)] = operation
    assert set(operations) == set(EXPECTED), "tests/test_role_matrix.py's table is out of date"
    walk = Walk(site, caller)
    # The login last: its failed attempts count towards the address's throttle.
    ordered = sorted((k for k in operations if k != STREAM), key=lambda k: k == LOGIN)
    for key in ordered:
        walk.operation(key, operations[key])
    assert walk.sent >= len(ordered) * VALID
    if walk.problems:
        pytest.fail("\n".join(sorted(set(walk.problems))), pytrace=False)


def test_the_document_declares_what_fastapi_answers_before_a_route() -> None:
    """The bugs this file found, as a check of the document alone (console/request_errors.py)."""
    document = openapi_document()
    validation = {"$ref": "#/components/schemas/HTTPValidationError"}
    bodies = unprocessable = 0
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                bodies += 1
                assert "400" in responses, operation["operationId"]
            if "422" in responses:
                unprocessable += 1
                schema = responses["422"]["content"]["application/json"]["schema"]
                assert validation in schema["anyOf"], operation["operationId"]
    assert bodies > 10
    assert unprocessable > 20
