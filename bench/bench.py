#!/usr/bin/env python3
"""Relata's benchmark: see bench/README.md. Run through bench/run.sh.

Builds release, seeds a 10k-user and a 100k-user database per backend, starts `relata
serve` on both, and beside it on the 10k database a baseline build of another revision
(--baseline REV) and the node-fast peer (on both databases). Then measures every scenario with wrk
on each of them in interleaved rounds (so that the machine's noise falls on all of them
alike), the database floor with examples/floor_db, and writes a markdown table, the raw
figures and a target check to bench/results/.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "work")
LUA = os.path.join(BENCH, "lua")
PASSWORD = "relata-demo-password"
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# One token secret for every server of a run (and the floor's capture), so that a token
# from one is valid on all.
JWT_SECRET = "relata-bench-secret-0123456789abcdef0123456789"
PEER_DIR = os.environ.get(
    "BENCH_PEER_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "peers", "node-fast")))
if not os.path.isdir(PEER_DIR):
    PEER_DIR = "/work/shared/peers/node-fast"
PEER_HOME = os.environ.get("NODE_FAST_HOME",
                           os.path.join(os.path.expanduser("~"), ".cache", "relata-node-fast"))

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
ORDER = ["S1", "S2", "S3p1", "S3p50", "S4", "S5", "S6", "S7", "C1", "C2"]
GROWTH = ["S1", "S3p1", "S3p50", "S7", "C1", "C2"]
# The Conduit face (/api): its reads have no database floor of their own (floor_db replays
# /api/v1 reads), and the baseline and the peer do not serve /api.
CONDUIT = ["C1", "C2"]

# The targets measured on the 10k database besides the current build.
PORTS = {"current": 18181, "current-100k": 18182, "baseline": 18183, "node-fast": 18184,
         "floor": 18190}

# Issue 11's targets (checked at the end of every run).
TARGETS = {
    "peer": (["S1", "S2", "S3p1", "S3p50", "S4", "S5"], 1.5),
    "baseline_sqlite": (["S1", "S2", "S4"], 3.0),
    "floor_sqlite": (["S1", "S2", "S4"], 0.60),
    "baseline_postgres": (["S1", "S2", "S4"], 2.0),
    "cost": 1.2,
    "rss_mb": 100,
}


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
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def wait_http(port, proc=None, path="/api/v1/health", timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited with {proc.returncode}")
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


def db_exists(backend, size):
    if backend == "sqlite":
        return os.path.exists(f"{WORK}/relata-{size}.db")
    out = run(["psql", PG_ADMIN, "-Atc",
               f"SELECT 1 FROM pg_database WHERE datname = 'relata_bench_{size}'"]).stdout
    return out.strip() == "1"


def sql(backend, size, statement):
    """Runs one statement on a bench database; returns the first column of the first row."""
    if backend == "sqlite":
        conn = sqlite3.connect(f"{WORK}/relata-{size}.db", timeout=30)
        try:
            row = conn.execute(statement).fetchone()
            conn.commit()
            return row[0] if row else None
        finally:
            conn.close()
    out = run(["psql", db_url(backend, size), "-Atqc", statement]).stdout.strip()
    return out or None


def sql_rows(backend, size, statement):
    """The first column of every row of one query on a bench database."""
    if backend == "sqlite":
        conn = sqlite3.connect(f"{WORK}/relata-{size}.db", timeout=30)
        try:
            return [r[0] for r in conn.execute(statement).fetchall()]
        finally:
            conn.close()
    return run(["psql", db_url(backend, size), "-Atqc", statement]).stdout.split()


def seed(relata, backend, size):
    reset_db(backend, size)
    env = dict(os.environ, DATABASE_URL=db_url(backend, size))
    t = time.time()
    out = run([relata, "seed", *SEEDS[size], "--quiet"], env=env).stdout
    secs = time.time() - t
    log(f"seeded {backend} {size} in {secs:.1f}s: {out.splitlines()[0]}")
    result = {"seconds": round(secs, 1), "report": out.splitlines()[0],
              "when": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
    # Kept beside the databases, so that a run with --reuse can say what it reuses.
    seeds = seeds_seen()
    seeds[f"{backend}/{size}"] = result
    with open(os.path.join(WORK, "seeds.json"), "w") as f:
        json.dump(seeds, f, indent=1)
    return result


def seeds_seen():
    try:
        with open(os.path.join(WORK, "seeds.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def process_tree(root):
    """`root` and every process below it."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def cpu_seconds(pids):
    """User + system CPU seconds the processes `pids` have used so far (all threads)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """A server under test on one database: `relata serve` as shipped (default log level,
    to a file; no strict budget; default pool size), or the node-fast peer."""

    def __init__(self, name, cmd, backend, size, port, env_extra=None, url=None):
        self.name, self.port = name, port
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RELATA_") and k not in ("RUST_LOG", "DATABASE_URL")}
        env.update(DATABASE_URL=url or db_url(backend, size), RELATA_BIND=f"127.0.0.1:{port}",
                   RELATA_ACCESS_TTL_SECS="7200", RELATA_JWT_SECRET=JWT_SECRET,
                   **(env_extra or {}))
        self.logfile = open(f"{WORK}/serve-{backend}-{name}.log", "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.logfile, stderr=self.logfile,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_http(port, self.proc)
        self.http = Http(port)

    def pids(self):
        """The server's processes (node-fast's cluster has a worker per core)."""
        return process_tree(self.proc.pid)

    def reset_peak(self):
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass

    def cpu_seconds(self):
        """User + system CPU the server's processes have used so far (all threads). On a
        shared, noisy machine this is steadier than req/s: other work slows a request but
        hardly changes the CPU it costs. PostgreSQL's own backends are not counted."""
        return cpu_seconds(self.pids())

    def measure(self, run):
        """`run()`'s wrk result, with the server's peak RSS and CPU µs per request."""
        self.reset_peak()
        cpu = self.cpu_seconds()
        r = run()
        r["peak_kb"] = self.peak_kb()
        r["anon_kb"] = self.anon_kb()
        r["cpu_us_per_req"] = (self.cpu_seconds() - cpu) * 1e6 / max(1, r["requests"])
        return r

    def peak_kb(self):
        """Peak resident memory since the last reset, summed over the server's processes."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def anon_kb(self):
        """Anonymous memory (heap, stacks) now, summed over the server's processes: its
        own memory, apart from the file-backed pages of the database file it maps (SQLite's
        256 MiB `mmap_size`) and of its binary, which count in RSS too."""
        return sum(anon_kb(pid) for pid in self.pids())

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logfile.close()


def anon_kb(pid):
    """`Anonymous:` of /proc/PID/smaps_rollup (kB), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def login(http):
    body = json.dumps({"login": TOKEN_USER, "password": PASSWORD})
    status, _, raw = http.call("POST", "/api/v1/auth/login", body)
    if status != 200:
        raise RuntimeError(f"login answered {status}: {raw[:200]!r}")
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
        # API 1.1 (issue 12): the token user's feed with everything a Conduit-like client
        # shows; the seed makes every user follow a few others.
        "S7": ("GET", "/api/v1/feed?limit=20&include=author,tags&counts=favorites&viewer=true",
               "get", True),
        # The Conduit face, as a front-end calls it (`Authorization: Token …`).
        "C1": ("GET", "/api/articles?limit=20", "conduit", True),
        "C2": ("GET", "/api/articles/feed?limit=20", "conduit", True),
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
    if floor:
        # The HTTP floor answers `/<name>` with the real server's bytes.
        env["BENCH_POST_PATH"] = "/S5"
        env["BENCH_MIX_GET"], env["BENCH_MIX_POST"] = "/S2", "/S5"
        url = f"{base}/{name}"
    else:
        env["BENCH_MIX_GET"] = "/api/v1/posts?limit=20&include=author,comments.author"
        env["BENCH_MIX_POST"] = "/api/v1/posts"
        url = base + (path if method == "GET" else "/api/v1/posts")
    return wrk(url, script, conns, secs, env)


def floor_db(tools, url, sc, token, secs, tasks, sql_out=None):
    """The database floor of one scenario: {conns or "all": {...}}."""
    method, path, _, needs_token = sc
    cmd = [f"{tools}/floor_db", "--method", method, "--path", path, "--seconds", str(secs),
           "--tasks", ",".join(str(t) for t in tasks)]
    if needs_token:
        cmd += ["--token", token]
    if method == "POST":
        cmd += ["--body", POST_BODY]
    if sql_out:
        cmd += ["--sql-out", sql_out]
    done = subprocess.run(cmd, text=True, capture_output=True,
                          env=dict(os.environ, DATABASE_URL=url, RUST_LOG="error",
                                   RELATA_JWT_SECRET=JWT_SECRET))
    if done.returncode != 0:
        # One floor point lost is not worth the run's other figures: say why, go on.
        why = [l for l in done.stderr.splitlines() if l.strip() and not l.startswith(" ")]
        log(f"floor_db {method} {path} failed, point skipped: {' / '.join(why[:3])}")
        return {}
    out = done.stdout
    result = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if parts[0] == "floor_db":
            result[parts[1]] = {"workers": int(parts[2]), "sets_per_s": float(parts[5]),
                                "statements": int(parts[6]), "rows": int(parts[7])}
    return result


# ---------------------------------------------------------------------------------------
# Builds: the current tree, a baseline revision, the peer


def cargo_build(cwd, target, args, env_extra=None):
    env = dict(os.environ, CARGO_TARGET_DIR=target, **(env_extra or {}))
    subprocess.run(["cargo", "build", "--release", *args], cwd=cwd, env=env, check=True)


def build_current(target):
    # One build of the library, with the statement capture the floor needs: the server
    # then pays one task-local lookup per statement more than production's build, which
    # saves a second release build of the library (several minutes on 2 shared cores).
    log("cargo build --release --bins --examples --features bench-capture")
    cargo_build(ROOT, target, ["--bins", "--examples", "--features", "bench-capture"])


def build_baseline(rev, target, build=True):
    """Builds `relata` at `rev` in a git worktree under bench/work/ (with `build` false,
    only when it was never built); returns the binary."""
    full = run(["git", "-C", ROOT, "rev-parse", "--verify", f"{rev}^{{commit}}"]).stdout.strip()
    tree = os.path.join(WORK, f"baseline-{full[:9]}")
    if not os.path.exists(os.path.join(tree, ".git")):
        shutil.rmtree(tree, ignore_errors=True)
        run(["git", "-C", ROOT, "worktree", "prune"])
        run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, full])
    else:
        run(["git", "-C", tree, "checkout", "-q", "--detach", full])
    btarget = os.environ.get("BENCH_BASELINE_TARGET",
                             os.path.join(os.path.expanduser("~"), ".cache",
                                          "relata-baseline-target"))
    if not os.path.exists(btarget) and os.path.isdir(os.path.join(target, "release")):
        # Seeded from the current build's release directory: the dependencies are the same
        # crates, so only Relata itself compiles.
        log(f"seeding {btarget} from {target}/release")
        os.makedirs(btarget)
        run(["cp", "-a", os.path.join(target, "release"), btarget])
    # The worktree sits inside this repository, so cargo would also read this tree's
    # .cargo/config.toml (SQLite's build options); a revision without one of its own is
    # built as it was.
    own_config = os.path.exists(os.path.join(tree, ".cargo", "config.toml"))
    binary = os.path.join(btarget, "release", "relata")
    if build or not os.path.exists(binary):
        log(f"cargo build --release --bin relata at {full[:9]} (baseline, in {tree})")
        cargo_build(tree, btarget, ["--bin", "relata"],
                    None if own_config else {"LIBSQLITE3_FLAGS": ""})
    else:
        log(f"--no-build: the baseline as last built in {btarget}")
    known = [f[:-3] for f in os.listdir(os.path.join(tree, "src", "migration"))
             if re.match(r"m\d+_.*\.rs$", f)]
    return binary, full, known


def peer_installed():
    """node-fast with both of its drivers: better-sqlite3 (compiled) and postgres.js."""
    return os.path.exists(os.path.join(PEER_HOME, "node_modules", "better-sqlite3", "build",
                                       "Release", "better_sqlite3.node")) and \
        os.path.exists(os.path.join(PEER_HOME, "node_modules", "postgres", "package.json"))


def install_peer():
    if peer_installed():
        return
    log(f"installing node-fast into {PEER_HOME} ({PEER_DIR}/run.sh install)")
    if not os.path.exists(os.path.join(PEER_DIR, "run.sh")):
        sys.exit(f"node-fast is not at {PEER_DIR} (set BENCH_PEER_DIR, or pass --no-peer)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("node-fast needs Node 20 and npm (Debian: apt-get install nodejs npm), "
                 "or pass --no-peer")
    done = subprocess.run([os.path.join(PEER_DIR, "run.sh"), "install"],
                          env=dict(os.environ, NODE_FAST_HOME=PEER_HOME))
    if done.returncode != 0 or not peer_installed():
        sys.exit(f"node-fast could not be installed into {PEER_HOME} (its run.sh install "
                 f"exited {done.returncode}); pass --no-peer to run without it")


def check_peer(relata, backend):
    """node-fast's own check: same JSON as this build on S1-S5 (its own small database, on
    SQLite files or, for PostgreSQL, two databases it creates in BENCH_PG_URL's server)."""
    log(f"node-fast check.py on {backend} (same JSON on S1-S5?)")
    cmd = [sys.executable, os.path.join(PEER_DIR, "check.py"), relata]
    if backend == "postgres":
        cmd += ["--database-url", PG_ADMIN]
    out = subprocess.run(cmd, text=True, capture_output=True,
                         env=dict(os.environ, NODE_FAST_HOME=PEER_HOME))
    with open(os.path.join(WORK, f"peer-check-{backend}.log"), "w") as f:
        f.write(out.stdout + out.stderr)
    summary = [l for l in out.stdout.splitlines() if l.startswith("S1-S5")]
    result = {"ok": out.returncode == 0,
              "summary": summary[0] if summary else (out.stderr.strip().splitlines() or ["?"])[-1]}
    log(f"node-fast check on {backend}: {'ok' if result['ok'] else 'FAILED'}: {result['summary']}")
    return result


# ---------------------------------------------------------------------------------------
# Response bodies: saved per target, compared


def normalize_created(raw):
    """A POST's answer without what differs between two creations (id, timestamps, the
    random suffix of a post's slug: `keyset-pages-1a2b3c4d`, as node-fast's check.py)."""
    try:
        v = json.loads(raw)
    except ValueError:
        return raw
    for k in ("id", "created_at", "updated_at"):
        v.pop(k, None)
    if isinstance(v.get("slug"), str):
        v["slug"] = re.sub(r"(^|-)[a-z0-9]{8}$", "", v["slug"])
    return json.dumps(v, sort_keys=True)


def parsed_equal(a, b):
    """Same JSON, key order and cursor strings aside (node-fast's cursors are its own)."""
    def strip(v):
        if isinstance(v, dict):
            return {k: (x is None if k.endswith("next_cursor") else strip(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    try:
        return strip(json.loads(a)) == strip(json.loads(b))
    except ValueError:
        return False


def extra_fields(a, b):
    """The keys `a` has beyond `b` when it is `b` plus fields (every value of `b` equal in
    `a`, cursor strings aside); None otherwise."""
    extra = set()

    def walk(x, y):
        if isinstance(x, dict) and isinstance(y, dict):
            if not set(y) <= set(x):
                return False
            extra.update(set(x) - set(y))
            return all(k.endswith("next_cursor") and (x[k] is None) == (y[k] is None)
                       or walk(x[k], y[k]) for k in y)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(walk(p, q) for p, q in zip(x, y))
        return x == y
    try:
        return extra if walk(json.loads(a), json.loads(b)) else None
    except ValueError:
        return None


def save_bodies(backend, servers, scs_of, token, res):
    """Each scenario's answer from every target, before any measurement (GETs first, on all
    targets, then the POSTs, so that every target sees the same newest posts)."""
    root = os.path.join(WORK, f"bodies-{backend}")
    shutil.rmtree(root, ignore_errors=True)
    bodies = {}
    unsupported = res.setdefault("unsupported", {})
    for method_pass in ("GET", "POST"):
        for tname, srv in servers.items():
            os.makedirs(os.path.join(root, tname), exist_ok=True)
            for name, (method, path, _, needs) in scs_of[tname].items():
                if method != method_pass:
                    continue
                # A POST twice: an older schema's writer may succeed once only (a unique
                # column it does not fill).
                for _ in range(2 if method == "POST" else 1):
                    status, headers, raw = srv.http.call(
                        method, path, POST_BODY if method == "POST" else None,
                        token if needs else None)
                    if status >= 300:
                        break
                if status >= 300:
                    if tname == "current":
                        raise RuntimeError(f"{name}: {method} {path} answered {status}: "
                                           f"{raw[:300]!r}")
                    why = f"answers {status} on this schema: {raw[:160].decode(errors='replace')}"
                    log(f"{tname} {name} {why}; not measured")
                    unsupported.setdefault(tname, {})[name] = why
                    if name == "S5":
                        unsupported[tname]["S6"] = why
                    continue
                with open(os.path.join(root, tname, f"{name}.json"), "wb") as f:
                    f.write(raw)
                bodies.setdefault(tname, {})[name] = raw
                qc = headers.get("X-Query-Count", headers.get("x-query-count"))
                res["statements"].setdefault(tname, {})[name] = int(qc) if qc else None
    for tname, st in res["statements"].items():
        if st.get("S2") is not None and st.get("S5") is not None:
            st["S6"] = 0.9 * st["S2"] + 0.1 * st["S5"]
    cmp = {}
    cur = bodies["current"]
    for other in [t for t in bodies if t != "current"]:
        for name, raw in cur.items():
            o = bodies[other].get(name)
            if o is None:
                same = "not compared (" + unsupported[other][name][:40] + "…)"
            elif name == "S5":
                same = "identical except id and timestamps" if \
                    normalize_created(raw) == normalize_created(o) else "DIFFERENT"
            elif raw == o:
                same = "byte-identical"
            elif parsed_equal(raw, o):
                same = "same JSON (key order or cursor strings differ)"
            elif extra_fields(raw, o) is not None:
                same = "same JSON plus fields the other lacks: " + ", ".join(
                    sorted(extra_fields(raw, o)))
            else:
                same = "DIFFERENT"
            cmp.setdefault(other, {})[name] = same
    res["bodies"] = cmp
    for other, by_name in cmp.items():
        log(f"bodies {backend} current vs {other}: "
            + ", ".join(f"{n} {v}" for n, v in by_name.items()))
    return os.path.join(root, "current")


# ---------------------------------------------------------------------------------------
# One backend


class HiddenMigrations:
    """While an older build starts on a database migrated further: hides the migrations it
    does not know from `seaql_migrations` (SeaORM refuses to start when an applied
    migration has no file), and puts them back once it runs. The newer tables and columns
    stay; what the older build cannot do on them (a write missing a new NOT NULL column)
    shows up as that scenario not being measured for it."""

    def __init__(self, backend, size, known):
        self.backend, self.size, self.known = backend, size, set(known)

    def __enter__(self):
        applied = sql_rows(self.backend, self.size, "SELECT version FROM seaql_migrations")
        self.hidden = [v for v in applied if v not in self.known]
        if self.hidden:
            names = ", ".join(f"'{v}'" for v in self.hidden)
            log(f"hiding migrations {names} from the baseline while it starts")
            sql(self.backend, self.size, "DROP TABLE IF EXISTS bench_hidden_migrations")
            sql(self.backend, self.size, "CREATE TABLE bench_hidden_migrations AS SELECT * FROM "
                f"seaql_migrations WHERE version IN ({names})")
            sql(self.backend, self.size, f"DELETE FROM seaql_migrations WHERE version IN ({names})")
        return self

    def __exit__(self, *exc):
        if self.hidden:
            sql(self.backend, self.size,
                "INSERT INTO seaql_migrations SELECT * FROM bench_hidden_migrations")
            sql(self.backend, self.size, "DROP TABLE bench_hidden_migrations")


class Cleaner:
    """Removes the posts a write scenario created, so that every round (and every target)
    reads the same newest posts: S2 would otherwise read the benchmark's own comment-less
    posts after the first S5."""

    def __init__(self, backend, sizes):
        self.backend = backend
        self.last = {size: int(sql(backend, size, "SELECT COALESCE(MAX(id), 0) FROM posts"))
                     for size in sizes}

    def clean(self):
        for size, last in self.last.items():
            sql(self.backend, size, f"DELETE FROM posts WHERE id > {last}")


def bench_backend(args, bins, backend, results):
    log(f"=== {backend}")
    res = results.setdefault(backend, {"seed": {}, "runs": {}, "floor_http": {},
                                       "floor_db": {}, "statements": {}, "peak_kb": {},
                                       "bodies": {}})
    for size in ["10k", "100k"]:
        if args.reuse and db_exists(backend, size):
            log(f"reusing the {backend} {size} database")
            earlier = seeds_seen().get(f"{backend}/{size}")
            if earlier:
                res["seed"][size] = dict(earlier, reused=True)
        else:
            res["seed"][size] = seed(bins["current"], backend, size)
    cleaner = Cleaner(backend, ["10k", "100k"])
    cleaner.clean()
    servers, floor, big = {}, None, None
    try:
        servers["current"] = Server("current", [bins["current"], "serve"], backend, "10k",
                                    PORTS["current"])
        if bins.get("baseline"):
            with HiddenMigrations(backend, "10k", bins["baseline_migrations"]):
                servers["baseline"] = Server("baseline", [bins["baseline"], "serve"], backend,
                                             "10k", PORTS["baseline"])
        if args.peer:
            # On PostgreSQL: 2 processes with node-fast's default pool of 10 connections each.
            servers["node-fast"] = Server(
                "node-fast", [os.path.join(PEER_DIR, "run.sh"), "serve", "--bind",
                              f"127.0.0.1:{PORTS['node-fast']}", "--workers", "2"],
                backend, "10k", PORTS["node-fast"], {"NODE_FAST_HOME": PEER_HOME})
        names = [n for n in ORDER if not args.only_scenarios or n in args.only_scenarios]
        if any(n in GROWTH for n in names):
            big = Server("current-100k", [bins["current"], "serve"], backend, "100k",
                         PORTS["current-100k"])
            token_big = login(big.http)
            scs_big = scenarios(big.http)
        token = login(servers["current"].http)
        # Each target pages to its own deep cursor: cursors are bound to the list and to
        # their format, so another build's cursor may be refused (SPEC §5 "Cursors").
        scs_of = {tname: {n: sc for n, sc in scenarios(srv.http).items() if n in names}
                  for tname, srv in servers.items()}
        scs = scs_of["current"]
        bodies = save_bodies(backend, servers, scs_of, token, res)
        cleaner.clean()
        if args.http_floor:
            floor = subprocess.Popen([f"{bins['tools']}/floor_http",
                                      f"127.0.0.1:{PORTS['floor']}", bodies],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(PORTS["floor"], floor, "/S2")
        os.makedirs(os.path.join(WORK, "sql"), exist_ok=True)
        targets = list(servers)
        for rnd in range(args.rounds):
            log(f"{backend} round {rnd + 1}/{args.rounds} (load {loadavg()})")
            # A different order each round: no target always runs right after a write.
            order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
            for name in names:
                sc = scs[name]
                for conns in args.conns:
                    key = f"{name}/{conns}"
                    for tname in order:
                        if name in res["unsupported"].get(tname, {}):
                            continue
                        srv = servers[tname]
                        r = srv.measure(lambda: wrk_scenario(srv.http.base, name,
                                                             scs_of[tname][name], conns,
                                                             args.duration, token))
                        res["runs"].setdefault(tname, {}).setdefault(key, []).append(r)
                    if floor:
                        f = wrk_scenario(f"http://127.0.0.1:{PORTS['floor']}", name, sc, conns,
                                         args.duration, token, floor=True)
                        res["floor_http"].setdefault(key, []).append(f)
                    if name in GROWTH:
                        g = big.measure(lambda: wrk_scenario(big.http.base, name,
                                                             scs_big[name], conns,
                                                             args.duration, token_big))
                        res["runs"].setdefault("current-100k", {}).setdefault(key, []).append(g)
                if sc[0] != "GET":
                    cleaner.clean()
                if name != "S6" and name not in CONDUIT and args.floor:
                    sql_out = os.path.join(WORK, "sql", f"{backend}-{name}.sql") if rnd == 0 else None
                    d = floor_db(bins["tools"], db_url(backend, "10k"), sc, token, args.duration,
                                 args.conns, sql_out)
                    for label, v in d.items():
                        for conns in (args.conns if label == "all" else [int(label)]):
                            res["floor_db"].setdefault(f"{name}/{conns}", []).append(v)
                    if sc[0] != "GET":
                        cleaner.clean()
    finally:
        if floor:
            floor.terminate()
            floor.wait()
        for s in list(servers.values()) + [big]:
            if s:
                s.stop()
        try:
            cleaner.clean()
        except Exception as e:  # the run's figures matter more than the tidy-up
            log(f"cleaning up the benchmark's posts failed: {e}")


# ---------------------------------------------------------------------------------------
# Summaries, tables, the target check


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def summarize(results):
    """Medians over rounds per target, and the floors."""
    out = {}
    for backend, res in results.items():
        rows = {}
        for tname, points in res["runs"].items():
            for key, runs in points.items():
                name, conns = key.split("/")
                rows.setdefault(key, {"scenario": name, "conns": int(conns)})[tname] = {
                    "rps": med([r["rps"] for r in runs]),
                    "rps_runs": [round(r["rps"]) for r in runs],
                    "p50_ms": med([r["p50_us"] for r in runs]) / 1000,
                    "p99_ms": med([r["p99_us"] for r in runs]) / 1000,
                    "errors": sum(r["errors"] for r in runs),
                    "requests": sum(r["requests"] for r in runs),
                    "peak_mb": max(r.get("peak_kb", 0) for r in runs) / 1024,
                    "anon_mb": max(r.get("anon_kb", 0) for r in runs) / 1024,
                    "cpu_us": med([r["cpu_us_per_req"] for r in runs
                                   if "cpu_us_per_req" in r]),
                }
        for key, row in rows.items():
            name, conns = row["scenario"], row["conns"]
            if name == "S6":
                # 90 % S2 + 10 % S5: time per request adds up.
                a = med([v["sets_per_s"] for v in res["floor_db"].get(f"S2/{conns}", [])])
                b = med([v["sets_per_s"] for v in res["floor_db"].get(f"S5/{conns}", [])])
                row["floor_db"] = 1 / (0.9 / a + 0.1 / b) if a and b else float("nan")
            else:
                row["floor_db"] = med([v["sets_per_s"] for v in res["floor_db"].get(key, [])])
            row["floor_http"] = med([r["rps"] for r in res["floor_http"].get(key, [])])
            row["statements"] = res["statements"].get("current", {}).get(name)
        out[backend] = rows
    return out


def fmt_rps(t):
    return f"{t['rps']:.0f}" if t else "–"


def fmt(value, spec):
    """`value` formatted, or a dash when it was not measured (None or NaN)."""
    return "–" if value is None or value != value else format(value, spec)


def markdown(summary, results, args, meta):
    lines = [f"# Relata benchmark, {meta['date']}", "",
             f"Machine: {meta['machine']}. Load average at start {meta['load_start']}, at end "
             f"{meta['load_end']}. Rounds: {args.rounds} × {args.duration}s per point "
             f"(medians over rounds). wrk -t2, keep-alive. Current build: {meta['current']}. "
             f"Baseline: {meta.get('baseline') or 'none'}. Total time {meta['total_s']:.0f}s.",
             ""]
    for backend, pc in meta.get("peer_check", {}).items():
        lines += [f"node-fast `check.py` against this build on {backend}: "
                  f"{'ok' if pc['ok'] else 'FAILED'} ({pc['summary']}).", ""]
    for backend, rows in summary.items():
        res = results[backend]
        lines += [f"## {backend}", ""]
        for size, s in res["seed"].items():
            when = f" (reused: seeded {s.get('when', 'earlier')})" if s.get("reused") else ""
            lines.append(f"- seed {size}: {s['seconds']}s — {s['report']}{when}")
        for other, why in res.get("unsupported", {}).items():
            for name, text in why.items():
                lines.append(f"- {other} {name}: not measured, it {text}")
        for other, by_name in res.get("bodies", {}).items():
            lines.append(f"- response bodies, current vs {other}: " +
                         "; ".join(f"{n} {v}" for n, v in by_name.items()))
        lines += ["",
                  "| scenario | conns | req/s | p50 ms | p99 ms | stmts | errors | peak RSS MB "
                  "| anon MB | CPU µs/req | baseline req/s | × baseline | baseline p99 ms "
                  "| baseline CPU µs/req | CPU ÷ baseline | node-fast req/s "
                  "| × node-fast | node-fast CPU µs/req | floor sets/s | of floor |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
                  "|---:|---:|---:|---:|---:|"]
        for name in ORDER:
            for conns in args.conns:
                row = rows.get(f"{name}/{conns}")
                if not row or "current" not in row:
                    continue
                c, b, p = row["current"], row.get("baseline"), row.get("node-fast")
                st = row["statements"]
                st = f"{st:g}" if st is not None else "?"
                lines.append(
                    f"| {name} | {conns} | {c['rps']:.0f} | {c['p50_ms']:.2f} | "
                    f"{c['p99_ms']:.2f} | {st} | {c['errors']} | {c['peak_mb']:.0f} | "
                    f"{c['anon_mb']:.0f} | {fmt(c['cpu_us'], '.0f')} | "
                    f"{fmt_rps(b)} | {fmt(ratio(c['rps'], b['rps']) if b else None, '.2f')} | "
                    f"{fmt(b['p99_ms'] if b else None, '.2f')} | "
                    f"{fmt(b['cpu_us'] if b else None, '.0f')} | "
                    f"{fmt(ratio(c['cpu_us'], b['cpu_us']) if b else None, '.2f')} | "
                    f"{fmt_rps(p)} | "
                    f"{fmt(ratio(c['rps'], p['rps']) if p else None, '.2f')} | "
                    f"{fmt(p['cpu_us'] if p else None, '.0f')} | "
                    f"{fmt(row['floor_db'], '.0f')} | "
                    f"{fmt(ratio(c['rps'], row['floor_db']), '.0%')} |")
        others = [t for t in ("baseline", "node-fast") if any(t in r for r in rows.values())]
        if others:
            lines += ["", "The other targets on their own (errors, peak RSS):", "",
                      "| target | scenario | conns | errors | peak RSS MB | p50 ms |",
                      "|---|---|---:|---:|---:|---:|"]
            for t in others:
                for name in ORDER:
                    for conns in args.conns:
                        x = rows.get(f"{name}/{conns}", {}).get(t)
                        if x:
                            lines.append(f"| {t} | {name} | {conns} | {x['errors']} | "
                                         f"{x['peak_mb']:.0f} | {x['p50_ms']:.2f} |")
        if any(r.get("floor_http") == r.get("floor_http") for r in rows.values()):
            lines += ["", "HTTP floor (bare axum answering the saved bytes), req/s: " +
                      ", ".join(f"{k} {r['floor_http']:.0f}" for k, r in rows.items()
                                if r.get("floor_http") == r.get("floor_http"))]
        lines += ["", "Cost growth (cost ratio = req/s of the cheaper case ÷ req/s of the "
                  "other; target ≤ 1.2):", "",
                  "| scenario | conns | 10k users req/s | 100k users req/s | 100k/10k cost "
                  "| CPU µs/req 10k | CPU µs/req 100k | errors (100k) | peak RSS MB (100k) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in GROWTH:
            for conns in args.conns:
                row = rows.get(f"{name}/{conns}", {})
                c, g = row.get("current"), row.get("current-100k")
                if c and g:
                    lines.append(f"| {name} | {conns} | {c['rps']:.0f} | {g['rps']:.0f} | "
                                 f"{ratio(c['rps'], g['rps']):.2f} | {fmt(c['cpu_us'], '.0f')} | "
                                 f"{fmt(g['cpu_us'], '.0f')} | {g['errors']} | "
                                 f"{g['peak_mb']:.0f} |")
        lines += ["", "| database | conns | page 1 req/s | page 50 req/s | page 50/page 1 cost |",
                  "|---|---:|---:|---:|---:|"]
        for conns in args.conns:
            a, b = rows.get(f"S3p1/{conns}", {}), rows.get(f"S3p50/{conns}", {})
            for label, t in (("10k users", "current"), ("100k users", "current-100k")):
                if t in a and t in b:
                    lines.append(f"| {label} | {conns} | {a[t]['rps']:.0f} | {b[t]['rps']:.0f} | "
                                 f"{ratio(a[t]['rps'], b[t]['rps']):.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def target_checks(summary, args):
    """Issue 11's targets against this run: (target, backend, what, value, goal, status)."""
    checks = []

    def at_least(target, backend, what, value, goal, fmt="{:.2f}×"):
        if value != value:  # NaN: not measured
            checks.append((target, backend, what, "–", f"≥ {fmt.format(goal)}", "not measured"))
            return
        status = "met" if value >= goal else f"missed by {1 - value / goal:.0%}" + \
            f" (needs ×{goal / value:.2f} more)"
        checks.append((target, backend, what, fmt.format(value), f"≥ {fmt.format(goal)}",
                       status))

    def at_most(target, backend, what, value, goal, fmt):
        if value != value:
            checks.append((target, backend, what, "–", f"≤ {fmt.format(goal)}", "not measured"))
            return
        status = "met" if value <= goal else f"missed by {value / goal - 1:.0%}" \
            if goal else f"missed ({fmt.format(value)})"
        checks.append((target, backend, what, fmt.format(value), f"≤ {fmt.format(goal)}",
                       status))

    def rps(row, t):
        """req/s of a target at a point; NaN when not measured or when it had errors (a
        failing server's req/s is no yardstick)."""
        if not row or t not in row or (t not in ("current", "current-100k")
                                        and row[t]["errors"]):
            return float("nan")
        return row[t]["rps"]

    for backend, rows in summary.items():
        for conns in args.conns:
            get = lambda n: rows.get(f"{n}/{conns}")  # noqa: E731
            if args.peer:  # issue 11 (SQLite), issue 25 (PostgreSQL): ×1.5 on both
                names, goal = TARGETS["peer"]
                for n in names:
                    at_least("vs node-fast", backend, f"{n} @{conns}",
                             ratio(rps(get(n), "current"), rps(get(n), "node-fast")), goal)
            if backend == "sqlite":
                names, goal = TARGETS["floor_sqlite"]
                for n in names:
                    row = get(n)
                    at_least("of C floor", backend, f"{n} @{conns}",
                             ratio(rps(row, "current"), row["floor_db"] if row else 0), goal,
                             "{:.0%}")
            names, goal = TARGETS[f"baseline_{backend}"]
            for n in names:
                at_least("vs baseline", backend, f"{n} @{conns}",
                         ratio(rps(get(n), "current"), rps(get(n), "baseline")), goal)
        errors = sum(r["current"]["errors"] + r.get("current-100k", {}).get("errors", 0)
                     for r in rows.values() if "current" in r)
        at_most("errors", backend, "all scenarios, 10k and 100k", errors, 0, "{:d}")
        for conns in args.conns:
            for n in GROWTH:
                row = rows.get(f"{n}/{conns}")
                at_most("cost 100k/10k", backend, f"{n} @{conns}",
                        ratio(rps(row, "current"), rps(row, "current-100k")), TARGETS["cost"],
                        "{:.2f}")
            # Issue 25: Conduit's list costs about what its feed does, now that
            # `articlesCount` reads counters instead of counting every post.
            c1, c2 = rows.get(f"C1/{conns}"), rows.get(f"C2/{conns}")
            for t, label in (("current", "10k"), ("current-100k", "100k")):
                if c1 and c2 and t in c1 and t in c2:
                    at_most("C1 CPU ÷ C2 CPU", backend, f"{label} @{conns}",
                            ratio(c1[t]["cpu_us"], c2[t]["cpu_us"]), TARGETS["cost"], "{:.2f}")
            for t, label in (("current", "10k"), ("current-100k", "100k")):
                at_most("cost page 50/1", backend, f"{label} @{conns}",
                        ratio(rps(rows.get(f"S3p1/{conns}"), t),
                              rps(rows.get(f"S3p50/{conns}"), t)), TARGETS["cost"], "{:.2f}")
        big = max(args.conns)
        peak = max((r[t]["peak_mb"] for k, r in rows.items() if r["conns"] == big
                    for t in ("current", "current-100k") if t in r), default=float("nan"))
        at_most("peak RSS", backend, f"@{big}, highest scenario", peak, TARGETS["rss_mb"],
                "{:.0f} MB")
        for name in ORDER:
            row = rows.get(f"{name}/{big}")
            if row and "current" in row and "baseline" in row:
                at_most("p99 vs baseline", backend, f"{name} @{big}", row["current"]["p99_ms"],
                        row["baseline"]["p99_ms"], "{:.1f} ms")
    return checks


def check_table(checks):
    lines = ["## Target check", "",
             "| target | backend | point | measured | goal | status |",
             "|---|---|---|---:|---:|---|"]
    lines += [f"| {t} | {b} | {w} | {v} | {g} | {s} |" for t, b, w, v, g, s in checks]
    met = sum(1 for c in checks if c[5] == "met")
    lines += ["", f"{met} of {len(checks)} checks met.", ""]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 round instead of 3")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--conns", default="16,64")
    ap.add_argument("--baseline", metavar="REV", default=None,
                    help="also build and measure this revision, interleaved, on the same "
                         "databases (issue 11's baseline is 81261a9)")
    ap.add_argument("--no-peer", dest="peer", action="store_false",
                    help="leave out node-fast (measured on both databases by default)")
    ap.add_argument("--no-peer-check", dest="peer_check", action="store_false",
                    help="skip node-fast's check.py")
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="leave out the database floor")
    ap.add_argument("--http-floor", action="store_true",
                    help="also measure the HTTP floor (examples/floor_http)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse databases seeded by an earlier run")
    ap.add_argument("--only", dest="only_scenarios", default=None,
                    help="comma-separated scenarios (S1,S2,S3p1,S3p50,S4,S5,S6,S7,C1,C2)")
    ap.add_argument("--label", default="", help="added to the result file names")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or 2
    args.conns = [int(c) for c in args.conns.split(",")]
    if args.only_scenarios:
        args.only_scenarios = args.only_scenarios.split(",")
    backends = args.backends.split(",")
    started = time.time()
    head = run(["git", "-C", ROOT, "rev-parse", "--short=9", "HEAD"]).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load_start": loadavg(), "current": head + (" (with local changes)" if dirty else ""),
            "machine": f"{os.cpu_count()} cores (shared with other users), "
                       f"{platform.machine()}, Linux {platform.release()}"}
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    os.makedirs(WORK, exist_ok=True)
    if not args.no_build:
        build_current(target)
    bins = {"current": os.path.join(target, "release", "relata"),
            "tools": os.path.join(target, "release", "examples")}
    if args.baseline:
        bins["baseline"], full, bins["baseline_migrations"] = build_baseline(
            args.baseline, target, build=not args.no_build)
        meta["baseline"] = full[:9]
    if args.peer:
        install_peer()
        if args.peer_check:
            meta["peer_check"] = {b: check_peer(bins["current"], b) for b in backends}
    results = {}
    for backend in backends:
        bench_backend(args, bins, backend, results)
    meta["load_end"] = loadavg()
    meta["total_s"] = time.time() - started
    summary = summarize(results)
    checks = target_checks(summary, args)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = f"-{args.label}" if args.label else ""
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    with open(os.path.join(BENCH, "results", f"{stamp}{label}.json"), "w") as f:
        json.dump({"meta": meta, "args": vars(args), "raw": results, "summary": summary,
                   "checks": checks}, f, indent=1)
    md = markdown(summary, results, args, meta) + check_table(checks)
    # The same results as pictures, beside the report (bench/charts.py).
    import charts
    svgs = charts.write(summary, os.path.join(BENCH, "results", f"{stamp}{label}"))
    md += "\n## Charts\n\n" + "".join(f"![{os.path.basename(p)}]({os.path.basename(p)})\n\n" for p in svgs)
    with open(os.path.join(BENCH, "results", f"{stamp}{label}.md"), "w") as f:
        f.write(md)
    print(md)
    log(f"written bench/results/{stamp}{label}.md and .json")
    bad = [f"{b} {t} {k}" for b, rows in summary.items() for k, r in rows.items()
           for t in ("current", "current-100k") if t in r and r[t]["errors"]]
    if bad:
        print("ERRORS in: " + ", ".join(bad), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
