//! The `lab` wheel (scripts/build-wheel.sh): it installs with pip in a clean `python:3.9-slim`
//! container and grades there (its labs built in), and its binary needs no glibc above 2.17.
//! scripts/test.sh builds it and passes its path as `SRE_LAB_CI_ARTIFACT`; the act test in
//! `ci.rs` then grades a learner's repository end to end with the same wheel.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

pub(crate) fn wheel() -> PathBuf {
    let p = PathBuf::from(std::env::var("SRE_LAB_CI_ARTIFACT").expect(
        "SRE_LAB_CI_ARTIFACT names the wheel: scripts/test.sh builds it (scripts/build-wheel.sh)",
    ));
    assert!(p.extension().is_some_and(|e| e == "whl"), "{}", p.display());
    p
}

/// The binary inside the wheel, unpacked into `dir`.
pub(crate) fn binary_of(wheel: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nn = [i for i in z.namelist() if i.endswith('/scripts/lab')][0]\nopen(sys.argv[2], 'wb').write(z.read(n))"])
        .arg(wheel)
        .arg(dir.join("lab"))
        .output()
        .unwrap();
    assert_succeeded(&out);
    let bin = dir.join("lab");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
#[ignore = "needs the wheel and the private test engine: scripts/test.sh"]
fn the_wheels_binary_needs_no_glibc_above_2_17() {
    let d = tempfile::tempdir().unwrap();
    let bin = binary_of(&wheel(), d.path());
    let out = Command::new("objdump")
        .arg("-T")
        .arg(&bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions: Vec<(u32, u32)> = text
        .split_whitespace()
        .filter_map(|w| {
            w.strip_prefix("(GLIBC_")
                .or_else(|| w.strip_prefix("GLIBC_"))
        })
        .filter_map(|v| {
            let v = v.trim_end_matches(')');
            let mut it = v.split('.').map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next().flatten().unwrap_or(0)))
        })
        .collect();
    versions.sort();
    assert!(
        !versions.is_empty(),
        "no versioned glibc symbols read: {text}"
    );
    let newest = versions.last().unwrap();
    assert!(
        *newest <= (2, 17),
        "the binary needs GLIBC_{}.{}",
        newest.0,
        newest.1
    );
    // The audit can fail: the host's own build (glibc 2.36) is newer than the floor.
    let host = Command::new("objdump")
        .arg("-T")
        .arg(lab_bin())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&host.stdout).contains("GLIBC_2.3"),
        "the host build needs a newer glibc, as the audit should see"
    );
}

#[test]
#[ignore = "needs the wheel and the private test engine: scripts/test.sh"]
fn the_wheel_installs_in_a_clean_python_39_container_and_grades_there() {
    require_test_engine();
    let w = wheel();
    let ws = Workspace::solution();
    let mount = |from: &std::path::Path, to: &str| format!("{}:{to}:ro", from.display());
    let out = docker_raw(
        &[
            "run", "--rm", "--network", "none",
            "-v", &mount(w.parent().unwrap(), "/wheels"),
            "-v", &mount(ws.path(), "/ws"),
            "python:3.9-slim", "sh", "-c",
            &format!(
                "pip install --quiet --no-index --disable-pip-version-check /wheels/{} && lab --version && lab check day11 --step dockerfile --dir /ws",
                w.file_name().unwrap().to_string_lossy()
            ),
        ],
        None,
    );
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("lab {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.contains("PASS") && text.contains("dockerfile"),
        "{text}"
    );
}
