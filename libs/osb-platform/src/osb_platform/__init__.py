"""Service plumbing shared by the OSB services (a service never imports another service)."""

from osb_platform.kafka import (
    RetryWithBackoff,
    make_broker,
    publish,
    read_envelope,
)

__all__ = ["RetryWithBackoff", "make_broker", "publish", "read_envelope"]
