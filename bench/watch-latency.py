#!/usr/bin/env python3
"""How fast `lab watch` answers: from saving a file, and from an engine event, to the new
verdict on its output. Drives a real `lab watch` through pipes (as a terminal would, one key per
line), edits the Dockerfile N times (breaking and fixing it), then tags and untags the image N
times, and prints latency percentiles. Uses the engine DOCKER_HOST points at (CI runs it in the
tests' own engine: scripts/test-engine.sh run python3 bench/watch-latency.py); it removes what
it made.

    bench/watch-latency.py [N]      (default 20 of each)
"""
import subprocess
import sys
import time

from watchdriver import DOCKERFILE, IMAGE, Session

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
TAG = "localhost:5001/bench/python-docker-app:v1"


def pcts(xs):
    xs = sorted(xs)
    q = lambda p: xs[min(len(xs) - 1, round((len(xs) - 1) * p))] * 1000
    return f"p50 {q(0.5):.0f} ms  p90 {q(0.9):.0f} ms  max {q(1.0):.0f} ms  (n={len(xs)})"


s = Session("lab-watch-bench-")
try:
    s.start_watch()
    s.wait_for("dockerfile PASS")
    s.drain(3)  # let the first full grading finish
    saves = []
    broken = DOCKERFILE.replace("EXPOSE 5000\n", "")
    for i in range(N):
        text, want = (broken, "dockerfile FAIL") if i % 2 == 0 else (DOCKERFILE, "dockerfile PASS")
        t0 = time.monotonic()
        s.write_dockerfile(text)
        saves.append(s.wait_for(want) - t0)
        s.drain(1.0)
    events = []
    for i in range(N):
        cmd, want = (["docker", "tag", IMAGE, TAG], "tag PASS") if i % 2 == 0 else (["docker", "rmi", TAG], "tag FAIL")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        events.append(s.wait_for(want) - t0)
        s.drain(1.0)
    print(f"save to verdict (dockerfile step): {pcts(saves)}")
    print(f"engine event to verdict (tag step): {pcts(events)}")
finally:
    subprocess.run(["docker", "rmi", "-f", TAG], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s.close()
