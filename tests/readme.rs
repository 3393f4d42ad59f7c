//! The README's commands are commands a test runs: the main one (scripts/demo.sh) plays the
//! whole lab for real and grades it all PASS; its `clean` removes what it made.

use std::process::Command;

use crate::common::*;

#[test]
fn the_readme_shows_the_commands_tested_here() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for cmd in [
        "scripts/demo.sh",
        "scripts/test.sh",
        "scripts/demo.sh clean",
        "lab check day11",
    ] {
        assert!(readme.contains(cmd), "README lacks {cmd}");
    }
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.contains("scripts/test.sh"),
        "CI runs the README's test command"
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_readme_main_command_plays_the_lab_and_grades_it() {
    let _lock = engine_lock();
    // The demo's workspace of this test, not the repository's .lab/day11-demo (a demo that is
    // up, which this test must not touch).
    let parent = tempfile::tempdir().unwrap();
    let ws = parent.path().join("day11-demo");
    let out = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .env("LAB_BIN", lab_bin())
        .env("LAB_DEMO_DIR", &ws)
        .env("SRE_LAB_STATE_DIR", state_dir())
        .env("LAB_NAMESPACE", "readme-test")
        .env("NO_COLOR", "1")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let text = both(&out);
    let clean = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .arg("clean")
        .env("LAB_BIN", lab_bin())
        .env("LAB_DEMO_DIR", &ws)
        .env("SRE_LAB_STATE_DIR", state_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("7 of 7 steps passed"), "{text}");
    for shown in [
        "docker build -t python-docker-app .",
        "docker run -d",
        "docker push localhost:5001/readme-test/python-docker-app:v1",
        "up --build -d",
        "pip install",
    ] {
        assert!(text.contains(shown), "the demo shows `{shown}`:\n{text}");
    }
    assert!(clean.status.success());
    assert!(!ws.exists(), "clean removed the workspace");
    assert!(docker(&["ps", "-aq", "--filter", "name=day11-web"]).is_empty());
}
