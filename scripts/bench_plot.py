#!/usr/bin/python3
"""bench_plot.py BUILD_DIR: the standard `socp bench` scenarios against a local
socpd, the bridge relay, and a PNG of throughput and latency versus offered
load (python3-matplotlib).

Writes bench/results-latest.json and bench/bench.png. Key cache: seeded from
tests/fixtures (4 users), so no key generation is needed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USERS = 4
DURATION = "3"
RATES = [50, 100, 200, 300, 400, 600, 800, 1000]


def run_bench(socp, url, data, pid, extra):
    cmd = [socp, "bench", "--server", url, "--users", str(USERS), "--duration", DURATION,
           "--data-dir", data, "--json", "--quiet", "--server-pid", str(pid)] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        print("socp bench failed: %s %s" % (out.stdout[-300:], out.stderr[-300:]),
              file=sys.stderr)
        return None


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/cc")
    socp = os.path.join(build, "socp")
    tmp = tempfile.mkdtemp(prefix="socp_bench.")
    keys = os.path.join(tmp, "bench", "keys")
    os.makedirs(keys)
    fixtures = ["rsa4096_4p_a.pem", "rsa4096_4p_b.pem"]
    for i in range(USERS):
        shutil.copy(os.path.join(SRC, "tests/fixtures", fixtures[i % 2]),
                    os.path.join(keys, "user-%05d.pem" % i))
    data = os.path.join(tmp, "bench")
    srv = subprocess.Popen([os.path.join(build, "socpd"), "--port", "0", "--data-dir",
                            os.path.join(tmp, "srv"), "--plain-key", "--rate-limit", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    results = {"machine": {}, "scenarios": []}
    try:
        port = re.search(r"127\.0\.0\.1:(\d+)", srv.stdout.readline()).group(1)
        url = "ws://127.0.0.1:%s" % port
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        results["machine"] = {"nproc": os.cpu_count(), "cpu": cpu}
        for mode, extra in [("closed", []), ("e2e", ["--mode", "e2e"])]:
            r = run_bench(socp, url, data, srv.pid, extra)
            if r:
                results["scenarios"].append({"name": mode, **r})
                print("%-22s %7.1f msg/s  p50 %6.1f ms  p99 %6.1f ms  lost %d  ratio %.2f" % (
                    mode, r["throughput"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
                    r["lost"], r["ratio_to_bound"]))
        for rate in RATES:
            r = run_bench(socp, url, data, srv.pid,
                          ["--mode", "presigned", "--rate", str(rate)])
            if r:
                results["scenarios"].append({"name": "presigned@%d" % rate, **r})
                print("%-22s %7.1f msg/s  p50 %6.1f ms  p99 %6.1f ms  lost %d  bench %.1f%% of a"
                      " core per 1000 msg/s" % (
                          "presigned@%d" % rate, r["throughput"], r["latency_ms"]["p50"],
                          r["latency_ms"]["p99"], r["lost"], r["core_pct_per_1000_msg_s"]))
    finally:
        srv.terminate()
        srv.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    for transport in ["stdio", "zmq"]:
        out = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/py/bridge_relay.py"),
                              build, SRC, "--messages", "1000", "--transport", transport,
                              "--json"], capture_output=True, text=True, timeout=600)
        try:
            r = json.loads(out.stdout)
            results["scenarios"].append({"name": "bridge-relay-" + transport, **r})
            print("bridge relay %-9s %7.1f msg/s  lost %d  ratio %.2f (bound %.1f)  CPU ms/msg %s"
                  "  cpu_ratio %.2f" % (transport, r["throughput"], r["lost"], r["ratio"],
                                        r["bound"], r["cpu_ms_per_msg"], r["cpu_ratio"]))
        except json.JSONDecodeError:
            print("bridge relay over %s failed: %s" % (transport, out.stderr[-300:]),
                  file=sys.stderr)
    os.makedirs(os.path.join(SRC, "bench"), exist_ok=True)
    with open(os.path.join(SRC, "bench", "results-latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    pre = [s for s in results["scenarios"] if s["name"].startswith("presigned@")]
    if pre:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        x = [s["rate_offered"] for s in pre]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
        a1.plot(x, [s["throughput"] for s in pre], "o-", label="delivered")
        a1.plot(x, x, "--", color="grey", label="offered")
        a1.set_xlabel("offered load (msg/s)")
        a1.set_ylabel("throughput (msg/s)")
        a1.set_title("socpd, pre-signed DMs, %d users" % USERS)
        a1.legend()
        for p, style in [("p50", "o-"), ("p99", "s-"), ("p99_9", "^-")]:
            a2.plot(x, [s["latency_ms"][p] for s in pre], style, label=p)
        a2.set_xlabel("offered load (msg/s)")
        a2.set_ylabel("latency (ms)")
        a2.set_yscale("log")
        a2.set_title("latency vs offered load")
        a2.legend()
        fig.suptitle("%s, %d cores (shared machine)" % (results["machine"]["cpu"],
                                                        results["machine"]["nproc"]))
        fig.tight_layout()
        fig.savefig(os.path.join(SRC, "bench", "bench.png"), dpi=100)
        print("wrote bench/bench.png and bench/results-latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
