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

/// OS file events for the workspace (inotify, FSEvents, kqueue through `notify`), as the
/// changed paths; caches and virtual environments are left out. `None` when the OS refuses
/// (then `lab watch` polls once a second instead).
fn file_events(
    dir: &Path,
) -> Option<(notify::RecommendedWatcher, mpsc::UnboundedReceiver<PathBuf>)> {
    use notify::Watcher;
    let (tx, rx) = mpsc::unbounded_channel();
    let root = dir.to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return;
        }
        for p in ev.paths {
            let rel = p.strip_prefix(&root).unwrap_or(&p);
            if rel
                .components()
                .any(|c| crate::walk::skipped(&c.as_os_str().to_string_lossy()))
            {
                continue;
            }
            let _ = tx.send(rel.to_path_buf());
        }
    })
    .ok()?;
    w.watch(dir, notify::RecursiveMode::Recursive).ok()?;
    Some((w, rx))
}

/// Why the watcher grades again, and so which steps.
enum Trigger {
    /// The first grading, or `c`: everything.
    All(String),
    /// Files changed: every step (the file-only ones answer in milliseconds, first).
    Files(String),
    /// The engine reported an event: the steps that read the engine.
    Engine(String),
}

/// Grade `steps` (all when empty), printing each step's new status the moment that step is
/// done; returns the report of what was graded.
async fn grade_streaming(
    lab: &Lab,
    dir: &Path,
    python: &Option<PathBuf>,
    cache: &Arc<Cache>,
    steps: Vec<String>,
    why: &str,
    known: &mut BTreeMap<String, Status>,
) -> Result<Report> {
    let req = Request {
        steps,
        dir: dir.to_path_buf(),
        python: python.clone(),
        ..Request::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let grading = run_grade(lab, req, cache.clone(), Some(tx), false);
    tokio::pin!(grading);
    let mut header = false;
    let mut show = |s: report::StepReport, known: &mut BTreeMap<String, Status>| {
        if known.get(&s.id) != Some(&s.status) {
            if !header {
                println!("\n[{}] after {why}:", clock());
                header = true;
            }
            println!("  {} {}", s.id, s.status.word());
            known.insert(s.id.clone(), s.status);
        }
    };
    let r = loop {
        tokio::select! {
            Some(s) = rx.recv() => show(s, known),
            r = &mut grading => {
                while let Ok(s) = rx.try_recv() {
                    show(s, known);
                }
                break r?;
            }
        }
    };
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
    // One cache for the session (and on disk): an image id already proven to serve is not
    // probed again.
    let cache = Arc::new(Cache::persistent());
    let _raw = std::io::stdin().is_terminal().then(RawKeys::enable);
    let mut keys = keys();
    let mut events = match connect().await {
        EngineState::Connected { engine, .. } => engine.events(),
        _ => mpsc::channel(1).1,
    };
    let engine_steps: Vec<String> = lab
        .core_steps()
        .filter(|s| s.checks.iter().any(|c| c.needs().engine))
        .map(|s| s.id.clone())
        .collect();
    let watcher = file_events(&dir);
    let (_watcher, mut changes) = match watcher {
        Some((w, rx)) => (Some(w), rx),
        None => (None, mpsc::unbounded_channel().1),
    };
    let polling = _watcher.is_none();
    println!(
        "Watching {} for lab {lab_id}{}. Keys: h hint, c full check, q quit.",
        dir.display(),
        if polling {
            " (polling once a second: no file events here)"
        } else {
            ""
        }
    );
    // Every step's last known verdict, merged from partial re-gradings.
    let mut latest: BTreeMap<String, report::StepReport> = BTreeMap::new();
    let mut known: BTreeMap<String, Status> = BTreeMap::new();
    let mut last = String::new();
    let mut files = snapshot(&dir);
    let mut trigger = Some(Trigger::All("start".to_string()));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // A quiet watch tells the room every minute that the learner is still there.
    let mut heartbeat = tokio::time::interval(Duration::from_secs(60));
    heartbeat.tick().await;
    loop {
        if let Some(t) = trigger.take() {
            let (why, steps) = match t {
                Trigger::All(w) | Trigger::Files(w) => (w, vec![]),
                Trigger::Engine(w) => {
                    // A build or a compose up comes as a burst of events.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    while events.try_recv().is_ok() {}
                    (w, engine_steps.clone())
                }
            };
            let r = grade_streaming(&lab, &dir, &python, &cache, steps, &why, &mut known).await?;
            super::classroom::report_to_room(&dir, Some(&r)).await;
            heartbeat.reset();
            for s in r.steps {
                latest.insert(s.id.clone(), s);
            }
            let full = merged(&lab, &r.lab, &latest);
            let s = summary(&full);
            if s != last {
                println!("{s}");
                last = s;
            }
        }
        tokio::select! {
            _ = interrupted() => return Err(crate::error::Error::Interrupted),
            _ = heartbeat.tick() => super::classroom::heartbeat(&dir).await,
            Some(path) = changes.recv() => {
                // An editor's save is a short burst (write, rename, chmod): take it whole.
                tokio::time::sleep(Duration::from_millis(25)).await;
                while changes.try_recv().is_ok() {}
                files = snapshot(&dir);
                trigger = Some(Trigger::Files(format!("a change to {}", path.display())));
            }
            _ = tick.tick(), if polling => {
                let now = snapshot(&dir);
                if now != files {
                    let changed = now.iter().find(|(p, v)| files.get(*p) != Some(v)).map(|(p, _)| p.clone())
                        .or_else(|| files.keys().find(|p| !now.contains_key(*p)).cloned());
                    let name = changed.and_then(|p| p.strip_prefix(&dir).ok().map(|r| r.display().to_string())).unwrap_or_default();
                    files = now;
                    trigger = Some(Trigger::Files(format!("a change to {name}")));
                }
            }
            Some(ev) = events.recv() => trigger = Some(Trigger::Engine(ev)),
            key = keys.recv() => match key {
                None | Some('q') => {
                    println!("bye");
                    return Ok(exit::PASSED);
                }
                Some('c') => {
                    let full = merged(&lab, &lab.id, &latest);
                    println!("{}", report::human::render(&full, color_wanted()));
                }
                Some('h') => {
                    let full = merged(&lab, &lab.id, &latest);
                    if let Some(step) = current(&full) {
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

/// A whole report from the latest verdict of each step, in lab order.
fn merged(lab: &Lab, lab_id: &str, latest: &BTreeMap<String, report::StepReport>) -> Report {
    let steps: Vec<report::StepReport> = lab
        .core_steps()
        .filter_map(|s| latest.get(&s.id).cloned())
        .collect();
    Report {
        schema_version: report::SCHEMA_VERSION,
        generated_at: crate::grade::now_rfc3339(),
        lab: lab_id.to_string(),
        workspace: String::new(),
        engine: String::new(),
        engine_reachable: true,
        summary: Report::summarize(&steps),
        steps,
        duration_ms: 0,
    }
}
