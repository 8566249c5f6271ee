#!/usr/bin/python3
"""Python vs C API in the same process, CPU backend: echo round-trip latency and pipelined throughput, and
the overhead each sync Python call (send_sync / recv_sync) adds. Prints raw figures, one per line.

    PYTHONPATH=build/python /usr/bin/python3 python/bench/overhead.py [--n 50000] [--payload 64] [--rounds 3]

Goal (issue 7): <= 1 µs added per sync send/recv call. Each round runs C then Python on the same kernel;
the median over rounds is reported next to every round's figures.
"""
import argparse
import json
import statistics
import sys

from ringkernel import benchmark


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50000, help="round trips per latency run")
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--json", help="also write every round's results to this file")
    a = ap.parse_args()
    rounds = [benchmark.run(n=a.n, payload_size=a.payload, backend=a.backend) for _ in range(a.rounds)]
    for i, r in enumerate(rounds):
        pl, cl, pt, ct = r["python_latency"], r["c_latency"], r["python_throughput"], r["c_throughput"]
        print(f"round {i}: backend {r['backend']}, payload {r['payload']} B")
        for name, d in (("c", cl), ("python", pl)):
            print(f"  latency {name:6s} n={d['n']} min {d['min_us']:.3f} p50 {d['p50_us']:.3f} p90 {d['p90_us']:.3f} "
                  f"p99 {d['p99_us']:.3f} p99.9 {d['p999_us']:.3f} max {d['max_us']:.3f} mean {d['mean_us']:.3f} us")
        for name, d in (("c", ct), ("python", pt)):
            print(f"  throughput {name:6s} n={d['n']} window {d['window']}: {d['msgs_per_s'] / 1e6:.3f} M msg/s, "
                  f"{d['ns_per_msg']:.1f} ns/msg, {d['ns_per_call']:.1f} ns/call")
        o = r["overhead_ns_per_call"]
        print(f"  overhead per sync call: round trip p50 {o['roundtrip_p50']:.1f} ns, mean {o['roundtrip_mean']:.1f} ns, "
              f"pipelined {o['pipelined']:.1f} ns")
    med = {k: statistics.median(r["overhead_ns_per_call"][k] for r in rounds) for k in rounds[0]["overhead_ns_per_call"]}
    print("median overhead per sync call over rounds: " + ", ".join(f"{k} {v:.1f} ns" for k, v in med.items()))
    goal = max(med["roundtrip_p50"], med["pipelined"]) <= 1000.0
    print(f"goal <= 1000 ns per call (p50 round trip and pipelined): {'met' if goal else 'NOT met'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rounds, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
