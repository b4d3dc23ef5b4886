"""The answers FastAPI gives before a route runs, declared in the OpenAPI document.

Found by tests/test_schemathesis.py: the document promised shapes the console did not
keep. A route that declares its own 422 (a sentence, or an inspection's refusal) also
answers FastAPI's validation error (a list of problems) when a parameter or body does
not validate; a route left with FastAPI's default 422 may raise its own sentence; and
a body that is not UTF-8 gets FastAPI's 400 ("There was an error parsing the body"),
which no route declared. A client generated from the document would fail on each.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi.openapi.utils import (
    validation_error_definition,
    validation_error_response_definition,
)

_SCHEMAS = "#/components/schemas/"
_VALIDATION = {"$ref": f"{_SCHEMAS}HTTPValidationError"}
_SENTENCE = {"$ref": f"{_SCHEMAS}ErrorOut"}
_UNREADABLE = {
    "description": "The body could not be read (not UTF-8)",
    "content": {"application/json": {"schema": _SENTENCE}},
}


def describe_request_errors(document: dict[str, Any]) -> None:
    """Declare in ``document`` the 422s and 400s FastAPI answers before a route runs."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ValidationError", validation_error_definition)
    schemas.setdefault("HTTPValidationError", validation_error_response_definition)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            unprocessable = responses.get("422", {}).get("content", {}).get("application/json")
            if unprocessable is not None:
                declared = unprocessable["schema"]
                other = _SENTENCE if declared == _VALIDATION else _VALIDATION
                unprocessable["schema"] = {"anyOf": [declared, copy.deepcopy(other)]}
            if "requestBody" in operation:
                responses.setdefault("400", copy.deepcopy(_UNREADABLE))
