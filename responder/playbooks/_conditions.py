"""Conditions on one value (a Falco field, a label, a name): equals, in, glob, regex, exists, numbers."""

from __future__ import annotations

import fnmatch
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

__all__ = ["Condition", "TagsCondition", "compare_text"]

Scalar = str | int | float | bool | None
_NEGATIVE = frozenset({"not_equals", "not_in"})


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Integers stay exact: Python compares them with floats correctly, while float() of
        # one beyond 1e308 (an alert may send 10**400) raises OverflowError.
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: object, expected: object) -> bool:
    """Equal as given; as numbers when one side is a number (`"0"` and `0`); else as text.

    Two strings are compared as text: an image tag `1.10` is not `1.1`.
    """
    if value == expected and type(value) is type(expected):
        return True
    if _is_number(value) or _is_number(expected):
        left, right = _number(value), _number(expected)
        if left is not None and right is not None:
            return left == right
    return compare_text(value) == compare_text(expected)


def compare_text(value: object) -> str:
    """How a value reads as text in a comparison: booleans as YAML writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Condition(BaseModel):
    """All the operators given must hold.

    A missing or null value satisfies only `exists: false`, `not_equals` and `not_in`: a
    condition that asks for something is not met by nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    equals: Scalar = None
    not_equals: Scalar = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    glob: list[str] | None = None
    regex: str | None = None
    exists: bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML
        """A scalar means `equals`, a list means `in`."""
        if isinstance(data, list):
            return {"in": data}
        if not isinstance(data, dict):
            return {"equals": data}
        if not data:
            raise ValueError("a condition needs at least one operator")
        return data

    @field_validator("equals", "not_equals", mode="after")
    @classmethod
    def _not_null(cls, value: Scalar) -> Scalar:
        if value is None:
            raise ValueError("null is not a value to compare with; use `exists: false`")
        return value

    @field_validator("in_", "not_in", mode="after")
    @classmethod
    def _no_nulls(cls, value: list[Scalar] | None) -> list[Scalar] | None:
        if value is not None and any(item is None for item in value):
            raise ValueError("null is not a value to compare with; use `exists: false`")
        return value

    @field_validator("gt", "gte", "lt", "lte", mode="before")
    @classmethod
    def _numeric_bound(cls, value: Any) -> Any:  # noqa: ANN401 - raw YAML
        if isinstance(value, bool):
            raise ValueError("a numeric bound must be a number, not a boolean")  # noqa: TRY004
        return value

    @field_validator("glob", mode="before")
    @classmethod
    def _glob_list(cls, value: Any) -> Any:  # noqa: ANN401 - raw YAML
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    def operators(self) -> list[str]:
        """The operators that were written, in their YAML spelling."""
        return [("in" if name == "in_" else name) for name in self.model_fields_set]

    def test(self, value: JsonValue | object, *, present: bool = True) -> str | None:
        """None when the value satisfies every operator, else why not (for `plan` to show)."""
        missing = not present or value is None
        for op in self.operators():
            if missing and op not in _NEGATIVE and op != "exists":
                return f"is missing, so not {op} {self._operand(op)}"
            failed = self._check(op, value, missing=missing)
            if failed:
                return failed
        return None

    def _operand(self, op: str) -> object:
        return getattr(self, "in_" if op == "in" else op)

    def _check(self, op: str, value: object, *, missing: bool) -> str | None:  # noqa: PLR0911 - one branch per operator
        shown = repr(value)
        if op == "exists":
            return (
                None
                if (not missing) == self.exists
                else ("is missing" if self.exists else "exists")
            )
        if op == "equals":
            return None if _same(value, self.equals) else f"{shown} is not {self.equals!r}"
        if op == "not_equals":
            same = not missing and _same(value, self.not_equals)
            return f"{shown} is {self.not_equals!r}" if same else None
        if op == "in":
            choices = self.in_ or []
            return (
                None if any(_same(value, c) for c in choices) else f"{shown} is not in {choices!r}"
            )
        if op == "not_in":
            choices = self.not_in or []
            hit = not missing and any(_same(value, c) for c in choices)
            return f"{shown} is in {choices!r}" if hit else None
        if op == "glob":
            globs = self.glob or []
            hit = any(fnmatch.fnmatchcase(compare_text(value), g) for g in globs)
            return None if hit else f"{shown} matches none of {globs!r}"
        if op == "regex":
            pattern = self.regex or ""
            return None if re.search(pattern, compare_text(value)) else f"{shown} !~ /{pattern}/"
        return self._numeric(op, value)

    def _numeric(self, op: str, value: object) -> str | None:
        number = _number(value)
        if number is None:
            return f"{value!r} is not a number"
        bound = getattr(self, op)
        assert isinstance(bound, float)  # noqa: S101 - gt/gte/lt/lte are floats by the model
        holds = {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]
        return None if holds else f"{value!r} is not {op} {bound:g}"


class TagsCondition(BaseModel):
    """Falco tags: all of, any of, none of."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: list[str] = []
    any: list[str] = []
    none: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML
        """A plain list means `all`."""
        return {"all": data} if isinstance(data, list) else data

    def test(self, tags: tuple[str, ...]) -> str | None:
        """None when the tags qualify, else why not."""
        have = set(tags)
        if missing := [t for t in self.all if t not in have]:
            return f"tags lack {missing}"
        if self.any and not have.intersection(self.any):
            return f"tags have none of {self.any}"
        if found := [t for t in self.none if t in have]:
            return f"tags include {found}"
        return None
