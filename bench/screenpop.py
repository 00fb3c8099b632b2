"""Screen-pop latency on PostgreSQL with a million customers, through uvicorn, Redis and the SSE stream.

    .venv/bin/python bench/screenpop.py [--database-url URL] [--workers 2] [--agents 50]
                                        [--events 400] [--burst 50] [--rounds 6] [--check]

Needs a database already holding the customers (`seed_demo --customers 1000000`, see
docs/PERFORMANCE.md); it adds agents `screenpop-agent-NN` (extensions 80NN) and removes the calls,
events, lookups and sessions it made when it ends. It starts uvicorn (ASGI, --workers) with
REDIS_URL=redis://127.0.0.1:6379/1 and a CTI secret of its own, opens one server-sent-events
connection per agent (raw asyncio streams: no client library), then posts signed "ringing" events for
random existing customers' numbers, typed in the formats a PBX sends, to each agent's extension:

  event → card     from just before the POST to the moment the agent's stream delivers the
                   "event: call" whose card carries that call's id, one event at a time;
  API answer       how long the POST itself takes, in the same run;
  burst of N       N ringing events to N different agents at once, --rounds times: API answer and
                   event → card under that load.

With --check the exit status is 1 when p95 event → card (one at a time) is over 200 ms.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench"
REDIS_URL = "redis://127.0.0.1:6379/1"
TARGET_P95_MS = 200.0
AGENT_PREFIX = "screenpop-agent-"
CALL_PREFIX = "bench-screenpop-"
CALL_ID = re.compile(r'data-call-id="([^"]+)"')


def main() -> int:
    args = parse_args()
    secret = uuid.uuid4().hex
    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=REDIS_URL,
        CTI_SHARED_SECRET=secret,
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="crm.settings",
    )
    import django

    django.setup()
    customers, numbers = sample_numbers(args)
    agents = prepare_agents(args.agents)
    server = start_server(args)
    try:
        load = os.getloadavg()
        results = asyncio.run(measure(args, server, secret, agents, numbers))
    finally:
        server.stop()
        cleanup(agents)
    report(args, customers, results, load)
    met = bool(results.sequential.timings) and results.sequential.percentile(95) <= TARGET_P95_MS
    return 1 if args.check and not met else 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument(
        "--min-customers", type=int, default=1_000_000, help="refuse to run on fewer (default 1,000,000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument(
        "--agents", type=int, default=50, help="agents, each with an open stream (default 50)"
    )
    parser.add_argument(
        "--events", type=int, default=400, help="ringing events sent one at a time (default 400)"
    )
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument(
        "--burst", type=int, default=50, help="concurrent ringing events per burst (default 50)"
    )
    parser.add_argument("--rounds", type=int, default=6, help="bursts (default 6)")
    parser.add_argument("--port", type=int, default=0, help="uvicorn's port (default: a free one)")
    parser.add_argument("--check", action="store_true", help="exit 1 when p95 event → card is over 200 ms")
    args = parser.parse_args()
    args.agents = max(args.agents, args.burst)
    return args


# ----------------------------------------------------------------------------- data and agents


def sample_numbers(args) -> tuple[int, list[str]]:
    """Existing customers' phone numbers, each typed one of the ways a PBX may send it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        (customers,) = cursor.fetchone()
        if customers < args.min_customers:
            raise SystemExit(
                f"{args.database_url} holds {customers:,} customers, fewer than {args.min_customers:,}. Load them:\n"
                f"  DATABASE_URL={args.database_url} .venv/bin/python manage.py migrate\n"
                f"  DATABASE_URL={args.database_url} .venv/bin/python manage.py seed_demo --customers 1000000"
            )
        cursor.execute(
            "SELECT normalised FROM customers_contactpoint TABLESAMPLE SYSTEM (1) "
            "WHERE kind = 'phone' AND extension = '' AND normalised LIKE '+%%' LIMIT 3000"
        )
        numbers = [row[0] for row in cursor.fetchall()]
    rng = random.Random(2026)
    rng.shuffle(numbers)
    return customers, [rng.choice(typed_forms(number)) for number in numbers]


def typed_forms(e164: str) -> list[str]:
    import phonenumbers

    number = phonenumbers.parse(e164)
    fmt = phonenumbers.PhoneNumberFormat
    forms = [
        e164,
        e164[1:],  # 886912345678: country code without the plus
        phonenumbers.format_number(number, fmt.INTERNATIONAL),  # +886 912 345 678
    ]
    if number.country_code == 886:  # national forms only for the default region (TW)
        national = phonenumbers.format_number(number, fmt.NATIONAL)  # 0912 345 678, 02 2345 6789
        forms += [national, national.replace(" ", "-"), national.replace(" ", "")]
    return forms


@dataclass
class Agent:
    user_id: int
    username: str
    extension: str
    cookie: str
    session_key: str
    waiting: dict = field(default_factory=dict)  # call id → future resolved with the arrival time
    cards: dict = field(default_factory=dict)  # call id → which card: matched, several, unknown


def prepare_agents(count: int) -> list[Agent]:
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.test import Client

    from callcenter.models import Call, CtiEvent
    from crm import roles
    from crm.models import User

    Call.objects.filter(call_id__startswith=CALL_PREFIX).delete()  # left by an interrupted run
    CtiEvent.objects.filter(call_id__startswith=CALL_PREFIX).delete()
    group = Group.objects.get(name=roles.AGENT)
    agents = []
    for number in range(1, count + 1):
        user, _created = User.objects.update_or_create(
            username=f"{AGENT_PREFIX}{number:02d}",
            defaults={"extension": f"80{number:02d}", "is_active": True, "language": "en"},
        )
        user.groups.add(group)
        client = Client()
        client.force_login(user)
        session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
        agents.append(
            Agent(
                user.pk,
                user.username,
                user.extension,
                f"{settings.SESSION_COOKIE_NAME}={session_key}",
                session_key,
            )
        )
    return agents


def cleanup(agents: list[Agent]) -> None:
    from django.contrib.sessions.models import Session

    from callcenter.models import Call, CtiEvent
    from customers.models import CustomerLookup

    Call.objects.filter(call_id__startswith=CALL_PREFIX).delete()
    CtiEvent.objects.filter(call_id__startswith=CALL_PREFIX).delete()
    CustomerLookup.objects.filter(user_id__in=[agent.user_id for agent in agents]).delete()
    Session.objects.filter(session_key__in=[agent.session_key for agent in agents]).delete()


# ----------------------------------------------------------------------------- the server


class Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self) -> float:
        """CPU time used so far by uvicorn and its worker processes."""
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *child_pids(self.process.pid)])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(args) -> Server:
    port = args.port or free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "crm.asgi:application",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={args.workers}",
        "--lifespan=off",
        "--log-level=warning",
        "--no-access-log",
        "--timeout-graceful-shutdown=3",
    ]
    # Without collectstatic, WhiteNoise warns about STATIC_ROOT once per worker: nothing to do with this.
    env = {**os.environ, "PYTHONWARNINGS": "ignore:No directory at"}
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own command line
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"uvicorn exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(process, port)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("uvicorn did not accept connections within 30 s")


def child_pids(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle: Postgres, Redis and this client included."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----------------------------------------------------------------------------- HTTP by hand


async def read_head(reader) -> tuple[int, dict[str, str]]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_chunks(reader, headers):
    """The response body as it arrives, decoding chunked transfer encoding."""
    if headers.get("transfer-encoding", "").lower() != "chunked":
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def post_event(url: str, secret: str, payload: dict) -> tuple[int, float]:
    """POST one signed CTI event on a new connection, as a PBX does; (status, milliseconds)."""
    from callcenter import signing

    parts = urlsplit(url)
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    head = (
        f"POST /api/v1/cti/events/ HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-CRM-Timestamp: {timestamp}\r\n"
        f"X-CRM-Signature: {signing.sign(secret, timestamp, body)}\r\nConnection: close\r\n\r\n"
    )
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head.encode() + body)
    status, headers = await read_head(reader)
    async for _chunk in body_chunks(reader, headers):
        pass
    elapsed = (time.perf_counter() - started) * 1000
    writer.close()
    return status, elapsed


async def listen(url: str, agent: Agent, subscribed: asyncio.Event) -> None:
    """The agent's open page: one SSE connection, recording when each call's card arrives."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        (
            f"GET /callcenter/stream/ HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n"
            f"Cookie: {agent.cookie}\r\n\r\n"
        ).encode()
    )
    status, headers = await read_head(reader)
    if status != 200:
        raise RuntimeError(f"{agent.username}: the stream answered {status}")
    buffer = b""
    try:
        async for chunk in body_chunks(reader, headers):
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                arrived = time.perf_counter()
                event, data = parse_event(block.decode())
                if event is None and not subscribed.is_set():
                    subscribed.set()  # "retry:" comes once the server's subscription is active
                if event == "call" and (match := CALL_ID.search(data)):
                    call_id = match.group(1)
                    agent.cards[call_id] = card_kind(data)
                    waiting = agent.waiting.pop(call_id, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(arrived)
    finally:
        writer.close()


def parse_event(block: str) -> tuple[str | None, str]:
    event, data = None, []
    for line in block.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return event, "\n".join(data)


def card_kind(html: str) -> str:
    if 'data-testid="call-customer"' in html:
        return "one customer"
    if 'data-testid="call-candidates"' in html:
        return "several customers"
    return "unknown number"


# ----------------------------------------------------------------------------- measuring


@dataclass
class Series:
    name: str
    timings: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.timings)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Results:
    sequential: Series
    sequential_api: Series
    burst_api: Series
    burst_card: Series
    cards: dict
    failures: list[str]
    server_cpu_ms: float = 0.0  # per event sent one at a time
    machine_cpu_ms: float = 0.0


class Pbx:
    def __init__(self, url: str, secret: str, numbers: list[str]):
        self.url, self.secret, self.numbers = url, secret, numbers
        self.sent = 0
        self.run = uuid.uuid4().hex[:8]

    async def ring(self, agent: Agent) -> tuple[float, float]:
        """(API answer ms, event → card ms) for one ringing event to the agent's extension."""
        self.sent += 1
        call_id = f"{CALL_PREFIX}{self.run}-{self.sent}"
        payload = {
            "call_id": call_id,
            "event": "ringing",
            "direction": "inbound",
            "from": self.numbers[self.sent % len(self.numbers)],
            "to": "02-2345-6789",
            "extension": agent.extension,
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        }
        arrival = asyncio.get_running_loop().create_future()
        agent.waiting[call_id] = arrival
        started = time.perf_counter()
        status, api_ms = await post_event(self.url, self.secret, payload)
        if status != 202:
            agent.waiting.pop(call_id, None)
            raise RuntimeError(f"{call_id}: the API answered {status}")
        arrived = await asyncio.wait_for(arrival, timeout=10)
        return api_ms, (arrived - started) * 1000


async def measure(args, server: Server, secret: str, agents: list[Agent], numbers: list[str]) -> Results:
    url = server.url
    subscribed = [asyncio.Event() for _ in agents]
    listeners = [asyncio.create_task(listen(url, a, s)) for a, s in zip(agents, subscribed, strict=True)]
    all_subscribed = asyncio.ensure_future(asyncio.gather(*(s.wait() for s in subscribed)))
    await asyncio.wait([all_subscribed, *listeners], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    failed = [task.exception() for task in listeners if task.done() and task.exception()]
    if failed or not all_subscribed.done():
        raise SystemExit(
            f"The agents' streams did not open: {failed[0] if failed else 'timed out after 30 s'}"
        )
    pbx = Pbx(url, secret, numbers)
    results = Results(
        Series("event → card, one at a time"),
        Series("API answer, one at a time"),
        Series(f"API answer, {args.burst} at once"),
        Series(f"event → card, {args.burst} at once"),
        {},
        [],
    )
    rng = random.Random(7)
    for _ in range(args.warmup):
        await pbx.ring(rng.choice(agents))
    server_cpu, machine_cpu = server.cpu_seconds(), machine_busy_seconds()
    for _ in range(args.events):
        api_ms, card_ms = await pbx.ring(rng.choice(agents))
        results.sequential_api.timings.append(api_ms)
        results.sequential.timings.append(card_ms)
    if args.events:
        results.server_cpu_ms = (server.cpu_seconds() - server_cpu) * 1000 / args.events
        results.machine_cpu_ms = (machine_busy_seconds() - machine_cpu) * 1000 / args.events
    for _ in range(args.rounds):
        outcomes = await asyncio.gather(
            *(pbx.ring(agent) for agent in rng.sample(agents, args.burst)), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                results.failures.append(repr(outcome))
                continue
            results.burst_api.timings.append(outcome[0])
            results.burst_card.timings.append(outcome[1])
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    for agent in agents:
        for kind in agent.cards.values():
            results.cards[kind] = results.cards.get(kind, 0) + 1
    return results


# ----------------------------------------------------------------------------- report


def report(args, customers: int, results: Results, load: tuple[float, float, float]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (postgres,) = cursor.fetchone()
    print()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), {memory_gb():.0f} GB RAM; "
        f"Python {platform.python_version()}, PostgreSQL {postgres}"
    )
    print(
        f"Data: {customers:,} customers. uvicorn --workers {args.workers}, {args.agents}"
        f" agents with a stream open, Redis pub/sub"
    )
    print(f"Cards: {', '.join(f'{n} {kind}' for kind, n in sorted(results.cards.items()))}")
    print(
        f"Load average before the run: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min): other work on the machine"
    )
    print()
    print(f"{'measure':<32} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  target")
    for series in (results.sequential, results.sequential_api, results.burst_api, results.burst_card):
        if not series.timings:
            continue
        target = ""
        if series is results.sequential:
            met = series.percentile(95) <= TARGET_P95_MS
            target = f"p95 ≤ {TARGET_P95_MS:g} ms " + ("ok" if met else "MISSED")
        print(
            f"{series.name:<32} {len(series.timings):>5} {series.percentile(50):>8.1f}"
            f" {series.percentile(95):>8.1f} {series.percentile(99):>8.1f} {max(series.timings):>8.1f}  {target}"
        )
    if results.server_cpu_ms:
        print(
            f"\nCPU per event, one at a time: uvicorn {results.server_cpu_ms:.1f} ms, whole machine"
            f" {results.machine_cpu_ms:.1f} ms (Postgres, Redis and this client included)"
        )
    if results.failures:
        print(f"\n{len(results.failures)} failed: {results.failures[:3]}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
