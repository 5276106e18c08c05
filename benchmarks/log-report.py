#!/usr/bin/env python3
"""Turns the JMH JSON of AppendBenchmark and GroupCommitBenchmark into a Markdown summary.

usage: log-report.py results/log-<date>.json
Standard library only. Missing benchmarks (a partial run) show as "-".
"""
import json
import sys

TARGET_MEDIAN_NS = 200.0
TARGET_SUSTAINED = 2_000_000.0
TARGET_GROUP_COMMIT = 8.0
IMPLS = ["ring", "perThread", "ringNoForce"]


def load(path):
    with open(path) as f:
        runs = json.load(f)
    out = {}
    rounds = {}
    for r in runs:
        cls, method = r["benchmark"].split(".")[-2:]
        params = r.get("params") or {}
        impl = params.get("impl", "")
        rnd = params.get("round")
        if rnd is not None:
            rounds.setdefault(int(rnd), {})[method] = r["primaryMetric"]
        out[(cls, method, impl)] = r["primaryMetric"]  # without rounds: the only (or last) result
    return out, rounds


def pct(m, p):
    if m is None:
        return None
    return (m.get("scorePercentiles") or {}).get(p)


def score(m):
    return None if m is None else m["score"]


def err(m):
    if m is None:
        return None
    try:
        e = float(m.get("scoreError"))
    except (TypeError, ValueError):
        return None
    return None if e != e else e  # JMH writes "NaN" when there was only one iteration


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:,.1f} ms"
    if v >= 1e4:
        return f"{v / 1e3:,.1f} µs"
    return f"{v:,.0f} ns"


def fmt_rate(v, e=None):
    if v is None:
        return "-"
    s = f"{v / 1e6:,.2f} M" if v >= 1e6 else (f"{v / 1e3:,.1f} k" if v >= 1e3 else f"{v:,.0f}")
    if e is not None:
        se = f"{e / 1e6:,.2f} M" if v >= 1e6 else (f"{e / 1e3:,.1f} k" if v >= 1e3 else f"{e:,.0f}")
        s += f" ± {se}"
    return s


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:,.2f}×"


def verdict(ok, missed):
    if ok is None:
        return "not measured"
    return "**met**" if ok else f"**missed** ({missed})"


def main(path):
    res, rounds = load(path)
    a = lambda method, impl: res.get(("AppendBenchmark", method, impl))
    GC = ["groupCommit01", "groupCommit04", "groupCommit16", "forcePerRecord01", "forcePerRecord16Sync"]
    if not rounds:
        rounds = {1: {m: res.get(("GroupCommitBenchmark", m, "")) for m in GC}}

    def g(method):
        """Mean score over the rounds (as a primaryMetric-like dict), None if never measured."""
        ms = [rounds[k].get(method) for k in sorted(rounds) if rounds[k].get(method) is not None]
        if not ms:
            return None
        return {"score": sum(m["score"] for m in ms) / len(ms), "scoreError": "NaN",
                "min": min(m["score"] for m in ms), "max": max(m["score"] for m in ms)}
    lines = []
    p = lines.append

    p("### Append: one record, 64-byte payload (104 bytes framed), producers back to back")
    p("")
    p("Latency from `SampleTime` (p50/p99/p99.9/max of single calls, saturated log); throughput from "
      "`Throughput` mode, records/s summed over producers (± = JMH 99.9% error over iterations). "
      "Advantage = how many times better the ring is than per-thread appenders (>1: ring better).")
    p("")
    p("| threads | metric | ring (LogWriter) | per-thread appenders | ring advantage | ring, force off (diagnostic) |")
    p("|---|---|---|---|---|---|")
    for t in (1, 4):
        lat = {i: a(f"latency{t}", i) for i in IMPLS}
        thr = {i: a(f"throughput{t}", i) for i in IMPLS}
        for label, key in (("p50", "50.0"), ("p99", "99.0"), ("p99.9", "99.9"), ("max", "100.0")):
            r, q, n = (pct(lat[i], key) for i in IMPLS)
            adv = ratio(q, r) if key == "50.0" else None
            p(f"| {t} | latency {label} | {fmt_ns(r)} | {fmt_ns(q)} | {fmt_ratio(adv) if key == '50.0' else ''} | {fmt_ns(n)} |")
        r, q, n = (score(lat[i]) for i in IMPLS)
        p(f"| {t} | latency mean | {fmt_ns(r)} | {fmt_ns(q)} | | {fmt_ns(n)} |")
        r, q, n = (score(thr[i]) for i in IMPLS)
        p(f"| {t} | **records/s** | {fmt_rate(r, err(thr['ring']))} | {fmt_rate(q, err(thr['perThread']))} "
          f"| {fmt_ratio(ratio(r, q))} | {fmt_rate(n, err(thr['ringNoForce']))} |")
    p("")

    p("### Group commit: append + awaitStable (durable records/s)")
    p("")
    names = {"groupCommit01": "LogWriter append + awaitStable, 1 thread",
             "groupCommit04": "LogWriter append + awaitStable, 4 threads",
             "groupCommit16": "LogWriter append + awaitStable, 16 threads",
             "forcePerRecord01": "write + force(false) per record, 1 thread",
             "forcePerRecord16Sync": "write + force(false) per record, 16 threads, `synchronized`"}
    ks = sorted(rounds)
    p("| variant | " + " | ".join(f"round {k}" for k in ks) + " | mean |")
    p("|---|" + "---|" * (len(ks) + 1))
    for m in GC:
        cells = [fmt_rate(score(rounds[k].get(m))) for k in ks]
        p(f"| {names[m]} | " + " | ".join(cells) + f" | **{fmt_rate(score(g(m)))}** |")
    for label, base in (("16 waiters ÷ 1-thread force per record", "forcePerRecord01"),
                        ("16 waiters ÷ 16-thread synchronized force per record", "forcePerRecord16Sync")):
        cells = [fmt_ratio(ratio(score(rounds[k].get("groupCommit16")), score(rounds[k].get(base)))) for k in ks]
        p(f"| ratio {label} | " + " | ".join(cells)
          + f" | **{fmt_ratio(ratio(score(g('groupCommit16')), score(g(base))))}** |")
    p("")
    p("Each round runs every variant in its own JVM, ring and baseline interleaved (round 2 in reverse "
      "order); the mean column is the mean of the rounds' scores, and the ratios there are ratios of means.")
    p("")
    f1 = g("forcePerRecord01")
    f16 = g("forcePerRecord16Sync")
    gc16 = score(g("groupCommit16"))
    r1 = ratio(gc16, score(f1))
    r16 = ratio(gc16, score(f16))

    p("### Targets")
    p("")
    p("| target | measured | verdict |")
    p("|---|---|---|")
    for t in (1, 4):
        med = pct(a(f"latency{t}", "ring"), "50.0")
        ok = None if med is None else med <= TARGET_MEDIAN_NS
        miss = "" if med is None else f"{med / TARGET_MEDIAN_NS:.1f}× the target"
        p(f"| append median ≤ 200 ns (ring, {t} thread{'s' if t > 1 else ''}) | {fmt_ns(med)} | {verdict(ok, miss)} |")
    for t in (1, 4):
        thr = score(a(f"throughput{t}", "ring"))
        ok = None if thr is None else thr >= TARGET_SUSTAINED
        miss = "" if thr is None else f"{(1 - thr / TARGET_SUSTAINED) * 100:.0f}% short"
        p(f"| sustained ≥ 2 M records/s (ring, {t} thread{'s' if t > 1 else ''}) | {fmt_rate(thr)} | {verdict(ok, miss)} |")
    for label, r in (("1 thread", r1), ("16 threads synchronized", r16)):
        ok = None if r is None else r >= TARGET_GROUP_COMMIT
        miss = "" if r is None else f"{(1 - r / TARGET_GROUP_COMMIT) * 100:.0f}% short"
        p(f"| group commit 16 waiters ≥ 8× one force per record ({label}) | {fmt_ratio(r)} | {verdict(ok, miss)} |")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: log-report.py <jmh-result.json>")
    main(sys.argv[1])
