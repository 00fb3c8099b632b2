"""Read a mailbox over IMAP with imaplib: the messages after the last UID read, each ingested and then
flagged \\Seen. The last UID is saved after every message, so a poll cut short resumes where it stopped;
a message read twice anyway is recognised by its Message-ID."""

import contextlib
import imaplib
import logging
import ssl
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from .. import crypto
from ..models import Mailbox

log = logging.getLogger(__name__)

TIMEOUT = 30
BATCH = 200  # messages per poll and mailbox; the rest come on the next one


class MailboxError(Exception):
    """The server could not be reached, refused the login or the folder; the message says which."""


@dataclass
class PollResult:
    fetched: int = 0
    created: int = 0
    replies: int = 0
    duplicates: int = 0
    skipped: int = 0


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    try:
        if mailbox.use_ssl:
            client = imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
            )
        else:
            client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"Cannot reach {mailbox.host}:{mailbox.port}: {exc}") from None
    try:
        client.login(mailbox.username, crypto.decrypt(mailbox.password_encrypted))
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(client)
        raise MailboxError(f"Login refused: {_text(exc)}") from None
    return client


def _text(exc) -> str:
    value = exc.args[0] if exc.args else exc
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value))[:300]


def _close(client) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()


def _select(client, folder: str) -> int:
    status, data = client.select(f'"{folder}"' if " " in folder else folder)
    if status != "OK":
        raise MailboxError(f"Cannot open the folder {folder}: {_text(imaplib.IMAP4.error(data[0]))}")
    # imaplib keeps the "[UIDVALIDITY n]" response code of SELECT under its name.
    values = client.response("UIDVALIDITY")[1] or []
    return int(values[-1]) if values and values[-1] and values[-1].isdigit() else 0


def test_connection(mailbox: Mailbox) -> str:
    """A sentence for the admin: how many messages wait, or MailboxError."""
    client = connect(mailbox)
    try:
        _select(client, mailbox.folder)
        status, data = client.uid("SEARCH", None, "ALL")
        count = len(data[0].split()) if status == "OK" and data and data[0] else 0
        return f"Connected; {count} message(s) in {mailbox.folder}."
    finally:
        _close(client)


def mailbox_poll(mailbox: Mailbox) -> PollResult:
    """Ingest the new messages of one mailbox. Two polls of one mailbox never run at once."""
    from ..services.email import email_ingest

    # The cache may be shared by several installations (or test databases): name the database too.
    lock = f"tickets:mail-poll:{connection.settings_dict['NAME']}:{mailbox.pk}"
    if not cache.add(lock, 1, timeout=10 * 60):
        return PollResult()
    result = PollResult()
    try:
        client = connect(mailbox)
        try:
            validity = _select(client, mailbox.folder)
            if validity != mailbox.uid_validity:  # the folder was rebuilt: its UIDs start again
                mailbox.uid_validity, mailbox.last_uid = validity, 0
            status, data = client.uid("SEARCH", None, f"UID {mailbox.last_uid + 1}:*")
            if status != "OK":
                raise MailboxError(f"Search refused: {_text(imaplib.IMAP4.error(data[0]))}")
            # "n:*" always includes the newest message, even when it is older than n.
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > mailbox.last_uid)[:BATCH]
            for uid in uids:
                status, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts or () if isinstance(p, tuple) and len(p) > 1), None)
                if status != "OK" or raw is None:
                    raise MailboxError(f"Cannot fetch message {uid}")
                result.fetched += 1
                try:
                    outcome = email_ingest(raw=raw, mailbox=mailbox)
                except (ValidationError, ValueError, LookupError, UnicodeError) as exc:
                    # A message we cannot turn into a ticket (e.g. an unusable sender address) must not
                    # block the mailbox: it is logged, flagged as read and left for a person to see.
                    log.warning("mailbox %s: message %s skipped: %s", mailbox.pk, uid, exc)
                    outcome = None
                if outcome is None or outcome.skipped:
                    result.skipped += 1
                elif outcome.duplicate:
                    result.duplicates += 1
                elif outcome.created:
                    result.created += 1
                else:
                    result.replies += 1
                client.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
                mailbox.last_uid = uid
                Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid, uid_validity=mailbox.uid_validity)
        finally:
            _close(client)
        mailbox.last_error = ""
    except (MailboxError, OSError, imaplib.IMAP4.error) as exc:
        mailbox.last_error = str(exc)[:500]
        log.warning("mailbox %s: %s", mailbox.pk, mailbox.last_error)
    finally:
        cache.delete(lock)
    mailbox.last_polled_at = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_uid=mailbox.last_uid,
        uid_validity=mailbox.uid_validity,
        last_polled_at=mailbox.last_polled_at,
        last_error=mailbox.last_error,
    )
    return result
