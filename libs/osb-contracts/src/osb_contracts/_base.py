"""Base classes and bounded field types shared by every contract."""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError


def _aware(value: datetime) -> datetime:
    # A naive timestamp on the bus is ambiguous across branches in different zones.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

# No string on the bus holds what a store or a mail header cannot: PostgreSQL refuses NUL in
# text; the other C0 controls (but tab and line breaks), DEL and lone surrogates break mail
# headers, JSON readers and UTF-8 encoders downstream. A one-line field (a name, a subject,
# an address line) holds no tab or line break either: in a header it would start a new one.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _refuse(value: str, pattern: re.Pattern[str], kind: str, message: str) -> str:
    found = pattern.search(value)
    if found is None:
        return value
    raise PydanticCustomError(
        kind,
        message + " (U+{character} at position {position})",
        {"character": f"{ord(found.group()):04X}", "position": found.start() + 1},
    )


def _storable(value: str) -> str:
    return _refuse(value, _UNSTORABLE, "control_character", "must not hold a control character")


def _one_line(value: str) -> str:
    return _refuse(
        value, _NOT_ONE_LINE, "not_one_line", "must be one line without control characters"
    )


STORABLE = AfterValidator(_storable)
ONE_LINE = AfterValidator(_one_line)
_GUARDS = (STORABLE, ONE_LINE)


def one_line(text: str, limit: int = 200) -> str:
    """Text from outside the contracts (an SMTP reply, an exception) fit for a one-line
    field: controls and line breaks as spaces, runs of spaces as one, cut at ``limit``."""
    return " ".join(_NOT_ONE_LINE.sub(" ", text).split())[:limit]


# Bounded strings: every string on the bus has a maximum length, so an oversized
# payload is refused at the edge instead of growing a database row or a mail.
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), ONE_LINE]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), ONE_LINE]
LongText = Annotated[str, StringConstraints(max_length=4000), STORABLE]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), ONE_LINE
]
BranchId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
    ONE_LINE,
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), ONE_LINE]
E164Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$"), ONE_LINE]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$"), ONE_LINE]
CustomerNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$"
    ),
    ONE_LINE,
]


class Contract(BaseModel):
    """A value object inside a message: immutable, no unknown fields."""

    # a validation error's message (logged, in a dead letter) without the value refused
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_max_length=4000, hide_input_in_errors=True
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for loose, kind, need in (
            (_unguarded, "string", "STORABLE or ONE_LINE (use Text, ShortText, LongText or "
             "another type of osb_contracts._base)"),
            (_unbounded, "integer", "bounds within a PostgreSQL bigint (Field(ge=..., le=...))"),
        ):  # fmt: skip
            names = [
                n for n, info in cls.model_fields.items() if loose(info.annotation, info.metadata)
            ]
            if names:
                raise TypeError(f"{cls.__name__}: the {kind} fields {names} need {need}")


def _unguarded(annotation: Any, metadata: Any = ()) -> bool:
    """Whether a string somewhere in the type is without a character guard."""
    if annotation is str:
        return not any(m in _GUARDS for m in metadata)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _unguarded(base, extra)
    return any(_unguarded(arg) for arg in get_args(annotation))


# Every integer on the bus fits a PostgreSQL bigint: a larger one passes JSON and Python
# and only fails at the insert, where it would be a record failing for ever.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def _constraints(metadata: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for m in metadata:
        out += _constraints(m.metadata) if isinstance(m, FieldInfo) else [m]
    return out


def _unbounded(annotation: Any, metadata: Iterable[Any] = ()) -> bool:
    """Whether an integer somewhere in the type may leave the bigint range."""
    if annotation is int:
        found = _constraints(metadata)
        low = [getattr(m, a) for m in found for a in ("ge", "gt") if hasattr(m, a)]
        high = [getattr(m, a) for m in found for a in ("le", "lt") if hasattr(m, a)]
        return not (any(b >= BIGINT_MIN for b in low) and any(b <= BIGINT_MAX for b in high))
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _unbounded(base, [*metadata, *extra])
    # a field's bounds hold for the integer of an optional, not for a tuple's items
    inherited = metadata if get_origin(annotation) in (Union, types.UnionType) else ()
    return any(_unbounded(arg, inherited) for arg in get_args(annotation))


class Personal:
    """Marks a message field as a person's data (``Annotated[Customer, Personal(...)]``):
    where the codec is given the lead's key it seals the field, and a reader without the
    key (or after the key was destroyed) reads ``erased`` in its place."""

    __slots__ = ("erased",)

    def __init__(self, erased: Any) -> None:
        self.erased = erased

    def __repr__(self) -> str:
        return f"Personal({self.erased!r})"


class Message(Contract):
    """A message on the bus.

    ``message_type`` is the CloudEvents ``type`` and ``version`` its contract version;
    a breaking change needs a new version (and a new topic), see ``schemas.py``.
    ``personal``: the fields marked :class:`Personal`, each with what it reads once erased.
    """

    message_type: ClassVar[str]
    version: ClassVar[int] = 1
    personal: ClassVar[dict[str, Any]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.personal = {
            name: mark.erased
            for name, info in cls.model_fields.items()
            for mark in info.metadata
            if isinstance(mark, Personal)
        }

    @classmethod
    def cloudevents_type(cls) -> str:
        return f"{cls.message_type}.v{cls.version}"
