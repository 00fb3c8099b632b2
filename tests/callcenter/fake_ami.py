"""A fake Asterisk Manager Interface on 127.0.0.1 for the tests, and real-looking call event scripts.

Events follow the Asterisk 20 AMI documentation (Newchannel, Newstate, DialBegin, DialEnd,
BridgeEnter, Hangup), with the Timestamp header that `timestampevents=yes` in manager.conf adds.
"""

import contextlib
import socket
import socketserver
import threading
from dataclasses import dataclass, field

GREETING = b"Asterisk Call Manager/9.0.0\r\n"
DEFAULT_SECRET = "ami-secret"


def encode(message: dict) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in message.items()).encode() + b"\r\n"


def decode(raw: bytes) -> dict:
    message = {}
    for line in raw.decode().split("\r\n"):
        key, _, value = line.partition(":")
        message[key.strip()] = value.strip()
    return message


@dataclass
class Session:
    """What to do with one logged-in client: push these events, then hang up (or stay connected)."""

    events: list = field(default_factory=list)
    hang_up: bool = True


class FakeAmi:
    """Greets like Asterisk, checks Login, records every action and plays a Session per login.

    Clients that log in after the planned sessions are used up get an idle connection.
    """

    def __init__(self, *, username="crm", secret=DEFAULT_SECRET, port=0):
        self.username, self.secret = username, secret
        self.actions: list[dict] = []
        self.logins = 0
        self.failed_logins = 0
        self.originate_error = ""  # set to make Originate answer "Response: Error"
        self._plans: list[Session] = []
        self._changed = threading.Condition()
        self._clients: list[socket.socket] = []
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                fake._serve(self.request)

        self._server = _Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        with self._changed:
            for client in self._clients:
                _close(client)

    def plan(self, *sessions: Session) -> None:
        with self._changed:
            self._plans.extend(sessions)

    def wait_for(self, predicate, timeout=5) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def originates(self) -> list[dict]:
        with self._changed:
            return [action for action in self.actions if action.get("Action", "").lower() == "originate"]

    def _record(self, change) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _serve(self, sock: socket.socket) -> None:
        with self._changed:
            self._clients.append(sock)
        sock.sendall(GREETING)
        buffer = b""
        logged_in = False
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                raw, buffer = buffer.split(b"\r\n\r\n", 1)
                action = decode(raw)
                self._record(lambda action=action: self.actions.append(action))
                name = action.get("Action", "").lower()
                reply = {"ActionID": action.get("ActionID", "")}
                if name == "login":
                    if action.get("Username") != self.username or action.get("Secret") != self.secret:
                        self._record(lambda: setattr(self, "failed_logins", self.failed_logins + 1))
                        sock.sendall(
                            encode({"Response": "Error", **reply, "Message": "Authentication failed"})
                        )
                        return  # Asterisk closes the session after a failed login
                    sock.sendall(
                        encode({"Response": "Success", **reply, "Message": "Authentication accepted"})
                    )
                    logged_in = True
                    session = Session(hang_up=False)
                    if action.get("Events", "on").lower() != "off":
                        with self._changed:
                            session = self._plans.pop(0) if self._plans else session
                        sock.sendall(
                            encode(
                                {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}
                            )
                        )
                        for event in session.events:
                            sock.sendall(encode(event))
                    self._record(lambda: setattr(self, "logins", self.logins + 1))
                    if session.hang_up:
                        return
                elif not logged_in:
                    sock.sendall(encode({"Response": "Error", **reply, "Message": "Permission denied"}))
                elif name == "originate":
                    if self.originate_error:
                        sock.sendall(encode({"Response": "Error", **reply, "Message": self.originate_error}))
                    else:
                        sock.sendall(
                            encode(
                                {"Response": "Success", **reply, "Message": "Originate successfully queued"}
                            )
                        )
                elif name == "logoff":
                    sock.sendall(
                        encode({"Response": "Goodbye", **reply, "Message": "Thanks for all the fish."})
                    )
                    return
                else:
                    sock.sendall(encode({"Response": "Error", **reply, "Message": "Invalid/unknown command"}))
        except OSError:
            return
        finally:
            _close(sock)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _close(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# Call scripts ------------------------------------------------------------------------------------


def _channel(name, *, uniqueid, linkedid, at, state="Ring", number="", context="", exten="", priority="1"):
    codes = {"Down": 0, "Ring": 4, "Ringing": 5, "Up": 6}
    return {
        "Privilege": "call,all",
        "Timestamp": f"{at:.6f}",
        "Channel": name,
        "ChannelState": codes[state],
        "ChannelStateDesc": state,
        "CallerIDNum": number or "<unknown>",
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "zh_TW",
        "AccountCode": "",
        "Context": context,
        "Exten": exten,
        "Priority": priority,
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
    }


def _dial(event, caller: dict, dest: dict, **extra):
    fields = {"Event": event, **caller}
    for key in ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName"):
        fields[f"Dest{key}"] = dest[key]
    fields.update(
        {
            "DestConnectedLineNum": caller["CallerIDNum"],
            "DestConnectedLineName": "<unknown>",
            "DestLanguage": "zh_TW",
            "DestAccountCode": "",
            "DestContext": dest["Context"],
            "DestExten": dest["Exten"],
            "DestPriority": "1",
            "DestUniqueid": dest["Uniqueid"],
            "DestLinkedid": dest["Linkedid"],
            **extra,
        }
    )
    return fields


def _bridge(channel: dict, at: float, count: int):
    return {
        "Event": "BridgeEnter",
        "Privilege": "call,all",
        "BridgeUniqueid": "5c8a1f2e-4b7d-4c1a-9a53-0d2f6c1e7b90",
        "BridgeType": "basic",
        "BridgeTechnology": "simple_bridge",
        "BridgeCreator": "<unknown>",
        "BridgeName": "<unknown>",
        "BridgeNumChannels": count,
        "BridgeVideoSourceMode": "none",
        **{**channel, "Timestamp": f"{at:.6f}", "ChannelState": 6, "ChannelStateDesc": "Up"},
        "SwapUniqueid": "",
    }


def _hangup(channel: dict, at: float, cause=16, text="Normal Clearing"):
    return {"Event": "Hangup", **channel, "Timestamp": f"{at:.6f}", "Cause": cause, "Cause-txt": text}


def inbound_call(
    *,
    linkedid="1763861400.10",
    caller="0912345678",
    did="0223456789",
    extension="101",
    rings_at=1763861400.0,
    answer_after=5.0,
    talk=180.0,
    answered=True,
):
    """A call from the trunk (context from-trunk) that the dialplan sends to an agent's PJSIP phone.

    The agent's phone starts ringing at `rings_at`; the trunk channel came up half a second earlier.
    """
    base, seq = linkedid.split(".")
    start = rings_at - 0.5
    trunk = _channel(
        "PJSIP/hinet-trunk-0000001a",
        uniqueid=linkedid,
        linkedid=linkedid,
        at=start,
        number=caller,
        context="from-trunk",
        exten=did,
    )
    agent = _channel(
        f"PJSIP/{extension}-0000001b",
        uniqueid=f"{base}.{int(seq) + 1}",
        linkedid=linkedid,
        at=rings_at - 0.01,
        state="Down",
        number=extension,
        context="from-internal",
        exten="s",
    )
    events = [
        {"Event": "Newchannel", **trunk},
        {
            "Event": "Newstate",
            **trunk,
            "Timestamp": f"{start + 0.1:.6f}",
            "ChannelState": 6,
            "ChannelStateDesc": "Up",
        },
        {"Event": "Newchannel", **agent},
        _dial("DialBegin", {**trunk, "Timestamp": f"{rings_at:.6f}"}, agent, DialString=extension),
        {
            "Event": "Newstate",
            **agent,
            "Timestamp": f"{rings_at + 0.05:.6f}",
            "ChannelState": 5,
            "ChannelStateDesc": "Ringing",
        },
    ]
    if answered:
        up = rings_at + answer_after
        end = up + talk
        events += [
            {
                "Event": "Newstate",
                **agent,
                "Timestamp": f"{up:.6f}",
                "ChannelState": 6,
                "ChannelStateDesc": "Up",
            },
            _dial(
                "DialEnd",
                {**trunk, "Timestamp": f"{up:.6f}"},
                {**agent, "ChannelStateDesc": "Up"},
                DialStatus="ANSWER",
            ),
            _bridge(trunk, up + 0.01, 1),
            _bridge(agent, up + 0.02, 2),
            _hangup(agent, end - 0.01),
            _hangup(trunk, end),
        ]
    else:
        end = rings_at + answer_after
        events += [
            _dial("DialEnd", {**trunk, "Timestamp": f"{end:.6f}"}, agent, DialStatus="CANCEL"),
            _hangup(agent, end, cause=26, text="Answered elsewhere"),
            _hangup(trunk, end),
        ]
    return events


def outbound_call(
    *,
    linkedid="1763865000.30",
    extension="101",
    number="0912345678",
    dials_at=1763865000.0,
    answer_after=8.0,
    talk=60.0,
):
    """An agent's phone (context from-internal) dialling a number through the trunk."""
    base, seq = linkedid.split(".")
    agent = _channel(
        f"PJSIP/{extension}-0000002a",
        uniqueid=linkedid,
        linkedid=linkedid,
        at=dials_at - 1,
        number=extension,
        context="from-internal",
        exten=number,
    )
    trunk = _channel(
        "PJSIP/hinet-trunk-0000002b",
        uniqueid=f"{base}.{int(seq) + 1}",
        linkedid=linkedid,
        at=dials_at - 0.01,
        state="Down",
        number=number,
        context="from-trunk",
        exten="s",
    )
    up = dials_at + answer_after
    return [
        {"Event": "Newchannel", **agent},
        {"Event": "Newchannel", **trunk},
        _dial(
            "DialBegin", {**agent, "Timestamp": f"{dials_at:.6f}"}, trunk, DialString=f"{number}@hinet-trunk"
        ),
        _dial(
            "DialEnd",
            {**agent, "Timestamp": f"{up:.6f}"},
            {**trunk, "ChannelStateDesc": "Up"},
            DialStatus="ANSWER",
        ),
        _bridge(agent, up + 0.01, 1),
        _bridge(trunk, up + 0.02, 2),
        _hangup(trunk, up + talk),
        _hangup(agent, up + talk),
    ]
