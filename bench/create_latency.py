#!/usr/bin/env python3
"""Single-client article creation latency (issue 25; bench/README.md "Issue 25: Conduit
counts").

Starts `relata serve` (the binary given) on a fresh database — a SQLite file in a
temporary directory, or a PostgreSQL database created for the run and dropped after it —
registers one user, then creates articles one at a time over one keep-alive connection,
with 3 tags each (drawn from 20 names, so that most already exist, as in a live site):
`POST /api/articles` (Conduit) and `POST /api/v1/posts`. Prints the median and p90
latency in ms and the `X-Query-Count` of each, as JSON.

    bench/create_latency.py --binary $CARGO_TARGET_DIR/release/relata --backend sqlite
    bench/create_latency.py --binary … --backend postgres   # BENCH_PG_URL, as bench.py
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TAGS = [f"topic{i}" for i in range(20)]


def request(conn, method, path, body=None, token=None, scheme="Token"):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"{scheme} {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    res = conn.getresponse()
    data = res.read()
    return res.status, res.getheader("x-query-count"), json.loads(data) if data else None


def wait_ready(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"relata exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/api/v1/health/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("relata did not get ready")


def measure(conn, n, send):
    times, counts = [], set()
    for i in range(n):
        start = time.perf_counter()
        status, count = send(i)
        times.append((time.perf_counter() - start) * 1000)
        if status != 201:
            raise SystemExit(f"status {status}")
        counts.add(count)
    times.sort()
    return {"median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(len(times) * 0.9)], 3),
            "x_query_count": sorted(counts)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--n", type=int, default=400, help="articles per face (after 40 warm-up)")
    ap.add_argument("--port", type=int, default=18199)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="relata-latency-")
    db_name = f"relata_latency_{os.getpid()}"
    if args.backend == "sqlite":
        url = f"sqlite://{tmp}/relata.db"
    else:
        subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{db_name}"'], check=True)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    env = dict(os.environ, DATABASE_URL=url, RELATA_BIND=f"127.0.0.1:{args.port}",
               RUST_LOG="warn", RELATA_JWT_SECRET="relata-latency-secret-0123456789abcdef")
    proc = subprocess.Popen([args.binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "serve.log"), "w"))
    try:
        wait_ready(args.port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", args.port)
        _, _, user = request(conn, "POST", "/api/users", {"user": {
            "username": "latency", "email": "latency@example.com", "password": "password123"}})
        token = user["user"]["token"]
        _, _, pair = request(conn, "POST", "/api/v1/auth/login",
                             {"login": "latency", "password": "password123"})
        access = pair["access_token"]

        def tags(i):
            return [TAGS[(i * 7 + k * 3) % len(TAGS)] for k in range(3)]

        def conduit(i):
            status, count, _ = request(conn, "POST", "/api/articles", {"article": {
                "title": f"Latency {i}", "description": "d", "body": "b",
                "tagList": tags(i)}}, token)
            return status, count

        def v1(i):
            status, count, _ = request(conn, "POST", "/api/v1/posts", {
                "title": f"Latency v1 {i}", "content": "b", "tags": tags(i)}, access, "Bearer")
            return status, count

        measure(conn, 40, conduit)
        out = {"backend": args.backend,
               "conduit POST /api/articles": measure(conn, args.n, conduit),
               "v1 POST /api/v1/posts": measure(conn, args.n, v1)}
        print(json.dumps(out, indent=1))
    finally:
        proc.terminate()
        proc.wait()
        if args.backend == "postgres":
            subprocess.run(["psql", PG_ADMIN, "-qc",
                            f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'])


if __name__ == "__main__":
    main()
