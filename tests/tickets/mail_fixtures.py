"""The fake IMAP server for the e-mail channel's tests (the SMTP sink is tests/mail_sink.py), and
builders of raw messages shaped like real clients' (Gmail, Outlook, Foxmail, Apple Mail)."""

from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr

import pytest

from tickets import crypto
from tickets.models import Mailbox

from .fake_imap import FakeImapServer

IMAP_PASSWORD = "imap-pass-word"  # noqa: S105 - the fake server's


@pytest.fixture
def imap_server():
    with FakeImapServer(password=IMAP_PASSWORD) as server:
        yield server


@pytest.fixture
def mailbox(imap_server, team):
    return Mailbox.objects.create(
        name="Support",
        email_address="support@example.com",
        host=imap_server.host,
        port=imap_server.port,
        use_ssl=False,
        username=imap_server.username,
        password_encrypted=crypto.encrypt(IMAP_PASSWORD),
        team=team,
    )


def make_email(
    *,
    subject="Parcel arrived damaged",
    body="Hello, my parcel arrived damaged.",
    sender=("Chen Mei", "chen@example.com"),
    to="support@example.com",
    message_id="<m1@client.example>",
    in_reply_to=None,
    references=None,
    charset="utf-8",
    attachments=(),
    html=None,
    headers=None,
) -> bytes:
    text = MIMEText(body, "plain", charset)
    if html is not None or attachments:
        message = MIMEMultipart("mixed")
        if html is not None:
            alternative = MIMEMultipart("alternative")
            alternative.attach(text)
            alternative.attach(MIMEText(html, "html", charset))
            message.attach(alternative)
        else:
            message.attach(text)
        for name, content_type, data in attachments:
            part = MIMEApplication(data, _subtype=content_type.split("/")[1])
            part.replace_header("Content-Type", content_type)
            part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
            message.attach(part)
    else:
        message = text
    message["Subject"] = Header(subject, charset).encode()
    message["From"] = formataddr(sender, charset=charset) if sender[0] else sender[1]
    message["To"] = to
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for key, value in (headers or {}).items():
        message[key] = value
    return message.as_bytes()
