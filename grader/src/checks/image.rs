//! Kind `image`: the learner built the image, under the lesson's name, from this workspace.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::Makes;
use std::collections::HashSet;

use super::{compare_content, engine_error, Ctx};
use crate::dockerfile;
use crate::reference::{edit_distance, Reference};
use crate::engine::Image;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the image the lab names (`image`) exists; its layers start with the base \
image's layers (it was built FROM it); its config (working dir, environment, exposed port, \
command) matches what the workspace's Dockerfile asks, so it was built from *this* \
Dockerfile and not an older version of it; and it is not older than the Dockerfile or the \
code. When the image is missing, it looks for an image built from this Dockerfile under \
another name (a typo in `-t`, or no `-t` at all) and says so.\n\nWhy: `docker build` without \
`-t`, with a typo in the name, or from another directory leaves the learner with an image \
the next steps cannot find, and a stale image runs old code.";

/// The parameters of an `image` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image reference the learner builds, e.g. `python-docker-app:latest`.
    pub image: String,
    /// The base image its layers must start with.
    pub base_image: String,
    /// Workspace paths whose changes make the image stale.
    pub sources: Vec<String>,
}
kind!(makes: |s| Makes::image(&s.image));

/// Could this workspace have produced `image`? Its Dockerfile must exist, parse, and match the
/// image's config; `Err` says why not. (A new workspace with an identical Dockerfile could
/// have, and that is accepted: the image is then exactly what it would build.)
pub fn provenance(dir: &std::path::Path, image: &Image) -> Result<(), String> {
    match dockerfile::read(dir) {
        Ok(None) => Err("there is no Dockerfile here".into()),
        Err(e) => Err(format!("its Dockerfile cannot be used: {e}")),
        Ok(Some(Err(_))) => Err("its Dockerfile does not parse".into()),
        Ok(Some(Ok(f))) => {
            let diffs = config_differences(image, &f);
            if diffs.is_empty() {
                Ok(())
            } else {
                let what: Vec<&str> = diffs.iter().map(|(k, _, _)| k.as_str()).collect();
                Err(format!(
                    "its config ({}) differs from this Dockerfile's",
                    what.join(", ")
                ))
            }
        }
    }
}

/// Does this image's config look like what `facts` would build?
fn config_differences(image: &Image, facts: &dockerfile::Facts) -> Vec<(String, String, String)> {
    let mut diffs = Vec::new();
    if let Some(w) = facts.workdir() {
        if dockerfile::normalize_path(&image.working_dir) != w {
            diffs.push(("WORKDIR".into(), w, image.working_dir.clone()));
        }
    }
    let env: HashSet<&str> = image.env.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    for e in facts.env.iter().rev() {
        if !seen.insert(e.key.clone()) {
            continue;
        }
        let pair = format!("{}={}", e.key, e.value);
        if !env.contains(pair.as_str()) {
            let found = image
                .env
                .iter()
                .find(|x| x.starts_with(&format!("{}=", e.key)))
                .cloned()
                .unwrap_or_else(|| "(not set)".into());
            diffs.push(("ENV".into(), pair, found));
        }
    }
    for (p, _) in &facts.expose {
        let key = if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        };
        if !image.exposed_ports.contains(&key) {
            diffs.push(("EXPOSE".into(), key, image.exposed_ports.join(", ")));
        }
    }
    // The engine stores exec form as written and shell form as `/bin/sh -c "..."`.
    let as_stored = |c: &dockerfile::CmdFact| {
        if c.exec {
            c.args.clone()
        } else {
            vec!["/bin/sh".into(), "-c".into(), c.args.join(" ")]
        }
    };
    for (what, fact, stored) in [
        ("ENTRYPOINT", &facts.entrypoint, &image.entrypoint),
        ("CMD", &facts.cmd, &image.cmd),
    ] {
        if let Some(c) = fact {
            let want = as_stored(c);
            if *stored != want {
                diffs.push((what.into(), format!("{want:?}"), format!("{stored:?}")));
            }
        }
    }
    diffs
}

/// Grade the built image.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let name: &str = &ctx.bindings.image(&spec.image);
    let base: &str = &spec.base_image;
    let sources: &[String] = &spec.sources;
    let id = |s: &str| format!("{step}.{s}");
    let image = match ctx.image(&id("exists"), name).await {
        Err(e) => return vec![e],
        Ok(i) => i,
    };
    let facts = dockerfile::read(&ctx.dir)
        .ok()
        .flatten()
        .and_then(Result::ok);
    let Some(image) = image else {
        return vec![missing(ctx, &id("exists"), name, facts.as_ref()).await];
    };
    let short = short_id(&image.id);
    let mut out = vec![CheckResult::pass(
        id("exists"),
        format!("{name} exists ({short})"),
    )];

    match ctx.image(&id("base"), base).await {
        Err(e) => out.push(e),
        Ok(None) => out.push(
            CheckResult::skip(id("base"), format!("the base image {base} is not on this engine, so the layers cannot be compared"))
                .hint(format!("`docker pull {base}` (or run scripts/setup-engine.sh)")),
        ),
        Ok(Some(b)) if image.layers.starts_with(&b.layers) => out.push(CheckResult::pass(
            id("base"),
            format!("its first {} layer(s) are {base}'s: it was built FROM {base}", b.layers.len()),
        )),
        Ok(Some(_)) => out.push(
            CheckResult::fail(id("base"), format!("{name} was not built FROM {base}: its layers do not start with the base image's"))
                .expected(format!("FROM {base}"))
                .hint(format!("set `FROM {base}` and rebuild: `docker build -t {} .`", repo_of(name))),
        ),
    }

    if facts.is_none() {
        let why = provenance(&ctx.dir, &image).err().unwrap_or_default();
        out.push(
            CheckResult::fail(
                id("config"),
                format!("{name} exists, but it was not built from this workspace: {why}. It is left from another workspace or an earlier run on this machine"),
            )
            .hint(format!(
                "write this workspace's Dockerfile, then `docker build -t {} .` here",
                repo_of(name)
            )),
        );
    }
    if let Some(f) = &facts {
        let diffs = config_differences(&image, f);
        if diffs.is_empty() {
            out.push(CheckResult::pass(
                id("config"),
                "its config (working dir, env, port, command) matches the Dockerfile",
            ));
        } else {
            let expected: Vec<String> = diffs.iter().map(|(k, w, _)| format!("{k} {w}")).collect();
            let found: Vec<String> = diffs.iter().map(|(k, _, g)| format!("{k} {g}")).collect();
            out.push(
                CheckResult::fail(
                    id("config"),
                    format!("{name} was not built from the current Dockerfile: its config differs"),
                )
                .expected(expected.join("; "))
                .found(found.join("; "))
                .hint(format!(
                    "rebuild from the workspace: `docker build -t {} .`",
                    repo_of(name)
                )),
            );
        }
    }

    if let Ok(engine) = ctx.engine(&id("fresh")) {
        match compare_content(ctx, engine.as_ref(), &image.id, &image.working_dir, sources).await {
            Err(e) => out.push(engine_error(&id("fresh"), &e)),
            Ok(c) => {
                if c.differing.is_empty() {
                    out.push(CheckResult::pass(
                        id("fresh"),
                        format!(
                            "the code in the image ({}) matches the workspace",
                            image.working_dir
                        ),
                    ));
                } else {
                    out.push(
                        CheckResult::fail(id("fresh"), format!("the image holds an older version of {}: the workspace changed after the build", c.differing.join(", ")))
                            .hint(format!("rebuild: `docker build -t {} .` (unchanged layers come from the cache)", repo_of(name))),
                    );
                }
                if !c.leaked.is_empty() {
                    out.push(
                        CheckResult::warn(id("context"), format!("the image contains {} from the workspace: the build context was not trimmed", c.leaked.join(", ")))
                            .hint("list them in .dockerignore and rebuild"),
                    );
                }
            }
        }
    }
    out
}

/// The image is missing: explain, naming a look-alike if one exists.
async fn missing(
    ctx: &Ctx,
    id: &str,
    name: &str,
    facts: Option<&dockerfile::Facts>,
) -> CheckResult {
    let r = missing_or_lookalike(ctx, id, name, facts).await;
    // BuildKit pulls a `# syntax=` frontend before it reads the Dockerfile: offline (a room
    // without Internet) the build stops there, "failed to resolve source metadata for
    // docker.io/docker/dockerfile:1", and no image is made. That is the cause to name first.
    let Some((frontend, line)) = facts.and_then(|f| f.syntax.clone()) else {
        return r;
    };
    let repo = repo_of(name);
    let earlier = r.found.map(|f| format!(" (also found: {f})")).unwrap_or_default();
    CheckResult { found: None, ..r }
        .found(format!("Dockerfile:{line} asks BuildKit for the frontend image `{frontend}`, which it must pull (from Docker Hub unless the name says otherwise) before it builds: without Internet, or on a network that blocks Docker Hub, the build fails there (\"failed to resolve source metadata for ...{frontend}\"){earlier}"))
        .at(format!("Dockerfile:{line}"))
        .hint(format!("delete the `# syntax=` line (the builder's own Dockerfile frontend reads this file), then `docker build -t {repo} .`"))
}

/// The image is missing: the plain failure, or one naming a look-alike if one exists.
async fn missing_or_lookalike(
    ctx: &Ctx,
    id: &str,
    name: &str,
    facts: Option<&dockerfile::Facts>,
) -> CheckResult {
    let repo = repo_of(name);
    let base = CheckResult::fail(id, format!("there is no image {name}"))
        .expected(name.to_string())
        .hint(format!(
            "build it from the workspace: `docker build -t {repo} .`"
        ));
    let Ok(engine) = ctx.engine(id) else {
        return base;
    };
    let list = match engine.images().await {
        Ok(l) => l,
        Err(e) => return engine_error(id, &e),
    };
    // An image whose config matches this Dockerfile is the learner's build under another name.
    // With several, the likeliest is one whose name resembles the lab's, then the newest.
    if let Some(f) = facts {
        let related = |tags: &[String]| {
            tags.iter().any(|t| {
                let n = Reference::parse(t).name().to_string();
                n.contains(repo) || (n.len() >= 4 && repo.contains(n.as_str())) || edit_distance(&n, repo) <= 3
            })
        };
        let mut found = Vec::new();
        for summary in list.iter().take(50) {
            let Ok(Some(img)) = engine.image(&summary.id).await else {
                continue;
            };
            if (img.cmd.is_empty() && img.entrypoint.is_empty())
                || !config_differences(&img, f).is_empty()
            {
                continue;
            }
            found.push((related(&summary.repo_tags), img.created, summary, img));
        }
        found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
        if let Some((_, _, summary, img)) = found.into_iter().next() {
            let names = if summary.repo_tags.is_empty()
                || summary.repo_tags.iter().all(|t| t == "<none>:<none>")
            {
                "no name at all (built without -t)".to_string()
            } else {
                summary.repo_tags.join(", ")
            };
            return base
                .found(format!("an image built from this Dockerfile: {} with {names}", short_id(&img.id)))
                .hint(format!("give it the lesson's name: `docker tag {} {name}`, or rebuild with `docker build -t {repo} .`", short_id(&img.id)));
        }
    }
    base
}

/// `python-docker-app` from `python-docker-app:latest`.
pub fn repo_of(reference: &str) -> &str {
    match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => r,
        _ => reference,
    }
}

/// The 12-character form of an image id.
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testkit::{ctx, workspace};
    use crate::engine::fake::FakeEngine;
    use crate::engine::EngineError;
    use crate::report::Status;

    #[tokio::test]
    async fn a_wedged_engine_is_an_error_with_advice_not_a_failure() {
        let fake = FakeEngine::default();
        *fake.fail_with.lock().unwrap() = Some(EngineError::Timeout {
            what: "inspecting".into(),
            secs: 10,
        });
        let spec = Spec {
            image: "python-docker-app:latest".into(),
            base_image: "python:3.9-slim".into(),
            sources: vec![],
        };
        let r = check(&ctx(fake, &workspace()), "build", &spec).await;
        assert_eq!(r[0].status, Status::Error);
        assert!(r[0].hint.as_deref().unwrap().contains("restart the engine"));
    }
}
