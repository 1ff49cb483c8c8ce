#!/usr/bin/env python3
"""Before/after comparison in one run: serve the same database with several variants (a
binary and environment each), then alternate short wrk runs between them, round after
round, and report median req/s and the ratio to the first variant.

  bench/ab.py --db sqlite://bench/work/relata-10k.db --scenarios S1,S2,S4 \\
      --variant base=/path/relata-base --variant new=/path/relata \\
      --variant pool4=/path/relata:RELATA_DB_MAX_CONNECTIONS=4

Scenario paths are those of bench.py (against the 10k database it seeds).
"""
import argparse, os, statistics, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--variant", action="append", required=True, help="name=binary[:K=V,...]")
    ap.add_argument("--scenarios", default="S1,S2,S4")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    args = ap.parse_args()
    servers = []
    try:
        for i, spec in enumerate(args.variant):
            name, rest = spec.split("=", 1)
            binary, _, envs = rest.partition(":")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("RELATA_") and k not in ("RUST_LOG", "DATABASE_URL")}
            port = 18281 + i
            env.update(DATABASE_URL=args.db, RELATA_BIND=f"127.0.0.1:{port}",
                       RELATA_ACCESS_TTL_SECS="7200")
            for kv in filter(None, envs.split(",")):
                k, v = kv.split("=", 1)
                env[k] = v
            log = open(f"{bench.WORK}/ab-{name}.log", "w")
            proc = bench.subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)
            servers.append((name, port, proc))
            bench.wait_http(port)
        http = bench.Http(servers[0][1])
        token = bench.login(http)
        scs = bench.scenarios(http)
        res = {}
        for rnd in range(args.rounds):
            bench.log(f"round {rnd + 1}/{args.rounds} (load {bench.loadavg()})")
            for sc in args.scenarios.split(","):
                for name, port, _ in servers:
                    r = bench.wrk_scenario(f"http://127.0.0.1:{port}", sc, scs[sc], args.conns,
                                           args.duration, token)
                    if r["errors"]:
                        print(f"{name} {sc}: {r['errors']} errors", file=sys.stderr)
                    res.setdefault((sc, name), []).append(r)
        print(f"\n| scenario | " + " | ".join(f"{n} req/s" for n, _, _ in servers) + " | "
              + " | ".join(f"{n}/{servers[0][0]}" for n, _, _ in servers[1:]) + " |")
        print("|---" * (2 * len(servers)) + "|")
        for sc in args.scenarios.split(","):
            meds = [statistics.median(r["rps"] for r in res[(sc, n)]) for n, _, _ in servers]
            print(f"| {sc} @{args.conns} | " + " | ".join(f"{m:.0f}" for m in meds) + " | "
                  + " | ".join(f"{m / meds[0]:.2f}" for m in meds[1:]) + " |")
    finally:
        for _, _, proc in servers:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
