#!/usr/bin/env python3
"""Relata's benchmark: see bench/README.md. Run through bench/run.sh.

Builds release, seeds a 10k-user and a 100k-user database per backend, starts
`relata serve` on both plus the HTTP floor, then measures every scenario with wrk in
interleaved rounds (so that the machine's noise falls on all of them alike), the database
floor with examples/floor_db, and writes a markdown table and the raw figures to
bench/results/.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "work")
LUA = os.path.join(BENCH, "lua")
PASSWORD = "relata-demo-password"
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# What each database holds (documented in bench/README.md).
SEEDS = {
    "10k": ["--users", "10000", "--posts-per-user", "20", "--comments-per-post", "5",
            "--first-user-posts", "1100"],
    "100k": ["--users", "100000", "--posts-per-user", "20", "--comments-per-post", "0",
             "--first-user-posts", "1100"],
}
S3_USER = 1          # the first seeded user: 1100 posts in both databases
TOKEN_USER = "user9999"  # S1's viewer and S5's author: a plain user outside S1's page
S4_POST = 12345       # a post with 5 comments
POST_BODY = '{"title":"A benchmark post","content":"Written by wrk to measure POST /api/v1/posts."}'

PORTS = {"10k": 18181, "100k": 18182, "floor": 18190}


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Http:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path, body=None, token=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=body.encode() if body else None)
        if body:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, dict(res.headers), res.read()


def wait_http(port, path="/api/v1/health", timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def db_url(backend, size):
    if backend == "sqlite":
        return f"sqlite://{WORK}/relata-{size}.db"
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/relata_bench_{size}"


def reset_db(backend, size):
    if backend == "sqlite":
        for suffix in ["", "-wal", "-shm"]:
            p = f"{WORK}/relata-{size}.db{suffix}"
            if os.path.exists(p):
                os.remove(p)
    else:
        name = f"relata_bench_{size}"
        run(["psql", PG_ADMIN, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
             "-c", f"CREATE DATABASE {name}"])


def seed(relata, backend, size):
    reset_db(backend, size)
    env = dict(os.environ, DATABASE_URL=db_url(backend, size))
    t = time.time()
    out = run([relata, "seed", *SEEDS[size], "--quiet"], env=env).stdout
    secs = time.time() - t
    log(f"seeded {backend} {size} in {secs:.1f}s: {out.splitlines()[0]}")
    return {"seconds": round(secs, 1), "report": out.splitlines()[0]}


class Server:
    """`relata serve` on one database, as shipped: default log level (to a file), no
    strict budget, default pool size."""

    def __init__(self, relata, backend, size):
        self.port = PORTS[size]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RELATA_") and k not in ("RUST_LOG", "DATABASE_URL")}
        env.update(DATABASE_URL=db_url(backend, size), RELATA_BIND=f"127.0.0.1:{self.port}",
                   RELATA_ACCESS_TTL_SECS="7200")
        self.logfile = open(f"{WORK}/serve-{backend}-{size}.log", "w")
        self.proc = subprocess.Popen([relata, "serve"], env=env, stdout=self.logfile,
                                     stderr=self.logfile)
        wait_http(self.port)
        self.http = Http(self.port)

    def reset_peak(self):
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def peak_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.logfile.close()


def login(http):
    body = json.dumps({"login": TOKEN_USER, "password": PASSWORD})
    _, _, raw = http.call("POST", "/api/v1/auth/login", body)
    return json.loads(raw)["access_token"]


def deep_cursor(http, user_id, page):
    cursor = None
    for _ in range(page - 1):
        path = f"/api/v1/users/{user_id}/posts?limit=20" + (f"&cursor={cursor}" if cursor else "")
        _, _, raw = http.call("GET", path)
        cursor = json.loads(raw)["next_cursor"]
        if cursor is None:
            raise RuntimeError(f"user {user_id} has fewer than {page} pages of posts")
    return cursor


def scenarios(http):
    """The scenarios against one server: name -> (method, path, script, needs token)."""
    c50 = deep_cursor(http, S3_USER, 50)
    return {
        "S1": ("GET", "/api/v1/users?limit=50&include=profile,roles&counts=posts", "get", True),
        "S2": ("GET", "/api/v1/posts?limit=20&include=author,comments.author", "get", False),
        "S3p1": ("GET", f"/api/v1/users/{S3_USER}/posts?limit=20", "get", False),
        "S3p50": ("GET", f"/api/v1/users/{S3_USER}/posts?limit=20&cursor={c50}", "get", False),
        "S4": ("GET", f"/api/v1/posts/{S4_POST}?include=author.profile,comments.author", "get",
               False),
        "S5": ("POST", "/api/v1/posts", "post", True),
        "S6": ("MIX", "/api/v1/posts", "mix", True),
    }


def wrk(url, script, conns, secs, env_extra):
    env = dict(os.environ, BENCH_LUA=LUA, **env_extra)
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{max(1, round(secs))}s", "--timeout", "5s", "-s",
           f"{LUA}/{script}.lua", url]
    out = subprocess.run(cmd, env=env, text=True, capture_output=True)
    m = re.search(r"WRK_RESULT (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return r


def wrk_scenario(base, name, sc, conns, secs, token, floor=False):
    method, path, script, needs_token = sc
    env = {"BENCH_TOKEN": token if needs_token else ""}
    s2_path = None
    if floor:
        # The floor answers `/<name>` with the real server's bytes.
        env["BENCH_POST_PATH"] = "/S5"
        env["BENCH_MIX_GET"], env["BENCH_MIX_POST"] = "/S2", "/S5"
        url = f"{base}/{name}"
    else:
        env["BENCH_MIX_GET"], env["BENCH_MIX_POST"] = None, "/api/v1/posts"
        url = base + (path if method == "GET" else "/api/v1/posts")
    if script == "mix" and not floor:
        s2_path = "/api/v1/posts?limit=20&include=author,comments.author"
        env["BENCH_MIX_GET"] = s2_path
    env = {k: v for k, v in env.items() if v is not None}
    return wrk(url, script, conns, secs, env)


def floor_db(tools, url, sc, token, secs, tasks, sql_out=None):
    method, path, _, needs_token = sc
    cmd = [f"{tools}/floor_db", "--method", method, "--path", path, "--seconds", str(secs),
           "--tasks", ",".join(str(t) for t in tasks)]
    if needs_token:
        cmd += ["--token", token]
    if method == "POST":
        cmd += ["--body", POST_BODY]
    if sql_out:
        cmd += ["--sql-out", sql_out]
    out = run(cmd, env=dict(os.environ, DATABASE_URL=url, RUST_LOG="error")).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if parts[0] == "floor_db":
            result[int(parts[1])] = {"sets_per_s": float(parts[4]), "statements": int(parts[5])}
    return result


def bench_backend(args, relata, tools, backend, results):
    log(f"=== {backend}")
    res = results.setdefault(backend, {"seed": {}, "points": {}, "floor_http": {},
                                       "floor_db": {}, "growth": {}, "statements": {},
                                       "peak_kb": {}})
    for size in ["10k", "100k"]:
        if args.reuse and db_exists(backend, size):
            log(f"reusing the {backend} {size} database")
        else:
            res["seed"][size] = seed(relata, backend, size)
    servers = {size: Server(relata, backend, size) for size in ["10k", "100k"]}
    floor = None
    try:
        main = servers["10k"].http
        token = login(main)
        token_big = login(servers["100k"].http)
        scs = scenarios(main)
        scs_big = scenarios(servers["100k"].http)
        # Bodies for the HTTP floor, and each scenario's statements per request.
        bodies = os.path.join(WORK, f"bodies-{backend}")
        shutil.rmtree(bodies, ignore_errors=True)
        os.makedirs(bodies)
        for name, (method, path, _, needs) in scs.items():
            if method == "MIX":
                continue
            status, headers, raw = main.call(method, path, POST_BODY if method == "POST" else None,
                                             token if needs else None)
            with open(os.path.join(bodies, f"{name}.json"), "wb") as f:
                f.write(raw)
            res["statements"][name] = int(headers.get("X-Query-Count", headers.get("x-query-count")))
        res["statements"]["S6"] = 0.9 * res["statements"]["S2"] + 0.1 * res["statements"]["S5"]
        floor = subprocess.Popen([f"{tools}/floor_http", f"127.0.0.1:{PORTS['floor']}", bodies],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(PORTS["floor"], "/S2")
        os.makedirs(os.path.join(WORK, "sql"), exist_ok=True)
        names = [n for n in scs if not args.only_scenarios or n in args.only_scenarios]
        for rnd in range(args.rounds):
            log(f"{backend} round {rnd + 1}/{args.rounds} (load {loadavg()})")
            for name in names:
                sc = scs[name]
                for conns in args.conns:
                    srv = servers["10k"]
                    srv.reset_peak()
                    r = wrk_scenario(srv.http.base, name, sc, conns, args.duration, token)
                    peak = srv.peak_kb()
                    res["points"].setdefault(f"{name}/{conns}", []).append(r)
                    res["peak_kb"][name] = max(res["peak_kb"].get(name, 0), peak)
                    f = wrk_scenario(f"http://127.0.0.1:{PORTS['floor']}", name, sc, conns,
                                     args.duration, token, floor=True)
                    res["floor_http"].setdefault(f"{name}/{conns}", []).append(f)
                    if name in ("S1", "S3p1", "S3p50"):
                        big = servers["100k"]
                        g = wrk_scenario(big.http.base, name, scs_big[name], conns, args.duration,
                                         token_big)
                        res["growth"].setdefault(f"{name}/{conns}", []).append(g)
                if name != "S6":
                    sql_out = os.path.join(WORK, "sql", f"{backend}-{name}.sql") if rnd == 0 else None
                    d = floor_db(tools, db_url(backend, "10k"), sc, token, args.duration,
                                 args.conns, sql_out)
                    for conns, v in d.items():
                        res["floor_db"].setdefault(f"{name}/{conns}", []).append(v)
    finally:
        if floor:
            floor.terminate()
            floor.wait()
        for s in servers.values():
            s.stop()


def db_exists(backend, size):
    if backend == "sqlite":
        return os.path.exists(f"{WORK}/relata-{size}.db")
    out = run(["psql", PG_ADMIN, "-Atc",
               f"SELECT 1 FROM pg_database WHERE datname = 'relata_bench_{size}'"]).stdout
    return out.strip() == "1"


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def summarize(results, args):
    """Medians over rounds, ratios to the floors."""
    out = {}
    for backend, res in results.items():
        rows = {}
        for key, runs in res["points"].items():
            name, conns = key.split("/")
            conns = int(conns)
            rps = med([r["rps"] for r in runs])
            fh = med([r["rps"] for r in res["floor_http"].get(key, [])])
            if name == "S6":
                # 90 % S2 + 10 % S5: time per request adds up.
                a = med([v["sets_per_s"] for v in res["floor_db"].get(f"S2/{conns}", [])])
                b = med([v["sets_per_s"] for v in res["floor_db"].get(f"S5/{conns}", [])])
                fd = 1 / (0.9 / a + 0.1 / b) if a and b else float("nan")
            else:
                fd = med([v["sets_per_s"] for v in res["floor_db"].get(key, [])])
            rows[key] = {
                "scenario": name, "conns": conns, "rps": rps,
                "rps_runs": [round(r["rps"]) for r in runs],
                "p50_ms": med([r["p50_us"] for r in runs]) / 1000,
                "p99_ms": med([r["p99_us"] for r in runs]) / 1000,
                "errors": sum(r["errors"] for r in runs),
                "requests": sum(r["requests"] for r in runs),
                "statements": res["statements"].get(name),
                "peak_mb": res["peak_kb"].get(name, 0) / 1024,
                "floor_http": fh, "floor_db": fd,
                "of_http": ratio(rps, fh),
                "of_db": ratio(rps, fd),
            }
            if key in res["growth"]:
                big = med([r["rps"] for r in res["growth"][key]])
                rows[key]["rps_100k"] = big
                rows[key]["errors_100k"] = sum(r["errors"] for r in res["growth"][key])
                rows[key]["p50_ms_100k"] = med([r["p50_us"] for r in res["growth"][key]]) / 1000
        out[backend] = rows
    return out


def markdown(summary, results, args, meta):
    lines = [f"# Relata benchmark, {meta['date']}", "",
             f"Machine: {meta['machine']}. Load average at start {meta['load_start']}, at end "
             f"{meta['load_end']}. Rounds: {args.rounds} × {args.duration}s per point "
             f"(medians over rounds). wrk -t2, keep-alive. Total time {meta['total_s']:.0f}s.",
             ""]
    order = ["S1", "S2", "S3p1", "S3p50", "S4", "S5", "S6"]
    for backend, rows in summary.items():
        seeds = results[backend]["seed"]
        lines += [f"## {backend}", ""]
        for size, s in seeds.items():
            lines.append(f"- seed {size}: {s['seconds']}s — {s['report']}")
        lines += ["",
                  "| scenario | conns | req/s | p50 ms | p99 ms | stmts/req | errors | peak RSS MB "
                  "| HTTP floor req/s | of HTTP floor | DB floor sets/s | of DB floor |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in order:
            for conns in args.conns:
                r = rows.get(f"{name}/{conns}")
                if not r:
                    continue
                st = r["statements"]
                st = f"{st:g}" if st is not None else "?"
                lines.append(
                    f"| {name} | {conns} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                    f"{st} | {r['errors']} | {r['peak_mb']:.0f} | {r['floor_http']:.0f} | "
                    f"{r['of_http']:.0%} | {r['floor_db']:.0f} | {r['of_db']:.0%} |")
        lines += ["", "Cost growth (cost ratio = req/s of the cheaper case ÷ req/s of the other; "
                  "target ≤ 1.3 for 100k/10k users, ≤ 1.2 for page 50/page 1):", "",
                  "| scenario | conns | 10k users req/s | 100k users req/s | 100k/10k cost "
                  "| errors (100k) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name in ["S1", "S3p1", "S3p50"]:
            for conns in args.conns:
                r = rows.get(f"{name}/{conns}")
                if r and "rps_100k" in r:
                    lines.append(f"| {name} | {conns} | {r['rps']:.0f} | {r['rps_100k']:.0f} | "
                                 f"{ratio(r['rps'], r['rps_100k']):.2f} | {r['errors_100k']} |")
        lines += ["", "| database | conns | page 1 req/s | page 50 req/s | page 50/page 1 cost |",
                  "|---|---:|---:|---:|---:|"]
        for conns in args.conns:
            a, b = rows.get(f"S3p1/{conns}"), rows.get(f"S3p50/{conns}")
            if a and b:
                lines.append(f"| 10k users | {conns} | {a['rps']:.0f} | {b['rps']:.0f} | "
                             f"{ratio(a['rps'], b['rps']):.2f} |")
                if "rps_100k" in a and "rps_100k" in b:
                    lines.append(f"| 100k users | {conns} | {a['rps_100k']:.0f} | "
                                 f"{b['rps_100k']:.0f} | {ratio(a['rps_100k'], b['rps_100k']):.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 round instead of 2")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--conns", default="16,64")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse databases seeded by an earlier run (faster, but S5/S6 of "
                         "earlier runs have added posts)")
    ap.add_argument("--only", dest="only_scenarios", default=None,
                    help="comma-separated scenarios (S1,S2,S3p1,S3p50,S4,S5,S6)")
    ap.add_argument("--label", default="", help="added to the result file names")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.duration = args.duration or 2
    args.conns = [int(c) for c in args.conns.split(",")]
    if args.only_scenarios:
        args.only_scenarios = args.only_scenarios.split(",")
    started = time.time()
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load_start": loadavg(),
            "machine": f"{os.cpu_count()} cores (shared with other users), "
                       f"{platform.machine()}, Linux {platform.release()}"}
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not args.no_build:
        log("cargo build --release --bins --examples")
        subprocess.run(["cargo", "build", "--release", "--bins", "--examples"], cwd=ROOT,
                       check=True)
    relata = os.path.join(target, "release", "relata")
    tools = os.path.join(target, "release", "examples")
    os.makedirs(WORK, exist_ok=True)
    results = {}
    for backend in args.backends.split(","):
        bench_backend(args, relata, tools, backend, results)
    meta["load_end"] = loadavg()
    meta["total_s"] = time.time() - started
    summary = summarize(results, args)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = f"-{args.label}" if args.label else ""
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    with open(os.path.join(BENCH, "results", f"{stamp}{label}.json"), "w") as f:
        json.dump({"meta": meta, "args": vars(args), "raw": results, "summary": summary}, f,
                  indent=1)
    md = markdown(summary, results, args, meta)
    with open(os.path.join(BENCH, "results", f"{stamp}{label}.md"), "w") as f:
        f.write(md)
    print(md)
    bad = [f"{b} {k}" for b, rows in summary.items() for k, r in rows.items()
           if r["errors"] or r.get("errors_100k")]
    if bad:
        print("ERRORS in: " + ", ".join(bad), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
