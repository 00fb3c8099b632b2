"""Play a phone call against a running CRM through the signed CTI API, as a PBX would.

    python manage.py cti_demo_call --extension 101 --number 0912-345-678
    python manage.py cti_demo_call --extension 101 --number 0912-345-678 --answer-after 5 --hang-up-after 30

The agent with that extension sees the caller card pop up in their open browser tab.
"""

import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from callcenter import signing


class Command(BaseCommand):
    help = "Send a signed ringing (and optionally answered and ended) event to a running CRM."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the CRM runs.")
        parser.add_argument("--extension", default="101", help="The agent's extension that rings.")
        parser.add_argument("--number", default="0912-345-678", help="The caller's number, in any format.")
        parser.add_argument(
            "--answer-after", type=float, default=None, help="Seconds until the agent answers."
        )
        parser.add_argument(
            "--hang-up-after", type=float, default=None, help="Seconds of talk before hanging up."
        )

    def handle(self, *args, **options):
        if not options["url"].startswith(("http://", "https://")):
            raise CommandError("--url must start with http:// or https://.")
        if not settings.CTI_SHARED_SECRET:
            raise CommandError("Set CTI_SHARED_SECRET (the same value the server uses).")
        call_id = f"demo-{uuid.uuid4().hex[:12]}"
        self._send(options, call_id, "ringing")
        self.stdout.write(
            f"Ringing extension {options['extension']} from {options['number']} (call {call_id})."
        )
        if options["answer_after"] is not None:
            time.sleep(options["answer_after"])  # a person picking up: this is a demo, not a test
            self._send(options, call_id, "answered")
            self.stdout.write("Answered.")
            if options["hang_up_after"] is not None:
                time.sleep(options["hang_up_after"])
                self._send(options, call_id, "ended")
                self.stdout.write("Ended: the agent can now fill in the wrap-up.")

    def _send(self, options, call_id, event):
        body = json.dumps(
            {
                "call_id": call_id,
                "event": event,
                "direction": "inbound",
                "from": options["number"],
                "to": "02-2345-6789",
                "extension": options["extension"],
                "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        ).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in handle()
            options["url"].rstrip("/") + "/api/v1/cti/events/",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-CRM-Timestamp": timestamp,
                "X-CRM-Signature": signing.sign(settings.CTI_SHARED_SECRET, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the scheme is checked in handle()
                response.read()
        except urllib.error.HTTPError as exc:
            raise CommandError(
                f"The CRM refused the {event} event: {exc.code} {exc.read().decode()[:200]}"
            ) from None
        except urllib.error.URLError as exc:
            raise CommandError(f"Cannot reach {options['url']}: {exc.reason}") from None
