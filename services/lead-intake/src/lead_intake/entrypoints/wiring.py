"""What lead-intake's entrypoints need, built once when the service starts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from osb_platform import Producer

from lead_intake.adapters.appointments import AppointmentBook, OfferBook
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.domain.validation import Branch


@dataclass(frozen=True)
class Wiring:
    producer: Producer
    store: IdempotencyStore
    branches: Mapping[str, Branch]
    clock: Callable[[], datetime]
    appointments: AppointmentBook
    link_secret: str | None  # the customer links' (shared with the notifier); None: no links
    offers: OfferBook
