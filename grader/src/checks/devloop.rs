//! Kind `devloop`: a development container serves the workspace's code live: an edit shows
//! without a rebuild.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Ctx, Makes};
use crate::engine::{Container, ProbeSpec};
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the learner runs a development container of the image \
with the workspace bind-mounted over the image's code and a command that reloads on change \
(gunicorn `--reload`). The learner's own files are never touched: lab copies the workspace to \
a temporary directory, starts a probe container of its own with the learner's mount and \
command on that copy (on a free port), edits the copy, and checks that the app's answer \
changes with no rebuild. It explains no development container, a mount that is not over the \
code, and a command that does not reload.\n\nWhy: rebuilding an image for every edit is slow; \
a bind mount plus a reloading server gives the edit-and-refresh loop of the host while keeping \
the container's Python and dependencies.";

/// The parameters of a `devloop` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image the development container runs.
    pub image: String,
    /// The container port the app listens on.
    pub container_port: u16,
    /// The path to ask.
    pub path: String,
    /// The workspace file the check edits in its copy, e.g. `src/main.py`.
    pub edit_file: String,
    /// Text in that file to replace.
    pub edit_from: String,
    /// What to replace it with; the answer must then contain it.
    pub edit_to: String,
    /// How long the reload may take, in seconds.
    pub deadline_secs: u64,
}

kind!(makes: |s| Makes::image(&s.image));

/// Whether a container is a development container of the workspace: the workspace mounted
/// over the image's code, and a command that reloads.
pub fn is_dev_container(c: &Container, workdir: &str, workspace: &std::path::Path) -> Result<(), String> {
    let code = crate::dockerfile::normalize_path(workdir);
    let mounted = c.binds.iter().any(|(src, dst)| {
        crate::dockerfile::normalize_path(dst) == code && super::same_path(std::path::Path::new(src), workspace)
    });
    if !mounted {
        return Err(format!("the workspace is not mounted over {code}"));
    }
    let cmd: Vec<&String> = c.run.entrypoint.iter().chain(c.run.cmd.iter()).collect();
    if !cmd.iter().any(|a| a.as_str() == "--reload" || a.contains("--reload")) {
        return Err("its command does not reload on change (no --reload)".into());
    }
    Ok(())
}

pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let id = format!("{step}.live");
    let (img, engine) = match ctx.built_image_and_engine(&id, &spec.image, "run").await {
        Err(r) => return vec![r],
        Ok(found) => found,
    };
    let example = format!(
        "docker run -d --name day11-dev -p 5050:{port} -v \"$PWD\":{wd} {image} gunicorn --reload --bind 0.0.0.0:{port} <app>",
        port = spec.container_port,
        wd = img.working_dir,
        image = spec.image
    );
    // The learner's development container: any container of the image's repository with the
    // workspace mounted over the code and a reloading command.
    let list = match engine.containers().await {
        Ok(l) => l,
        Err(e) => return vec![super::engine_error(&id, &e)],
    };
    let repo = super::image::repo_of(&spec.image);
    let mut reasons = Vec::new();
    let mut dev: Option<Container> = None;
    for s in list.iter().filter(|s| {
        !s.labels.contains_key(crate::engine::PROBE_LABEL)
            && (s.image_id == img.id || s.image == repo || s.image == spec.image)
    }) {
        if let Ok(Some(c)) = engine.container(&s.id).await {
            match is_dev_container(&c, &img.working_dir, &ctx.dir) {
                Ok(()) => {
                    dev = Some(c);
                    break;
                }
                Err(why) => reasons.push(format!("{}: {why}", c.name)),
            }
        }
    }
    let Some(dev) = dev else {
        let mut r = CheckResult::fail(&id, format!("no development container of {} mounts this workspace over its code with a reloading command", spec.image))
            .expected(example.clone())
            .hint("run the image with the workspace bind-mounted over the code and gunicorn --reload (or the same in a compose file)");
        if !reasons.is_empty() {
            r = r.found(reasons.join("; "));
        }
        return vec![r];
    };
    // A copy of the workspace, so the learner's files are never changed.
    let Ok(copy) = tempfile::Builder::new().prefix("lab-devloop-").tempdir() else {
        return vec![CheckResult::error(&id, "cannot create a temporary directory")];
    };
    for rel in crate::walk::files(&ctx.dir, std::path::Path::new(""), 5_000) {
        let to = copy.path().join(&rel);
        if let Some(p) = to.parent() {
            let _ = std::fs::create_dir_all(p);
        }
        if let Ok(bytes) = crate::bounded::read_file(&ctx.dir.join(&rel), crate::bounded::MAX_SOURCE_FILE, Some(&ctx.dir)) {
            let _ = std::fs::write(&to, bytes);
        }
    }
    // Readable by an unprivileged user in the container (the going-further image's).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(copy.path(), std::fs::Permissions::from_mode(0o755));
    }
    let mut probe = ProbeSpec::new(&spec.image, spec.container_port, 256);
    let mut cmd = dev.run.entrypoint.clone();
    cmd.extend(dev.run.cmd.iter().cloned());
    probe.cmd = Some(dev.run.cmd.clone());
    probe.binds = vec![format!("{}:{}", copy.path().display(), img.working_dir)];
    let http = crate::http::HttpExpect {
        path: spec.path.clone(),
        status: 200,
        json: Default::default(),
        deadline_secs: 20,
    };
    let (cid, _) = match super::start_serving(ctx, &id, probe, &http).await {
        Ok(x) => x,
        Err(r) => {
            let mut r = *r;
            r.message = format!("with {}'s mount and command ({}): {}", dev.name, cmd.join(" "), r.message);
            return vec![r];
        }
    };
    let host_port = engine
        .container(&cid)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.host_port(spec.container_port))
        .and_then(|p| p.parse::<u16>().ok());
    let edited = copy.path().join(&spec.edit_file);
    let changed = match crate::bounded::read_text(&edited, crate::bounded::MAX_SOURCE_FILE, None) {
        Ok(t) if t.contains(&spec.edit_from) => {
            std::fs::write(&edited, t.replacen(&spec.edit_from, &spec.edit_to, 1)).is_ok()
                // A reloader that polls modification times in whole seconds must see a change
                // even when the copy and the edit fall in the same second.
                && std::fs::File::options()
                    .write(true)
                    .open(&edited)
                    .and_then(|f| {
                        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(2))
                    })
                    .is_ok()
        }
        _ => false,
    };
    let mut seen = false;
    if let (true, Some(port)) = (changed, host_port) {
        let start = Instant::now();
        let mut touched = Instant::now();
        while start.elapsed() < Duration::from_secs(spec.deadline_secs) {
            if let crate::http::Attempt::Response { body, .. } =
                crate::http::get_once("127.0.0.1", port, &spec.path, Duration::from_secs(2)).await
            {
                if body.contains(&spec.edit_to) {
                    seen = true;
                    break;
                }
            }
            // A polling reloader takes its first look at file times when the worker boots: an
            // edit that lands before that look is its baseline, not a change. Move the time
            // forward again every two seconds, as an editor saving twice would.
            if touched.elapsed() > Duration::from_secs(2) {
                touched = Instant::now();
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&edited)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now() + Duration::from_secs(2)));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    super::stop_probe(ctx, &cid).await;
    let r = if !changed {
        CheckResult::error(&id, format!("the workspace's {} does not contain the text this check edits ({:?})", spec.edit_file, spec.edit_from))
    } else if seen {
        CheckResult::pass(&id, format!("with {}'s mount and command, an edit to {} showed in the answer with no rebuild", dev.name, spec.edit_file))
            .evidence("a probe container with the same mount and command on a temporary copy of the workspace, edited by lab (your files were not touched)")
    } else {
        CheckResult::fail(&id, format!("with {}'s mount and command, an edit to {} did not show within {} s", dev.name, spec.edit_file, spec.deadline_secs))
            .found(cmd.join(" "))
            .hint("gunicorn reloads only with --reload; check that the mount is over the code the app imports")
    };
    vec![r]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_container_mounts_the_workspace_over_the_code_and_reloads() {
        let ws = tempfile::tempdir().unwrap();
        let mut c = Container::default();
        c.run.cmd = ["gunicorn", "--reload", "--bind", "0.0.0.0:5000", "src.main:app"]
            .map(String::from)
            .to_vec();
        c.binds = vec![(ws.path().display().to_string(), "/app/".into())];
        assert!(is_dev_container(&c, "/app", ws.path()).is_ok());
        let mut no_reload = c.clone();
        no_reload.run.cmd.retain(|a| a != "--reload");
        assert!(is_dev_container(&no_reload, "/app", ws.path()).unwrap_err().contains("--reload"));
        let mut elsewhere = c.clone();
        elsewhere.binds = vec![(ws.path().display().to_string(), "/srv".into())];
        assert!(is_dev_container(&elsewhere, "/app", ws.path()).unwrap_err().contains("not mounted"));
    }
}
