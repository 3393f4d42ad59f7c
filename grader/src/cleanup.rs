//! What a `lab` run started, so that it is removed whatever happens.
//!
//! Probe containers and host processes register here when they start and unregister when the
//! check removes them. At the end of the run, on Ctrl-C and on SIGTERM, [`Cleanup::sweep`]
//! removes whatever is still registered (a panicking check leaves its probe registered, so the
//! sweep catches it). At start, [`sweep_orphans`] removes probes whose owning `lab` process is
//! gone (a `kill -9` leaves them; the label says who owned them).

use std::sync::{Arc, Mutex};

use crate::engine::{Engine, OWNER_LABEL, PROBE_LABEL};

/// The registry of things to remove.
#[derive(Default)]
pub struct Cleanup {
    containers: Mutex<Vec<String>>,
    pids: Mutex<Vec<u32>>,
    engine: Mutex<Option<Arc<dyn Engine>>>,
}

impl Cleanup {
    /// Remember the engine that containers must be removed from.
    pub fn set_engine(&self, engine: Arc<dyn Engine>) {
        *self.engine.lock().unwrap() = Some(engine);
    }
    pub fn add_container(&self, id: &str) {
        self.containers.lock().unwrap().push(id.to_string());
    }
    pub fn remove_container(&self, id: &str) {
        self.containers.lock().unwrap().retain(|c| c != id);
    }
    /// A child process group leader to kill if the run ends early.
    pub fn add_pid(&self, pid: u32) {
        self.pids.lock().unwrap().push(pid);
    }
    pub fn remove_pid(&self, pid: u32) {
        self.pids.lock().unwrap().retain(|p| *p != pid);
    }
    /// Remove every container this process labelled as its own, registered or not (a probe
    /// being created when the run is interrupted is not registered yet), then the rest.
    pub async fn sweep_all(&self) -> Vec<String> {
        let engine = self.engine.lock().unwrap().clone();
        if let Some(engine) = engine {
            if let Ok(list) = engine.containers().await {
                let me = std::process::id().to_string();
                for c in list
                    .iter()
                    .filter(|c| c.labels.get(OWNER_LABEL) == Some(&me))
                {
                    self.add_container(&c.id);
                }
            }
        }
        self.sweep().await
    }

    /// Remove everything still registered. Returns what could not be removed.
    pub async fn sweep(&self) -> Vec<String> {
        let pids = std::mem::take(&mut *self.pids.lock().unwrap());
        for pid in pids {
            kill_group(pid);
        }
        let ids = std::mem::take(&mut *self.containers.lock().unwrap());
        let engine = self.engine.lock().unwrap().clone();
        let mut left = Vec::new();
        if let Some(engine) = engine {
            for id in ids {
                if engine.remove(&id).await.is_err() {
                    left.push(id);
                }
            }
        } else {
            left = ids;
        }
        left
    }
}

/// SIGKILL a process group led by `pid` (the host gunicorn and its workers).
pub fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let ok = unsafe { libc::kill(pid, 0) } == 0;
    ok || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The `lab` run (process id) a container's owner label names, when it is not this one.
fn other_owner(labels: &std::collections::HashMap<String, String>) -> Option<i32> {
    labels
        .get(OWNER_LABEL)
        .and_then(|p| p.parse::<i32>().ok())
        .filter(|p| *p != std::process::id() as i32)
}

/// Whether a container's owner label names another `lab` run that is still alive (its probe
/// is that run's to remove: `lab reset` leaves it alone while a `lab watch` is probing).
pub fn owned_by_a_live_run(labels: &std::collections::HashMap<String, String>) -> bool {
    other_owner(labels).is_some_and(process_alive)
}

/// Remove probe containers left by `lab` runs that no longer exist.
pub async fn sweep_orphans(engine: &dyn Engine) {
    let Ok(list) = engine.containers().await else {
        return;
    };
    for c in list {
        if c.labels.get(PROBE_LABEL).map(String::as_str) != Some("true") {
            continue;
        }
        if other_owner(&c.labels).is_some_and(|p| !process_alive(p)) {
            let _ = engine.remove(&c.id).await;
        }
    }
}
