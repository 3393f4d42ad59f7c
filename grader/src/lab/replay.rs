//! The `replay` vocabulary of a lab file: which programs a replayed command may start and
//! which placeholders it may use, checked when the lab loads. `lab ci` expands them for a run
//! ([`crate::ci::replay`]).

use super::Ci;

/// Programs a replay may start.
const PROGRAMS: &[&str] = &["docker", "python3", "{compose}"];

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

/// A `[ci]` table and argument lists for tests (here and in `ci::replay`).
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Ci;

    pub fn ci() -> Ci {
        Ci {
            images: vec!["app".into()],
            ports: vec![5000],
            tag: "{registry}/{namespace}/app:v1".into(),
            command_secs: 60,
            contained: vec![],
        }
    }
    pub fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{ci, v};
    use super::*;

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
