//! `lab doctor`: is this machine ready for the lab? Each finding comes with its fix; the exit
//! code is 1 when something blocks the lab (no engine, no base image, no Python or venv, too
//! little disk), 0 otherwise (warnings included).

use std::process::Command;
use std::time::Duration;

use super::connect;
use crate::exit;
use crate::reference::Reference;
use crate::registry::{manifest_digest, Lookup};

#[derive(PartialEq, Eq, Clone, Copy)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Finding {
    level: Level,
    what: &'static str,
    detail: String,
    fix: String,
}

fn finding(
    level: Level,
    what: &'static str,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        level,
        what,
        detail: detail.into(),
        fix: fix.into(),
    }
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| {
        let text = if out.stdout.is_empty() {
            &out.stderr
        } else {
            &out.stdout
        };
        String::from_utf8_lossy(text).trim().to_string()
    })
}

fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct for a valid, NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

async fn engine_findings(out: &mut Vec<Finding>) {
    let (engine, line) = connect().await;
    let engine = match engine {
        Ok(e) => {
            out.push(finding(Level::Ok, "engine", line, ""));
            e
        }
        Err(e) => {
            out.push(finding(Level::Fail, "engine", e.to_string(), e.advice()));
            return;
        }
    };
    let base = "python:3.9-slim";
    match engine.image(base).await {
        Ok(Some(i)) if i.labels.contains_key("org.sre-lab.stand-in") => out.push(finding(
            Level::Ok,
            "base image",
            format!("{base} present (a local stand-in built by scripts/setup-engine.sh)"),
            "",
        )),
        Ok(Some(_)) => out.push(finding(
            Level::Ok,
            "base image",
            format!("{base} present"),
            "",
        )),
        Ok(None) => {
            let hub = manifest_digest(&Reference::parse(base)).await;
            let (level, detail) = match hub {
                Lookup::Found(_) => (Level::Warn, format!("{base} is not here yet but Docker Hub has it: the first build will pull it")),
                _ => (Level::Fail, format!("{base} is not here and Docker Hub cannot be reached")),
            };
            out.push(finding(level, "base image", detail, format!("`docker pull {base}`; offline: `docker load -i python-3.9-slim.tar` from your instructor, or scripts/setup-engine.sh (Debian) builds a stand-in")));
        }
        Err(e) => out.push(finding(
            Level::Fail,
            "base image",
            e.to_string(),
            e.advice(),
        )),
    }
    let holders: Vec<String> = match engine.containers().await {
        Ok(list) => {
            let mut names = Vec::new();
            for c in list.iter().filter(|c| c.state == "running") {
                if let Ok(Some(full)) = engine.container(&c.id).await {
                    if full.published.values().flatten().any(|(_, p)| p == "5000") {
                        names.push(full.name);
                    }
                }
            }
            names
        }
        Err(_) => vec![],
    };
    port_finding(out, &holders);
}

fn port_finding(out: &mut Vec<Finding>, holders: &[String]) {
    if !holders.is_empty() {
        out.push(finding(
            Level::Warn,
            "port 5000",
            format!("held by container {}", holders.join(", ")),
            "fine if it is your run or compose step; otherwise `docker stop` it",
        ));
    } else if crate::http::host_port_taken(5000) {
        out.push(finding(Level::Warn, "port 5000", "taken by another program (on macOS: the AirPlay receiver)", "turn it off (System Settings, AirDrop & Handoff), or publish the app on another host port; lab check accepts that"));
    } else {
        out.push(finding(Level::Ok, "port 5000", "free", ""));
    }
}

/// `lab doctor`.
pub async fn run() -> i32 {
    let mut out = Vec::new();
    engine_findings(&mut out).await;

    let compose = if let Some(v) = output("docker", &["compose", "version", "--short"]) {
        finding(
            Level::Ok,
            "compose",
            format!("Compose v2 {v} (`docker compose`)"),
            "",
        )
    } else if let Some(v) = output("docker-compose", &["version", "--short"]) {
        finding(
            Level::Ok,
            "compose",
            format!("Compose v1 {v} (`docker-compose`)"),
            "",
        )
    } else {
        finding(
            Level::Fail,
            "compose",
            "neither `docker compose` nor `docker-compose` works",
            "install the Compose plugin (Docker Desktop has it) or the docker-compose package",
        )
    };
    out.push(compose);

    let registry = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok();
    let reg_ok = match registry {
        Some(c) => c
            .get("http://127.0.0.1:5001/v2/")
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        None => false,
    };
    out.push(if reg_ok {
        finding(
            Level::Ok,
            "registry",
            "a registry answers on 127.0.0.1:5001",
            "",
        )
    } else {
        finding(
            Level::Warn,
            "registry",
            "no registry on 127.0.0.1:5001 (the push step can use Docker Hub instead)",
            "scripts/setup-engine.sh starts one; or `docker run -d -p 5001:5000 registry:2`",
        )
    });

    match output("python3", &["--version"]) {
        Some(v) => {
            let ok = v.split_whitespace().nth(1).and_then(|ver| {
                let mut it = ver.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
                Some((it.next()?, it.next()?))
            });
            let level = if ok.is_some_and(|(a, b)| (a, b) >= (3, 9)) {
                Level::Ok
            } else {
                Level::Fail
            };
            out.push(finding(level, "python", v, "install Python 3.9 or newer"));
            out.push(match output("python3", &["-m", "venv", "--help"]) {
                Some(_) => finding(Level::Ok, "venv", "python3 -m venv works", ""),
                None => finding(
                    Level::Fail,
                    "venv",
                    "python3 -m venv does not work",
                    "install it (Debian/Ubuntu: `apt install python3-venv`)",
                ),
            });
            out.push(match output("python3", &["-m", "pip", "--version"]) {
                Some(v) => finding(
                    Level::Ok,
                    "pip",
                    v.split(" from ").next().unwrap_or(&v).to_string(),
                    "",
                ),
                None => finding(
                    Level::Warn,
                    "pip",
                    "python3 has no pip (a venv brings its own)",
                    "`apt install python3-pip`, or use the venv's pip",
                ),
            });
        }
        None => out.push(finding(
            Level::Fail,
            "python",
            "no python3 on PATH",
            "install Python 3.9 or newer",
        )),
    }

    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    match free_bytes(&home) {
        Some(b) => {
            let gib = b as f64 / (1u64 << 30) as f64;
            let level = if gib < 2.0 {
                Level::Fail
            } else if gib < 5.0 {
                Level::Warn
            } else {
                Level::Ok
            };
            out.push(finding(level, "disk", format!("{gib:.1} GiB free in {}", home.display()), "the lab needs about 1 GiB for images; free some space (`docker system prune` removes unused images)"));
        }
        None => out.push(finding(Level::Warn, "disk", "free space unknown", "")),
    }

    for f in &out {
        let word = match f.level {
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        println!("{word:<5} {:<11} {}", f.what, f.detail);
        if f.level != Level::Ok && !f.fix.is_empty() {
            println!("{:<17} fix: {}", "", f.fix);
        }
    }
    if out.iter().any(|f| f.level == Level::Fail) {
        println!("\nSomething above blocks the lab: fix the FAIL lines first.");
        exit::FAILED
    } else {
        println!("\nReady for the lab.");
        exit::PASSED
    }
}
