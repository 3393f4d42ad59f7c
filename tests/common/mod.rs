//! Helpers for the end-to-end tests: learner workspaces, the `lab` binary, the docker CLI
//! (the tests play the learner, who uses the CLI; the grader itself never does), and guards
//! that remove what a test made in the engine even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Fail the test, with the command's stderr, unless it exited 0.
#[track_caller]
pub fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run `cmd` to its end; fails the test, naming `what` and showing its stderr, unless it
/// exited 0.
#[track_caller]
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {err}");
    out
}

/// Day 11's seven core steps, in the lab's order.
pub const CORE_STEPS: [&str; 7] = [
    "dockerfile",
    "build",
    "run",
    "tag",
    "push",
    "compose",
    "editable",
];

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The `lab` binary built for these tests.
pub fn lab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab"))
}

/// A progress directory of this test process's own, so tests never write into the learner's.
pub fn state_dir() -> &'static Path {
    static DIR: OwnDir = OwnDir::new();
    own_dir(&DIR, "lab-test-state-")
}

type OwnDir = std::sync::OnceLock<tempfile::TempDir>;

/// The temporary directory in `cell`, made (named `PREFIX...`) on first use; removed at exit.
fn own_dir(cell: &'static OwnDir, prefix: &str) -> &'static Path {
    let made = || tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    cell.get_or_init(made).path()
}

/// A cache directory of this test process's own (verdicts kept by image id).
pub fn cache_dir() -> &'static Path {
    static DIR: OwnDir = OwnDir::new();
    own_dir(&DIR, "lab-test-cache-")
}

/// The `lab` binary as a plain child process (for tests that signal it, pipe it or wait for
/// it themselves), with the test process's own progress and cache directories, no colour, no
/// virtual environment, and the repository's labs (wherever cargo put the binary).
pub fn lab_command() -> Command {
    let mut c = Command::new(lab_bin());
    c.env_remove("VIRTUAL_ENV")
        .env("NO_COLOR", "1")
        .env("SRE_LAB_STATE_DIR", state_dir())
        .env("XDG_CACHE_HOME", cache_dir())
        .env("LAB_LABS_DIR", repo().join("labs"));
    c
}

/// `lab_command()` for assertions.
pub fn lab() -> assert_cmd::Command {
    assert_cmd::Command::from_std(lab_command())
}

/// Panics unless this process talks to the private test engine (`scripts/test-engine.sh`):
/// `DOCKER_HOST` must be the socket that script exported as `SRE_LAB_TEST_ENGINE`. So no test
/// can see, change or remove what the user's own engine holds, even when run by hand.
pub fn require_test_engine() {
    let engine = std::env::var("SRE_LAB_TEST_ENGINE").unwrap_or_default();
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    assert!(
        !engine.is_empty() && engine == host,
        "this test needs the private test engine, never the user's: run scripts/test.sh, or \
         `scripts/test-engine.sh start` then `scripts/test-engine.sh run cargo test -- --include-ignored`"
    );
}

/// Which engine of the matrix this test runs on (`scripts/test-engine.sh --engine`), for
/// failure messages: "Docker 28.5.2 (containerd image store, ...)".
pub fn engine_name() -> String {
    std::env::var("SRE_LAB_TEST_ENGINE_NAME").unwrap_or_else(|_| "the test engine".into())
}

/// Whether the test engine keeps images in the containerd image store (image id = index digest).
pub fn containerd_store() -> bool {
    engine_name().contains("containerd image store")
}

/// Tests that play the lesson's literal commands (the image name `python-docker-app`, port
/// 5000) take this lock, so they never overlap one another. Grader tests use a [`TestLab`]
/// instead and need no lock.
pub fn engine_lock() -> MutexGuard<'static, ()> {
    require_test_engine();
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        std::net::TcpListener::bind(("0.0.0.0", 5000)).is_ok(),
        "port 5000 is in use in the test engine's network namespace; a test left something behind"
    );
    guard
}

/// A copy of the Day-11 lab whose image name, host port and registry repository are this
/// test's own, so grader tests run side by side (and beside a running lab) without sharing a
/// name or a port; it also proves that those parameters really drive the checks.
///
/// The lesson's literal commands (`-p 5000:5000`, `python-docker-app`) are played by the
/// README, book and kit tests, which take [`engine_lock`] instead.
pub struct TestLab {
    dir: tempfile::TempDir,
    /// The image repository the checks look for (instead of `python-docker-app`).
    pub image: String,
    /// The host port the run and compose steps expect (instead of 5000).
    pub port: u16,
}

/// Host ports handed to test labs: each distinct, none the lesson's 5000 or the registry's 5001.
static NEXT_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(15_000);

/// Words used for test labs' images, so no two overlap; tag's "misspelled" diagnosis matches
/// names within 3 edits, so a lab's word must be further than that from every other's.
static WORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl TestLab {
    /// A lab copy whose image is `<word>-app`; `word` must be unique among the tests.
    pub fn new(word: &str) -> TestLab {
        require_test_engine();
        eprintln!("engine: {}", engine_name());
        let image = format!("{word}-app");
        {
            let mut words = WORDS.lock().unwrap_or_else(|e| e.into_inner());
            for w in words.iter() {
                assert!(
                    lab::reference::edit_distance(w, &image) > 3,
                    "test lab images {w} and {image} are too alike: the tag check would call one a misspelling of the other"
                );
            }
            words.push(image.clone());
        }
        let port = NEXT_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix("lab-testlab-")
            .tempdir()
            .unwrap();
        let to = dir.path().join("day11");
        copy_tree(&repo().join("labs/day11"), &to);
        let toml = std::fs::read_to_string(to.join("lab.toml")).unwrap();
        let mut changed = toml.clone();
        for (from, into) in [
            (
                "\"python-docker-app:latest\"".to_string(),
                format!("\"{image}:latest\""),
            ),
            (
                "repository = \"python-docker-app\"".to_string(),
                format!("repository = \"{image}\""),
            ),
            (
                "host_port = 5000".to_string(),
                format!("host_port = {port}"),
            ),
        ] {
            assert!(changed.contains(&from), "lab.toml lost {from}");
            changed = changed.replace(&from, &into);
        }
        // The workspace is the repository's sample app, wherever this copy lives.
        changed = changed.replace(
            "workspace = \"../../sample-app\"",
            &format!(
                "workspace = {:?}",
                repo().join("sample-app").display().to_string()
            ),
        );
        std::fs::write(to.join("lab.toml"), changed).unwrap();
        TestLab { dir, image, port }
    }
    /// Another host port no other test uses (for the wrong `-p` a test plays).
    pub fn spare_port(&self) -> u16 {
        NEXT_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
    /// A container name of this test's own.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.image)
    }
    /// `-p PORT:5000` with this lab's host port.
    pub fn publish(&self) -> String {
        format!("{}:5000", self.port)
    }
    /// `docker run -d --name <image>-WHAT -p PORT:5000 IMAGE`, removed by `mess`; its name.
    pub fn run_published(&self, mess: &mut EngineMess, what: &str) -> String {
        let name = self.name(what);
        mess.container(&name);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            &self.publish(),
            &self.image,
        ]);
        name
    }
    /// The sample app and solution, built as this lab's image.
    pub fn solution_built(&self, mess: &mut EngineMess) -> Workspace {
        let ws = self.solution();
        mess.image(&self.image);
        build(&ws, &self.image);
        ws
    }
    /// The directory to pass as `--labs` / `LAB_LABS_DIR`.
    pub fn labs(&self) -> &Path {
        self.dir.path()
    }
    /// `IMAGE:latest`.
    pub fn latest(&self) -> String {
        format!("{}:latest", self.image)
    }
    /// `lab` reading this lab copy.
    pub fn lab(&self) -> assert_cmd::Command {
        let mut c = lab();
        c.env("LAB_LABS_DIR", self.labs());
        c
    }
    /// `lab_command()` reading this lab copy.
    pub fn lab_command(&self) -> Command {
        let mut c = lab_command();
        c.env("LAB_LABS_DIR", self.labs());
        c
    }
    /// The sample app plus the reference solution, its compose file publishing this lab's
    /// port, and a file of the test's own so its builds never share an image id with another
    /// test's (the grader rightly treats one image id as one image, whatever its names).
    pub fn solution(&self) -> Workspace {
        let ws = Workspace::solution();
        ws.edit(
            "compose.yaml",
            "\"5000:5000\"",
            &format!("\"{}:5000\"", self.port),
        );
        ws.write("e2e-test-lab.txt", &self.image);
        ws
    }
    /// The sample app without the learner's files, with this test's own file (see `solution`).
    pub fn sample_app(&self) -> Workspace {
        let ws = Workspace::sample_app();
        ws.write("e2e-test-lab.txt", &self.image);
        ws
    }
    /// `lab check day11 --format json` with this lab copy.
    pub fn check_json(&self, ws: &Path, args: &[&str]) -> (Value, i32) {
        check_json_with(self.lab(), ws, args)
    }
    /// Probe containers of this lab's images (other tests' probes may be running).
    pub fn probes(&self) -> Vec<String> {
        docker(&[
            "ps",
            "-a",
            "--filter",
            "label=org.sre-lab.probe",
            "--format",
            "{{.ID}} {{.Image}}",
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, img)| img.split(':').next() == Some(self.image.as_str()))
        .map(|(id, _)| id.to_string())
        .collect()
    }
}

/// A learner's workspace in a temporary directory.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// Copy a tree with the grader's own walker (caches and virtual environments skipped).
fn copy_tree(from: &Path, to: &Path) {
    for rel in lab::walk::files(from, Path::new(""), 10_000) {
        let dst = to.join(&rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), dst).unwrap();
    }
}

impl Workspace {
    /// The sample app without the learner's files (Dockerfile, compose file).
    pub fn sample_app() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("lab-ws-")
            .tempdir()
            .unwrap();
        copy_tree(&repo().join("sample-app"), dir.path());
        Workspace { dir }
    }
    /// The sample app plus the reference solution: the known-good answer.
    pub fn solution() -> Workspace {
        let ws = Workspace::sample_app();
        copy_tree(&repo().join("labs/day11/solution"), ws.path());
        ws
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }
    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path().join(rel)).unwrap();
    }
    /// Replace text in a file, asserting the text was there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let t = self.read(rel);
        assert!(t.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &t.replacen(from, to, 1));
    }
}

/// Run `lab check day11 --format json` in a workspace; returns the report and the exit code.
pub fn check_json(ws: &Path, args: &[&str]) -> (Value, i32) {
    check_json_with(lab(), ws, args)
}

pub fn check_json_with(mut lab: assert_cmd::Command, ws: &Path, args: &[&str]) -> (Value, i32) {
    let out = lab
        .args(["check", "day11", "--format", "json", "--dir"])
        .arg(ws)
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stdout:\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, code)
}

/// A step of a JSON report.
pub fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    entry(report, "steps", "id", id)
}

/// The first object in `v[list]` whose `key` is `want`; panics, showing `v`, when none is.
pub fn entry<'a>(v: &'a Value, list: &str, key: &str, want: &str) -> &'a Value {
    let all = v[list].as_array().map(Vec::as_slice).unwrap_or_default();
    all.iter()
        .find(|e| e[key] == want)
        .unwrap_or_else(|| panic!("no {list} entry with {key} {want:?} in {v:#}"))
}

/// A check of a JSON report, by id.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["checks"].as_array().unwrap())
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// The status of a step.
pub fn status(report: &Value, id: &str) -> String {
    step(report, id)["status"].as_str().unwrap().to_string()
}

/// Every text a check carries, for "the diagnosis mentions X" assertions.
pub fn text_of(c: &Value) -> String {
    ["message", "expected", "found", "hint", "detail", "location"]
        .iter()
        .filter_map(|k| c[*k].as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Assert that a check failed and that its diagnosis mentions every one of `words`.
pub fn assert_diagnosis(report: &Value, check_id: &str, words: &[&str], what: &str) {
    let c = check(report, check_id);
    assert_eq!(c["status"], "fail", "{what}: {c:#}");
    let t = text_of(c);
    for w in words {
        assert!(t.contains(w), "{what}: the diagnosis lacks {w:?}: {t}");
    }
}

/// A finished process's stdout then stderr, as text.
pub fn both(out: &std::process::Output) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    text(&out.stdout) + &text(&out.stderr)
}

/// Run the docker CLI (as a learner would); panics with its output when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = docker_raw(args, None);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}",
        both(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run the docker CLI in a directory without asserting success.
pub fn docker_raw(args: &[&str], dir: Option<&Path>) -> Output {
    require_test_engine();
    let mut c = Command::new("docker");
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output().expect("docker CLI")
}

/// `docker build -t TAG .` in a workspace. Tried again (twice at most) when the builder lost a
/// cached step to another test's image removal in the same engine: the legacy builder's
/// `unknown parent image ID`, `No such image: sha256:...` or `failed to get digest sha256:...:
/// ... no such file or directory`, BuildKit's `parent snapshot sha256:... does not exist` on
/// the containerd store. A race between this suite's parallel tests, not a learner's. `scripts/test-engine.sh` pins the lesson's shared
/// steps under a tag so that the race is rare; this retry covers the steps a variant adds.
pub fn build(ws: &Workspace, tag: &str) {
    let attempt = || docker_raw(&["build", "-q", "-t", tag, "."], Some(ws.path()));
    let lost_layer = |o: &Output| {
        let err = String::from_utf8_lossy(&o.stderr);
        err.contains("unknown parent image ID")
            || err.contains("No such image: sha256:")
            || (err.contains("failed to get digest sha256:") && err.contains("no such file"))
            || (err.contains("parent snapshot sha256:") && err.contains("does not exist"))
    };
    let mut out = attempt();
    for _ in 0..2 {
        if out.status.success() || !lost_layer(&out) {
            break;
        }
        out = attempt();
    }
    assert!(
        out.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The compose command of this machine (v2 plugin or v1).
pub fn compose_cmd(dir: &Path) -> Command {
    require_test_engine();
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut c = if v2 {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    c.current_dir(dir);
    c
}

/// Run this machine's compose command in `dir` (as a learner would); panics with its output,
/// naming the engine, when it fails.
pub fn compose(dir: &Path, args: &[&str]) {
    let out = compose_cmd(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}: compose {args:?}: {}",
        engine_name(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Wait until `http://127.0.0.1:PORT/` answers anything, or panic.
pub fn wait_http(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            if s.read_to_string(&mut buf).is_ok() && buf.starts_with("HTTP/") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("nothing answered HTTP on port {port} within 30 s");
}

/// A Python virtual environment in a temporary directory.
pub struct Venv {
    pub dir: tempfile::TempDir,
}

impl Venv {
    pub fn new() -> Venv {
        let dir = tempfile::Builder::new()
            .prefix("lab-venv-")
            .tempdir()
            .unwrap();
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
        Venv { dir }
    }
    pub fn python(&self) -> PathBuf {
        self.dir.path().join("bin/python")
    }
    pub fn pip(&self, args: &[&str], cwd: &Path) {
        let quiet = ["--quiet", "--disable-pip-version-check"];
        let mut pip = Command::new(self.python());
        pip.args(["-m", "pip", "install"]).args(quiet).args(args);
        run_ok(pip.current_dir(cwd), &format!("pip install {args:?}"));
    }
}

/// Removes, on drop, what a test made in the engine: containers, compose projects, image tags
/// and registry manifests. Runs even when the test panics. (The untagged images rebuilds leave
/// are pruned when the test engine stops: while tests run side by side, a fresh layer of
/// another test's build looks just like one.)
#[derive(Default)]
pub struct EngineMess {
    containers: Vec<String>,
    images: Vec<String>,
    compose_dirs: Vec<PathBuf>,
    registry_refs: Vec<String>,
}

impl EngineMess {
    pub fn container(&mut self, name: &str) {
        self.containers.push(name.to_string());
    }
    pub fn image(&mut self, reference: &str) {
        self.images.push(reference.to_string());
    }
    pub fn compose(&mut self, dir: &Path) {
        self.compose_dirs.push(dir.to_path_buf());
    }
    /// A `localhost:PORT/NAME:TAG` pushed to the local registry.
    pub fn pushed(&mut self, reference: &str) {
        self.registry_refs.push(reference.to_string());
    }
}

impl Drop for EngineMess {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker_raw(&["rm", "-f", c], None);
        }
        for d in &self.compose_dirs {
            compose_down_by_label(d);
        }
        for r in &self.registry_refs {
            delete_from_registry(r);
        }
        for i in &self.images {
            let _ = docker_raw(&["rmi", "-f", i], None);
        }
    }
}

/// `compose down --rmi local` without the compose file (the workspace may be gone by now):
/// find the project by Compose's labels, remove its containers, networks and built images.
fn compose_down_by_label(dir: &Path) {
    let filter = format!(
        "label=com.docker.compose.project.working_dir={}",
        dir.display()
    );
    let ids =
        String::from_utf8_lossy(&docker_raw(&["ps", "-aq", "--filter", &filter], None).stdout)
            .to_string();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    // The project's name from its containers' label; when a test already took them down, the
    // name Compose gives a project by default: its directory's, lowercased, [a-z0-9_-] kept.
    let project = match ids.first() {
        Some(first) => String::from_utf8_lossy(
            &docker_raw(
                &[
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"com.docker.compose.project\"}}",
                    first,
                ],
                None,
            )
            .stdout,
        )
        .trim()
        .to_string(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    };
    if project.is_empty() {
        return;
    }
    if !ids.is_empty() {
        let mut rm = vec!["rm", "-f"];
        rm.extend(ids.iter().copied());
        let _ = docker_raw(&rm, None);
    }
    let nets = String::from_utf8_lossy(
        &docker_raw(
            &[
                "network",
                "ls",
                "-q",
                "--filter",
                &format!("label=com.docker.compose.project={project}"),
            ],
            None,
        )
        .stdout,
    )
    .to_string();
    for n in nets.split_whitespace() {
        let _ = docker_raw(&["network", "rm", n], None);
    }
    for sep in ["_", "-"] {
        let imgs = String::from_utf8_lossy(
            &docker_raw(&["images", "-q", &format!("{project}{sep}*")], None).stdout,
        )
        .to_string();
        for i in imgs.split_whitespace() {
            let _ = docker_raw(&["rmi", "-f", i], None);
        }
    }
}

/// Delete a tag's manifest from the local registry (delete is enabled in its config).
pub fn delete_from_registry(reference: &str) {
    let Some((host, rest)) = reference.split_once('/') else {
        return;
    };
    let Some((name, tag)) = rest.rsplit_once(':') else {
        return;
    };
    // Docker pushes Docker v2 manifests, Podman OCI ones: ask for both.
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let head = Command::new("curl")
        .args([
            "-sI",
            "-H",
            &format!("Accept: {accept}"),
            &format!("http://{host}/v2/{name}/manifests/{tag}"),
        ])
        .output();
    let Ok(head) = head else { return };
    let text = String::from_utf8_lossy(&head.stdout).to_string();
    let Some(digest) = text.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("docker-content-digest:")
            .then(|| l.split_once(':').unwrap().1.trim().to_string())
    }) else {
        return;
    };
    let _ = Command::new("curl")
        .args([
            "-s",
            "-X",
            "DELETE",
            &format!("http://{host}/v2/{name}/manifests/{digest}"),
        ])
        .output();
}

/// Ids of containers carrying the grader's probe label.
pub fn probe_containers() -> Vec<String> {
    docker(&["ps", "-aq", "--filter", "label=org.sre-lab.probe"])
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect()
}

/// `check-jsonschema` in the test venv that scripts/test.sh makes.
pub fn check_jsonschema(schema: &str, doc: &std::path::Path) -> std::process::Output {
    let bin = repo().join(".lab/venv-test/bin/check-jsonschema");
    assert!(
        bin.exists(),
        "check-jsonschema is missing: scripts/test.sh installs it"
    );
    std::process::Command::new(bin)
        .arg("--schemafile")
        .arg(repo().join("schemas").join(schema))
        .arg(doc)
        .output()
        .unwrap()
}
