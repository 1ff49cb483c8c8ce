#!/usr/bin/env python3
"""The abuse figures of issue 22, measured side by side for two builds (SPEC §6).

For each binary given (e.g. the revision before API 1.2 and the current one) and each
database, on databases seeded here, it measures what one careless or hostile client can
cost the others:

  big        GET /api/v1/users?limit=10&include=posts.comments.author&include_limit=100 on
             10 users x 100 posts x 100 comments: status, bytes, seconds, and the
             server's peak memory during it (anonymous RSS, sampled every 5 ms, and VmHWM)
  search     GET /api/v1/users?q=zzz (matches nothing) and ?q=user1 (matches) on 50 000
             users: median latency of 30 each
  slow       1 100 connections from 127.0.0.1 sending half a request line, then
             /api/v1/health from 127.0.0.2: median latency of 5
  length     a POST declaring Content-Length 10 MiB with a 10-byte body: status and seconds
  register   registrations from one address for 8 s, one worker: how many were 201
  flood      logins of a real user from 127.0.0.2 while 8 workers from 127.0.0.1 send
             logins for names that do not exist: median and max latency of the real
             user's logins, and the flood's statuses

Usage: bench/abuse.py --bin NAME=PATH [--bin NAME=PATH ...] [--backends sqlite,postgres]
Prints a Markdown table per scenario. Databases and logs go to bench/work/abuse/.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time

WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "abuse")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database(backend, name):
    if backend == "sqlite":
        return f"sqlite://{WORK}/{name}.db"
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/relata_abuse_{name}"


def fresh(backend, name):
    url = database(backend, name)
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{WORK}/{name}.db{suffix}")
            except FileNotFoundError:
                pass
    else:
        subprocess.run(["psql", "-q", PG_URL, "-c", f'DROP DATABASE IF EXISTS "relata_abuse_{name}" WITH (FORCE)'], check=True)
        subprocess.run(["psql", "-q", PG_URL, "-c", f'CREATE DATABASE "relata_abuse_{name}"'], check=True)
    return url


def seed(binary, url, users, posts, comments):
    subprocess.run([binary, "seed", "--users", str(users), "--posts-per-user", str(posts),
                    "--comments-per-post", str(comments), "--seed", "1"],
                   env={**os.environ, "DATABASE_URL": url}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Server:
    def __init__(self, binary, url, label):
        self.log = open(f"{WORK}/{label}.log", "w")
        env = {**os.environ, "DATABASE_URL": url, "RELATA_BIND": "127.0.0.1:0", "RELATA_LOG": "json",
               "RELATA_JWT_SECRET": "bench-secret-bench-secret-bench-secret", "RUST_LOG": "info"}
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        # The port it bound, from its start-up line; then its log goes on to the file.
        for line in self.proc.stderr:
            self.log.write(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "relata is listening" or entry.get("fields", {}).get("message") == "relata is listening":
                address = entry.get("address") or entry.get("fields", {}).get("address")
                self.port = int(address.rsplit(":", 1)[1])
                break
        else:
            raise RuntimeError(f"{binary} did not start: see {self.log.name}")
        threading.Thread(target=lambda: [self.log.write(l) for l in self.proc.stderr], daemon=True).start()

    def request(self, method, path, body=None, source="127.0.0.1", timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source, 0))
        headers = {"content-type": "application/json"} if body is not None else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def get(self, path, source="127.0.0.1"):
        return self.request("GET", path, source=source)

    def memory(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        kb = lambda k: int(fields.get(k, "0 kB").split()[0]) // 1024
        return kb("RssAnon"), kb("VmHWM")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def big(server):
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.memory()[0])
            time.sleep(0.005)

    before = server.memory()[0]
    t = threading.Thread(target=sample)
    t.start()
    started = time.monotonic()
    status, body = server.get("/api/v1/users?limit=10&include=posts.comments.author&include_limit=100")
    took = time.monotonic() - started
    done.set()
    t.join()
    return {"status": status, "MB": round(len(body) / 1e6, 2), "s": round(took, 2),
            "anon MB before": before, "anon MB peak": peak[0], "VmHWM MB": server.memory()[1]}


def search(server):
    out = {}
    for q in ("zzz", "user1"):
        times = []
        for _ in range(30):
            started = time.monotonic()
            status, _ = server.get(f"/api/v1/users?q={q}")
            times.append((time.monotonic() - started) * 1000)
            assert status == 200, status
        out[f"q={q} ms"] = round(statistics.median(times), 2)
    return out


def slow(server):
    held = []
    for _ in range(1100):
        s = socket.create_connection(("127.0.0.1", server.port))
        try:
            s.sendall(b"GET /api/v1/hea")
        except OSError:
            pass
        held.append(s)
    time.sleep(0.3)
    times = []
    for _ in range(5):
        started = time.monotonic()
        try:
            status, _ = server.request("GET", "/api/v1/health", source="127.0.0.2", timeout=30)
        except OSError:
            status = 0
        times.append((time.monotonic() - started) * 1000)
    for s in held:
        s.close()
    time.sleep(0.5)
    return {"health from 127.0.0.2, median ms": round(statistics.median(times), 1),
            "max ms": round(max(times), 1), "status": status}


def length(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /api/v1/auth/register HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
              b"Content-Length: 10485760\r\n\r\n{\"user\":1}")
    s.settimeout(60)
    started = time.monotonic()
    answer = b""
    try:
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    took = time.monotonic() - started
    s.close()
    status = answer.split(b" ")[1].decode() if answer.count(b" ") else "closed"
    return {"status": status, "s": round(took, 2)}


def register(server):
    created = 0
    refused = 0
    i = 0
    end = time.monotonic() + 8
    while time.monotonic() < end:
        i += 1
        status, _ = server.request("POST", "/api/v1/auth/register",
                                   {"username": f"spam{i}x{server.port}", "email": f"spam{i}x{server.port}@example.com",
                                    "password": "password123"})
        if status == 201:
            created += 1
        else:
            refused += 1
    return {"201 in 8 s": created, "refused": refused}


def flood(server):
    status, _ = server.request("POST", "/api/v1/auth/register",
                               {"username": "realuser", "email": "realuser@example.com", "password": "password123"},
                               source="127.0.0.2")
    stop = threading.Event()
    statuses = {}
    lock = threading.Lock()

    def worker(w):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                st, _ = server.request("POST", "/api/v1/auth/login", {"login": f"nobody{w}x{i}", "password": "password123"})
            except OSError:
                st = 0
            with lock:
                statuses[st] = statuses.get(st, 0) + 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1)
    times = []
    codes = []
    for _ in range(10):
        started = time.monotonic()
        st, _ = server.request("POST", "/api/v1/auth/login", {"login": "realuser", "password": "password123"}, source="127.0.0.2")
        times.append((time.monotonic() - started) * 1000)
        codes.append(st)
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    return {"real user median ms": round(statistics.median(times), 1), "max ms": round(max(times), 1),
            "real user statuses": ",".join(sorted({str(c) for c in codes})),
            "flood statuses": " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))}


def table(title, rows):
    print(f"\n### {title}\n")
    keys = []
    for _, r in rows:
        keys += [k for k in r if k not in keys]
    print("| build, database | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for label, r in rows:
        print(f"| {label} | " + " | ".join(str(r.get(k, "")) for k in keys) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH of a relata binary")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--only", default="big,search,slow,length,register,flood")
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    bins = [b.split("=", 1) for b in args.bin]
    only = args.only.split(",")
    results = {s: [] for s in only}
    for backend in args.backends.split(","):
        # Seeded once per backend with the first binary, then each binary migrates it.
        seeded = {}
        if "big" in only:
            seeded["big"] = fresh(backend, "big")
            seed(bins[0][1], seeded["big"], 10, 100, 100)
        if "search" in only:
            seeded["search"] = fresh(backend, "search")
            seed(bins[0][1], seeded["search"], 50000, 0, 0)
        for name, binary in bins:
            label = f"{name}, {backend}"
            for scenario in only:
                url = seeded.get(scenario) or fresh(backend, f"{scenario}_{name}")
                server = Server(binary, url, f"{scenario}-{name}-{backend}")
                try:
                    result = globals()[scenario](server)
                finally:
                    server.stop()
                results[scenario].append((label, result))
                print(f"done: {scenario} {label}: {json.dumps(result)}", flush=True)
    for scenario in only:
        table(scenario, results[scenario])


if __name__ == "__main__":
    main()
