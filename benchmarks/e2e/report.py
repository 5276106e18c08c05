#!/usr/bin/env python3
"""Summary of an end-to-end run (benchmarks/e2e/run.sh): per demo app a Markdown table with the
figures, the ratios against the run without the agent and the target verdicts, printed and
optionally written to a file; optionally the medians as a tab-separated file that
benchmarks/src/main/java/dev/revenant/bench/e2e/Chart.java draws as a PNG.

    python3 benchmarks/e2e/report.py benchmarks/results/e2e-<stamp>.json [--md out.md] [--chart-data out.tsv]

Python 3 standard library only."""

import argparse
import json
import statistics
import sys

NAMES = {"no-agent": "no agent", "commit-none": "agent, commit=none", "commit-pessimistic": "agent, commit=pessimistic",
         "unscheduled": "agent, commit=pessimistic, schedule=none",
         "no-preempt": "agent, commit=pessimistic, preempt=0"}
# configuration -> minimum throughput ratio against no agent in the same repetition
THROUGHPUT_TARGETS = {"commit-none": 0.9, "commit-pessimistic": 0.5}
PESSIMISTIC_P50_OVER_FSYNC = 1.5
# Below this many log bytes per request the agent evidently records nothing per request.
NOTHING_RECORDED = 8.0


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1, unit=""):
    if x is None:
        return "–"
    if digits == 0 or abs(x) >= 1000:
        return f"{x:,.0f}{unit}"
    return f"{x:,.{digits}f}{unit}"


def per_request(run, value):
    n = run["load"].get("total_requests") or run["load"]["requests"]
    return value / n if n else None


def log_bytes_per_request(run):
    if run["config"] == "no-agent":
        return 0.0
    return per_request(run, run["log_bytes_end"] - run["log_bytes_start"])


def verdict(ok):
    return "**met**" if ok else "**missed**"


APP_NAMES = {"kv": "KvServer (NIO selector, 1 thread)", "tkv": "ThreadedKvServer (a thread per connection, shared locked store)",
             "bank": "BankServer (a thread per connection, 4 pool workers, CAS balances)", "http": "HttpCounter (the JDK's HttpServer)",
             "line": "LineCounter (blocking java.net sockets, 1 connection at a time)"}
APP_MIX = {"kv": "50 % SET / 30 % GET / 20 % INCR", "tkv": "50 % SET / 30 % GET / 20 % INCR",
           "bank": "90 % XFER / 10 % AUDIT over 16 accounts", "http": "50 % POST /incr / 50 % GET /get, keep-alive",
           "line": "50 % INCR / 50 % GET, one client"}


def report(data):
    s = data["settings"]
    apps = s.get("apps", "kv").split()
    head = []
    fs = data["fs"]
    head.append(f"# End-to-end: the demo apps with and without the agent ({data['stamp']})")
    head.append("")
    head.append(f"{data['java']}; {data['cpus']} CPUs; {data['kernel']}; source `{data['git']}`. "
                f"Logs in `{fs['dir']}` on `{fs['device']}` ({fs['type']}, mounted at `{fs['mount']}`).")
    head.append("")
    text = "\n".join(head) + "\n"
    chart_rows = []
    for app in apps:
        runs = [r for r in data["runs"] if r.get("app", "kv") == app]
        if not runs:
            continue
        t, rows = report_app(data, app, runs)
        text += t
        chart_rows += rows
    return text, chart_rows


def report_app(data, app, runs):
    s = data["settings"]
    configs = [c for c in s["configs"].split() if any(r["config"] == c for r in runs)]
    by_config = {c: [r for r in runs if r["config"] == c] for c in configs}
    by_rep = {}
    for r in runs:
        by_rep.setdefault(r["rep"], {})[r["config"]] = r
    fsync = {p["rep"]: p["fsync"] for p in data["fsync"]}
    reps = sorted(by_rep)

    def ratios(config):
        out = []
        for rep in reps:
            row = by_rep[rep]
            if config in row and "no-agent" in row and row["no-agent"]["load"]["throughput"] > 0:
                out.append(row[config]["load"]["throughput"] / row["no-agent"]["load"]["throughput"])
        return out

    def p50_over_fsync(config):
        out = []
        for rep in reps:
            if config in by_rep[rep] and rep in fsync and fsync[rep]["median_us"] > 0:
                out.append(by_rep[rep][config]["load"]["p50_us"] / fsync[rep]["median_us"])
        return out

    lines = []
    add = lines.append
    clients = runs[0]["load"].get("clients", s["clients"])
    add(f"## {APP_NAMES.get(app, app)}")
    add("")
    add(f"Load: {clients} closed-loop client(s), {s['warmup_s']} s warm-up + {s['duration_s']} s measured, "
        f"{APP_MIX.get(app, '')}"
        + (f" over {s['keys']} keys, {s['value_size']}-byte values, {s['ttl_share']} % of SETs with a ttl" if app in ("kv", "tkv") else "")
        + f". Server heap `{s['server_heap']}` in every configuration"
        + (f", options `{s['server_opts']}`" if s["server_opts"] else "")
        + f". {len(reps)} repetitions, configurations interleaved (odd repetitions in the order above, even ones reversed).")
    add("")
    add("Medians over the repetitions. *vs no agent*: throughput divided by the no-agent throughput of the "
        "same repetition. *log B/req*: growth of the log directory's allocated size during the load, "
        "divided by every request the server answered (warm-up included). *CPU µs/req*: the server's "
        "user+system CPU during the load per request. *start-up*: spawn to the app's `listening on` line.")
    add("")
    add("| configuration | throughput (req/s) | vs no agent | p50 (µs) | p99 (µs) | p99.9 (µs) | log B/req | CPU µs/req | start-up (ms) | errors |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        rs = by_config[c]
        ratio = median(ratios(c)) if c != "no-agent" else None
        target = THROUGHPUT_TARGETS.get(c)
        ratio_txt = "1" if c == "no-agent" else fmt(ratio, 2, "×") + (f" (≥ {target}×)" if target else "")
        add(f"| {NAMES[c]} | {fmt(median(r['load']['throughput'] for r in rs), 0)} | {ratio_txt} "
            f"| {fmt(median(r['load']['p50_us'] for r in rs))} | {fmt(median(r['load']['p99_us'] for r in rs))} "
            f"| {fmt(median(r['load']['p999_us'] for r in rs))} | {fmt(median(log_bytes_per_request(r) for r in rs))} "
            f"| {fmt(median(per_request(r, r['server_cpu_s'] * 1e6) for r in rs))} "
            f"| {fmt(median(r['startup_ms'] for r in rs), 0)} | {sum(r['load']['errors'] for r in rs)} |")
    add("")
    f_med = median(p["median_us"] for p in fsync.values())
    f_p99 = median(p["p99_us"] for p in fsync.values())
    add(f"Raw `write(64 B)` + `force(false)` on a preallocated file in the log directory (FsyncProbe, "
        f"{s['fsync_iterations']} iterations per repetition): median {fmt(f_med)} µs, p99 {fmt(f_p99)} µs "
        f"(per repetition: {', '.join(fmt(fsync[r]['median_us']) for r in sorted(fsync))} µs).")
    add("")

    add("| target | measured (median; per repetition) | verdict |")
    add("|---|---|---|")
    for c, target in THROUGHPUT_TARGETS.items():
        rs = ratios(c)
        if rs:
            add(f"| {NAMES[c]}: throughput ≥ {target}× no agent | {fmt(median(rs), 2, '×')}; "
                f"{', '.join(fmt(x, 2) for x in rs)} | {verdict(median(rs) >= target)} |")
    po = p50_over_fsync("commit-pessimistic")
    if po:
        add(f"| {NAMES['commit-pessimistic']}: p50 ≤ {PESSIMISTIC_P50_OVER_FSYNC}× one raw fsync | "
            f"{fmt(median(po), 2, '×')}; {', '.join(fmt(x, 2) for x in po)} | {verdict(median(po) <= PESSIMISTIC_P50_OVER_FSYNC)} |")
    add("")

    notes = []
    agent_bpr = [log_bytes_per_request(r) for c in configs if c != "no-agent" for r in by_config[c]]
    if agent_bpr and median(agent_bpr) < NOTHING_RECORDED:
        notes.append(f"The agent wrote {fmt(median(agent_bpr), 2)} log bytes per request: it recorded (almost) "
                     "nothing per request, so this agent build neither records socket input nor holds replies "
                     "back. The agent rows show the cost of its instrumentation alone, and the pessimistic "
                     "figures say nothing about the output commit yet.")
    errors = sum(r["load"]["errors"] for r in runs)
    if errors:
        first = next((r["load"]["first_error"] for r in runs if r["load"].get("first_error")), "")
        notes.append(f"{errors} wrong or missing replies (first: {first}): the figures of those runs are suspect.")
    died = [f"rep {r['rep']} {r['config']}" for r in runs if not r["server_alive"]]
    if died:
        notes.append("The server died during the load in: " + ", ".join(died) + ".")
    noisy = [r for r in runs if r.get("server_stderr_lines")]
    if noisy:
        first = noisy[0].get("server_stderr_first", "")
        notes.append("The server wrote to stderr in " + ", ".join(
            f"rep {r['rep']} {r['config']} ({r['server_stderr_lines']} lines)" for r in noisy)
            + f"; the first line: `{first}` (all of it is kept in the work directory as "
            "server-<rep>-<configuration>.err).")
    if s["duration_s"] < 10 or len(reps) < 5:
        notes.append(f"A short setting ({len(reps)} repetitions of {s['duration_s']} s): treat the figures as a smoke test.")
    for n in notes:
        add(f"- {n}")
    if notes:
        add("")

    add("<details><summary>every run</summary>")
    add("")
    add("| rep | order | configuration | req/s | p50 (µs) | p99 (µs) | p99.9 (µs) | log B/req | CPU µs/req | start-up (ms) | load avg | errors |")
    add("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(runs, key=lambda r: (r["rep"], r["slot"])):
        l = r["load"]
        add(f"| {r['rep']} | {r['slot'] + 1} | {NAMES[r['config']]} | {fmt(l['throughput'], 0)} | {fmt(l['p50_us'])} "
            f"| {fmt(l['p99_us'])} | {fmt(l['p999_us'])} | {fmt(log_bytes_per_request(r))} "
            f"| {fmt(per_request(r, r['server_cpu_s'] * 1e6))} | {fmt(r['startup_ms'], 0)} | {r['load_avg']} | {l['errors']} |")
    add("")
    add("</details>")
    add("")
    rows = []
    for c in configs:
        rs = by_config[c]
        ratio = median(ratios(c)) if c != "no-agent" else 1.0
        rows.append((app, NAMES[c], median(r["load"]["throughput"] for r in rs), median(r["load"]["p50_us"] for r in rs),
                     median(r["load"]["p99_us"] for r in rs), ratio))
    return "\n".join(lines) + "\n", rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--md", help="also write the Markdown here")
    ap.add_argument("--chart-data", help="also write the medians here (tab-separated) for Chart.java")
    a = ap.parse_args()
    with open(a.json, encoding="utf-8") as f:
        data = json.load(f)
    text, rows = report(data)
    print(text)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(text)
    if a.chart_data:
        with open(a.chart_data, "w", encoding="utf-8") as f:
            f.write("app\tconfiguration\tthroughput\tp50_us\tp99_us\tratio\n")
            for r in rows:
                f.write("\t".join(str(x if x is not None else "") for x in r) + "\n")


if __name__ == "__main__":
    main()
