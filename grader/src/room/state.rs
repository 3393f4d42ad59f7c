//! What every handler shares: the lab, the store, the secrets' hashes, the event channel and
//! the limits.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::error::ApiError;
use super::files::RoomFiles;
use super::limit::Limiter;
use super::store::{self, Learner, Store};
use super::view::{view, RoomView};
use crate::lab::Lab;
use crate::report::{Report, StepReport, SCHEMA_VERSION};

/// How long a learner stays on the same failing check before the dashboard highlights them.
pub const DEFAULT_ALARM_SECS: i64 = 10 * 60;

/// Everything the handlers share.
pub struct Room {
    pub lab: Lab,
    store: Mutex<Store>,
    instructor_hash: Vec<u8>,
    pub join_code: String,
    events: broadcast::Sender<String>,
    pub posts: Limiter,
    pub joins: Limiter,
    /// Seconds on one failing check before "needs help first" highlights a learner.
    pub alarm_secs: i64,
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    crate::dirs::now() as i64
}

impl Room {
    /// Open the room on `files.dir` for `lab`.
    pub fn open(lab: Lab, files: &RoomFiles, alarm_secs: i64) -> Result<Arc<Room>, String> {
        let store = Store::open(&files.dir).map_err(|e| {
            format!(
                "cannot open the room's database in {}: {e}",
                files.dir.display()
            )
        })?;
        let (events, _) = broadcast::channel(256);
        Ok(Arc::new(Room {
            lab,
            store: Mutex::new(store),
            instructor_hash: store::token_hash(&files.instructor_token),
            join_code: files.join_code.clone(),
            events,
            posts: Limiter::new(5.0, 20.0),
            joins: Limiter::new(1.0, 10.0),
            alarm_secs: alarm_secs.max(60),
        }))
    }

    /// The store, for one short piece of work (never held across an await).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_instructor_token(&self, token: &str) -> bool {
        super::auth::same(&store::token_hash(token), &self.instructor_hash)
    }

    /// Tell the dashboards the room changed.
    pub fn changed(&self, what: &str) {
        let _ = self.events.send(what.to_string());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    /// The room as the dashboard, the projector and the API show it.
    pub fn view(&self) -> Result<RoomView, ApiError> {
        self.view_at(now())
    }

    pub fn view_at(&self, now: i64) -> Result<RoomView, ApiError> {
        let (learners, results) = {
            let store = self.store();
            (store.learners()?, store.results()?)
        };
        Ok(view(&self.lab, &learners, &results, now, self.alarm_secs))
    }

    /// A learner's latest results as one report (the steps the lab knows, in its order).
    pub fn learner_report(&self, id: i64) -> Result<(Learner, Report), ApiError> {
        let (learner, results) = {
            let store = self.store();
            (store.learner(id)?, store.results()?)
        };
        let learner =
            learner.ok_or_else(|| ApiError::not_found(format!("no learner {id} in this room")))?;
        let steps: Vec<StepReport> = self
            .lab
            .steps
            .iter()
            .filter_map(|s| {
                results
                    .iter()
                    .find(|r| r.learner_id == id && r.step.id == s.id)
                    .map(|r| r.step.clone())
            })
            .collect();
        let generated_at = results
            .iter()
            .filter(|r| r.learner_id == id)
            .map(|r| r.generated_at.clone())
            .max()
            .unwrap_or_default();
        let report = Report {
            schema_version: SCHEMA_VERSION,
            generated_at,
            lab: self.lab.id.clone(),
            workspace: format!("room learner {}", learner.name),
            engine: "reported by the learner's lab".into(),
            engine_reachable: true,
            summary: Report::summarize(&steps),
            steps,
            duration_ms: 0,
        };
        Ok((learner, report))
    }
}
