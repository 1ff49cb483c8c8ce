#!/usr/bin/env python3
"""Before/after comparison in one run: serve the same database with several variants (a
binary and environment each, or the node-fast peer), then alternate short wrk runs between
them, round after round, and report the median req/s, the median server CPU per request
(user + system time of its processes over the run, divided by its requests: steadier than
req/s on a shared machine), and the ratios to the first variant.

  bench/ab.py --db sqlite://bench/work/relata-10k.db --scenarios S1,S2,S4 \\
      --variant base=/path/relata-base --variant new=/path/relata \\
      --variant pool4=/path/relata:RELATA_DB_MAX_CONNECTIONS=4 --variant node-fast
  bench/ab.py --db postgres://…/relata_bench_10k --scenarios S3p1 \\
      --variant base=/path/relata-ee15796:DATABASE_URL=postgres://…/relata_base_10k …

Scenario paths are those of bench.py (against the 10k database it seeds); the peer is
installed as bench.py installs it.
"""
import argparse, os, statistics, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def start(i, spec, db):
    port = 18281 + i
    if spec == "node-fast":
        bench.install_peer()
        return bench.Server("node-fast", [os.path.join(bench.PEER_DIR, "run.sh"), "serve",
                                          "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                            "sqlite", "10k", port, {"NODE_FAST_HOME": bench.PEER_HOME}, url=db)
    name, rest = spec.split("=", 1)
    binary, _, envs = rest.partition(":")
    env = dict(kv.split("=", 1) for kv in filter(None, envs.split(",")))
    # A variant may name a database of its own (a baseline on a copy whose
    # seaql_migrations stops where that revision's did).
    url = env.pop("DATABASE_URL", db)
    return bench.Server(name, [binary, "serve"], "sqlite", "10k", port, env, url=url)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--variant", action="append", required=True,
                    help="name=binary[:K=V,...] or node-fast")
    ap.add_argument("--scenarios", default="S1,S2,S4")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    args = ap.parse_args()
    servers = []
    try:
        for i, spec in enumerate(args.variant):
            servers.append(start(i, spec, args.db))
        token = bench.login(servers[0].http)
        scs = bench.scenarios(servers[0].http)
        res = {}
        for rnd in range(args.rounds):
            bench.log(f"round {rnd + 1}/{args.rounds} (load {bench.loadavg()})")
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for sc in args.scenarios.split(","):
                for srv in order:
                    r = srv.measure(lambda: bench.wrk_scenario(
                        f"http://127.0.0.1:{srv.port}", sc, scs[sc], args.conns,
                        args.duration, token))
                    if r["errors"]:
                        print(f"{srv.name} {sc}: {r['errors']} errors", file=sys.stderr)
                    res.setdefault((sc, srv.name), []).append(r)
        names = [s.name for s in servers]
        print(f"\n{args.rounds} rounds of {args.duration}s at {args.conns} connections; "
              f"load at the end {bench.loadavg()}\n")
        print("| scenario | " + " | ".join(f"{n} req/s" for n in names) + " | "
              + " | ".join(f"{n} ÷ {names[0]}" for n in names[1:]) + " | "
              + " | ".join(f"{n} CPU µs/req" for n in names) + " | "
              + " | ".join(f"{n} peak RSS MB" for n in names) + " |")
        print("|---" * (1 + 3 * len(names) + len(names) - 1) + "|")
        for sc in args.scenarios.split(","):
            rps = [statistics.median(r["rps"] for r in res[(sc, n)]) for n in names]
            cpu = [statistics.median(r["cpu_us_per_req"] for r in res[(sc, n)]) for n in names]
            print(f"| {sc} | " + " | ".join(f"{m:.0f}" for m in rps) + " | "
                  + " | ".join(f"{m / rps[0]:.2f}" for m in rps[1:]) + " | "
                  + " | ".join(f"{c:.0f}" for c in cpu) + " | "
                  + " | ".join(f"{max(r['peak_kb'] for r in res[(sc, n)]) / 1024:.0f}"
                               for n in names) + " |")
    finally:
        for srv in servers:
            srv.stop()


if __name__ == "__main__":
    main()
