//! `lab watch`: re-grade as the learner works.
//!
//! It grades once, then waits for a reason to grade again: a file in the workspace changed
//! (polled once a second; caches and virtual environments ignored) or the engine reported an
//! event that matters (an image built, tagged or pushed, a container started or died). Triggers
//! are debounced, and the status is printed only when it changed, so a quiet workspace gives a
//! quiet terminal. Keys: `h` the next hint for the current step, `c` the full report, `q` quit
//! (on a terminal single keys work; otherwise, one letter per line on stdin).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use std::sync::Arc;

use super::check::color_wanted;
use super::{connect, interrupted, load_lab, run_grade};
use crate::error::Result;
use crate::exit;
use crate::grade::{Cache, EngineState, Request};
use crate::lab::Lab;
use crate::report::{self, Report, Status};
use crate::state::State;
use crate::workspace::DirArg;

/// A fingerprint of the workspace's files (the one walker's): path to (size, mtime).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    crate::walk::files(dir, Path::new(""), 20_000)
        .into_iter()
        .filter_map(|rel| {
            let m = std::fs::symlink_metadata(dir.join(&rel)).ok()?;
            Some((dir.join(rel), (m.len(), m.modified().ok())))
        })
        .collect()
}

/// Terminal keys without Enter: canonical mode and echo off, restored on drop.
struct RawKeys {
    saved: Option<libc::termios>,
}

impl RawKeys {
    fn enable() -> RawKeys {
        // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed termios they fill in.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawKeys { saved: None };
            }
            let saved = t;
            t.c_lflag &= !(libc::ICANON | libc::ECHO);
            t.c_cc[libc::VMIN] = 1;
            t.c_cc[libc::VTIME] = 0;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawKeys { saved: Some(saved) }
        }
    }
}

impl Drop for RawKeys {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring the settings read in `enable`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

/// Keys from stdin on a thread (blocking reads), as single characters.
fn keys() -> mpsc::Receiver<char> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1];
        let mut stdin = std::io::stdin();
        while let Ok(1) = stdin.read(&mut buf) {
            let c = buf[0] as char;
            if !c.is_whitespace() && tx.blocking_send(c).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first step that does not pass, in lab order.
fn current(report: &Report) -> Option<&report::StepReport> {
    report.steps.iter().find(|s| s.status != Status::Pass)
}

/// What the watcher prints: compact, and equal when nothing changed.
fn summary(report: &Report) -> String {
    let line: Vec<String> = report
        .steps
        .iter()
        .map(|s| format!("{} {}", s.id, s.status.word()))
        .collect();
    let mut out = line.join(" | ");
    match current(report) {
        None => out.push_str("\n  every step passes. Well done!"),
        Some(step) => {
            out.push_str(&format!("\n  now: {} ({})", step.id, step.title));
            if let Some(c) = step
                .checks
                .iter()
                .find(|c| matches!(c.status, Status::Fail | Status::Error | Status::Skip))
            {
                out.push_str(&format!("\n  {}: {}", c.id, c.message));
                if let Some(h) = &c.hint {
                    out.push_str(&format!("\n  fix: {h}"));
                }
            }
            out.push_str(&format!("\n  read: book/src/{}", step.book));
        }
    }
    out
}

fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

async fn grade_once(
    lab: &Lab,
    dir: &Path,
    python: &Option<PathBuf>,
    cache: &Arc<Cache>,
) -> Result<Report> {
    let req = Request {
        dir: dir.to_path_buf(),
        python: python.clone(),
        ..Request::default()
    };
    let r = run_grade(lab, req, cache.clone(), None, false).await?;
    let mut state = State::load(dir);
    state.record(&r);
    let _ = state.save(dir);
    Ok(r)
}

/// `lab watch LAB`.
pub async fn run(lab_id: &str, dir_arg: &DirArg, python: Option<PathBuf>) -> Result {
    let lab = load_lab(lab_id)?;
    let ws = dir_arg.workspace()?;
    let dir = ws.path().to_path_buf();
    // One cache for the session: an image id already proven to serve is not probed again.
    let cache = Arc::new(Cache::persistent());
    let _raw = std::io::stdin().is_terminal().then(RawKeys::enable);
    let mut keys = keys();
    let mut events = match connect().await {
        EngineState::Connected { engine, .. } => engine.events(),
        _ => mpsc::channel(1).1,
    };
    println!(
        "Watching {} for lab {lab_id}. Keys: h hint, c full check, q quit.",
        dir.display()
    );
    let mut last = String::new();
    let mut report = None;
    let mut files = snapshot(&dir);
    let mut trigger = Some("start".to_string());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // A quiet watch tells the room every minute that the learner is still there.
    let mut heartbeat = tokio::time::interval(Duration::from_secs(60));
    heartbeat.tick().await;
    loop {
        if let Some(why) = trigger.take() {
            // Debounce: a build or an editor save comes as a burst of changes.
            tokio::time::sleep(Duration::from_millis(400)).await;
            while events.try_recv().is_ok() {}
            files = snapshot(&dir);
            let r = grade_once(&lab, &dir, &python, &cache).await?;
            super::classroom::report_to_room(&dir, Some(&r)).await;
            heartbeat.reset();
            let s = summary(&r);
            if s != last {
                println!("\n[{}] after {why}:\n{s}", clock());
                last = s;
            }
            report = Some(r);
        }
        tokio::select! {
            _ = interrupted() => return Err(crate::error::Error::Interrupted),
            _ = heartbeat.tick() => super::classroom::heartbeat(&dir).await,
            _ = tick.tick() => {
                let now = snapshot(&dir);
                if now != files {
                    let changed = now.iter().find(|(p, v)| files.get(*p) != Some(v)).map(|(p, _)| p.clone())
                        .or_else(|| files.keys().find(|p| !now.contains_key(*p)).cloned());
                    let name = changed.and_then(|p| p.strip_prefix(&dir).ok().map(|r| r.display().to_string())).unwrap_or_default();
                    trigger = Some(format!("a change to {name}"));
                }
            }
            Some(ev) = events.recv() => trigger = Some(ev),
            key = keys.recv() => match key {
                None | Some('q') => {
                    println!("bye");
                    return Ok(exit::PASSED);
                }
                Some('c') => {
                    if let Some(r) = &report {
                        println!("{}", report::human::render(r, color_wanted()));
                    }
                }
                Some('h') => {
                    if let Some(step) = report.as_ref().and_then(current) {
                        super::hint::run(lab_id, &step.id, dir_arg)?;
                    } else {
                        println!("every step passes: no hint needed");
                    }
                }
                Some(other) => println!("unknown key {other:?}: h hint, c full check, q quit"),
            },
        }
    }
}
