//! The built-in runtime cleans up: a probe container is removed when `lab check` is
//! interrupted with Ctrl-C (SIGINT) or stopped with SIGTERM while the probe waits.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

fn interrupt_during_probe(t: TestLab, signal: i32) {
    let mut mess = EngineMess::default();
    let ws = t.solution();
    // An image whose app never answers: the probe waits for its whole deadline.
    ws.edit(
        "Dockerfile",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        r#"CMD ["python3", "-c", "import time; time.sleep(120)"]"#,
    );
    mess.image(&t.image);
    build(&ws, &t.image);
    assert!(t.probes().is_empty());

    let mut child = t
        .lab_command()
        .args(["check", "day11", "--step", "run", "--dir"])
        .arg(ws.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while t.probes().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no probe container appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "lab exits 130 when interrupted");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "it stopped at once, not at the probe's deadline"
    );
    assert!(t.probes().is_empty(), "the probe container was removed");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn ctrl_c_removes_the_probe_container() {
    interrupt_during_probe(TestLab::new("sigint"), libc::SIGINT);
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn sigterm_removes_the_probe_container() {
    interrupt_during_probe(TestLab::new("sigterm"), libc::SIGTERM);
}
