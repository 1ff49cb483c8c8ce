#!/usr/bin/env python3
"""Relata's Conduit face (/api) against launchbadge/realworld-axum-sqlx on PostgreSQL, with
the peer's default plan cache and with `plan_cache_mode = force_custom_plan`, in one run (one
phase per mode, Relata and the peer interleaved in each). See bench/README.md ("The Conduit
peer").

    bench/conduit.py build-peer [--src GIT]   fetch the peer (outside this repository), patch
                                              it as ../shared/peers/conduit-bench says, build it
    bench/conduit.py run [options]            seed both, check, measure, report

The data set, the seeding, the wrk script and the data check are
../shared/peers/conduit-bench's (seed.py, bench.lua, report.py check); this driver adds what
its run.sh does not do in one run: both plan-cache modes on the same data (a PostgreSQL role
whose setting is force_custom_plan connects to the same databases in the second phase),
statements per request for both servers (counted in PostgreSQL's log), C2 on the same page
of the feed, and each server's CPU per request. Results: bench/results/<stamp>-conduit[-label].md and .json.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "work")
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CB_DIR = os.environ.get(
    "CONDUIT_BENCH_DIR",
    os.path.normpath(os.path.join(ROOT, "..", "shared", "peers", "conduit-bench")))
if not os.path.isdir(CB_DIR):
    CB_DIR = "/work/shared/peers/conduit-bench"
PEER_HOME = os.environ.get("CONDUIT_PEER_HOME",
                           os.path.join(os.path.expanduser("~"), ".cache", "conduit-peer-axum"))
PEER_BIN = os.environ.get(
    "PEER_BIN", os.path.join(PEER_HOME, "src", "target", "release", "realworld-axum-sqlx"))
PEER_SRC = os.environ.get("CONDUIT_PEER_GIT",
                          "https://github.com/launchbadge/realworld-axum-sqlx")
# The commit ../shared/peers/conduit-bench measured (2022-03-12).
PEER_COMMIT = "f1b25654773228297e35c292f357d33b7121a101"
SECRET = "conduit-bench-secret-0123456789abcdef0123456789"
SCENARIOS = ["C1", "C2", "C2s", "C3", "C4", "C5", "C6"]
# One phase per plan-cache mode, each with its two servers (the "-custom" ones connect to the
# same databases as a role whose plan_cache_mode is force_custom_plan).
MODES = {"auto": ("relata", "peer"), "force_custom_plan": ("relata-custom", "peer-custom")}


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def die(msg):
    print(f"conduit.py: {msg}", file=sys.stderr)
    sys.exit(1)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def psql(url, *statements, quiet=True):
    cmd = ["psql", url, "-v", "ON_ERROR_STOP=1", "-Atq"]
    for s in statements:
        cmd += ["-c", s]
    out = subprocess.run(cmd, text=True, capture_output=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {' ; '.join(statements)}\n{out.stderr}")
    return out.stdout.strip()


def db_url(name, user=None):
    p = urllib.parse.urlsplit(PG_ADMIN)
    netloc = p.netloc
    if user:
        netloc = user + "@" + netloc.split("@", 1)[-1]
    return p._replace(netloc=netloc, path="/" + name).geturl()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------
# build-peer


def build_peer(args):
    """The peer's source at PEER_COMMIT into PEER_HOME/src, the two local changes of
    ../shared/peers/conduit-bench/README.md, and a release build against a scratch database
    (its `query!` macros need one). Nothing of it enters this repository."""
    for tool in ("git", "cargo", "psql"):
        if shutil.which(tool) is None:
            die(f"building the peer needs {tool}")
    src = os.path.join(PEER_HOME, "src")
    git = os.path.join(PEER_HOME, "git")
    os.makedirs(PEER_HOME, exist_ok=True)
    if not os.path.isdir(git):
        log(f"cloning {args.src} into {git}")
        r = subprocess.run(["git", "clone", "--bare", "--quiet", args.src, git])
        if r.returncode != 0:
            shutil.rmtree(git, ignore_errors=True)
            die(f"could not clone the peer from {args.src}; pass --src (or CONDUIT_PEER_GIT) "
                "with a local clone of launchbadge/realworld-axum-sqlx")
    r = subprocess.run(["git", "--git-dir", git, "cat-file", "-e", f"{PEER_COMMIT}^{{commit}}"])
    if r.returncode != 0:
        die(f"{git} has no commit {PEER_COMMIT[:12]} (the one measured); remove it and pass "
            "--src with a clone that has it")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    subprocess.run(f"git --git-dir '{git}' archive {PEER_COMMIT} | tar -x -C '{src}'",
                   shell=True, check=True)
    # Change 1: BIND_ADDR, so that it can run beside Relata on a free port.
    mod = os.path.join(src, "src", "http", "mod.rs")
    text = open(mod).read()
    old = 'axum::Server::bind(&"0.0.0.0:8080".parse()?)'
    if text.count(old) != 1:
        die(f"{mod} no longer has `{old}`: the BIND_ADDR change does not apply")
    open(mod, "w").write(text.replace(old, 'axum::Server::bind(&std::env::var("BIND_ADDR")'
                                           '.unwrap_or_else(|_| "0.0.0.0:8080".into()).parse()?)'))
    # Change 2: sha2 0.9.8 (yanked; its AVX2 SHA-512 segfaults with today's rustc) -> 0.9.9.
    log("cargo update -p sha2 --precise 0.9.9")
    r = subprocess.run(["cargo", "update", "-p", "sha2", "--precise", "0.9.9"], cwd=src)
    if r.returncode != 0:
        die("cargo update -p sha2 --precise 0.9.9 failed (is crates.io reachable?)")
    scratch = f"cb_peer_build_{os.getpid()}"
    psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {scratch}", f"CREATE DATABASE {scratch}")
    try:
        for m in sorted(os.listdir(os.path.join(src, "migrations")),
                        key=lambda f: int(f.split("_")[0]) if f[0].isdigit() else 1 << 30):
            if m.endswith(".sql"):
                r = subprocess.run(["psql", db_url(scratch), "-v", "ON_ERROR_STOP=1", "-q", "-f",
                                    os.path.join(src, "migrations", m)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    die(f"the peer's migration {m} failed on the scratch database:\n{r.stderr}")
        log("cargo build --release --locked (the peer; ~2-5 min)")
        env = dict(os.environ, DATABASE_URL=db_url(scratch),
                   CARGO_TARGET_DIR=os.path.join(src, "target"))
        r = subprocess.run(["nice", "-n", "10", "cargo", "build", "--release", "--locked"],
                           cwd=src, env=env)
        if r.returncode != 0 or not os.path.exists(PEER_BIN):
            die(f"the peer's build failed (exit {r.returncode}); see the output above")
    finally:
        psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
    log(f"built {PEER_BIN}")


# ---------------------------------------------------------------------------------------
# run


class Server:
    def __init__(self, name, kind, cmd, env, logdir):
        self.name, self.kind, self.port = name, kind, int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.logfile = open(os.path.join(logdir, f"serve-{name}.log"), "w")
        full = {k: v for k, v in os.environ.items()
                if not k.startswith("RELATA_") and k not in ("RUST_LOG", "DATABASE_URL")}
        full.update(env)
        self.proc = subprocess.Popen(cmd, env=full, stdout=self.logfile, stderr=self.logfile,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode} on start "
                                   f"(log: {self.logfile.name})")
            try:
                urllib.request.urlopen(self.base + "/api/tags", timeout=2)
                break
            except Exception:
                if time.time() > deadline:
                    raise RuntimeError(f"{name} did not answer /api/tags within 120 s")
                time.sleep(0.3)

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def peak_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def get(self, path, token):
        req = urllib.request.Request(self.base + path,
                                     headers={"Authorization": f"Token {token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logfile.close()


def wrk(url, conns, secs, token, threads):
    env = dict(os.environ, BENCH_TOKEN=token)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout", "5s",
                          "-s", os.path.join(CB_DIR, "bench.lua"), url],
                         env=env, text=True, capture_output=True)
    m = re.search(r"WRK_RESULT (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed on {url}: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def pg_log_file():
    """The PostgreSQL server's log file, when this machine has it: BENCH_PG_LOG, the
    collector's current file, or Debian's default for the server's major version."""
    cand = [os.environ.get("BENCH_PG_LOG")]
    try:
        cur = psql(PG_ADMIN, "SELECT pg_current_logfile()")
        if cur:
            cand.append(cur if cur.startswith("/") else os.path.join(
                psql(PG_ADMIN, "SHOW data_directory"), cur))
        major = psql(PG_ADMIN, "SHOW server_version").split(".")[0]
        cand.append(f"/var/log/postgresql/postgresql-{major}-main.log")
    except RuntimeError:
        pass
    for c in cand:
        if c and os.access(c, os.R_OK):
            return c
    return None


def statements_per_request(srv, logfile, role, db, path, token, n):
    """Statements per request, counted by PostgreSQL itself: `srv` connects as `role`,
    whose `log_statement` is `all`, so the server logs every statement it executes (each
    Execute of a prepared statement, pipelined or not) with `role@db` in the line's prefix.
    After n warm-up requests (connections opened, statements prepared), n more are sent one
    at a time and the new lines counted. Also Relata's own X-Query-Count."""
    header = None
    for _ in range(n):
        srv.get(path, token)
    time.sleep(0.3)
    mark = os.path.getsize(logfile)
    for _ in range(n):
        status, headers, _ = srv.get(path, token)
        if status != 200:
            raise RuntimeError(f"{srv.name} {path} answered {status}")
        header = {k.lower(): v for k, v in headers.items()}.get("x-query-count", header)
    time.sleep(0.5)
    with open(logfile, "rb") as f:
        f.seek(mark)
        text = f.read().decode(errors="replace")
    tag = f" {role}@{db} LOG:  "
    lines = [line.split(tag, 1)[1] for line in text.splitlines() if tag in line]
    # sqlx 0.5's pool checks a connection with an empty query, `/* SQLx ping */`, as it hands
    # it out and as it takes it back: a round trip each, but no statement.
    pings = sum(1 for line in lines if line.startswith("statement: /* SQLx ping */"))
    count = sum(1 for line in lines
                if line.startswith("execute ") or line.startswith("statement: ")) - pings
    return {"header": int(header) if header else None, "logged": round(count / n, 2),
            "pings": round(pings / n, 2)}


def c2_same_page(relata, peer, paths, tokens):
    """The offset at which Relata's feed (newest first) holds the page the peer answers
    (its feed has no ORDER BY), when that page is a contiguous run of Relata's order."""
    _, _, raw = peer.get(paths["peer"]["C2"], tokens["peer"])
    want = [a["title"] for a in json.loads(raw).get("articles", [])]
    _, _, raw = relata.get(paths["relata"]["C2"], tokens["relata"])
    total = json.loads(raw).get("articlesCount") or 0
    _, _, raw = relata.get(f"/api/articles/feed?limit={max(total, 1)}", tokens["relata"])
    order = [a["title"] for a in json.loads(raw).get("articles", [])]
    idx = sorted(order.index(t) for t in want if t in order)
    note = {"peer_titles": len(want), "relata_feed": len(order)}
    if not want or len(idx) != len(want) or idx != list(range(idx[0], idx[0] + len(idx))):
        note["why"] = "the peer's page is not a contiguous run of Relata's feed order"
        return None, note
    limit = len(want)
    path = f"/api/articles/feed?limit={limit}&offset={idx[0]}"
    _, _, raw = relata.get(path, tokens["relata"])
    got = [a["title"] for a in json.loads(raw).get("articles", [])]
    note["offset"] = idx[0]
    note["same_set"] = sorted(got) == sorted(want)
    note["same_order"] = got == want
    if not note["same_set"]:
        note["why"] = "Relata's page at that offset is not the peer's set"
        return None, note
    return path, note


def run(args):
    pg = any(m in MODES for m in args.modes)
    for tool in ("wrk", "psql") if pg else ("wrk",):
        if shutil.which(tool) is None:
            die(f"needs {tool} (Debian: apt-get install -y wrk postgresql-client)")
    for f in ("seed.py", "bench.lua", "report.py"):
        if not os.path.exists(os.path.join(CB_DIR, f)):
            die(f"{CB_DIR}/{f} is missing (set CONDUIT_BENCH_DIR to "
                "../shared/peers/conduit-bench)")
    if pg and not os.access(args.peer_bin, os.X_OK):
        die(f"the peer is not built: {args.peer_bin} is missing. Build it with "
            "`bench/conduit.py build-peer` (see bench/README.md), or set PEER_BIN")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    relata_bin = args.relata_bin or os.path.join(target, "release", "relata")
    if not args.no_build:
        log("cargo build --release --bins --examples --features bench-capture "
            "(as bench/run.sh builds it)")
        subprocess.run(["cargo", "build", "--release", "--bins", "--examples", "--features",
                        "bench-capture"], cwd=ROOT, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=target))
    if not os.access(relata_bin, os.X_OK):
        die(f"no relata binary at {relata_bin}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = f"-{args.label}" if args.label else ""
    out = os.path.join(WORK, f"conduit-{stamp}{label}")
    os.makedirs(out)
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load_start": loadavg(),
            "relata_bin": relata_bin, "peer_bin": args.peer_bin,
            "relata_rev": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=9", "HEAD"],
                                         text=True, capture_output=True).stdout.strip(),
            "rounds": args.rounds, "duration": args.duration, "warmup": args.warmup,
            "conns": args.conns, "threads": args.threads, "modes": args.modes}
    log(f"load {meta['load_start']}; results folder {out}")
    raw = []
    scenarios = [s for s in SCENARIOS if s in args.only]
    if pg:
        scenarios = pg_phases(args, relata_bin, out, meta, raw)
    if "sqlite" in args.modes:
        sqlite_phase(args, relata_bin, out, meta, raw)
    meta["load_end"] = loadavg()
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    base = os.path.join(BENCH, "results", f"{stamp}-conduit{label}")
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "raw": raw}, f, indent=1)
    md = report(meta, raw, scenarios, args)
    with open(base + ".md", "w") as f:
        f.write(md)
    print(md)
    log(f"written {os.path.relpath(base, ROOT)}.md and .json (server logs and bodies in {out})")


def pg_phases(args, relata_bin, out, meta, raw):
    """Both servers seeded on PostgreSQL, checked, then one phase per plan-cache mode of
    `args.modes`, and the statements per request; appends to `raw`, answers the scenarios
    measured."""
    pid = os.getpid()
    dbs = {"relata": f"cb_relata_{pid}", "peer": f"cb_peer_{pid}"}
    meta.update({"postgres": psql(PG_ADMIN, "SHOW server_version"),
                 "plan_cache_mode_default": psql(PG_ADMIN, "SHOW plan_cache_mode")})
    roles = {"custom": f"cb_custom_{pid}", "log": f"cb_log_{pid}"}
    logfile = pg_log_file()
    meta["pg_log"] = logfile
    servers = {}
    try:
        for name, db in dbs.items():
            psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}")
        for r in roles.values():
            psql(PG_ADMIN, f"DROP ROLE IF EXISTS {r}", f"CREATE ROLE {r} LOGIN")
        psql(PG_ADMIN, f"ALTER ROLE {roles['custom']} SET plan_cache_mode = force_custom_plan",
             f"ALTER ROLE {roles['log']} SET log_statement = 'all'")
        seeds = {}
        for kind in ("relata", "peer"):
            port = free_port()
            servers[kind] = start(kind, kind, relata_bin, args.peer_bin, db_url(dbs[kind]),
                                  port, out)
            log(f"{kind} on :{port}, database {dbs[kind]}: seeding (seed.py {args.seed_args})")
            r = subprocess.run([sys.executable, os.path.join(CB_DIR, "seed.py"), "--base",
                                servers[kind].base, "--out", os.path.join(out, f"seed-{kind}.json"),
                                *args.seed_args.split()], text=True, capture_output=True)
            if r.returncode != 0:
                raise RuntimeError(f"seeding {kind} failed:\n{r.stdout}\n{r.stderr}")
            seeds[kind] = json.load(open(os.path.join(out, f"seed-{kind}.json")))
            log(f"  {kind} seeded: {seeds[kind]['seconds']}")
            psql(db_url(dbs[kind]), "VACUUM ANALYZE")
            for role in roles.values():
                psql(db_url(dbs[kind]), f"GRANT ALL ON SCHEMA public TO {role}",
                     f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
                     f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        meta["seeds"] = {k: v.get("seconds") for k, v in seeds.items()}
        tokens = {k: seeds[k]["token"] for k in ("relata", "peer")}
        paths = {k: scenario_paths(seeds[k]) for k in ("relata", "peer")}

        # The data check of ../shared/peers/conduit-bench (report.py check), on C1-C6.
        for sc in ("C1", "C2", "C3", "C4", "C5", "C6"):
            for kind in ("relata", "peer"):
                status, _, body = servers[kind].get(paths[kind][sc], tokens[kind])
                with open(os.path.join(out, f"{sc}-{kind}.json"), "wb") as f:
                    f.write(body if status == 200 else b"{}")
        check = subprocess.run([sys.executable, os.path.join(CB_DIR, "report.py"), "check", out],
                               text=True, capture_output=True).stdout
        print(check, end="")
        meta["check"] = check.strip().splitlines()
        # C2s: Relata's feed at the offset where it holds the page the peer answers.
        path, note = c2_same_page(servers["relata"], servers["peer"], paths, tokens)
        meta["c2_same_page"] = note
        log(f"C2 same page: {note}")
        if path:
            paths["relata"]["C2s"] = path
            paths["peer"]["C2s"] = paths["peer"]["C2"]
        scenarios = [s for s in SCENARIOS if s in args.only and s in paths["relata"]]

        # One phase per plan-cache mode: Relata and the peer side by side, interleaved. Not
        # all four at once: the peer's pool alone grows to 50 connections, and the server
        # allows 100 (other users' included).
        for mode in [m for m in args.modes if m in MODES]:
            rt, pt = MODES[mode]
            if mode != "auto":
                for kind in ("relata", "peer"):  # the seeding servers, if still up
                    if kind in servers:
                        servers.pop(kind).stop()
                for t, kind in ((rt, "relata"), (pt, "peer")):
                    servers[t] = start(t, kind, relata_bin, args.peer_bin,
                                       db_url(dbs[kind], roles["custom"]), free_port(), out)
                    seen = psql(db_url(dbs[kind], roles["custom"]), "SHOW plan_cache_mode")
                    if seen != "force_custom_plan":
                        raise RuntimeError(f"role {roles['custom']} sees plan_cache_mode {seen}")
            else:
                servers[rt], servers[pt] = servers["relata"], servers["peer"]
            pair = [rt, pt]
            # Pools at their steady size before measuring: the peer opens its connections
            # (TLS, up to 50) as load arrives, which costs seconds on the first runs.
            for t in pair:
                kind = servers[t].kind
                wrk(servers[t].base + paths[kind]["C5"], max(args.conns), 4, tokens[kind],
                    args.threads)
            meta.setdefault("loads", {})[mode] = []
            for rnd in range(args.rounds):
                meta["loads"][mode].append(loadavg())
                log(f"{mode}: round {rnd + 1}/{args.rounds} (load {loadavg()})")
                order = pair if rnd % 2 == 0 else pair[::-1]
                for sc in scenarios:
                    for conns in args.conns:
                        for t in order:
                            srv = servers[t]
                            if sc == "C2s" and srv.kind == "peer":
                                continue  # the peer's C2s is its C2, measured already
                            url = srv.base + paths[srv.kind][sc]
                            if args.warmup:
                                wrk(url, conns, args.warmup, tokens[srv.kind], args.threads)
                            cpu = srv.cpu_seconds()
                            r = wrk(url, conns, args.duration, tokens[srv.kind], args.threads)
                            r["cpu_us"] = (srv.cpu_seconds() - cpu) * 1e6 / max(1, r["requests"])
                            r.update(round=rnd + 1, scenario=sc, conns=conns, target=t)
                            raw.append(r)
                            log(f"  {sc} c={conns} {t}: {r['rps']:.0f} req/s, p99 "
                                f"{r['p99_us'] / 1000:.1f} ms, {r['cpu_us']:.0f} µs CPU/req, "
                                f"non-2xx {r['status']}, socket errors {r['socket_errors']}")
            meta.setdefault("peak_mb", {}).update({t: servers[t].peak_mb() for t in pair})
            for t in pair:
                servers.pop(t).stop()

        # Statements per request, counted in PostgreSQL's log (servers connected as a role
        # that logs every statement; not measured, so the logging costs nothing above).
        stmts = {}
        if logfile:
            for kind in ("relata", "peer"):
                srv = servers[f"{kind}-log"] = start(f"{kind}-log", kind, relata_bin,
                                                     args.peer_bin,
                                                     db_url(dbs[kind], roles["log"]),
                                                     free_port(), out)
                for sc in scenarios:
                    if sc == "C2s" and kind == "peer":
                        continue
                    stmts.setdefault(kind, {})[sc] = statements_per_request(
                        srv, logfile, roles["log"], dbs[kind], paths[kind][sc], tokens[kind],
                        args.count_requests)
                servers.pop(f"{kind}-log").stop()
        meta["statements"] = stmts
        log(f"statements per request: {stmts}")
    finally:
        for s in servers.values():
            s.stop()
        for db in dbs.values():
            try:
                psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            except RuntimeError as e:
                log(f"could not drop {db}: {e}")
        for role in roles.values():
            try:
                psql(PG_ADMIN, f"DROP ROLE IF EXISTS {role}")
            except RuntimeError as e:
                log(f"could not drop role {role}: {e}")
    meta["paths"] = paths
    return scenarios


def anon_mb(pid):
    """`Anonymous:` of /proc/PID/smaps_rollup in MB: the process's own memory (heap,
    stacks), apart from the file-backed pages of the database file it maps and of its
    binary, which RSS counts too."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def sqlite_phase(args, relata_bin, out, meta, raw):
    """Relata alone on a SQLite file of its own (the peer serves only PostgreSQL), seeded
    with the same seed.py: C1-C6 in `args.rounds` rounds, with CPU per request (issue 25:
    C1's within ×1.2 of C2's), statements (`X-Query-Count`), and memory: peak RSS, and
    the anonymous memory apart from the mapped database file."""
    path = os.path.join(out, "conduit-sqlite.db")
    port = free_port()
    srv = start("relata-sqlite", "relata", relata_bin, args.peer_bin, f"sqlite://{path}", port,
                out)
    try:
        log(f"relata-sqlite on :{port}, {path}: seeding (seed.py {args.seed_args})")
        seed_file = os.path.join(out, "seed-relata-sqlite.json")
        r = subprocess.run([sys.executable, os.path.join(CB_DIR, "seed.py"), "--base", srv.base,
                            "--out", seed_file, *args.seed_args.split()],
                           text=True, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"seeding relata-sqlite failed:\n{r.stdout}\n{r.stderr}")
        seed = json.load(open(seed_file))
        meta.setdefault("seeds", {})["relata-sqlite"] = seed.get("seconds")
        token, paths = seed["token"], scenario_paths(seed)
        scenarios = [s for s in SCENARIOS if s in args.only and s in paths]
        stmts = {}
        for sc in scenarios:
            status, headers, _ = srv.get(paths[sc], token)
            if status != 200:
                raise RuntimeError(f"relata-sqlite answered {status} to {sc}")
            stmts[sc] = headers.get("x-query-count") or headers.get("X-Query-Count")
        meta["sqlite_statements"] = stmts
        wrk(srv.base + paths["C5"], max(args.conns), 2, token, args.threads)
        meta["sqlite_loads"] = []
        for rnd in range(args.rounds):
            meta["sqlite_loads"].append(loadavg())
            log(f"sqlite: round {rnd + 1}/{args.rounds} (load {loadavg()})")
            for sc in scenarios:
                for conns in args.conns:
                    url = srv.base + paths[sc]
                    if args.warmup:
                        wrk(url, conns, args.warmup, token, args.threads)
                    cpu = srv.cpu_seconds()
                    r = wrk(url, conns, args.duration, token, args.threads)
                    r["cpu_us"] = (srv.cpu_seconds() - cpu) * 1e6 / max(1, r["requests"])
                    r["anon_mb"] = anon_mb(srv.proc.pid)
                    r.update(round=rnd + 1, scenario=sc, conns=conns, target="relata-sqlite")
                    raw.append(r)
                    log(f"  {sc} c={conns} relata-sqlite: {r['rps']:.0f} req/s, "
                        f"{r['cpu_us']:.0f} µs CPU/req, non-2xx {r['status']}, "
                        f"socket errors {r['socket_errors']}")
        meta["sqlite_scenarios"] = scenarios
        meta.setdefault("peak_mb", {})["relata-sqlite"] = srv.peak_mb()
        meta["sqlite_anon_mb"] = max(x.get("anon_mb", 0) for x in raw
                                     if x["target"] == "relata-sqlite")
        meta["sqlite_file_mb"] = os.path.getsize(path) / 2**20
    finally:
        srv.stop()


def start(name, kind, relata_bin, peer_bin, url, port, out):
    if kind == "relata":
        # As shipped (default log level, to a file; default pool sizes), except the limit of
        # 120 registrations per minute from one address, which seeding 300 users from
        # 127.0.0.1 would hit (429); the measured requests are GETs it does not see.
        return Server(name, kind, [relata_bin, "serve"],
                      {"PORT": str(port), "DATABASE_URL": url, "RELATA_BIND": f"127.0.0.1:{port}",
                       "RELATA_JWT_SECRET": SECRET, "RELATA_REGISTRATIONS_PER_MINUTE": "0"}, out)
    # The peer as shipped (env_logger at errors only, its fixed pool of 50 connections);
    # BIND_ADDR is the one local change that concerns running it.
    return Server(name, kind, [peer_bin],
                  {"PORT": str(port), "DATABASE_URL": url, "HMAC_KEY": SECRET,
                   "BIND_ADDR": f"127.0.0.1:{port}"}, out)


def scenario_paths(seed):
    q = urllib.parse.quote
    return {"C1": "/api/articles?limit=20",
            "C2": "/api/articles/feed?limit=20",
            "C3": f"/api/articles/{q(seed['slug'])}",
            "C4": f"/api/articles/{q(seed['slug'])}/comments",
            "C5": f"/api/profiles/{q(seed['profile'])}",
            "C6": f"/api/articles?tag={q(seed['tag'])}&limit=20"}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def f0(v):
    return "–" if v is None or v != v else f"{v:,.0f}".replace(",", " ")


def report(meta, raw, scenarios, args):
    runs = {}
    for r in raw:
        runs.setdefault((r["scenario"], r["conns"], r["target"]), []).append(r)

    def stat(sc, c, t, key):
        xs = runs.get((sc, c, t), [])
        if key == "p99":
            return med([x["p99_us"] / 1000 for x in xs])
        return med([x[key] for x in xs])

    def bad(sc, c, t):
        xs = runs.get((sc, c, t), [])
        return sum(x["status"] + x["socket_errors"] for x in xs)

    pg_modes = [m for m in meta["modes"] if m in MODES]
    lines = [f"# Conduit face: Relata against realworld-axum-sqlx (PostgreSQL)"
             f"{', and on SQLite' if 'sqlite' in meta['modes'] else ''}, {meta['date']}", ""]
    if pg_modes:
        lines += pg_report(meta, scenarios, args, stat, bad)
    if "sqlite" in meta["modes"]:
        lines += sqlite_report(meta, stat, bad)
    lines += ["Peak RSS (MB, VmHWM over the whole run, seeding included): " +
              ", ".join(f"{t} {v:.0f}" for t, v in meta.get("peak_mb", {}).items()), "",
              "Errors are wrk's non-2xx responses plus socket errors, summed over rounds. "
              "Per-run figures: the .json beside this file.", ""]
    return "\n".join(lines)


def sqlite_report(meta, stat, bad):
    sc_list, st = meta.get("sqlite_scenarios", []), meta.get("sqlite_statements", {})
    lines = ["## Relata on SQLite", "",
             f"Relata `{meta['relata_rev']}` ({meta['relata_bin']}) alone (realworld-axum-sqlx "
             "serves only PostgreSQL), on a SQLite file of its "
             "own seeded by the same seed.py (seconds per phase: "
             f"{meta.get('seeds', {}).get('relata-sqlite')}); {meta['rounds']} rounds of wrk "
             f"-t{meta['threads']} -cN, {meta['warmup']} s warm-up (discarded) then "
             f"{meta['duration']} s per point; medians over rounds; load at each round: "
             f"{' / '.join(meta.get('sqlite_loads', []))}. "
             "Statements: `X-Query-Count` of one request.", "",
             "| scenario | conns | req/s | p99 ms | CPU µs/req | statements | errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    t = "relata-sqlite"
    for sc in sc_list:
        for c in meta["conns"]:
            lines.append(f"| {sc} | {c} | {f0(stat(sc, c, t, 'rps'))} | "
                         f"{stat(sc, c, t, 'p99'):.1f} | {f0(stat(sc, c, t, 'cpu_us'))} | "
                         f"{st.get(sc, '?')} | {bad(sc, c, t)} |")
    ratios = [f"{c} connections ×{stat('C1', c, t, 'cpu_us') / stat('C2', c, t, 'cpu_us'):.2f}"
              for c in meta["conns"] if "C1" in sc_list and "C2" in sc_list]
    lines += ["", f"C1's CPU per request ÷ C2's (target ≤ 1.2): {', '.join(ratios) or '–'}.",
              "", f"Memory on SQLite: peak RSS {meta.get('peak_mb', {}).get(t, float('nan')):.0f}"
              " MB (VmHWM over the whole run, seeding included; RSS also counts the pages of "
              "the database file that its memory map touched: the file is "
              f"{meta.get('sqlite_file_mb', float('nan')):.0f} MB); the server's own "
              "(anonymous) memory, apart from the mapped file, at most "
              f"{meta.get('sqlite_anon_mb', float('nan')):.0f} MB (read after each run).", ""]
    return lines


def pg_report(meta, scenarios, args, stat, bad):
    st = meta.get("statements", {})
    lines = [f"Relata `{meta['relata_rev']}` ({meta['relata_bin']}), the peer at "
             f"`{PEER_COMMIT[:12]}` with the two local changes of "
             f"../shared/peers/conduit-bench/README.md. PostgreSQL {meta['postgres']} (server "
             f"default plan_cache_mode: {meta['plan_cache_mode_default']}). "
             f"One phase per plan-cache mode on the same seeded databases; in each, "
             f"{meta['rounds']} rounds with Relata and the peer back to back per point (which one "
             f"goes first alternates by round), after a 4 s wrk at {max(meta['conns'])} "
             f"connections that brings each pool to its steady size; per point wrk "
             f"-t{meta['threads']} -cN, {meta['warmup']} s warm-up (discarded) then "
             f"{meta['duration']} s; medians over rounds. Load average (1, 5, 15 min) at the "
             f"start {meta['load_start']}; at each round: " +
             "; ".join(f"{m} {' / '.join(v)}" for m, v in meta.get("loads", {}).items()) +
             f"; at the end {meta.get('load_end', '?')}. The machine's 2 cores are shared with "
             "other engineers' builds and tests: wrk, both servers and PostgreSQL share them.",
             "",
             f"Seeding through the API (seed.py {args.seed_args or '(defaults)'}), seconds per "
             f"phase: Relata {meta['seeds'].get('relata')}, peer {meta['seeds'].get('peer')}.",
             "", "Data check (`report.py check`):", ""]
    lines += [f"- {l}" for l in meta.get("check", [])]
    note = meta.get("c2_same_page", {})
    if "offset" in note and note.get("same_set"):
        lines += ["", f"C2s: the page the peer answers for C2 (its feed has no ORDER BY) is "
                  f"Relata's feed at `offset={note['offset']}` (same {note['peer_titles']} "
                  f"articles{', same order' if note.get('same_order') else ', another order'}); "
                  "C2s measures Relata there against the peer's C2."]
    else:
        lines += ["", f"C2s not measured: {note.get('why', '?')} ({note})."]
    lines += ["", "Statements per request: counted by PostgreSQL (`log_statement = all` on a "
              "role that a third instance of each server connects as, after the rounds; every "
              f"executed statement over {args.count_requests} sequential requests, divided by "
              f"them; log `{meta.get('pg_log')}`), and in brackets Relata's own "
              "`X-Query-Count`. \"+2 pings\": sqlx 0.5's pool (the peer's) also sends an empty "
              "query, `/* SQLx ping */`, when it hands a connection out and when it takes it "
              "back: a round trip each, counted apart.", ""]
    for mode in [m for m in meta["modes"] if m in MODES]:
        rt, pt = MODES[mode]
        lines += [f"## plan_cache_mode = {mode}"
                  + (" (PostgreSQL's default)" if mode == "auto" else ""), "",
                  "| scenario | conns | Relata req/s | peer req/s | Relata ÷ peer | Relata p99 ms "
                  "| peer p99 ms | Relata CPU µs/req | peer CPU µs/req | statements Relata / peer "
                  "| errors R / P |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for sc in scenarios:
            psc = "C2" if sc == "C2s" else sc
            for c in meta["conns"]:
                r, p = stat(sc, c, rt, "rps"), stat(psc, c, pt, "rps")
                sr, sp = st.get("relata", {}).get(sc), st.get("peer", {}).get(psc)
                srs = f"{sr.get('logged'):g} ({sr.get('header')})" if sr else "–"
                if sr and sr.get("pings"):
                    srs += f" +{sr['pings']:g} pings"
                sps = f"{sp.get('logged'):g}" if sp else "–"
                if sp and sp.get("pings"):
                    sps += f" +{sp['pings']:g} pings"
                lines.append(
                    f"| {sc} | {c} | {f0(r)} | {f0(p)} | "
                    f"{'–' if r != r or p != p or not p else f'{r / p:.2f}'} | "
                    f"{stat(sc, c, rt, 'p99'):.1f} | {stat(psc, c, pt, 'p99'):.1f} | "
                    f"{f0(stat(sc, c, rt, 'cpu_us'))} | {f0(stat(psc, c, pt, 'cpu_us'))} | "
                    f"{srs} / {sps} | {bad(sc, c, rt)} / {bad(psc, c, pt)} |")
        lines.append("")
    if all(m in meta["modes"] for m in MODES):
        lines += ["## Relata as shipped (auto) against the peer with force_custom_plan", "",
                  "(From the two phases above, so not interleaved with each other.)", "",
                  "| scenario | conns | Relata (auto) req/s | peer (force_custom_plan) req/s "
                  "| Relata ÷ peer |", "|---|---:|---:|---:|---:|"]
        for sc in scenarios:
            psc = "C2" if sc == "C2s" else sc
            for c in meta["conns"]:
                r, p = stat(sc, c, "relata", "rps"), stat(psc, c, "peer-custom", "rps")
                lines.append(f"| {sc} | {c} | {f0(r)} | {f0(p)} | "
                             f"{'–' if r != r or p != p or not p else f'{r / p:.2f}'} |")
        lines.append("")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-peer", help="fetch, patch and build realworld-axum-sqlx")
    b.add_argument("--src", default=PEER_SRC,
                   help="a git repository of launchbadge/realworld-axum-sqlx (URL or path; "
                        "CONDUIT_PEER_GIT)")
    r = sub.add_parser("run", help="seed, check and measure both servers")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--duration", type=int, default=5, help="seconds per measured wrk run")
    r.add_argument("--warmup", type=int, default=1, help="seconds of discarded warm-up per run")
    r.add_argument("--conns", default="16,64")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--only", default=",".join(SCENARIOS),
                   help="scenarios (C1,C2,C2s,C3,C4,C5,C6)")
    r.add_argument("--modes", default=",".join(MODES),
                   help="phases: auto (PostgreSQL's default plan cache), force_custom_plan, "
                        "sqlite (Relata alone on a SQLite file)")
    r.add_argument("--seed-args", default="", help="extra seed.py flags, e.g. '--users 30'")
    r.add_argument("--count-requests", type=int, default=20,
                   help="sequential requests per scenario for the statement count")
    r.add_argument("--relata-bin", default=None,
                   help="default: $CARGO_TARGET_DIR/release/relata (built unless --no-build)")
    r.add_argument("--peer-bin", default=PEER_BIN)
    r.add_argument("--no-build", action="store_true")
    r.add_argument("--label", default="")
    args = ap.parse_args()
    if args.cmd == "build-peer":
        build_peer(args)
    else:
        args.conns = [int(c) for c in args.conns.split(",")]
        args.only = args.only.split(",")
        args.modes = args.modes.split(",")
        unknown = set(args.modes) - set(MODES) - {"sqlite"}
        if unknown:
            die(f"unknown modes {sorted(unknown)}")
        run(args)


if __name__ == "__main__":
    main()
