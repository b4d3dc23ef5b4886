"""The readings around an alarm, for its timeline: what the sensor (or the room) said from
half an hour before the alarm was raised to half an hour after.

The sensor's own readings when the alarm names one (a smoke detector, a climate probe);
else every sensor of its room (an incident of the room, such as two detectors at once);
none for an alarm of no room (Lantai itself).
"""

from __future__ import annotations

from datetime import timedelta

from alerts.models import Alarm
from console.context import HistoryReader
from console.schemas import ReadingOut, ReadingsAroundOut
from sensors.facility import Facility

AROUND = timedelta(minutes=30)
# A sensor reporting every second gives 3600 readings an hour; the timeline needs the
# shape, and a page of this many rows per sensor is already more than anybody reads.
MAX_PER_SENSOR = 600


def readings_around(
    facility: Facility, history: HistoryReader, alarm: Alarm
) -> ReadingsAroundOut | None:
    """The readings within AROUND of ``alarm`` being raised, oldest first."""
    if alarm.sensor is not None and facility.sensor(alarm.site, alarm.sensor) is not None:
        sensors: list[str] = [alarm.sensor]
    elif alarm.room is not None and (room := facility.room(alarm.site, alarm.room)) is not None:
        sensors = list(room.sensor_ids)
    else:
        return None
    start, end = alarm.raised_at - AROUND, alarm.raised_at + AROUND
    readings = [
        ReadingOut(sensor=sensor, at=at, values=values)
        for sensor in sensors
        for at, values in history.readings_between(alarm.site, sensor, start, end, MAX_PER_SENSOR)
    ]
    readings.sort(key=lambda r: (r.at, r.sensor))
    return ReadingsAroundOut(start=start, end=end, sensors=sensors, readings=readings)
