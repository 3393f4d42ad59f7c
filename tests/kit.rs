//! The offline room kit, end to end: built on the (connected) test engine, then installed and
//! used on an engine of its own in a network namespace with loopback only: no base image, no
//! registry, no pip cache, and no way out. The whole lab is played there with the reference
//! solution and graded 7 of 7. Checks that must fail prove the cut.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use crate::common::*;

const OFFLINE_NS: &str = "/var/run/netns/sre-lab-offline";
const OFFLINE_ENGINE: &str = "unix:///run/sre-lab-offline/docker.sock";

/// A command in the offline namespace, against the offline engine, with its own HOME.
fn offline(home: &Path, program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new("nsenter")
        .arg(format!("--net={OFFLINE_NS}"))
        .arg("--")
        .arg("env")
        // As after `. ~/.sre-lab/kit/env`: the machine's own pip variables do not apply.
        .args(["-u", "PIP_INDEX_URL", "-u", "PIP_EXTRA_INDEX_URL"])
        .args(["-u", "PIP_FIND_LINKS", "-u", "PIP_NO_INDEX"])
        .arg(format!("DOCKER_HOST={OFFLINE_ENGINE}"))
        .arg(format!("HOME={}", home.display()))
        .arg(format!(
            "SRE_LAB_STATE_DIR={}",
            home.join("state").display()
        ))
        .arg(format!("XDG_CACHE_HOME={}", home.join("cache").display()))
        .arg(format!(
            "PIP_CONFIG_FILE={}",
            home.join(".sre-lab/kit/pip.conf").display()
        ))
        .arg("NO_COLOR=1")
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(what: &str, out: Output) -> String {
    let text = both(&out);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

struct OfflineEngine;

/// `lab kit uninstall` when the test ends, passed or failed: an install starts the kit's
/// registry, which would outlive a failed test (and the namespace) otherwise. Declared after
/// the engine's guard, so it runs first.
struct KitInstalled<'a> {
    home: &'a Path,
    here: &'a Path,
}

impl Drop for KitInstalled<'_> {
    fn drop(&mut self) {
        let lab = lab_bin();
        let _ = offline(
            self.home,
            &lab.to_string_lossy(),
            &["kit", "uninstall"],
            self.here,
        );
    }
}

impl Drop for OfflineEngine {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/test-engine.sh"))
            .arg("offline-stop")
            .output();
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_room_with_no_network_does_the_whole_lab_from_the_kit() {
    let kit = tempfile::tempdir().unwrap();
    let kit_dir = kit.path().join("kit");
    // 1. Build the kit on the connected test engine (it builds and saves an image there).
    let (build_secs, online_build_secs) = {
        let _lock = engine_lock();
        let mut mess = EngineMess::default();
        mess.image("sre-lab/python:3.9-slim-kit");
        let start = Instant::now();
        let out = lab()
            .args(["kit", "build"])
            .arg(&kit_dir)
            .timeout(std::time::Duration::from_secs(900))
            .output()
            .unwrap();
        let build_secs = start.elapsed().as_secs_f64();
        let text = ok("lab kit build", out);
        assert!(text.contains("[7/7] the manifest"), "{text}");
        assert!(text.contains("Kit ready"), "{text}");
        // For comparison: the lesson's build online, pip from PyPI, no layer cache.
        let ws = Workspace::solution();
        let start = Instant::now();
        let out = docker_raw(
            &[
                "build",
                "-q",
                "--no-cache",
                "-t",
                "sre-lab-test-online-build",
                ".",
            ],
            Some(ws.path()),
        );
        assert!(out.status.success());
        mess.image("sre-lab-test-online-build");
        (build_secs, start.elapsed().as_secs_f64())
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kit_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["arch"], std::env::consts::ARCH);
    assert_eq!(
        manifest["pythons"],
        serde_json::json!(["3.9", "3.10", "3.11", "3.12", "3.13"])
    );
    assert!(manifest["glibc"].as_str().unwrap().starts_with("glibc "));
    let files = manifest["files"].as_object().unwrap();
    for f in [
        "bin/lab",
        "bin/docker-registry",
        "book/index.html",
        "workspace/requirements.txt",
    ] {
        assert!(files.contains_key(f), "the kit holds {f}");
    }
    assert!(files
        .keys()
        .any(|f| f.starts_with("images/python-3.9-slim-kit-") && f.ends_with(".tar")));
    assert!(
        files
            .keys()
            .any(|f| f.to_lowercase().contains("markupsafe") && f.contains("cp313")),
        "wheels for 3.13"
    );
    assert!(
        files
            .keys()
            .any(|f| f.to_lowercase().contains("markupsafe") && f.contains("cp39")),
        "wheels for the image's 3.9"
    );
    let size: u64 = files
        .keys()
        .map(|f| std::fs::metadata(kit_dir.join(f)).unwrap().len())
        .sum();

    // 2. A new engine with nothing, in a namespace with no way out.
    let _engine = OfflineEngine;
    ok(
        "offline engine",
        Command::new("bash")
            .arg(repo().join("scripts/test-engine.sh"))
            .arg("offline-start")
            .output()
            .unwrap(),
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let here = kit.path();
    // The cut is real: PyPI is out of reach from the namespace.
    let py = offline(
        h,
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "--no-cache-dir",
            "--isolated",
            "-d",
            "/tmp/never",
            "six",
        ],
        here,
    );
    assert!(
        !py.status.success(),
        "pip download must fail in the offline namespace"
    );
    let out = offline(h, "docker", &["images", "-q"], here);
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "the offline engine starts with no image"
    );

    // Port 5001 held by another program: a clear error naming the port, nothing half-done
    // that the next install cannot repair.
    let mut squatter = Command::new("nsenter")
        .arg(format!("--net={OFFLINE_NS}"))
        .args([
            "--",
            "python3",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "5001",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _installed = KitInstalled { home: h, here };
    let lab_path = lab_bin();
    let out = offline(
        h,
        lab_path.to_str().unwrap(),
        &["kit", "install", kit_dir.to_str().unwrap()],
        here,
    );
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("port 5001 is taken by another program"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. Install the kit (twice: it is idempotent) and check the machine.
    let start = Instant::now();
    let lab = lab_bin();
    let lab = lab.to_str().unwrap();
    let text = ok(
        "lab kit install",
        offline(h, lab, &["kit", "install", kit_dir.to_str().unwrap()], here),
    );
    let install_secs = start.elapsed().as_secs_f64();
    assert!(
        text.contains("python:3.9-slim is now the kit's image"),
        "{text}"
    );
    ok(
        "lab kit install again",
        offline(h, lab, &["kit", "install", kit_dir.to_str().unwrap()], here),
    );
    let doctor = offline(h, lab, &["doctor", "day11"], here);
    let doctor = String::from_utf8_lossy(&doctor.stdout).to_string();
    assert!(doctor.contains("offline kit installed"), "{doctor}");
    assert!(
        doctor.contains("ready: base image, registry, pip wheels"),
        "{doctor}"
    );
    // A container of the kit's image cannot reach PyPI either.
    let out = offline(
        h,
        "docker",
        &[
            "run",
            "--rm",
            "python:3.9-slim",
            "pip",
            "download",
            "--isolated",
            "--no-cache-dir",
            "--timeout",
            "5",
            "-d",
            "/tmp/never",
            "six",
        ],
        here,
    );
    assert!(!out.status.success(), "a container must not reach PyPI");

    // 4. Play the lab with the reference solution, offline.
    let ws = here.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    ok(
        "copy workspace",
        Command::new("cp")
            .arg("-r")
            .arg(kit_dir.join("workspace/."))
            .arg(&ws)
            .output()
            .unwrap(),
    );
    for f in ["Dockerfile", ".dockerignore", "compose.yaml"] {
        std::fs::copy(repo().join("labs/day11/solution").join(f), ws.join(f)).unwrap();
    }
    let start = Instant::now();
    ok(
        "docker build offline",
        offline(
            h,
            "docker",
            &["build", "-q", "-t", "python-docker-app", "."],
            &ws,
        ),
    );
    let offline_build_secs = start.elapsed().as_secs_f64();
    ok(
        "docker run",
        offline(
            h,
            "docker",
            &[
                "run",
                "-d",
                "--name",
                "day11-web",
                "-p",
                "5000:5000",
                "python-docker-app",
            ],
            &ws,
        ),
    );
    let tag = "localhost:5001/offline/python-docker-app:v1";
    ok(
        "docker tag",
        offline(h, "docker", &["tag", "python-docker-app:latest", tag], &ws),
    );
    ok("docker push", offline(h, "docker", &["push", tag], &ws));
    let (r, _) = {
        let out = offline(
            h,
            lab,
            &[
                "check",
                "day11",
                "--step",
                "run",
                "--format",
                "json",
                "--dir",
                ws.to_str().unwrap(),
            ],
            &ws,
        );
        (
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
            0,
        )
    };
    assert_eq!(status(&r, "run"), "pass", "{r:#}");
    ok(
        "docker stop",
        offline(h, "docker", &["stop", "day11-web"], &ws),
    );
    ok(
        "compose up",
        offline(h, "docker-compose", &["up", "--build", "-d"], &ws),
    );
    ok("venv", offline(h, "python3", &["-m", "venv", ".venv"], &ws));
    ok(
        "pip install -e . offline",
        offline(h, ".venv/bin/pip", &["install", "--quiet", "-e", "."], &ws),
    );
    let out = offline(
        h,
        lab,
        &[
            "check",
            "day11",
            "--format",
            "json",
            "--dir",
            ws.to_str().unwrap(),
            "--python",
            ws.join(".venv/bin/python").to_str().unwrap(),
            "--image",
            tag,
        ],
        &ws,
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        r["summary"]["passed"], 7,
        "all seven core steps pass offline: {r:#}"
    );
    let _ = offline(h, "docker-compose", &["down"], &ws);
    ok(
        "lab kit uninstall",
        offline(h, lab, &["kit", "uninstall"], here),
    );

    eprintln!(
        "kit: {:.0} MiB; lab kit build {:.0} s; lab kit install {:.1} s; docker build offline {:.1} s vs online (no cache) {:.1} s",
        size as f64 / (1024.0 * 1024.0),
        build_secs,
        install_secs,
        offline_build_secs,
        online_build_secs
    );
}
