//! Image references (`[REGISTRY/]NAMESPACE/NAME:TAG`) split the way the docker CLI splits them.

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `localhost:5001`, `ghcr.io`; `None` means Docker Hub.
    pub registry: Option<String>,
    /// The repository path without the registry: `veena1700/python-docker-app`.
    pub path: String,
    pub tag: String,
}

impl Reference {
    /// Parse a reference; a missing tag is `latest`. Digests (`@sha256:`) are dropped.
    pub fn parse(s: &str) -> Reference {
        let s = s.split('@').next().unwrap_or(s);
        let (name, tag) = match s.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t.to_string()),
            _ => (s, "latest".to_string()),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), rest.to_string())
            }
            _ => (None, name.to_string()),
        };
        Reference {
            registry,
            path,
            tag,
        }
    }

    /// The repository's last path component: `python-docker-app`.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Whether the path has a namespace (`user/name`), which Docker Hub requires for pushes.
    pub fn has_namespace(&self) -> bool {
        self.path.contains('/')
    }

    /// The repository as it appears in `RepoDigests` (`localhost:5001/ns/name`, `ns/name`).
    pub fn repository(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// Whether plain HTTP is acceptable (only for the local machine).
    pub fn is_local(&self) -> bool {
        self.registry.as_deref().is_some_and(|r| {
            let host = r.rsplit_once(':').map_or(r, |(h, _)| h);
            host == "localhost" || host == "127.0.0.1" || host == "[::1]"
        })
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository(), self.tag)
    }
}

/// Levenshtein distance, for "did you mean" on repository names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_docker_cli() {
        let r = Reference::parse("localhost:5001/alice/python-docker-app:v1");
        assert_eq!(r.registry.as_deref(), Some("localhost:5001"));
        assert_eq!(r.path, "alice/python-docker-app");
        assert_eq!(r.tag, "v1");
        assert!(r.is_local() && r.has_namespace());
        assert_eq!(r.repository(), "localhost:5001/alice/python-docker-app");

        let hub = Reference::parse("veena1700/python-docker-app:v1");
        assert_eq!(hub.registry, None);
        assert_eq!(hub.name(), "python-docker-app");
        assert!(!hub.is_local());

        let bare = Reference::parse("python-docker-app");
        assert_eq!((bare.tag.as_str(), bare.has_namespace()), ("latest", false));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("python-docker-app", "python-doker-app"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
