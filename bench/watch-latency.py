#!/usr/bin/env python3
"""How fast `lab watch` answers: from saving a file, and from an engine event, to the new
verdict on its output. Drives a real `lab watch` through pipes (as a terminal would, one key per
line), edits the Dockerfile N times (breaking and fixing it), then tags and untags the image N
times, and prints latency percentiles. Uses the engine DOCKER_HOST points at (CI runs it in the
tests' own engine: scripts/test-engine.sh run python3 bench/watch-latency.py); it removes what
it made.

    bench/watch-latency.py [N]      (default 20 of each)
"""
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "lab"], cwd=REPO, check=True)
LAB = os.path.join(TARGET, "release", "lab")
IMAGE = "python-docker-app"
TAG = "localhost:5001/bench/python-docker-app:v1"

tmp = tempfile.mkdtemp(prefix="lab-watch-bench-")
env = dict(os.environ, NO_COLOR="1", LAB_LABS_DIR=os.path.join(REPO, "labs"),
           SRE_LAB_STATE_DIR=os.path.join(tmp, "state"), XDG_CACHE_HOME=os.path.join(tmp, "cache"))
ws = os.path.join(tmp, "ws")
subprocess.run([LAB, "start", "day11", ws], env=env, check=True, stdout=subprocess.DEVNULL)
dockerfile = open(os.path.join(REPO, "labs/day11/solution/Dockerfile")).read()
with open(os.path.join(ws, "Dockerfile"), "w") as f:
    f.write(dockerfile)
subprocess.run(["docker", "build", "-q", "-t", IMAGE, "."], cwd=ws, check=True,
               stdout=subprocess.DEVNULL, env=dict(os.environ, DOCKER_BUILDKIT="0"))

watch = subprocess.Popen([LAB, "watch", "day11", "--dir", ws], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put((time.monotonic(), l.rstrip("\n"))) for l in watch.stdout],
                 daemon=True).start()


def wait_for(text, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            t, line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line.strip() == text:
            return t
    raise SystemExit(f"lab watch never printed {text!r}")


def drain(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            lines.get(timeout=0.05)
        except queue.Empty:
            pass


def pcts(xs):
    xs = sorted(xs)
    q = lambda p: xs[min(len(xs) - 1, round((len(xs) - 1) * p))] * 1000
    return f"p50 {q(0.5):.0f} ms  p90 {q(0.9):.0f} ms  max {q(1.0):.0f} ms  (n={len(xs)})"


try:
    wait_for("dockerfile PASS")
    drain(3)  # let the first full grading finish
    saves = []
    broken = dockerfile.replace("EXPOSE 5000\n", "")
    for i in range(N):
        text, want = (broken, "dockerfile FAIL") if i % 2 == 0 else (dockerfile, "dockerfile PASS")
        t0 = time.monotonic()
        with open(os.path.join(ws, "Dockerfile"), "w") as f:
            f.write(text)
        saves.append(wait_for(want) - t0)
        drain(1.0)
    events = []
    for i in range(N):
        cmd, want = (["docker", "tag", IMAGE, TAG], "tag PASS") if i % 2 == 0 else (["docker", "rmi", TAG], "tag FAIL")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        events.append(wait_for(want) - t0)
        drain(1.0)
    print(f"save to verdict (dockerfile step): {pcts(saves)}")
    print(f"engine event to verdict (tag step): {pcts(events)}")
finally:
    try:
        watch.stdin.write("q\n")
        watch.stdin.flush()
        watch.wait(timeout=10)
    except Exception:
        watch.kill()
    subprocess.run(["docker", "rmi", "-f", TAG], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([LAB, "reset", "day11", "--dir", ws, "--yes"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(tmp, ignore_errors=True)
