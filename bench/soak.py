#!/usr/bin/env python3
"""Memory over time: a `lab watch` re-grading N times (each save of the Dockerfile re-grades
the whole lab), its resident memory sampled every 100 re-grades, and the peak memory of one
`lab check` of the same workspace. Growth from the first sample to the last would be a leak.
Uses the engine DOCKER_HOST points at (scripts/test-engine.sh run python3 bench/soak.py);
removes what it made.

    bench/soak.py [N]      (default 1000 re-grades)
"""
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "lab"], cwd=REPO, check=True)
LAB = os.path.join(TARGET, "release", "lab")

tmp = tempfile.mkdtemp(prefix="lab-soak-")
env = dict(os.environ, NO_COLOR="1", LAB_LABS_DIR=os.path.join(REPO, "labs"),
           SRE_LAB_STATE_DIR=os.path.join(tmp, "state"), XDG_CACHE_HOME=os.path.join(tmp, "cache"))
ws = os.path.join(tmp, "ws")
subprocess.run([LAB, "start", "day11", ws], env=env, check=True, stdout=subprocess.DEVNULL)
good = open(os.path.join(REPO, "labs/day11/solution/Dockerfile")).read()
bad = good.replace("EXPOSE 5000\n", "")
with open(os.path.join(ws, "Dockerfile"), "w") as f:
    f.write(good)
subprocess.run(["docker", "build", "-q", "-t", "python-docker-app", "."], cwd=ws, check=True,
               stdout=subprocess.DEVNULL, env=dict(os.environ, DOCKER_BUILDKIT="0"))


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_of(cmd):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while p.poll() is None:
        try:
            peak = max(peak, status(p.pid, "VmHWM:"))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.005)
    return peak


check_peak = peak_of([LAB, "check", "day11", "--dir", ws, "--format", "json"])
watch = subprocess.Popen([LAB, "watch", "day11", "--dir", ws], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(l.strip()) for l in watch.stdout], daemon=True).start()


def wait_for(text, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if lines.get(timeout=0.2) == text:
                return
        except queue.Empty:
            pass
    raise SystemExit(f"lab watch never printed {text!r}")


samples = []
try:
    wait_for("dockerfile PASS")
    time.sleep(3)
    start = time.monotonic()
    for i in range(N):
        text, want = (bad, "dockerfile FAIL") if i % 2 == 0 else (good, "dockerfile PASS")
        with open(os.path.join(ws, "Dockerfile"), "w") as f:
            f.write(text)
        wait_for(want)
        if i % 100 == 0 or i == N - 1:
            samples.append((i, status(watch.pid, "VmRSS:"), status(watch.pid, "VmHWM:")))
    took = time.monotonic() - start
    print(f"lab check: peak resident memory {check_peak:.1f} MiB")
    print(f"lab watch: {N} re-grades in {took:.0f} s")
    for i, rss, hwm in samples:
        print(f"  after {i:>4} re-grades: resident {rss:.1f} MiB, peak so far {hwm:.1f} MiB")
    growth = samples[-1][1] - samples[0][1]
    print(f"  growth from the first sample to the last: {growth:+.1f} MiB")
finally:
    try:
        watch.stdin.write("q\n")
        watch.stdin.flush()
        watch.wait(timeout=10)
    except Exception:
        watch.kill()
    subprocess.run([LAB, "reset", "day11", "--dir", ws, "--yes"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(tmp, ignore_errors=True)
