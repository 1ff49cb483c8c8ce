#!/usr/bin/env python3
"""S2 with and without compression (issue 23), side by side on one server.

Starts the given `relata` on a database seeded here (2 000 users x 10 posts x 3 comments,
the main benchmark's small set), then runs wrk on S2
(`/api/v1/posts?limit=20&include=author,comments.author`) without `Accept-Encoding`, with
`gzip` and with `br`, interleaved for ROUNDS rounds, and prints the medians: requests per
second, and the bytes of one answer on the wire.

Usage: bench/compression.py --bin PATH [--backend sqlite|postgres] [--rounds 3] [--duration 5]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abuse  # noqa: E402  (its server, seeding and database helpers)

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")
S2 = "/api/v1/posts?limit=20&include=author,comments.author"


def wrk(port, encoding, conns, secs):
    env = dict(os.environ, BENCH_LUA=LUA)
    script = "get.lua"
    if encoding:
        env["BENCH_ENCODING"] = encoding
        script = "gzip.lua"
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "-s", f"{LUA}/{script}",
                          f"http://127.0.0.1:{port}{S2}"], env=env, text=True, capture_output=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(out.stdout + out.stderr)
    return float(m.group(1))


def wire_bytes(port, encoding):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", f"http://127.0.0.1:{port}{S2}"]
    if encoding:
        cmd[1:1] = ["-H", f"Accept-Encoding: {encoding}"]
    return int(subprocess.run(cmd, text=True, capture_output=True).stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=16)
    args = ap.parse_args()
    os.makedirs(abuse.WORK, exist_ok=True)
    url = abuse.fresh(args.backend, "compression")
    abuse.seed(args.bin, url, 2000, 10, 3)
    server = abuse.Server(args.bin, url, f"compression-{args.backend}")
    try:
        encodings = [None, "gzip", "br"]
        rates = {e: [] for e in encodings}
        for _ in range(args.rounds):
            for e in encodings:
                rates[e].append(wrk(server.port, e, args.conns, args.duration))
        print(f"\nS2 on {args.backend}, {args.conns} connections, medians of {args.rounds} rounds\n")
        print("| Accept-Encoding | req/s | bytes on the wire |")
        print("|---|---:|---:|")
        for e in encodings:
            print(f"| {e or '(none)'} | {statistics.median(rates[e]):.0f} | {wire_bytes(server.port, e)} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
