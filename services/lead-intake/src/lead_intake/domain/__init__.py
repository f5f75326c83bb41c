"""Validation and normalisation of portal bookings: pure, no I/O."""
