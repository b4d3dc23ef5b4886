"""Every rule family, one line each (the engine and the rule file know no other list)."""

from __future__ import annotations

from rules import (
    access_kinds,
    fire,
    fluctuation,
    health,
    preservation_rule,
    rate,
    tasks,
    threshold,
    water,
)
from rules.kinds import RuleConfig, RuleKind
from rules.silence import SilenceConfig

KINDS: tuple[RuleKind, ...] = (
    threshold.KIND,
    fluctuation.KIND,
    rate.KIND,
    fire.FIRE_KIND,
    water.WATER_LEAK_KIND,
    water.CONDENSATION_KIND,
    health.STUCK_KIND,
    health.SPIKE_KIND,
    health.CLOCK_SKEW_KIND,
    tasks.TASK_KIND,
    preservation_rule.PRESERVATION_KIND,
    *access_kinds.KINDS,
)

BY_TYPE: dict[str, RuleKind] = {kind.type: kind for kind in KINDS}

# Silence is judged by the engine's own timer, so it has a config but no RuleKind.
CONFIGS: tuple[type[RuleConfig], ...] = (*(kind.config for kind in KINDS), SilenceConfig)
