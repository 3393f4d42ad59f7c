//! The verdict cache: passes that depend only on immutable ids (an image id), kept for a
//! session and on disk between checks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::report::{self, CheckResult};

/// Verdicts that depend only on immutable ids. What an image id contains never changes, so
/// "a container from image X served GET / as the lab expects" stays true for X. Kept in
/// memory for a session (`lab watch`) and, with [`Cache::persistent`], on disk in the cache
/// directory for later checks. Only passes are stored; the key is the image id together with
/// what was asked of it (port, path, expected answer).
#[derive(Debug, Default)]
pub struct Cache {
    probes: Mutex<HashMap<String, CheckResult>>,
    disk: Option<PathBuf>,
}

impl Cache {
    /// A cache that also reads and writes `<cache dir>/verdicts`.
    pub fn persistent() -> Cache {
        Cache {
            probes: Mutex::default(),
            disk: Some(crate::dirs::cache_dir().join("verdicts")),
        }
    }

    /// A cache on disk in `dir` (tests, and a caller with a directory of its own).
    pub fn at(dir: PathBuf) -> Cache {
        Cache {
            probes: Mutex::default(),
            disk: Some(dir),
        }
    }

    fn file(&self, key: &str) -> Option<PathBuf> {
        use sha2::Digest;
        let name: String = sha2::Sha256::digest(key.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.disk.as_ref().map(|d| d.join(format!("{name}.json")))
    }

    /// A passing probe for `key`, reported with where it came from.
    pub fn probe(&self, key: &str) -> Option<CheckResult> {
        self.verdict(
            key,
            "cached by image id: what an image id holds never changes",
        )
    }

    /// A pass stored for `key`, its evidence followed by `why` it still holds.
    pub fn verdict(&self, key: &str, why: &str) -> Option<CheckResult> {
        if let Some(hit) = self.probes.lock().ok()?.get(key).cloned() {
            return Some(hit);
        }
        let path = self.file(key)?;
        let text = crate::bounded::read_text(&path, 64 * 1024, None).ok()?;
        let (stored_key, result): (String, CheckResult) = serde_json::from_str(&text).ok()?;
        (stored_key == key && result.status == report::Status::Pass).then(|| {
            let was = result
                .evidence
                .clone()
                .unwrap_or_else(|| "an earlier probe".into());
            let r = result.evidence(format!("{was} ({why})"));
            if let Ok(mut m) = self.probes.lock() {
                m.insert(key.to_string(), r.clone());
            }
            r
        })
    }

    /// Remember a pass for `key`, in memory and (for a persistent cache) on disk.
    pub fn store_probe(&self, key: &str, result: &CheckResult) {
        if result.status != report::Status::Pass {
            return;
        }
        if let Ok(mut m) = self.probes.lock() {
            m.insert(key.to_string(), result.clone());
        }
        if let Some(path) = self.file(key) {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(text) = serde_json::to_string(&(key, result)) {
                let _ = crate::fsutil::write_atomic(&path, text.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_only_passes_on_disk_and_says_where_a_result_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf());
        cache.store_probe("sha256:bad 5000 /", &CheckResult::fail("run.serves", "no"));
        assert!(cache.probe("sha256:bad 5000 /").is_none());
        cache.store_probe(
            "sha256:good 5000 /",
            &CheckResult::pass("run.serves", "yes").evidence("a fresh probe"),
        );
        // A later run: a new cache on the same directory.
        let later = Cache::at(dir.path().to_path_buf());
        let hit = later.probe("sha256:good 5000 /").unwrap();
        assert!(hit.evidence.unwrap().contains("cached by image id"));
        assert!(
            later.probe("sha256:good 8000 /").is_none(),
            "another question, another key"
        );
    }
}
