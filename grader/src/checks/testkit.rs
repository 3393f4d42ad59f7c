//! Fixtures for the kinds' unit tests: a workspace whose Dockerfile builds [`app_image`]'s
//! config, a [`Ctx`] over the in-memory engine, and the app's HTTP expectation.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{Bindings, Ctx};
use crate::cleanup::Cleanup;
use crate::engine::fake::FakeEngine;
use crate::engine::{EngineState, Image};
use crate::http::HttpExpect;

/// A workspace whose Dockerfile builds exactly `app_image`'s config.
pub fn workspace() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        "FROM python:3.9-slim\nWORKDIR /app\nCMD [\"gunicorn\"]\n",
    )
    .unwrap();
    d
}

pub fn ctx(engine: FakeEngine, ws: &tempfile::TempDir) -> Ctx {
    Ctx {
        bindings: Bindings::default(),
        dir: ws.path().to_path_buf(),
        python: None,
        image_ref: None,
        engine: EngineState::Connected {
            engine: Arc::new(engine),
            line: "fake".into(),
        },
        cleanup: Arc::new(Cleanup::default()),
        chosen_tag: OnceCell::new(),
        cache: Arc::default(),
    }
}

pub fn app_image(id: &str, tags: &[&str]) -> Image {
    Image {
        id: id.into(),
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        cmd: vec!["gunicorn".into()],
        working_dir: "/app".into(),
        ..Image::default()
    }
}

pub fn http() -> HttpExpect {
    HttpExpect {
        path: "/".into(),
        status: 200,
        json: BTreeMap::new(),
        deadline_secs: 1,
    }
}
