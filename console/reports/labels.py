"""The words a printed report uses for codes: Chinese first, English beside it.

The JSON report carries the codes (``fire``, ``high``, ``weekly``); a person reading the
HTML or the spreadsheet needs words. The alarm words are the desk page's own
(console/static/app.js), so the desk and the report name things alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inspections.models import Cadence, HazardGrade, HazardState, TaskStatus
from rules.preservation import Rating, TwpiRating
from sensors.events import Category, Severity

Words = tuple[str, str]  # (zh, en)

CATEGORY: Mapping[Category, Words] = MappingProxyType(
    {
        Category.FIRE: ("火警", "Fire"),
        Category.WATER: ("水浸", "Water"),
        Category.INTRUSION: ("入侵", "Intrusion"),
        Category.CLIMATE: ("温湿度", "Climate"),
        Category.TROUBLE: ("设备故障", "Trouble"),
        Category.SYSTEM: ("系统", "System"),
        Category.INSPECTION: ("巡查检查", "Inspection"),
    }
)

SEVERITY: Mapping[Severity, Words] = MappingProxyType(
    {
        Severity.CRITICAL: ("紧急", "Critical"),
        Severity.HIGH: ("高", "High"),
        Severity.MEDIUM: ("中", "Medium"),
        Severity.LOW: ("低", "Low"),
    }
)

# Tasks a rule asked for have no cadence: they are grouped under this code.
RULE_TASKS = "rule"

CADENCE: Mapping[str, Words] = MappingProxyType(
    {
        Cadence.DAILY.value: ("日巡查", "Daily patrol"),
        Cadence.WEEKLY.value: ("周检查", "Weekly check"),
        Cadence.MONTHLY.value: ("月排查", "Monthly sweep"),
        Cadence.QUARTERLY.value: ("季考核", "Quarterly assessment"),
        Cadence.CRON.value: ("其他定期检查", "Other scheduled checks"),
        RULE_TASKS: ("规则派发任务", "Tasks raised by rules"),
    }
)

TASK_STATUS: Mapping[TaskStatus, Words] = MappingProxyType(
    {
        TaskStatus.OPEN: ("未完成", "Open"),
        TaskStatus.DONE: ("按时完成", "Done on time"),
        TaskStatus.MISSED: ("漏检", "Missed"),
        TaskStatus.LATE: ("逾期补做", "Done late"),
    }
)

# The 2018 risk-assessment conclusions (archive-standards.md §1.4, 档办发〔2018〕7号).
HAZARD_GRADE: Mapping[HazardGrade, Words] = MappingProxyType(
    {
        HazardGrade.HIGH: ("高危", "High risk"),
        HazardGrade.DANGER: ("危险", "Dangerous"),
        HazardGrade.GENERAL: ("一般", "General"),
    }
)

# The closed loop of 隐患排查治理 (archive-standards.md §2).
HAZARD_STATE: Mapping[HazardState, Words] = MappingProxyType(
    {
        HazardState.FOUND: ("已发现", "Found"),
        HazardState.ASSIGNED: ("已指派", "Assigned"),
        HazardState.RECTIFIED: ("已整改", "Rectified"),
        HazardState.ACCEPTED: ("已复查验收", "Accepted"),
        HazardState.FILED: ("已归档", "Filed"),
    }
)

RATING: Mapping[Rating, Words] = MappingProxyType(
    {
        Rating.GOOD: ("良好", "Good"),
        Rating.OK: ("尚可", "OK"),
        Rating.RISK: ("有风险", "Risk"),
    }
)

TWPI_RATING: Mapping[TwpiRating, Words] = MappingProxyType(
    {
        TwpiRating.POOR: ("差", "Poor"),
        TwpiRating.OK: ("尚可", "OK"),
        TwpiRating.GOOD: ("良好", "Good"),
        TwpiRating.EXCELLENT: ("优", "Excellent"),
    }
)


def both(words: Words) -> str:
    """``中文 English``, as one cell shows it."""
    return f"{words[0]} {words[1]}"
