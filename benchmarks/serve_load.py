"""Load on a real ``batchscore serve`` process: latency of online scoring and of lookups.

    .venv/bin/python -m benchmarks.serve_load [--customers 20000] [--workers 1] [--clients 8]
        [--big-requests 200] [--small-requests 3000] [--lookups 3000] [--client raw] [--json FILE]

Builds the demo project in a temporary directory (warehouse, churn model, one scored day),
starts its own ``redis-server`` and publishes the day there, starts ``batchscore serve`` on a
free loopback port, then runs each scenario with ``--clients`` concurrent clients (threads,
one keep-alive connection each, a bounded number of requests; ``--client raw`` sends
pre-built requests on plain sockets, ``--client http.client`` uses the standard library's
client, as the runs before the raw client did): 1000-record scoring requests,
single-record scoring requests, lookups by id from Redis, lookups by id from the SQL table,
and ``/healthz`` (the floor: HTTP stack and clients alone).
Prints a table of latency percentiles (measured by the clients, so they include the client's
own time), the server processes' CPU time per request (less sensitive than latency to the
other work of a shared machine) and the command line. Everything runs on this machine, loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import date
from pathlib import Path

import yaml

from benchmarks.measure import tree

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 27)
FEATURES = ["tenure_days", "monthly_charges", "support_calls", "data_usage_gb", "late_payments", "plan", "region", "payment_method"]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_project(root: Path, customers: int, redis_url: str) -> list[dict]:
    """The demo warehouse and model, the day scored and published; returns the day's records."""
    from pipelines import churn
    from pipelines.demo_data import build_warehouse, make_customer_frame

    info = build_warehouse(root, end=DAY, days=1, n_customers=customers)
    churn.train_and_register(root / "data" / "models", info.training_path)
    (root / "configs").mkdir()
    job = {
        "name": "churn_daily",
        "source": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
        "pipeline": {"name": "churn", "version": "production"},
        "id_columns": ["customer_id"],
        "output": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"},
        "publish": {"kind": "redis", "url": redis_url, "ttl_days": 3},
    }
    (root / "configs" / "churn_daily.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    (root / "configs" / "churn_sql.yaml").write_text(yaml.safe_dump({**job, "name": "churn_sql", "publish": None}, sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "churn_daily", "--date", DAY.isoformat(), "--config-dir", str(root / "configs")],
        cwd=root, env=_env(), capture_output=True, text=True,
    )
    if done.returncode != 0 or "published" not in done.stderr:
        raise SystemExit(f"scoring the day failed:\n{done.stderr[-3000:]}")
    frame = make_customer_frame(DAY, customers)
    records = json.loads(frame[["customer_id", *FEATURES]].to_json(orient="records"))
    return records


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHSCORE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def cpu_s(pid: int) -> float:
    """User + system seconds of ``pid`` and its live descendants (the server's workers)."""
    total = 0
    for process in tree(pid):
        try:
            with open(f"/proc/{process}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wait_for(port: int, path: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


CLIENTS = ("raw", "http.client")


class RawClient:
    """One keep-alive HTTP/1.1 connection on a plain socket: the request's bytes are built
    before the clock starts and the response is read by its Content-Length, so the client's
    own Python time is a few small calls (``http.client`` parses headers with the email
    package, several times the cost)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    @staticmethod
    def encode(method: str, path: str, body: bytes | None) -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + (body or b"")

    def send(self, request: bytes) -> int:
        """Send one encoded request; its response's status once it is read whole."""
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._recv()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
        lines = head.split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:"))
        while len(self.buffer) < length:
            self._recv()
        self.buffer = self.buffer[length:]
        return int(lines[0].split(" ", 2)[1])

    def _recv(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def close(self) -> None:
        self.sock.close()


def run_scenario(port: int, clients: int, requests: list[tuple[str, str, bytes | None]], client_kind: str = "raw") -> dict:
    """Send ``requests`` (method, path, body) from ``clients`` threads; latencies in ms."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    queue = iter(requests)

    def client() -> None:
        raw = client_kind == "raw"
        conn = RawClient(port) if raw else http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                break
            method, path, body = item
            if raw:
                request = RawClient.encode(method, path, body)
                started = time.perf_counter()
                status = conn.send(request)
            else:
                started = time.perf_counter()
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
                response = conn.getresponse()
                response.read()
                status = response.status
            mine.append((time.perf_counter() - started) * 1000)
            if status != 200:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    return {
        "requests": len(latencies), "errors": errors[0], "rps": len(latencies) / wall,
        "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": latencies[-1], "mean": statistics.fmean(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000, help="rows of the scored day (default 20000)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--big-requests", type=int, default=200, help="1000-record requests (default 200)")
    parser.add_argument("--small-requests", type=int, default=3000, help="single-record requests (default 3000)")
    parser.add_argument("--lookups", type=int, default=3000, help="lookups by id per backend (default 3000)")
    parser.add_argument("--client", choices=CLIENTS, default="raw",
                        help="raw: a plain socket per client (default); http.client: the standard library's client")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.serve_load " + " ".join(argv if argv is not None else sys.argv[1:])

    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise SystemExit("redis-server is not installed (scripts/setup installs it)")
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="batchscore-serve-load-"))
    redis_port, port = free_port(), free_port()
    redis = subprocess.Popen(
        [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(base), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server = None
    try:
        root = base / "project"
        root.mkdir()
        records = build_project(root, args.customers, f"redis://127.0.0.1:{redis_port}/0")
        log = open(base / "serve.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "jobs", "serve", "--port", str(port), "--workers", str(args.workers), "--config-dir", str(root / "configs")],
            cwd=root, env=_env(), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(port, "/readyz", server)
        n = len(records)
        big = [json.dumps({"records": records[(i * 1000) % n:(i * 1000) % n + 1000]}).encode() for i in range(max(1, n // 1000))]
        scenarios = {
            "score, 1000 records per request": [("POST", "/v1/jobs/churn_daily/score", big[i % len(big)]) for i in range(args.big_requests)],
            "score, 1 record per request": [
                ("POST", "/v1/jobs/churn_daily/score", json.dumps({"records": [records[i % n]]}).encode()) for i in range(args.small_requests)
            ],
            "lookup by id, Redis": [("GET", f"/v1/jobs/churn_daily/scores/{1 + (i * 7919) % n}", None) for i in range(args.lookups)],
            "lookup by id, SQLite table": [("GET", f"/v1/jobs/churn_sql/scores/{1 + (i * 7919) % n}", None) for i in range(args.lookups)],
            "floor: GET /healthz": [("GET", "/healthz", None)] * args.lookups,
        }
        # Warm-up: every worker imports, loads and touches each path once.
        run_scenario(port, args.clients, [item for reqs in scenarios.values() for item in reqs[: args.clients * 2]], args.client)
        results = {}
        for name, reqs in scenarios.items():
            before = cpu_s(server.pid)
            results[name] = run_scenario(port, args.clients, reqs, args.client)
            results[name]["server_cpu_ms"] = (cpu_s(server.pid) - before) * 1000 / len(reqs)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)

    load = os.getloadavg()
    print(f"$ {command}")
    print(f"server: batchscore serve --workers {args.workers}; {args.clients} concurrent {args.client} clients on loopback; "
          f"{os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, after {load[0]:.2f}; latencies in ms, measured by "
          "the clients; server CPU: the server processes' user + system time per request")
    print()
    print("| scenario | requests | errors | req/s | p50 | p95 | p99 | max | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
              f"| {r['max']:.2f} | {r['server_cpu_ms']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({
            "command": command, "workers": args.workers, "clients": args.clients, "client": args.client, "cpus": os.cpu_count(),
            "load_average": [load_before[0], load[0]], "results": results,
        }, indent=2))
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
