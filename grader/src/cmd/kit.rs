//! `lab kit build|install|uninstall`: the offline room kit (see [`crate::kit`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{connect, load_lab};
use crate::engine::Engine;
use crate::engine::EngineState;
use crate::error::{Error, Result};
use crate::exit;
use crate::kit::{self, Installed, Manifest, PortState, Progress, KIT_IMAGE};

const BASE: &str = "python:3.9-slim";
const REGISTRY_PORT: u16 = 5001;

async fn engine() -> Result<std::sync::Arc<dyn Engine>> {
    match connect().await {
        EngineState::Connected { engine, .. } => Ok(engine),
        other => Err(Error::Engine(other.line())),
    }
}

fn step(n: usize, total: usize, what: &str) {
    println!("[{n}/{total}] {what}");
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::Failed(format!("{}: {e}", p.display())))?;
    }
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        Error::Failed(format!(
            "copying {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

/// `lab kit build DIR`: on a connected machine, with the base image, pip and mdBook.
pub async fn build(lab_id: &str, dir: &Path) -> Result {
    let lab = load_lab(lab_id)?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Usage(format!(
            "{} is not empty: a kit is built into a new directory",
            dir.display()
        )));
    }
    let fail = |e: std::io::Error| Error::Failed(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir.join("wheels")).map_err(fail)?;
    let dir = dir.canonicalize().map_err(fail)?;
    let engine = engine().await?;
    let total = 7;
    let workspace_src = lab.dir.join(&lab.workspace);

    step(
        1,
        total,
        &format!("wheels for the image's Python 3.9, downloaded inside {BASE}"),
    );
    let image_wheels = dir.join("image-wheels");
    std::fs::create_dir_all(&image_wheels).map_err(fail)?;
    if engine
        .image(BASE)
        .await
        .map_err(|e| Error::Engine(e.to_string()))?
        .is_none()
    {
        return Err(Error::Failed(format!(
            "{BASE} is not on this engine: `docker pull {BASE}` (or scripts/setup-engine.sh) first"
        )));
    }
    let cmd: Vec<String> = [
        "pip",
        "download",
        "--disable-pip-version-check",
        "-d",
        "/wheels",
        "-r",
        "/src/requirements.txt",
        "setuptools>=64",
        "wheel",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let binds = vec![
        format!("{}:/wheels", image_wheels.display()),
        format!(
            "{}:/src:ro",
            workspace_src.canonicalize().map_err(fail)?.display()
        ),
    ];
    let job = crate::engine::OneShot {
        image: BASE.to_string(),
        cmd,
        binds,
        deadline: Duration::from_secs(600),
    };
    let (code, log) = engine
        .run_to_end(&job)
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    if code != 0 {
        return Err(Error::Failed(format!(
            "pip download in {BASE} failed (exit {code}); is PyPI reachable?\n{}",
            crate::bounded::cap_tail(&log, 2000)
        )));
    }
    println!(
        "  {} wheels",
        std::fs::read_dir(&image_wheels)
            .map(|d| d.count())
            .unwrap_or(0)
    );

    step(
        2,
        total,
        &format!("the kit's base image: {BASE} with those wheels inside, pip pointed at them"),
    );
    let context = kit::build_context(&kit::base_dockerfile(BASE), &image_wheels).map_err(fail)?;
    engine
        .build(context, KIT_IMAGE)
        .await
        .map_err(|e| Error::Failed(format!("building {KIT_IMAGE}: {e}")))?;
    let archive = dir
        .join("images")
        .join(format!("python-3.9-slim-kit-{}.tar", kit::arch()));
    std::fs::create_dir_all(archive.parent().unwrap_or(&dir)).map_err(fail)?;
    let progress = Progress::new("saving the image");
    let size = engine
        .save_image(KIT_IMAGE, &archive, &|n| progress.bytes(n))
        .await
        .map_err(|e| Error::Failed(format!("saving {KIT_IMAGE}: {e}")))?;
    println!("  {} MiB in {}", size / (1024 * 1024), archive.display());

    step(
        3,
        total,
        "host wheels for Python 3.9 to 3.13 (MarkupSafe has one per version)",
    );
    for w in std::fs::read_dir(&image_wheels).map_err(fail)?.flatten() {
        copy_file(&w.path(), &dir.join("wheels").join(w.file_name()))?;
    }
    let platform = format!("manylinux2014_{}", kit::arch());
    for py in kit::HOST_PYTHONS {
        let mut cmd = tokio::process::Command::new("python3");
        cmd.args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            py,
            "--platform",
            &platform,
            "--platform",
            &format!("manylinux_2_17_{}", kit::arch()),
            "-d",
        ])
        .arg(dir.join("wheels"))
        .arg("-r")
        .arg(workspace_src.join("requirements.txt"))
        .args(["setuptools>=64", "wheel"]);
        let out = crate::bounded::run(cmd, 64 * 1024, Duration::from_secs(600))
            .await
            .map_err(|e| Error::Failed(format!("pip download for Python {py}: {e}")))?;
        if out.code != Some(0) {
            return Err(Error::Failed(format!(
                "pip download for Python {py} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        println!("  Python {py}: done");
    }
    let _ = std::fs::remove_dir_all(&image_wheels);

    step(4, total, "the registry and the lab binary");
    let registry = which("docker-registry").ok_or_else(|| {
        Error::Failed("no docker-registry here: scripts/setup-engine.sh installs it".into())
    })?;
    copy_file(&registry, &dir.join("bin/docker-registry"))?;
    // This very binary, even if a rebuild replaced the file meanwhile (Linux keeps the
    // running one readable through /proc/self/exe).
    let me = std::env::current_exe().map_err(|e| Error::Failed(e.to_string()))?;
    let me = if me.is_file() {
        me
    } else {
        PathBuf::from("/proc/self/exe")
    };
    copy_file(&me, &dir.join("bin/lab"))?;
    println!("  lab for {} linux, {}", kit::arch(), kit::glibc());

    step(5, total, "the book, built");
    let book = lab.dir.join("../../book");
    let out = tokio::process::Command::new("mdbook")
        .arg("build")
        .arg(&book)
        .arg("-d")
        .arg(dir.join("book"))
        .output()
        .await
        .map_err(|e| Error::Failed(format!("mdbook: {e}; scripts/setup-book.sh installs it")))?;
    if !out.status.success() {
        return Err(Error::Failed(format!(
            "mdbook build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }

    step(6, total, "the sample workspace");
    super::copy_tree(&workspace_src, &dir.join("workspace"), &lab.learner_files)
        .map_err(fail)?
        .map_err(|_| Error::Failed("the kit's workspace is not empty".into()))?;

    step(7, total, "the manifest");
    let mut pythons = vec!["3.9".to_string()];
    pythons.extend(kit::HOST_PYTHONS.iter().map(|s| s.to_string()));
    let m = kit::write_manifest(&dir, &lab.id, pythons).map_err(|e| Error::Failed(e.0))?;
    let bytes: u64 = m
        .files
        .keys()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "\nKit ready in {}: {} files, {} MiB, for {} ({}). Copy the directory to each laptop and run `lab kit install DIR` there (or {}/bin/lab kit install DIR).",
        dir.display(),
        m.files.len(),
        bytes / (1024 * 1024),
        m.arch,
        m.glibc,
        dir.display()
    );
    Ok(exit::PASSED)
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// `lab kit install DIR`: on a learner's laptop, no network needed. Idempotent.
pub async fn install(dir: &Path) -> Result {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    step(1, 5, "checking the kit against its manifest");
    let m: Manifest = kit::verify(&dir).map_err(|e| Error::Failed(e.0))?;
    let engine = engine().await?;

    step(2, 5, "loading the base image");
    let archive = dir
        .join("images")
        .join(format!("python-3.9-slim-kit-{}.tar", m.arch));
    engine.load_image(&archive).await.map_err(|e| {
        Error::Failed(format!(
            "{} could not be loaded ({e}): copy it again from the kit",
            archive.display()
        ))
    })?;
    let tagged = if kit::base_is_ours_or_absent(engine.as_ref(), BASE)
        .await
        .map_err(|e| Error::Engine(e.to_string()))?
    {
        engine
            .tag(KIT_IMAGE, "python", "3.9-slim")
            .await
            .map_err(|e| Error::Failed(e.to_string()))?;
        println!("  {BASE} is now the kit's image (Dockerfiles FROM {BASE} build offline)");
        true
    } else {
        println!("  your own {BASE} is kept; the kit's image is {KIT_IMAGE}. To build offline with it: `docker tag {KIT_IMAGE} {BASE}` (this replaces your tag)");
        false
    };

    step(3, 5, &format!("the registry on 127.0.0.1:{REGISTRY_PORT}"));
    let home = kit::home();
    std::fs::create_dir_all(&home)
        .map_err(|e| Error::Failed(format!("{}: {e}", home.display())))?;
    let previous = Installed::load();
    let registry_pid = match kit::registry_port(REGISTRY_PORT).await {
        PortState::Registry => {
            println!("  a registry already answers there: reused");
            previous.as_ref().and_then(|p| p.registry_pid)
        }
        PortState::Other => {
            return Err(Error::Failed(format!("port {REGISTRY_PORT} is taken by another program, not a registry: stop it (`ss -ltnp 'sport = :{REGISTRY_PORT}'` names it) and run `lab kit install` again")))
        }
        PortState::Free => {
            let config = home.join("registry.yml");
            std::fs::write(&config, format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{REGISTRY_PORT}\n", home.join("registry").display()))
                .map_err(|e| Error::Failed(e.to_string()))?;
            let log = std::fs::File::create(home.join("registry.log")).map_err(|e| Error::Failed(e.to_string()))?;
            let mut cmd = std::process::Command::new(dir.join("bin/docker-registry"));
            cmd.arg("serve").arg(&config).stdin(std::process::Stdio::null()).stdout(log.try_clone().map_err(|e| Error::Failed(e.to_string()))?).stderr(log);
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd.spawn().map_err(|e| Error::Failed(format!("starting the kit's registry: {e}")))?;
            let pid = child.id();
            let mut up = false;
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if matches!(kit::registry_port(REGISTRY_PORT).await, PortState::Registry) {
                    up = true;
                    break;
                }
            }
            if !up {
                return Err(Error::Failed(format!("the kit's registry did not start; see {}", home.join("registry.log").display())));
            }
            println!("  started (pid {pid}, data in {})", home.join("registry").display());
            Some(pid)
        }
    };

    step(
        4,
        5,
        "pip: the kit's wheels, in a configuration the lab owns",
    );
    let pip_conf = home.join("pip.conf");
    std::fs::write(
        &pip_conf,
        format!(
            "[global]\nno-index = true\nfind-links = {}\n",
            dir.join("wheels").display()
        ),
    )
    .map_err(|e| Error::Failed(e.to_string()))?;
    std::fs::write(
        home.join("env"),
        // pip reads environment variables over configuration files: unset them (this shell only).
        format!(
            "export PIP_CONFIG_FILE={}\nunset PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_NO_INDEX\n",
            pip_conf.display()
        ),
    )
    .map_err(|e| Error::Failed(e.to_string()))?;
    println!("  before `pip install -e .` on this laptop: `. {}` (your own pip configuration is not changed)", home.join("env").display());

    step(5, 5, "recording the install");
    Installed {
        kit: dir.display().to_string(),
        lab: m.lab.clone(),
        tagged_base: tagged || previous.as_ref().is_some_and(|p| p.tagged_base),
        registry_pid,
        pip_conf: pip_conf.display().to_string(),
        created_at: crate::grade::now_rfc3339(),
    }
    .save()
    .map_err(|e| Error::Failed(e.to_string()))?;
    println!("\nThe offline kit is installed. What the lab needs on this machine now:\n");
    super::doctor::run(Some(&m.lab)).await
}

/// `lab kit uninstall`: remove what the install made, nothing else.
pub async fn uninstall() -> Result {
    let Some(inst) = Installed::load() else {
        println!("No offline kit is installed.");
        return Ok(exit::PASSED);
    };
    if let Some(pid) = inst.registry_pid {
        // SAFETY: signalling the process group the install started.
        unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
        println!("stopped the kit's registry (pid {pid})");
    }
    if let Ok(engine) = engine().await {
        if inst.tagged_base {
            if let Ok(Some(i)) = engine.image(BASE).await {
                if i.labels.contains_key(kit::KIT_LABEL) {
                    let _ = engine.remove_image(BASE).await;
                    println!("removed the tag {BASE} (it was the kit's)");
                }
            }
        }
        let _ = engine.remove_image(KIT_IMAGE).await;
    }
    let _ = std::fs::remove_dir_all(kit::home());
    println!(
        "The offline kit is uninstalled ({} itself is left for you to delete).",
        inst.kit
    );
    Ok(exit::PASSED)
}
