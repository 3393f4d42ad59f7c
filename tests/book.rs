//! The book is tested: its generated regions match the lab and the code, it builds with the
//! pinned mdBook, its links and anchors resolve, every command it tells the learner to run is
//! run in order against the real engine with its shown output checked, and a real browser
//! renders it (diagrams, no console errors, search).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn book_src() -> PathBuf {
    repo().join("book/src")
}

#[test]
fn generated_regions_match_the_lab_and_the_code() {
    lab()
        .args(["dev", "book", "--check", "--src"])
        .arg(book_src())
        .assert()
        .success();
    lab().args(["dev", "check"]).assert().success();
    // And the check can fail: a book whose exercise box disagrees with the lab.
    let copy = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(book_src().join("build.md")).unwrap();
    std::fs::write(
        copy.path().join("build.md"),
        page.replace("A pass looks like this", "A pass looks like that"),
    )
    .unwrap();
    lab()
        .args(["dev", "book", "--check", "--src"])
        .arg(copy.path())
        .assert()
        .code(1);
}

/// Build the book into a fresh directory with the pinned mdBook.
pub fn build_book() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("mdbook")
        .args(["build", "--dest-dir"])
        .arg(out.path())
        .arg(repo().join("book"))
        .output()
        .expect("mdbook is installed by scripts/setup-book.sh");
    assert!(
        status.status.success(),
        "mdbook build failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let version = Command::new("mdbook").arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("v0.5."),
        "the book is built with mdBook 0.5"
    );
    out
}

fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|j| &rest[..j])
        })
        .collect()
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            html_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "html") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "needs mdBook: scripts/test.sh"]
fn the_book_builds_and_its_links_and_anchors_resolve() {
    let out = build_book();
    let mut files = Vec::new();
    html_files(out.path(), &mut files);
    assert!(files.len() >= 15, "every chapter is rendered: {files:?}");
    let mut ids: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut dashed = Vec::new();
    for f in &files {
        let html = std::fs::read_to_string(f).unwrap();
        // Every flag renders as typed: no `--flag` turned into an en or em dash before a word.
        for (i, c) in html.char_indices() {
            let next = html[i + c.len_utf8()..].chars().next();
            if matches!(c, '\u{2013}' | '\u{2014}') && next.is_some_and(|n| n.is_ascii_lowercase())
            {
                let start = html[..i].char_indices().rev().nth(20).map_or(0, |(j, _)| j);
                let end = (i + 30).min(html.len());
                let end = (end..html.len())
                    .find(|e| html.is_char_boundary(*e))
                    .unwrap_or(html.len());
                dashed.push(format!("{}: ...{}...", f.display(), &html[start..end]));
            }
        }
        ids.insert(
            f.canonicalize().unwrap(),
            attr_values(&html, "id")
                .into_iter()
                .map(String::from)
                .collect(),
        );
    }
    assert!(
        dashed.is_empty(),
        "a flag rendered as a dash:\n{}",
        dashed.join("\n")
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for f in &files {
        if f.file_name().unwrap() == "print.html" || f.file_name().unwrap() == "404.html" {
            continue;
        }
        let html = std::fs::read_to_string(f).unwrap();
        for link in attr_values(&html, "href")
            .into_iter()
            .chain(attr_values(&html, "src"))
        {
            if link.starts_with("http:")
                || link.starts_with("https:")
                || link.starts_with("mailto:")
                || link.starts_with("javascript:")
                || link.is_empty()
            {
                continue;
            }
            checked += 1;
            let (path, frag) = link.split_once('#').unwrap_or((link, ""));
            let path = path.split('?').next().unwrap();
            let target = if path.is_empty() {
                f.clone()
            } else {
                f.parent().unwrap().join(path)
            };
            let Ok(target) = target.canonicalize() else {
                broken.push(format!("{}: {link} (no such file)", f.display()));
                continue;
            };
            if !frag.is_empty()
                && target.extension().is_some_and(|x| x == "html")
                && !ids
                    .get(&target)
                    .is_some_and(|v| v.iter().any(|i| i == frag))
            {
                broken.push(format!("{}: {link} (no such anchor)", f.display()));
            }
        }
    }
    assert!(checked > 100, "links were found and checked ({checked})");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// A block of a chapter that the runner acts on.
#[derive(Debug)]
enum Block {
    Run(String),
    Expect(Vec<String>),
    File(String, String),
}

/// The chapters in reading order, from SUMMARY.md.
fn chapters() -> Vec<PathBuf> {
    let summary = std::fs::read_to_string(book_src().join("SUMMARY.md")).unwrap();
    summary
        .lines()
        .filter_map(|l| {
            l.split_once("](")
                .map(|(_, r)| r.trim_end_matches(')').to_string())
        })
        .map(|p| book_src().join(p))
        .collect()
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = md.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = Vec::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push(l.to_string());
        }
        let attrs: Vec<&str> = info.split(',').collect();
        if attrs.contains(&"run") {
            out.push(Block::Run(body.join("\n")));
        } else if attrs.contains(&"expect") {
            out.push(Block::Expect(body));
        } else if let Some(name) = attrs.iter().find_map(|a| a.strip_prefix("file=")) {
            out.push(Block::File(name.to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn every_command_in_the_book_runs_in_order_with_the_output_it_shows() {
    let _lock = engine_lock();
    let mut mess = EngineMess::default();
    let home = tempfile::tempdir().unwrap();
    let ws = home.path().join("day11");
    mess.compose(&ws);
    mess.pushed("localhost:5001/student/python-docker-app:v1");
    mess.image("localhost:5001/student/python-docker-app:v1");
    mess.image("python-docker-app");

    // One bash script, so that `cd` and `. .venv/bin/activate` carry over as for a learner.
    // Files the book has the learner write are written by the script at the same point.
    let mut script = String::from("set -u\n");
    let mut runs = Vec::new();
    let mut files_dir = tempfile::tempdir().unwrap().keep();
    files_dir.push("files");
    std::fs::create_dir_all(&files_dir).unwrap();
    let mut n = 0;
    for ch in chapters() {
        let md = std::fs::read_to_string(&ch).unwrap();
        for b in blocks(&md) {
            match b {
                Block::Run(cmds) => {
                    n += 1;
                    script.push_str(&format!(
                        "echo '@@BEGIN {n}'\n{{\n{cmds}\n}} 2>&1\necho \"@@END {n} $?\"\n"
                    ));
                    runs.push((
                        ch.file_name().unwrap().to_string_lossy().to_string(),
                        cmds,
                        Vec::<String>::new(),
                    ));
                }
                Block::Expect(lines) => {
                    runs.last_mut()
                        .expect("an expect block follows a run block")
                        .2
                        .extend(lines);
                }
                Block::File(name, text) => {
                    let src = files_dir.join(format!("{n}-{name}"));
                    std::fs::write(&src, text).unwrap();
                    script.push_str(&format!("cp '{}' '{name}'\n", src.display()));
                }
            }
        }
    }
    assert!(
        runs.len() >= 15,
        "the book's commands were found: {}",
        runs.len()
    );
    let path = format!(
        "{}:{}",
        lab_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("PATH", path)
        .env("LAB_LABS_DIR", repo().join("labs"))
        .env("SRE_LAB_STATE_DIR", home.path().join(".state"))
        .env(
            "XDG_CACHE_HOME",
            std::env::var("HOME")
                .map(|h| format!("{h}/.cache"))
                .unwrap_or_default(),
        )
        .env("NO_COLOR", "1")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let reset = lab()
        .env("LAB_LABS_DIR", repo().join("labs"))
        .args(["reset", "day11", "--yes", "--dir"])
        .arg(&ws)
        .output();
    let mut failures = Vec::new();
    for (i, (chapter, cmds, expects)) in runs.iter().enumerate() {
        let n = i + 1;
        let begin = format!("@@BEGIN {n}\n");
        let Some(start) = text.find(&begin) else {
            failures.push(format!("{chapter}: never reached `{cmds}`"));
            break;
        };
        let body = &text[start + begin.len()..];
        let end = body.find(&format!("@@END {n} ")).unwrap_or(body.len());
        let shown = &body[..end];
        let rc = body[end..]
            .lines()
            .next()
            .unwrap_or("")
            .rsplit(' ')
            .next()
            .unwrap_or("?");
        if rc != "0" {
            failures.push(format!("{chapter}: `{cmds}` exited {rc}:\n{shown}"));
            continue;
        }
        for e in expects {
            if !squash(shown).contains(&squash(e)) {
                failures.push(format!(
                    "{chapter}: `{cmds}` did not print {e:?}; it printed:\n{shown}"
                ));
            }
        }
    }
    assert!(
        reset.is_ok_and(|o| o.status.success()),
        "lab reset cleaned up after the book"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
