"""What a message says, in the recipient's language, sized for its channel.

An SMS fits one segment where it can: 70 characters when it holds Chinese (UCS-2) and
160 in English (GSM-7); the alarm's own text is shortened first, never the code or the
way to acknowledge. It names the site, room, what and when, and the short code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from alerts.models import Alarm, Via
from alerts.notifiers import Channel, Language, MessageKind
from sensors.events import Severity
from sensors.facility import Facility

SMS_SEGMENT = {"zh-CN": 70, "en": 160}

_SEVERITY = {
    "zh-CN": {
        Severity.CRITICAL: "紧急",
        Severity.HIGH: "重要",
        Severity.MEDIUM: "一般",
        Severity.LOW: "提示",
    },
    "en": {
        Severity.CRITICAL: "CRITICAL",
        Severity.HIGH: "HIGH",
        Severity.MEDIUM: "MEDIUM",
        Severity.LOW: "LOW",
    },
}
_VIA = {
    "zh-CN": {
        Via.CONSOLE: "值班台",
        Via.API: "接口",
        Via.SMS: "短信",
        Via.VOICE: "电话",
        Via.RULE: "规则",
        Via.SYSTEM: "系统",
    },
    "en": {v: v.value for v in Via},
}


@dataclass(frozen=True, slots=True)
class Brief:
    """An incident as one message tells it."""

    incident_id: int
    site: str
    room: str | None
    severity: Severity
    headline: Alarm  # the most urgent alarm, newest first among equals
    alarms: int  # how many alarms the incident holds
    rooms: int  # how many rooms they are in
    flood: bool
    at: datetime  # when the headline alarm was raised
    acked_by: str | None = None  # a person's name
    acked_via: Via | None = None

    @property
    def code(self) -> str:
        return str(self.incident_id)


@dataclass(frozen=True, slots=True)
class Text:
    subject: str
    text: str
    data: Mapping[str, object]


def render(
    brief: Brief,
    kind: MessageKind,
    channel: Channel,
    language: Language,
    facility: Facility,
    *,
    sms_reply: bool = True,
) -> Text:
    """The subject, body and webhook data of one message."""
    site = facility.sites.get(brief.site)
    zone = site.timezone if site is not None else None
    local = brief.at.astimezone(zone) if zone is not None else brief.at
    site_name = (
        brief.site if site is None else (site.name.zh if language == "zh-CN" else site.name.en)
    )
    what = brief.headline.message_zh if language == "zh-CN" else brief.headline.message_en
    sev = _SEVERITY[language][brief.severity]
    zh = language == "zh-CN"
    if kind is MessageKind.ALARM:
        ack = _how_to_ack(channel, zh=zh, sms_reply=sms_reply)
        head, tail = _alarm_parts(brief, site_name, sev, local, ack, zh=zh)
    elif kind is MessageKind.ACKED:
        who = brief.acked_by or "?"
        via = _VIA[language][brief.acked_via or Via.CONSOLE]
        head = (
            f"兰台#{brief.code} 已由{who}确认（{via}）："
            if zh
            else (f"Lantai #{brief.code} acknowledged by {who} ({via}): ")
        )
        tail = ""
    else:
        head = f"兰台#{brief.code} 已恢复正常：" if zh else f"Lantai #{brief.code} back to normal: "
        tail = ""
    if channel is Channel.SMS:
        if not zh:
            head, what, tail = _gsm(head), _gsm(what), _gsm(tail)
        # A name in Chinese makes even an English SMS UCS-2: size it for 70 then.
        segment = SMS_SEGMENT[language] if (head + tail).isascii() else SMS_SEGMENT["zh-CN"]
        what = _fit(what, segment - len(head) - len(tail), zh=zh)
    elif channel is Channel.VOICE:
        # The code is said once, digit by digit, by _spoken: "#57" would be "fifty-seven".
        head = head.replace(f"#{brief.code}", "").replace("  ", " ")
        head, tail = _spoken(head, brief, zh=zh), _spoken_tail(tail, zh=zh)
    text = f"{head}{what}{tail}"
    subject = _subject(brief, kind, site_name, sev, zh=zh)
    data = {
        "incident": brief.incident_id,
        "site": brief.site,
        "room": brief.room,
        "severity": brief.severity.value,
        "flood": brief.flood,
        "alarms": brief.alarms,
        "rooms": brief.rooms,
        "headline": {
            "alarm": brief.headline.id,
            "rule": brief.headline.rule,
            "sensor": brief.headline.sensor,
            "room": brief.headline.room,
            "message_zh": brief.headline.message_zh,
            "message_en": brief.headline.message_en,
            "raised_at": brief.headline.raised_at.isoformat(),
        },
        "acked_by": brief.acked_by,
    }
    return Text(subject, text, data)


def _how_to_ack(channel: Channel, *, zh: bool, sms_reply: bool) -> str:
    if channel is Channel.SMS and sms_reply:
        return "回复1确认" if zh else "Reply 1 to ack"
    if channel is Channel.SMS:
        return "请接听电话或在值班台确认" if zh else "Ack by phone or console"
    return (
        "请在值班台或回复报警短信确认" if zh else "Acknowledge in the console or reply to the SMS"
    )


def _alarm_parts(
    brief: Brief, site_name: str, sev: str, local: datetime, ack: str, *, zh: bool
) -> tuple[str, str]:
    more = brief.alarms - 1
    if zh:
        if brief.flood:
            counts = f"{brief.alarms}条/{brief.rooms}库房"
            head = f"兰台报警洪泛#{brief.code} {site_name}：{counts}，最高{sev}："
        else:
            head = f"兰台{sev}#{brief.code} {site_name}："
        extra = f"等{brief.alarms}条" if more > 0 and not brief.flood else ""
        return head, f"{extra} {local:%H:%M}。{ack}"
    if brief.flood:
        head = (
            f"Lantai FLOOD #{brief.code} {site_name}: {brief.alarms} alarms in "
            f"{brief.rooms} rooms, worst {sev}: "
        )
    else:
        head = f"Lantai {sev} #{brief.code} {site_name}: "
    extra = f" (+{more} more)" if more > 0 and not brief.flood else ""
    return head, f"{extra} at {local:%H:%M}. {ack}"


def _spoken(head: str, brief: Brief, *, zh: bool) -> str:
    # The code is read digit by digit: "57" as "五七", not "五十七", to match the SMS.
    digits = " ".join(brief.code)
    if zh:
        return f"这里是兰台报警，编号 {digits}。{head}"
    return f"This is a Lantai alarm, number {digits}. {head}"


def _spoken_tail(tail: str, *, zh: bool) -> str:
    # The keypress prompt is the call's own; the SMS's "reply 1" would mislead here.
    cut = tail.split("。", maxsplit=1)[0] if zh else tail.split(". ", maxsplit=1)[0]
    return cut + ("。" if zh else ".")


def _subject(brief: Brief, kind: MessageKind, site_name: str, sev: str, *, zh: bool) -> str:
    where = brief.room or site_name
    if kind is MessageKind.ALARM:
        if brief.flood:
            return (
                f"[兰台] 报警洪泛 #{brief.code} {site_name}"
                if zh
                else (f"[Lantai] Alarm flood #{brief.code} {site_name}")
            )
        return (
            f"[兰台][{sev}] #{brief.code} {site_name} {where}"
            if zh
            else (f"[Lantai][{sev}] #{brief.code} {site_name} {where}")
        )
    if kind is MessageKind.ACKED:
        return f"[兰台] #{brief.code} 已确认" if zh else f"[Lantai] #{brief.code} acknowledged"
    return f"[兰台] #{brief.code} 已恢复" if zh else f"[Lantai] #{brief.code} back to normal"


def _fit(text: str, room: int, *, zh: bool) -> str:
    if len(text) <= room:
        return text
    ellipsis = "…" if zh else "..."
    if room <= len(ellipsis):
        return ""
    return text[: room - len(ellipsis)] + ellipsis


# One character outside GSM-7 turns an English SMS into UCS-2 and halves its segment.
_GSM_SUBSTITUTES = str.maketrans({"°": "", "…": "...", "–": "-", "—": "-", "µ": "u", "³": "3"})


def _gsm(text: str) -> str:
    return text.translate(_GSM_SUBSTITUTES)
