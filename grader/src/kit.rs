//! The offline room kit: everything a laptop needs to do the lab with no network, built by the
//! instructor on a connected machine (`lab kit build DIR`) and installed on each laptop
//! (`lab kit install DIR`).
//!
//! Design (see the instructor's chapter of the book):
//! - **The base image, with its wheels inside.** The kit's image is `python:3.9-slim` plus a
//!   wheelhouse at `/opt/sre-lab/wheels` and `PIP_NO_INDEX=1`, `PIP_FIND_LINKS` pointing at it,
//!   labelled `org.sre-lab.kit`. The learner's unchanged Dockerfile (`RUN pip install -r
//!   requirements.txt`) then installs from those wheels with no network. It is saved under a
//!   lab-owned name (`sre-lab/python:3.9-slim-kit`) and tagged `python:3.9-slim` on install
//!   only when the laptop has no `python:3.9-slim` of its own (or has an earlier kit's).
//! - **Host wheels** for Pythons 3.9 to 3.13 in `wheels/`, and a pip configuration the lab owns
//!   (`~/.sre-lab/kit/pip.conf`, used through `PIP_CONFIG_FILE`; the user's own pip
//!   configuration is never changed), so `pip install -e .` works in a venv with no network.
//! - The registry binary, the `lab` binary, the built book and the sample workspace.
//! - `manifest.json` with the SHA-256 of every file, the architecture, the Pythons and glibc.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::Engine;

/// The kit's manifest format.
pub const KIT_FORMAT: u32 = 1;
/// The lab-owned name of the kit's base image.
pub const KIT_IMAGE: &str = "sre-lab/python:3.9-slim-kit";
/// The label the kit's image carries.
pub const KIT_LABEL: &str = "org.sre-lab.kit";
/// The host Pythons the wheelhouse covers (the image's 3.9 comes from inside the image).
pub const HOST_PYTHONS: [&str; 4] = ["3.10", "3.11", "3.12", "3.13"];

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub kit_format: u32,
    pub lab: String,
    /// `x86_64`, `aarch64`: the machine the kit was built on, and the only one it serves.
    pub arch: String,
    /// The Python versions the wheelhouse serves.
    pub pythons: Vec<String>,
    /// The glibc the `lab` binary was linked against.
    pub glibc: String,
    pub created_at: String,
    /// Every file: path relative to the kit, to its SHA-256.
    pub files: BTreeMap<String, String>,
}

/// This machine's architecture as the kit names it.
pub fn arch() -> &'static str {
    std::env::consts::ARCH
}

/// The glibc this binary runs with.
pub fn glibc() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        return format!("glibc {}", v.to_string_lossy());
    }
    #[allow(unreachable_code)]
    "not glibc".to_string()
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// Progress as plain counted lines: a silent terminal for 30 s looks broken.
pub struct Progress {
    what: String,
    last: std::sync::Mutex<u64>,
}

impl Progress {
    pub fn new(what: &str) -> Progress {
        Progress {
            what: what.to_string(),
            last: std::sync::Mutex::new(0),
        }
    }
    /// Print every 16 MiB.
    pub fn bytes(&self, n: u64) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if n >= *last + 16 * 1024 * 1024 {
            *last = n;
            println!("  {}: {} MiB", self.what, n / (1024 * 1024));
        }
    }
}

/// What went wrong with a kit, named file by file, with what to do.
#[derive(Debug)]
pub struct KitError(pub String);

impl std::fmt::Display for KitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(s: impl Into<String>) -> KitError {
    KitError(s.into())
}

/// Check a kit against its manifest: every file present with its SHA-256, built for this
/// machine. Every problem is named.
pub fn verify(dir: &Path) -> Result<Manifest, KitError> {
    let text = crate::bounded::read_text(&dir.join("manifest.json"), 4 * 1024 * 1024, None)
        .map_err(|e| {
            err(format!(
                "{e}: is {} a kit made by `lab kit build`?",
                dir.display()
            ))
        })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "{}/manifest.json is damaged ({e}): copy the kit again",
            dir.display()
        ))
    })?;
    if m.kit_format != KIT_FORMAT {
        return Err(err(format!("the kit has format {}, this lab reads {KIT_FORMAT}: use the lab binary in the kit ({}/bin/lab)", m.kit_format, dir.display())));
    }
    if m.arch != arch() {
        return Err(err(format!(
            "this kit was built for {}, and this machine is {}: its image and lab binary cannot run here; ask for a kit built on a {} machine",
            m.arch,
            arch(),
            arch()
        )));
    }
    let mut problems = Vec::new();
    for (rel, want) in &m.files {
        let p = dir.join(rel);
        match sha256_file(&p) {
            Err(_) => problems.push(format!("  missing: {rel}")),
            Ok(got) if &got != want => problems.push(format!(
                "  damaged: {rel} (its SHA-256 differs from the manifest)"
            )),
            Ok(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(err(format!(
            "the kit in {} is incomplete or damaged; copy these files again from the instructor's kit:\n{}",
            dir.display(),
            problems.join("\n")
        )));
    }
    Ok(m)
}

/// Write the manifest for everything under `dir` (but itself).
pub fn write_manifest(dir: &Path, lab: &str, pythons: Vec<String>) -> Result<Manifest, KitError> {
    let mut files = BTreeMap::new();
    for rel in crate::walk::files(dir, Path::new(""), 100_000) {
        if rel == Path::new("manifest.json") {
            continue;
        }
        let h = sha256_file(&dir.join(&rel)).map_err(|e| err(format!("{}: {e}", rel.display())))?;
        files.insert(rel.to_string_lossy().to_string(), h);
    }
    let m = Manifest {
        kit_format: KIT_FORMAT,
        lab: lab.to_string(),
        arch: arch().to_string(),
        pythons,
        glibc: glibc(),
        created_at: crate::grade::now_rfc3339(),
        files,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap_or_default(),
    )
    .map_err(|e| err(format!("cannot write the manifest: {e}")))?;
    Ok(m)
}

/// Where the lab keeps what a kit install set up (and `uninstall` removes).
pub fn home() -> PathBuf {
    std::env::var_os("SRE_LAB_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join(".sre-lab")
        })
        .join("kit")
}

/// What an install set up, for `lab doctor` and `lab kit uninstall`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Installed {
    pub kit: String,
    pub lab: String,
    /// Whether `python:3.9-slim` is the kit's (tagged by the install).
    pub tagged_base: bool,
    /// The registry the install started (pid), if it started one.
    pub registry_pid: Option<u32>,
    pub pip_conf: String,
    pub created_at: String,
}

impl Installed {
    pub fn load() -> Option<Installed> {
        let t = crate::bounded::read_text(&home().join("installed.json"), 64 * 1024, None).ok()?;
        serde_json::from_str(&t).ok()
    }
    pub fn save(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(home())?;
        std::fs::write(
            home().join("installed.json"),
            serde_json::to_string_pretty(self).unwrap_or_default(),
        )
    }
}

/// The registry on 127.0.0.1:`port`: whether it answers as a registry, or something else holds
/// the port, or nothing does.
pub enum PortState {
    Registry,
    Other,
    Free,
}

pub async fn registry_port(port: u16) -> PortState {
    if crate::registry::answers(&format!("127.0.0.1:{port}")).await {
        PortState::Registry
    } else if crate::http::host_port_taken(port) {
        PortState::Other
    } else {
        PortState::Free
    }
}

/// The Dockerfile of the kit's base image.
pub fn base_dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\n\
         COPY wheels /opt/sre-lab/wheels\n\
         ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/sre-lab/wheels\n\
         LABEL {KIT_LABEL}=\"offline room kit: {base} with the lab's wheels; pip installs from /opt/sre-lab/wheels\"\n"
    )
}

/// A tar build context with the Dockerfile and the image's wheels.
pub fn build_context(dockerfile: &str, wheels: &Path) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())?;
    b.append_dir_all("wheels", wheels)?;
    b.into_inner()
}

/// Is this engine's `python:3.9-slim` one the lab may replace (absent, a kit's, a stand-in)?
pub async fn base_is_ours_or_absent(
    engine: &dyn Engine,
    base: &str,
) -> Result<bool, crate::engine::EngineError> {
    Ok(match engine.image(base).await? {
        None => true,
        Some(i) => {
            i.labels.contains_key(KIT_LABEL) || i.labels.contains_key("org.sre-lab.stand-in")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_every_damaged_or_missing_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("wheels")).unwrap();
        std::fs::write(d.path().join("wheels/flask.whl"), "x").unwrap();
        std::fs::write(d.path().join("lab"), "y").unwrap();
        write_manifest(d.path(), "day11", vec!["3.9".into()]).unwrap();
        assert!(verify(d.path()).is_ok());
        std::fs::write(d.path().join("lab"), "changed").unwrap();
        std::fs::remove_file(d.path().join("wheels/flask.whl")).unwrap();
        let e = verify(d.path()).unwrap_err().to_string();
        assert!(e.contains("missing: wheels/flask.whl"), "{e}");
        assert!(e.contains("damaged: lab"), "{e}");
        let mut m: Manifest =
            serde_json::from_str(&std::fs::read_to_string(d.path().join("manifest.json")).unwrap())
                .unwrap();
        m.arch = "sparc64".into();
        std::fs::write(
            d.path().join("manifest.json"),
            serde_json::to_string(&m).unwrap(),
        )
        .unwrap();
        assert!(verify(d.path())
            .unwrap_err()
            .to_string()
            .contains("built for sparc64"));
    }

    #[test]
    fn the_kit_image_points_pip_at_its_wheels() {
        let d = base_dockerfile("python:3.9-slim");
        assert!(d.contains("PIP_NO_INDEX=1") && d.contains("PIP_FIND_LINKS=/opt/sre-lab/wheels"));
        assert!(d.contains(KIT_LABEL));
    }
}
