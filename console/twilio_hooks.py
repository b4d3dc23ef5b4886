"""Twilio's webhooks: an SMS reply, a keypress during an alarm call, a delivery report.

Each request must carry a valid ``X-Twilio-Signature`` for the public URL Twilio called
(``twilio.public_url`` + path); unsigned or mis-signed requests get 403 and change
nothing. Twilio retries a webhook that got no answer: the alarm service answers a
request id (MessageSid, CallSid with the digits, or the status report) it has seen with
its first reply, so a retry never acts twice.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from alerts.notifiers import Language
from alerts.notifiers.twilio_account import TwilioSettings
from alerts.service import AlarmService
from alerts.twilio_inbound import (
    messaging_reply,
    parse_keypress,
    parse_reply,
    signature_valid,
    voice_reply,
)
from console.context import ConsoleContext
from console.schemas import ErrorOut, RowId

PREFIX = "/twilio"
_XML = "application/xml"
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (403, 404, 503)}
_HELP = {
    "zh-CN": "回复 1、ACK 或 确认 可确认最近的报警；ACK 编号 可确认指定报警。",
    "en": "Reply 1, ACK or 确认 to acknowledge your latest alarm, or ACK <code> for one.",
}


async def _signed_form(
    request: Request, ctx: ConsoleContext
) -> tuple[AlarmService, TwilioSettings, dict[str, str]]:
    """The request's form, if Twilio signed it; 403 otherwise."""
    if ctx.twilio is None:
        raise HTTPException(404, "Twilio is not configured")
    if ctx.actions is None:
        raise HTTPException(503, "this console is read-only")
    params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    url = ctx.twilio.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature")
    if not signature_valid(ctx.twilio.auth_token, url, params, signature):
        raise HTTPException(403, "missing or invalid Twilio signature")
    return ctx.actions, ctx.twilio, params


def add_twilio_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """POST /api/twilio/sms, /api/twilio/voice/{id}/keypress, /api/twilio/status/{id}."""

    @router.post(f"{PREFIX}/sms", response_class=Response, responses=_ERRORS)
    async def sms_reply(request: Request) -> Response:
        """An SMS to Lantai's number: ``1``, ``ACK``, ``确认``, optionally with a code."""
        service, _, params = await _signed_form(request, ctx)
        sender = params.get("From", "")
        reply = parse_reply(params.get("Body", ""))
        if reply is None:
            person = service.routing.person_by_phone(sender)
            language = person.language if person is not None else "zh-CN"
            return Response(messaging_reply(_HELP[language]), media_type=_XML)
        request_id = f"sms:{params.get('MessageSid', '')}"
        answer = service.ack_by_phone(sender, reply.code, request_id)
        return Response(messaging_reply(answer.text), media_type=_XML)

    @router.post(
        f"{PREFIX}/voice/{{outbox_id}}/keypress", response_class=Response, responses=_ERRORS
    )
    async def keypress(outbox_id: RowId, request: Request) -> Response:
        """The digit pressed during an alarm call: 1 acknowledges, 2 escalates now."""
        service, _, params = await _signed_form(request, ctx)
        digits = params.get("Digits", "")
        key = parse_keypress(digits)
        request_id = f"call:{params.get('CallSid', '')}:{outbox_id}:{digits}"
        answer = service.keypress(outbox_id, "" if key is None else key.value, request_id)
        language: Language = "en" if answer.language == "en" else "zh-CN"
        return Response(voice_reply(answer.text, language), media_type=_XML)

    @router.post(f"{PREFIX}/status/{{outbox_id}}", status_code=204, responses=_ERRORS)
    async def status(outbox_id: RowId, request: Request) -> Response:
        """Twilio's delivery report for a message or call Lantai placed."""
        service, _, params = await _signed_form(request, ctx)
        sid = params.get("MessageSid") or params.get("CallSid") or ""
        state = params.get("MessageStatus") or params.get("CallStatus") or ""
        error = params.get("ErrorCode") or None
        if not sid or not state:
            raise HTTPException(422, "a status report names its SID and status")
        if not service.provider_status(sid, state, error):
            raise HTTPException(404, f"{sid} is not a message of outbox row {outbox_id}")
        return Response(status_code=204)
