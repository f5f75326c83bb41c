"""The customer's page behind the links in a confirmation or a reminder (German).

``GET /termin/<token>`` shows the appointment and what the link offers; nothing changes on
a GET (mail programs open links to check them). The buttons POST the answer. A link that
does not work (any more) says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, cast
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from osb_platform import customer_links
from osb_platform.customer_links import TAKES, CustomerLink, LinkPurpose, LinkRefusedError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from lead_intake.domain.appointments import Action, Appointment, Refusal, offered
from lead_intake.domain.offers import Offer, takeable
from lead_intake.entrypoints.wiring import Wiring
from lead_intake.service.answers import NOTE_MAX, take_answer, take_time

router = APIRouter(tags=["customer links"], include_in_schema=False)
_pages = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "web" / "templates"),
    autoescape=select_autoescape(default=True),
)
_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")

# (heading, text, HTTP status); {when}: the appointment's day and time
REFUSALS = {
    Refusal.UNKNOWN: (
        "Link ungültig",
        "Dieser Link ist ungültig. Bitte verwenden Sie den Link aus unserer Nachricht "
        "oder rufen Sie uns an.",
        404,
    ),
    Refusal.NOT_YET: (
        "Einen Moment bitte",
        "Ihr Termin wird gerade noch eingetragen. Bitte versuchen Sie es in einer Minute "
        "noch einmal.",
        503,
    ),
    Refusal.BEGUN: (
        "Link abgelaufen",
        "Dieser Link ist abgelaufen: Ihr Termin am {when} hat bereits begonnen.",
        410,
    ),
    Refusal.MOVED: (
        "Termin verschoben",
        "Dieser Link gilt nicht mehr, denn Ihr Termin wurde verschoben. Bitte verwenden "
        "Sie die Links aus unserer letzten Nachricht.",
        410,
    ),
    Refusal.CANCELLED: ("Termin abgesagt", "Ihr Termin am {when} ist bereits abgesagt.", 410),
    Refusal.CLOSED: (
        "Termin nicht mehr offen",
        "Ihr Termin am {when} ist nicht mehr offen. Bei Fragen rufen Sie uns bitte an.",
        410,
    ),
    Refusal.CONFIRMED_ALREADY: (
        "Bereits bestätigt",
        "Sie haben Ihren Termin am {when} bereits bestätigt. Vielen Dank!",
        409,
    ),
    Refusal.OTHER_TIME_ALREADY: (
        "Wunsch liegt vor",
        "Ihr Wunsch nach einem anderen Termin liegt uns bereits vor. Wir melden uns bei Ihnen.",
        409,
    ),
    Refusal.NOT_OFFERED: ("Nicht möglich", "Das ist mit diesem Link nicht möglich.", 400),
    Refusal.TAKEN_ALREADY: (
        "Bereits gewählt",
        "Sie haben bereits einen der vorgeschlagenen Termine gewählt{when}.",
        409,
    ),
    Refusal.OFFER_LAPSED: (
        "Vorschlag abgelaufen",
        "Dieser Terminvorschlag galt bis {when} und ist abgelaufen. Bitte buchen Sie einen "
        "neuen Termin oder rufen Sie uns an.",
        410,
    ),
    Refusal.OFFER_CLOSED: (
        "Vorschlag nicht mehr gültig",
        "Dieser Terminvorschlag gilt nicht mehr. Bei Fragen rufen Sie uns bitte an.",
        410,
    ),
}
OFFER_LINKS = (*TAKES, LinkPurpose.OFFER)
DONE = {
    Action.CONFIRM: (
        "Termin bestätigt",
        "Vielen Dank! Ihr Termin am {when} ist bestätigt. Wir freuen uns auf Ihren Besuch.",
    ),
    Action.CANCEL: (
        "Termin abgesagt",
        "Ihr Termin am {when} ist abgesagt. Einen neuen Termin können Sie jederzeit online buchen.",
    ),
    Action.OTHER_TIME: (
        "Wunsch übermittelt",
        "Vielen Dank! Wir melden uns mit einem neuen Terminvorschlag bei Ihnen. Bis dahin "
        "bleibt Ihr Termin am {when} bestehen.",
    ),
}
BUTTONS = {
    Action.CONFIRM: "Termin bestätigen",
    Action.OTHER_TIME: "Anderen Termin wünschen",
    Action.CANCEL: "Termin absagen",
}
NOTES = {  # the text field beside a button: its label
    Action.OTHER_TIME: "Möchten Sie uns noch etwas mitteilen? (freiwillig)",
    Action.CANCEL: "Möchten Sie uns den Grund nennen? (freiwillig)",
}
UNAVAILABLE = (
    "Gerade nicht möglich",
    "Ihre Antwort konnte gerade nicht übermittelt werden. Bitte versuchen Sie es in einer "
    "Minute noch einmal.",
)
TOO_LONG = f"Bitte fassen Sie sich kürzer (höchstens {NOTE_MAX} Zeichen)."
WISH_UNREADABLE = (
    "Bitte geben Sie Ihren Wunschtermin als Datum (TT.MM.JJJJ) und Uhrzeit (HH:MM) an."
)
WISH_PAST = "Bitte wählen Sie einen Wunschtermin in der Zukunft."
WISH_TOO_FAR = "Bitte wählen Sie einen Wunschtermin innerhalb der nächsten zwölf Monate."
WISH_WITHIN = timedelta(days=365)
UNSTORABLE = "Bitte prüfen Sie Ihren Text: Er enthält Zeichen, die wir nicht speichern können."
_FAULTS = (OSError, TimeoutError, SQLAlchemyError, KafkaError)
# the token is in the address: no referrer, no index, nothing loaded from elsewhere
_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


async def _wiring(request: Request) -> Wiring:
    return cast(Wiring, request.app.state.wiring)


Wired = Annotated[Wiring, Depends(_wiring)]


def _zone(appointment: Appointment | Offer, deps: Wiring) -> ZoneInfo:
    branch = deps.branches.get(appointment.branch_id)
    return ZoneInfo(branch.timezone if branch else "Europe/Berlin")


def _when(appointment: Appointment | None, deps: Wiring) -> str:
    return "" if appointment is None else _at(appointment.start, _zone(appointment, deps))


def _page(status: int = 200, **context: object) -> HTMLResponse:
    html = _pages.get_template("termin.html").render(
        buttons=BUTTONS, notes=NOTES, note_max=NOTE_MAX, **context
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _refused(refusal: Refusal, appointment: Appointment | None, deps: Wiring) -> HTMLResponse:
    return _said(refusal, _when(appointment, deps))


def _said(refusal: Refusal, when: str) -> HTMLResponse:
    """The page for a refusal; ``when`` fills its text's {when}."""
    heading, text, status = REFUSALS[refusal]
    response = _page(status, heading=heading, text=text.format(when=when))
    if refusal is Refusal.NOT_YET:
        response.headers["Retry-After"] = "60"
    return response


def _link(token: str, deps: Wiring) -> CustomerLink | None:
    if deps.link_secret is None:
        return None
    try:
        return customer_links.read(deps.link_secret, token)
    except LinkRefusedError:
        return None


@router.get("/termin/{token}", response_class=HTMLResponse)
async def show(token: str, deps: Wired) -> HTMLResponse:
    link = _link(token, deps)
    if link is None:
        return _refused(Refusal.UNKNOWN, None, deps)
    if link.purpose in OFFER_LINKS:
        return await _show_offer(link, deps)
    try:
        appointment = await deps.appointments.get(link.about)
    except _FAULTS:
        return _page(503, heading=UNAVAILABLE[0], text=UNAVAILABLE[1])
    if appointment is None:
        return _refused(Refusal.NOT_YET, None, deps)
    actions = offered(appointment, link.purpose, deps.clock())
    if isinstance(actions, Refusal):
        return _refused(actions, appointment, deps)
    return _form(appointment, actions, link.purpose, deps)


def _form(
    appointment: Appointment,
    actions: tuple[Action, ...],
    purpose: LinkPurpose,
    deps: Wiring,
    *,
    error: str | None = None,
    typed: Typed | None = None,
    status: int = 200,
) -> HTMLResponse:
    heading = "Ihr Werkstatttermin"
    text = f"Ihr Termin am {_when(appointment, deps)} (Buchung {appointment.booking_id})."
    if purpose is LinkPurpose.CONFIRM:
        text += " Kommen Sie wie geplant? Dann bestätigen Sie ihn bitte hier."
    typed = typed or Typed()
    return _page(status, heading=heading, text=text, actions=actions, error=error, typed=typed)


@dataclass(frozen=True)
class Typed:
    """What the customer typed into the form, shown again with an error."""

    note: str = ""
    day: str = ""
    time: str = ""


class _RetypeError(ValueError):
    """The form's input cannot be taken as it is; the text says why (German)."""


@router.post("/termin/{token}", response_class=HTMLResponse)
async def answer(token: str, request: Request, deps: Wired) -> HTMLResponse:
    link = _link(token, deps)
    if link is None:
        return _refused(Refusal.UNKNOWN, None, deps)
    body = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body, max_num_fields=8).items()}
    if link.purpose in OFFER_LINKS:
        return await _take(link, form.get("index", ""), deps)
    return await _answer(link, form, deps)


async def _answer(link: CustomerLink, form: dict[str, str], deps: Wiring) -> HTMLResponse:
    """Confirm, cancel or ask for another time (the form of an appointment's link)."""
    try:
        action = Action(form.get("action", ""))
    except ValueError:
        return _refused(Refusal.NOT_OFFERED, None, deps)
    typed = Typed(
        form.get("note", "").replace("\r\n", "\n").strip(),
        form.get("day", "").strip(),
        form.get("time", "").strip(),
    )
    try:
        wish = await _wish(action, typed, link, deps)
        taken = await take_answer(
            deps.appointments, deps.producer, link, action, typed.note or None, deps.clock(), wish
        )
    except (_RetypeError, ValidationError) as refused:
        # a ValidationError: the contract refuses the text (control characters)
        error = str(refused) if isinstance(refused, _RetypeError) else UNSTORABLE
        return await _again(link, deps, typed, error)
    except _FAULTS:
        return _page(503, heading=UNAVAILABLE[0], text=UNAVAILABLE[1])
    if taken.refusal is not None:
        return _refused(taken.refusal, taken.appointment, deps)
    heading, text = DONE[action]
    return _page(heading=heading, text=text.format(when=_when(taken.appointment, deps)), done=True)


async def _wish(action: Action, typed: Typed, link: CustomerLink, deps: Wiring) -> datetime | None:
    """The time the customer would like instead (OTHER_TIME), in the branch's zone."""
    if len(typed.note) > NOTE_MAX:
        raise _RetypeError(TOO_LONG)
    if action is not Action.OTHER_TIME:
        return None
    appointment = await deps.appointments.get(link.about)
    if appointment is None:
        return None  # not known yet: taking the answer says so
    try:
        # the wall clock of the branch's zone, as the customer reads it
        wish = datetime.strptime(f"{typed.day} {typed.time}", "%d.%m.%Y %H:%M").replace(
            tzinfo=_zone(appointment, deps)
        )
    except ValueError:
        raise _RetypeError(WISH_UNREADABLE) from None
    now = deps.clock()
    if wish <= now:
        raise _RetypeError(WISH_PAST)
    if wish > now + WISH_WITHIN:
        raise _RetypeError(WISH_TOO_FAR)
    return wish


async def _again(link: CustomerLink, deps: Wiring, typed: Typed, error: str) -> HTMLResponse:
    """The form once more, with what the customer typed and what is wrong with it."""
    appointment = await deps.appointments.get(link.about)
    if appointment is None:
        return _refused(Refusal.NOT_YET, None, deps)
    actions = offered(appointment, link.purpose, deps.clock())
    if isinstance(actions, Refusal):
        return _refused(actions, appointment, deps)
    return _form(appointment, actions, link.purpose, deps, error=error, typed=typed, status=422)


def _at(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{_WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y} um {local:%H:%M} Uhr"


def _offer_refused(refusal: Refusal, offer: Offer | None, deps: Wiring) -> HTMLResponse:
    when = ""
    if offer is not None and refusal is Refusal.OFFER_LAPSED:
        when = _at(offer.respond_by, _zone(offer, deps))
    elif offer is not None and refusal is Refusal.TAKEN_ALREADY and offer.taken_index is not None:
        when = f": {_at(offer.times[offer.taken_index][0], _zone(offer, deps))}"
    return _said(refusal, when)


async def _show_offer(link: CustomerLink, deps: Wiring) -> HTMLResponse:
    """The offered times the link may take, each a button."""
    try:
        offer = await deps.offers.get(link.about)
    except _FAULTS:
        return _page(503, heading=UNAVAILABLE[0], text=UNAVAILABLE[1])
    if offer is None:
        return _offer_refused(Refusal.NOT_YET, None, deps)
    indexes = takeable(offer, link.purpose, deps.clock())
    if isinstance(indexes, Refusal):
        return _offer_refused(indexes, offer, deps)
    zone = _zone(offer, deps)
    times = [(i, f"{_at(offer.times[i][0], zone)} wählen") for i in indexes]
    text = (
        f"Ihr Wunschtermin ist leider nicht möglich (Buchung {offer.booking_id}). Bitte "
        f"wählen Sie bis {_at(offer.respond_by, zone)} einen dieser Termine:"
    )
    return _page(heading="Unsere Terminvorschläge", text=text, times=times)


async def _take(link: CustomerLink, index: str, deps: Wiring) -> HTMLResponse:
    if not index.isdigit():
        return _offer_refused(Refusal.NOT_OFFERED, None, deps)
    try:
        taken = await take_time(deps.offers, deps.producer, link, int(index), deps.clock())
    except _FAULTS:
        return _page(503, heading=UNAVAILABLE[0], text=UNAVAILABLE[1])
    if taken.refusal is not None or taken.offer is None:
        return _offer_refused(taken.refusal or Refusal.NOT_YET, taken.offer, deps)
    start = taken.offer.times[int(index)][0]
    text = (
        f"Vielen Dank! Sie haben den Termin am {_at(start, _zone(taken.offer, deps))} "
        "gewählt. Sie erhalten gleich eine Bestätigung."
    )
    return _page(heading="Termin gewählt", text=text, done=True)
