//! An in-memory engine for unit tests of check logic. It never replaces the end-to-end tests
//! against the real daemon (`tests/`); it lets a test set up states that are slow or awkward
//! to produce for real (a crash loop, an engine that times out).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    Container, ContainerSummary, Engine, EngineError, EngineInfo, HistoryEntry, Image,
    ImageSummary, OneShot, ProbeSpec, Progress, Result,
};

/// A scripted engine.
#[derive(Default)]
pub struct FakeEngine {
    pub images: Mutex<HashMap<String, Image>>,
    pub containers: Mutex<Vec<Container>>,
    pub logs: Mutex<HashMap<String, String>>,
    /// When set, every call fails with this error.
    pub fail_with: Mutex<Option<EngineError>>,
    pub removed: Mutex<Vec<String>>,
    /// History per image reference, for `history`.
    pub histories: Mutex<HashMap<String, Vec<HistoryEntry>>>,
    /// Files per image reference, for `image_files`.
    pub files: Mutex<HashMap<String, std::collections::BTreeMap<String, Vec<u8>>>>,
}

impl FakeEngine {
    fn err(&self) -> Result<()> {
        match self.fail_with.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    /// Add an image under its tags (and its id).
    pub fn add_image(&self, image: Image) {
        let mut m = self.images.lock().unwrap();
        for t in &image.repo_tags {
            m.insert(t.clone(), image.clone());
        }
        m.insert(image.id.clone(), image);
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo> {
        self.err()?;
        Ok(EngineInfo {
            endpoint: "fake".into(),
            source: "a test".into(),
            product: "Docker".into(),
            version: "0".into(),
            api_version: "1.41".into(),
        })
    }
    async fn image(&self, reference: &str) -> Result<Option<Image>> {
        self.err()?;
        Ok(self.images.lock().unwrap().get(reference).cloned())
    }
    async fn images(&self) -> Result<Vec<ImageSummary>> {
        self.err()?;
        let mut seen = std::collections::HashSet::new();
        Ok(self
            .images
            .lock()
            .unwrap()
            .values()
            .filter(|i| seen.insert(i.id.clone()))
            .map(|i| ImageSummary {
                id: i.id.clone(),
                repo_tags: i.repo_tags.clone(),
                labels: i.labels.clone(),
            })
            .collect())
    }
    async fn containers(&self) -> Result<Vec<ContainerSummary>> {
        self.err()?;
        let summary = |c: &Container| ContainerSummary {
            id: c.id.clone(),
            name: c.name.clone(),
            image: String::new(),
            image_id: c.image_id.clone(),
            state: c.status,
            labels: c.labels.clone(),
        };
        Ok(self
            .containers
            .lock()
            .unwrap()
            .iter()
            .map(summary)
            .collect())
    }
    async fn container(&self, id: &str) -> Result<Option<Container>> {
        self.err()?;
        let all = self.containers.lock().unwrap();
        Ok(all.iter().find(|c| c.id == id).cloned())
    }
    async fn logs_tail(&self, id: &str, _lines: usize) -> Result<String> {
        self.err()?;
        Ok(self
            .logs
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default())
    }
    async fn start_probe(&self, _spec: &ProbeSpec) -> Result<String> {
        self.err()?;
        Err(EngineError::Api(
            "the fake engine cannot run containers".into(),
        ))
    }
    async fn remove(&self, id: &str) -> Result<()> {
        self.err()?;
        self.removed.lock().unwrap().push(id.to_string());
        self.containers.lock().unwrap().retain(|c| c.id != id);
        Ok(())
    }
    async fn remove_image(&self, reference: &str) -> Result<bool> {
        self.err()?;
        Ok(self.images.lock().unwrap().remove(reference).is_some())
    }
    async fn networks(&self) -> Result<Vec<(String, String, HashMap<String, String>)>> {
        self.err()?;
        Ok(vec![])
    }
    async fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>> {
        self.err()?;
        Ok(self
            .histories
            .lock()
            .unwrap()
            .get(reference)
            .cloned()
            .unwrap_or_default())
    }
    async fn remove_network(&self, _id: &str) -> Result<()> {
        self.err()
    }
    async fn run_to_end(&self, _job: &OneShot) -> Result<(i64, String)> {
        self.err()?;
        Ok((0, String::new()))
    }
    async fn build(&self, _context: Vec<u8>, _tag: &str) -> Result<()> {
        self.err()
    }
    async fn save_image(&self, _: &str, _: &std::path::Path, _: Progress<'_>) -> Result<u64> {
        self.err()?;
        Ok(0)
    }
    async fn load_image(&self, _from: &std::path::Path) -> Result<()> {
        self.err()
    }
    async fn tag(&self, _image: &str, _repo: &str, _tag: &str) -> Result<()> {
        self.err()
    }
    async fn exec(&self, _id: &str, _cmd: &[&str]) -> Result<(i64, String)> {
        self.err()?;
        Ok((0, String::new()))
    }
    fn events(&self) -> tokio::sync::mpsc::Receiver<super::EngineEvent> {
        tokio::sync::mpsc::channel(1).1
    }
    async fn image_file_hashes(
        &self,
        image: &str,
        _dir: &str,
        _max: u64,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        use sha2::Digest;
        self.err()?;
        Ok(self
            .files
            .lock()
            .unwrap()
            .get(image)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, format!("{:x}", sha2::Sha256::digest(v))))
            .collect())
    }
}
