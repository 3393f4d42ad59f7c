//! Podman, where it can be tested here: build, tag and push with the Podman CLI against the
//! test engine's own Podman API service, then `lab check` through that socket (Podman cannot
//! run containers on these machines, so the run and compose steps are not played).

use std::process::Command;

use crate::common::*;

fn podman_socket() -> String {
    require_test_engine();
    std::env::var("SRE_LAB_TEST_PODMAN")
        .expect("SRE_LAB_TEST_PODMAN: run through scripts/test-engine.sh run")
}

/// The learner's Podman CLI, talking to the test's own Podman service.
fn podman(args: &[&str], dir: &std::path::Path) -> String {
    let mut podman = Command::new("podman");
    podman
        .args(["--remote", "--url", &podman_socket()])
        .args(args);
    let out = run_ok(podman.current_dir(dir), &format!("podman {args:?}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes what a Podman test made: its tags (and so its images) and its registry tags.
struct PodmanMess(Vec<String>, std::path::PathBuf);

impl Drop for PodmanMess {
    fn drop(&mut self) {
        for r in &self.0 {
            if r.starts_with("localhost:") {
                delete_from_registry(r);
            }
            let _ = Command::new("podman")
                .args(["--remote", "--url", &podman_socket(), "rmi", "-f", r])
                .current_dir(&self.1)
                .output();
        }
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn podman_builds_tags_and_pushes_are_graded_like_dockers() {
    let _lock = engine_lock();
    let ws = Workspace::solution();
    let tag = "localhost:5001/podman/python-docker-app:v1";
    let _mess = PodmanMess(
        vec!["python-docker-app:latest".into(), tag.into()],
        ws.path().to_path_buf(),
    );
    podman(&["build", "-q", "-t", "python-docker-app", "."], ws.path());
    podman(&["tag", "python-docker-app:latest", tag], ws.path());
    let grade = || {
        let out = lab()
            .env("DOCKER_HOST", podman_socket())
            .args(["check", "day11", "--format", "json", "--dir"])
            .arg(ws.path())
            .args([
                "--step", "build", "--step", "tag", "--step", "push", "--step", "size",
            ])
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        r
    };
    // Not pushed yet: a wrong answer is still wrong on Podman.
    let r = grade();
    assert!(
        r["engine"].as_str().unwrap().starts_with("Podman 4."),
        "the engine is named by its version endpoint: {}",
        r["engine"]
    );
    assert_eq!(status(&r, "build"), "pass", "{r:#}");
    assert_eq!(status(&r, "tag"), "pass", "{r:#}");
    // Podman's image history reads like Docker's: the added layers are weighed the same way.
    assert_eq!(status(&r, "size"), "pass", "{r:#}");
    assert!(
        text_of(check(&r, "size.added")).contains("RUN pip install"),
        "{r:#}"
    );
    assert_diagnosis(
        &r,
        "push.registry",
        &["not pushed"],
        "podman, before the push",
    );

    // Podman re-encodes layers on push, so its manifest digest is not its RepoDigests entry;
    // the push is judged by the manifest's config digest, which is the image id.
    podman(&["push", "-q", "--tls-verify=false", tag], ws.path());
    let r = grade();
    for s in ["build", "tag", "push"] {
        assert_eq!(status(&r, s), "pass", "{s}: {r:#}");
    }

    // Rebuilt after tagging: the tag (and the pushed image) are an older build.
    ws.edit("src/main.py", "Hello from", "Hi from");
    podman(&["build", "-q", "-t", "python-docker-app", "."], ws.path());
    let r = grade();
    assert_diagnosis(
        &r,
        "tag.tag",
        &["tagged before the image was rebuilt"],
        "podman rebuild",
    );
}
