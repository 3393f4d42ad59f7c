//! Kind `dockerfile`: the workspace's `Dockerfile` says what the lesson asks, by meaning.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use serde::Deserialize;

use super::Needs;
use crate::bounded::{read_text, ReadError, MAX_SPEC_FILE};
use std::collections::BTreeMap;
use std::path::Path;

use super::Ctx;
use crate::dockerfile::{self as df, Facts};
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks: the base image; `WORKDIR`; the dependency file copied and installed with \
`pip install --no-cache-dir -r` *before* the rest of the code is copied; the code copied; \
the environment (`ENV` in either form, one instruction or several); `EXPOSE`; and a `CMD` in \
exec form that runs gunicorn bound to `0.0.0.0` on the app's port serving the app. Each \
finding carries its `line:column`, what was expected, what was found, and the fix. A \
linter's pragma (`# hadolint ignore=...`) silences nothing here, and the finding says so: \
the builder ignores comments.\n\nWhy: \
each of these is a mistake learners make that Docker accepts silently and that shows up \
later as a container that exits, a port that answers nothing, or a cache that never hits. \
Good practice beyond the lesson (a `.dockerignore` that keeps `.git`, virtual environments \
and `__pycache__` out of the image) is reported as warnings that do not fail the step.";

/// The parameters of a `dockerfile` check: what the lesson's Dockerfile must say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The image the lesson builds FROM.
    pub base_image: String,
    /// The expected `WORKDIR`.
    pub workdir: String,
    /// The dependency file copied and installed before the code.
    pub requirements: String,
    /// Environment the image must set.
    pub env: BTreeMap<String, String>,
    /// The port the app listens on, to `EXPOSE`.
    pub port: u16,
    /// The exec-form command.
    pub cmd: Vec<String>,
    /// Paths a `.dockerignore` should keep out of the image (good practice: warnings).
    pub dockerignore: Vec<String>,
}
kind!(needs: |s| Needs { base_image: Some(s.base_image.clone()), ..Needs::default() });

/// Grade `dir/Dockerfile` against the lab's parameters.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let Spec {
        base_image,
        workdir,
        requirements,
        env,
        port,
        cmd,
        dockerignore,
    } = spec;
    let id = |s: &str| format!("{step}.{s}");
    let facts = match df::read(&ctx.dir) {
        Err(e) => {
            let hint = match &e {
                ReadError::Io { .. } => "check the file's permissions",
                ReadError::NotText(_) => "the Dockerfile is plain text: recreate it in a text editor",
                _ => "make `Dockerfile` a regular text file in the workspace",
            };
            return vec![CheckResult::fail(id("file"), format!("the Dockerfile cannot be used: {e}"))
                .hint(hint)]
        }
        Ok(None) => {
            let mut r = CheckResult::fail(id("file"), "there is no Dockerfile in the workspace")
                .expected(format!("{}/Dockerfile", ctx.dir.display()))
                .hint("create a file named exactly `Dockerfile` (capital D, no extension) next to requirements.txt");
            if let Some(other) = near_miss_name(&ctx.dir) {
                r = r.found(other.clone()).hint(format!(
                    "rename `{other}` to `Dockerfile`: docker build looks for that exact name"
                ));
            }
            return vec![r];
        }
        Ok(Some(Err(e))) => {
            return vec![CheckResult::fail(id("syntax"), format!("Docker cannot parse the Dockerfile: {}", e.message))
                .at(format!("Dockerfile:{}", e.pos))
                .hint("fix the instruction at that line; each line starts with an instruction (FROM, RUN, COPY, ...) followed by its arguments")]
        }
        Ok(Some(Ok(f))) => f,
    };
    let mut out = vec![CheckResult::pass(id("syntax"), "the Dockerfile parses")];
    out.push(check_base(&facts, &id("base"), base_image));
    out.push(check_workdir(&facts, &id("workdir"), workdir));
    out.extend(check_requirements(
        &facts,
        &id("requirements"),
        requirements,
    ));
    out.push(check_copy_code(&facts, &id("copy-code"), cmd.last().map(String::as_str).unwrap_or_default()));
    out.extend(check_env(&facts, &id("env"), env));
    out.push(check_expose(&facts, &id("expose"), *port));
    out.push(check_cmd(&facts, &id("cmd"), cmd, *port, &ctx.dir));
    out.extend(check_dockerignore(ctx, &id("dockerignore"), dockerignore));
    note_lint_pragmas(&facts, &mut out);
    out
}

/// A finding on the line under `# hadolint ignore=...` (or anywhere, under `# hadolint global
/// ignore=...`) stands: say so, since the learner may think the comment settled it.
fn note_lint_pragmas(facts: &Facts, out: &mut [CheckResult]) {
    if facts.lint_pragmas.is_empty() {
        return;
    }
    for r in out.iter_mut().filter(|r| {
        matches!(r.status, crate::report::Status::Fail | crate::report::Status::Warn)
    }) {
        let line = r
            .location
            .as_deref()
            .and_then(|l| l.strip_prefix("Dockerfile:"))
            .and_then(|l| l.split(':').next())
            .and_then(|l| l.parse::<usize>().ok());
        let Some(line) = line else { continue };
        let pragma = facts.lint_pragmas.iter().find(|(at, text)| {
            *at + 1 == line || text.starts_with("hadolint global")
        });
        if let Some((_, text)) = pragma {
            let note = format!(
                "`# {text}` silences hadolint, not Docker: the image is built as written, so this still applies"
            );
            r.detail = Some(match r.detail.take() {
                Some(d) => format!("{note}\n{d}"),
                None => note,
            });
        }
    }
}

fn near_miss_name(dir: &std::path::Path) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        let lower = name.to_lowercase();
        (lower.starts_with("dockerfile") || lower == "docker-file").then_some(name)
    })
}

fn at(p: df::Pos) -> String {
    format!("Dockerfile:{p}")
}

fn check_base(f: &Facts, id: &str, want: &str) -> CheckResult {
    let Some((image, pos)) = &f.from else {
        return CheckResult::fail(id, "there is no FROM instruction")
            .expected(format!("FROM {want}"))
            .hint(format!("start the Dockerfile with `FROM {want}`"));
    };
    let normalized = image
        .trim_start_matches("docker.io/")
        .trim_start_matches("library/");
    let without_digest = normalized.split('@').next().unwrap_or(normalized);
    if without_digest == want {
        return CheckResult::pass(id, format!("the image is built FROM {image}")).at(at(*pos));
    }
    let (name, tag) = without_digest
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .unwrap_or((without_digest, "latest"));
    let why = if name == want.split(':').next().unwrap_or("") {
        if tag == "latest" {
            "without a tag Docker uses `latest`, which changes whenever a new Python is released: builds stop being reproducible".to_string()
        } else {
            format!("`{tag}` is a different variant: the lesson uses the slim Python 3.9 image (smaller, and the version the app is tested on)")
        }
    } else {
        format!("`{image}` is not the lesson's base image")
    };
    CheckResult::fail(id, format!("the base image is {image}: {why}"))
        .at(at(*pos))
        .expected(format!("FROM {want}"))
        .found(format!("FROM {image}"))
        .hint(format!("use `FROM {want}`"))
}

fn check_workdir(f: &Facts, id: &str, want: &str) -> CheckResult {
    let Some((raw, pos, index)) = f.workdirs.last() else {
        return CheckResult::fail(
            id,
            "there is no WORKDIR: files land in / and the app's paths do not match PYTHONPATH",
        )
        .expected(format!("WORKDIR {want}"))
        .hint(format!("add `WORKDIR {want}` right after FROM"));
    };
    let effective = f.workdir().unwrap_or_default();
    if effective == want && !raw.starts_with('/') {
        return CheckResult::warn(id, format!("WORKDIR `{raw}` is relative: it means {want} here only because nothing set a working directory before it"))
            .at(at(*pos))
            .expected(format!("WORKDIR {want}"))
            .found(format!("WORKDIR {raw}"))
            .hint(format!("write the absolute path, `WORKDIR {want}`, so it does not depend on the base image"));
    }
    if effective != want {
        let why = if !raw.starts_with('/') {
            format!("`{raw}` is relative, so it is resolved against the previous working directory")
        } else {
            format!("the lesson's PYTHONPATH and paths assume {want}")
        };
        return CheckResult::fail(id, format!("the working directory is {effective}: {why}"))
            .at(at(*pos))
            .expected(format!("WORKDIR {want}"))
            .found(format!("WORKDIR {raw}"))
            .hint(format!("use the absolute path: `WORKDIR {want}`"));
    }
    if let Some(first_copy) = f.copies.first().filter(|c| c.index < *index) {
        return CheckResult::fail(
            id,
            "a COPY comes before WORKDIR, so it copies into / rather than the app directory",
        )
        .at(at(first_copy.pos))
        .expected(format!("WORKDIR {want} before any COPY"))
        .hint("move WORKDIR up, right after FROM");
    }
    CheckResult::pass(id, format!("WORKDIR is {want}")).at(at(*pos))
}

fn is_pip_install(run: &str, requirements: &str) -> bool {
    let words: Vec<&str> = run.split_whitespace().collect();
    let has_pip = words.windows(2).any(|w| {
        (w[0].ends_with("pip") || w[0].ends_with("pip3") || w[0] == "pip") && w[1] == "install"
    });
    has_pip && run.contains(requirements)
}

fn check_requirements(f: &Facts, id: &str, requirements: &str) -> Vec<CheckResult> {
    let copy_req = f.copies.iter().find(|c| {
        c.sources
            .iter()
            .any(|s| s.trim_start_matches("./") == requirements)
    });
    let code_copy = f.copies.iter().find(|c| copies_everything(&c.sources));
    let install = f
        .runs
        .iter()
        .find(|r| is_pip_install(&r.text, requirements));
    let mut out = Vec::new();
    let Some(install) = install else {
        out.push(
            CheckResult::fail(id, format!("no RUN installs the dependencies from {requirements}: gunicorn and flask will be missing from the image, and the container exits with \"executable file not found\""))
                .expected(format!("RUN pip install --no-cache-dir -r {requirements}"))
                .hint(format!("add `RUN pip install --no-cache-dir -r {requirements}` after copying {requirements}")),
        );
        return out;
    };
    match (copy_req, code_copy) {
        (Some(c), _) if c.index < install.index => {}
        (_, Some(code)) if code.index < install.index => {
            out.push(
                CheckResult::fail(id, "the whole project is copied before the dependencies are installed, so every code edit busts the layer cache and reinstalls every requirement")
                    .at(at(code.pos))
                    .expected(format!("COPY {requirements} .  then  RUN pip install ...  then  COPY . ."))
                    .found("COPY . .  before  RUN pip install")
                    .hint(format!("copy {requirements} on its own first, install, and only then `COPY . .`")),
            );
            return out;
        }
        _ => {
            out.push(
                CheckResult::fail(
                    id,
                    format!("{requirements} is not copied into the image before pip reads it"),
                )
                .at(at(install.pos))
                .expected(format!("COPY {requirements} .  before the RUN pip install"))
                .hint(format!(
                    "add `COPY {requirements} .` right before the install"
                )),
            );
            return out;
        }
    }
    if !install.text.contains("--no-cache-dir") {
        out.push(
            CheckResult::fail(id, "pip keeps its download cache in the image (/root/.cache/pip), making the layer larger for nothing")
                .at(at(install.pos))
                .expected(format!("RUN pip install --no-cache-dir -r {requirements}"))
                .found(format!("RUN {}", install.text.trim()))
                .hint("add --no-cache-dir to the pip install"),
        );
    } else {
        out.push(
            CheckResult::pass(id, format!("{requirements} is copied and installed (pip --no-cache-dir) before the code, so code edits keep the cache"))
                .at(at(install.pos)),
        );
    }
    out
}

fn copies_everything(sources: &[String]) -> bool {
    sources.iter().any(|s| s == "." || s == "./")
}

/// Where a COPY's destination lands, resolved against the working directory.
fn landing(dest: &str, workdir: &str) -> String {
    if dest.starts_with('/') {
        df::normalize_path(dest)
    } else {
        df::normalize_path(&format!("{workdir}/{dest}"))
    }
}

/// The code is copied when the whole context is, or (a narrower copy with the same effect)
/// when the app's top-level package (`src` of `src.main:app`) lands at `<workdir>/src`.
/// `COPY src .` copies the directory's *contents*, not the directory: named as its own cause.
fn check_copy_code(f: &Facts, id: &str, app: &str) -> CheckResult {
    if let Some(c) = f.copies.iter().find(|c| copies_everything(&c.sources)) {
        return CheckResult::pass(id, format!("the code is copied ({} {})", c.sources.join(" "), c.dest)).at(at(c.pos));
    }
    let workdir = f.workdirs.last().map(|w| w.0.clone()).unwrap_or_else(|| "/".into());
    let package = app.split(':').next().unwrap_or_default().split('.').next().unwrap_or_default();
    let is_package = |s: &String| df::normalize_path(&format!("/{s}")) == format!("/{package}");
    let want = landing(package, &workdir);
    if !package.is_empty() {
        for c in f.copies.iter().filter(|c| c.sources.iter().any(is_package)) {
            let to = landing(&c.dest, &workdir);
            if to == want {
                return CheckResult::pass(id, format!("the app's package is copied to {want} ({} {}), where {app} imports it from", c.sources.join(" "), c.dest)).at(at(c.pos));
            }
            if to.ends_with(&format!("/{package}")) {
                return CheckResult::fail(id, format!("`COPY {} {}` puts {package} at {to}, but gunicorn runs in {workdir} and imports {app} from {want}", c.sources.join(" "), c.dest))
                    .at(at(c.pos))
                    .expected(format!("COPY {package} ./{package}   (or COPY . .)"))
                    .hint(format!("copy it under the working directory: `COPY {package} ./{package}`"));
            }
            if c.sources.len() == 1 {
                return CheckResult::fail(id, format!("`COPY {} {}` copies the *contents* of {package} into {to}, not the directory itself, so {want} does not exist and gunicorn cannot import {app}", c.sources[0], c.dest))
                    .at(at(c.pos))
                    .expected(format!("COPY {package} ./{package}   (or COPY . .)"))
                    .hint(format!("name the directory in the destination: `COPY {package} ./{package}`"));
            }
        }
    }
    CheckResult::fail(id, "the application code is never copied into the image, so the command cannot import it")
        .expected("COPY . .")
        .hint("after the pip install, add `COPY . .` to copy the project into the working directory")
}

fn check_env(f: &Facts, id: &str, want: &BTreeMap<String, String>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut all_ok = true;
    for (key, value) in want {
        match f.env_value(key) {
            None => {
                all_ok = false;
                let near = f.env.iter().find(|e| e.key.eq_ignore_ascii_case(key));
                let mut r = CheckResult::fail(format!("{id}.{key}"), format!("{key} is not set"))
                    .expected(format!("ENV {key}={value}"))
                    .hint(format!("add `ENV {key}={value}`"));
                if let Some(n) = near {
                    r = r.at(at(n.pos)).found(format!("{}={}", n.key, n.value)).hint(format!(
                        "environment variable names are case-sensitive: write `{key}`"
                    ));
                }
                out.push(r);
            }
            Some(e) if &e.value != value => {
                all_ok = false;
                out.push(
                    CheckResult::fail(format!("{id}.{key}"), format!("{key} is {:?}, not {value:?}", e.value))
                        .at(at(e.pos))
                        .expected(format!("{key}={value}"))
                        .found(format!("{key}={}", e.value))
                        .hint(format!("set `ENV {key}={value}`")),
                );
            }
            Some(e) if e.legacy => out.push(
                CheckResult::warn(format!("{id}.{key}"), format!("{key} uses the legacy `ENV {key} {value}` form"))
                    .at(at(e.pos))
                    .hint(format!("prefer `ENV {key}={value}`: the legacy form is deprecated and cannot set several variables")),
            ),
            Some(_) => {}
        }
    }
    if all_ok {
        let list: Vec<String> = want.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.insert(
            0,
            CheckResult::pass(id, format!("the environment is set: {}", list.join(", "))),
        );
    }
    out
}

fn check_expose(f: &Facts, id: &str, port: u16) -> CheckResult {
    let want = port.to_string();
    if let Some((_, pos)) = f
        .expose
        .iter()
        .find(|(p, _)| p == &want || p == &format!("{want}/tcp"))
    {
        return CheckResult::pass(id, format!("port {port} is exposed")).at(at(*pos));
    }
    let mut r = CheckResult::fail(id, format!("port {port} is not exposed: EXPOSE documents which port the app listens on (publishing is `-p`'s job)"))
        .expected(format!("EXPOSE {port}"))
        .hint(format!("add `EXPOSE {port}`"));
    if let Some((p, pos)) = f.expose.first() {
        r = r.at(at(*pos)).found(format!("EXPOSE {p}"));
    }
    r
}

/// What a gunicorn command line says.
struct Gunicorn {
    bind: Option<String>,
    app: Option<String>,
    /// `-c FILE` / `--config FILE`.
    config: Option<String>,
}

/// Where gunicorn's bind came from, for messages.
fn bind_from(g: &Gunicorn, f: &Facts, dir: &Path) -> (Option<String>, String) {
    // Gunicorn's order, later winning: its default, $PORT (0.0.0.0:$PORT when set), the
    // config file (`-c FILE`, else ./gunicorn.conf.py in the working directory), the
    // GUNICORN_CMD_ARGS variable, the command line.
    if let Some(b) = &g.bind {
        return (Some(b.clone()), "--bind".into());
    }
    let env = |k: &str| f.env.iter().rev().find(|e| e.key == k).map(|e| e.value.clone());
    if let Some(args) = env("GUNICORN_CMD_ARGS") {
        let words: Vec<String> = std::iter::once("gunicorn".to_string())
            .chain(df::shell_words(&args))
            .collect();
        if let Some(b) = read_gunicorn(&words).and_then(|e| e.bind) {
            return (Some(b), "GUNICORN_CMD_ARGS".into());
        }
    }
    let file = g.config.clone().unwrap_or_else(|| "gunicorn.conf.py".into());
    let workdir = f.workdirs.last().map(|w| w.0.clone()).unwrap_or_else(|| "/".into());
    // The config file as the workspace holds it (COPY . . puts it in the working directory).
    let rel = file
        .strip_prefix(&format!("{}/", workdir.trim_end_matches('/')))
        .unwrap_or(&file)
        .trim_start_matches("./")
        .to_string();
    if !rel.starts_with('/') && !rel.starts_with("python:") {
        if let Ok(text) = read_text(&dir.join(&rel), MAX_SPEC_FILE, Some(dir)) {
            if let Some(b) = config_bind(&text) {
                return (Some(b), rel);
            }
        }
    }
    if let Some(p) = env("PORT").filter(|p| !p.is_empty()) {
        return (Some(format!("0.0.0.0:{p}")), "$PORT (gunicorn binds 0.0.0.0:$PORT when it is set)".into());
    }
    (None, String::new())
}

/// A gunicorn config file's `bind = "..."` (or `bind = ["...", ...]`, the first), when it is a
/// plain literal; a computed bind is not guessed.
fn config_bind(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        if k.trim() != "bind" {
            return None;
        }
        let v = v.split('#').next()?.trim().trim_start_matches('[').trim_end_matches(']');
        let first = v.split(',').next()?.trim();
        let q = first.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        first.strip_prefix(q)?.strip_suffix(q).map(String::from)
    })
}

fn read_gunicorn(args: &[String]) -> Option<Gunicorn> {
    let start = args
        .iter()
        .position(|a| a == "gunicorn" || a.ends_with("/gunicorn"))?;
    let mut g = Gunicorn {
        bind: None,
        app: None,
        config: None,
    };
    let mut it = args[start + 1..].iter();
    while let Some(a) = it.next() {
        if a == "--bind" || a == "-b" {
            g.bind = it.next().cloned();
        } else if let Some(v) = a.strip_prefix("--bind=") {
            g.bind = Some(v.to_string());
        } else if let Some(v) = a
            .strip_prefix("-b")
            .filter(|v| !v.is_empty() && !v.starts_with('-'))
        {
            g.bind = Some(v.to_string());
        } else if a == "-c" || a == "--config" {
            g.config = it.next().cloned();
        } else if let Some(v) = a.strip_prefix("--config=") {
            g.config = Some(v.to_string());
        } else if a.starts_with('-') {
            // Flags that take a value in the next word.
            if !a.contains('=')
                && matches!(
                    a.as_str(),
                    "-w" | "--workers"
                        | "-k"
                        | "--worker-class"
                        | "-t"
                        | "--timeout"
                        | "--threads"
                        | "--chdir"
                        | "--log-level"
                        | "--access-logfile"
                        | "--error-logfile"
                )
            {
                it.next();
            }
        } else {
            g.app = Some(a.clone());
        }
    }
    Some(g)
}

fn check_cmd(f: &Facts, id: &str, want: &[String], port: u16, dir: &Path) -> CheckResult {
    let want_json = format!(
        "CMD [{}]",
        want.iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let want_app = want.last().cloned().unwrap_or_default();
    let want_bind = format!("0.0.0.0:{port}");
    // Judge the process the engine will run: ENTRYPOINT's exec form followed by CMD's.
    let (exec, args, pos, written) = match (&f.entrypoint, &f.cmd) {
        (None, None) => {
            return CheckResult::fail(id, "there is no CMD (and no ENTRYPOINT), so the container runs the base image's command (python3), which exits at once without a terminal")
                .expected(want_json.clone())
                .hint(format!("end the Dockerfile with `{want_json}`"))
        }
        (None, Some(c)) => (c.exec, c.args.clone(), c.pos, "CMD"),
        (Some(e), _) if !e.exec => (false, e.args.clone(), e.pos, "ENTRYPOINT"),
        (Some(e), None) => (true, e.args.clone(), e.pos, "ENTRYPOINT"),
        (Some(_), Some(c)) if !c.exec => (false, c.args.clone(), c.pos, "CMD"),
        (Some(e), Some(c)) => {
            let mut all = e.args.clone();
            all.extend(c.args.iter().cloned());
            (true, all, c.pos, "ENTRYPOINT + CMD")
        }
    };
    let (args, pos) = (&args, &pos);
    let r = |msg: String| {
        CheckResult::fail(id, msg)
            .at(at(*pos))
            .expected(want_json.clone())
    };
    if !exec {
        let raw = args.join(" ");
        if raw.trim_start().starts_with('[') {
            return r(format!("the {written} looks like a JSON array but is not valid JSON (single quotes?), so Docker runs it as a shell command and the container fails at once"))
                .found(format!("{written} {raw}"))
                .hint("JSON needs double quotes: [\"gunicorn\", \"--bind\", ...]");
        }
        return r(format!("the {written} is in shell form: /bin/sh becomes PID 1, so `docker stop` signals the shell, waits 10 s and kills gunicorn (exit 137)"))
            .found(format!("{written} {raw}"))
            .hint(format!("write it in exec form (a JSON array): `{want_json}`"));
    }
    if let Some(joined) = args.iter().find(|a| a.contains(' ')) {
        return r(format!("the array element {joined:?} holds a space: exec form passes it as one argument, so gunicorn misreads it and exits"))
            .found(format!("{written} {}", serde_json::to_string(args).unwrap_or_default()))
            .hint(format!("split every flag and value into its own element: \"--bind\", \"0.0.0.0:{port}\""));
    }
    let found = format!("{written} {}", serde_json::to_string(args).unwrap_or_default());
    let Some(g) = read_gunicorn(args) else {
        return r(format!("the CMD does not run gunicorn (it runs {:?}); the lesson serves the app with Gunicorn, a production WSGI server", args.first().cloned().unwrap_or_default()))
            .found(found)
            .hint(format!("use `{want_json}`"));
    };
    let (bind, channel) = bind_from(&g, f, dir);
    let via = if channel == "--bind" || channel.is_empty() {
        String::new()
    } else {
        format!(" (from {channel})")
    };
    match bind.as_deref() {
        None => {
            return r("gunicorn is given no bind (no --bind, no GUNICORN_CMD_ARGS, no bind in a gunicorn.conf.py, no PORT), so it uses its default, 127.0.0.1:8000: inside the container that is the container's own loopback on another port, and nothing answers on the published port".into())
                .found(found)
                .hint(format!("add \"--bind\", \"{want_bind}\""))
        }
        Some(b) if b.starts_with("127.0.0.1") || b.starts_with("localhost") => {
            return r(format!("gunicorn binds {b}{via}: inside a container, 127.0.0.1 is the container itself, so the published port gets a reset or an empty reply"))
                .found(found)
                .hint(format!("bind all interfaces: \"--bind\", \"{want_bind}\""))
        }
        Some(b) if b != want_bind && b != format!(":{port}") && b != format!("[::]:{port}") => {
            return r(format!("gunicorn binds {b}{via}, but the app is published and exposed on port {port}"))
                .found(found)
                .hint(format!("use \"--bind\", \"{want_bind}\""))
        }
        _ => {}
    }
    match g.app.as_deref() {
        Some(a) if a == want_app => CheckResult::pass(id, format!("{written} runs gunicorn on {want_bind}{via} serving {want_app} (exec form)")).at(at(*pos)),
        Some(a) => r(format!("gunicorn serves {a:?}, but the app is {want_app:?} (MODULE:VARIABLE): gunicorn will fail to import it"))
            .found(found)
            .hint(format!("the last element must be \"{want_app}\"")),
        None => r("gunicorn is not told which app to serve".into())
            .found(found)
            .hint(format!("add \"{want_app}\" as the last element")),
    }
}

fn check_dockerignore(ctx: &Ctx, id: &str, wanted: &[String]) -> Vec<CheckResult> {
    let path = ctx.dir.join(".dockerignore");
    let text = match read_text(&path, MAX_SPEC_FILE, Some(&ctx.dir)) {
        Ok(t) => t,
        Err(ReadError::Missing(_)) => return vec![CheckResult::warn(id, "there is no .dockerignore, so `COPY . .` also copies .git, virtual environments and __pycache__ into the image")
            .expected(format!(".dockerignore listing {}", wanted.join(", ")))
            .hint("create .dockerignore with one pattern per line: .git, .venv, venv, __pycache__")],
        Err(e) => {
            return vec![CheckResult::warn(id, format!(".dockerignore cannot be used: {e}"))
                .hint("make .dockerignore a regular text file, one pattern per line")]
        }
    };
    // Judged as the builder reads the file: what would `COPY . .` bring of each?
    let patterns = crate::dockerignore::parse(&text);
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !crate::dockerignore::excluded(&patterns, w))
        .collect();
    if missing.is_empty() {
        let by = wanted
            .first()
            .and_then(|w| crate::dockerignore::decided_by(&patterns, w))
            .filter(|p| p.text == "*" || p.text == "**")
            .map(|_| {
                let kept: Vec<&str> = patterns
                    .iter()
                    .filter(|p| p.negated)
                    .map(|p| p.text.as_str())
                    .take(10)
                    .collect();
                format!(" (it excludes everything and lets back only {})", if kept.is_empty() { "nothing".into() } else { kept.join(" ") })
            })
            .unwrap_or_default();
        vec![CheckResult::pass(
            id,
            format!(".dockerignore keeps the repository, virtual environments and caches out of the image{by}"),
        )]
    } else {
        vec![CheckResult::warn(
            id,
            format!(
                ".dockerignore does not exclude {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .at(".dockerignore")
        .hint(
            match missing
                .iter()
                .find_map(|w| crate::dockerignore::decided_by(&patterns, w).filter(|p| p.negated))
            {
                Some(p) => format!("the line `{}` lets it back in (the last matching line decides): move it above, or narrow it", p.text),
                None => "add one line per pattern to .dockerignore".to_string(),
            },
        )]
    }
}
