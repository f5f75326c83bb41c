"""W3C trace context on the CloudEvents and in the log lines (osb_platform.tracing)."""

from __future__ import annotations

from osb_contracts import decode, encode
from osb_contracts.leads import LeadOverdue
from osb_platform.tracing import (
    add_trace_ids,
    context_of,
    hop,
    setup_tracing,
    step,
    traceparent_here,
    traceparent_of,
)

SENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def parts(traceparent: str | None) -> tuple[str, str]:
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def test_a_hop_continues_the_sender_s_trace_as_a_new_span() -> None:
    setup_tracing("test")
    received = hop("receive x", SENT)
    assert parts(received)[0] == parts(SENT)[0]
    assert parts(received)[1] != parts(SENT)[1]
    # nothing to continue: a trace of its own; a malformed one is no parent either
    assert parts(hop("receive x", None))[0] != parts(SENT)[0]
    assert context_of("00-not-a-traceparent") is None
    assert parts(hop("receive x", "garbage"))[0] != parts(SENT)[0]


def test_a_step_continues_its_parent_links_the_current_span_and_marks_log_lines() -> None:
    setup_tracing("test")
    with step("request") as request:
        with step("decision", SENT, link_current=True) as decided:
            assert parts(traceparent_of())[0] == parts(SENT)[0]
            line = add_trace_ids(None, "info", {"event": "x"})
        assert parts(traceparent_of()) == parts(request)
    assert parts(decided)[0] == parts(SENT)[0]
    assert line["trace_id"] == parts(SENT)[0]
    assert traceparent_of() is None
    assert "trace_id" not in add_trace_ids(None, "info", {"event": "outside"})


def test_the_traceparent_travels_as_a_cloudevents_extension() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    at = datetime.now(UTC)
    message = LeadOverdue(
        lead_id=uuid4(), booking_id="B-1", branch_id="HH-01", received_at=at, respond_by=at,
        overdue_at=at,
    )  # fmt: skip
    record = encode(message, key="k", source="/test", traceparent=SENT)
    assert record.headers["ce_traceparent"] == SENT
    assert decode(record.headers, record.value).traceparent == SENT
    plain = encode(message, key="k", source="/test")
    assert "ce_traceparent" not in plain.headers
    assert decode(plain.headers, plain.value).traceparent is None


def test_every_event_leaves_in_some_trace() -> None:
    setup_tracing("test")
    with step("handling") as current:
        assert traceparent_here("publish x") == current
    outside = traceparent_here("publish x")
    assert context_of(outside) is not None
    assert parts(outside)[0] != parts(current)[0]


def test_a_failed_step_names_the_exception_s_class_not_its_message() -> None:
    """Spans leave the process (OTLP): an exception's message may quote a customer's data."""
    import pytest
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    setup_tracing("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with pytest.raises(ValueError, match="quappendorf"), step("send email"):
        raise ValueError("550 <quappendorf@example.de> refused")
    (span,) = [s for s in exported.get_finished_spans() if s.name == "send email"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert not span.events  # no recorded exception with its message
