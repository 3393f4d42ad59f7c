//! Kind `push`: the registry named by the tag holds the image the learner built.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::{Makes, Needs};
use super::{image::short_id, Ctx};
use crate::reference::Reference;
use crate::registry::{manifest_config_digest, manifest_digest, Lookup};
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the registry in the tag (Docker Hub when the tag names none) has the tag, \
and its manifest digest equals the local image's `RepoDigests` entry for that repository, \
which the engine records when it pushes (on the containerd image store, where the image id is \
the index digest the registry stores as it is, the id itself; there `RepoDigests` lists every \
local name before any push, so it proves nothing). It explains: not pushed (404), pushed an older \
build (digests differ, or the local image has no digest for that repository), registry \
unreachable, access denied.\n\nWhy: \"pushed\" is a claim about another machine; the only \
proof is to ask the registry.";

/// The parameters of a `push` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image that was tagged and pushed, e.g. `python-docker-app:latest`. Lab files of
    /// format 1 had no such field; for them it is `<repository>:latest`.
    #[serde(default)]
    pub source: Option<String>,
    /// The repository name (last path component).
    pub repository: String,
    /// The tag pushed.
    pub tag: String,
    /// The local registry the lab pushes to (`host:port`), for `lab doctor`.
    #[serde(default)]
    pub registry: Option<String>,
}
kind!(
    needs: |s| Needs { registry: s.registry.clone(), ..Needs::ENGINE },
    makes: |s| Makes::repository(&s.repository),
);

/// Grade the push.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let source_name: String = spec.source.clone().unwrap_or_else(|| format!("{}:latest", spec.repository));
    let source: &str = &ctx.bindings.image(&source_name);
    let repository: &str = &spec.repository;
    let tag: &str = &spec.tag;
    let id = format!("{step}.registry");
    let src_id = match ctx.built_image(&id, source, "push").await {
        Err(r) => return vec![r],
        Ok(i) => i.id,
    };
    let chosen = match super::tag::choose(ctx, &id, repository, tag, &src_id).await {
        Err(r) => return vec![r],
        Ok((c, _)) => c,
    };
    let Some(chosen) = chosen else {
        return vec![CheckResult::skip(
            &id,
            format!("there is no NAMESPACE/{repository}:{tag} tag to push yet"),
        )
        .hint("do the tag step first")];
    };
    let local = match ctx.image(&id, &chosen).await {
        Err(r) => return vec![r],
        Ok(None) => {
            return vec![
                CheckResult::skip(&id, format!("there is no image {chosen}"))
                    .hint("do the tag step first"),
            ]
        }
        Ok(Some(i)) => i,
    };
    let r = Reference::parse(&chosen);
    let where_ = r.registry.clone().unwrap_or_else(|| "Docker Hub".into());
    let push = format!("docker push {chosen}");
    // On the legacy image store the id is the config digest and `RepoDigests` holds what the
    // engine recorded when it pushed. On the containerd store the id is the image's own
    // (index) digest, which the registry stores as it is, and `RepoDigests` lists `repo@<id>`
    // for every local name before any push: there it is no record of a push at all.
    let local_digest = local
        .repo_digests
        .iter()
        .find_map(|d| {
            d.split_once('@')
                .filter(|(repo, _)| *repo == r.repository())
                .map(|(_, dg)| dg.to_string())
        })
        .filter(|d| *d != local.id);
    match manifest_digest(&r).await {
        // The fast path: the manifest digest is the one the engine recorded when it pushed.
        Lookup::Found(remote) if local_digest.as_deref() == Some(remote.as_str()) => vec![CheckResult::pass(&id, format!("{where_} has {chosen} with digest {}, the same as the local image", short(&remote)))],
        // The containerd store: the registry holds the very index the local image id names.
        Lookup::Found(remote) if remote == local.id => vec![CheckResult::pass(&id, format!("{where_} has {chosen} with digest {}, the local image's own id (containerd image store)", short(&remote)))],
        // Otherwise judge by content that survives re-encoding: the config the manifest names
        // is the local image id (Podman re-compresses layers when it pushes).
        Lookup::Found(remote) if manifest_config_digest(&r).await == Ok(Some(local.id.clone())) => {
            vec![CheckResult::pass(&id, format!("{where_} has {chosen}, and its manifest's config is the local image {} (the manifest digest {} differs from the engine's record, as when Podman re-encodes layers on push)", short_id(&local.id), short(&remote)))
                .evidence("the registry manifest's config.digest equals the local image id")]
        }
        Lookup::Found(remote) => match local_digest {
            Some(l) => vec![CheckResult::fail(&id, format!("{where_} has {chosen}, but not this build: it was rebuilt or re-tagged after the push"))
                .expected(short(&l))
                .found(short(&remote))
                .hint(format!("push again: `{push}`"))],
            None => vec![CheckResult::fail(&id, format!("{where_} has {chosen}, but the local image {} was never pushed there: the registry holds an older build", short_id(&local.id)))
                .found(short(&remote))
                .hint(format!("push the current build: `{push}`"))],
        },
        Lookup::NotFound => vec![CheckResult::fail(&id, format!("{where_} does not have {chosen}: it was not pushed (registry answered 404, MANIFEST_UNKNOWN)"))
            .hint(format!("`{push}`"))],
        Lookup::Denied(code) => vec![CheckResult::fail(&id, format!("{where_} refused to show {chosen} (HTTP {code}): access denied"))
            .hint(if r.registry.is_none() { "log in with `docker login`, make sure the namespace is your Docker Hub user, then push again".to_string() } else { format!("log in with `docker login {where_}` and push again") })],
        Lookup::Unreachable(e) => vec![CheckResult::error(&id, format!("the registry {where_} cannot be reached: {e}"))
            .hint(if r.is_local() { "start the local registry: `scripts/setup-engine.sh` (it listens on 127.0.0.1:5001)".to_string() } else { "check your network connection; workshops without Internet use the local registry on localhost:5001".to_string() })],
        Lookup::Other(e) => vec![CheckResult::error(&id, format!("the registry {where_} gave an unexpected answer: {e}"))],
    }
}

fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}
