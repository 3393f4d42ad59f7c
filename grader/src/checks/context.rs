//! What every check is given: the shared [`Ctx`] of one run, the names a run binds in place of
//! the lab's ([`Bindings`]), and the lookups every kind makes through it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::image;
use crate::cache::Cache;
use crate::cleanup::Cleanup;
use crate::engine::{Engine, EngineError, EngineState, Image};
use crate::report::CheckResult;

/// Everything a check may look at, shared by all checks of one run.
pub struct Ctx {
    /// The learner's workspace.
    pub dir: PathBuf,
    /// `--python`: the interpreter whose environment the editable step inspects.
    pub python: Option<PathBuf>,
    /// `--image`: the tag to grade when there are several.
    pub image_ref: Option<String>,
    /// The engine, or why there is none.
    pub engine: EngineState,
    /// What this run started and must remove.
    pub cleanup: Arc<Cleanup>,
    /// The tag chosen for the tag and push steps, decided once.
    pub chosen_tag: OnceCell<Option<String>>,
    /// Verdicts keyed by immutable ids, shared across the runs of a session.
    pub cache: Arc<Cache>,
    /// The names this run uses in place of the lab's own (`lab ci`); empty otherwise.
    pub bindings: Bindings,
}

/// Names a run uses in place of the lab's (`lab ci` makes them unique to the run, so two
/// gradings on one engine never meet). Kinds apply them to the engine's side only: a learner's
/// file is still graded against the lab's own port and names.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// A lab image repository (`python-docker-app`) and the run's in its place.
    pub images: std::collections::BTreeMap<String, String>,
    /// A lab host port (5000) and the run's in its place.
    pub ports: std::collections::BTreeMap<u16, u16>,
    /// The compose files to grade (as Compose's `config_files` label names them) when the
    /// running project was started from a vetted copy of them.
    pub compose_files: Option<String>,
}

impl Bindings {
    /// The run's name for a lab image reference (`python-docker-app:latest`), tag kept.
    pub fn image(&self, reference: &str) -> String {
        let (repo, tag) = match reference.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t)),
            _ => (reference, None),
        };
        match (self.images.get(repo), tag) {
            (Some(run), Some(t)) => format!("{run}:{t}"),
            (Some(run), None) => run.clone(),
            (None, _) => reference.to_string(),
        }
    }
    /// The run's host port for a lab host port.
    pub fn port(&self, port: u16) -> u16 {
        self.ports.get(&port).copied().unwrap_or(port)
    }
}

impl Ctx {
    /// The engine, or an `error` result saying it is unreachable.
    pub fn engine(&self, id: &str) -> Result<&Arc<dyn Engine>, CheckResult> {
        match &self.engine {
            EngineState::Connected { engine, .. } => Ok(engine),
            EngineState::Unreachable { error, .. } => Err(engine_error(id, error)),
            EngineState::NotNeeded => Err(CheckResult::error(
                id,
                "this check needs the engine, but the run did not connect to it (a bug in the kind's `needs`)",
            )),
        }
    }

    /// Inspect an image; an engine failure becomes an `error` result.
    pub async fn image(&self, id: &str, reference: &str) -> Result<Option<Image>, CheckResult> {
        self.engine(id)?
            .image(reference)
            .await
            .map_err(|e| engine_error(id, &e))
    }

    /// [`Self::built_image`] and the engine to look further with.
    pub async fn built_image_and_engine(
        &self,
        id: &str,
        reference: &str,
        verb: &str,
    ) -> Result<(Image, Arc<dyn Engine>), CheckResult> {
        let img = self.built_image(id, reference, verb).await?;
        Ok((img, self.engine(id)?.clone()))
    }
}

impl Ctx {
    /// The image a later step stands on (run, tag, push), or a `skip` saying to do the build
    /// step first: when it does not exist, or when this workspace could not have produced it
    /// (no Dockerfile, one that does not parse, or one whose config the image does not match).
    /// So a reused machine's leftover image never passes a new workspace's steps.
    pub async fn built_image(
        &self,
        id: &str,
        reference: &str,
        verb: &str,
    ) -> Result<Image, CheckResult> {
        let Some(img) = self.image(id, reference).await? else {
            return Err(CheckResult::skip(
                id,
                format!("there is no image {reference} to {verb} yet"),
            )
            .hint("do the build step first"));
        };
        match image::provenance(&self.dir, &img) {
            Ok(()) => Ok(img),
            Err(why) => Err(CheckResult::skip(
                id,
                format!("{reference} was not built from this workspace ({why}), so there is nothing of yours to {verb} yet"),
            )
            .hint(format!(
                "do the build step first: `docker build -t {} .` in this workspace",
                image::repo_of(reference)
            ))),
        }
    }
}

/// An `error` result for an engine failure, with what to do.
pub fn engine_error(id: &str, e: &EngineError) -> CheckResult {
    CheckResult::error(id, e.to_string()).hint(e.advice())
}

/// Whether two paths name the same existing directory or file.
pub fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
