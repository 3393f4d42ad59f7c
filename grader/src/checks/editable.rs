//! Kind `editable`: the app is installed in editable mode into the learner's Python, and serves.
//!
//! What it checks and why is [`DOC`]: the one text that rustdoc, `lab kinds` and the book's
//! reference page all show.

use super::Needs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::{same_path, Ctx};
use crate::cleanup::kill_group;
use crate::http::{free_loopback_port, matches_expectation, probe};
use crate::http::HttpExpect;
use crate::report::CheckResult;

/// What this kind checks and why.
pub const DOC: &str = "What it checks, in the learner's Python (`--python`, else `$VIRTUAL_ENV`, else `./.venv` or \
`./venv`, else `python3`): the distribution is installed; its `direct_url.json` (PEP 610) \
says `\"dir_info\": {\"editable\": true}` and points at this workspace; the app's module \
resolves to the workspace's file (so an edit in the workspace is live); and the built-in \
runtime starts the app under gunicorn from that environment on a free loopback port (from an \
empty directory, so only the installed package can be imported), probes it and stops it; \
that pass is kept until the interpreter, its installed packages or the workspace's files \
change. It explains `pip install .` without `-e`, another interpreter, and another copy of the \
code.\n\nWhy: an editable install is what makes \"change the code, see it at once\" work; a \
plain install silently freezes a copy, and a second Python on the machine hides the real \
one.";

/// The parameters of an `editable` check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The distribution name in `pyproject.toml`.
    pub distribution: String,
    /// A module that must resolve to the workspace's file.
    pub module: String,
    /// The Gunicorn application to serve, e.g. `src.main:app`.
    pub app: String,
    /// What the app must answer.
    pub http: HttpExpect,
}
kind!(needs: |_| Needs { python: true, ..Needs::default() });

const INSPECT: &str = r#"
import json, os, site, sys, importlib.util
dist_name, module = sys.argv[1], sys.argv[2]
out = {"executable": sys.executable, "version": sys.version.split()[0], "venv": sys.prefix != sys.base_prefix}
try:
    dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
    out["site"] = [d for d in dirs if os.path.isdir(d)]
except Exception:
    out["site"] = []
try:
    from importlib import metadata
    d = metadata.distribution(dist_name)
    out["dist_version"] = d.version
    out["direct_url"] = d.read_text("direct_url.json")
except Exception as e:
    out["dist_error"] = type(e).__name__
try:
    spec = importlib.util.find_spec(module)
    out["module_origin"] = spec.origin if spec else None
except Exception as e:
    out["module_error"] = "%s: %s" % (type(e).__name__, e)
out["gunicorn"] = importlib.util.find_spec("gunicorn") is not None
print(json.dumps(out))
"#;

#[derive(Debug, Deserialize)]
struct Inspection {
    executable: String,
    version: String,
    venv: bool,
    dist_version: Option<String>,
    direct_url: Option<String>,
    module_origin: Option<String>,
    module_error: Option<String>,
    gunicorn: bool,
    /// The environment's site-packages directories.
    #[serde(default)]
    site: Vec<String>,
}

/// A key for "gunicorn from this environment served the app": the interpreter, what is
/// installed in its site-packages (every install, uninstall or `pip install -e` adds or
/// replaces entries there) and the workspace's files, each by name, size and modification
/// time, with what was asked. Any of them changing is a new key, so the proof runs again.
fn serve_key(info: &Inspection, dir: &Path, app: &str, http: &HttpExpect) -> String {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    let mut h = sha2::Sha256::new();
    let mut stamp = |p: &Path, name: &str| {
        let m = std::fs::symlink_metadata(p).ok();
        h.update(format!(
            "{name}\0{}\0{}\0{}\n",
            m.as_ref().map_or(0, |m| m.len()),
            m.as_ref().map_or(0, |m| m.mtime()),
            m.as_ref().map_or(0, |m| m.mtime_nsec()),
        ));
    };
    stamp(dir, &dir.to_string_lossy());
    stamp(Path::new(&info.executable), &info.executable);
    for site in &info.site {
        let mut names: Vec<_> = std::fs::read_dir(site)
            .into_iter()
            .flatten()
            .flatten()
            .take(20_000)
            .map(|e| e.path())
            .collect();
        names.sort();
        for p in names {
            stamp(&p, &p.to_string_lossy());
        }
    }
    for rel in crate::walk::files(dir, Path::new(""), 10_000) {
        stamp(&dir.join(&rel), &rel.to_string_lossy());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "editable {hex} {app} {} {} {:?}",
        http.path, http.status, http.json
    )
}

/// The interpreters to consider, the learner's choice first, with why each was chosen.
pub fn candidates(ctx: &Ctx) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    if let Some(p) = &ctx.python {
        out.push((p.clone(), "--python".to_string()));
        return out;
    }
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        out.push((PathBuf::from(v).join("bin/python"), "$VIRTUAL_ENV".into()));
    }
    for d in [".venv", "venv"] {
        let p = ctx.dir.join(d).join("bin/python");
        if p.exists() {
            out.push((p, format!("./{d}")));
        }
    }
    out.push((PathBuf::from("python3"), "python3 on PATH".into()));
    out
}

async fn inspect(python: &Path, dist: &str, module: &str) -> Result<Inspection, String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg("-I")
        .arg("-c")
        .arg(INSPECT)
        .arg(dist)
        .arg(module)
        .current_dir(scratch.path());
    // The learner's interpreter: its own process group, output and time bounded.
    let out = crate::bounded::run(
        cmd,
        crate::bounded::MAX_PROCESS_OUTPUT,
        Duration::from_secs(20),
    )
    .await
    .map_err(|e| format!("{}: {e}", python.display()))?;
    if out.truncated {
        return Err(format!(
            "{} wrote more than {} KiB of output instead of answering: is it a Python interpreter?",
            python.display(),
            crate::bounded::MAX_PROCESS_OUTPUT / 1024
        ));
    }
    if out.code != Some(0) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.trim();
        let why = if why.is_empty() {
            match out.code {
                Some(c) => format!("it exited with code {c} and printed nothing"),
                None => "it was killed by a signal".to_string(),
            }
        } else {
            crate::bounded::cap_tail(why, 1024)
        };
        return Err(format!("{} failed: {why}", python.display()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "unexpected output from {} ({e}): is it a Python 3 interpreter?",
            python.display()
        )
    })
}

pub(crate) fn file_url_path(url: &str) -> Option<PathBuf> {
    let p = url.strip_prefix("file://")?;
    // Percent-decoding, on bytes (never slicing the string, so any input is safe).
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out).to_string()))
}

/// Grade the editable install.
pub async fn check(ctx: &Ctx, step: &str, spec: &Spec) -> Vec<CheckResult> {
    let dist: &str = &spec.distribution;
    let module: &str = &spec.module;
    let app: &str = &spec.app;
    let http: &HttpExpect = &spec.http;
    let id = |s: &str| format!("{step}.{s}");
    let install = "python3 -m venv .venv && . .venv/bin/activate && pip install -e .";
    let cands = candidates(ctx);
    let (python, why) = cands[0].clone();
    let info = match inspect(&python, dist, module).await {
        Ok(i) => i,
        Err(e) => {
            return vec![CheckResult::fail(
                id("installed"),
                format!("cannot use the Python chosen by {why}: {e}"),
            )
            .hint(format!(
                "create the environment: `{install}`, or name the interpreter with --python PATH"
            ))]
        }
    };
    let who = format!(
        "{} (Python {}, chosen by {why})",
        info.executable, info.version
    );
    let Some(version) = &info.dist_version else {
        let mut r = CheckResult::fail(id("installed"), format!("{dist} is not installed in {who}"))
            .hint(format!("`{install}`"));
        if !info.venv {
            // A system Python: recent distributions refuse `pip install` there (PEP 668,
            // "externally-managed-environment"), and it is the wrong place anyway.
            r = r.hint(format!(
                "{} is not a virtual environment (if pip said \"externally-managed-environment\", that is why): `{install}`",
                info.executable
            ));
        }
        for (other, owhy) in cands.iter().skip(1) {
            if let Ok(o) = inspect(other, dist, module).await {
                if o.dist_version.is_some() {
                    r = r
                        .found(format!(
                            "installed in another interpreter: {} ({owhy})",
                            o.executable
                        ))
                        .hint(format!(
                            "activate that environment (`. {}/bin/activate`) or pass --python {}",
                            Path::new(&o.executable)
                                .parent()
                                .and_then(|p| p.parent())
                                .map(|p| p.display().to_string())
                                .unwrap_or_default(),
                            o.executable
                        ));
                    break;
                }
            }
        }
        return vec![r];
    };
    let mut out = Vec::new();
    let direct: Option<serde_json::Value> = info
        .direct_url
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let editable = direct
        .as_ref()
        .and_then(|d| d.pointer("/dir_info/editable"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let url = direct
        .as_ref()
        .and_then(|d| d.get("url"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if !editable {
        return vec![CheckResult::fail(id("installed"), format!("{dist} {version} is installed in {who}, but not in editable mode: it is a frozen copy, so code edits do not show until you reinstall"))
            .expected("\"dir_info\": {\"editable\": true} in direct_url.json (pip install -e .)")
            .found(if info.direct_url.is_some() { "a regular install (pip install .)".to_string() } else { "no direct_url.json (installed from an index or a wheel)".to_string() })
            .hint("reinstall in editable mode: `pip install -e .` from the workspace")];
    }
    match file_url_path(&url) {
        Some(p) if same_path(&p, &ctx.dir) => {}
        _ => {
            return vec![CheckResult::fail(
                id("installed"),
                format!("{dist} is installed in editable mode, but from another copy of the code"),
            )
            .expected(format!("file://{}", ctx.dir.display()))
            .found(url)
            .hint("run `pip install -e .` from this workspace")]
        }
    }
    out.push(CheckResult::pass(
        id("installed"),
        format!("{dist} {version} is installed in editable mode from the workspace into {who}"),
    ));
    match (&info.module_origin, &info.module_error) {
        (Some(origin), _)
            if Path::new(origin)
                .canonicalize()
                .ok()
                .zip(ctx.dir.canonicalize().ok())
                .is_some_and(|(o, d)| o.starts_with(d)) =>
        {
            out.push(CheckResult::pass(
                id("module"),
                format!("{module} resolves to the workspace ({origin}): edits are live"),
            ));
        }
        (origin, err) => {
            out.push(CheckResult::fail(id("module"), format!("{module} does not resolve to the workspace's file"))
                .found(origin.clone().or(err.clone()).unwrap_or_else(|| "not importable".into()))
                .hint("reinstall with `pip install -e .` from the workspace; check that pyproject.toml lists the package"));
            return out;
        }
    }
    if !info.gunicorn {
        out.push(CheckResult::fail(id("serves"), format!("gunicorn is not installed in {who}"))
            .hint("`pip install -e .` installs the app's dependencies, gunicorn included; check pyproject.toml's dependencies"));
        return out;
    }
    let key = serve_key(&info, &ctx.dir, app, http);
    if let Some(hit) = ctx.cache.verdict(
        &key,
        "cached: the interpreter, its installed packages and the workspace's files are unchanged since",
    ) {
        out.push(hit);
        return out;
    }
    let r = serve(ctx, &id("serves"), Path::new(&info.executable), app, http).await;
    ctx.cache.store_probe(&key, &r);
    out.push(r);
    out
}

/// Start gunicorn from the learner's environment, probe it, stop it.
async fn serve(ctx: &Ctx, id: &str, python: &Path, app: &str, http: &HttpExpect) -> CheckResult {
    let Ok(scratch) = tempfile::tempdir() else {
        return CheckResult::error(id, "cannot create a temporary directory");
    };
    let Ok(port) = free_loopback_port() else {
        return CheckResult::error(id, "no free loopback port");
    };
    let log_path = scratch.path().join("gunicorn.log");
    let Ok(log) = std::fs::File::create(&log_path) else {
        return CheckResult::error(id, "cannot create a log file");
    };
    let mut cmd = tokio::process::Command::new(python);
    cmd.args([
        "-m",
        "gunicorn",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--workers",
        "1",
        app,
    ])
    .current_dir(scratch.path())
    .env_remove("PYTHONPATH")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(log)
    .process_group(0)
    .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return CheckResult::error(id, format!("cannot start gunicorn: {e}")),
    };
    let pid = child.id().unwrap_or(0);
    ctx.cleanup.add_pid(pid);
    let child = Arc::new(Mutex::new(child));
    let alive = || {
        let running = child
            .lock()
            .unwrap()
            .try_wait()
            .map(|s| s.is_none())
            .unwrap_or(false);
        async move { running }
    };
    let result = probe(
        "127.0.0.1",
        port,
        &http.path,
        Duration::from_secs(http.deadline_secs),
        alive,
    )
    .await;
    kill_group(pid);
    ctx.cleanup.remove_pid(pid);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if child
                .lock()
                .unwrap()
                .try_wait()
                .map(|s| s.is_some())
                .unwrap_or(true)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let took = result.elapsed.as_secs_f64();
    match matches_expectation(http, &result.last) {
        Ok(()) => {
            let status = http.status;
            let served = format!("gunicorn from this environment served {app} (HTTP {status} in {took:.1} s) and was stopped");
            CheckResult::pass(id, served)
                .evidence("lab started gunicorn from the environment on a free loopback port")
        }
        Err(how) => {
            let log = crate::bounded::read_tail(&log_path, 64 * 1024);
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            CheckResult::fail(id, format!("gunicorn from this environment did not serve {app}"))
                .found(how)
                .hint(format!("run `gunicorn --bind 127.0.0.1:8000 {app}` in the activated environment to see why"))
                .detail(format!("last log lines:\n{}", tail.join("\n")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::file_url_path;
    use std::path::PathBuf;

    #[test]
    fn file_urls_decode_on_bytes_and_never_panic() {
        assert_eq!(
            file_url_path("file:///home/ana/my%20lab"),
            Some(PathBuf::from("/home/ana/my lab"))
        );
        // A percent-escape right before a multibyte character used to slice inside it.
        for hostile in ["file:///a%é", "file:///%", "file:///%4", "file:///%zzé", "file:///é%4é"] {
            assert!(file_url_path(hostile).is_some(), "{hostile}");
        }
        assert_eq!(file_url_path("http://x"), None);
    }
}
