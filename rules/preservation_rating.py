"""The rating words of the IPI preservation metrics (archive-standards.md §4.1-§4.4).

One scale serves PI, both %EMC risks and mold, as on dpcalc.org; TWPI has its own four bands.
"""

from __future__ import annotations

from enum import StrEnum


class Rating(StrEnum):
    """dpcalc's three-step verdict for PI, mechanical damage, metal corrosion and mold."""

    GOOD = "good"
    OK = "ok"
    RISK = "risk"


class TwpiRating(StrEnum):
    """The TWPI bands (§4.1, Conserv citing Nishimura 2011, IPI)."""

    POOR = "poor"  # below 45
    OK = "ok"  # 45 to 75
    GOOD = "good"  # 75 to 100
    EXCELLENT = "excellent"  # above 100
