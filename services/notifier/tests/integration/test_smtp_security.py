"""STARTTLS, implicit TLS and login against a real aiosmtpd server with a test CA."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from notifier.adapters.email import SmtpSender
from notifier.domain.notification import SendFailedError
from notifier.domain.plan import BranchChannels, plan
from notifier.service.mail import build_message
from osb_contracts import Envelope
from osb_local_infra.mailsink import MailSink
from osb_testing.factories import rejection
from osb_testing.processes import free_port

pytestmark = [
    pytest.mark.integration,
    # aiosmtpd warns about AUTH without STARTTLS; with implicit TLS the connection is encrypted.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

BRANCH = BranchChannels("Autohaus Hansa Hamburg", "service@hansa.example")


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"osb", b"geheim")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def secured(ca: trustme.CA, request: pytest.FixtureRequest) -> Iterator[tuple[MailSink, int]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    sink, port = MailSink(), free_port()
    implicit = request.param == "tls"
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        ssl_context=server_context if implicit else None,
        tls_context=None if implicit else server_context,
        require_starttls=not implicit,
        auth_required=True,
        # aiosmtpd does not see implicit TLS as TLS for AUTH; the transport is encrypted anyway.
        auth_require_tls=not implicit,
        authenticator=authenticate,
    )
    controller.start()
    yield sink, port
    controller.stop()


def message() -> Any:
    event = rejection(text="Grüße über TLS")
    (draft,) = plan(
        Envelope(str(uuid.uuid4()), "t", "/t", datetime.now(UTC), "c", None, None, event),
        {"HH-01": BRANCH},
    )
    return build_message(draft, sender_name=BRANCH.name, now_utc=datetime.now(UTC))


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.mark.parametrize("secured", ["starttls", "tls"], indirect=True)
async def test_login_over_an_encrypted_connection(
    secured: tuple[MailSink, int], ca: trustme.CA, request: pytest.FixtureRequest
) -> None:
    sink, port = secured
    mode = request.node.callspec.params["secured"]
    sender = SmtpSender(
        host="127.0.0.1",
        port=port,
        security=mode,
        username="osb",
        password="geheim",
        tls_context=client_context(ca),
    )
    await sender.send(message())
    await sender.close()
    await asyncio.sleep(0.1)
    assert len(sink.messages) == 1
    plain = sink.messages[0].get_body(("plain",))
    assert plain is not None
    assert "Grüße über TLS" in plain.get_content()


@pytest.mark.parametrize("secured", ["starttls"], indirect=True)
async def test_a_wrong_password_is_a_permanent_failure(
    secured: tuple[MailSink, int], ca: trustme.CA
) -> None:
    _, port = secured
    sender = SmtpSender(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="osb",
        password="falsch",
        tls_context=client_context(ca),
    )
    with pytest.raises(SendFailedError) as failed:
        await sender.send(message())
    assert failed.value.permanent
    assert failed.value.code == "SMTP_535"
    await sender.close()


@pytest.mark.parametrize("secured", ["starttls"], indirect=True)
async def test_an_untrusted_certificate_is_not_accepted(secured: tuple[MailSink, int]) -> None:
    sink, port = secured
    sender = SmtpSender(
        host="127.0.0.1", port=port, security="starttls", username="osb", password="geheim"
    )
    with pytest.raises(SendFailedError) as failed:
        await sender.send(message())
    assert not failed.value.permanent
    assert sink.messages == []
