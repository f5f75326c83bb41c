"""Service plumbing shared by the OSB services (a service never imports another service)."""

from osb_platform.kafka import (
    RetryWithBackoff,
    make_broker,
    publish,
    raw_batch,
    read_envelope,
    tolerant_batch_parser,
)
from osb_platform.producer import DeadLetter, Outgoing, Producer

__all__ = [
    "DeadLetter",
    "Outgoing",
    "Producer",
    "RetryWithBackoff",
    "make_broker",
    "publish",
    "raw_batch",
    "read_envelope",
    "tolerant_batch_parser",
]
