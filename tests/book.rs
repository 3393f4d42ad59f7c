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

/// A diagram's SVG: its width and its smallest font size, in its own units.
pub fn svg_width_and_smallest_font(name: &str) -> (f64, f64) {
    let svg = std::fs::read_to_string(book_src().join("images").join(name)).unwrap();
    let attr = |text: &str, key: &str| -> Vec<f64> {
        text.match_indices(&format!("{key}=\""))
            .filter_map(|(i, m)| {
                let rest = &text[i + m.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect()
    };
    let open_tag = &svg[..svg.find('>').unwrap()];
    let width = attr(open_tag, " width")[0];
    let smallest = attr(&svg, "font-size")
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    (width, smallest)
}

/// Every `<img class="diagram">` of the book: its page, its SVG and its `min-width` in px.
pub fn diagrams() -> Vec<(String, String, Option<f64>)> {
    let mut out = Vec::new();
    for ch in chapters() {
        let md = std::fs::read_to_string(&ch).unwrap();
        for (i, _) in md.match_indices("<img class=\"diagram\"") {
            let tag = &md[i..i + md[i..].find('>').unwrap()];
            let src = tag.split("src=\"images/").nth(1).unwrap();
            let src = &src[..src.find('"').unwrap()];
            let min = tag
                .split("min-width: ")
                .nth(1)
                .and_then(|r| r.split("px").next())
                .and_then(|n| n.parse().ok());
            let page = ch.file_name().unwrap().to_string_lossy().to_string();
            // A tap opens it full size: the image is the link's only content.
            let before = &md[..i];
            assert!(
                before.ends_with(&format!(
                    "<a class=\"diagram\" href=\"images/{src}\" title=\"Open the diagram full size\">"
                )),
                "{page}: {src} is not wrapped in a link to itself"
            );
            out.push((page, src.to_string(), min));
        }
    }
    out
}

#[test]
fn no_diagram_text_can_render_below_12_css_px() {
    let all = diagrams();
    let files: std::collections::BTreeSet<&str> = all.iter().map(|d| d.1.as_str()).collect();
    for new in [
        "containers.svg",
        "tag.svg",
        "push.svg",
        "editable.svg",
        "signals.svg",
    ] {
        assert!(files.contains(new), "the book shows {new}: {files:?}");
    }
    for (page, svg, min) in &all {
        let (width, font) = svg_width_and_smallest_font(svg);
        let needed = width * 12.0 / font;
        assert!(
            min.is_some_and(|m| m + 0.5 >= needed),
            "{page}: {svg} ({width} wide, smallest text {font}) needs min-width {needed:.0}px, has {min:?}"
        );
    }
}

/// A block of a chapter that the runner acts on.
#[derive(Debug)]
enum Block {
    /// Commands, and the name of the file their output is captured in (`capture=NAME`).
    Run(String, Option<String>),
    Expect(Vec<String>),
    File(String, String),
}

/// Where a `capture=NAME` block's output is kept: the chapter includes it from there.
fn captured_file(name: &str) -> PathBuf {
    book_src().join("captured").join(format!("{name}.txt"))
}

/// Whether this engine is one of the "older machines" of the book's asides (Docker 20.10 with
/// Compose v1). The book is written for today's engine; on an older one the test types what
/// the asides say to type instead, and expects what they say it shows.
fn older_machine() -> bool {
    !engine_name().contains("Compose v2")
}

/// The asides' substitutions: today's spelling, and an older machine's.
const OLDER: &[(&str, &str)] = &[
    ("docker compose ", "docker-compose "),
    ("day11-web-1", "day11_web_1"),
];

fn as_on_an_older_machine(text: &str) -> String {
    OLDER.iter().fold(text.to_string(), |t, (today, older)| {
        t.replace(today, older)
    })
}

/// A line of captured output with what differs from one run to the next put as a placeholder:
/// ids and digests (`<id>`, `sha256:<digest>`), sizes, durations, "N minutes ago", BuildKit's
/// step numbers (`#N`) and whether a step ran or came from the cache (`<done>`), and whether a
/// pushed layer was new or already there (`<layer>`).
fn normalized(line: &str) -> String {
    let mut line = line.trim().to_string();
    // A pushed layer's progress: which of these a layer shows depends on what the registry
    // already holds (another repository's copy is mounted, not sent).
    if let Some((layer, _)) = line.split_once(": Mounted from ") {
        line = format!("{layer}: Pushed");
    }
    for phrase in ["Preparing", "Waiting", "Pushing"] {
        if line.ends_with(&format!(": {phrase}")) {
            line = line.replace(phrase, "Pushed");
        }
    }
    for phrase in [
        "Less than a second ago",
        "About a minute ago",
        "About an hour ago",
        "Layer already exists",
        "Pushed",
    ] {
        let to = if phrase.ends_with("ago") {
            "<ago>"
        } else {
            "<layer>"
        };
        line = line.replace(phrase, to);
    }
    let units = ["B", "kB", "KB", "MB", "GB", "KiB", "MiB", "GiB"];
    let number = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    let mut out: Vec<String> = Vec::new();
    for tok in line.split_whitespace() {
        let hex = |t: &str| t.len() >= 12 && t.chars().all(|c| c.is_ascii_hexdigit());
        let bare = tok.trim_end_matches([':', ',']);
        // A digest alone (`sha256:...`) or pinning a reference (`python:3.9-slim@sha256:...`):
        // the base image's digest is the machine's, not the book's.
        let (named, digest) = match bare.split_once("@sha256:") {
            Some((name, d)) => (Some(name), Some(d)),
            None => (None, bare.strip_prefix("sha256:")),
        };
        let t = if let Some(d) = digest {
            match (hex(d), named) {
                (true, Some(name)) => format!("{name}@sha256:<digest>"),
                (true, None) => "sha256:<digest>".to_string(),
                _ => tok.to_string(),
            }
        } else if hex(bare) {
            "<id>".to_string()
        } else if number(tok) && out.last().is_some_and(|p| p == "size:") {
            "<size>".to_string()
        } else if tok.starts_with('#') && number(&tok[1..]) {
            "#N".to_string()
        } else if units
            .iter()
            .any(|u| tok.strip_suffix(u).is_some_and(number))
        {
            "<size>".to_string()
        } else if units.contains(&tok) && out.last().is_some_and(|p| number(p)) {
            out.pop();
            "<size>".to_string()
        } else if tok.strip_suffix('s').is_some_and(number) {
            "<time>".to_string()
        } else if ["CACHED", "DONE", "done"].contains(&tok) {
            "<done>".to_string()
        } else if tok == "ago"
            && out.len() >= 2
            && [
                "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week",
                "weeks", "month", "months", "year", "years",
            ]
            .contains(&out[out.len() - 1].as_str())
        {
            out.truncate(out.len() - 2);
            "<ago>".to_string()
        } else {
            tok.to_string()
        };
        // "<done> <time>", "<time> <done>" and "<done>" are the same fact: the step finished
        // (BuildKit prints a duration only when the clock showed one: `0.0s done` or `done`).
        if t == "<time>" && out.last().is_some_and(|p| p == "<done>") {
            continue;
        }
        if t == "<done>" && out.last().is_some_and(|p| p == "<time>") {
            out.pop();
        }
        out.push(t);
    }
    out.join(" ")
}

/// The lines of a capture the test holds the engine to: BuildKit's step headers and naming
/// lines (its progress lines, pip's download lines and which steps were cached vary with the
/// engine's cache) and every line that is not BuildKit progress.
fn held(line: &str) -> bool {
    match line.strip_prefix("#N ") {
        Some(rest) => rest.starts_with('[') || rest.starts_with("naming to"),
        None => !line.is_empty(),
    }
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
            let capture = attrs.iter().find_map(|a| a.strip_prefix("capture="));
            out.push(Block::Run(body.join("\n"), capture.map(String::from)));
        } else if attrs.contains(&"expect") {
            out.push(Block::Expect(body));
        } else if let Some(name) = attrs.iter().find_map(|a| a.strip_prefix("file=")) {
            out.push(Block::File(name.to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

#[test]
fn captured_output_is_matched_by_meaning_not_by_its_ids_sizes_and_times() {
    // Two builds of the same Dockerfile: other vertex numbers, one step cached.
    let a = normalized("#8 [4/5] RUN pip install --no-cache-dir -r requirements.txt");
    let b = normalized("#11 [4/5] RUN pip install --no-cache-dir -r requirements.txt");
    assert_eq!(a, b);
    assert_eq!(normalized("#8 DONE 3.2s"), normalized("#9 CACHED"));
    // The same step, with and without the duration BuildKit shows when the clock moved.
    let naming = "naming to docker.io/library/python-docker-app:latest";
    assert_eq!(
        normalized(&format!("#10 {naming} done")),
        normalized(&format!("#10 {naming} 0.0s done"))
    );
    assert_ne!(
        normalized(&format!("#10 {naming} done")),
        normalized(&format!("#10 {} 0.0s done", naming.replace("latest", "v1")))
    );
    // Docker's ages: "Less than a second", "1 second", "N seconds", "About a minute", ...
    for (a, b) in [
        ("2 minutes ago", "About a minute ago"),
        ("Less than a second ago", "1 second ago"),
        ("1 hour ago", "3 weeks ago"),
        ("1 year ago", "About an hour ago"),
    ] {
        assert_eq!(
            normalized(&format!(
                "python-docker-app   latest    0f3c8d2a91b4   {a}   201MB"
            )),
            normalized(&format!("python-docker-app latest 9ab1c0ffee12 {b} 199 MB")),
            "{a} / {b}"
        );
    }
    assert_eq!(
        normalized("v1: digest: sha256:26fa1b6a0e0c4d5f9a4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f size: 1788"),
        normalized("v1: digest: sha256:0000000000000000000000000000000000000000000000000000000000000000 size: 856"),
    );
    // The base image pinned by digest: the digest is the machine's; the image is not.
    let pinned = |d: &str| format!("#5 [1/5] FROM docker.io/library/python:3.9-slim@sha256:{d}");
    assert_eq!(
        normalized(&pinned(&"3e5f0541".repeat(8))),
        normalized(&pinned(&"de360b8f".repeat(8)))
    );
    assert_ne!(
        normalized(&pinned(&"3e5f0541".repeat(8))),
        normalized(&pinned(&"3e5f0541".repeat(8)).replace("3.9-slim", "3.12-slim"))
    );
    assert_eq!(
        normalized("5f70bf18a086: Pushed"),
        normalized("a1b2c3d4e5f6: Layer already exists")
    );
    assert_eq!(
        normalized("5f70bf18a086: Waiting"),
        normalized("a1b2c3d4e5f6: Mounted from ana/app")
    );
    // What the book must not get wrong still differs: the step number, the tag, the name.
    assert_ne!(
        normalized("#8 [2/5] RUN pip install -r requirements.txt"),
        normalized("#8 [4/5] RUN pip install -r requirements.txt")
    );
    assert_ne!(
        normalized("python-docker-app latest"),
        normalized("python-docker-app v1")
    );
    assert!(held("#N [4/5] RUN pip install"));
    assert!(held(
        "#N naming to docker.io/library/python-docker-app:latest <done>"
    ));
    assert!(!held("#N transferring context: <size> <done>"));
    assert!(held("REPOSITORY TAG IMAGE ID CREATED SIZE"));
    // The asides' spelling: what an older machine types and shows.
    assert_eq!(
        as_on_an_older_machine("docker compose up --build -d && docker compose ps # day11-web-1"),
        "docker-compose up --build -d && docker-compose ps # day11_web_1"
    );
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
    let older = older_machine();
    let update = std::env::var_os("SRE_LAB_UPDATE_BOOK_OUTPUT").is_some() && !older;
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
                Block::Run(cmds, capture) => {
                    let cmds = if older {
                        as_on_an_older_machine(&cmds)
                    } else {
                        cmds
                    };
                    n += 1;
                    script.push_str(&format!(
                        "echo '@@BEGIN {n}'\n{{\n{cmds}\n}} 2>&1\necho \"@@END {n} $?\"\n"
                    ));
                    runs.push((
                        ch.file_name().unwrap().to_string_lossy().to_string(),
                        cmds,
                        Vec::<String>::new(),
                        capture,
                    ));
                }
                Block::Expect(lines) => {
                    runs.last_mut()
                        .expect("an expect block follows a run block")
                        .2
                        .extend(
                            lines
                                .iter()
                                // A captured excerpt is held to the engine by its capture.
                                .filter(|l| !l.starts_with("{{#include captured/"))
                                .map(|l| {
                                    if older {
                                        as_on_an_older_machine(l)
                                    } else {
                                        l.clone()
                                    }
                                }),
                        );
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
    let mut captures = 0;
    for (i, (chapter, cmds, expects, capture)) in runs.iter().enumerate() {
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
        // Captured output is today's engine's: written when asked, else held to the engine.
        let Some(name) = capture.as_deref().filter(|_| !older) else {
            continue;
        };
        captures += 1;
        let file = captured_file(name);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, shown.trim_end().to_string() + "\n").unwrap();
            continue;
        }
        let kept = std::fs::read_to_string(&file).unwrap_or_default();
        let fresh: std::collections::HashSet<String> = shown.lines().map(normalized).collect();
        let missing: Vec<&str> = kept
            .lines()
            .filter(|l| held(&normalized(l)) && !fresh.contains(&normalized(l)))
            .collect();
        if kept.is_empty() || !missing.is_empty() {
            failures.push(format!(
                "{chapter}: the book shows output of `{cmds}` ({}) that {} does not print:\n{}\n\
                 it printed:\n{shown}\n(after a change the engine explains, \
                 SRE_LAB_UPDATE_BOOK_OUTPUT=1 recaptures it)",
                file.display(),
                engine_name(),
                if kept.is_empty() {
                    "(no capture yet)".to_string()
                } else {
                    missing.join("\n")
                }
            ));
        }
    }
    if !older {
        assert!(captures >= 3, "the book shows captured output ({captures})");
    }
    assert!(
        reset.is_ok_and(|o| o.status.success()),
        "lab reset cleaned up after the book"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
