"""A local SMTP server (aiosmtpd) that keeps every mail it receives as an .eml file.

``make run`` starts it so a person can read what customers would get; the tests use it as
the real SMTP peer, and can make it refuse recipients (550) or go away and come back.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class MailSink:
    """aiosmtpd handler: keeps each message; refuses the recipients in ``refuse``."""

    folder: Path | None = None
    refuse: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.refuse:
            # as Postfix words it: servers name the address they refuse
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            count = len(self.messages)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{count:06d}.eml"
            (self.folder / name).write_bytes(raw)
        return "250 Message accepted for delivery"


def start(sink: MailSink, *, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(sink, hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    controller = start(MailSink(folder=args.folder), host=args.host, port=args.port)
    print(f"SMTP on {args.host}:{args.port}, mails in {args.folder}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
