"""The e-mail channel: read support mailboxes over IMAP (imap.py), turn messages into tickets and
replies (parse.py, then tickets.services.email), and e-mail public replies back (outbound.py)."""
