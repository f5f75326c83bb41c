"""Base classes and bounded field types shared by every contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _aware(value: datetime) -> datetime:
    # A naive timestamp on the bus is ambiguous across branches in different zones.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

# Bounded strings: every string on the bus has a maximum length, so an oversized
# payload is refused at the edge instead of growing a database row or a mail.
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)]
LongText = Annotated[str, StringConstraints(max_length=4000)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
BranchId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
E164Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
CustomerNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$"
    ),
]


class Contract(BaseModel):
    """A value object inside a message: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=4000)


class Message(Contract):
    """A message on the bus.

    ``message_type`` is the CloudEvents ``type`` and ``version`` its contract version;
    a breaking change needs a new version (and a new topic), see ``schemas.py``.
    """

    message_type: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def cloudevents_type(cls) -> str:
        return f"{cls.message_type}.v{cls.version}"
