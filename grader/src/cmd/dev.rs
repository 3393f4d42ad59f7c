//! Course authors' commands: `lab dev check` validates every lab; `lab dev book` regenerates
//! the book's generated regions (exercise boxes, the CLI reference, the check catalogue) from the
//! lab data and the code, and with `--check` fails when the book has drifted (a test runs it).
//!
//! A region is written in a chapter as
//! `<!-- generated:KIND ARGS -->` ... `<!-- /generated -->`, where KIND is `exercise LAB STEP`,
//! `schedule LAB`, `minutes LAB PAGE`, `clone LAB` (the lab's `repository`), `cli-help`,
//! `check-kinds`, `json-schema` or `room-api`. Everything between the markers is replaced.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::checks;
use crate::error::{Error, Result};
use crate::exit;
use crate::lab::{labs_dir, Lab};

const END: &str = "<!-- /generated -->";

/// `lab dev ci-step` (inside `lab ci --setup-in-container`'s container).
pub async fn ci_step(lab: &str, step: &str, dir: &Path, venv: &Path, secs: u64) -> Result {
    let lab = super::load_lab(lab)?;
    let deadline = std::time::Duration::from_secs(secs.max(1));
    let answer = crate::ci::contained::step_inside(&lab, step, dir, venv, deadline).await;
    println!(
        "{}",
        serde_json::to_string(&answer).map_err(|e| Error::Usage(e.to_string()))?
    );
    Ok(exit::PASSED)
}

/// `lab dev check`.
pub fn check() -> Result {
    let ids = super::list::lab_ids()?;
    let labs = labs_dir()?;
    if ids.is_empty() {
        return Err(Error::Usage(format!("no labs in {}", labs.display())));
    }
    let book = labs.join("../book/src");
    let mut bad = 0;
    for id in &ids {
        match Lab::load(&labs, id) {
            Err(e) => {
                eprintln!("error: {e}");
                bad += 1;
            }
            Ok(lab) => {
                for s in &lab.steps {
                    let page = book.join(&s.book);
                    let marker = format!("<!-- generated:exercise {id} {} -->", s.id);
                    match std::fs::read_to_string(&page) {
                        Err(_) => {
                            eprintln!(
                                "error: lab {id}, step {}: book page {} does not exist",
                                s.id,
                                page.display()
                            );
                            bad += 1;
                        }
                        Ok(text) if !text.contains(&marker) => {
                            eprintln!(
                                "error: lab {id}, step {}: {} has no exercise box ({marker})",
                                s.id,
                                page.display()
                            );
                            bad += 1;
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
    }
    if bad > 0 {
        return Err(Error::Failed(format!(
            "{bad} problem(s) in the labs (see above)"
        )));
    }
    println!(
        "ok: {} lab(s) valid, every step has its book page and exercise box",
        ids.len()
    );
    Ok(exit::PASSED)
}

/// The exercise box of a step.
pub fn exercise(lab: &Lab, step_id: &str) -> Result<String, String> {
    let step = lab
        .step(step_id)
        .ok_or_else(|| format!("lab {} has no step {step_id}", lab.id))?;
    let mut s = String::new();
    let _ = writeln!(s, "<div class=\"exercise\">\n");
    let _ = writeln!(s, "### Check your work\n");
    let _ = writeln!(
        s,
        "```sh,run\nlab check {} --step {}\n```\n",
        lab.id, step.id
    );
    let _ = writeln!(s, "A pass looks like this:\n");
    let _ = writeln!(
        s,
        "```text,expect\nPASS   {}  {}\n```\n",
        step.id, step.title
    );
    let _ = writeln!(s, "<details>\n<summary>Hints, from a nudge to the near-answer (or <code>lab hint {} {}</code>, one at a time)</summary>\n", lab.id, step.id);
    for (i, h) in step.hints.iter().enumerate() {
        let _ = writeln!(s, "{}. {h}", i + 1);
    }
    let _ = writeln!(s, "\n</details>\n");
    if !step.mistakes.is_empty() {
        let _ = writeln!(s, "**Common mistakes**\n");
        for m in &step.mistakes {
            let _ = writeln!(s, "- *{}*: {}", m.what, m.fix);
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Still stuck? `lab solution {} {}` shows the answer and why it is right.\n",
        lab.id, step.id
    );
    s.push_str("</div>");
    Ok(s)
}

/// The CLI reference: every public command's `--help`, at a fixed width.
pub fn cli_help() -> String {
    let mut root = crate::cli::command().term_width(100);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## `lab`\n\n```text\n{}\n```",
        root.render_long_help().to_string().trim_end()
    );
    root.build();
    for sub in root.get_subcommands_mut() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = sub.get_name().to_string();
        let help = sub
            .clone()
            .term_width(100)
            .bin_name(format!("lab {name}"))
            .render_long_help()
            .to_string();
        let _ = writeln!(s, "\n## `lab {name}`\n\n```text\n{}\n```", help.trim_end());
    }
    s.trim_end().to_string()
}

/// The check-kind catalogue, from each kind's doc.
pub fn check_kinds() -> String {
    let mut s = String::new();
    for &(kind, doc) in checks::CATALOGUE {
        let _ = writeln!(s, "## `{kind}`\n\n{doc}\n");
    }
    s.trim_end().to_string()
}

/// The instructor's timetable and its totals, from the lab's `[schedule]`.
pub fn schedule_table(lab: &Lab) -> Result<String, String> {
    use crate::lab::schedule::{clock, duration, Kind};
    let sch = lab.schedule.as_ref().ok_or("the lab has no [schedule]")?;
    let mut s = String::from("| time | minutes | section | notes |\n|---|---|---|---|\n");
    for slot in sch.slots() {
        let it = slot.item;
        let title = it.title(lab);
        let section = match (it.kind(), it.page(lab)) {
            (Kind::Step | Kind::Chapter, Some(page)) => format!("[{title}]({page})"),
            _ => title,
        };
        let _ = writeln!(
            s,
            "| {} | {} | {section} | {} |",
            clock(slot.at),
            it.minutes,
            it.note
        );
    }
    let _ = write!(
        s,
        "\nTeaching and lab add up to {} ({} minutes) between {} and {}; breaks {}.",
        duration(sch.teaching()),
        sch.teaching(),
        clock(sch.slots()[0].at),
        clock(sch.end()),
        duration(sch.breaks())
    );
    Ok(s)
}

fn generate(directive: &str) -> Result<String, String> {
    let words: Vec<&str> = directive.split_whitespace().collect();
    match words.as_slice() {
        ["exercise", lab, step] => {
            let labs = labs_dir().map_err(|e| e.to_string())?;
            let lab = Lab::load(&labs, lab).map_err(|e| e.to_string())?;
            exercise(&lab, step)
        }
        ["clone", lab] => {
            let labs = labs_dir().map_err(|e| e.to_string())?;
            let lab = Lab::load(&labs, lab).map_err(|e| e.to_string())?;
            let url = lab
                .repository
                .as_deref()
                .ok_or("the lab has no `repository` (the address learners clone)")?;
            Ok(format!("```sh\ngit clone {url} sre-lab\n```"))
        }
        ["cli-help"] => Ok(cli_help()),
        ["check-kinds"] => Ok(check_kinds()),
        ["json-schema"] => Ok(format!("```json\n{}\n```", crate::report::json::SCHEMA_DOC)),
        ["room-api"] => Ok(crate::room::API_DOC.to_string()),
        ["schedule", lab] => {
            let labs = labs_dir().map_err(|e| e.to_string())?;
            let lab = Lab::load(&labs, lab).map_err(|e| e.to_string())?;
            schedule_table(&lab)
        }
        ["minutes", lab, page] => {
            let labs = labs_dir().map_err(|e| e.to_string())?;
            let lab = Lab::load(&labs, lab).map_err(|e| e.to_string())?;
            let sch = lab.schedule.as_ref().ok_or("the lab has no [schedule]")?;
            match sch.page_minutes(&lab, page) {
                0 => Err(format!("the schedule gives {page} no time")),
                m => Ok(format!("*About {m} minutes in the workshop's schedule.*")),
            }
        }
        _ => Err(format!("unknown generated region {directive:?}")),
    }
}

/// Regenerate every region of a text. `Err` names a broken region.
pub fn regenerate(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<!-- generated:") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let close = from
            .find("-->")
            .ok_or("a generated region's opening marker is not closed")?;
        let directive = from["<!-- generated:".len()..close].trim();
        let end = from
            .find(END)
            .ok_or_else(|| format!("region {directive:?} has no {END}"))?;
        out.push_str(&from[..close + 3]);
        out.push('\n');
        out.push_str(&generate(directive)?);
        out.push('\n');
        out.push_str(END);
        rest = &from[end + END.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// `lab dev book [--check]`.
pub fn book(src: &Path, check_only: bool) -> Result {
    let mut files = Vec::new();
    markdown_files(src, &mut files);
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "no Markdown files under {}",
            src.display()
        )));
    }
    files.sort();
    let mut stale = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let new = match regenerate(&text) {
            Ok(n) => n,
            Err(e) => return Err(Error::Failed(format!("{}: {e}", f.display()))),
        };
        if new != text {
            if check_only {
                stale.push(f);
            } else if let Err(e) = std::fs::write(&f, new) {
                return Err(Error::Failed(format!("cannot write {}: {e}", f.display())));
            } else {
                println!("updated {}", f.display());
            }
        }
    }
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|f| format!("  {}", f.display())).collect();
        return Err(Error::Failed(format!(
            "the book's generated regions are out of date; run `cargo run --bin lab -- dev book`:\n{}",
            list.join("\n")
        )));
    }
    if check_only {
        println!("ok: the book's generated regions are up to date");
    }
    Ok(exit::PASSED)
}

/// `lab dev room-load`: the room's load benchmark (see `room::load`).
pub async fn room_load(
    url: &str,
    code: &str,
    token: &str,
    learners: usize,
    secs: u64,
    interval_ms: u64,
) -> Result {
    let (host, port) = crate::room::client::parse_url(url).map_err(Error::Usage)?;
    let addr: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|_| Error::Usage(format!("{url}: give the room as http://127.0.0.1:PORT")))?;
    println!(
        "{learners} learners, a report each every {interval_ms} ms, for {secs} s, against {url}"
    );
    let mut out = crate::room::load::run(
        addr,
        code,
        token,
        "day11",
        learners,
        secs,
        std::time::Duration::from_millis(interval_ms),
    )
    .await
    .map_err(Error::Failed)?;
    println!("{}", out.summary());
    Ok(if out.errors == 0 {
        exit::PASSED
    } else {
        exit::FAILED
    })
}

/// `lab dev probe-floor`: one container from the image, started over the Engine API, to its
/// first HTTP answer, then removed: the serial work a check that proves an image serves cannot
/// avoid without evidence it already has.
pub async fn probe_floor(image: &str, port: u16) -> Result {
    use crate::engine::Engine;
    let engine = crate::engine::docker::DockerEngine::connect_and_ping()
        .await
        .map_err(|e| Error::Engine(e.to_string()))?;
    let id = engine
        .start_probe(&crate::engine::ProbeSpec::new(image, port, 256))
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let outcome = async {
        let c = engine.container(&id).await.ok().flatten()?;
        let host = c.host_port(port)?.parse::<u16>().ok()?;
        let p = crate::http::probe(
            "127.0.0.1",
            host,
            "/",
            std::time::Duration::from_secs(20),
            || async { true },
        )
        .await;
        matches!(p.last, crate::http::Attempt::Response { .. }).then_some(())
    }
    .await;
    let _ = engine.remove(&id).await;
    match outcome {
        Some(()) => Ok(exit::PASSED),
        None => Err(Error::Failed(format!("{image} did not answer HTTP"))),
    }
}
