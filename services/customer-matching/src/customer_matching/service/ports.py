"""What answering lead-manager's questions needs from the outside world; the adapters
implement it over the database, the unit tests with fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from osb_contracts.matching import RegisterCustomerRequested
from osb_contracts.values import Vehicle


@dataclass(frozen=True)
class Shown:
    """One candidate a lead's search showed: nothing personal beyond the number."""

    customer_number: str
    rank: int
    band: str
    vector: str
    rules_score: float


class RangeExhaustedError(Exception):
    """Every number of the configured range is taken."""


class VehicleMaster(Protocol):
    async def find(self, vin: str) -> tuple[str | None, Vehicle] | None:
        """The VIN's owner (None: nobody) and the vehicle; None when the VIN is unknown."""
        ...


class Registration(Protocol):
    async def register(self, request: RegisterCustomerRequested) -> str:
        """The new customer's number; the same one again for a retried request id. Raises
        :class:`RangeExhaustedError`."""
        ...
