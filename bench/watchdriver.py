"""What bench/watch-latency.py and bench/soak.py share: a release `lab`, a solved workspace
with its image built, and a `lab watch` driven through pipes (one key per line, as a terminal
would send them), its output lines timestamped as they arrive."""
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
IMAGE = "python-docker-app"
DOCKERFILE = open(os.path.join(REPO, "labs/day11/solution/Dockerfile")).read()


class Session:
    """A workspace with the lesson's Dockerfile and its image, and a `lab watch` on it."""

    def __init__(self, prefix):
        subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "lab"], cwd=REPO, check=True)
        self.lab = os.path.join(TARGET, "release", "lab")
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.env = dict(os.environ, NO_COLOR="1", LAB_LABS_DIR=os.path.join(REPO, "labs"),
                        SRE_LAB_STATE_DIR=os.path.join(self.tmp, "state"),
                        XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        self.ws = os.path.join(self.tmp, "ws")
        subprocess.run([self.lab, "start", "day11", self.ws], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        self.write_dockerfile(DOCKERFILE)
        subprocess.run(["docker", "build", "-q", "-t", IMAGE, "."], cwd=self.ws, check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DOCKER_BUILDKIT="0"))
        self.watch = None
        self.lines = queue.Queue()

    def write_dockerfile(self, text):
        with open(os.path.join(self.ws, "Dockerfile"), "w") as f:
            f.write(text)

    def start_watch(self):
        self.watch = subprocess.Popen([self.lab, "watch", "day11", "--dir", self.ws], env=self.env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=lambda: [self.lines.put((time.monotonic(), l.strip()))
                                         for l in self.watch.stdout], daemon=True).start()

    def wait_for(self, text, timeout=60.0):
        """The time the line `text` arrived."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                t, line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line == text:
                return t
        raise SystemExit(f"lab watch never printed {text!r}")

    def drain(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                self.lines.get(timeout=0.05)
            except queue.Empty:
                pass

    def close(self):
        if self.watch:
            try:
                self.watch.stdin.write("q\n")
                self.watch.stdin.flush()
                self.watch.wait(timeout=10)
            except Exception:
                self.watch.kill()
        subprocess.run([self.lab, "reset", "day11", "--dir", self.ws, "--yes"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)
