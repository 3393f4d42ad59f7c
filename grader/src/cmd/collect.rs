//! `lab ci collect`: many learners' results into one CSV and one Gradescope file per learner,
//! each checked against the roster before it is merged.
//!
//! A result is flagged, never merged, when its repository is not on the roster, when its
//! owner is not the roster repository's owner, when a learner has two, or (with `--clones`)
//! when its commit is not in that repository's history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::{scores, Report};

/// One roster line.
struct Entry {
    learner: String,
    repository: String,
}

fn read_roster(path: &Path) -> Result<Vec<Entry>> {
    let text = crate::bounded::read_text(path, crate::bounded::MAX_SPEC_FILE * 8, None)
        .map_err(|e| Error::Usage(format!("--roster {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.to_ascii_lowercase().starts_with("learner")) {
            continue;
        }
        let Some((learner, repo)) = line.split_once(',') else {
            return Err(Error::Usage(format!(
                "--roster {} line {}: expected `learner,OWNER/NAME`",
                path.display(),
                n + 1
            )));
        };
        let repo = repo.trim().trim_matches('"').to_ascii_lowercase();
        if repo.split('/').count() != 2 {
            return Err(Error::Usage(format!(
                "--roster {} line {}: the repository {repo:?} is not OWNER/NAME",
                path.display(),
                n + 1
            )));
        }
        out.push(Entry {
            learner: learner.trim().trim_matches('"').to_string(),
            repository: repo,
        });
    }
    Ok(out)
}

/// A run's result: its report and the `ci` object `lab ci` wrote with it.
struct Result1 {
    from: PathBuf,
    report: Report,
    repository: String,
    owner: String,
    commit: String,
}

fn read_result(path: &Path) -> std::result::Result<Result1, String> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = crate::bounded::read_text(&file, 8 << 20, None).map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not a lab ci report.json: {e}"))?;
    let report: Report =
        serde_json::from_value(v.clone()).map_err(|e| format!("not a lab ci report.json: {e}"))?;
    let field = |k: &str| v["ci"][k].as_str().unwrap_or_default().to_string();
    Ok(Result1 {
        from: file,
        report,
        repository: field("repository").to_ascii_lowercase(),
        owner: field("owner").to_ascii_lowercase(),
        commit: field("commit"),
    })
}

/// Whether `sha` is a commit in the history of the clone's HEAD.
fn in_history(clone: &Path, sha: &str) -> bool {
    sha.len() >= 7
        && sha.bytes().all(|b| b.is_ascii_hexdigit())
        && std::process::Command::new("git")
            .arg("-C")
            .arg(clone)
            .args(["merge-base", "--is-ancestor", sha, "HEAD"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `lab ci collect`.
pub fn run(roster: &Path, out: &Path, results: &[PathBuf], clones: Option<&Path>) -> Result {
    let roster = read_roster(roster)?;
    let mut merged: BTreeMap<String, Result1> = BTreeMap::new();
    let mut flagged: Vec<(String, String, String, String)> = Vec::new();
    for path in results {
        let r = match read_result(path) {
            Ok(r) => r,
            Err(e) => {
                flagged.push((path.display().to_string(), String::new(), String::new(), e));
                continue;
            }
        };
        let shown = r.from.display().to_string();
        let Some(entry) = roster.iter().find(|e| e.repository == r.repository) else {
            let why = format!("repository {:?} is not on the roster", r.repository);
            flagged.push((shown, String::new(), r.repository.clone(), why));
            continue;
        };
        let owner = entry.repository.split('/').next().unwrap_or_default();
        let reason = if r.owner != owner {
            Some(format!(
                "the result says owner {:?}; the roster's repository is owned by {owner:?}",
                r.owner
            ))
        } else if merged.contains_key(&entry.learner) {
            Some("a second result for this learner: neither is merged until one is removed".into())
        } else {
            clones.and_then(|c| {
                let clone = c.join(&entry.repository);
                (!in_history(&clone, &r.commit)).then(|| {
                    format!(
                        "commit {:?} is not in the history of {}",
                        r.commit,
                        clone.display()
                    )
                })
            })
        };
        match reason {
            Some(why) => {
                if why.starts_with("a second") {
                    if let Some(first) = merged.remove(&entry.learner) {
                        flagged.push((
                            first.from.display().to_string(),
                            entry.learner.clone(),
                            entry.repository.clone(),
                            why.clone(),
                        ));
                    }
                }
                flagged.push((shown, entry.learner.clone(), entry.repository.clone(), why));
            }
            None => {
                merged.insert(entry.learner.clone(), r);
            }
        }
    }
    let gs = out.join("gradescope");
    std::fs::create_dir_all(&gs)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", gs.display())))?;
    let lab_id = merged.values().next().map(|r| r.report.lab.clone());
    let lab = match lab_id {
        Some(id) => Some(super::load_lab(&id)?),
        None => None,
    };
    let steps: Vec<String> = lab
        .as_ref()
        .map(|l| {
            l.steps
                .iter()
                .filter(|s| !s.optional)
                .map(|s| s.id.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut csv = String::from("learner,repository,commit");
    for s in &steps {
        csv.push(',');
        csv.push_str(&scores::csv_cell(s));
    }
    csv.push_str(",score,max_score\n");
    for e in &roster {
        let cell = scores::csv_cell;
        let Some(r) = merged.get(&e.learner) else {
            csv.push_str(&format!(
                "{},{},,{}0,\n",
                cell(&e.learner),
                cell(&e.repository),
                ",".repeat(steps.len())
            ));
            continue;
        };
        let Some(lab) = &lab else { continue };
        let rows = scores::rows(lab, &r.report);
        csv.push_str(&format!(
            "{},{},{}",
            cell(&e.learner),
            cell(&e.repository),
            cell(&r.commit)
        ));
        for s in &steps {
            let row = rows.iter().find(|x| &x.id == s);
            csv.push_str(&format!(",{}", row.map_or(0, |x| x.score)));
        }
        csv.push_str(&format!(
            ",{},{}\n",
            rows.iter().map(|x| x.score).sum::<u32>(),
            rows.iter().map(|x| x.max_score).sum::<u32>()
        ));
        let file = gs.join(format!("{}.json", safe_name(&e.learner)));
        let body = scores::gradescope(
            &rows,
            &format!("{}: {} at commit {}", lab.title, e.repository, r.commit),
        );
        crate::fsutil::write_atomic(
            &file,
            serde_json::to_string_pretty(&body)
                .unwrap_or_default()
                .as_bytes(),
        )
        .map_err(|x| Error::Failed(format!("cannot write {}: {x}", file.display())))?;
    }
    let mut flags = String::from("result,learner,repository,reason\n");
    for (a, b, c, d) in &flagged {
        flags.push_str(&format!(
            "{},{},{},{}\n",
            scores::csv_cell(a),
            scores::csv_cell(b),
            scores::csv_cell(c),
            scores::csv_cell(d)
        ));
    }
    for (name, text) in [("grades.csv", csv), ("flagged.csv", flags)] {
        crate::fsutil::write_atomic(&out.join(name), text.as_bytes())
            .map_err(|x| Error::Failed(format!("cannot write {name}: {x}")))?;
    }
    println!(
        "{} of {} learners merged, {} result(s) flagged (see {})",
        merged.len(),
        roster.len(),
        flagged.len(),
        out.join("flagged.csv").display()
    );
    Ok(if flagged.is_empty() {
        0
    } else {
        crate::exit::FAILED
    })
}

/// A learner's name as a file name: letters, digits, `-`, `_`, `.`; others become `_`.
fn safe_name(s: &str) -> String {
    let n: String = s
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() || n.starts_with('.') {
        format!("_{n}")
    } else {
        n
    }
}
