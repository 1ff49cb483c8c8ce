#!/usr/bin/env python3
"""Read replicas in the bench (issue 24): the same build on the same data, once with its
reads on the primary only and once with `RELATA_READ_REPLICAS` naming two streaming
replicas (one applying 300 ms late), measured in interleaved rounds on one machine.

On one machine replicas add no cores, so the point is not more throughput: it is what a
request costs and waits with replicas, that none fails, and how much of the work leaves
the primary. Per scenario and connection count: req/s, p50/p99, errors, Relata's CPU µs
per request, each PostgreSQL server's CPU µs per request (its postmaster and backends),
read units per server, the WAL-position statements and the wait per read unit (from
/metrics); and, in a separate pass one request at a time, the statements each server ran
per GET (counted from the servers' own logs, for a role that logs every statement).

    bench/replicas.py                 # build, start the cluster, seed 10k, 3 rounds
    bench/replicas.py --no-build --rounds 1 --duration 2

The cluster (.ci/replica-cluster.sh) lives in /tmp/relata-bench-replicas/ and is stopped and
removed at the end. Results: bench/results/<stamp>-replicas.md and .json.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared bench helpers: servers, wrk, scenarios)
from bench import ROOT, WORK, log, loadavg, med, run  # noqa: E402

SCENARIOS = ["S1", "S2", "S3p1", "S3p50", "S4", "S7", "C1"]
# Outside the checkout: the servers run as the `postgres` user, who must reach it.
CLUSTER = "/tmp/relata-bench-replicas"
SCRIPT = os.path.join(ROOT, ".ci", "replica-cluster.sh")
DB = "relata_bench"
COUNTER_ROLE = "bench_count"  # logs every statement it sends (the counting pass)
PORTS = {"primary-only": 18281, "replicas": 18282, "counting": 18283}
SERVERS = ["primary", "replica1", "replica2"]
COUNTED_REQUESTS = 20


def start_cluster():
    run([SCRIPT, "stop", CLUSTER])
    out = run([SCRIPT, "start", CLUSTER]).stdout
    env = dict(re.findall(r"export (\w+)=(\S+)", out))
    primary = env["TEST_DATABASE_URL"]
    replicas = env["TEST_READ_REPLICAS"].split(",")
    return primary, replicas


def with_db(url, db, user=None):
    """The URL `url` names, on database `db` (and as `user`)."""
    base = url.rsplit("/", 1)[0]
    if user:
        base = re.sub(r"//[^@/]+@", f"//{user}@", base)
    return f"{base}/{db}"


def pg_cpu_seconds(name):
    """CPU seconds (user + system) of one PostgreSQL server: its postmaster and children."""
    with open(os.path.join(CLUSTER, name, "postmaster.pid")) as f:
        root = int(f.readline())
    return bench.cpu_seconds(bench.process_tree(root))


def metrics(http):
    """The replica counters of one server's /metrics: {name{labels}: value}."""
    _, _, raw = http.call("GET", "/metrics")
    wanted = ("relata_db_read_units_total", "relata_db_read_server_wait_microseconds_total",
              "relata_db_wal_position_statements_total", "relata_db_replica_failures_total")
    out = {}
    for line in raw.decode().splitlines():
        if line.startswith(wanted):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def delta(after, before):
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def wait_caught_up(primary, replicas):
    """Until both replicas have replayed what the primary has written (after the seed)."""
    lsn = run(["psql", primary, "-Atc", "SELECT pg_current_wal_lsn()"]).stdout.strip()
    for url in replicas:
        for _ in range(600):
            behind = run(["psql", url, "-Atc",
                          f"SELECT pg_last_wal_replay_lsn() < '{lsn}'::pg_lsn"]).stdout.strip()
            if behind == "f":
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{url} did not catch up with {lsn}")


def log_lines(name):
    with open(os.path.join(CLUSTER, f"{name}.log"), errors="replace") as f:
        return f.readlines()


def count_statements(srv, scs, token):
    """Statements each server ran per GET, one request at a time, from the servers' logs
    (the counting server connects as COUNTER_ROLE, whose `log_statement` is `all`): the
    table reads, the WAL-position statement, and the replicas' own polls left out."""
    counted = {}
    for name, sc in scs.items():
        method, path, _, needs_token = sc
        for _ in range(5):  # warm: statements prepared, replicas known
            srv.http.call(method, path, token=token if needs_token else None)
        time.sleep(0.5)
        before = {s: len(log_lines(s)) for s in SERVERS}
        for _ in range(COUNTED_REQUESTS):
            status, _, _ = srv.http.call(method, path, token=token if needs_token else None)
            if status != 200:
                raise RuntimeError(f"{name} answered {status} on the counting server")
        time.sleep(1.0)
        per = {}
        for s in SERVERS:
            lines = [l for l in log_lines(s)[before[s]:]
                     if re.search(r"LOG:  (statement|execute [^:]*):", l)]
            polls = sum("pg_last_wal_replay_lsn" in l or "pg_is_in_recovery" in l
                        for l in lines)
            wal = sum("pg_current_wal" in l for l in lines)
            per[s] = {"tables": (len(lines) - polls - wal) / COUNTED_REQUESTS,
                      "wal_position": wal / COUNTED_REQUESTS}
        counted[name] = per
        log(f"counted {name}: " + ", ".join(
            f"{s} {v['tables']:.2f}+{v['wal_position']:.2f}" for s, v in per.items()))
    return counted


def measure(srv, name, sc, conns, secs, token):
    before_m, before_pg = metrics(srv.http), {s: pg_cpu_seconds(s) for s in SERVERS}
    r = srv.measure(lambda: bench.wrk_scenario(srv.http.base, name, sc, conns, secs, token))
    after_pg = {s: pg_cpu_seconds(s) for s in SERVERS}
    n = max(1, r["requests"])
    r["pg_cpu_us_per_req"] = {s: (after_pg[s] - before_pg[s]) * 1e6 / n for s in SERVERS}
    d = delta(metrics(srv.http), before_m)
    units = {re.search(r'server="([^"]+)"', k).group(1): v for k, v in d.items()
             if k.startswith("relata_db_read_units_total")}
    r["read_units"] = units
    total = sum(units.values())
    r["wal_statements_per_req"] = sum(v for k, v in d.items()
                                      if k.startswith("relata_db_wal_position")) / n
    r["wait_us_per_unit"] = (sum(v for k, v in d.items()
                                 if k.startswith("relata_db_read_server_wait")) / total
                             if total else 0.0)
    r["replica_failures"] = sum(v for k, v in d.items()
                                if k.startswith("relata_db_replica_failures"))
    return r


def summarize(runs):
    out = {}
    for target, by_key in runs.items():
        for key, rs in by_key.items():
            row = {"rps": med([r["rps"] for r in rs]), "p50_ms": med([r["p50_us"] for r in rs]) / 1e3,
                   "p99_ms": med([r["p99_us"] for r in rs]) / 1e3,
                   "errors": sum(r["errors"] for r in rs),
                   "cpu_us": med([r["cpu_us_per_req"] for r in rs]),
                   "pg_cpu_us": {s: med([r["pg_cpu_us_per_req"][s] for r in rs])
                                 for s in SERVERS},
                   "wal_per_req": med([r["wal_statements_per_req"] for r in rs]),
                   "wait_us": med([r["wait_us_per_unit"] for r in rs]),
                   "replica_failures": sum(r["replica_failures"] for r in rs)}
            units = {}
            for r in rs:
                for s, v in r["read_units"].items():
                    units[s] = units.get(s, 0) + v
            total = sum(units.values())
            row["on_replicas"] = (1 - units.get("primary", 0) / total) if total else 0.0
            out.setdefault(key, {})[target] = row
    return out


def markdown(summary, counted, meta, args):
    lines = [f"# Read replicas: {meta['date']}", "",
             f"Relata `{meta['current']}`; PostgreSQL primary + 2 streaming replicas "
             f"(replica2 with `recovery_min_apply_delay = 300ms`) from "
             f"`.ci/replica-cluster.sh`, all on this machine ({meta['machine']}); database "
             f"`10k` (bench/README.md); {args.rounds} rounds × {args.duration} s per point, "
             f"interleaved, medians. Load average {meta['load_start']} at the start, "
             f"{meta['load_end']} at the end; {meta['total_s'] / 60:.0f} min.", "",
             "| scenario | conns | primary only req/s | replicas req/s | ÷ | p50 ms (only / repl.) "
             "| p99 ms (only / repl.) | Relata CPU µs/req (only / repl.) | PostgreSQL CPU µs/req: "
             "primary only | with replicas: primary / replica1 / replica2 | read units on replicas "
             "| WAL statements per req | wait µs per read unit | errors (only / repl.) |",
             "|---|---:|---:|---:|---:|---|---|---|---:|---|---:|---:|---:|---|"]
    for key, row in summary.items():
        name, conns = key.split("/")
        a, b = row["primary-only"], row["replicas"]
        pg_b = b["pg_cpu_us"]
        lines.append(
            f"| {name} | {conns} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.2f} "
            f"| {a['p50_ms']:.2f} / {b['p50_ms']:.2f} | {a['p99_ms']:.2f} / {b['p99_ms']:.2f} "
            f"| {a['cpu_us']:.0f} / {b['cpu_us']:.0f} | {a['pg_cpu_us']['primary']:.0f} "
            f"| {pg_b['primary']:.0f} / {pg_b['replica1']:.0f} / {pg_b['replica2']:.0f} "
            f"| {b['on_replicas'] * 100:.1f}% | {b['wal_per_req']:.3f} | {b['wait_us']:.0f} "
            f"| {a['errors']} / {b['errors']} |")
    lines += ["", "Statements per GET by server, one request at a time "
              f"({COUNTED_REQUESTS} requests each, from the servers' logs): table reads + "
              "the WAL-position statement; the replicas' polls of their replay position are "
              "left out (they run on a timer, not per request).", "",
              "| scenario | primary | replica1 | replica2 |", "|---|---|---|---|"]
    for name, per in counted.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{per[s]['tables']:.2f} + {per[s]['wal_position']:.2f}" for s in SERVERS) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--conns", default="16,64")
    ap.add_argument("--only", default=None, help="comma-separated, of " + ",".join(SCENARIOS))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    conns = [int(c) for c in args.conns.split(",")]
    names = args.only.split(",") if args.only else SCENARIOS
    started = time.time()
    head = run(["git", "-C", ROOT, "rev-parse", "--short=9", "HEAD"]).stdout.strip()
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "current": head,
            "load_start": loadavg(), "machine": f"{os.cpu_count()} cores, shared"}
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not args.no_build:
        bench.build_current(target)
    relata = os.path.join(target, "release", "relata")
    os.makedirs(WORK, exist_ok=True)
    primary, replicas = start_cluster()
    servers = {}
    try:
        admin_db = primary
        run(["psql", admin_db, "-qc", f"CREATE DATABASE {DB}"])
        run(["psql", admin_db, "-qc", f"CREATE ROLE {COUNTER_ROLE} LOGIN SUPERUSER",
             "-c", f"ALTER ROLE {COUNTER_ROLE} SET log_statement = 'all'"])
        t = time.time()
        env = dict(os.environ, DATABASE_URL=with_db(primary, DB))
        out = run([relata, "seed", *bench.SEEDS["10k"], "--quiet"], env=env).stdout
        meta["seed"] = f"{out.splitlines()[0]} in {time.time() - t:.0f} s"
        log(f"seeded: {meta['seed']}")
        wait_caught_up(primary, replicas)
        url = with_db(primary, DB)
        repl = ",".join(with_db(r, DB) for r in replicas)
        servers["primary-only"] = bench.Server("primary-only", [relata, "serve"], "postgres",
                                               "10k", PORTS["primary-only"], url=url)
        servers["replicas"] = bench.Server("replicas", [relata, "serve"], "postgres", "10k",
                                           PORTS["replicas"], {"RELATA_READ_REPLICAS": repl},
                                           url=url)
        token = bench.login(servers["primary-only"].http)
        scs = {n: sc for n, sc in bench.scenarios(servers["primary-only"].http).items()
               if n in names}
        runs = {}
        order = list(servers)
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds} (load {loadavg()})")
            order = order[1:] + order[:1]
            for name in names:
                for c in conns:
                    for tname in order:
                        r = measure(servers[tname], name, scs[name], c, args.duration, token)
                        runs.setdefault(tname, {}).setdefault(f"{name}/{c}", []).append(r)
        for s in servers.values():
            s.stop()
        servers.clear()
        servers["counting"] = bench.Server(
            "counting", [relata, "serve"], "postgres", "10k", PORTS["counting"],
            {"RELATA_READ_REPLICAS": ",".join(with_db(r, DB, COUNTER_ROLE) for r in replicas)},
            url=with_db(primary, DB, COUNTER_ROLE))
        counted = count_statements(servers["counting"], scs, token)
    finally:
        for s in servers.values():
            s.stop()
        run([SCRIPT, "stop", CLUSTER])
    meta["load_end"] = loadavg()
    meta["total_s"] = time.time() - started
    summary = summarize(runs)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = f"-{args.label}" if args.label else ""
    base = os.path.join(ROOT, "bench", "results", f"{stamp}-replicas{label}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "args": vars(args), "raw": runs, "summary": summary,
                   "statements": counted}, f, indent=1)
    md = markdown(summary, counted, meta, args)
    with open(base + ".md", "w") as f:
        f.write(md)
    print(md)
    log(f"written {base}.md and .json")
    if any(row[t]["errors"] for row in summary.values() for t in row):
        print("ERRORS: see the table", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
