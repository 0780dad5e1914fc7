"""Load on ``engram serve``: concurrent clients of mixed add/search traffic on loopback.

    .venv/bin/python benchmarks/load.py                          # 32 clients, 30 s, local model
    .venv/bin/python benchmarks/load.py --clients 8 --duration 10 --embedder hashing
    .venv/bin/python benchmarks/load.py --json load.json
    .venv/bin/python benchmarks/load.py --store embedded --workers 4   # 4 servers on one PostgreSQL

It starts ``engram serve`` on a free 127.0.0.1 port with a fresh store and an API key (or
drives ``--url``, which must be a loopback address), then runs ``--clients`` clients for
``--duration`` seconds. Each client has its own connection and its own user, and sends one
request at a time: an add (one new message, so every acknowledged add is one new turn) or a
search, chosen at random with ``--search-share``. Both the number of clients and the time are
bounded, and every request has a timeout.

Reported: requests, throughput, p50/p95/p99 latency per operation and over all requests,
errors (any non-2xx or transport failure), and lost writes: every acknowledged turn id is
looked up afterwards by paging through each client's turns. ``cores_busy`` says what bounds
the throughput: the cores the servers, the embedded PostgreSQL server, this driver (the
clients) and the whole machine (other jobs included) kept busy during the load. One server
near 1.0 is bound by its GIL (more workers help while the machine has cores to spare); the
machine near its core count is bound by the cores.

With ``--store`` (a ``postgresql://`` URL of an empty database, or ``embedded`` for a
throwaway embedded PostgreSQL server) it starts ``--workers`` servers on that one database,
each on its own port, and spreads the clients over them (client n talks to worker n mod N).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

MAX_CLIENTS = 256
MAX_DURATION = 600.0
REQUEST_TIMEOUT = 30.0
WORDS = [
    "lisbon", "porto", "coffee", "train", "sister", "birthday", "concert", "project", "deadline",
    "recipe", "peanuts", "garden", "marathon", "violin", "invoice", "dentist", "holiday", "museum",
    "bicycle", "kitchen", "novel", "python", "meeting",
]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"add": [], "search": []})
    errors: dict[str, int] = field(default_factory=dict)
    acked: dict[str, set[str]] = field(default_factory=dict)  # user → acknowledged turn ids

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path | str, embedder: str) -> tuple[str, str, subprocess.Popen[bytes]]:
    key = create_key(db, embedder)
    url, process = start_worker(db, embedder)
    return url, key, process


def create_key(db: Path | str, embedder: str) -> str:
    env = {**os.environ, "ENGRAM_EMBEDDER": embedder}
    created = subprocess.run(
        [sys.executable, "-c", "from engram.server.cli import keys_group; keys_group()", "create", "--db", str(db),
         "--tenant", "load"],
        env=env, capture_output=True, text=True, check=True,
    )
    return created.stdout.strip()


def start_worker(db: Path | str, embedder: str) -> tuple[str, subprocess.Popen[bytes]]:
    env = {**os.environ, "ENGRAM_EMBEDDER": embedder}
    python = [sys.executable, "-c"]
    port = free_port()
    process = subprocess.Popen(
        [*python, "from engram.server.cli import serve_command; serve_command()", "--db", str(db),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return f"http://127.0.0.1:{port}", process


async def wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the server at {url} did not become ready in {timeout:.0f} s")


async def client(number: int, url: str, key: str, until: float, search_share: float, tally: Tally) -> None:
    user = f"load-user-{number}"
    tally.acked[user] = set()
    rng = random.Random(number)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
        sent = 0
        while time.monotonic() < until:
            words = " ".join(rng.choices(WORDS, k=8))
            searching = sent > 0 and rng.random() < search_share
            kind = "search" if searching else "add"
            started = time.perf_counter()
            try:
                if searching:
                    response = await http.post("/v1/search", json={"user_id": user, "query": words, "k": 5})
                else:
                    message = {"role": "user", "content": f"client {number} message {sent}: {words}"}
                    response = await http.post(
                        "/v1/turns", json={"user_id": user, "session_id": f"s{sent // 20}", "messages": [message]}
                    )
            except httpx.HTTPError as exc:
                tally.error(f"{kind}: {type(exc).__name__}")
                continue
            tally.latencies[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                tally.error(f"{kind}: HTTP {response.status_code}")
            elif not searching:
                body = response.json()
                if body["added"] != 1:
                    tally.error("add: not stored as new")
                tally.acked[user].update(body["ids"])
            sent += 1


async def lost_writes(url: str, key: str, tally: Tally) -> tuple[int, int]:
    """(acknowledged turns, of which not found) by paging through each client's turns."""
    headers = {"Authorization": f"Bearer {key}"}
    acked = lost = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
        for user, ids in tally.acked.items():
            stored: set[str] = set()
            cursor = None
            while True:
                params = {"user_id": user, "limit": 1000} | ({"cursor": cursor} if cursor else {})
                page = (await http.get("/v1/turns", params=params)).raise_for_status().json()
                stored.update(turn["id"] for turn in page["items"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            acked += len(ids)
            lost += len(ids - stored)
    return acked, lost


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU time (user + system) each live process of ``pids`` has used so far."""
    import psutil

    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


def postgres_pids(server: Any) -> list[int]:
    """The embedded PostgreSQL server's processes (its postmaster and every child of it)."""
    import psutil

    if server is None:
        return []
    pid_file = Path(server.folder) / "pgdata" / "postmaster.pid"
    try:
        main = psutil.Process(int(pid_file.read_text().split()[0]))
        return [main.pid, *(child.pid for child in main.children(recursive=True))]
    except (OSError, ValueError, psutil.Error):
        return []


class CpuMeter:
    """Cores each group of processes kept busy over the load (CPU seconds / wall seconds): the
    servers, the PostgreSQL server, this driver (its clients), and the whole machine, other
    jobs included. A group near its bound (a server's one core: its GIL; the machine's cores)
    is what limits throughput."""

    def __init__(self, servers: list[int], server: Any) -> None:
        import psutil

        self._server = server
        self._groups = {"servers": servers, "postgres": postgres_pids(server), "driver": [os.getpid()]}
        self._start = {name: cpu_seconds(pids) for name, pids in self._groups.items()}
        self._machine = psutil.cpu_times()
        self._wall = time.monotonic()

    def cores(self) -> dict[str, float]:
        import psutil

        wall = time.monotonic() - self._wall
        self._groups["postgres"] = postgres_pids(self._server) or self._groups["postgres"]
        out = {}
        for name, pids in self._groups.items():
            now = cpu_seconds(pids)
            out[name] = round(sum(t - self._start[name].get(pid, 0.0) for pid, t in now.items()) / wall, 2)
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        before = sum(self._machine) - self._machine.idle - getattr(self._machine, "iowait", 0.0)
        out["machine"] = round((busy - before) / wall, 2)
        return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def latency_summary(values: list[float]) -> dict[str, float | int | None]:
    """Count, mean and the 50th, 95th and 99th percentiles of one operation's latencies (ms)."""
    return {"count": len(values), "p50": percentile(values, 0.50), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "mean": round(statistics.fmean(values), 2) if values else None}


async def run(args: argparse.Namespace) -> dict[str, object]:
    processes: list[subprocess.Popen[bytes]] = []
    workdir = tempfile.TemporaryDirectory(prefix="engram-load-")
    server = None
    if args.url:
        if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--url must be a loopback address: this benchmark only drives a local server")
        urls, key = [args.url.rstrip("/")], args.key or ""
    elif args.store:
        db = args.store
        if db == "embedded":
            from engram.store.postgres.embedded import start_embedded_postgres

            server = start_embedded_postgres()
            db = server.create_database("load")
        key = create_key(db, args.embedder)
        started_workers = [start_worker(db, args.embedder) for _ in range(args.workers)]
        urls, processes = [u for u, _ in started_workers], [p for _, p in started_workers]
    else:
        url, key, process = start_server(Path(workdir.name) / "load.db", args.embedder)
        urls, processes = [url], [process]
    try:
        for url in urls:
            await wait_ready(url)
        tally = Tally()
        meter = CpuMeter([p.pid for p in processes], server)
        started = time.monotonic()
        until = started + args.duration
        await asyncio.wait_for(
            asyncio.gather(
                *(client(n, urls[n % len(urls)], key, until, args.search_share, tally) for n in range(args.clients))
            ),
            timeout=args.duration + REQUEST_TIMEOUT + 10,
        )
        elapsed = time.monotonic() - started
        cores = meter.cores()
        acked, lost = await lost_writes(urls[0], key, tally)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        workdir.cleanup()
        if server is not None:
            server.stop()
    requests = sum(len(v) for v in tally.latencies.values()) + sum(tally.errors.values())
    return {
        "clients": args.clients,
        "workers": len(urls),
        "store": "postgresql" if args.store else ("sqlite" if not args.url else "server's"),
        "duration_s": round(elapsed, 1),
        "embedder": args.embedder if not args.url else "server's",
        "search_share": args.search_share,
        "requests": requests,
        "throughput_rps": round(requests / elapsed, 1),
        "latency_ms": {
            kind: latency_summary(values)
            for kind, values in {**tally.latencies, "all": [v for vs in tally.latencies.values() for v in vs]}.items()
        },
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "acknowledged_writes": acked,
        "lost_writes": lost,
        "cpus": os.cpu_count(),
        "cores_busy": cores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help=f"concurrent clients (at most {MAX_CLIENTS})")
    parser.add_argument("--duration", type=float, default=30.0, help=f"seconds of load (at most {MAX_DURATION:.0f})")
    parser.add_argument("--search-share", type=float, default=0.5, help="share of requests that are searches")
    parser.add_argument("--embedder", choices=["onnx", "hashing"], default="onnx",
                        help="the server's embedder: the local model (default) or the hashing test embedder")
    parser.add_argument("--url", help="drive this running server instead (loopback only)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--store", help="a postgresql:// URL (empty database) or 'embedded': serve from PostgreSQL")
    parser.add_argument("--workers", type=int, default=1, help="servers on the --store database (default 1)")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION:.0f} seconds")
    if not 0 <= args.search_share <= 1:
        parser.error("--search-share must be between 0 and 1")
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if report["errors"] or report["lost_writes"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
