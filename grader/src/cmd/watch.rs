//! `lab watch`: re-grade as the learner works.
//!
//! It grades once, then waits for a reason to grade again: a file in the workspace changed
//! (OS file events; caches and virtual environments ignored) or the engine reported an event
//! about one of the lab's objects (see [`Relevance`]), which re-grades the steps it concerns. Triggers
//! are debounced, and the status is printed only when it changed, so a quiet workspace gives a
//! quiet terminal. Keys: `h` the next hint for the current step, `c` the full report, `q` quit
//! (on a terminal single keys work; otherwise, one letter per line on stdin).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use std::sync::Arc;

use super::check::color_wanted;
use super::{connect, interrupted, load_lab, run_grade};
use crate::cache::Cache;
use crate::checks::Makes;
use crate::engine::EngineState;
use crate::engine::{Engine, EngineEvent};
use crate::error::Result;
use crate::exit;
use crate::grade::Request;
use crate::lab::Lab;
use crate::reference::Reference;
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
    /// The engine reported an event: the steps whose objects it names.
    Engine(String, Vec<String>),
}

/// Which steps an engine event concerns. A step's objects are what it makes (`Makes`): its
/// image repositories, in any registry or namespace, and the workspace's Compose project. An
/// event is matched by the image it names (a container's image as given to `docker run`); an
/// `untag` or `delete` names only an image id, matched against the lab's images as of the last
/// grading. An event that names nothing of the lab's (another project's container, another
/// test's image) re-grades nothing.
struct Relevance {
    /// Engine steps, in lab order, with the repositories and Compose project they make.
    steps: Vec<(String, Makes)>,
    dir: PathBuf,
    /// The workspace's Compose project name, as Compose derives it from the directory.
    project: String,
    /// Image id to repository, for the lab's images and the Compose project's, refreshed
    /// after each grading.
    ids: HashMap<String, String>,
}

impl Relevance {
    fn new(lab: &Lab, dir: &Path) -> Relevance {
        let steps = lab
            .core_steps()
            .filter(|s| s.checks.iter().any(|c| c.needs().engine))
            .map(|s| {
                let mut m = Makes::default();
                for c in &s.checks {
                    let cm = c.makes();
                    m.repositories.extend(cm.repositories);
                    m.compose_project |= cm.compose_project;
                }
                (s.id.clone(), m)
            })
            .collect();
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        Relevance {
            steps,
            dir: dir.to_path_buf(),
            project: base
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect(),
            ids: HashMap::new(),
        }
    }

    /// Remember which image ids are the lab's (an `untag` or `delete` event names only the id).
    async fn refresh(&mut self, engine: &dyn Engine) {
        let Ok(images) = engine.images().await else {
            return;
        };
        self.ids.clear();
        for img in images {
            for t in &img.repo_tags {
                let repo = Reference::parse(t).name().to_string();
                if self.is_compose_image(&repo)
                    || self
                        .steps
                        .iter()
                        .any(|(_, m)| m.repositories.contains(&repo))
                {
                    self.ids.insert(img.id.clone(), repo);
                }
            }
        }
    }

    /// Compose names the images it builds `<project>_<service>` (v1) or `<project>-<service>`.
    fn is_compose_image(&self, repo: &str) -> bool {
        !self.project.is_empty()
            && repo
                .strip_prefix(self.project.as_str())
                .is_some_and(|rest| rest.starts_with('_') || rest.starts_with('-'))
    }

    /// The repository an image reference or id names, if it is one of the lab's.
    fn repository(&self, reference: &str) -> Option<String> {
        let r = reference.trim();
        if r.is_empty() {
            return None;
        }
        let hex = r.strip_prefix("sha256:").unwrap_or(r);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self
                .ids
                .iter()
                .find(|(id, _)| id.strip_prefix("sha256:").unwrap_or(id).starts_with(hex))
                .map(|(_, repo)| repo.clone());
        }
        Some(Reference::parse(r).name().to_string())
    }

    /// The steps `ev` concerns, in lab order.
    fn steps_for(&self, ev: &EngineEvent) -> Vec<String> {
        let in_workspace = ev
            .compose_dir
            .as_deref()
            .is_some_and(|d| crate::checks::same_path(Path::new(d), &self.dir));
        let named = if ev.kind == "container" {
            &ev.image
        } else if self.repository(&ev.name).is_some() && !ev.name.starts_with("sha256:") {
            &ev.name
        } else {
            &ev.image
        };
        let repo = self.repository(named);
        let compose = in_workspace || repo.as_deref().is_some_and(|r| self.is_compose_image(r));
        self.steps
            .iter()
            .filter(|(_, m)| {
                (compose && m.compose_project)
                    || repo.as_ref().is_some_and(|r| m.repositories.contains(r))
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
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
    let engine = match connect().await {
        EngineState::Connected { engine, .. } => Some(engine),
        _ => None,
    };
    let mut events = match &engine {
        Some(e) => e.events(),
        None => mpsc::channel(1).1,
    };
    let mut relevance = Relevance::new(&lab, &dir);
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
            // Images change only through the engine: a file save needs no new list of ids.
            let engine_may_have_changed = !matches!(t, Trigger::Files(_));
            let (why, steps) = match t {
                Trigger::All(w) | Trigger::Files(w) => (w, vec![]),
                Trigger::Engine(w, mut steps) => {
                    // A build or a compose up comes as a burst of events: take it whole.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    while let Ok(more) = events.try_recv() {
                        steps.extend(relevance.steps_for(&more));
                    }
                    let order: Vec<&String> = relevance.steps.iter().map(|(id, _)| id).collect();
                    steps.sort_by_key(|s| order.iter().position(|o| *o == s));
                    steps.dedup();
                    (w, steps)
                }
            };
            let r = grade_streaming(&lab, &dir, &python, &cache, steps, &why, &mut known).await?;
            if let (Some(e), true) = (&engine, engine_may_have_changed) {
                relevance.refresh(e.as_ref()).await;
            }
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
            Some(ev) = events.recv() => {
                let steps = relevance.steps_for(&ev);
                if !steps.is_empty() {
                    trigger = Some(Trigger::Engine(ev.to_string(), steps));
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn relevance(dir: &Path) -> Relevance {
        let lab = crate::lab::shipped("day11");
        Relevance::new(&lab, dir)
    }

    fn image(action: &str, name: &str, id: &str) -> EngineEvent {
        EngineEvent {
            kind: "image".into(),
            action: action.into(),
            name: name.into(),
            image: id.into(),
            compose_dir: None,
        }
    }

    fn container(image: &str, compose_dir: Option<&Path>) -> EngineEvent {
        EngineEvent {
            kind: "container".into(),
            action: "start".into(),
            name: "web".into(),
            image: image.into(),
            compose_dir: compose_dir.map(|d| d.display().to_string()),
        }
    }

    #[test]
    fn an_event_regrades_the_steps_whose_objects_it_names_and_nothing_else() {
        let ws = tempfile::Builder::new()
            .prefix("Day11_ws")
            .tempdir()
            .unwrap();
        let mut r = relevance(ws.path());
        let id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        // A tag in any registry or namespace names the lab's repository.
        let steps = r.steps_for(&image("tag", "localhost:5001/ana/python-docker-app:v1", id));
        assert!(steps.contains(&"tag".to_string()) && steps.contains(&"push".to_string()));
        assert!(!steps.contains(&"compose".to_string()), "{steps:?}");
        // Another project's image or container: nothing.
        assert!(r.steps_for(&image("tag", "postgres:15", id)).is_empty());
        assert!(r.steps_for(&container("redis:7", None)).is_empty());
        // The learner's container, by name or by the image's id once it is known.
        assert!(r
            .steps_for(&container("python-docker-app", None))
            .contains(&"run".to_string()));
        assert!(r.steps_for(&container(&id[7..19], None)).is_empty());
        r.ids.insert(id.into(), "python-docker-app".into());
        assert!(r
            .steps_for(&container(&id[7..19], None))
            .contains(&"run".to_string()));
        // An untag names only the id: matched against the lab's images.
        assert!(r
            .steps_for(&image("untag", id, id))
            .contains(&"build".to_string()));
        let other = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        assert!(r.steps_for(&image("delete", other, other)).is_empty());
        // The workspace's Compose project, by its label or by the image Compose built.
        assert_eq!(
            r.steps_for(&container("whatever_web", Some(ws.path()))),
            ["compose"]
        );
        let project = ws
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        assert_eq!(
            r.steps_for(&image("tag", &format!("{project}_web:latest"), id)),
            ["compose"]
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(r
            .steps_for(&container("x_web", Some(elsewhere.path())))
            .is_empty());
    }
}
