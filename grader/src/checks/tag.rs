//! Kind `tag`: a versioned, namespaced tag points at the image the learner built.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::Makes;
use super::image::short_id;
use super::{engine_error, Ctx};
use crate::reference::{edit_distance, Reference};
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: some `[REGISTRY/]NAMESPACE/REPOSITORY:TAG` (the lab's `repository` and \
`tag`) exists and has the same image id as the lab's `source` image. `--image REF` picks the \
tag when there are several. It explains a tag without a namespace (Docker Hub refuses the \
push), a tag made before a rebuild (the ids differ: a tag is a pointer, not a copy that \
follows the name), a typo in the repository name, and the wrong version.\n\nWhy: tags are how \
releases are named and rolled back; a tag that points at the wrong image ships the wrong \
code with the right name.";

/// The parameters of a `tag` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image the tag must point at.
    pub source: String,
    /// The repository name (last path component), e.g. `python-docker-app`.
    pub repository: String,
    /// The tag, e.g. `v1`.
    pub tag: String,
}
kind!(makes: |s| Makes::repository(&s.repository));

/// All tags of the engine's images, with their image ids.
async fn all_tags(ctx: &Ctx, id: &str) -> Result<Vec<(String, String)>, CheckResult> {
    let engine = ctx.engine(id)?;
    let list = engine.images().await.map_err(|e| engine_error(id, &e))?;
    Ok(list
        .into_iter()
        .flat_map(|i| {
            let iid = i.id.clone();
            i.repo_tags.into_iter().map(move |t| (t, iid.clone()))
        })
        .filter(|(t, _)| t != "<none>:<none>")
        .collect())
}

/// The tag to grade: `--image`, else the candidate pointing at `source_id`, else the first.
pub async fn choose(
    ctx: &Ctx,
    id: &str,
    repository: &str,
    tag: &str,
    source_id: &str,
) -> Result<(Option<String>, Vec<String>), CheckResult> {
    if let Some(r) = &ctx.image_ref {
        return Ok((Some(r.clone()), vec![]));
    }
    let tags = all_tags(ctx, id).await?;
    let mut candidates: Vec<&(String, String)> = tags
        .iter()
        .filter(|(t, _)| {
            let r = Reference::parse(t);
            r.name() == repository && r.tag == tag && r.has_namespace()
        })
        .collect();
    candidates.sort_by_key(|(t, iid)| (iid != source_id, t.clone()));
    let names = candidates
        .iter()
        .map(|(t, _)| t.clone())
        .collect::<Vec<_>>();
    let chosen = ctx
        .chosen_tag
        .get_or_init(|| async { names.first().cloned() })
        .await
        .clone();
    Ok((chosen, names))
}

/// Grade the tag.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let source: &str = &ctx.bindings.image(&spec.source);
    let repository: &str = &spec.repository;
    let tag: &str = &spec.tag;
    let id = format!("{step}.tag");
    let src = match ctx.built_image(&id, source, "tag").await {
        Err(r) => return vec![r],
        Ok(i) => i,
    };
    let (chosen, all) = match choose(ctx, &id, repository, tag, &src.id).await {
        Ok(c) => c,
        Err(r) => return vec![r],
    };
    let example = format!("docker tag {source} localhost:5001/<you>/{repository}:{tag}");
    let Some(chosen) = chosen else {
        return vec![no_tag(ctx, &id, source, repository, tag, &example).await];
    };
    let tagged = match ctx.image(&id, &chosen).await {
        Err(r) => return vec![r],
        Ok(None) => {
            return vec![CheckResult::fail(
                &id,
                format!("there is no image {chosen} (named by --image)"),
            )
            .hint(format!("make it: `{example}`"))]
        }
        Ok(Some(i)) => i,
    };
    let others = if all.len() > 1 {
        format!(" (others: {}; choose with --image)", all[1..].join(", "))
    } else {
        String::new()
    };
    if tagged.id == src.id {
        vec![CheckResult::pass(
            &id,
            format!(
                "{chosen} is the same image as {source} ({}){others}",
                short_id(&src.id)
            ),
        )]
    } else {
        vec![CheckResult::fail(&id, format!("{chosen} points at another image than {source}: it was tagged before the image was rebuilt (a tag does not follow the name)"))
            .expected(short_id(&src.id))
            .found(short_id(&tagged.id))
            .hint(format!("tag the current build again: `docker tag {source} {chosen}`"))]
    }
}

async fn no_tag(
    ctx: &Ctx,
    id: &str,
    source: &str,
    repository: &str,
    tag: &str,
    example: &str,
) -> CheckResult {
    let base = CheckResult::fail(id, format!("no NAMESPACE/{repository}:{tag} tag exists"))
        .expected(format!("[REGISTRY/]NAMESPACE/{repository}:{tag}"))
        .hint(format!(
            "`{example}` (for Docker Hub: `docker tag {source} <user>/{repository}:{tag}`)"
        ));
    let Ok(tags) = all_tags(ctx, id).await else {
        return base;
    };
    for (t, _) in &tags {
        let r = Reference::parse(t);
        if r.name() == repository && r.tag == tag && !r.has_namespace() {
            return base
                .found(t.clone())
                .hint(format!("{t} has no namespace: a registry stores repositories under a user or organisation. `{example}`"));
        }
    }
    for (t, _) in &tags {
        let r = Reference::parse(t);
        if r.has_namespace()
            && r.name() != repository
            && edit_distance(r.name(), repository) <= 3
            && r.tag == tag
        {
            return base.found(t.clone()).hint(format!(
                "the repository name is misspelled: `{}` is not `{repository}`",
                r.name()
            ));
        }
    }
    for (t, _) in &tags {
        let r = Reference::parse(t);
        if r.has_namespace() && r.name() == repository && r.tag != "latest" {
            // Tags are exact strings: `v1.0`, `V1` and `1` are other tags, never read as `v1`.
            let alike = r.tag.eq_ignore_ascii_case(tag)
                || r.tag.trim_start_matches(['v', 'V']) == tag.trim_start_matches(['v', 'V'])
                || r.tag.trim_end_matches(".0").trim_end_matches(".0") == tag;
            let why = if alike {
                format!(": a tag is an exact, case-sensitive string, so `{}` and `{tag}` are two different tags, whatever versions they mean to you", r.tag)
            } else {
                String::new()
            };
            return base.found(t.clone()).hint(format!(
                "the lesson's version is `{tag}`, not `{}`{why}: `docker tag {source} {}:{tag}`",
                r.tag,
                r.repository()
            ));
        }
    }
    // Only `latest`: a tag written without `:VERSION` gets `latest`, not the lesson's version.
    if let Some((t, _)) = tags.iter().find(|(t, _)| {
        let r = Reference::parse(t);
        r.has_namespace() && r.name() == repository && r.tag == "latest"
    }) {
        let r = Reference::parse(t);
        return base.found(t.clone()).hint(format!(
            "{t} has no version of its own: a name without `:TAG` means `:latest`. Add the lesson's version: `docker tag {source} {}:{tag}`",
            r.repository()
        ));
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testkit::{app_image, ctx, workspace};
    use crate::engine::fake::FakeEngine;
    use crate::report::Status;

    #[tokio::test]
    async fn a_tag_left_on_an_older_build_fails() {
        let fake = FakeEngine::default();
        fake.add_image(app_image("sha256:new", &["python-docker-app:latest"]));
        fake.add_image(app_image("sha256:old", &["ana/python-docker-app:v1"]));
        let spec = Spec {
            source: "python-docker-app:latest".into(),
            repository: "python-docker-app".into(),
            tag: "v1".into(),
        };
        let r = check(&ctx(fake, &workspace()), "tag", &spec).await;
        assert_eq!(r[0].status, Status::Fail);
        assert!(
            r[0].message.contains("tagged before the image was rebuilt"),
            "{:?}",
            r[0]
        );
        assert_eq!(r[0].expected.as_deref(), Some("new"));
    }
}
