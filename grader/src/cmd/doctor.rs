//! `lab doctor [LAB]`: is this machine ready for the lab? It checks what the lab's check kinds
//! need (their [`crate::checks::Needs`]: an engine, Compose, a base image, a registry, a free
//! host port, Python with venv and pip) and the disk. Each finding comes with its fix; the exit
//! code is 1 when something blocks the lab, 0 otherwise (warnings included). No lesson fact
//! is written here: the base image, the port and the registry come from the lab file.

use std::process::Command;

use super::{connect, load_lab};
use crate::checks::Needs;
use crate::engine::EngineState;
use crate::error::{Error, Result};
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
    what: String,
    detail: String,
    fix: String,
}

fn finding(
    level: Level,
    what: impl Into<String>,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        level,
        what: what.into(),
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

async fn engine_findings(out: &mut Vec<Finding>, needs: &Needs) {
    let engine = match connect().await {
        EngineState::Connected { engine, line } => {
            out.push(finding(Level::Ok, "engine", line, ""));
            engine
        }
        EngineState::Unreachable { error, .. } => {
            out.push(finding(
                Level::Fail,
                "engine",
                error.to_string(),
                error.advice(),
            ));
            return;
        }
        EngineState::NotNeeded => return,
    };
    if let Some(base) = needs.base_image.as_deref() {
        base_image_finding(out, engine.as_ref(), base).await;
    }
    let Some(port) = needs.host_port else { return };
    let holders: Vec<String> = match engine.containers().await {
        Ok(list) => {
            let mut names = Vec::new();
            for c in list
                .iter()
                .filter(|c| c.state == crate::engine::ContainerState::Running)
            {
                if let Ok(Some(full)) = engine.container(&c.id).await {
                    if full
                        .published
                        .values()
                        .flatten()
                        .any(|(_, p)| p == &port.to_string())
                    {
                        names.push(full.name);
                    }
                }
            }
            names
        }
        Err(_) => vec![],
    };
    port_finding(out, port, &holders);
}

async fn base_image_finding(
    out: &mut Vec<Finding>,
    engine: &dyn crate::engine::Engine,
    base: &str,
) {
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
            out.push(finding(level, "base image", detail, format!("`docker pull {base}`; offline: `docker load -i` the archive from your instructor's kit, or scripts/setup-engine.sh (Debian) builds a stand-in")));
        }
        Err(e) => out.push(finding(
            Level::Fail,
            "base image",
            e.to_string(),
            e.advice(),
        )),
    }
}

fn port_finding(out: &mut Vec<Finding>, port: u16, holders: &[String]) {
    let what = format!("port {port}");
    if !holders.is_empty() {
        out.push(finding(
            Level::Warn,
            &what,
            format!("held by container {}", holders.join(", ")),
            "fine if it is your run or compose step; otherwise `docker stop` it",
        ));
    } else if crate::http::host_port_taken(port) {
        out.push(finding(Level::Warn, &what, "taken by another program (on macOS: the AirPlay receiver)", "turn it off (System Settings, AirDrop & Handoff), or publish the app on another host port; lab check accepts that"));
    } else {
        out.push(finding(Level::Ok, &what, "free", ""));
    }
}

/// The lab doctor checks: the one given, else the only one there is.
fn pick_lab(lab_id: Option<&str>) -> Result<crate::lab::Lab> {
    if let Some(id) = lab_id {
        return load_lab(id);
    }
    let ids = super::list::lab_ids()?;
    match ids.as_slice() {
        [only] => load_lab(only),
        _ => Err(Error::Usage(format!(
            "which lab? `lab doctor LAB`, one of: {}",
            ids.join(", ")
        ))),
    }
}

/// What a whole lab needs: the union of its checks' needs.
fn lab_needs(lab: &crate::lab::Lab) -> Needs {
    let mut all = Needs::default();
    for n in lab.steps.iter().flat_map(|s| &s.checks).map(|c| c.needs()) {
        all.engine |= n.engine;
        all.compose |= n.compose;
        all.python |= n.python;
        all.base_image = all.base_image.or(n.base_image);
        all.registry = all.registry.or(n.registry);
        all.host_port = all.host_port.or(n.host_port);
    }
    all
}

/// `lab doctor [LAB]`.
pub async fn run(lab_id: Option<&str>) -> Result {
    let lab = pick_lab(lab_id)?;
    let needs = lab_needs(&lab);
    println!(
        "lab doctor {}: what this lab needs on this machine\n",
        lab.id
    );
    let mut out = Vec::new();
    if needs.engine {
        engine_findings(&mut out, &needs).await;
    }
    if needs.compose {
        compose_finding(&mut out);
    }
    if let Some(registry) = &needs.registry {
        registry_finding(&mut out, registry).await;
    }
    if needs.python {
        python_findings(&mut out);
    }
    kit_finding(&mut out).await;
    disk_finding(&mut out);
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
        Ok(exit::FAILED)
    } else {
        println!("\nReady for the lab.");
        Ok(exit::PASSED)
    }
}

/// "offline kit installed", and which of its parts are ready.
async fn kit_finding(out: &mut Vec<Finding>) {
    let Some(inst) = crate::kit::Installed::load() else {
        return;
    };
    let mut ready = Vec::new();
    let mut missing = Vec::new();
    let image = match connect().await {
        EngineState::Connected { engine, .. } => engine
            .image(crate::kit::KIT_IMAGE)
            .await
            .ok()
            .flatten()
            .is_some(),
        _ => false,
    };
    if image {
        ready.push("base image")
    } else {
        missing.push("base image")
    }
    if matches!(
        crate::kit::registry_port(5001).await,
        crate::kit::PortState::Registry
    ) {
        ready.push("registry")
    } else {
        missing.push("registry")
    }
    if std::path::Path::new(&inst.pip_conf).is_file() {
        ready.push("pip wheels")
    } else {
        missing.push("pip wheels")
    }
    let level = if missing.is_empty() {
        Level::Ok
    } else {
        Level::Warn
    };
    out.push(finding(
        level,
        "offline kit",
        format!(
            "offline kit installed from {}: ready: {}{}",
            inst.kit,
            ready.join(", "),
            if missing.is_empty() {
                String::new()
            } else {
                format!("; not ready: {}", missing.join(", "))
            }
        ),
        "run `lab kit install DIR` again: it repairs what is missing",
    ));
}

fn compose_finding(out: &mut Vec<Finding>) {
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
}

async fn registry_finding(out: &mut Vec<Finding>, registry: &str) {
    let addr = registry.replacen("localhost", "127.0.0.1", 1);
    let reg_ok = crate::registry::answers(&addr).await;
    out.push(if reg_ok {
        finding(
            Level::Ok,
            "registry",
            format!("a registry answers on {addr}"),
            "",
        )
    } else {
        finding(
            Level::Warn,
            "registry",
            format!("no registry on {addr} (the push step can use Docker Hub instead)"),
            format!(
                "scripts/setup-engine.sh starts one; or `docker run -d -p {addr}:5000 registry:2`"
            ),
        )
    });
}

fn python_findings(out: &mut Vec<Finding>) {
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
}

fn disk_finding(out: &mut Vec<Finding>) {
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
}
