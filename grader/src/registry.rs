//! A registry client for one question: which manifest digest does a tag have?
//!
//! Registry HTTP API v2: `HEAD /v2/<name>/manifests/<tag>` with the Docker v2, OCI manifest and
//! OCI index media types in `Accept` (otherwise the digest differs from the engine's
//! `RepoDigests`). A 401 carrying `Www-Authenticate: Bearer realm=...` is answered with the
//! anonymous token flow (Docker Hub's). Plain HTTP is used only for the local machine.

use std::time::Duration;

use crate::reference::Reference;

const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
const DEADLINE: Duration = Duration::from_secs(8);

/// What the registry says about a tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The tag exists with this manifest digest.
    Found(String),
    /// The registry does not have the tag (or the repository).
    NotFound,
    /// The registry refuses to tell us (private repository, bad credentials).
    Denied(u16),
    /// Nothing answered, or the connection failed.
    Unreachable(String),
    /// An unexpected answer.
    Other(String),
}

/// Whether a registry answers `GET /v2/` with 200 on `host:port` over plain HTTP (as the lab's
/// local registry does) within 2 s. `localhost` is asked on 127.0.0.1, where it listens.
pub async fn answers(addr: &str) -> bool {
    let addr = addr.replacen("localhost", "127.0.0.1", 1);
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    client
        .get(format!("http://{addr}/v2/"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn base_url(r: &Reference) -> (String, String) {
    match &r.registry {
        None => {
            let path = if r.has_namespace() {
                r.path.clone()
            } else {
                format!("library/{}", r.path)
            };
            ("https://registry-1.docker.io".to_string(), path)
        }
        Some(host) if r.is_local() => (format!("http://{host}"), r.path.clone()),
        Some(host) => (format!("https://{host}"), r.path.clone()),
    }
}

fn bearer_params(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let rest = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    let mut realm = None;
    let mut params = Vec::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.trim_matches('"').to_string();
        if k == "realm" {
            realm = Some(v);
        } else {
            params.push((k.to_string(), v));
        }
    }
    Some((realm?, params))
}

/// The largest manifest read (a real one is a few KiB).
const MAX_MANIFEST: usize = 1024 * 1024;

/// Ask the registry named by `r` for the manifest digest of its tag.
pub async fn manifest_digest(r: &Reference) -> Lookup {
    match manifest_request(r, false).await {
        Err(l) => l,
        Ok((resp, _)) => match resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            Some(d) => Lookup::Found(d.to_string()),
            None => Lookup::Other("the registry answered without a Docker-Content-Digest".into()),
        },
    }
}

/// The digest of the image config the tag's manifest names: for a single-platform image it
/// is the image id the engine shows, on Docker and Podman alike, and it survives a push that
/// re-encodes the layers (Podman compresses them anew, so its manifest digest differs from
/// its `RepoDigests`). `Ok(None)` for a multi-platform index. The body is read up to 1 MiB.
pub async fn manifest_config_digest(r: &Reference) -> Result<Option<String>, Lookup> {
    let (resp, url) = manifest_request(r, true).await?;
    let body = read_capped(resp, MAX_MANIFEST).await.map_err(|e| match e {
        None => Lookup::Other(format!("the manifest at {url} is over 1 MiB")),
        Some(e) => Lookup::Unreachable(e),
    })?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Lookup::Other(format!("the manifest at {url} is not JSON: {e}")))?;
    Ok(v.pointer("/config/digest")
        .and_then(|d| d.as_str())
        .map(String::from))
}

/// A registry's answer body, at most `max` bytes: `Err(None)` when it is longer, `Err(Some(why))`
/// when the connection fails.
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, Option<String>> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Some(error_chain(&e)))? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(None);
        }
    }
    Ok(body)
}

/// HEAD (or GET) a tag's manifest, answering a Bearer challenge with the anonymous token
/// flow. A 200 comes back as the response; anything else as the [`Lookup`] it means.
async fn manifest_request(r: &Reference, get: bool) -> Result<(reqwest::Response, String), Lookup> {
    let client = match reqwest::Client::builder().timeout(DEADLINE).build() {
        Ok(c) => c,
        Err(e) => return Err(Lookup::Other(e.to_string())),
    };
    let (base, path) = base_url(r);
    let url = format!("{base}/v2/{path}/manifests/{}", r.tag);
    let head = |token: Option<String>| {
        let req = if get {
            client.get(&url)
        } else {
            client.head(&url)
        };
        let mut req = req.header("Accept", ACCEPT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let mut resp = match head(None).await {
        Ok(r) => r,
        Err(e) => return Err(Lookup::Unreachable(format!("{base}: {}", error_chain(&e)))),
    };
    if resp.status() == 401 {
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_params);
        if let Some((realm, mut params)) = challenge {
            if !params.iter().any(|(k, _)| k == "scope") {
                params.push(("scope".into(), format!("repository:{path}:pull")));
            }
            let token = client.get(&realm).query(&params).send().await;
            let token = match token {
                Ok(t) if t.status().is_success() => {
                    let body = read_capped(t, 64 * 1024).await.unwrap_or_default();
                    serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| {
                            v.get("token")
                                .or_else(|| v.get("access_token"))
                                .and_then(|t| t.as_str())
                                .map(String::from)
                        })
                }
                _ => None,
            };
            if let Some(token) = token {
                resp = match head(Some(token)).await {
                    Ok(r) => r,
                    Err(e) => {
                        return Err(Lookup::Unreachable(format!("{base}: {}", error_chain(&e))))
                    }
                };
            }
        }
    }
    match resp.status().as_u16() {
        200 => Ok((resp, url)),
        404 => Err(Lookup::NotFound),
        s @ (401 | 403) => Err(Lookup::Denied(s)),
        s => Err(Lookup::Other(format!("HTTP {s} from {url}"))),
    }
}

/// Delete a tag's manifest from a local registry (one with deletes enabled, like the lab's).
pub async fn delete_local(r: &Reference) -> Result<(), String> {
    if !r.is_local() {
        return Err(format!(
            "{r} is not on a local registry; lab only deletes from those"
        ));
    }
    let digest = match manifest_digest(r).await {
        Lookup::Found(d) => d,
        Lookup::NotFound => return Ok(()),
        other => return Err(format!("{other:?}")),
    };
    let (base, path) = base_url(r);
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .delete(format!("{base}/v2/{path}/manifests/{digest}"))
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    match resp.status().as_u16() {
        200..=299 | 404 => Ok(()),
        s => Err(format!("the registry refused the delete (HTTP {s})")),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_challenge_is_read() {
        let (realm, params) = bearer_params(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(realm, "https://auth.docker.io/token");
        assert!(params.contains(&("service".into(), "registry.docker.io".into())));
    }

    #[test]
    fn urls() {
        assert_eq!(
            base_url(&Reference::parse("localhost:5001/a/b:v1")),
            ("http://localhost:5001".into(), "a/b".into())
        );
        assert_eq!(
            base_url(&Reference::parse("a/b:v1")),
            ("https://registry-1.docker.io".into(), "a/b".into())
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_not_a_hang() {
        let port = crate::http::free_loopback_port().unwrap();
        let r = Reference::parse(&format!("localhost:{port}/a/b:v1"));
        assert!(matches!(manifest_digest(&r).await, Lookup::Unreachable(_)));
    }
}
