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
fn the_readme_main_command_plays_the_lab_and_grades_it() {
    let _lock = engine_lock();
    let out = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .env("LAB_BIN", lab_bin())
        .env("LAB_NAMESPACE", "readme-test")
        .env("NO_COLOR", "1")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .arg("clean")
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
    assert!(
        !repo().join(".lab/day11-demo").exists(),
        "clean removed the workspace"
    );
    assert!(docker(&["ps", "-aq", "--filter", "name=sre-lab-demo-run"]).is_empty());
}
