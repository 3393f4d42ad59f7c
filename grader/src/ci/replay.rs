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

use crate::lab::Ci;

/// Programs a replay may start.
const PROGRAMS: &[&str] = &["docker", "python3", "{compose}"];

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

/// Check a `replay` entry when the lab loads: a known program, known placeholders.
pub fn validate(argv: &[String], ci: Option<&Ci>) -> Result<(), String> {
    let Some(ci) = ci else {
        return Err("needs the lab's `[ci]` table (which images and ports a run renames)".into());
    };
    let Some(program) = argv.first() else {
        return Err("is empty: a command is a program and its arguments".into());
    };
    if !PROGRAMS.contains(&program.as_str()) && !program.starts_with("{venv}/bin/") {
        return Err(format!(
            "starts {program:?}: a replay runs {} or a program of {{venv}}/bin/",
            PROGRAMS.join(", ")
        ));
    }
    for arg in argv {
        for p in placeholders(arg)? {
            match p.split_once(':') {
                Some(("image", n)) if ci.images.iter().any(|i| i == n) => {}
                Some(("image", n)) => {
                    return Err(format!("{{image:{n}}}: {n:?} is not in `[ci] images`"))
                }
                Some(("port", n)) if n.parse::<u16>().is_ok_and(|n| ci.ports.contains(&n)) => {}
                Some(("port", n)) => {
                    return Err(format!("{{port:{n}}}: {n} is not in `[ci] ports`"))
                }
                Some(("name", n)) if !n.is_empty() => {}
                None if matches!(p, "registry" | "namespace" | "venv") => {}
                None if matches!(p, "label" | "compose") && arg == &format!("{{{p}}}") => {}
                _ => return Err(format!("has an unknown placeholder {{{p}}} in {arg:?}")),
            }
        }
    }
    Ok(())
}

/// The `{...}` names in `arg`.
fn placeholders(arg: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("has `{{` without `}}` in {arg:?}"))?;
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    Ok(out)
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

    fn ci() -> Ci {
        Ci {
            images: vec!["app".into()],
            ports: vec![5000],
            tag: "{registry}/{namespace}/app:v1".into(),
            command_secs: 60,
            contained: vec![],
        }
    }
    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }
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

    #[test]
    fn bad_replays_are_named_when_the_lab_loads() {
        for (argv, says) in [
            (v(&[]), "empty"),
            (v(&["sh", "-c", "docker build ."]), "starts \"sh\""),
            (
                v(&["docker", "build", "-t", "{image:other}", "."]),
                "not in `[ci] images`",
            ),
            (
                v(&["docker", "run", "-p", "{port:8080}:80", "x"]),
                "not in `[ci] ports`",
            ),
            (v(&["docker", "run", "{nope}"]), "unknown placeholder"),
            (v(&["docker", "run", "x{label}"]), "unknown placeholder"),
            (v(&["docker", "run", "{registry"]), "without"),
        ] {
            let e = validate(&argv, Some(&ci())).expect_err(&format!("{argv:?}"));
            assert!(e.contains(says), "{argv:?}: {e}");
        }
        assert!(validate(&v(&["docker"]), None)
            .unwrap_err()
            .contains("[ci]"));
    }
}
