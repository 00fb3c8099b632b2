"""A small IMAP4rev1 server on 127.0.0.1 for tests: the commands imaplib sends to read a mailbox
(CAPABILITY, LOGIN, SELECT, UID SEARCH, UID FETCH BODY.PEEK[], UID STORE +FLAGS, NOOP, LOGOUT).

One folder, messages added by the test with `add()`; every command received is kept in `commands`.
"""

import re
import socketserver
import threading

TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


def _tokens(line: bytes) -> list[str]:
    out = []
    for quoted, atom in TOKEN.findall(line):
        value = re.sub(rb"\\(.)", rb"\1", quoted) if quoted else atom
        out.append(value.decode(errors="replace"))
    return out


class FakeImapServer:
    def __init__(self, *, password: str, username="support@example.com", folder="INBOX"):
        self.username, self.password, self.folder = username, password, folder
        self.uid_validity = 1001
        self.messages: dict[int, dict] = {}  # uid -> {"raw": bytes, "flags": set}
        self.next_uid = 1
        self.commands: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                server._session(self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.host, self.port = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-imap", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def add(self, raw: bytes) -> int:
        with self.lock:
            uid = self.next_uid
            self.next_uid += 1
            self.messages[uid] = {"raw": raw, "flags": set()}
            return uid

    def reset_uids(self) -> None:
        """The folder is rebuilt: a new UIDVALIDITY, the same messages renumbered."""
        with self.lock:
            self.uid_validity += 1
            old = [self.messages[uid] for uid in sorted(self.messages)]
            self.messages = {n + 1: message for n, message in enumerate(old)}
            self.next_uid = len(old) + 1

    # The protocol ---------------------------------------------------------------------------------

    def _session(self, rfile, wfile):
        def send(text):
            wfile.write(text if isinstance(text, bytes) else text.encode())
            wfile.flush()

        send("* OK [CAPABILITY IMAP4rev1] fake IMAP ready\r\n")
        authenticated = selected = False
        while True:
            line = rfile.readline()
            if not line:
                return
            parts = _tokens(line.rstrip(b"\r\n"))
            if len(parts) < 2:
                send("* BAD empty command\r\n")
                continue
            tag, command, args = parts[0], parts[1].upper(), parts[2:]
            if command == "UID" and args:
                command, args = "UID " + args[0].upper(), args[1:]
            self.commands.append(command)
            if command == "CAPABILITY":
                send(f"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK CAPABILITY completed\r\n")
            elif command == "NOOP":
                send(f"{tag} OK NOOP completed\r\n")
            elif command == "LOGOUT":
                send(f"* BYE logging out\r\n{tag} OK LOGOUT completed\r\n")
                return
            elif command == "LOGIN":
                if args[:2] == [self.username, self.password]:
                    authenticated = True
                    send(f"{tag} OK LOGIN completed\r\n")
                else:
                    send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
            elif not authenticated:
                send(f"{tag} BAD log in first\r\n")
            elif command in ("SELECT", "EXAMINE"):
                if args and args[0] == self.folder:
                    selected = True
                    with self.lock:
                        count, validity, next_uid = len(self.messages), self.uid_validity, self.next_uid
                    send(
                        f"* {count} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n"
                        f"* OK [UIDVALIDITY {validity}] UIDs valid\r\n* OK [UIDNEXT {next_uid}] next\r\n"
                        f"{tag} OK [READ-WRITE] SELECT completed\r\n"
                    )
                else:
                    send(f"{tag} NO [NONEXISTENT] no such folder\r\n")
            elif not selected:
                send(f"{tag} BAD select a folder first\r\n")
            elif command == "UID SEARCH":
                send(f"* SEARCH {' '.join(map(str, self._search(args)))}\r\n{tag} OK SEARCH completed\r\n")
            elif command == "UID FETCH":
                with self.lock:
                    uids = sorted(self.messages)
                    uid = int(args[0]) if args and args[0].isdigit() else 0
                    message = self.messages.get(uid)
                if message is not None:
                    raw = message["raw"]
                    if "BODY[]" in " ".join(args).upper() and "PEEK" not in " ".join(args).upper():
                        message["flags"].add("\\Seen")
                    send(
                        f"* {uids.index(uid) + 1} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode()
                        + raw
                        + b")\r\n"
                    )
                send(f"{tag} OK FETCH completed\r\n")
            elif command == "UID STORE":
                with self.lock:
                    uid = int(args[0]) if args and args[0].isdigit() else 0
                    message = self.messages.get(uid)
                    if message is not None and len(args) >= 3 and args[1].upper() == "+FLAGS":
                        message["flags"].update(f.strip("()") for f in args[2:])
                    uids = sorted(self.messages)
                if message is not None:
                    flags = " ".join(sorted(message["flags"]))
                    send(f"* {uids.index(uid) + 1} FETCH (UID {uid} FLAGS ({flags}))\r\n")
                send(f"{tag} OK STORE completed\r\n")
            else:
                send(f"{tag} BAD unknown command {command}\r\n")

    def _search(self, args) -> list[int]:
        with self.lock:
            uids = sorted(self.messages)
        if not uids or not args or args[0].upper() == "ALL":
            return uids
        if args[0].upper() == "UID" and len(args) > 1:
            low, _sep, high = args[1].partition(":")
            low = int(low)
            if high == "*":
                # RFC 3501: "n:*" includes the highest UID even when it is lower than n.
                found = [uid for uid in uids if uid >= low]
                return found or uids[-1:]
            return [uid for uid in uids if low <= uid <= int(high or low)]
        return uids
