"""Every word the advisor reads, in German: the page's labels and the API's errors as
the page phrases them. The domain and the API speak in codes (statuses, permissions,
error codes); only this module and the templates turn them into German.
"""

from __future__ import annotations

from osb_contracts.leads import CustomerChoice, Unusable, VehicleCase
from osb_contracts.matching import ConfidenceBand, DuplicateCriterion
from osb_contracts.notifications import FailureCode
from osb_contracts.values import Channel, LeadStatus

from lead_manager.domain.branch import NO_ACTIVE_ACCEPTOR
from lead_manager.domain.model import Trigger
from lead_manager.domain.permissions import Permission
from lead_manager.domain.working_time import holiday_regions

STATUS_LABELS = {
    LeadStatus.NEW: "Neu",
    LeadStatus.SCHEDULED: "Geplant",
    LeadStatus.REJECTED: "Abgelehnt",
    LeadStatus.CANCELLED: "Storniert",
    LeadStatus.CANCELLED_BY_CUSTOMER: "Von Kunden storniert",
    LeadStatus.NO_SHOW: "Nicht erschienen",
    LeadStatus.OFFERED: "Terminvorschlag gesendet",
}
# how a counter-offer stands (the detail)
OFFER_LABELS = {
    "OPEN": "offen",
    "TAKEN": "angenommen",
    "LAPSED": "nicht angenommen, abgelehnt",
    "CLOSED": "zurückgezogen",
}
PERMISSION_LABELS = {
    Permission.LEAD_MANAGER: "Servicetermin Leadmanager",
    Permission.OSB_ADMIN: "Administration Online Service Booking",
    Permission.EDIT_CANCELLED: "Stornierte Terminleads bearbeiten",
    Permission.PRIVACY_OFFICER: "Datenschutz: Auskunft und Löschung",
}
# what the advisor tried, as the refusal names it ("... kann nicht <verb> werden")
TRIGGER_LABELS = {
    Trigger.SCHEDULE: "als Termin angelegt",
    Trigger.REJECT: "abgelehnt",
    Trigger.APPOINTMENT_DELETED: "wegen eines gelöschten Termins storniert",
    Trigger.CUSTOMER_CANCELS: "im Auftrag des Kunden storniert",
    Trigger.CORRECT_DATA: "korrigiert",
    Trigger.ARRIVE: "als erschienen vermerkt",
    Trigger.NO_SHOW: "als nicht erschienen vermerkt",
    Trigger.CUSTOMER_RESCHEDULES: "auf Kundenwunsch neu terminiert",
    Trigger.OFFER: "mit Terminvorschlag beantwortet",
    Trigger.OFFER_LAPSES: "nach Ablauf des Terminvorschlags abgelehnt",
}
CONFIGURATION_TEXTS = {
    NO_ACTIVE_ACCEPTOR: (
        "Für diesen Betrieb ist kein aktiver Annehmer hinterlegt. Bitte wählen Sie in den "
        "OSB-Einstellungen mindestens einen Annehmer aus."
    ),
}
BAND_LABELS = {
    ConfidenceBand.CERTAIN: "sicher",
    ConfidenceBand.LIKELY: "wahrscheinlich",
    ConfidenceBand.POSSIBLE: "möglich",
}
VEHICLE_CASE_LABELS = {
    VehicleCase.OWNED_BY_CUSTOMER: "Fahrzeug des Kunden aus dem Fahrzeugstamm",
    VehicleCase.OWNED_BY_OTHER: "Fahrzeug aus dem Fahrzeugstamm, gehört einem anderen Kunden",
    VehicleCase.TRANSIT: "Durchlauffahrzeug (Fahrzeug nicht im Fahrzeugstamm)",
}
CHANNEL_LABELS = {Channel.EMAIL: "E-Mail", Channel.SMS: "SMS"}
NOTIFICATION_LABELS = {
    "SENT": "zugestellt",
    "FAILED": "fehlgeschlagen",
    "RESEND_REQUESTED": "erneuter Versand angefordert",
}
# why the notifier could not send, by its code (osb_contracts.notifications.FailureCode)
FAILURE_LABELS = {
    FailureCode.TEMPLATE: "Die Textvorlage des Betriebs ließ sich nicht füllen. Bitte die "
    "Vorlage in den OSB-Einstellungen prüfen.",
    FailureCode.MESSAGE_INVALID: "Aus den Daten ließ sich keine E-Mail bilden (Adresse ungültig).",
    FailureCode.SMS_NOT_ENABLED: "SMS ist für diesen Betrieb nicht freigeschaltet.",
    FailureCode.NO_SENDER: "Für diesen Betrieb ist kein E-Mail-Absender eingerichtet.",
    FailureCode.SMS_OPTED_OUT: "Kunde hat SMS abbestellt (STOP).",
    FailureCode.REMINDER_MISSED: "Terminerinnerung entfallen: erst nach Terminbeginn oder in "
    "der Nachtruhe (21 bis 8 Uhr) zu senden gewesen.",
    FailureCode.SMTP_UNAVAILABLE: "Der E-Mail-Server ist nicht erreichbar.",
    FailureCode.SMS_UNAVAILABLE: "Der SMS-Dienst ist nicht erreichbar.",
    FailureCode.UNEXPECTED: "Unerwarteter Fehler im Benachrichtigungsdienst.",
}
_REFUSED_BY = {"SMTP": "Der E-Mail-Server", "SMS": "Der SMS-Dienst"}


def failure_text(code: str | None, reason: str | None, *, permanent: bool = True) -> str:
    """Why a notification failed, in German: by its code, a server's or gateway's refusal
    with its number (for the dealer's IT), the notifier's own words for a code not known."""
    kind, _, number = (code or "").partition("_")
    if code in FAILURE_LABELS:
        text = FAILURE_LABELS[FailureCode(code)]
    elif kind in _REFUSED_BY and number.isdigit():
        text = f"{_REFUSED_BY[kind]} hat die Nachricht abgelehnt (Code {number})."
    else:
        text = reason or code or ""
    return text if permanent else f"{text} Es wird erneut versucht."


CRITERION_LABELS = {
    DuplicateCriterion.ADDRESS: "Name + Adresse",
    DuplicateCriterion.PHONE: "Name + Telefon",
    DuplicateCriterion.EMAIL: "Name + E-Mail",
    DuplicateCriterion.BIRTH_DATE: "Name + Geburtsdatum",
}
# the public holidays a branch can be closed on: every country, state and canton offered
HOLIDAY_REGION_LABELS = holiday_regions()
TEMPLATE_LABELS = {
    "rejection_email": "Ablehnung per E-Mail",
    "rejection_sms": "Ablehnung per SMS",
    "confirmation_email": "Terminbestätigung per E-Mail",
    "confirmation_sms": "Terminbestätigung per SMS",
    "reminder_email": "Terminerinnerung per E-Mail",
    "reminder_sms": "Terminerinnerung per SMS",
}
# The history is recorded in the domain's words; the page shows them in German.
HISTORY_LABELS = {
    "created": "angelegt",
    "booked on the portal": "online gebucht",
    "rejected": "abgelehnt",
    "scheduled": "als Termin angelegt",
    "appointment deleted in the DMS": "Termin im DMS gelöscht",
    "cancelled by the customer": "vom Kunden storniert",
    "corrected": "Daten korrigiert",
    "notification sent": "Benachrichtigung zugestellt",
    "notification failed": "Benachrichtigung fehlgeschlagen",
    "notification resend requested": "erneuter Versand angefordert",
    "deadline passed": "Frist überschritten",
    "arrived": "Kunde erschienen (DMS)",
    "arrived late": "Kunde verspätet erschienen (DMS)",
    "no-show": "Kunde nicht erschienen",
    "reminder due": "Terminerinnerung fällig",
    "confirmed by the customer": "Termin vom Kunden bestätigt (Link)",
    "offered": "Terminvorschlag gesendet",
    "offer lapsed": "Terminvorschlag nicht angenommen, abgelehnt",
    "other time wanted by the customer": "Kunde wünscht einen anderen Termin (Link), der "
    "Termin wird im DMS gelöscht",
}
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_SHORT = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
# the settings' opening hours per weekday, keyed as the API keys them ("mon": "Montag")
WEEKDAY_LABELS = dict(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), WEEKDAYS, strict=True))

FIELD_LABELS = {
    "name": "Name",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "street": "Straße",
    "house_number": "Hausnummer",
    "postcode": "PLZ",
    "city": "Ort",
    "address": "Adresse",
    "email": "E-Mail",
    "phone": "Telefon",
    "mobile": "Mobil",
    "birth_date": "Geburtsdatum",
    "customer_number": "Kundennummer",
    "vin": "FIN",
    "licence_plate": "Kennzeichen",
    "mileage_km": "Kilometerstand",
    "text": "Text",
    "subject": "Betreff",
    "start": "Beginn",
    "end": "Ende",
    "acceptor": "Annehmer",
    "channel": "Versandweg",
    "opening_hours": "Öffnungszeiten",
    "opens": "Öffnungszeiten",
    "closes": "Öffnungszeiten",
    "holiday_region": "Feiertage",
    "response_minutes": "Reaktionszeit",
    "no_show_grace_minutes": "Karenzzeit bis „Nicht erschienen“",
    "lead_retention_months": "Aufbewahrung der Terminleads (Monate)",
    "offer_response_hours": "Antwortfrist für Terminvorschläge",
    "reminder_offsets": "Terminerinnerungen",
    "reminder_quiet": "Erinnerungen in der Nachtruhe",
    "escalation_email": "Eskalation an",
    "sender_email": "Absender",
    "reason": "Ablehnungsgrund",
    "rejection_reasons": "Ablehnungsgründe",
}

# what the customer typed and the booking could not use (LeadRequested.unusable)
UNUSABLE_LABELS = {
    Unusable.EMAIL_INVALID: "E-Mail-Adresse ungültig",
    Unusable.PHONE_INVALID: "Telefonnummer ungültig",
    Unusable.DATE_INVALID: "Datum nicht lesbar",
    Unusable.BIRTH_DATE_IMPLAUSIBLE: "Geburtsdatum unplausibel",
    Unusable.COUNTRY_UNKNOWN: "Land unbekannt",
    Unusable.CUSTOMER_NUMBER_INVALID: "Kundennummer ungültig",
    Unusable.VIN_INVALID: "FIN ungültig",
    Unusable.LICENCE_PLATE_INVALID: "Kennzeichen ungültig",
    Unusable.MILEAGE_INVALID: "Kilometerstand ungültig",
}


# The Auswertung's columns per day (the CSV's headings) and the duplicate dialog's choices
INSIGHT_COLUMNS = (
    ("received", "Eingegangen"),
    ("scheduled", "Geplant"),
    ("rejected", "Abgelehnt"),
    ("cancelled_by_customer", "Von Kunden storniert"),
    ("cancelled", "Im DMS gelöscht"),
    ("no_show", "Nicht erschienen"),
    ("new", "Noch offen"),
    ("overdue", "Frist überschritten"),
    ("failed_notifications", "Zustellung fehlgeschlagen"),
    ("decision_median", "Entscheidung nach, Median (Std.)"),
    ("decision_p90", "Entscheidung nach, 90 % (Std.)"),
)
CHOICE_LABELS = {
    CustomerChoice.EXISTING: "Bestehender Kunde",
    CustomerChoice.MERGE_LEAD_DATA: "Zusammengeführt (Leaddaten übernommen)",
    CustomerChoice.MERGE_MASTER_DATA: "Zusammengeführt (Stammdaten behalten)",
    CustomerChoice.NEW_CUSTOMER: "Neuer Kunde",
    CustomerChoice.CASH_SALE: "Barverkauf",
}

# What each placeholder of a template (Textbaustein) stands for, shown in the settings
PLACEHOLDER_LABELS = {
    "name": "Anrede, Titel, Vor- und Nachname (Frau Dr. Erika Mustermann)",
    "salutation": "Anrede (Frau, Herr)",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "date": "Datum des Termins (03.12.2026)",
    "time": "Uhrzeit des Termins (09:30)",
    "branch": "Name des Betriebs",
    "vehicle": "Fahrzeug: Marke, Modell, Kennzeichen",
    "booking_reference": "Buchungsnummer der Online-Terminbuchung",
    "confirm_link": "Link: Termin bestätigen (Bestätigung, Erinnerung)",
    "cancel_link": "Link: Termin absagen (Bestätigung, Erinnerung)",
    "other_time_link": "Link: anderen Termin wünschen (Bestätigung, Erinnerung)",
    "answer_link": "Link zu allen drei Antworten, für die SMS (Bestätigung, Erinnerung)",
}

# The API's error codes as the page says them; {name} is the error's parameter of that name,
# itself phrased (a status, a permission, a field) where a label exists.
ERROR_TEXTS = {
    "NOT_SIGNED_IN": "Bitte melden Sie sich an.",
    "TOKEN_EXPIRED": "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich neu an.",
    "TOKEN_INVALID": "Der Anmeldelink ist ungültig. Bitte fordern Sie einen neuen an.",
    "UNAUTHORIZED": "Bitte melden Sie sich neu an.",
    "PERMISSION_MISSING": "Dafür fehlt Ihnen die Berechtigung „{permission}“.",
    "READ_ONLY": (
        "Ein Terminlead im Status „{status}“ kann nur mit der Berechtigung „{permission}“ "
        "bearbeitet werden."
    ),
    "TRANSITION_REFUSED": "Ein Terminlead im Status „{status}“ kann nicht {trigger} werden.",
    "LEAD_NOT_FOUND": "Diesen Terminlead gibt es nicht (mehr).",
    "CHANGED_MEANWHILE": (
        "Der Terminlead wurde inzwischen von jemand anderem geändert. Bitte laden Sie ihn neu."
    ),
    "REQUEST_REUSED": "Diese Aktion wurde bereits für einen anderen Terminlead gesendet.",
    "TEXT_MISSING": "Bitte geben Sie einen Text für den Kunden ein.",
    "PERIOD_INVALID": "Der Zeitraum endet vor seinem Beginn.",
    "PERIOD_TOO_LONG": "Bitte wählen Sie höchstens ein Jahr.",
    "REASON_UNKNOWN": "Bitte wählen Sie einen Ablehnungsgrund aus der Liste des Betriebs.",
    "END_BEFORE_START": "Das Terminende liegt vor dem Beginn.",
    "OFFER_TIMES": "Bitte schlagen Sie ein bis drei Termine vor.",
    "OFFER_TWICE": "Bitte schlagen Sie jeden Termin nur einmal vor.",
    "OFFER_TOO_SOON": "Die vorgeschlagenen Termine müssen mehr als eine Stunde in der "
    "Zukunft liegen.",
    "OFFER_CHOICE": "Ein Terminvorschlag wird für den Barverkaufskunden oder einen gewählten "
    "Stammkunden angelegt.",
    "NO_EMAIL": "Der Kunde hat keine E-Mail-Adresse angegeben.",
    "NO_PHONE": "Der Kunde hat keine Mobilnummer für eine SMS angegeben.",
    "SMS_NOT_ENABLED": "Der SMS-Versand ist für diesen Betrieb nicht freigeschaltet.",
    "ONLY_NEW_CUSTOMER": "Nur ein neuer Kunde wird über die Kundenmaske erfasst.",
    "NO_CASH_SALE": "Für diesen Betrieb ist keine Barverkaufs-Kundennummer hinterlegt.",
    "CUSTOMER_NOT_CHOSEN": "Bitte wählen Sie zuerst den Kunden aus dem Kundenstamm.",
    "CUSTOMER_UNKNOWN": "Die Kundennummer {number} gibt es im Kundenstamm nicht.",
    "ACCEPTOR_INACTIVE": "Bitte wählen Sie einen aktiven Annehmer dieses Betriebs.",
    "NOTIFICATION_UNKNOWN": "Diese Benachrichtigung gehört nicht zu diesem Terminlead.",
    "TEMPLATE_UNKNOWN": "Die Vorlage „{name}“ gibt es für diesen Betrieb nicht.",
    "TEMPLATE_INVALID": "Die Vorlage lässt sich nicht füllen. Bitte prüfen Sie die Platzhalter.",
    "CURSOR_INVALID": "Die Liste hat sich geändert. Bitte laden Sie sie neu.",
    "MATCHING_UNAVAILABLE": (
        "Die Kundensuche antwortet gerade nicht. Bitte versuchen Sie es gleich noch einmal."
    ),
    "MATCHING_REFUSED": "Die Kundensuche hat die Anfrage abgelehnt (Fehlercode {reason}).",
    "UNAVAILABLE": "Der Dienst antwortet gerade nicht. Bitte versuchen Sie es gleich noch einmal.",
    "INVALID_REQUEST": "Bitte prüfen Sie Ihre Eingaben: {fields}.",
    "TOO_LARGE": "Die Eingabe ist zu lang.",
    "NOT_FOUND": "Nicht gefunden.",
    "INTERNAL": "Ein unerwarteter Fehler ist aufgetreten. Bitte versuchen Sie es erneut.",
}
UNKNOWN_ERROR = "Die Aktion ist fehlgeschlagen (Fehler {http})."


# What the page says when a lead is cancelled from outside while it is open ({name}: the
# customer as the list shows them); ".unnamed" when the list does not show the lead.
LIVE_TEXTS = {
    "LeadCancelled": "Termin im DMS gelöscht: Der Lead von {name} ist jetzt storniert.",
    "LeadCancelled.unnamed": "Ein Termin wurde im DMS gelöscht, sein Lead ist jetzt storniert.",
    "LeadCancelledByCustomer": "Vom Kunden storniert: {name} hat die Buchung storniert.",
    "LeadCancelledByCustomer.unnamed": "Ein Kunde hat seine Buchung storniert.",
    "LeadOverdue": "Frist überschritten: Der Lead von {name} ist noch nicht beantwortet.",
    "LeadOverdue.unnamed": "Frist überschritten: Ein neuer Lead ist noch nicht beantwortet.",
    "LeadNoShow": "Nicht erschienen: {name} ist nicht zum Termin gekommen.",
    "LeadNoShow.unnamed": "Ein Kunde ist nicht zu seinem Termin gekommen.",
    "AppointmentOffered": "Terminvorschlag gesendet an {name}.",
    "AppointmentOffered.unnamed": "Ein Terminvorschlag wurde gesendet.",
    "LeadConfirmedByCustomer": "Termin bestätigt: {name} kommt zum Termin.",
    "LeadConfirmedByCustomer.unnamed": "Ein Kunde hat seinen Termin bestätigt.",
    "LeadRescheduleRequested": "Anderer Termin gewünscht: {name} bittet um einen neuen "
    "Termin, der Lead ist wieder neu.",
    "LeadRescheduleRequested.unnamed": "Ein Kunde bittet um einen anderen Termin.",
}


def page_texts() -> dict[str, dict[str, str]]:
    """What the page's script needs to phrase the API's errors, as one JSON object."""
    return {
        "errors": {**ERROR_TEXTS, "": UNKNOWN_ERROR},
        "status": {s.value: label for s, label in STATUS_LABELS.items()},
        "permission": {p.value: label for p, label in PERMISSION_LABELS.items()},
        "trigger": {t.value: label for t, label in TRIGGER_LABELS.items()},
        "field": dict(FIELD_LABELS),
        "live": dict(LIVE_TEXTS),
    }
