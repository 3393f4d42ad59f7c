#!/usr/bin/env python3
"""Memory over time: a `lab watch` re-grading N times (each save of the Dockerfile re-grades
the whole lab), its resident memory sampled every 100 re-grades, and the peak memory of one
`lab check` of the same workspace. Growth from the first sample to the last would be a leak.
Uses the engine DOCKER_HOST points at (scripts/test-engine.sh run python3 bench/soak.py);
removes what it made.

    bench/soak.py [N]      (default 1000 re-grades)
"""
import subprocess
import sys
import time

from watchdriver import DOCKERFILE, Session

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_of(cmd, env):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while p.poll() is None:
        try:
            peak = max(peak, status(p.pid, "VmHWM:"))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.005)
    return peak


s = Session("lab-soak-")
bad = DOCKERFILE.replace("EXPOSE 5000\n", "")
samples = []
try:
    check_peak = peak_of([s.lab, "check", "day11", "--dir", s.ws, "--format", "json"], s.env)
    s.start_watch()
    s.wait_for("dockerfile PASS")
    time.sleep(3)
    start = time.monotonic()
    for i in range(N):
        text, want = (bad, "dockerfile FAIL") if i % 2 == 0 else (DOCKERFILE, "dockerfile PASS")
        s.write_dockerfile(text)
        s.wait_for(want)
        if i % 100 == 0 or i == N - 1:
            samples.append((i, status(s.watch.pid, "VmRSS:"), status(s.watch.pid, "VmHWM:")))
    took = time.monotonic() - start
    print(f"lab check: peak resident memory {check_peak:.1f} MiB")
    print(f"lab watch: {N} re-grades in {took:.0f} s")
    for i, rss, hwm in samples:
        print(f"  after {i:>4} re-grades: resident {rss:.1f} MiB, peak so far {hwm:.1f} MiB")
    growth = samples[-1][1] - samples[0][1]
    print(f"  growth from the first sample to the last: {growth:+.1f} MiB")
finally:
    s.close()
