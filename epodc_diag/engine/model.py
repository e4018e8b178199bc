"""The reference data-channel engine: a deterministic discrete-event model of the DC work queue.

Actors (KB87143, DOMAIN.md section 1):

* the application server (Tomcat) enqueues DC requests of several `Source` types, singly and in
  batches, each with a retry delay, a number of retries and an expire time;
* each Agent Handler polls the queue about every ten seconds, claims work (an attempts row with
  its id, the last delivery attempt and the retries remaining) and sends the agent a wake-up
  (`MsgAvailable`) on port 8081; a failed wake-up is retried after the retry delay until the
  retries run out;
* an agent that is woken answers with `MsgRequest` and gets `MsgResponse-<name>`; agents also call
  in at their agent-to-server communication interval (ASCI), pick up any DC work still waiting
  for them and sometimes upload DC items (`MsgUpload`);
* the handler reports every outcome to Tomcat on port 8444; when Tomcat cannot be reached the
  status is never set (the KB's two error lines) and the request waits for its expire time;
* `DbCleanupTask` runs every minute, removes completed and expired requests with their attempts
  and data, and moves its `OrionTaskQueueMT.RunTime` on.

Everything happens on a virtual clock (seconds since the start of the simulation), driven by one
seeded random generator, so the same settings write the same site byte for byte. The model keeps
its state in memory; the site writer turns the state at capture time into the database snapshot.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from epodc_diag.config import EngineSettings
from epodc_diag.engine.scenarios import parse_scenarios

UTC = timezone.utc
DEFAULT_START = datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC)
# cert-expired: the application server's certificate ran out this long before the capture.
CERT_EXPIRED_BEFORE_CAPTURE = timedelta(days=3)

# Request statuses (the engine's own `Status` column; diagnostics never rely on it).
QUEUED, SENT, COMPLETED, WAKEUP_FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class SourceType:
    """A kind of DC request, as the `Source` column names it."""

    source: str
    response: str
    retry_delay: int  # seconds between delivery attempts
    retries: int  # delivery attempts after the first
    expire_seconds: int
    weight: float  # share of single (non-batch) requests


# EPOSRV:AGENTWAKEUP and the AgentWakeupResponse name come from public ePO tooling; the EEADMIN
# response names are the KB's own examples. The other names are plausible stand-ins.
SOURCE_TYPES: tuple[SourceType, ...] = (
    SourceType("EPOSRV:AGENTWAKEUP", "AgentWakeupResponse999", 30, 3, 300, 0.40),
    SourceType(
        "EEADMIN_1000:UserUpdates",
        "EEADMIN_1000_UserUpdatesAndAcknowledgementRsp",
        60,
        5,
        14400,
        0.20,
    ),
    SourceType("EEADMIN_1000:AddDomainUsers", "EEADMIN_1000_AddDomainUsersRsp", 60, 5, 14400, 0.10),
    SourceType("EPOSRV:RUNCLIENTTASKNOW", "RunClientTaskNowResponse", 60, 4, 3600, 0.20),
    SourceType("EPOSRV:SINGLESYSTEMTROUBLESHOOT", "SystemTroubleshootResponse", 30, 3, 900, 0.10),
)


@dataclass(frozen=True)
class SimulationSettings:
    agents: int = EngineSettings.agents  # [engine]'s defaults
    handlers: int = EngineSettings.handlers
    hours: float = EngineSettings.hours
    seed: int = EngineSettings.seed
    scenarios: tuple[str, ...] = ("healthy",)
    start: datetime = DEFAULT_START
    asci_minutes: float = 60.0
    requests_per_agent_per_day: float = 3.0
    batches_per_hour: float = 2.0
    batch_share: float = 0.02  # share of agents one batch (e.g. a group wake-up) targets
    uploads_per_agent_per_day: float = 0.5
    poll_seconds: float = 10.0
    cleanup_seconds: float = 60.0
    claim_batch: int = 250
    offline_share: float = 0.01  # agents switched off for the whole run, even when healthy
    wakeup_blocked_share: float = 0.01  # online, but port 8081 is blocked: ASCI only
    faulty_offline_share: float = 0.33  # extra offline agents under "agents-offline"
    agent_logs: int = 8  # clients whose masvc log the site carries


@dataclass(slots=True)
class Request:
    id: int
    source: int  # index into SOURCE_TYPES
    target: int  # agent index
    created: float
    expire: float
    batch: int  # 0 for single requests
    data_id: int
    data_size: int
    status: int
    handler: int  # -1 until a handler claims it
    attempt_id: int
    last_attempt: float
    retries_left: int
    completed_at: float
    removed_at: float


@dataclass(slots=True)
class Agent:
    name: str
    guid: str
    ip: str
    online: bool
    wakeup_ok: bool
    asci_phase: float
    home: int
    log: bool


@dataclass(slots=True)
class Handler:
    name: str
    fqdn: str
    ip: str
    threads: tuple[int, ...]
    down_at: float  # virtual time it stops polling; inf when it never does
    last_poll: float


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log event; the site writer formats it in the family's layout."""

    t: float
    severity: str
    thread: int
    component: str
    message: str


@dataclass
class SimulationResult:
    settings: SimulationSettings
    scenarios: tuple[str, ...]
    domain: str
    server: Handler
    handlers: list[Handler]
    agents: list[Agent]
    requests: list[Request]
    handler_logs: list[list[LogLine]]
    orion_log: list[LogLine]
    agent_logs: dict[int, list[LogLine]]
    cleanup_next_run: float
    cleanup_runs: int
    cleanup_stalled_at: float | None
    handler_down: int | None
    tomcat_reachable: bool
    faults: dict[str, object] = field(default_factory=dict)
    # appserver-stopped: when the Application Server service (Tomcat) stopped
    appserver_stopped_at: float | None = None

    @property
    def end(self) -> float:
        return self.settings.hours * 3600.0

    def fault_started_at(self, scenario: str) -> float | None:
        """When the chosen fault began, in virtual seconds: the moment it was injected part-way
        through, 0 for a fault there from the start, before 0 for one older than the capture;
        None for "healthy" (no fault) or a scenario not chosen."""
        if scenario == "healthy" or scenario not in self.scenarios:
            return None
        if scenario == "cleanup-stalled":
            return self.cleanup_stalled_at
        if scenario == "appserver-stopped":
            return self.appserver_stopped_at
        if scenario == "handler-down" and self.handler_down is not None:
            return self.handlers[self.handler_down].down_at
        if scenario == "cert-expired":
            return self.end - CERT_EXPIRED_BEFORE_CAPTURE.total_seconds()
        return 0.0

    def counts(self) -> dict[str, int]:
        """Requests created / completed / expired / still queued, for the summary."""
        completed = expired = queued = 0
        for req in self.requests:
            if req.removed_at < 0:
                queued += 1
            elif req.status == COMPLETED and req.completed_at <= req.removed_at:
                completed += 1
            else:
                expired += 1
        return {
            "created": len(self.requests),
            "completed": completed,
            "expired": expired,
            "queued": queued,
        }


ProgressCallback = Callable[[float, float], None]

# Event kinds on the heap.
_ENQUEUE, _BATCH, _POLL, _CLEANUP, _AGENT_REQUEST, _ASCI, _UPLOAD, _ASCI_LOG = range(8)

_DOMAINS = ("corp.example.com", "ad.example.org", "hq.example.net", "intra.example.com")
_PREFIXES = ("WKS", "LT", "SRV", "VDI", "PC")


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"


class Simulation:
    """One run of the model. `run()` returns the state at capture time."""

    def __init__(
        self, settings: SimulationSettings, progress: ProgressCallback | None = None
    ) -> None:
        self.s = settings
        self.scenarios = parse_scenarios(list(settings.scenarios))
        self.rng = random.Random(settings.seed)
        self.progress = progress
        self.end = settings.hours * 3600.0
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self.requests: list[Request] = []
        self._unclaimed: deque[Request] = deque()
        self._retry: list[list[tuple[float, int, Request]]] = []
        self._pending: dict[int, list[Request]] = {}
        self._asci_due: set[int] = set()
        self._finished: list[Request] = []  # completed, awaiting the cleanup task
        self._expiry: list[tuple[float, int, Request]] = []
        self._attempt_ids = 0
        self._batches = 0
        self._session = 0
        self.cleanup_next_run = 0.0
        self.cleanup_runs = 0
        self.faults: dict[str, object] = {}
        self._build_site()

    # ----------------------------------------------------------------- set-up

    def _build_site(self) -> None:
        s, rng = self.s, self.rng
        self.domain = rng.choice(_DOMAINS)
        octet = rng.randrange(16, 200)
        server_name = f"EPOSRV{rng.randrange(1, 10):02d}"
        self.server = Handler(
            server_name,
            f"{server_name.lower()}.{self.domain}",
            f"10.{octet}.0.10",
            tuple(sorted(rng.sample(range(1000, 9999), 8))),
            float("inf"),
            0.0,
        )
        # The ePO server runs an Agent Handler of its own; the others are remote hosts.
        self.handlers = [self.server]
        for i in range(1, s.handlers):
            name = f"EPOAH{i:02d}"
            self.handlers.append(
                Handler(
                    name,
                    f"{name.lower()}.{self.domain}",
                    f"10.{octet}.0.{10 + i}",
                    tuple(sorted(rng.sample(range(1000, 9999), 8))),
                    float("inf"),
                    0.0,
                )
            )
        self._retry = [[] for _ in self.handlers]

        n = s.agents
        offline_share = s.offline_share
        if "agents-offline" in self.scenarios:
            offline_share += s.faulty_offline_share
        interval = s.asci_minutes * 60.0
        self.agents = []
        for i in range(n):
            prefix = _PREFIXES[rng.randrange(len(_PREFIXES))]
            online = rng.random() >= offline_share
            wakeup_ok = online and rng.random() >= s.wakeup_blocked_share
            self.agents.append(
                Agent(
                    name=f"{prefix}-{i + 1:05d}",
                    guid=_guid(rng),
                    ip=f"10.{octet + 1 + i // 65000}.{(i // 254) % 256}.{i % 254 + 1}",
                    online=online,
                    wakeup_ok=wakeup_ok,
                    asci_phase=rng.random() * interval,
                    home=rng.randrange(len(self.handlers)),
                    log=False,
                )
            )
        logged = [i for i, a in enumerate(self.agents) if a.online]
        for i in sorted(rng.sample(logged, min(s.agent_logs, len(logged)))):
            self.agents[i].log = True
        self.agent_logs: dict[int, list[LogLine]] = {
            i: [] for i, a in enumerate(self.agents) if a.log
        }

        self.tomcat_reachable = not (
            {"tomcat-unreachable", "port-blocked", "dns-mismatch"} & set(self.scenarios)
        )
        self.cleanup_stalled_at: float | None = None
        if "cleanup-stalled" in self.scenarios:
            self.cleanup_stalled_at = round(self.end * rng.uniform(0.3, 0.55), 3)
            self.faults["cleanup_stalled_at_seconds"] = self.cleanup_stalled_at
        self.handler_down: int | None = None
        if "handler-down" in self.scenarios:
            self.handler_down = 1 if len(self.handlers) > 1 else 0
            down_at = round(self.end * rng.uniform(0.3, 0.55), 3)
            self.handlers[self.handler_down].down_at = down_at
            self.faults["handler_down"] = self.handlers[self.handler_down].name
            self.faults["handler_down_at_seconds"] = down_at
        self.appserver_stopped_at: float | None = None
        if "appserver-stopped" in self.scenarios:
            # Tomcat stops: status reports fail from then on and its scheduler (the cleanup
            # task) stops with it, so requests pile up.
            self.appserver_stopped_at = round(self.end * rng.uniform(0.3, 0.55), 3)
            self.faults["appserver_stopped_at_seconds"] = self.appserver_stopped_at
        if "agents-offline" in self.scenarios:
            self.faults["offline_agents"] = sum(1 for a in self.agents if not a.online)
        self.handler_logs: list[list[LogLine]] = [[] for _ in self.handlers]
        self.orion_log: list[LogLine] = []

    # ----------------------------------------------------------------- events

    def _push(self, t: float, kind: int, arg: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, arg))

    def _thread(self, h: int) -> int:
        return self.handlers[h].threads[self.rng.randrange(8)]

    def _hlog(self, h: int, t: float, sev: str, comp: str, msg: str, thread: int = 0) -> None:
        # One worker thread serves one agent connection, so a flow's lines share a thread id.
        self.handler_logs[h].append(LogLine(t, sev, thread or self._thread(h), comp, msg))

    def _alog(self, a: int, t: float, facility: str, msg: str) -> None:
        self.agent_logs[a].append(LogLine(t, "Info", 1240, facility, msg))

    def run(self) -> SimulationResult:
        s = self.s
        self._schedule_first_events()
        heap = self._heap
        end = self.end
        progress = self.progress
        step = 0
        while heap and heap[0][0] < end:
            t, _, kind, arg = heapq.heappop(heap)
            if kind == _POLL:
                self._poll(t, arg)
            elif kind == _AGENT_REQUEST:
                self._agent_request(t, arg)
            elif kind == _ENQUEUE:
                self._enqueue_single(t)
            elif kind == _ASCI:
                self._asci(t, arg)
            elif kind == _CLEANUP:
                self._cleanup(t)
            elif kind == _UPLOAD:
                self._upload(t)
            elif kind == _BATCH:
                self._enqueue_batch(t)
            else:
                self._asci_log(t, arg)
            step += 1
            if progress is not None and step % 20000 == 0:
                progress(t, end)
        if progress is not None:
            progress(end, end)
        if self.cleanup_runs == 0:
            self.cleanup_next_run = self._first_cleanup_hint
        return SimulationResult(
            settings=s,
            scenarios=self.scenarios,
            domain=self.domain,
            server=self.server,
            handlers=self.handlers,
            agents=self.agents,
            requests=self.requests,
            handler_logs=self.handler_logs,
            orion_log=self.orion_log,
            agent_logs=self.agent_logs,
            cleanup_next_run=self.cleanup_next_run,
            cleanup_runs=self.cleanup_runs,
            cleanup_stalled_at=self.cleanup_stalled_at,
            handler_down=self.handler_down,
            tomcat_reachable=self.tomcat_reachable,
            faults=self.faults,
            appserver_stopped_at=self.appserver_stopped_at,
        )

    def _schedule_first_events(self) -> None:
        """The first event of each kind: arrivals at their rates, polls and cleanup at random
        phases, the agents' ASCI log lines, and orion.log's startup lines."""
        s, rng = self.s, self.rng
        day = 86400.0
        self._single_rate = s.agents * s.requests_per_agent_per_day / day
        self._upload_rate = s.agents * s.uploads_per_agent_per_day / day
        if self._single_rate > 0:
            self._push(rng.expovariate(self._single_rate), _ENQUEUE)
        if s.batches_per_hour > 0:
            self._push(rng.expovariate(s.batches_per_hour / 3600.0), _BATCH)
        if self._upload_rate > 0:
            self._push(rng.expovariate(self._upload_rate), _UPLOAD)
        for h in range(len(self.handlers)):
            self._push(rng.uniform(0, s.poll_seconds), _POLL, h)
        self._push(rng.uniform(0, s.cleanup_seconds), _CLEANUP)
        interval = s.asci_minutes * 60.0
        for a in self.agent_logs:
            self._push(self.agents[a].asci_phase % interval, _ASCI_LOG, a)
        self._orion_startup()

    # -------------------------------------------------------------- enqueueing

    def _new_request(self, t: float, target: int, source_index: int, batch: int) -> None:
        src = SOURCE_TYPES[source_index]
        rid = len(self.requests) + 1
        req = Request(
            id=rid,
            source=source_index,
            target=target,
            created=t,
            expire=t + src.expire_seconds,
            batch=batch,
            data_id=rid,
            data_size=self.rng.randrange(96, 640),
            status=QUEUED,
            handler=-1,
            attempt_id=0,
            last_attempt=-1.0,
            retries_left=src.retries,
            completed_at=-1.0,
            removed_at=-1.0,
        )
        self.requests.append(req)
        self._unclaimed.append(req)
        heapq.heappush(self._expiry, (req.expire, rid, req))
        self._pending.setdefault(target, []).append(req)
        agent = self.agents[target]
        # Work waits for the agent's next ASCI too, in case no wake-up gets through.
        if agent.online and target not in self._asci_due:
            self._asci_due.add(target)
            self._push(self._next_asci(agent, t), _ASCI, target)

    def _next_asci(self, agent: Agent, t: float) -> float:
        interval = self.s.asci_minutes * 60.0
        k = int((t - agent.asci_phase) // interval) + 1
        return agent.asci_phase + k * interval

    def _pick_source(self) -> int:
        r = self.rng.random() * sum(st.weight for st in SOURCE_TYPES)
        for i, st in enumerate(SOURCE_TYPES):
            r -= st.weight
            if r < 0:
                return i
        return len(SOURCE_TYPES) - 1

    def _enqueue_single(self, t: float) -> None:
        rng = self.rng
        self._new_request(t, rng.randrange(len(self.agents)), self._pick_source(), 0)
        self._push(t + rng.expovariate(self._single_rate), _ENQUEUE)

    def _enqueue_batch(self, t: float) -> None:
        rng, s = self.rng, self.s
        self._batches += 1
        size = max(
            1,
            min(len(self.agents), round(len(self.agents) * s.batch_share * rng.uniform(0.5, 1.5))),
        )
        # Group actions from the console are mostly wake-ups and "run client task now".
        source_index = 0 if rng.random() < 0.7 else 3
        for target in sorted(rng.sample(range(len(self.agents)), size)):
            self._new_request(t, target, source_index, self._batches)
        self.orion_log.append(
            LogLine(
                t,
                "INFO",
                rng.randrange(1, 40),
                "core.DataChannelService",
                f"Queued {size} data channel request(s) of type {SOURCE_TYPES[source_index].source}",
            )
        )
        self._push(t + rng.expovariate(s.batches_per_hour / 3600.0), _BATCH)

    # ---------------------------------------------------------------- handlers

    def _poll(self, t: float, h: int) -> None:
        handler = self.handlers[h]
        if t >= handler.down_at:
            return  # stopped: no more polls, its claimed work stays where it is
        handler.last_poll = t
        rng = self.rng
        work: list[Request] = []
        unclaimed = self._unclaimed
        while unclaimed and len(work) < self.s.claim_batch:
            req = unclaimed.popleft()
            if req.removed_at >= 0 or req.status != QUEUED or req.expire <= t:
                continue  # done, delivered at an ASCI, or expired while queued
            self._attempt_ids += 1
            req.handler = h
            req.attempt_id = self._attempt_ids
            work.append(req)
        retry = self._retry[h]
        while retry and retry[0][0] <= t:
            req = heapq.heappop(retry)[2]
            if req.removed_at < 0 and req.status == QUEUED and req.expire > t:
                work.append(req)
        offset = 0.0
        for req in work:
            offset += rng.uniform(0.002, 0.02)
            self._deliver(t + offset, h, req)
        self._push(t + self.s.poll_seconds + rng.uniform(-0.25, 0.25), _POLL, h)

    def _deliver(self, t: float, h: int, req: Request) -> None:
        agent = self.agents[req.target]
        src = SOURCE_TYPES[req.source]
        req.last_attempt = t
        thread = self._thread(h)
        self._hlog(
            h,
            t,
            "I",
            "NAIMSERV",
            f"Sending [MsgAvailable] for data channel request {req.id} ({src.source}) to "
            f"{agent.name}:{agent.guid} at {agent.ip}:8081",
            thread,
        )
        if agent.wakeup_ok:
            if agent.log:
                self._alog(req.target, t + 0.05, "LstnSvr", "StartResponse-POST-PKG - MsgAvailable")
                self._alog(req.target, t + 0.06, "Agent", "Package type is MsgAvailable")
            self._push(t + self.rng.uniform(0.3, 2.5), _AGENT_REQUEST, req.target)
            return
        req.retries_left -= 1
        if req.retries_left > 0:
            self._hlog(
                h,
                t + 0.001,
                "W",
                "NAIMSERV",
                f"Agent wakeup to {agent.name} ({agent.ip}:8081) failed, err=10060; "
                f"data channel request {req.id} will be retried in {src.retry_delay} seconds, "
                f"{req.retries_left} retries remaining",
                thread,
            )
            heapq.heappush(self._retry[h], (t + src.retry_delay, req.id, req))
            return
        req.retries_left = 0
        req.status = WAKEUP_FAILED
        self._hlog(
            h,
            t + 0.001,
            "W",
            "NAIMSERV",
            f"Agent wakeup to {agent.name} ({agent.ip}:8081) failed, err=10060; no retries "
            f"remaining for data channel request {req.id}, it waits for the agent's next ASCI",
            thread,
        )
        self._report_status(t + 0.002, h, req.id, "failed", thread)

    def _report_status(self, t: float, h: int, request_id: int, outcome: str, thread: int) -> bool:
        """The handler tells Tomcat (port 8444) how a request went; False when it cannot."""
        stopped = self.appserver_stopped_at
        if self.tomcat_reachable and (stopped is None or t < stopped):
            self._hlog(
                h,
                t,
                "I",
                "NAIMSERV",
                f"Reported status '{outcome}' of data channel request {request_id} to the ePO "
                f"application server",
                thread,
            )
            return True
        # KB87143 Example 1: both lines, as the KB quotes them.
        self._hlog(
            h,
            t,
            "E",
            "MCUPLOAD",
            "SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)",
            thread,
        )
        self._hlog(
            h,
            t + 0.001,
            "E",
            "NAIMSERV",
            "server.cpp(587): Failed to send request, err=0x80004005, HTTP status code=0",
            thread,
        )
        return False

    def _live_handler(self, preferred: int, t: float) -> int:
        n = len(self.handlers)
        for k in range(n):
            h = (preferred + k) % n
            if t < self.handlers[h].down_at:
                return h
        return -1

    def _session_line(self, h: int, t: float) -> int:
        """The mod_epo line that opens an agent connection; returns the thread serving it."""
        self._session += 1
        thread = self._thread(h)
        self._hlog(
            h,
            t,
            "X",
            "MOD_EPO",
            f"mod_epo.cpp(260): Processing epo request, session ID={self._session}",
            thread,
        )
        return thread

    def _agent_request(self, t: float, a: int) -> None:
        """The agent answers a wake-up (or calls in at ASCI) and fetches all its DC work."""
        agent = self.agents[a]
        pending = self._pending.get(a)
        if not pending:
            return
        live = [
            r
            for r in pending
            if r.removed_at < 0 and r.status in (QUEUED, WAKEUP_FAILED) and r.expire > t
        ]
        if not live:
            self._pending.pop(a, None)
            return
        h = self._live_handler(agent.home, t)
        if h < 0:
            return  # no handler answers: the work keeps waiting
        thread = self._session_line(h, t)
        self._hlog(
            h,
            t + 0.001,
            "I",
            "NAIMSERV",
            f"Received [MsgRequest] from {agent.name}:{agent.guid}",
            thread,
        )
        if agent.log:
            self._alog(a, t - 0.01, "Agent", "Package type is MsgRequest")
        step = 0.002
        for req in live:
            name = SOURCE_TYPES[req.source].response
            self._hlog(
                h,
                t + step,
                "I",
                "NAIMSERV",
                f"Sending [MsgResponse-{name}] to {agent.name}:{agent.guid}",
                thread,
            )
            if agent.log:
                self._alog(
                    a,
                    t + step + 0.2,
                    "Agent",
                    f"CMsgResponsePackage::ParsePackage() - New MsgResponse-{name} was received",
                )
                self._alog(a, t + step + 0.21, "Agent", "Package type is MsgResponse")
            req.status = SENT
            if req.handler < 0:
                # Picked up at ASCI before any handler claimed it: the answering handler owns it.
                self._attempt_ids += 1
                req.handler = h
                req.attempt_id = self._attempt_ids
                req.last_attempt = t
            if self._report_status(t + step + 0.001, h, req.id, "success", thread):
                req.status = COMPLETED
                req.completed_at = t + step + 0.001
                self._finished.append(req)
            step += 0.003
        self._pending.pop(a, None)

    def _asci(self, t: float, a: int) -> None:
        self._asci_due.discard(a)
        self._agent_request(t, a)

    def _asci_log(self, t: float, a: int) -> None:
        self._alog(a, t, "property", "Agent started performing ASCI")
        self._alog(
            a, t + 0.01, "ahclient", 'Scheduling spipe connection with "immediate" priority.'
        )
        self._alog(
            a,
            t + 0.4,
            "DataChannel.Manager",
            "DataChannel Service ignoring decoration of SPIPE package for: { PropsVersion }",
        )
        self._push(t + self.s.asci_minutes * 60.0, _ASCI_LOG, a)

    def _upload(self, t: float) -> None:
        rng = self.rng
        a = rng.randrange(len(self.agents))
        agent = self.agents[a]
        if agent.online:
            h = self._live_handler(agent.home, t)
            if h >= 0:
                thread = self._session_line(h, t)
                self._hlog(
                    h,
                    t + 0.001,
                    "I",
                    "NAIMSERV",
                    f"Received [MsgUpload] from {agent.name}:{agent.guid}",
                    thread,
                )
        self._push(t + rng.expovariate(self._upload_rate), _UPLOAD)

    # ----------------------------------------------------------------- cleanup

    def _orion_startup(self) -> None:
        self._first_cleanup_hint = self.s.cleanup_seconds
        self.orion_log.append(
            LogLine(0.0, "INFO", 1, "core.OrionStartup", "Orion application server started")
        )

    def _cleanup(self, t: float) -> None:
        stalled = self.cleanup_stalled_at
        if stalled is not None and t >= stalled:
            return  # the task stopped: no more runs, RunTime stays where it was
        stopped = self.appserver_stopped_at
        if stopped is not None and t >= stopped:
            if self.orion_log[-1].component != "core.OrionShutdown":
                self.orion_log.append(
                    LogLine(
                        stopped, "INFO", 1, "core.OrionShutdown", "Orion application server stopped"
                    )
                )
            return  # Tomcat is down: its scheduler runs nothing
        self.cleanup_runs += 1
        thread = self.rng.randrange(1, 9)
        self.orion_log.append(
            LogLine(
                t, "INFO", thread, "Internal.DbCleanupTask", "Running DataChannel DbCleanupTask"
            )
        )
        removed = 0
        for req in self._finished:
            if req.removed_at < 0:
                req.removed_at = t
                removed += 1
        self._finished.clear()
        expiry = self._expiry
        while expiry and expiry[0][0] <= t:
            req = heapq.heappop(expiry)[2]
            if req.removed_at < 0:
                req.removed_at = t
                removed += 1
        self.cleanup_next_run = t + self.s.cleanup_seconds
        if removed:
            self.orion_log.append(
                LogLine(
                    t + 0.05,
                    "DEBUG",
                    thread,
                    "Internal.DbCleanupTask",
                    f"Removed {removed} completed or expired data channel request(s)",
                )
            )
        self._push(self.cleanup_next_run + self.rng.uniform(0, 0.5), _CLEANUP)


def simulate(
    settings: SimulationSettings, progress: ProgressCallback | None = None
) -> SimulationResult:
    return Simulation(settings, progress).run()


def at(start: datetime, seconds: float) -> datetime:
    """The wall-clock moment `seconds` into a run that started at `start`."""
    return start + timedelta(seconds=seconds)
