"""An appointment as the customer's links see it, and what a link may do with it.

lead-intake keeps each appointment of the lead events (``adapters/appointments.py``): its
time and how it stands. A link names one appointment and one purpose; whether it still
works is decided here, and the page says why not in German.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from osb_contracts.leads import CustomerAnswer
from osb_platform.customer_links import LinkPurpose


class State(StrEnum):
    OPEN = "OPEN"  # made by the advisor, not answered
    CONFIRMED = "CONFIRMED"  # the customer confirmed it by a link
    OTHER_TIME = "OTHER_TIME"  # the customer asked for another time: the lead is new again
    CANCELLED = "CANCELLED"  # the customer cancelled (a link, or the portal)
    MOVED = "MOVED"  # the lead got another appointment since
    CLOSED = "CLOSED"  # deleted in the DMS, or the customer did not come


class Action(StrEnum):
    """What the customer does on the page (a form's button)."""

    CONFIRM = "confirm"
    CANCEL = "cancel"
    OTHER_TIME = "other-time"


# which purpose's link offers which actions
OFFERS = {
    LinkPurpose.CONFIRM: (Action.CONFIRM,),
    LinkPurpose.CANCEL: (Action.CANCEL,),
    LinkPurpose.OTHER_TIME: (Action.OTHER_TIME,),
    LinkPurpose.ANY: (Action.CONFIRM, Action.OTHER_TIME, Action.CANCEL),
}
# the state an action leaves, and the states it may start from (each answer once)
AFTER = {
    Action.CONFIRM: State.CONFIRMED,
    Action.CANCEL: State.CANCELLED,
    Action.OTHER_TIME: State.OTHER_TIME,
}
FROM = {
    Action.CONFIRM: (State.OPEN,),
    Action.OTHER_TIME: (State.OPEN, State.CONFIRMED),
    Action.CANCEL: (State.OPEN, State.CONFIRMED),
}
ANSWERS = {Action.CONFIRM: CustomerAnswer.CONFIRMED, Action.OTHER_TIME: CustomerAnswer.OTHER_TIME}


@dataclass(frozen=True)
class Appointment:
    id: uuid.UUID
    lead_id: uuid.UUID
    booking_id: str
    branch_id: str
    start: datetime
    end: datetime
    state: State
    answers: int = 0  # how many answers were taken (each names its request's event)


class Refusal(StrEnum):
    """Why a link does nothing (phrased on the page: ``entrypoints/customer_page.py``)."""

    UNKNOWN = "UNKNOWN"  # not a link of this installation
    NOT_YET = "NOT_YET"  # the appointment is not known here yet (seconds after the message)
    BEGUN = "BEGUN"  # the appointment has begun: the link expired
    MOVED = "MOVED"
    CANCELLED = "CANCELLED"
    CLOSED = "CLOSED"
    CONFIRMED_ALREADY = "CONFIRMED_ALREADY"
    OTHER_TIME_ALREADY = "OTHER_TIME_ALREADY"
    NOT_OFFERED = "NOT_OFFERED"  # an action this link does not offer
    TAKEN_ALREADY = "TAKEN_ALREADY"  # a time of the offer was taken
    OFFER_LAPSED = "OFFER_LAPSED"  # the offer's deadline passed
    OFFER_CLOSED = "OFFER_CLOSED"  # the lead was decided otherwise


# an appointment no link can change any more (asked for another time: the DMS removes it)
_GONE = {
    State.MOVED: Refusal.MOVED,
    State.CANCELLED: Refusal.CANCELLED,
    State.CLOSED: Refusal.CLOSED,
    State.OTHER_TIME: Refusal.OTHER_TIME_ALREADY,
}
_USED = {State.CONFIRMED: Refusal.CONFIRMED_ALREADY}


def offered(
    appointment: Appointment, purpose: LinkPurpose, now: datetime
) -> tuple[Action, ...] | Refusal:
    """The actions the link offers now, or why it offers none."""
    if now >= appointment.start:
        return Refusal.BEGUN
    if appointment.state in _GONE:
        return _GONE[appointment.state]
    actions = tuple(a for a in OFFERS[purpose] if appointment.state in FROM[a])
    if not actions:
        return _USED.get(appointment.state, Refusal.NOT_OFFERED)
    return actions


def check(
    appointment: Appointment, purpose: LinkPurpose, action: Action, now: datetime
) -> Refusal | None:
    """None when the link may take ``action`` now."""
    actions = offered(appointment, purpose, now)
    if isinstance(actions, Refusal):
        return actions
    if action not in OFFERS[purpose]:
        return Refusal.NOT_OFFERED
    if action not in actions:
        return _USED.get(appointment.state, Refusal.NOT_OFFERED)
    return None
