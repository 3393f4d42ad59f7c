//! A step's `replay` commands: argument lists from `lab.toml` (never a shell line), with
//! placeholders for what is unique to the run.
//!
//! | Placeholder | Becomes |
//! |---|---|
//! | `{image:NAME}` | the run's name for the lab image `NAME` (one of `[ci] images`): `NAME-RUN` |
//! | `{name:NAME}` | a container (or other object) name unique to the run: `NAME-RUN` |
//! | `{port:N}` | the run's host port in place of the lab's port `N` (one of `[ci] ports`) |
//! | `{registry}` | the registry `lab ci --registry` names (`127.0.0.1:5001` by default) |
//! | `{namespace}` | the run's registry namespace: `ci-RUN` |
//! | `{venv}` | the run's virtual environment (outside the repository) |
//! | `{label}` (a whole argument) | `--label org.sre-lab.ci.run=RUN`, so the sweep finds what it made |
//! | `{compose}` (the program) | Compose (v2 `docker compose`, else v1 `docker-compose`) with the run's project, the vetted compose file and the repository as project directory |
//!
//! A command's program is `docker`, `python3`, `{compose}` or a program of `{venv}/bin/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the placeholders of one run stand for.
#[derive(Debug, Clone)]
pub struct Names {
    pub run: String,
    pub registry: String,
    pub ports: BTreeMap<u16, u16>,
    pub images: Vec<String>,
    /// The Compose program and its leading arguments.
    pub compose: Vec<String>,
    pub venv: PathBuf,
    pub label: (String, String),
}

impl Names {
    pub fn namespace(&self) -> String {
        format!("ci-{}", self.run)
    }
    pub fn unique(&self, name: &str) -> String {
        format!("{name}-{}", self.run)
    }
}

/// The command to run for `argv` in this run.
pub fn expand(argv: &[String], names: &Names) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for arg in argv {
        match arg.as_str() {
            "{label}" => {
                out.push("--label".into());
                out.push(format!("{}={}", names.label.0, names.label.1));
            }
            "{compose}" => out.extend(names.compose.iter().cloned()),
            _ => out.push(expand_one(arg, names)?),
        }
    }
    Ok(out)
}

fn expand_one(arg: &str, names: &Names) -> Result<String, String> {
    let mut s = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        s.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in {arg:?}"))?;
        let p = &rest[open + 1..open + close];
        let value = match p.split_once(':') {
            Some(("image", n)) if names.images.iter().any(|i| i == n) => names.unique(n),
            Some(("name", n)) => names.unique(n),
            Some(("port", n)) => n
                .parse::<u16>()
                .ok()
                .and_then(|n| names.ports.get(&n))
                .map(u16::to_string)
                .ok_or_else(|| format!("no run port for {{{p}}}"))?,
            None if p == "registry" => names.registry.clone(),
            None if p == "namespace" => names.namespace(),
            None if p == "venv" => names.venv.to_string_lossy().into_owned(),
            _ => return Err(format!("unknown placeholder {{{p}}}")),
        };
        s.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    s.push_str(rest);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::replay::fixtures::{ci, v};
    use crate::lab::replay::validate;

    fn names() -> Names {
        Names {
            run: "r7".into(),
            registry: "127.0.0.1:5001".into(),
            ports: BTreeMap::from([(5000, 41000)]),
            images: vec!["app".into()],
            compose: v(&["docker", "compose", "-p", "p-r7"]),
            venv: PathBuf::from("/t/venv"),
            label: ("org.sre-lab.ci.run".into(), "r7".into()),
        }
    }

    #[test]
    fn placeholders_become_the_runs_names() {
        let argv = v(&[
            "docker",
            "run",
            "-d",
            "{label}",
            "--name",
            "{name:web}",
            "-p",
            "{port:5000}:5000",
            "{image:app}",
        ]);
        validate(&argv, Some(&ci())).unwrap();
        assert_eq!(
            expand(&argv, &names()).unwrap(),
            v(&[
                "docker",
                "run",
                "-d",
                "--label",
                "org.sre-lab.ci.run=r7",
                "--name",
                "web-r7",
                "-p",
                "41000:5000",
                "app-r7"
            ])
        );
        let tag = v(&["docker", "push", "{registry}/{namespace}/app:v1"]);
        assert_eq!(
            expand(&tag, &names()).unwrap()[2],
            "127.0.0.1:5001/ci-r7/app:v1"
        );
        let c = v(&["{compose}", "up", "-d"]);
        validate(&c, Some(&ci())).unwrap();
        assert_eq!(
            expand(&c, &names()).unwrap(),
            v(&["docker", "compose", "-p", "p-r7", "up", "-d"])
        );
    }
}
