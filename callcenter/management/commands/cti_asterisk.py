"""Follow an Asterisk PBX's calls over AMI and feed them to the call centre, like the CTI HTTP API."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from callcenter.ami import AmiListener, AmiLoginError, AsteriskCtiAdapter, CallTracker


class Command(BaseCommand):
    help = (
        "Log in to the Asterisk Manager Interface and turn its call events into call records and "
        "screen-pops. Reconnects with back-off; stops on SIGINT or SIGTERM. Pass the secret in the "
        "CTI_ASTERISK_SECRET environment variable rather than on the command line, where `ps` shows it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.CTI_ASTERISK_HOST, help="AMI host")
        parser.add_argument("--port", type=int, default=settings.CTI_ASTERISK_PORT, help="AMI port")
        parser.add_argument("--username", default=settings.CTI_ASTERISK_USERNAME, help="manager.conf user")
        parser.add_argument("--secret", default=settings.CTI_ASTERISK_SECRET, help="that user's secret")
        parser.add_argument(
            "--once", action="store_true", help="exit when the connection ends instead of reconnecting"
        )

    def handle(self, *args, host, port, username, secret, once, **options):
        if not (host and username and secret):
            raise CommandError("Set --host, --username and --secret (or CTI_ASTERISK_HOST/USERNAME/SECRET).")
        tracker = CallTracker(
            inbound_contexts=settings.CTI_ASTERISK_INBOUND_CONTEXTS,
            extension_pattern=settings.CTI_ASTERISK_EXTENSION_PATTERN,
        )
        listener = AmiListener(
            host=host, port=port, username=username, secret=secret, on_event=AsteriskCtiAdapter(tracker)
        )
        stop = threading.Event()
        previous = self._on_signals(stop)
        try:
            listener.run(stop=stop, max_sessions=1 if once else None)
        except AmiLoginError as exc:
            raise CommandError(f"Asterisk refused the login: {exc}") from exc
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signals(self, stop: threading.Event) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
        return previous
