"""Asterisk Manager Interface (AMI): a small client, and the call events it feeds to the call centre.

AMI is a line protocol over TCP: the server greets with one line ("Asterisk Call Manager/5.0.1"),
then every message is "Key: Value" lines ending with an empty line. A client sends "Action: ..."
messages with an ActionID; the server answers "Response: Success|Error" with the same ActionID and
pushes "Event: ..." messages on its own.

How channel events become CTI events (`CallTracker`); a call is its Linkedid, the Uniqueid of the
call's first channel:

* The first channel's dialplan context, as first seen, says where the call came from. In one of
  CTI_ASTERISK_INBOUND_CONTEXTS (e.g. "from-trunk"): an inbound call from the outside.
* A channel whose peer name (PJSIP/101-0000002a, SIP/101-..., Local/101@from-queue-...;1) matches
  CTI_ASTERISK_EXTENSION_PATTERN is an agent's phone.
* Inbound: the first DialBegin towards an agent's phone is "ringing" for that extension. Calls that
  never ring an agent (IVR only, hung up before reaching anyone) are not reported.
* Outbound: the first channel is an agent's phone (not in an inbound context) and it dials a number
  that is not an extension (a click-to-call Originate does exactly this once the agent picks up):
  "ringing", from the agent's extension to that number. Calls between extensions are not reported.
* "answered": DialEnd with DialStatus ANSWER, or an agent channel of the call entering a bridge.
* The first channel's Hangup: "ended" if answered, else "missed".

Limits: a ring group rings the first extension dialled on the agent screens (the answering one gets
the call either way); transfers are not followed.
"""

import contextlib
import datetime as dt
import logging
import random
import re
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import Error as DatabaseError
from django.db import connection

logger = logging.getLogger(__name__)

GREETING = b"Asterisk Call Manager/"
TERMINATOR = b"\r\n\r\n"
MAX_MESSAGE_BYTES = 256 * 1024
_UNSAFE = re.compile(r"[\r\n]")


class AmiError(Exception):
    """The PBX could not be reached, broke the protocol, or dropped the connection."""


class AmiLoginError(AmiError):
    """The PBX refused the username or secret: retrying would not help."""


class AmiActionError(AmiError):
    """The PBX answered an action with Response: Error."""


def encode(fields: dict) -> bytes:
    """One AMI message. Values come partly from users and settings: a line break would inject headers."""
    lines = []
    for key, value in fields.items():
        value = str(value)
        if _UNSAFE.search(key) or _UNSAFE.search(value):
            raise ValueError(f"AMI field {key!r} contains a line break")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def decode(raw: bytes) -> dict:
    message = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            message[key.strip()] = value.strip()
    return message


class AmiConnection:
    """One logged-in AMI session over a blocking socket."""

    def __init__(self, sock: socket.socket, *, timeout: float):
        self._sock = sock
        self._buffer = b""
        self.timeout = timeout
        self.version = ""

    @classmethod
    def open(
        cls, *, host: str, port: int, username: str, secret: str, events: bool = True, timeout: float = 10
    ) -> "AmiConnection":
        """Connect, check the greeting and log in; AmiLoginError if the PBX refuses the credentials."""
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise AmiError(f"cannot connect to {host}:{port}: {exc}") from exc
        ami = cls(sock, timeout=timeout)
        try:
            greeting = ami._read_until(b"\r\n", deadline=time.monotonic() + timeout)
            if not greeting.startswith(GREETING):
                raise AmiError(f"{host}:{port} is not an Asterisk manager interface")
            ami.version = greeting[len(GREETING) :].decode(errors="replace").strip()
            try:
                ami.request(
                    {
                        "Action": "Login",
                        "Username": username,
                        "Secret": secret,
                        "Events": "on" if events else "off",
                    }
                )
            except AmiActionError as exc:
                raise AmiLoginError(f"login as {username!r} refused: {exc}") from exc
        except BaseException:
            ami.close(logoff=False)
            raise
        return ami

    def send(self, fields: dict) -> str:
        """Send an action; returns its ActionID."""
        action_id = fields.get("ActionID") or uuid.uuid4().hex
        try:
            self._sock.sendall(encode({**fields, "ActionID": action_id}))
        except OSError as exc:
            raise AmiError(f"connection lost: {exc}") from exc
        return action_id

    def request(self, fields: dict, *, on_event: Callable[[dict], None] | None = None) -> dict:
        """Send an action and wait for its response; events that arrive meanwhile go to `on_event`."""
        action_id = self.send(fields)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self.read(deadline=deadline)
            if message is None:
                raise AmiError(f"no response to {fields.get('Action')} within {self.timeout:g} s")
            if "Response" in message and message.get("ActionID", action_id) == action_id:
                if message["Response"].lower() == "error":
                    raise AmiActionError(message.get("Message") or "error")
                return message
            if "Event" in message and on_event is not None:
                on_event(message)

    def read(self, *, deadline: float) -> dict | None:
        """The next message, or None if none came before the deadline (time.monotonic())."""
        raw = self._read_until(TERMINATOR, deadline=deadline)
        return None if raw is None else decode(raw)

    def _read_until(self, separator: bytes, *, deadline: float) -> bytes | None:
        while True:
            index = self._buffer.find(separator)
            if index >= 0:
                raw, self._buffer = self._buffer[:index], self._buffer[index + len(separator) :]
                return raw
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise AmiError("message too long")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                return None
            except OSError as exc:
                raise AmiError(f"connection lost: {exc}") from exc
            if not chunk:
                raise AmiError("connection closed by the PBX")
            self._buffer += chunk

    def close(self, *, logoff: bool = True) -> None:
        if logoff:
            with contextlib.suppress(OSError):
                self._sock.settimeout(1)
                self._sock.sendall(encode({"Action": "Logoff", "ActionID": uuid.uuid4().hex}))
        with contextlib.suppress(OSError):
            self._sock.close()


def backoff_delay(failures: int, *, initial: float, maximum: float) -> float:
    """Exponential back-off with jitter, so that many adapters do not reconnect in step."""
    ceiling = min(maximum, initial * 2 ** max(0, failures - 1))
    return random.uniform(ceiling / 2, ceiling)


class AmiListener:
    """Stays logged in to AMI and hands every event to `on_event`, reconnecting with back-off."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: Callable[[dict], None],
        timeout: float = 10,
        backoff_initial: float = 1,
        backoff_max: float = 60,
        poll: float = 0.5,
    ):
        self.host, self.port, self.username, self._secret = host, port, username, secret
        self.on_event = on_event
        self.timeout = timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.poll = poll
        self.sessions = 0

    def run(self, *, stop: threading.Event, max_sessions: int | None = None) -> None:
        """Follow events until `stop` is set (or after `max_sessions` connections have ended).

        A refused login raises AmiLoginError: the credentials are wrong, and hammering the PBX with
        them would not make them right.
        """
        failures = 0
        while not stop.is_set():
            try:
                ami = AmiConnection.open(
                    host=self.host,
                    port=self.port,
                    username=self.username,
                    secret=self._secret,
                    timeout=self.timeout,
                )
            except AmiLoginError:
                logger.error("AMI %s:%s refused the login of %r", self.host, self.port, self.username)
                raise
            except AmiError as exc:
                failures += 1
                delay = backoff_delay(failures, initial=self.backoff_initial, maximum=self.backoff_max)
                logger.warning("AMI unavailable (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                continue
            self.sessions += 1
            connected_at = time.monotonic()
            logger.info(
                "AMI connected to %s:%s (Asterisk Call Manager/%s)", self.host, self.port, ami.version
            )
            try:
                self._follow(ami, stop)
            except AmiError as exc:
                logger.warning("AMI connection to %s:%s lost: %s", self.host, self.port, exc)
            finally:
                ami.close(logoff=stop.is_set())
            if max_sessions is not None and self.sessions >= max_sessions:
                return
            if not stop.is_set():
                if time.monotonic() - connected_at >= self.backoff_max:
                    failures = 0  # the session lasted: a new outage starts the back-off afresh
                failures += 1  # a PBX that drops every session at once still backs off
                stop.wait(backoff_delay(failures, initial=self.backoff_initial, maximum=self.backoff_max))
        logger.info("AMI listener stopped")

    def _follow(self, ami: AmiConnection, stop: threading.Event) -> None:
        while not stop.is_set():
            message = ami.read(deadline=time.monotonic() + self.poll)
            if message is None or "Event" not in message:
                continue
            try:
                self.on_event(message)
            except Exception:
                logger.exception("AMI %s event could not be handled", message.get("Event"))


def extension_of(channel: str, pattern: re.Pattern) -> str:
    """The agent extension a channel name stands for ("PJSIP/101-0000002a" -> "101"), or ""."""
    tech, slash, rest = (channel or "").partition("/")
    if not slash:
        return ""
    peer = rest.split("@", 1)[0] if tech.lower() == "local" else rest.rsplit("-", 1)[0]
    return peer if pattern.fullmatch(peer) else ""


def _number(value: str) -> str:
    value = (value or "").strip()
    return "" if value.lower() in ("", "<unknown>", "unknown", "anonymous", "s") else value


@dataclass
class _Call:
    linkedid: str
    seen_at: float
    context: str = ""
    caller: str = ""
    dialled: str = ""
    peer_extension: str = ""
    direction: str = ""
    extension: str = ""
    agent_channels: dict = field(default_factory=dict)  # Uniqueid -> extension
    sent: set = field(default_factory=set)


class CallTracker:
    """Turns AMI channel events into the CTI events of the HTTP API (see the module docstring).

    Keeps a little state per call in memory, bounded: a call is forgotten at its hangup or after
    `max_age` seconds, and at most `max_calls` are followed at once. Finished calls are remembered a
    while longer so that repeated or late events for them change nothing.
    """

    TRACKED = {"Newchannel", "Newstate", "DialBegin", "DialEnd", "BridgeEnter", "Hangup"}

    def __init__(
        self,
        *,
        inbound_contexts,
        extension_pattern: str,
        max_calls: int = 10000,
        max_age: float = 6 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.inbound_contexts = {c.strip() for c in inbound_contexts if c.strip()}
        self.extension_pattern = re.compile(extension_pattern)
        self.max_calls, self.max_age, self.clock = max_calls, max_age, clock
        self.calls: OrderedDict[str, _Call] = OrderedDict()
        self.finished: OrderedDict[str, float] = OrderedDict()

    def feed(self, message: dict) -> list[dict]:
        """The CTI events (HTTP API payloads) this AMI event makes, usually none."""
        name = message.get("Event", "")
        linkedid = message.get("Linkedid", "")
        if name not in self.TRACKED or not linkedid:
            return []
        self._forget_old()
        if linkedid in self.finished:
            return []
        call = self.calls.get(linkedid)
        if call is None:
            if message.get("Uniqueid") != linkedid:
                return []  # joined mid-call: without the first channel there is nothing to go on
            call = self.calls[linkedid] = _Call(linkedid=linkedid, seen_at=self.clock())
            while len(self.calls) > self.max_calls:
                self.calls.popitem(last=False)
        if message.get("Uniqueid") == linkedid:
            self._learn_first_channel(call, message)
        handler = getattr(self, f"_on_{name.lower()}", None)
        return [self._payload(call, event, message) for event in (handler(call, message) if handler else [])]

    def _learn_first_channel(self, call: _Call, message: dict) -> None:
        if not call.context:
            call.context = message.get("Context", "")
            call.caller = _number(message.get("CallerIDNum", ""))
            call.dialled = _number(message.get("Exten", ""))
            call.peer_extension = extension_of(message.get("Channel", ""), self.extension_pattern)

    def _on_dialbegin(self, call: _Call, message: dict) -> list[str]:
        if not message.get("Channel"):
            return []  # an Originate ringing the agent's own phone: the call starts when it dials out
        if not call.direction:
            if call.context in self.inbound_contexts:
                call.direction = "inbound"
            elif call.peer_extension and message.get("Uniqueid") == call.linkedid:
                number = _number(message.get("Exten", ""))
                if not number or self.extension_pattern.fullmatch(number):
                    return []  # a call between extensions
                call.direction = "outbound"
                call.extension = call.peer_extension
                call.caller = call.peer_extension
                call.dialled = number
                call.agent_channels[call.linkedid] = call.extension
            else:
                return []
        if call.direction == "inbound":
            extension = extension_of(message.get("DestChannel", ""), self.extension_pattern)
            if not extension and self.extension_pattern.fullmatch(message.get("DestCallerIDNum", "")):
                extension = message["DestCallerIDNum"]
            if not extension:
                return []
            call.agent_channels[message.get("DestUniqueid", "")] = extension
            call.extension = call.extension or extension
        return self._once(call, "ringing")

    def _on_dialend(self, call: _Call, message: dict) -> list[str]:
        if message.get("DialStatus", "").upper() != "ANSWER" or "ringing" not in call.sent:
            return []
        if call.direction == "inbound":
            extension = call.agent_channels.get(message.get("DestUniqueid", ""))
            if not extension:
                return []
            call.extension = extension
        return self._once(call, "answered")

    def _on_bridgeenter(self, call: _Call, message: dict) -> list[str]:
        extension = call.agent_channels.get(message.get("Uniqueid", ""))
        if not extension or "ringing" not in call.sent:
            return []
        if "answered" not in call.sent:
            call.extension = extension
        return self._once(call, "answered")

    def _on_hangup(self, call: _Call, message: dict) -> list[str]:
        if message.get("Uniqueid") != call.linkedid:
            return []
        self.calls.pop(call.linkedid, None)
        self.finished[call.linkedid] = self.clock()
        if "ringing" not in call.sent:
            return []
        return ["ended" if "answered" in call.sent else "missed"]

    def _once(self, call: _Call, event: str) -> list[str]:
        if event in call.sent:
            return []
        call.sent.add(event)
        return [event]

    def _payload(self, call: _Call, event: str, message: dict) -> dict:
        return {
            "call_id": call.linkedid,
            "event": event,
            "direction": call.direction,
            "from": call.caller[:64],
            "to": call.dialled[:64],
            "extension": call.extension,
            "occurred_at": _occurred_at(message).isoformat(),
            "ami_event": message.get("Event", ""),
        }

    def _forget_old(self) -> None:
        horizon = self.clock() - self.max_age
        for table, seen in ((self.calls, lambda c: c.seen_at), (self.finished, lambda t: t)):
            while table and seen(next(iter(table.values()))) < horizon:
                table.popitem(last=False)
        while len(self.finished) > self.max_calls:
            self.finished.popitem(last=False)


def _occurred_at(message: dict) -> dt.datetime:
    """The event's time: its Timestamp header when manager.conf has timestampevents=yes, else now."""
    try:
        return dt.datetime.fromtimestamp(float(message["Timestamp"]), dt.UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        return dt.datetime.now(dt.UTC)


def cti_forward(payload: dict) -> None:
    """Feed one CTI event to the same service as the HTTP API. A dropped database connection is
    reopened once; a bad event is logged and skipped, so one cannot stop the adapter."""
    from django.core.exceptions import ValidationError

    from . import services
    from .models import CtiEvent

    for attempt in (1, 2):
        try:
            data = services.event_parse(payload)
            services.cti_event_ingest(data=data, payload=payload, source=CtiEvent.Source.AMI)
            return
        except ValidationError as exc:
            logger.warning(
                "AMI call %s: %s event not valid: %s", payload.get("call_id"), payload.get("event"), exc
            )
            return
        except DatabaseError:
            if attempt == 2 or connection.in_atomic_block:
                logger.exception(
                    "AMI call %s: could not store %s", payload.get("call_id"), payload.get("event")
                )
                return
            connection.close()
        except Exception:
            logger.exception("AMI call %s: could not apply %s", payload.get("call_id"), payload.get("event"))
            return


class AsteriskCtiAdapter:
    """AMI events in, CTI events out: the tracker's mapping fed to `cti_forward`."""

    def __init__(self, tracker: CallTracker, forward: Callable[[dict], None] = cti_forward):
        self.tracker = tracker
        self.forward = forward

    def __call__(self, message: dict) -> None:
        for payload in self.tracker.feed(message):
            logger.info(
                "AMI call %s: %s (extension %s)",
                payload["call_id"],
                payload["event"],
                payload["extension"] or "-",
            )
            self.forward(payload)
