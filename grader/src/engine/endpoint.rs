//! Which engine to talk to, found the way the docker CLI finds it:
//! `DOCKER_HOST`, else the current docker context (`DOCKER_CONTEXT`, else `currentContext` in
//! `$DOCKER_CONFIG/config.json`), else the default socket, else Podman's socket.
//!
//! Contexts are how Docker Desktop, Colima and Rancher Desktop users connect; bollard does not
//! read them, so this module does (`$DOCKER_CONFIG/contexts/meta/<sha256 of name>/meta.json`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An engine address and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///var/run/docker.sock`, `tcp://host:2376`, ...
    pub host: String,
    /// Why this one: `DOCKER_HOST`, `docker context "colima"`, `default socket`, `Podman socket`.
    pub source: String,
}

#[derive(Deserialize)]
struct Config {
    #[serde(rename = "currentContext", default)]
    current_context: String,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, MetaEndpoint>,
}

#[derive(Deserialize)]
struct MetaEndpoint {
    #[serde(rename = "Host", default)]
    host: String,
}

/// The docker CLI's configuration directory.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".docker")
}

/// The docker CLI names a context's directory after the SHA-256 of the context's name.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The host of a named context, from its metadata file.
pub fn context_host(config_dir: &Path, name: &str) -> Result<String, String> {
    let meta = config_dir
        .join("contexts/meta")
        .join(sha256_hex(name.as_bytes()))
        .join("meta.json");
    // The user's docker configuration: read bounded (a regular file, 1 MiB) like everything else.
    let text = crate::bounded::read_text(&meta, 1024 * 1024, None).map_err(|e| {
        format!(
            "docker context {name:?}: cannot read {}: {e}",
            meta.display()
        )
    })?;
    let m: Meta = serde_json::from_str(&text)
        .map_err(|e| format!("docker context {name:?}: {}: {e}", meta.display()))?;
    m.endpoints
        .get("docker")
        .map(|e| e.host.clone())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("docker context {name:?} has no docker endpoint"))
}

/// Podman's rootless and rootful sockets, in the order Podman users have them.
fn podman_sockets() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(d).join("podman/podman.sock"));
    }
    v.push(PathBuf::from("/run/podman/podman.sock"));
    v
}

/// Resolve the engine endpoint. `Err` when a configured context cannot be read.
pub fn resolve() -> Result<Endpoint, String> {
    if let Ok(h) = std::env::var("DOCKER_HOST") {
        if !h.is_empty() {
            return Ok(Endpoint {
                host: h,
                source: "DOCKER_HOST".into(),
            });
        }
    }
    let dir = docker_config_dir();
    let context = std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let text =
                crate::bounded::read_text(&dir.join("config.json"), 1024 * 1024, None).ok()?;
            let c: Config = serde_json::from_str(&text).ok()?;
            Some(c.current_context).filter(|c| !c.is_empty())
        });
    if let Some(name) = context.filter(|c| c != "default") {
        let host = context_host(&dir, &name)?;
        return Ok(Endpoint {
            host,
            source: format!("docker context {name:?}"),
        });
    }
    let default = Path::new("/var/run/docker.sock");
    if default.exists() {
        return Ok(Endpoint {
            host: "unix:///var/run/docker.sock".into(),
            source: "the default socket".into(),
        });
    }
    if let Some(p) = podman_sockets().into_iter().find(|p| p.exists()) {
        return Ok(Endpoint {
            host: format!("unix://{}", p.display()),
            source: "the Podman socket".into(),
        });
    }
    Ok(Endpoint {
        host: "unix:///var/run/docker.sock".into(),
        source: "the default socket (missing)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_docker_cli_context_directory_names() {
        // `docker context create colima` stores its metadata under sha256("colima").
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_context_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("contexts/meta").join(sha256_hex(b"colima"));
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"colima","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        assert_eq!(
            context_host(dir.path(), "colima").unwrap(),
            "unix:///home/u/.colima/docker.sock"
        );
        assert!(context_host(dir.path(), "missing")
            .unwrap_err()
            .contains("cannot read"));
    }
}
