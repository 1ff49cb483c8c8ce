#!/usr/bin/env python3
"""Single-client article creation latency, side by side (issue 25; bench/README.md
"Article creation, one client").

Starts each server given on a fresh database of its own (a SQLite file in a temporary
directory, or a PostgreSQL database created for the run and dropped after it): Relata
(`--binary`), optionally another Relata build (`--baseline`) and, on PostgreSQL, the
Conduit peer (`--peer-bin`, built by `bench/conduit.py build-peer`). On each it registers
`--authors` users, then creates articles one at a time over one keep-alive connection, as
`../shared/peers/conduit-bench/seed.py` does: each by a random author, with 1–3 tags drawn
from 20 names (so that most already exist, as in a live site) and a 60–200-word body.
`POST /api/articles` and `POST /api/articles/{slug}/comments` (5–40 words) on every
server; Relata also `POST /api/v1/posts`. The servers take
turns, `--n` creations each per round, so that the machine's load falls on all of them;
prints each one's median per round, the median of those, the ratio to Relata's, the
`X-Query-Count` seen, and on PostgreSQL the transactions and WAL per creation (read from
`pg_stat_database` and `pg_stat_wal` across one server's turn), as JSON.

    bench/create_latency.py --binary $CARGO_TARGET_DIR/release/relata --backend sqlite
    bench/create_latency.py --binary … --backend postgres --peer-bin ~/.cache/conduit-peer-axum/src/target/release/realworld-axum-sqlx
    bench/create_latency.py --binary … --baseline /path/to/older/relata --backend postgres
    bench/create_latency.py … --backend postgres --pg-set synchronous_commit=off
"""

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = "relata-latency-secret-0123456789abcdef"
TAGS = [f"topic{i}" for i in range(20)]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua").split()
# pg_stat_wal and pg_stat_database are flushed by idle backends within 10 s (PostgreSQL 15).
STATS_SETTLE = 11


class Server:
    """One server on its own database, with `--authors` registered users."""

    def __init__(self, name, kind, binary, backend, port, tmp, pg_settings=()):
        self.name, self.kind, self.backend, self.port = name, kind, backend, port
        self.db_name = f"relata_latency_{os.getpid()}_{name}"
        if backend == "sqlite":
            self.url = f"sqlite://{tmp}/{name}.db"
        else:
            psql(PG_ADMIN, f'CREATE DATABASE "{self.db_name}"')
            for setting in pg_settings:
                key, value = setting.split("=", 1)
                psql(PG_ADMIN, f'ALTER DATABASE "{self.db_name}" SET {key} = {value}')
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name
        if kind == "relata":
            env = {"DATABASE_URL": self.url, "RELATA_BIND": f"127.0.0.1:{port}",
                   "RUST_LOG": "warn", "RELATA_JWT_SECRET": SECRET,
                   "RELATA_REGISTRATIONS_PER_MINUTE": "0"}
            cmd = [binary, "serve"]
        else:
            env = {"DATABASE_URL": self.url, "HMAC_KEY": SECRET, "PORT": str(port),
                   "BIND_ADDR": f"127.0.0.1:{port}"}
            cmd = [binary]
        self.proc = subprocess.Popen(cmd, env=dict(os.environ, **env),
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(tmp, f"{name}.log"), "w"))
        self.wait_ready()
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.tokens, self.access = [], []

    def wait_ready(self):
        path = "/api/v1/health/ready" if self.kind == "relata" else "/api/tags"
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", path)
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not get ready")

    def request(self, method, path, body=None, token=None, scheme="Token"):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"{scheme} {token}"
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, headers=headers,
                                  body=json.dumps(body) if body is not None else None)
                res = self.conn.getresponse()
                data = res.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                # The server closed the idle keep-alive connection while the stats settled.
                self.conn.close()
                if attempt:
                    raise
        return res.status, res.getheader("x-query-count"), json.loads(data) if data else None

    def register(self, authors):
        for u in range(authors):
            name = f"author{u}"
            status, _, user = self.request("POST", "/api/users", {"user": {
                "username": name, "email": f"{name}@example.com", "password": "password123"}})
            if status not in (200, 201):
                raise SystemExit(f"{self.name}: registering {name}: {status} {user}")
            self.tokens.append(user["user"]["token"])
            if self.kind == "relata":
                _, _, pair = self.request("POST", "/api/v1/auth/login",
                                          {"login": name, "password": "password123"})
                self.access.append(pair["access_token"])

    def pg_counters(self):
        """Transactions of this server's database, and the cluster's WAL records, bytes
        and syncs."""
        out = psql(PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name,
                   "SELECT (SELECT xact_commit FROM pg_stat_database "
                   "WHERE datname = current_database()), wal_records, wal_bytes, wal_sync "
                   "FROM pg_stat_wal", capture=True)
        return [float(x) for x in out.split("|")]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        if self.backend == "postgres":
            psql(PG_ADMIN, f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def psql(url, sql, capture=False):
    r = subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=capture,
                       text=True)
    return r.stdout.strip() if capture else None


def article(rng, i):
    text = lambda lo, hi: " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    return {"title": f"Latency {i} {text(2, 5)}", "description": text(8, 20) + ".",
            "body": text(60, 200) + ".", "tags": rng.sample(TAGS, rng.randint(1, 3))}


def conduit(server, rng, i):
    a = article(rng, i)
    status, count, body = server.request("POST", "/api/articles", {"article": {
        "title": a["title"], "description": a["description"], "body": a["body"],
        "tagList": a["tags"]}}, rng.choice(server.tokens))
    return status, count, body


def comment(server, rng, i):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
    return server.request("POST", f"/api/articles/{server.slug}/comments",
                          {"comment": {"body": text}}, rng.choice(server.tokens))


def v1(server, rng, i):
    a = article(rng, i)
    return server.request("POST", "/api/v1/posts", {
        "title": a["title"], "description": a["description"], "content": a["body"],
        "tags": a["tags"]}, rng.choice(server.access), "Bearer")


def turn(server, face, n, start, counters):
    """`n` creations through `face`: the median latency in ms, the statement counts seen
    and (when `counters`) the PostgreSQL counters per creation."""
    rng = random.Random(start)
    before = None
    if counters:
        # What the servers before this one did reaches the cluster's counters late.
        time.sleep(STATS_SETTLE)
        before = server.pg_counters()
    times, counts = [], set()
    for i in range(start, start + n):
        t0 = time.perf_counter()
        status, count, body = face(server, rng, i)
        times.append((time.perf_counter() - t0) * 1000)
        # realworld-axum-sqlx answers a creation with 200.
        if status not in (200, 201):
            raise SystemExit(f"{server.name}: status {status} {body}")
        counts.add(count)
    per = None
    if counters:
        time.sleep(STATS_SETTLE)
        after = server.pg_counters()
        per = {k: round((a - b) / n, 2) for k, a, b in
               zip(["transactions", "wal_records", "wal_bytes", "wal_syncs"], after, before)}
    return statistics.median(times), counts, per


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True, help="the Relata build measured")
    ap.add_argument("--baseline", help="another Relata build, measured beside it")
    ap.add_argument("--peer-bin", help="realworld-axum-sqlx (PostgreSQL only)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--n", type=int, default=200, help="creations per server per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--authors", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--port", type=int, default=18199)
    ap.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a PostgreSQL setting for every server's database, e.g. "
                         "synchronous_commit=off to take the WAL flush out of the latency")
    args = ap.parse_args()
    if args.peer_bin and args.backend != "postgres":
        raise SystemExit("the peer serves PostgreSQL only")

    tmp = tempfile.mkdtemp(prefix="relata-latency-")
    plan = [("relata", "relata", args.binary)]
    if args.baseline:
        plan.append(("baseline", "relata", args.baseline))
    if args.peer_bin:
        plan.append(("peer", "peer", args.peer_bin))
    servers = []
    try:
        for k, (name, kind, binary) in enumerate(plan):
            servers.append(Server(name, kind, binary, args.backend, args.port + k, tmp,
                                  args.pg_set))
        faces = []
        for s in servers:
            s.register(args.authors)
            _, _, body = conduit(s, random.Random(0), -1)
            s.slug = body["article"]["slug"]
            faces.append((s, "conduit", conduit))
            if s.kind == "relata":
                faces.append((s, "v1", v1))
            faces.append((s, "comment", comment))
        for s, _, face in faces:
            turn(s, face, args.warmup, 10**6 + 10**5 * len(s.name), False)
        medians = {f"{s.name} {label}": [] for s, label, _ in faces}
        counts = {key: set() for key in medians}
        counters = {}
        pg = args.backend == "postgres"
        for r in range(args.rounds):
            for s, label, face in faces:
                key = f"{s.name} {label}"
                # The counters once per face (the wait for PostgreSQL's statistics is long).
                m, seen, per = turn(s, face, args.n, r * args.n, pg and r == 0)
                medians[key].append(round(m, 3))
                counts[key] |= seen
                if per:
                    counters[key] = per
        ref = statistics.median(medians["relata conduit"])
        out = {"backend": args.backend, "n": args.n, "rounds": args.rounds,
               "pg_settings": args.pg_set, "results": {}}
        for key, ms in medians.items():
            med = statistics.median(ms)
            out["results"][key] = {
                "median_ms": round(med, 3), "per_round": ms,
                "over_relata_conduit": round(med / ref, 2) if key != "relata conduit"
                else None,
                "x_query_count": sorted(c for c in counts[key] if c is not None),
                **({"per_creation": counters[key]} if key in counters else {})}
        print(json.dumps(out, indent=1))
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
