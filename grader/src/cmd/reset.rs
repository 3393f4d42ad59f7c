//! `lab reset`: remove what the lab made in the engine, and nothing else.
//!
//! What the lab made is decided from the lab's own data: the images its checks name (and every
//! tag of the same repository, in any namespace or registry), containers created from those
//! images, the workspace's Compose project (its containers, networks and the images it built),
//! the grader's probe containers (except those of a `lab` run still going), and the repository's
//! tags in local registries. What a `lab ci` run made (labelled with its run) is that run's: it is
//! left alone and counted, so a reset beside a grading in progress cannot pull its image away.
//! Everything is listed first; nothing is removed without `--yes` or a "y" at the prompt.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::{connect, load_lab};
use crate::ci::RUN_LABEL;
use crate::cleanup::owned_by_a_live_run;
use crate::engine::EngineState;
use crate::engine::{compose_label, Engine, PROBE_LABEL};
use crate::error::{Error, Result};
use crate::exit;
use crate::reference::Reference;
use crate::registry::delete_local;
use crate::workspace::DirArg;

/// What would be removed.
#[derive(Debug, Default)]
pub struct Plan {
    /// (id, description)
    pub containers: Vec<(String, String)>,
    /// (id, name)
    pub networks: Vec<(String, String)>,
    /// references or ids
    pub images: BTreeSet<String>,
    /// local registry tags
    pub registry_tags: Vec<Reference>,
    /// Images and containers of `lab ci` runs, left to the run that made them.
    pub ci_runs_left: usize,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.images.is_empty()
            && self.registry_tags.is_empty()
    }
}

/// Work out what the lab made.
pub async fn plan(
    engine: &dyn Engine,
    lab: &crate::lab::Lab,
    workspace: Option<&std::path::Path>,
) -> Result<Plan, String> {
    let mut repos = BTreeSet::new();
    for c in lab.steps.iter().flat_map(|s| &s.checks) {
        repos.extend(c.makes().repositories);
    }
    let mut p = Plan::default();
    let mut lab_image_ids = BTreeSet::new();
    for img in engine.images().await.map_err(|e| e.to_string())? {
        if img.labels.contains_key(RUN_LABEL) {
            p.ci_runs_left += 1;
            continue;
        }
        for t in &img.repo_tags {
            if t != "<none>:<none>" && repos.contains(Reference::parse(t).name()) {
                p.images.insert(t.clone());
                lab_image_ids.insert(img.id.clone());
                let r = Reference::parse(t);
                if r.is_local() {
                    p.registry_tags.push(r);
                }
            }
        }
    }
    let ws = workspace.and_then(|w| w.canonicalize().ok());
    let mut projects = BTreeSet::new();
    for c in engine.containers().await.map_err(|e| e.to_string())? {
        let compose_dir = c.labels.get(compose_label::WORKING_DIR).map(PathBuf::from);
        let in_workspace = match (&compose_dir, &ws) {
            (Some(d), Some(w)) => d.canonicalize().ok().as_ref() == Some(w),
            _ => false,
        };
        let why = if c.labels.contains_key(RUN_LABEL) {
            p.ci_runs_left += 1;
            None
        } else if c.labels.contains_key(PROBE_LABEL) {
            // A probe of a `lab` run that is still going is that run's to remove.
            (!owned_by_a_live_run(&c.labels)).then(|| "a grader probe".to_string())
        } else if in_workspace {
            if let Some(project) = c.labels.get(compose_label::PROJECT) {
                projects.insert(project.clone());
            }
            p.images.insert(c.image_id.clone());
            Some("the workspace's Compose service".to_string())
        } else if compose_dir.is_none()
            && (lab_image_ids.contains(&c.image_id)
                || repos.contains(Reference::parse(&c.image).name()))
        {
            Some(format!("from {}", c.image))
        } else {
            None
        };
        if let Some(why) = why {
            p.containers.push((
                c.id.clone(),
                format!("container {} ({why}, {})", c.name, c.state),
            ));
        }
    }
    for (id, name, labels) in engine.networks().await.map_err(|e| e.to_string())? {
        if labels
            .get(compose_label::PROJECT)
            .is_some_and(|pr| projects.contains(pr))
        {
            p.networks.push((id, name));
        }
    }
    Ok(p)
}

/// `lab reset LAB [--dir] [--yes]`.
pub async fn run(lab_id: &str, dir: &DirArg, yes: bool) -> Result {
    let lab = load_lab(lab_id)?;
    let ws = dir.workspace()?;
    let engine = match connect().await {
        EngineState::Connected { engine, .. } => engine,
        other => return Err(Error::Engine(other.line())),
    };
    let plan = plan(engine.as_ref(), &lab, Some(ws.path()))
        .await
        .map_err(Error::Failed)?;
    if plan.ci_runs_left > 0 {
        println!(
            "Leaving {} image(s) and container(s) of `lab ci` runs alone: each run removes its own.",
            plan.ci_runs_left
        );
    }
    if plan.is_empty() {
        println!("Nothing to remove: the engine has nothing from lab {lab_id}.");
        return Ok(exit::PASSED);
    }
    println!("lab reset {lab_id} would remove:");
    for (_, d) in &plan.containers {
        println!("  {d}");
    }
    for (_, n) in &plan.networks {
        println!("  network {n}");
    }
    for i in &plan.images {
        println!("  image {i}");
    }
    for r in &plan.registry_tags {
        println!("  registry tag {r}");
    }
    println!("Nothing else (other containers, images, volumes) is touched.");
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage(format!(
                "not removing without confirmation; run `lab reset {lab_id} --yes` to confirm"
            )));
        }
        print!("Remove all of the above? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing removed.");
            return Ok(exit::PASSED);
        }
    }
    let mut failed = 0;
    for (id, d) in &plan.containers {
        if let Err(e) = engine.remove(id).await {
            eprintln!("could not remove {d}: {e}");
            failed += 1;
        }
    }
    for (id, n) in &plan.networks {
        if let Err(e) = engine.remove_network(id).await {
            eprintln!("could not remove network {n}: {e}");
            failed += 1;
        }
    }
    for r in &plan.registry_tags {
        if let Err(e) = delete_local(r).await {
            eprintln!("could not delete {r} from its registry: {e}");
            failed += 1;
        }
    }
    for i in &plan.images {
        if let Err(e) = engine.remove_image(i).await {
            eprintln!("could not remove image {i}: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        Err(Error::Failed(format!(
            "{failed} thing(s) could not be removed (see above)"
        )))
    } else {
        println!("Removed.");
        Ok(exit::PASSED)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::ci::RUN_LABEL;
    use crate::engine::fake::FakeEngine;
    use crate::engine::{Container, Image, OWNER_LABEL, PROBE_LABEL};

    fn probe(id: &str, owner: &str) -> Container {
        Container {
            id: id.into(),
            name: id.into(),
            labels: HashMap::from([
                (PROBE_LABEL.to_string(), "true".to_string()),
                (OWNER_LABEL.to_string(), owner.to_string()),
            ]),
            ..Container::default()
        }
    }

    #[tokio::test]
    async fn reset_leaves_the_probes_of_a_lab_run_still_going() {
        let lab = crate::lab::shipped("day11");
        let fake = FakeEngine::default();
        // pid 1 is always alive; no process has the largest pid Linux allows plus one.
        fake.containers.lock().unwrap().extend([
            probe("live", "1"),
            probe("orphan", "4194305"),
            probe("mine", &std::process::id().to_string()),
        ]);
        let p = super::plan(&fake, &lab, None).await.unwrap();
        let ids: Vec<&str> = p.containers.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["orphan", "mine"]);
    }

    #[tokio::test]
    async fn reset_leaves_what_a_lab_ci_run_made_and_takes_the_learners_own() {
        let lab = crate::lab::shipped("day11");
        let fake = FakeEngine::default();
        let image = |id: &str, tag: &str, ci: bool| Image {
            id: id.into(),
            repo_tags: vec![tag.into()],
            labels: if ci {
                HashMap::from([(RUN_LABEL.to_string(), "r1".to_string())])
            } else {
                HashMap::new()
            },
            ..Image::default()
        };
        fake.add_image(image("sha256:mine", "python-docker-app:latest", false));
        fake.add_image(image("sha256:ci", "ci-r1/python-docker-app:v1", true));
        fake.containers.lock().unwrap().extend([
            Container {
                id: "web".into(),
                image_id: "sha256:mine".into(),
                ..Container::default()
            },
            Container {
                id: "ci-web".into(),
                image_id: "sha256:ci".into(),
                labels: HashMap::from([(RUN_LABEL.to_string(), "r1".to_string())]),
                ..Container::default()
            },
        ]);
        let p = super::plan(&fake, &lab, None).await.unwrap();
        let ids: Vec<&str> = p.containers.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["web"]);
        assert_eq!(
            p.images.iter().collect::<Vec<_>>(),
            ["python-docker-app:latest"]
        );
        assert_eq!(p.ci_runs_left, 2);
    }
}
