//! The learner's loop and the instructor's tools: start, hint, solution, status, list, watch,
//! reset, doctor, contexts, completions and the man page.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::common::*;

/// `lab` with its progress kept in `state`.
fn lab_with_state(state: &std::path::Path) -> assert_cmd::Command {
    let mut c = lab();
    c.env("SRE_LAB_STATE_DIR", state);
    c
}

#[test]
fn start_makes_a_workspace_without_the_answers_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("day11");
    lab()
        .args(["start", "day11"])
        .arg(&ws)
        .assert()
        .success()
        .stdout(contains("lab check day11 --step dockerfile"));
    assert!(ws.join("src/main.py").is_file() && ws.join("requirements.txt").is_file());
    for absent in [
        "Dockerfile",
        "compose.yaml",
        "docker-compose.yml",
        ".dockerignore",
    ] {
        assert!(
            !ws.join(absent).exists(),
            "{absent} is the learner's to write"
        );
    }
    assert!(!std::fs::read_dir(&ws)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".egg-info")));

    std::fs::write(ws.join("src/main.py"), "# my work\n").unwrap();
    lab()
        .args(["start", "day11"])
        .arg(&ws)
        .assert()
        .code(1)
        .stderr(contains("src/main.py"))
        .stderr(contains("nothing was changed"));
    assert_eq!(
        std::fs::read_to_string(ws.join("src/main.py")).unwrap(),
        "# my work\n"
    );
}

#[test]
fn hints_go_one_step_further_each_time_then_point_to_the_solution() {
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::sample_app();
    let hint = || {
        lab_with_state(state.path())
            .args(["hint", "day11", "dockerfile", "--dir"])
            .arg(ws.path())
            .output()
            .unwrap()
    };
    let first = String::from_utf8(hint().stdout).unwrap();
    assert!(
        first.contains("Hint 1 of 3") && !first.contains("Hint 2 of 3"),
        "{first}"
    );
    let second = String::from_utf8(hint().stdout).unwrap();
    assert!(second.contains("Hint 2 of 3"), "{second}");
    let third = String::from_utf8(hint().stdout).unwrap();
    assert!(
        third.contains("Hint 3 of 3") && third.contains("lab solution day11 dockerfile"),
        "{third}"
    );
    let fourth = String::from_utf8(hint().stdout).unwrap();
    assert!(!fourth.contains("Hint 4"), "{fourth}");
    lab_with_state(state.path())
        .args(["status", "--dir"])
        .arg(ws.path())
        .assert()
        .success()
        .stdout(contains("3 hint(s) shown"));
    lab()
        .args(["hint", "day11", "nope"])
        .assert()
        .code(2)
        .stderr(contains("its steps are"));
}

#[test]
fn solution_shows_the_answer_and_why_it_is_right() {
    lab()
        .args(["solution", "day11", "dockerfile"])
        .assert()
        .success()
        .stdout(contains(
            r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        ))
        .stdout(contains(".dockerignore"))
        .stdout(contains("Why:"));
    lab()
        .args(["solution", "day11", "compose"])
        .assert()
        .success()
        .stdout(contains("docker compose up --build -d"))
        .stdout(contains("compose.yaml"));
}

#[test]
fn status_and_list_show_progress_and_a_damaged_file_is_replaced() {
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::solution();
    lab_with_state(state.path())
        .args(["check", "day11", "--step", "dockerfile", "--dir"])
        .arg(ws.path())
        .assert()
        .success();
    // Steps graded in another order are listed in the lab's, not alphabetically (`build` is
    // recorded as an error here: the engine named is not there).
    lab_with_state(state.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["check", "day11", "--step", "build", "--dir"])
        .arg(ws.path())
        .assert()
        .failure();
    let out = lab_with_state(state.path())
        .args(["status", "--dir"])
        .arg(ws.path())
        .assert()
        .success()
        .stdout(contains("PASS  dockerfile"))
        .stdout(contains("first passed"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.find("dockerfile").unwrap() < text.find("build").unwrap(),
        "lab order: {text}"
    );
    lab_with_state(state.path())
        .args(["list", "--dir"])
        .arg(ws.path())
        .assert()
        .success()
        .stdout(contains("(1/7 passed here)"));

    let file = std::fs::read_dir(state.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&file, "{ this is not json").unwrap();
    lab_with_state(state.path())
        .args(["status", "--dir"])
        .arg(ws.path())
        .assert()
        .success()
        .stderr(contains("damaged"))
        .stdout(contains("No checks recorded"));
    lab_with_state(state.path())
        .args(["check", "day11", "--step", "dockerfile", "--dir"])
        .arg(ws.path())
        .assert()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"format_version\": 1"), "rebuilt: {text}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn reset_removes_what_the_lab_made_and_nothing_else() {
    let t = TestLab::new("reset");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    // Things that are not the lab's.
    let unrelated = t.name("unrelated");
    let unrelated_tag = format!("{unrelated}:1");
    mess.container(&unrelated);
    docker(&[
        "run",
        "-d",
        "--name",
        &unrelated,
        "python:3.9-slim",
        "sleep",
        "300",
    ]);
    mess.image(&unrelated_tag);
    docker(&["tag", "python:3.9-slim", &unrelated_tag]);
    docker(&["volume", "create", &unrelated]);
    // Things the lab made.
    let run = t.name("run");
    let ws = t.solution();
    build(&ws, image);
    docker(&["run", "-d", "--name", &run, image, "sleep", "300"]);
    let tag = &format!("localhost:5001/reset/{image}:v1");
    docker(&["tag", image, tag]);
    mess.pushed(tag);
    docker(&["push", tag]);

    // Without --yes and without a terminal: nothing happens.
    t.lab()
        .args(["reset", "day11", "--dir"])
        .arg(ws.path())
        .assert()
        .code(2)
        .stdout(contains(&run))
        .stderr(contains("--yes"));
    assert!(!docker(&["ps", "-aq", "--filter", &format!("name={run}")]).is_empty());

    let out = t
        .lab()
        .args(["reset", "day11", "--yes", "--dir"])
        .arg(ws.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for listed in [&run, &t.latest(), tag, "registry tag"] {
        assert!(text.contains(listed), "lists {listed}: {text}");
    }
    assert!(docker(&["ps", "-aq", "--filter", &format!("name={run}")]).is_empty());
    assert!(docker_raw(&["image", "inspect", image], None).status.code() != Some(0));
    let tags = Command::new("curl")
        .args([
            "-s",
            &format!("http://localhost:5001/v2/reset/{image}/tags/list"),
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&tags.stdout).contains("v1"),
        "the registry tag is gone"
    );
    // The rest survived.
    assert!(!docker(&["ps", "-q", "--filter", &format!("name={unrelated}")]).is_empty());
    assert!(docker_raw(&["image", "inspect", &unrelated_tag], None)
        .status
        .success());
    assert!(docker_raw(&["image", "inspect", "python:3.9-slim"], None)
        .status
        .success());
    assert!(docker_raw(&["volume", "inspect", &unrelated], None)
        .status
        .success());
    docker(&["volume", "rm", &unrelated]);
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn doctor_says_which_engine_and_fails_when_it_is_missing() {
    require_test_engine();
    lab()
        .env("DOCKER_CONFIG", tempfile::tempdir().unwrap().path())
        .arg("doctor")
        .assert()
        .success()
        .stdout(contains("from DOCKER_HOST"))
        .stdout(contains("base image"))
        .stdout(contains("Ready for the lab"));
    lab()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(contains("FAIL  engine"))
        .stdout(contains("fix:"));
}

fn write_context(config: &std::path::Path, name: &str, host: &str) {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config.join("contexts/meta").join(hash);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("meta.json"), serde_json::json!({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}}).to_string()).unwrap();
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({"currentContext": name}).to_string(),
    )
    .unwrap();
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_current_docker_context_is_followed_like_the_docker_cli() {
    require_test_engine();
    let config = tempfile::tempdir().unwrap();
    let engine = std::env::var("SRE_LAB_TEST_ENGINE").unwrap();
    write_context(config.path(), "lab-test", &engine);
    lab()
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", config.path())
        .arg("doctor")
        .assert()
        .success()
        .stdout(contains("from docker context \"lab-test\""));
    let broken = tempfile::tempdir().unwrap();
    write_context(broken.path(), "gone", "unix:///nonexistent/colima.sock");
    lab()
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", broken.path())
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(contains("docker context \"gone\""));
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn watch_regrades_when_a_file_changes_and_quits_on_q() {
    // Other tests change the engine meanwhile: they wake the watcher, which re-grades and stays
    // quiet, because nothing of this lab's changed.
    let t = TestLab::new("watch");
    let ws = t.sample_app();
    let state = tempfile::tempdir().unwrap();
    let mut child = t
        .lab_command()
        .args(["watch", "day11", "--dir"])
        .arg(ws.path())
        .env("SRE_LAB_STATE_DIR", state.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| {
        let start = Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
        }
        panic!(
            "lab watch never printed {needle:?}; it printed:\n{}",
            seen.join("\n")
        );
    };
    wait_for("now: dockerfile");
    wait_for("read: book/src/dockerfile.md");
    // Nothing changes: nothing is printed (quiet), until the learner writes the Dockerfile.
    std::thread::sleep(Duration::from_millis(2500));
    let noise: Vec<String> = rx.try_iter().collect();
    assert!(
        noise.is_empty(),
        "quiet when nothing changed, but printed: {noise:?}"
    );
    std::fs::copy(
        repo().join("labs/day11/solution/Dockerfile"),
        ws.path().join("Dockerfile"),
    )
    .unwrap();
    let seen = wait_for("after a change to Dockerfile");
    let next = wait_for("dockerfile PASS");
    assert!(
        seen.iter()
            .chain(&next)
            .any(|l| l.contains("dockerfile PASS")),
        "{seen:?} {next:?}"
    );
    // An engine event wakes it too: building the image (the build step changes).
    let mut mess = EngineMess::default();
    mess.image(&t.image);
    build(&ws, &t.image);
    wait_for("build PASS");
    // Engine events about other things re-grade nothing. The workspace's progress file, saved
    // after every grading, shows it: it stays as it is.
    let progress = || {
        let file = std::fs::read_dir(state.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("the progress file");
        std::fs::metadata(file).unwrap().modified().unwrap()
    };
    // The build's burst re-grades the engine steps (a probe included): wait until the file
    // has been still for two seconds.
    let mut before = progress();
    let mut still = Instant::now();
    let settling = Instant::now();
    while still.elapsed() < Duration::from_secs(2) {
        assert!(
            settling.elapsed() < Duration::from_secs(60),
            "lab watch kept re-grading"
        );
        std::thread::sleep(Duration::from_millis(100));
        let now = progress();
        if now != before {
            (before, still) = (now, Instant::now());
        }
    }
    let unrelated = format!("{}:1", t.name("unrelated"));
    mess.image(&unrelated);
    docker(&["tag", "python:3.9-slim", &unrelated]);
    docker(&["run", "--rm", "python:3.9-slim", "true"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        progress(),
        before,
        "an unrelated image and container re-graded the lab"
    );
    // One about the lab's image does: a tag.
    let tag = format!("localhost:5001/e2e/{}:v1", t.image);
    mess.image(&tag);
    docker(&["tag", &t.image, &tag]);
    let start = Instant::now();
    while progress() == before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "tagging the lab's image re-graded nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.stdin.as_mut().unwrap().write_all(b"h\n").unwrap();
    wait_for("Hint 1 of");
    child.stdin.as_mut().unwrap().write_all(b"q\n").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lab watch did not quit on q"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

#[test]
fn completions_and_the_man_page_come_from_the_cli_definition() {
    lab()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(contains("_lab()"))
        .stdout(contains("watch"));
    lab()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(contains("#compdef lab"));
    lab()
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH lab"))
        .stdout(contains("doctor"));
}

#[test]
fn an_installed_lab_works_outside_its_clone_with_the_labs_built_in() {
    // `cargo install` copies only the binary: put it where no labs/ is near, with no
    // LAB_LABS_DIR, and it still knows the lab and can start a workspace.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("lab");
    std::fs::copy(lab_bin(), &bin).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::new(&bin)
            .args(args)
            .env_remove("LAB_LABS_DIR")
            .env("XDG_CACHE_HOME", cache.path())
            .env("SRE_LAB_STATE_DIR", state_dir())
            .env("NO_COLOR", "1")
            .current_dir(ws.path())
            .assert()
    };
    run(&["list"]).success().stdout(contains("day11"));
    run(&["start", "day11", "w"]).success();
    assert!(ws.path().join("w/requirements.txt").is_file());
    assert!(
        !ws.path().join("w/Dockerfile").exists(),
        "the learner writes it"
    );
    run(&["solution", "day11", "dockerfile"])
        .success()
        .stdout(contains("FROM python:3.9-slim"));
    assert!(
        cache.path().join("sre-lab/embedded-labs").is_dir(),
        "unpacked into the cache"
    );
}
