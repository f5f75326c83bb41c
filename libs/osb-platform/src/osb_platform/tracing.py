"""One booking followed across every hop: W3C trace context on HTTP and on every CloudEvent.

Spans are made in every process (so the trace id reaches every event and log line) and
exported over OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; the SDK reads the other ``OTEL_*``
settings itself. An event carries the context of the span that produced it as the
CloudEvents distributed-tracing extension's ``traceparent`` (``ce_traceparent`` on Kafka):
the outbox takes the current span's when the event is written; a consumer starts a span
for a record received alone as the child of the record's and hands its context on
(``Envelope.traceparent``; in a larger batch each record's own context goes on);
a lead keeps its booking's context, so an advisor's decision and the messages it sends
continue the booking's trace (the HTTP request that made it is linked).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("osb")
# the links a span keeps (OTEL_SPAN_LINK_COUNT_LIMIT, 128 by default): more are not parsed
MAX_LINKS = SpanLimits().max_links or 128


def setup_tracing(service: str) -> None:
    """This process's tracer provider (once per process; a second call changes nothing)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def flush_traces() -> None:
    """Export what is still held (at a service's end)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis=5000)


def context_of(traceparent: str | None) -> Context | None:
    """The remote context a ``traceparent`` names (None for none or a malformed one)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    valid = trace.get_current_span(context).get_span_context().is_valid
    return context if valid else None


def traceparent_of(span: trace.Span | None = None) -> str | None:
    """The ``traceparent`` of ``span`` (the current one by default), None outside any."""
    span = span or trace.get_current_span()
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def traceparent_here(name: str) -> str | None:
    """The current span's ``traceparent``; outside any span, that of a new trace (a span
    ``name`` ended at once): every event a service sends leaves in some trace. None in a
    process without :func:`setup_tracing` (a script, a unit test)."""
    return traceparent_of() or hop(name, None)


def hop(name: str, parent: str | None, attributes: Mapping[str, Any] | None = None) -> str | None:
    """A span marking that a record arrived (the child of the one that sent it), ended at
    once; its ``traceparent``, for what the record causes."""
    span = _tracer.start_span(
        name, context=context_of(parent), kind=SpanKind.CONSUMER, attributes=attributes
    )
    span.end()
    return traceparent_of(span)


@contextmanager
def step(
    name: str,
    parent: str | None = None,
    *,
    link_current: bool = False,
    links: Sequence[str | None] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[str | None]:
    """A current span ``name``, the child of ``parent`` (else of the current span); with
    ``link_current`` the current span is linked instead of being the parent (an advisor's
    request acting on a lead continues the lead's trace). Yields its ``traceparent``."""
    linked = [trace.get_current_span().get_span_context()] if link_current else []
    linked += [
        trace.get_current_span(c).get_span_context()
        for c in map(context_of, links)
        if c is not None
    ]
    context = context_of(parent)
    if context is None and link_current:
        context = Context()  # a trace of its own rather than the request's
    with _tracer.start_as_current_span(
        name,
        context=context,
        links=[Link(s) for s in linked if s.is_valid],
        attributes=attributes,
        # an exception's message may quote a customer's data: the span names its class only
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield traceparent_of(span)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog: the current span's trace and span id on every log line made inside one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", f"{context.trace_id:032x}")
        event.setdefault("span_id", f"{context.span_id:016x}")
    return event
