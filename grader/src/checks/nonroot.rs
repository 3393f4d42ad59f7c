//! Kind `nonroot`: the image's app runs as a user other than root.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::{Ctx, Makes};
use crate::engine::ProbeSpec;
use crate::http::HttpExpect;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the image sets a USER other than root, and the built-in \
runtime proves it: a probe container from the image serves as the lab expects, and its first \
process's real user id (read from /proc/1/status inside it) is not 0. It explains an image with \
no USER, a USER written as root or 0, and an app that stops serving as that user (files it \
cannot read, a port below 1024).\n\nWhy: a process that runs as root inside a container is root \
on the kernel it shares with the host; one escape or one mounted directory away from the \
host's files. Running as an unprivileged user is the cheapest defence there is.";

/// The parameters of a `nonroot` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image to run.
    pub image: String,
    /// The container port the app listens on.
    pub container_port: u16,
    /// What the app must answer as that user.
    pub http: HttpExpect,
}

kind!(makes: |s| Makes::image(&s.image));

/// The real uid in a `/proc/PID/status` text.
pub fn real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let id = format!("{step}.user");
    let img = match ctx.built_image(&id, &spec.image, "run").await {
        Err(r) => return vec![r],
        Ok(i) => i,
    };
    let user = img.user.trim();
    if user.is_empty() || user == "root" || user == "0" || user.starts_with("0:") || user.starts_with("root:") {
        let found = if user.is_empty() {
            "no USER instruction: the app runs as root (uid 0)".to_string()
        } else {
            format!("USER {user}: that is root")
        };
        return vec![CheckResult::fail(&id, format!("{} runs its app as root", spec.image))
            .found(found)
            .expected("USER <a user that is not root>, after the files are in place")
            .hint("create a user and switch to it near the end of the Dockerfile: `RUN useradd --create-home appuser` then `USER appuser`, and rebuild")];
    }
    let engine = match ctx.engine(&id) {
        Ok(e) => e.clone(),
        Err(r) => return vec![r],
    };
    let (cid, served) = match super::start_serving(ctx, &id, ProbeSpec::new(&spec.image, spec.container_port, 256), &spec.http).await {
        Ok(x) => x,
        Err(r) => {
            let mut r = *r;
            r.message = format!("as USER {user}: {}", r.message);
            return vec![r.hint("the app may not be able to read its files or bind its port as that user: `docker run --rm` the image and read the log")];
        }
    };
    let status = engine.exec(&cid, &["cat", "/proc/1/status"]).await;
    super::stop_probe(ctx, &cid).await;
    let r = match status {
        Err(e) => super::engine_error(&id, &e),
        Ok((_, text)) => match real_uid(&text) {
            Some(0) => CheckResult::fail(&id, format!("the image says USER {user}, but its first process runs as uid 0"))
                .found("uid 0 (root) in /proc/1/status")
                .hint("make sure USER names a user that exists and is not root, and that no ENTRYPOINT switches back"),
            Some(uid) => CheckResult::pass(&id, format!("the app runs as USER {user} (uid {uid}) and {served}"))
                .evidence("/proc/1/status inside a probe container lab started from the image"),
            None => CheckResult::error(&id, "could not read the process's user inside the container")
                .detail(text),
        },
    };
    vec![r]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_real_uid_is_read_from_proc_status() {
        let s = "Name:\tgunicorn\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\n";
        assert_eq!(super::real_uid(s), Some(1000));
        assert_eq!(super::real_uid("Uid:\t0\t0\t0\t0"), Some(0));
        assert_eq!(super::real_uid("nothing"), None);
    }
}
