//! `lab demo`: play the reference solution through every step on this engine, as a learner
//! would (the lab's `solution` data: files to write and commands to run), then grade it.
//! The instructor's check that a machine is ready; the README's main command runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::check::color_wanted;
use super::{copy_tree, load_lab, run_grade};
use crate::error::{Error, Result};
use crate::grade::{verdict, Request};
use crate::report;

/// Whether only Compose v1 is here: no `docker compose` plugin, but a `docker-compose`.
fn compose_v1_only() -> bool {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    !works("docker", &["compose", "version"]) && works("docker-compose", &["version"])
}

/// A solution command adapted to this machine and namespace.
/// The container names the solution's commands give (`--name NAME`), each made unique to this
/// demo's workspace, so a demo never collides with a container another workspace (an earlier
/// demo, the learner's own lab) left under the same name.
fn unique_names(lab: &crate::lab::Lab, workspace: &Path) -> Vec<(String, String)> {
    use sha2::Digest;
    let suffix: String = sha2::Sha256::digest(workspace.to_string_lossy().as_bytes())
        .iter()
        .take(3)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut names = Vec::new();
    for c in lab.core_steps().flat_map(|s| &s.solution.commands) {
        let words: Vec<&str> = c.split_whitespace().collect();
        for w in words.windows(2).filter(|w| w[0] == "--name") {
            let n = w[1].to_string();
            if !names.iter().any(|(from, _)| from == &n) {
                names.push((n.clone(), format!("{n}-{suffix}")));
            }
        }
    }
    names
}

fn adapt(cmd: &str, namespace: &str, v1: bool, names: &[(String, String)]) -> String {
    let cmd = cmd.replace("/student/", &format!("/{namespace}/"));
    let cmd = cmd
        .split(' ')
        .map(|w| {
            names
                .iter()
                .find(|(from, _)| from == w)
                .map_or(w.to_string(), |(_, to)| to.clone())
        })
        .collect::<Vec<_>>()
        .join(" ");
    match cmd.strip_prefix("docker compose ") {
        Some(rest) if v1 => format!("docker-compose {rest}"),
        _ => cmd,
    }
}

fn run_shell(cmd: &str, dir: &Path, namespace: &str) -> bool {
    println!("$ {cmd}");
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env("LAB_NAMESPACE", namespace)
        .status()
        .is_ok_and(|s| s.success())
}

/// `lab demo LAB [--dir] [--namespace]`.
pub async fn run(lab_id: &str, dir: Option<PathBuf>, namespace: &str) -> Result {
    // The namespace becomes part of image names in the commands the demo runs: it must be a
    // registry path component, so it can never be anything else in a shell command.
    if !valid_namespace(namespace) {
        return Err(Error::Usage(format!(
            "--namespace {namespace:?} is not a registry namespace: use lowercase letters, digits, and single '.', '_' or '-' between them"
        )));
    }
    let lab = load_lab(lab_id)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(format!("{lab_id}-demo")));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Usage(format!("{} already exists and is not empty; the demo plays in a fresh directory (remove it, or pass --dir)", dir.display())));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(Error::Failed(format!(
            "cannot create {}: {e}",
            dir.display()
        )));
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    match copy_tree(&lab.dir.join(&lab.workspace), &dir, &lab.learner_files) {
        Ok(Ok(files)) => println!(
            "== a fresh workspace in {}: the sample app ({} files)",
            dir.display(),
            files.len()
        ),
        Ok(Err(_)) | Err(_) => {
            return Err(Error::Failed(format!(
                "cannot copy the sample app into {}",
                dir.display()
            )));
        }
    }
    let v1 = compose_v1_only();
    let mut tag = None;
    let names = unique_names(&lab, &dir);
    // The core steps: optional ones are the learner's own going further.
    for step in lab.core_steps() {
        println!("\n== {}: {}", step.id, step.title);
        for f in &step.solution.files {
            let from = lab.dir.join("solution").join(f);
            println!("(writing {f})");
            if let Err(e) = std::fs::copy(&from, dir.join(f)) {
                return Err(Error::Failed(format!("cannot write {f}: {e}")));
            }
        }
        for c in &step.solution.commands {
            let c = adapt(c, namespace, v1, &names);
            if let Some(rest) = c.strip_prefix("docker tag ") {
                tag = rest.split_whitespace().last().map(String::from);
            }
            if !run_shell(&c, &dir, namespace) {
                return Err(Error::Failed(format!(
                    "`{c}` failed in step {}; the workspace is left in {} to look at",
                    step.id,
                    dir.display()
                )));
            }
        }
    }
    println!("\n== lab check {lab_id}");
    let venv_python = dir.join(".venv/bin/python");
    let req = Request {
        dir: dir.clone(),
        python: venv_python.exists().then_some(venv_python),
        image: tag,
        bindings: Default::default(),
        ..Request::default()
    };
    let cache = std::sync::Arc::new(crate::cache::Cache::persistent());
    let r = run_grade(&lab, req, cache, None, false).await?;
    print!("{}", report::human::render(&r, color_wanted()));
    Ok(verdict(&r))
}

/// A registry path component: `[a-z0-9]+` joined by single `.`, `_`, `__` or `-` runs.
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 64
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && ns.starts_with(|c: char| c.is_ascii_alphanumeric())
        && ns.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::{adapt, valid_namespace};

    #[test]
    fn container_names_are_made_unique_to_the_demo_and_followed_everywhere() {
        let names = vec![("day11-web".to_string(), "day11-web-a1b2c3".to_string())];
        assert_eq!(
            adapt(
                "docker run -d --name day11-web -p 5000:5000 x",
                "s",
                true,
                &names
            ),
            "docker run -d --name day11-web-a1b2c3 -p 5000:5000 x"
        );
        assert_eq!(
            adapt("docker stop day11-web", "s", true, &names),
            "docker stop day11-web-a1b2c3"
        );
        assert_eq!(
            adapt("docker stop day11-webby", "s", true, &names),
            "docker stop day11-webby",
            "whole words only"
        );
    }

    #[test]
    fn a_namespace_is_a_registry_path_component_and_nothing_a_shell_would_read() {
        for ok in ["learner", "ana-1", "a.b_c"] {
            assert!(valid_namespace(ok), "{ok}");
        }
        for bad in [
            "",
            "x; touch F #",
            "$(id)",
            "Ana",
            "-x",
            "a/b",
            "x`y`",
            "x y",
        ] {
            assert!(!valid_namespace(bad), "{bad}");
        }
    }

    #[test]
    fn commands_follow_the_namespace_and_the_compose_flavour() {
        assert_eq!(
            adapt("docker push localhost:5001/student/x:v1", "ana", true, &[]),
            "docker push localhost:5001/ana/x:v1"
        );
        assert_eq!(
            adapt("docker compose up --build -d", "s", false, &[]),
            "docker compose up --build -d"
        );
        assert_eq!(
            adapt("docker compose up --build -d", "s", true, &[]),
            "docker-compose up --build -d"
        );
    }
}
