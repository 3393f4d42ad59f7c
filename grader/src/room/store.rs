//! The room's embedded store: one SQLite file in WAL mode in the room's data directory.
//!
//! What is kept: each learner (name, a SHA-256 of their token, when they joined, were last
//! seen, left), and the latest result per learner per step (ordered by the report's
//! `generated_at`, so a queued old report never overwrites a newer one), with the step's JSON
//! as `lab check --format json` wrote it. A report is committed before it is acknowledged, so
//! a server killed with SIGKILL loses nothing it answered 200 for.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::report::StepReport;

/// A SHA-256 of a token: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A learner as the room sees them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Learner {
    pub id: i64,
    pub name: String,
    pub joined_at: i64,
    pub last_seen: i64,
    pub left: bool,
}

/// One stored result: a learner's latest report of one step.
#[derive(Debug, Clone)]
pub struct StoredStep {
    pub learner_id: i64,
    pub step: StepReport,
    pub generated_at: String,
    /// When this step's current status began (Unix seconds): "stuck since".
    pub since: i64,
    pub received_at: i64,
}

/// Why a name cannot join.
#[derive(Debug, PartialEq)]
pub enum JoinError {
    NameTaken,
    Other(String),
}

/// The room's database.
pub struct Store {
    db: Connection,
}

impl Store {
    /// Open (or create) `DIR/room.sqlite` in WAL mode.
    pub fn open(dir: &Path) -> rusqlite::Result<Store> {
        let db = Connection::open(dir.join("room.sqlite"))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode: a commit is in the WAL file (the OS has it) before we answer,
        // which survives a killed process; only a power cut could lose the last commits.
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.busy_timeout(std::time::Duration::from_secs(2))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS learners (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 token_hash BLOB NOT NULL UNIQUE,
                 joined_at INTEGER NOT NULL,
                 last_seen INTEGER NOT NULL,
                 left_at INTEGER
             );
             CREATE TABLE IF NOT EXISTS results (
                 learner_id INTEGER NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
                 step TEXT NOT NULL,
                 status TEXT NOT NULL,
                 generated_at TEXT NOT NULL,
                 since INTEGER NOT NULL,
                 received_at INTEGER NOT NULL,
                 step_json TEXT NOT NULL,
                 PRIMARY KEY (learner_id, step)
             );",
        )?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Store { db })
    }

    /// Add a learner; their token is kept only as a hash.
    pub fn join(&self, name: &str, token: &str, now: i64) -> Result<i64, JoinError> {
        match self.db.execute(
            "INSERT INTO learners (name, token_hash, joined_at, last_seen) VALUES (?1, ?2, ?3, ?3)",
            params![name, token_hash(token), now],
        ) {
            Ok(_) => Ok(self.db.last_insert_rowid()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(JoinError::NameTaken)
            }
            Err(e) => Err(JoinError::Other(e.to_string())),
        }
    }

    /// The learner a token belongs to.
    pub fn learner_by_token(&self, token: &str) -> rusqlite::Result<Option<Learner>> {
        self.db
            .query_row(
                "SELECT id, name, joined_at, last_seen, left_at IS NOT NULL FROM learners WHERE token_hash = ?1",
                params![token_hash(token)],
                row_learner,
            )
            .optional()
    }

    /// Every learner, by name.
    pub fn learners(&self) -> rusqlite::Result<Vec<Learner>> {
        let mut st = self.db.prepare(
            "SELECT id, name, joined_at, last_seen, left_at IS NOT NULL FROM learners ORDER BY name COLLATE NOCASE",
        )?;
        let rows = st.query_map([], row_learner)?;
        rows.collect()
    }

    /// One learner.
    pub fn learner(&self, id: i64) -> rusqlite::Result<Option<Learner>> {
        self.db
            .query_row(
                "SELECT id, name, joined_at, last_seen, left_at IS NOT NULL FROM learners WHERE id = ?1",
                params![id],
                row_learner,
            )
            .optional()
    }

    /// Seen now (a report or a heartbeat); joining again after leaving clears `left`.
    pub fn seen(&self, id: i64, now: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE learners SET last_seen = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// The learner left: their results stay, marked as left.
    pub fn leave(&self, id: i64, now: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE learners SET left_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// The instructor renames a learner.
    pub fn rename(&self, id: i64, name: &str) -> Result<bool, JoinError> {
        match self.db.execute(
            "UPDATE learners SET name = ?2 WHERE id = ?1",
            params![id, name],
        ) {
            Ok(n) => Ok(n > 0),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(JoinError::NameTaken)
            }
            Err(e) => Err(JoinError::Other(e.to_string())),
        }
    }

    /// The instructor removes a learner and their results.
    pub fn remove(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self
            .db
            .execute("DELETE FROM learners WHERE id = ?1", params![id])?
            > 0)
    }

    /// Store a report's steps, each only if it is newer than what the room has for that step
    /// (RFC 3339 UTC strings of one width order as times). One transaction: all or nothing.
    /// Returns how many steps were stored.
    pub fn record(
        &mut self,
        learner: i64,
        generated_at: &str,
        steps: &[StepReport],
        now: i64,
    ) -> rusqlite::Result<usize> {
        let tx = self.db.transaction()?;
        let mut stored = 0;
        for s in steps {
            let old: Option<(String, String, i64)> = tx
                .query_row(
                    "SELECT generated_at, status, since FROM results WHERE learner_id = ?1 AND step = ?2",
                    params![learner, s.id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let status = serde_json::to_value(s.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let since = match &old {
                Some((g, _, _)) if g.as_str() > generated_at => continue,
                Some((_, st, since)) if *st == status => *since,
                _ => now,
            };
            let json = serde_json::to_string(s).unwrap_or_default();
            tx.execute(
                "INSERT INTO results (learner_id, step, status, generated_at, since, received_at, step_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (learner_id, step) DO UPDATE SET status = ?3, generated_at = ?4,
                     since = ?5, received_at = ?6, step_json = ?7",
                params![learner, s.id, status, generated_at, since, now, json],
            )?;
            stored += 1;
        }
        tx.execute(
            "UPDATE learners SET last_seen = ?2 WHERE id = ?1",
            params![learner, now],
        )?;
        tx.commit()?;
        Ok(stored)
    }

    /// Every stored result (of every learner).
    pub fn results(&self) -> rusqlite::Result<Vec<StoredStep>> {
        let mut st = self.db.prepare(
            "SELECT learner_id, step_json, generated_at, since, received_at FROM results",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (learner_id, json, generated_at, since, received_at) = row?;
            if let Ok(step) = serde_json::from_str::<StepReport>(&json) {
                out.push(StoredStep {
                    learner_id,
                    step,
                    generated_at,
                    since,
                    received_at,
                });
            }
        }
        Ok(out)
    }
}

fn row_learner(r: &rusqlite::Row<'_>) -> rusqlite::Result<Learner> {
    Ok(Learner {
        id: r.get(0)?,
        name: r.get(1)?,
        joined_at: r.get(2)?,
        last_seen: r.get(3)?,
        left: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckResult, Status};

    fn step(id: &str, status: Status) -> StepReport {
        StepReport {
            id: id.into(),
            title: id.into(),
            status,
            optional: false,
            points: 1,
            book: "b.md".into(),
            checks: vec![CheckResult::fail(format!("{id}.x"), "m")],
            hint: "h".into(),
            duration_ms: 1,
        }
    }

    #[test]
    fn newer_reports_win_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let ana = s.join("Ana", "tok-a", 100).unwrap();
        assert_eq!(s.join("Ana", "tok-b", 100), Err(JoinError::NameTaken));
        assert_eq!(s.learner_by_token("tok-a").unwrap().unwrap().id, ana);
        assert!(s.learner_by_token("tok-b").unwrap().is_none());
        s.record(
            ana,
            "2026-11-29T10:00:05Z",
            &[step("build", Status::Fail)],
            105,
        )
        .unwrap();
        // An older queued report arrives late: it does not overwrite the newer one.
        let n = s
            .record(
                ana,
                "2026-11-29T10:00:01Z",
                &[step("build", Status::Pass)],
                110,
            )
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(s.results().unwrap()[0].step.status, Status::Fail);
        // Same status later: "since" stays at when it began.
        s.record(
            ana,
            "2026-11-29T10:01:00Z",
            &[step("build", Status::Fail)],
            160,
        )
        .unwrap();
        assert_eq!(s.results().unwrap()[0].since, 105);
        drop(s);
        // Reopened: everything is still there (the restart after a kill).
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.learners().unwrap().len(), 1);
        assert_eq!(s.results().unwrap().len(), 1);
        assert!(s.remove(ana).unwrap());
        assert!(s.results().unwrap().is_empty());
    }
}
