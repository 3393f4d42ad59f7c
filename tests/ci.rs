//! `lab ci` end to end on the tests' own engine: learners' repositories (right, right written
//! differently, wrong, hostile, hanging, cancelled, forged) replayed and graded, every output
//! validated against its schema, and nothing left in the engine afterwards.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A fresh run id for this test process.
fn run_id() -> String {
    format!(
        "t{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    )
}

/// One `lab ci` run and what it wrote.
struct CiRun {
    run: String,
    code: i32,
    stderr: String,
    out: tempfile::TempDir,
}

impl CiRun {
    fn json(&self, name: &str) -> Value {
        let p = self.out.path().join(name);
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), self.stderr));
        serde_json::from_str(&text).unwrap()
    }
    fn report(&self) -> Value {
        self.json("report.json")
    }
    fn status(&self, step: &str) -> String {
        status(&self.report(), step).to_string()
    }
    fn replay(&self, step: &str) -> Value {
        self.report()["ci"]["replay"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["step"] == step)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn ci_command(repo: &Path, run: &str, out: &Path, extra: &[&str]) -> Command {
    ci_command_of(lab_command(), repo, run, out, extra)
}

/// `ci_command` with another `lab` (the wheel's) in the same environment.
fn ci_command_of(mut c: Command, repo: &Path, run: &str, out: &Path, extra: &[&str]) -> Command {
    require_test_engine();
    c.args(["ci", "day11", "--dir"])
        .arg(repo)
        .args(["--run-id", run, "--format", "json", "--out"])
        .arg(out)
        .args(extra)
        .env("TMPDIR", std::env::temp_dir());
    c
}

fn lab_ci(repo: &Path, extra: &[&str]) -> CiRun {
    lab_ci_of(lab_command(), repo, extra)
}

fn lab_ci_of(base: Command, repo: &Path, extra: &[&str]) -> CiRun {
    let run = run_id();
    let out = tempfile::tempdir().unwrap();
    let o = ci_command_of(base, repo, &run, out.path(), extra)
        .output()
        .unwrap();
    let r = CiRun {
        run,
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        out,
    };
    assert_no_leftovers(&r.run);
    r
}

/// Nothing of run `run` is in the engine or on disk.
fn assert_no_leftovers(run: &str) {
    let project = format!("sre-lab-ci-{run}");
    for filter in [
        format!("label=org.sre-lab.ci.run={run}"),
        format!("label=com.docker.compose.project={project}"),
    ] {
        let ps = docker(&["ps", "-aq", "--filter", &filter]);
        assert!(
            ps.trim().is_empty(),
            "{}: containers left: {ps}",
            engine_name()
        );
        let nets = docker(&["network", "ls", "-q", "--filter", &filter]);
        assert!(
            nets.trim().is_empty(),
            "{}: networks left: {nets}",
            engine_name()
        );
    }
    let images = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let ours: Vec<&str> = images.lines().filter(|l| l.contains(run)).collect();
    assert!(ours.is_empty(), "{}: images left: {ours:?}", engine_name());
    let work = std::env::temp_dir().join(format!("sre-lab-ci-{run}"));
    assert!(
        !work.exists(),
        "the work directory {} is left",
        work.display()
    );
}

/// Validate an output file against a schema of the repository.
fn valid(r: &CiRun, file: &str, schema: &str) {
    let v = check_jsonschema(schema, &r.out.path().join(file));
    assert!(
        v.status.success(),
        "{file} against {schema}: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_right_answer_passes_with_every_output_valid_and_nothing_left() {
    let ws = Workspace::solution();
    let r = lab_ci(ws.path(), &[]);
    assert_eq!(r.code, 0, "{}: {}", engine_name(), r.stderr);
    for s in CORE_STEPS {
        assert_eq!(r.status(s), "pass", "{s}: {:#}", r.report());
    }
    let rep = r.report();
    assert_eq!(rep["ci"]["leftovers"]["containers"], 0);
    assert_eq!(rep["ci"]["run"], r.run.as_str());
    assert!(
        rep["engine"].as_str().unwrap().contains("Docker"),
        "{rep:#}"
    );
    valid(&r, "report.json", "report.v1.schema.json");
    valid(&r, "report.json", "ci-report.v1.schema.json");
    valid(&r, "result.json", "classroom50-result.v1.schema.json");
    valid(&r, "results.json", "gradescope-results.schema.json");
    let c50 = r.json("result.json");
    assert_eq!(c50["score"], 7, "{c50:#}");
    assert_eq!(c50["max-score"], 7);
    let gs = r.json("results.json");
    assert_eq!(gs["score"], gs["max_score"], "{gs:#}");
    let junit = std::fs::read_to_string(r.out.path().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"failures="0" errors="0""#), "{junit}");
    let summary = std::fs::read_to_string(r.out.path().join("summary.md")).unwrap();
    assert!(summary.contains(&format!("Run: {}", r.run)), "{summary}");
    // The learner's checkout is not written: no egg-info, no venv, nothing new.
    assert!(!ws.path().join("src/python_docker_app.egg-info").exists());
    assert!(!ws.path().join(".venv").exists());
    // The schemas can fail: a classroom50 result without its schema tag does not validate.
    let mut bad = c50.clone();
    bad["schema"] = "classroom50/result/v2".into();
    std::fs::write(r.out.path().join("bad.json"), bad.to_string()).unwrap();
    let v = check_jsonschema(
        "classroom50-result.v1.schema.json",
        &r.out.path().join("bad.json"),
    );
    assert!(!v.status.success(), "a wrong schema tag must not validate");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn right_answers_written_differently_pass() {
    // compose.yaml (v2's name), a long-form port, a build mapping, `ENV` in its old spelling
    // and gunicorn's `--bind=` form.
    let a = Workspace::sample_app();
    a.write(
        "Dockerfile",
        "FROM python:3.9-slim\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nENV FLASK_APP src/main.py\nENV FLASK_ENV=development PYTHONPATH=/app\nEXPOSE 5000/tcp\nCMD [\"gunicorn\", \"--bind=0.0.0.0:5000\", \"src.main:app\"]\n",
    );
    a.write(".dockerignore", ".git\n.venv\nvenv\n__pycache__\n");
    a.write(
        "compose.yaml",
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile\n    ports:\n      - target: 5000\n        published: \"5000\"\n        protocol: tcp\n",
    );
    // docker-compose.yml (the name v1 taught) with a YAML anchor and merge key, and a host
    // address on the port.
    let b = Workspace::solution();
    b.remove("compose.yaml");
    b.write(
        "docker-compose.yml",
        "x-web: &web\n  build: ./\n  restart: unless-stopped\nservices:\n  web:\n    <<: *web\n    ports: [\"0.0.0.0:5000:5000/tcp\"]\n    environment:\n      GREETING: \"${GREETING:-hi}\"\n",
    );
    for (name, ws) in [("compose.yaml", &a), ("anchors", &b)] {
        let r = lab_ci(ws.path(), &[]);
        for s in CORE_STEPS {
            assert_eq!(r.status(s), "pass", "{name}: {s}: {:#}", r.report());
        }
        assert_eq!(r.code, 0, "{name}");
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_missing_dockerfile_fails_the_build_and_skips_what_builds_on_it_and_a_forged_result_is_ignored()
{
    let ws = Workspace::solution();
    ws.remove("Dockerfile");
    // A forged result.json claiming full marks: the grade is made on the runner.
    let forged = r#"{"schema":"classroom50/result/v1","score":7,"max-score":7,"tests":[]}"#;
    ws.write("result.json", forged);
    let r = lab_ci(ws.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.status("dockerfile"), "fail");
    assert_eq!(r.status("build"), "fail");
    assert_eq!(r.replay("build")["outcome"], "failed", "{:#}", r.report());
    for s in ["run", "tag", "compose"] {
        assert_eq!(r.status(s), "skip", "{s}: {:#}", r.report());
        let c = check(&r.report(), &format!("{s}.replay")).clone();
        assert!(text_of(&c).contains("build step"), "{s}: {c:#}");
    }
    // The tag step was not replayed, so push (which builds on it) is skipped too.
    assert_eq!(r.status("push"), "skip");
    assert_eq!(r.status("editable"), "pass", "{:#}", r.report());
    let c50 = r.json("result.json");
    assert_eq!(c50["score"], 1, "only the editable step passed: {c50:#}");
    assert_eq!(
        ws.read("result.json"),
        forged,
        "the learner's file is untouched"
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_broken_compose_file_and_an_app_that_does_not_import_fail_their_steps() {
    let broken = Workspace::solution();
    broken.write("compose.yaml", "services:\n\tweb:\n\t\tbuild: .\n");
    let r = lab_ci(broken.path(), &[]);
    assert_eq!(r.status("compose"), "fail", "{:#}", r.report());
    assert_eq!(r.replay("compose")["outcome"], "refused");
    assert!(
        r.replay("compose")["why"]
            .as_str()
            .unwrap()
            .contains("YAML"),
        "{:#}",
        r.report()
    );
    assert_eq!(
        r.status("run"),
        "pass",
        "the other steps are graded: {:#}",
        r.report()
    );

    let no_import = Workspace::solution();
    let main = no_import.read("src/main.py");
    no_import.write(
        "src/main.py",
        &format!("import flask_nonexistent_module\n{main}"),
    );
    let r = lab_ci(no_import.path(), &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.status("build"), "pass", "it builds: {:#}", r.report());
    for s in ["run", "compose", "editable"] {
        assert_eq!(r.status(s), "fail", "{s}: {:#}", r.report());
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn compose_files_that_reach_the_runner_are_refused_before_anything_runs() {
    for (what, file, says) in [
        ("root", "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n    volumes: [\"/:/host\"]\n", "outside the repository"),
        ("socket", "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n        target: /var/run/docker.sock\n", "services.web.volumes"),
        // On the allow-list's edge: env_file is allowed, but only inside the repository.
        ("env_file", "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n    env_file: ../../../../etc/os-release\n", "services.web.env_file"),
        ("privileged", "services:\n  web:\n    build: .\n    ports: [\"5000:5000\"]\n    privileged: true\n", "privileged"),
    ] {
        let ws = Workspace::solution();
        ws.write("compose.yaml", file);
        let r = lab_ci(ws.path(), &[]);
        assert_eq!(r.status("compose"), "fail", "{what}: {:#}", r.report());
        let replay = r.replay("compose");
        assert_eq!(replay["outcome"], "refused", "{what}: {replay:#}");
        assert!(replay["why"].as_str().unwrap().contains(says), "{what}: {replay:#}");
        // Nothing of the project ever ran.
        let c = check(&r.report(), "compose.replay").clone();
        assert!(text_of(&c).contains("refused on a course's runner"), "{what}: {c:#}");
    }
}

/// A Python image with a pip that installs PEP 660 editables (the stand-in's pip 20.3 cannot),
/// built once per engine from the stand-in.
fn setup_image() -> &'static str {
    const IMAGE: &str = "sre-lab-test/setup-python:venv-pip24";
    if docker_raw(&["image", "inspect", IMAGE], None)
        .status
        .success()
    {
        return IMAGE;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        concat!(
            "FROM python:3.9-slim\n",
            // Debian's venv installs the pip wheel it keeps in /usr/share/python-wheels.
            "RUN pip download --quiet --disable-pip-version-check --no-deps --dest /tmp/w 'pip==24.3.1' \\\n",
            " && rm /usr/share/python-wheels/pip-*.whl && mv /tmp/w/pip-*.whl /usr/share/python-wheels/\n",
        ),
    )
    .unwrap();
    let o = docker_raw(
        &["build", "-q", "-t", IMAGE, &dir.path().to_string_lossy()],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    IMAGE
}

#[test]
#[ignore = "needs the wheel and the private test engine: scripts/test.sh"]
fn setup_in_container_grades_the_editable_step_in_a_container_the_learners_code_cannot_leave() {
    // The wheel's binary (glibc 2.17) runs in the image's glibc 2.31; the host build would not.
    let bins = tempfile::tempdir().unwrap();
    let lab = crate::wheel::binary_of(&crate::wheel::wheel(), bins.path());
    let base = || {
        let mut c = Command::new(&lab);
        for (k, v) in lab_command().get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    };
    let image = setup_image();
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("escaped");
    // The learner's setup.py tries to write outside the repository, as a hostile one would.
    let ws = Workspace::solution();
    ws.write(
        "setup.py",
        &format!(
            "import setuptools\ntry:\n    open({:?}, 'w').write('out')\nexcept OSError:\n    pass\nsetuptools.setup()\n",
            marker.display().to_string()
        ),
    );
    let r = lab_ci_of(base(), ws.path(), &["--setup-in-container", image]);
    assert_eq!(
        r.status("editable"),
        "pass",
        "{}\n{:#}",
        r.stderr,
        r.report()
    );
    assert_eq!(r.replay("editable")["outcome"], "ran");
    assert!(
        r.stderr.contains(&format!("in a container of {image}")),
        "{}",
        r.stderr
    );
    assert!(
        !marker.exists(),
        "the learner's setup.py wrote outside the container"
    );
    assert_eq!(
        r.status("compose"),
        "pass",
        "the other steps ran on the runner: {:#}",
        r.report()
    );

    // Wrong: a distribution of another name is not the lesson's, in the container as on the host.
    let wrong = Workspace::solution();
    wrong.edit(
        "pyproject.toml",
        "name = \"python-docker-app\"",
        "name = \"other-app\"",
    );
    let r = lab_ci_of(base(), wrong.path(), &["--setup-in-container", image]);
    assert_eq!(r.status("editable"), "fail", "{:#}", r.report());
    assert_eq!(r.code, 1);

    // No such image: the step fails with Docker's reason, nothing is left, and nothing ran here.
    let r = lab_ci_of(
        base(),
        ws.path(),
        &["--setup-in-container", "sre-lab-test/no-such-image:0"],
    );
    assert_eq!(r.status("editable"), "fail", "{:#}", r.report());
    assert_eq!(
        r.replay("editable")["outcome"],
        "failed",
        "{:#}",
        r.report()
    );
    assert!(!marker.exists());

    // And the probe can fail: without the flag the same setup.py runs here and writes it.
    let r = lab_ci_of(base(), ws.path(), &[]);
    assert_eq!(r.status("editable"), "pass", "{:#}", r.report());
    assert!(
        marker.exists(),
        "setup.py did not run, so the test proves nothing"
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_command_that_hangs_is_stopped_at_its_deadline() {
    let ws = Workspace::solution();
    ws.edit("Dockerfile", "EXPOSE 5000", "RUN sleep 600\nEXPOSE 5000");
    let start = Instant::now();
    let r = lab_ci(ws.path(), &["--command-timeout", "8"]);
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{:?}",
        start.elapsed()
    );
    let b = r.replay("build");
    assert_eq!(b["outcome"], "timed_out", "{b:#}");
    assert_eq!(b["secs"], 8);
    assert_eq!(r.status("run"), "skip");
    assert_eq!(r.code, 1);
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_cancelled_run_as_github_cancels_it_leaves_nothing() {
    let ws = Workspace::solution();
    ws.edit("Dockerfile", "EXPOSE 5000", "RUN sleep 120\nEXPOSE 5000");
    let run = run_id();
    let out = tempfile::tempdir().unwrap();
    let mut child = ci_command(ws.path(), &run, out.path(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the build to start, as a cancel mid-build.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&l);
            seen.push('\n');
            if l.contains("$ docker build") {
                break;
            }
        }
    }
    assert!(seen.contains("$ docker build"), "{seen}");
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id() as i32;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_millis(7500) {
            // SAFETY: as above; GitHub's second signal.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lab ci did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130), "{seen}");
    assert_no_leftovers(&run);
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn no_registry_is_an_infrastructure_error_not_a_learners_fail() {
    let ws = Workspace::solution();
    let out = tempfile::tempdir().unwrap();
    let o = ci_command(
        ws.path(),
        &run_id(),
        out.path(),
        &["--registry", "127.0.0.1:5999"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no registry answers at 127.0.0.1:5999"),
        "{err}"
    );
    assert!(
        !out.path().join("result.json").exists(),
        "no grade is written"
    );
}

/// A learner's repository as a course starts it: `lab start`, the learner's answer, the
/// starter's workflow with the artifact's URL and SHA-256, committed.
fn starter_repo(url: &str, sha: &str, mistake: Option<(&str, &str)>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    lab().args(["start", "day11"]).arg(&repo).assert().success();
    copy_dir(&repo_root().join("labs/day11/solution"), &repo);
    if let Some((from, to)) = mistake {
        let df = std::fs::read_to_string(repo.join("Dockerfile")).unwrap();
        assert!(df.contains(from), "{df}");
        std::fs::write(repo.join("Dockerfile"), df.replace(from, to)).unwrap();
    }
    let wf = std::fs::read_to_string(repo_root().join("starter/.github/workflows/grade.yml"))
        .unwrap()
        .replace("@LAB_URL@", url)
        .replace("@LAB_SHA256@", sha);
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(repo.join(".github/workflows/grade.yml"), wf).unwrap();
    std::fs::write(
        repo.join(".gitlab-ci.yml"),
        std::fs::read_to_string(repo_root().join("ci/gitlab/lab-ci.gitlab-ci.yml")).unwrap(),
    )
    .unwrap();
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec![
            "-c",
            "user.email=learner@example.com",
            "-c",
            "user.name=Learner",
            "commit",
            "-qm",
            "my lab",
        ],
    ] {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(&args)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }
    d
}

fn repo_root() -> std::path::PathBuf {
    repo()
}

fn copy_dir(from: &Path, to: &Path) {
    for rel in lab::walk::files(from, Path::new(""), 1000) {
        let dst = to.join(&rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), dst).unwrap();
    }
}

/// The `lab` artifact a course would publish, served over HTTP on loopback: the wheel built
/// in this CI run when scripts/test.sh built one (`SRE_LAB_CI_ARTIFACT`), else this build's
/// binary. Returns the server, the URL and the SHA-256.
fn serve_artifact() -> (ChildGuard, String, String) {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap().keep();
    let src = std::env::var_os("SRE_LAB_CI_ARTIFACT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(lab_bin);
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    let name = if name.ends_with(".whl") {
        name
    } else {
        "lab".into()
    };
    std::fs::copy(&src, dir.join(&name)).unwrap();
    let sha = format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(dir.join(&name)).unwrap())
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child, dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the artifact server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, format!("http://127.0.0.1:{port}/{name}"), sha)
}

/// Kills the server and removes its directory when dropped.
struct ChildGuard(std::process::Child, std::path::PathBuf);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// This repository's workflow and action only, as act's local copy of `sre-lab/sre-lab@main`
/// (act copies the whole directory for each use).
fn workflow_repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for sub in [".github", "actions"] {
        copy_dir(&repo_root().join(sub), &d.path().join(sub));
    }
    d
}

fn ci_tool(name: &str) -> std::path::PathBuf {
    // Where scripts/setup-ci-tools.sh installs them (shared by clones, like the other caches).
    let tools = std::env::var_os("SRE_LAB_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sre-lab/tools")
        });
    let p = match name {
        "gitlab-ci-local" => tools.join("npm/node_modules/.bin/gitlab-ci-local"),
        _ => tools.join("venv-ci/bin").join(name),
    };
    assert!(
        p.exists(),
        "{name} is missing: scripts/setup-ci-tools.sh installs it"
    );
    p
}

/// `act push` in `repo` with the job on the host, this repository's workflow and action from
/// `wf`, and the two remote actions act resolves first mapped to the stand-in `fixture`.
/// Returns whether the job passed, and everything act printed.
fn act(repo: &Path, wf: &Path, fixture: &Path) -> (bool, String) {
    let mut c = Command::new(ci_tool("act"));
    c.current_dir(repo).args([
        "push",
        "-W",
        ".github/workflows/grade.yml",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
    ]);
    for (remote, local) in [
        ("sre-lab/sre-lab@main", wf),
        (
            "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
            fixture,
        ),
        (
            "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02",
            fixture,
        ),
    ] {
        c.arg("--local-repository")
            .arg(format!("{remote}={}", local.display()));
    }
    let out = c
        .env("LAB_LABS_DIR", repo_root().join("labs"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
#[ignore = "needs the private test engine and act: scripts/test.sh"]
fn the_reusable_workflow_grades_a_learners_repository_under_act() {
    require_test_engine();
    let (_server, url, sha) = serve_artifact();
    let wf = workflow_repo();
    let fixture = repo_root().join("tests/fixtures/act/offline-action");
    // The right answer, and a CMD in shell form bound to loopback (a located finding, so an
    // annotation on the Dockerfile's line).
    let shell_cmd = (
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        "CMD gunicorn --bind 127.0.0.1:5000 src.main:app",
    );
    for (mistake, passes) in [(None, true), (Some(shell_cmd), false)] {
        let answer = mistake.is_none();
        let d = starter_repo(&url, &sha, mistake);
        let (ok, text) = act(&d.path().join("repo"), wf.path(), &fixture);
        assert_eq!(ok, passes, "answer {answer}: {text}");
        assert!(
            text.contains("Success - Main Install lab (pinned, SHA-256 checked)"),
            "{text}"
        );
        assert!(
            text.contains("Success - Main Sweep what the run made"),
            "the sweep runs always: {text}"
        );
        assert!(!text.contains("must never run under act"), "{text}");
        if passes {
            assert!(text.contains("7 of 7 steps pass"), "{text}");
        } else {
            assert!(text.contains("| dockerfile | FAIL |"), "{text}");
            assert!(text.contains("::error file=Dockerfile,line=10"), "{text}");
        }
    }
    // A download that does not match its SHA-256 is refused before anything runs.
    let d = starter_repo(&url, &"0".repeat(64), None);
    let (ok, text) = act(&d.path().join("repo"), wf.path(), &fixture);
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAILED") || text.contains("did NOT match"),
        "sha256sum says why: {text}"
    );
}

#[test]
#[ignore = "needs the private test engine and gitlab-ci-local: scripts/test.sh"]
fn the_gitlab_template_grades_a_learners_repository_with_the_shell_executor() {
    require_test_engine();
    let (_server, url, sha) = serve_artifact();
    let d = starter_repo(&url, &sha, None);
    let repo = d.path().join("repo");
    let ok = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args([
            "remote",
            "add",
            "origin",
            "https://gitlab.example.com/learner/day11.git",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let run = |job: &str| {
        Command::new(ci_tool("gitlab-ci-local"))
            .current_dir(&repo)
            .args([
                "--shell-isolation",
                "--variable",
                &format!("LAB_URL={url}"),
                "--variable",
                &format!("LAB_SHA256={sha}"),
                job,
            ])
            .env("LAB_LABS_DIR", repo_root().join("labs"))
            .output()
            .unwrap()
    };
    let out = run("lab-ci");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    // The job's log is the human report; its outputs are the job's artifacts.
    assert!(text.contains("7 of 7 steps passed"), "{text}");
    assert!(text.contains("PASS  lab-ci"), "{text}");
    assert!(
        text.contains("0 container(s), 0 image(s), 0 network(s) left"),
        "the after_script sweeps: {text}"
    );
    // Both jobs parse: the docker-executor variant is listed (and linted), not run.
    let list = Command::new(ci_tool("gitlab-ci-local"))
        .current_dir(&repo)
        .arg("--list")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("lab-ci-docker") && listed.contains("lab-ci"),
        "{listed}"
    );
}

/// A run's report.json as `lab ci` writes it, from a real (file-only) grading plus the `ci`
/// object a runner would stamp.
fn fake_ci_result(dir: &Path, repository: &str, owner: &str, commit: &str) {
    let ws = Workspace::solution();
    let (mut report, _) = check_json_with(lab(), ws.path(), &["--step", "dockerfile"]);
    report["ci"] = serde_json::json!({
        "run": "r1", "commit": commit, "repository": repository, "owner": owner,
        "replay": [], "leftovers": {"containers": 0, "images": 0, "networks": 0},
        "interrupted": false, "lab_version": "0.1.0",
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
}

fn git_repo_with_commit(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for args in [
        vec!["init", "-q"],
        vec![
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=a",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ] {
        assert!(Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(&args)
            .status()
            .unwrap()
            .success());
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn collect_merges_the_roster_and_flags_results_that_do_not_match_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let clones = p.join("clones");
    let ana = git_repo_with_commit(&clones.join("ana/day11"));
    let ben = git_repo_with_commit(&clones.join("ben/day11"));
    std::fs::write(
        p.join("roster.csv"),
        "learner,repository\nana,ana/day11\nben,ben/day11\n=cleo,cleo/day11\ndan,dan/day11\n",
    )
    .unwrap();
    fake_ci_result(&p.join("r-ana"), "ana/day11", "ana", &ana);
    // Owner forged: ben's repository, but the runner says someone else owns it.
    fake_ci_result(&p.join("r-ben"), "ben/day11", "mallory", &ben);
    // A commit that is not in the repository's history.
    fake_ci_result(&p.join("r-cleo"), "cleo/day11", "cleo", &"a".repeat(40));
    // A repository nobody on the roster owns.
    fake_ci_result(&p.join("r-eve"), "eve/day11", "eve", &"b".repeat(40));
    let out = p.join("grades");
    let o = lab()
        .args(["ci", "collect", "--roster"])
        .arg(p.join("roster.csv"))
        .arg("--out")
        .arg(&out)
        .arg("--clones")
        .arg(&clones)
        .args([
            p.join("r-ana"),
            p.join("r-ben"),
            p.join("r-cleo"),
            p.join("r-eve"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "flagged results fail the command");
    let grades = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    let flagged = std::fs::read_to_string(out.join("flagged.csv")).unwrap();
    assert!(
        grades.starts_with("learner,repository,commit,dockerfile,build"),
        "{grades}"
    );
    let ana_row = grades.lines().find(|l| l.starts_with("ana,")).unwrap();
    assert!(
        ana_row.contains(&ana) && ana_row.ends_with(",1,7"),
        "{ana_row}"
    );
    for (who, why) in [
        ("ben", "mallory"),
        ("cleo", "not in the history"),
        ("eve", "not on the roster"),
    ] {
        assert!(
            flagged.lines().any(|l| l.contains(who) && l.contains(why)),
            "{who}: {flagged}"
        );
    }
    // Flagged learners are not merged: no score, no Gradescope file.
    assert!(
        grades
            .lines()
            .any(|l| l.starts_with("ben,") && l.ends_with(",0,")),
        "{grades}"
    );
    assert!(
        grades.contains("'=cleo"),
        "CSV cells are neutralised: {grades}"
    );
    assert!(out.join("gradescope/ana.json").exists());
    assert!(!out.join("gradescope/ben.json").exists());
    let gs: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gradescope/ana.json")).unwrap())
            .unwrap();
    assert_eq!(gs["score"], 1, "{gs:#}");
}
