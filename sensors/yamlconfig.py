"""Load a YAML file into a strict pydantic model, naming file, line and field on error.

Every config file Lantai reads goes through ``load_yaml_model``. It refuses duplicate
keys (PyYAML would silently keep the last one), keeps the line of every node so that a
validation error points at the line to fix, and runs the model's cross-reference
checks (``cross_check``), which pydantic's own validators cannot locate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """A config file was refused; ``problems`` lists every reason found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@runtime_checkable
class CrossChecked(Protocol):
    """A model that checks references between its parts after field validation."""

    def cross_check(self) -> list[tuple[Loc, str]]: ...


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: Path,
    model: type[M],
    *,
    context: dict[str, Any] | None = None,
    build: Callable[[Any], M] | None = None,
) -> M:
    """Read ``path`` and validate it as ``model``; raise ConfigError naming file and line.

    ``build`` replaces ``model.model_validate`` (settings use it to merge the environment).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {exc}")]) from exc
    return parse_yaml_model(text, model, filename=str(path), context=context, build=build)


def parse_yaml_model(
    text: str,
    model: type[M],
    *,
    filename: str = "<string>",
    context: dict[str, Any] | None = None,
    build: Callable[[Any], M] | None = None,
) -> M:
    """Validate YAML ``text`` as ``model``; errors carry ``filename`` and line numbers."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(filename, line, "", f"not valid YAML: {problem}")]
        ) from exc
    if root is None:
        raise ConfigError([ConfigProblem(filename, 1, "", "the file is empty")])
    lines: dict[Loc, int] = {}
    problems: list[ConfigProblem] = []
    _index_lines(root, (), lines, problems, filename)
    if problems:
        raise ConfigError(problems)
    data = yaml.SafeLoader(text).get_single_data()
    try:
        value = build(data) if build else model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(
            [
                _problem(filename, lines, _file_loc(err, lines), err["msg"], err.get("input"))
                for err in exc.errors(include_url=False)
            ]
        ) from None
    if isinstance(value, CrossChecked):
        found = value.cross_check()
        if found:
            raise ConfigError([_problem(filename, lines, loc, msg, None) for loc, msg in found])
    return value


def _file_loc(err: Any, lines: dict[Loc, int]) -> Loc:  # noqa: ANN401 - a pydantic ErrorDetails
    """The error's place in the file: without the tag a discriminated union puts in the
    path (``rules.0.threshold.raise_abov`` is ``rules.0.raise_abov`` in the file), and at
    the discriminator itself when its value is the problem."""
    loc: Loc = ()
    parts = tuple(err["loc"])
    for i, part in enumerate(parts):
        following = parts[i + 1] if i + 1 < len(parts) else None
        if (
            isinstance(part, str)
            and (*loc, part) not in lines
            and following is not None
            and (*loc, following) in lines
        ):
            continue  # a union tag, not a key of the file
        loc = (*loc, part)
    if err["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        tag = str(err.get("ctx", {}).get("discriminator", "")).strip("'\"")
        if tag:
            loc = (*loc, tag)
    return loc


def _problem(
    filename: str, lines: dict[Loc, int], loc: Loc, msg: str, given: object
) -> ConfigProblem:
    # A missing field has no line of its own: point at the nearest enclosing node.
    line = None
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            line = lines[loc[:cut]]
            break
    field = ".".join(str(part) for part in loc)
    if given is not None and not isinstance(given, dict | list):
        msg = f"{msg} (got {given!r})"
    return ConfigProblem(filename, line, field, msg)


def _index_lines(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[ConfigProblem], filename: str
) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    ConfigProblem(
                        filename,
                        key_node.start_mark.line + 1,
                        ".".join(str(p) for p in (*loc, key)),
                        "duplicate key",
                    )
                )
            seen.add(key)
            _index_lines(value_node, (*loc, key), lines, problems, filename)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, index), lines, problems, filename)
