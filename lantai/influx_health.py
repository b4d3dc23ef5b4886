"""The InfluxDB sink's alarm: the spool nearly full, the disk low, or InfluxDB away long.

Checked on the service's timer. It raises and clears through the alarm service the way the
rules do (an ``AlarmEvent`` per site, so every site's desk sees it), and re-raises when
the reason changes, so the alarm's text always names what is wrong now.
"""

from __future__ import annotations

from collectors.influx_forwarder import InfluxForwarder, InfluxState
from sensors.clock import Clock
from sensors.events import AlarmEvent, AlarmSink, Category, Severity, Transition
from sensors.facility import Facility

RULE = "influx_spool"

_ZH = {
    "disk_low": "存储所在磁盘剩余 {free} MB",
    "spool_near_full": "待写入 InfluxDB 的缓存已达 {depth}/{capacity} 点，满后最旧数据将不再写入",
    "influx_unreachable": "InfluxDB 自 {since} 起无法写入（{error}）",
}
_EN = {
    "disk_low": "{free} MB free on the store's disk",
    "spool_near_full": "InfluxDB spool at {depth}/{capacity} points; when full the oldest "
    "are not written",
    "influx_unreachable": "InfluxDB refusing or unreachable since {since} ({error})",
}


class InfluxHealthAlarm:
    """Raises ``influx_spool`` while the forwarder reports a problem; clears it after."""

    def __init__(
        self, forwarder: InfluxForwarder, alarms: AlarmSink, facility: Facility, clock: Clock
    ) -> None:
        self._forwarder = forwarder
        self._alarms = alarms
        self._sites = sorted(facility.sites)
        self._clock = clock
        # None until the first check: an alarm left open by the last run is cleared then.
        self._raised: tuple[str, ...] | None = None

    def check(self) -> None:
        state = self._forwarder.state()
        problems = tuple(state.problems)
        if problems == self._raised:
            return
        now = self._clock.now()
        if problems:
            zh, en = _texts(state, problems)
            transition = Transition.RAISE
        else:
            zh, en = "InfluxDB 写入已恢复", "InfluxDB writes recovered"
            transition = Transition.CLEAR
        self._alarms.publish(
            [
                AlarmEvent(
                    key=f"{RULE}:{site}",
                    transition=transition,
                    rule=RULE,
                    category=Category.SYSTEM,
                    severity=Severity.HIGH,
                    site=site,
                    room=None,
                    sensor=None,
                    at=now,
                    message_zh=zh,
                    message_en=en,
                    value=state.depth,
                )
                for site in self._sites
            ]
        )
        self._raised = problems


def _texts(state: InfluxState, problems: tuple[str, ...]) -> tuple[str, str]:
    values = {
        "free": state.disk_free_mb,
        "depth": state.depth,
        "capacity": state.capacity,
        "since": state.failing_since.strftime("%Y-%m-%d %H:%M UTC") if state.failing_since else "?",
        "error": (state.last_error or "")[:80],
    }
    zh = "；".join(_ZH[p].format(**values) for p in problems)
    en = "; ".join(_EN[p].format(**values) for p in problems)
    return f"监控数据外送受阻：{zh}", f"Monitoring data export impaired: {en}"
