"""Mail by SMTP: composing a multipart text + HTML message whose headers
cannot be injected into, and sending a batch over one connection.

Headers are built by `email.message.EmailMessage` (policy `SMTP`) and
`email.headerregistry.Address`, which refuse CR and LF in a header value;
a subject is folded to one line first, and a recipient with a control
character is refused for good (it can only be a malformed address, never a
transient fault). The envelope recipient is checked the same way, since
`smtplib` writes it into the SMTP conversation as given.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from ..config import Settings
from .outbox import Claimed

DEFAULT_PORTS = {"tls": 465, "starttls": 587, "none": 25}
_URL = re.compile(r"https?://[^\s<>\"']+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Permanent(Exception):
    """This message can never be sent as it is (a bad address, a 5xx answer)."""


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def one_line(text: str) -> str:
    """A header value on one line: CR, LF and other controls become spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _address(value: str, what: str) -> Address:
    if _CONTROL.search(value):
        raise Permanent(f"the {what} address contains a control character (CR/LF): refused")
    name, addr = parseaddr(value)
    if "@" not in addr:
        raise Permanent(f"the {what} address {value!r} is not an email address")
    user, _, domain = addr.rpartition("@")
    try:
        return Address(display_name=name, username=user, domain=domain)
    except (ValueError, IndexError) as exc:
        raise Permanent(f"the {what} address {value!r} is not valid: {exc}") from exc


def sender(settings: Settings) -> str:
    return settings.smtp_sender or f"labdeck@{settings.smtp_host}"


def to_html(text: str) -> str:
    """The text part as HTML: escaped, links made clickable, paragraphs kept."""

    def paragraph(block: str) -> str:
        escaped = html.escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        return "<p>" + linked.replace("\n", "<br>\n") + "</p>"

    blocks = [b for b in text.split("\n\n") if b.strip()]
    body = "\n".join(paragraph(b) for b in blocks)
    return (
        '<!DOCTYPE html>\n<html><body style="font-family: sans-serif; line-height: 1.4">\n'
        f"{body}\n</body></html>\n"
    )


def compose(settings: Settings, row: Claimed) -> EmailMessage:
    """The message for one outbox row. Its Message-ID is the row's, so a
    retry after an answer that never came is recognizable as the same mail."""
    message = EmailMessage(policy=SMTP)
    from_address = _address(sender(settings), "sender")
    to_address = _address(row.recipient, "recipient")
    message["From"] = from_address
    message["To"] = to_address
    message["Subject"] = one_line(row.subject) or "(labdeck)"
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = (
        f"<labdeck.{row.id}.{int(row.created_at.timestamp())}@{from_address.domain}>"
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body)
    message.add_alternative(to_html(row.body), subtype="html")
    return message


def _permanent_code(code: int) -> bool:
    return 500 <= code < 600


Outcome = Callable[[Claimed, Exception | None], None]


def send_batch(settings: Settings, rows: Iterable[Claimed], done: Outcome) -> None:
    """Send `rows` over one SMTP connection; `done(row, error)` is told of
    each (error None: accepted by the server). A connection that cannot be
    made fails every row alike (transiently)."""
    pending = list(rows)
    if not pending:
        return
    composed: list[tuple[Claimed, EmailMessage]] = []
    for row in pending:
        try:
            composed.append((row, compose(settings, row)))
        except Permanent as exc:
            done(row, exc)
    if not composed:
        return
    security = settings.smtp_security
    port = settings.smtp_port or DEFAULT_PORTS[security]
    timeout = settings.smtp_timeout
    reported: set[int] = set()

    def report(row: Claimed, error: Exception | None) -> None:
        reported.add(row.id)
        done(row, error)

    try:
        client: smtplib.SMTP
        if security == "tls":
            client = smtplib.SMTP_SSL(
                settings.smtp_host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, port, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            for row, message in composed:
                try:
                    client.send_message(
                        message, to_addrs=[str(message["To"].addresses[0].addr_spec)]
                    )
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = [code for code, _ in exc.recipients.values()]
                    error: Exception = (
                        Permanent(f"the SMTP server refused the recipient: {exc.recipients}")
                        if codes and all(_permanent_code(code) for code in codes)
                        else exc
                    )
                    report(row, error)
                except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    reason = (
                        f"the SMTP server refused the message: {exc.smtp_code} {exc.smtp_error!r}"
                    )
                    report(row, Permanent(reason) if _permanent_code(exc.smtp_code) else exc)
                else:
                    report(row, None)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        # Connection, TLS, login, or a connection lost midway: the rest was not sent.
        for row, _ in composed:
            if row.id not in reported:
                done(row, exc)
