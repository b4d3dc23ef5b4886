"""Why an inspection action was refused, in Chinese and English, with a reason for HTTP."""

from __future__ import annotations

# reason → HTTP status, for the REST layer.
REASON_STATUS = {
    "not_found": 404,
    "invalid": 422,
    "conflict": 409,
    "too_large": 413,
    "unsupported": 415,
}


class Refused(Exception):  # noqa: N818 - reads as "the action was refused"
    """An action that cannot be done; the person sees ``message_zh`` or ``message``."""

    def __init__(self, reason: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.reason = reason  # a key of REASON_STATUS
        self.message = message
        self.message_zh = message_zh
