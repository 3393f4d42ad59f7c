//! Bad input, as a table: files that are FIFOs, devices, links out of the workspace, huge or
//! binary; interpreters that fail, flood or fork; usage errors and values that would reach a
//! shell. Each case asserts the exit code, the words of the message, no panic, a time bound,
//! a peak-memory bound (the child's own peak resident memory, `VmHWM`, sampled every 5 ms:
//! `ru_maxrss` would count the test process's own memory, which a forked child inherits as
//! its high-water mark until exec), and where it applies that nothing is left running.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// What one run of `lab` did.
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    max_rss_kib: i64,
}

/// Run `lab` with `args` in `cwd`, sampling its own peak resident memory.
fn run_lab(args: &[String], cwd: &Path, env: &[(&str, &str)]) -> Measured {
    let mut cmd = lab_command();
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.process_group(0);
    let start = Instant::now();
    // Reaped below with waitpid, which std's Child cannot see.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0i64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("VmHWM:"))
                            .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
                    });
                peak = peak.max(hwm.unwrap_or(0));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(rc, pid, "waitpid");
    let elapsed = start.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Measured {
        code,
        stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
        elapsed,
        max_rss_kib: sampler.join().unwrap(),
    }
}

/// Prepares a case: gets the workspace and a scratch directory.
type Setup = Box<dyn Fn(&Path, &Path)>;

/// A case: what to do to a fresh solution workspace, the command, and what must come out.
struct Case {
    name: &'static str,
    setup: Setup,
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    code: i32,
    words: Vec<&'static str>,
    absent: Vec<&'static str>,
    secs: u64,
}

/// Replace text in the workspace's compose file.
fn edit_compose(ws: &Path, from: &str, to: &str) {
    let path = ws.join("compose.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn case(
    name: &'static str,
    setup: impl Fn(&Path, &Path) + 'static,
    args: &[&'static str],
    code: i32,
    words: &[&'static str],
) -> Case {
    Case {
        name,
        setup: Box::new(setup),
        args: args.to_vec(),
        env: vec![],
        code,
        words: words.to_vec(),
        absent: vec![],
        secs: 10,
    }
}

fn symlink(target: impl AsRef<Path>, link: PathBuf) {
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn mkfifo(p: PathBuf) {
    let _ = std::fs::remove_file(&p);
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid, NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// An executable script standing in for a learner's `--python`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

const DOCKERFILE: &[&str] = &["check", "day11", "--step", "dockerfile"];
const EDITABLE: &[&str] = &["check", "day11", "--step", "editable"];

fn run_table(cases: Vec<Case>) {
    assert!(cases.len() >= 5);
    let mut failures = Vec::new();
    for c in cases {
        let ws = Workspace::solution();
        let scratch = tempfile::tempdir().unwrap();
        (c.setup)(ws.path(), scratch.path());
        let mut args: Vec<String> = c
            .args
            .iter()
            .map(|a| {
                a.replace("{ws}", &ws.path().display().to_string())
                    .replace("{scratch}", &scratch.path().display().to_string())
            })
            .collect();
        if args.first().map(String::as_str) == Some("check") && !c.args.contains(&"--dir") {
            args.extend(["--dir".to_string(), ws.path().display().to_string()]);
        }
        let m = run_lab(&args, scratch.path(), &c.env);
        let all = format!("{}\n{}", m.stdout, m.stderr);
        let mut bad = Vec::new();
        if m.code != c.code {
            bad.push(format!("exit code {} (want {})", m.code, c.code));
        }
        for w in &c.words {
            if !all.contains(w) {
                bad.push(format!("no {w:?}"));
            }
        }
        for w in &c.absent {
            if all.contains(w) {
                bad.push(format!("shows {w:?}"));
            }
        }
        if all.contains("panicked") {
            bad.push("a panic".into());
        }
        if m.elapsed > Duration::from_secs(c.secs) {
            bad.push(format!("took {:?} (bound {} s)", m.elapsed, c.secs));
        }
        if m.max_rss_kib > 100 * 1024 {
            bad.push(format!(
                "peak memory {} MiB (bound 100)",
                m.max_rss_kib / 1024
            ));
        }
        if !bad.is_empty() {
            failures.push(format!("{}: {}\n{all}", c.name, bad.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn file_cases() -> Vec<Case> {
    let mut v = vec![
        case(
            "Dockerfile is a FIFO",
            |ws, _| mkfifo(ws.join("Dockerfile")),
            DOCKERFILE,
            1,
            &["FIFO", "regular file"],
        ),
        case(
            "Dockerfile -> /dev/zero",
            |ws, _| symlink("/dev/zero", ws.join("Dockerfile")),
            DOCKERFILE,
            1,
            &["a device"],
        ),
        case(
            "Dockerfile -> /dev/urandom",
            |ws, _| symlink("/dev/urandom", ws.join("Dockerfile")),
            DOCKERFILE,
            1,
            &["a device"],
        ),
        case(
            "Dockerfile is a directory",
            |ws, _| {
                std::fs::remove_file(ws.join("Dockerfile")).unwrap();
                std::fs::create_dir(ws.join("Dockerfile")).unwrap();
            },
            DOCKERFILE,
            1,
            &["a directory"],
        ),
        case(
            "Dockerfile of 2 MiB",
            |ws, _| {
                std::fs::write(
                    ws.join("Dockerfile"),
                    format!("FROM python:3.9-slim\n{}", "# x\n".repeat(600_000)),
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["over the limit", "1048576 bytes"],
        ),
        case(
            "binary Dockerfile",
            |ws, _| {
                std::fs::write(
                    ws.join("Dockerfile"),
                    [0u8, 159, 146, 150, 0xff, 0xfe, 7, 27],
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["not text", "text editor"],
        ),
        case(
            "empty Dockerfile",
            |ws, _| std::fs::write(ws.join("Dockerfile"), "").unwrap(),
            DOCKERFILE,
            1,
            &["at least one FROM", "Dockerfile:1:1"],
        ),
        case(
            "comments-only Dockerfile",
            |ws, _| std::fs::write(ws.join("Dockerfile"), "# nothing\n# here\n").unwrap(),
            DOCKERFILE,
            1,
            &["at least one FROM"],
        ),
        case(
            "dangling Dockerfile link",
            |ws, _| symlink("/nonexistent/Dockerfile", ws.join("Dockerfile")),
            DOCKERFILE,
            1,
            &["no Dockerfile"],
        ),
        case(
            "Dockerfile link loop",
            |ws, _| symlink("Dockerfile", ws.join("Dockerfile")),
            DOCKERFILE,
            1,
            &["Dockerfile cannot be used"],
        ),
        case(
            "unclosed JSON CMD",
            |ws, _| {
                let t = std::fs::read_to_string(ws.join("Dockerfile")).unwrap();
                std::fs::write(
                    ws.join("Dockerfile"),
                    t.replace(r#""src.main:app"]"#, r#""src.main:app""#),
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["dockerfile"],
        ),
        case(
            "50,000 RUN lines",
            |ws, _| {
                std::fs::write(
                    ws.join("Dockerfile"),
                    format!("FROM python:3.9-slim\n{}", "RUN true\n".repeat(50_000)),
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["WORKDIR"],
        ),
        case(
            "one 900 KB line",
            |ws, _| {
                std::fs::write(
                    ws.join("Dockerfile"),
                    format!("FROM python:3.9-slim\nRUN echo {}\n", "x".repeat(900_000)),
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["WORKDIR"],
        ),
        case(
            "10,000 ENV lines",
            |ws, _| {
                let t = std::fs::read_to_string(ws.join("Dockerfile")).unwrap();
                std::fs::write(
                    ws.join("Dockerfile"),
                    format!("{t}{}", "ENV A=b\n".repeat(10_000)),
                )
                .unwrap();
            },
            DOCKERFILE,
            0,
            &["PASS"],
        ),
        case(
            "ARG expansion nested 5,000 deep",
            |ws, _| {
                std::fs::write(
                    ws.join("Dockerfile"),
                    format!(
                        "ARG A\nFROM {}x{}\n",
                        "${A:-".repeat(5_000),
                        "}".repeat(5_000)
                    ),
                )
                .unwrap();
            },
            DOCKERFILE,
            1,
            &["dockerfile.base"],
        ),
        case(
            ".dockerignore is a FIFO",
            |ws, _| mkfifo(ws.join(".dockerignore")),
            DOCKERFILE,
            0,
            &["FIFO"],
        ),
        case(
            ".dockerignore -> /dev/zero",
            |ws, _| symlink("/dev/zero", ws.join(".dockerignore")),
            DOCKERFILE,
            0,
            &["a device"],
        ),
    ];
    // A Dockerfile that is a link to a secret outside the workspace: named, never read.
    let mut secret = case(
        "Dockerfile -> a secret outside",
        |ws, scratch| {
            std::fs::write(
                scratch.join("shadow"),
                "root:SECRET-HASH:19000:0:99999:7:::\n",
            )
            .unwrap();
            symlink(scratch.join("shadow"), ws.join("Dockerfile"));
        },
        DOCKERFILE,
        1,
        &["outside the workspace"],
    );
    secret.absent = vec!["SECRET-HASH"];
    v.push(secret);
    // Terminal escapes from the learner's file are escaped in human output.
    let mut esc = case(
        "ESC and BEL in the Dockerfile",
        |ws, _| {
            std::fs::write(
                ws.join("Dockerfile"),
                "FROM python:3.8-slim\u{1b}[2J\u{7}\n",
            )
            .unwrap();
        },
        &[
            "check",
            "day11",
            "--step",
            "dockerfile",
            "--format",
            "human",
        ],
        1,
        &["\\u{1b}[2J\\u{7}"],
    );
    esc.absent = vec!["\u{1b}", "\u{7}"];
    v.push(esc);
    v
}

fn usage_cases() -> Vec<Case> {
    let mut v = vec![
        case(
            "--dir does not exist",
            |_, _| {},
            &["check", "day11", "--dir", "/nonexistent/ws"],
            2,
            &["not a directory", "--dir"],
        ),
        case(
            "--dir is a file",
            |_, s| std::fs::write(s.join("f"), "x").unwrap(),
            &["check", "day11", "--dir", "{scratch}/f"],
            2,
            &["not a directory"],
        ),
        case(
            "unknown step",
            |_, _| {},
            &["check", "day11", "--step", "nosuch"],
            2,
            &["has no step", "dockerfile"],
        ),
        case(
            "unknown lab",
            |_, _| {},
            &["check", "day12"],
            2,
            &["cannot read the lab definition"],
        ),
        case(
            "a lab id that is a path",
            |_, _| {},
            &["check", "../../etc"],
            2,
            &["is not a lab id"],
        ),
        case(
            "bad format",
            |_, _| {},
            &["check", "day11", "--format", "yaml"],
            2,
            &["invalid value"],
        ),
        case(
            "hint with a missing --dir",
            |_, _| {},
            &["hint", "day11", "dockerfile", "--dir", "/nonexistent"],
            2,
            &["not a directory"],
        ),
        case(
            "status with a missing --dir",
            |_, _| {},
            &["status", "--dir", "/nonexistent"],
            2,
            &["not a directory"],
        ),
        case(
            "list with a missing --dir",
            |_, _| {},
            &["list", "--dir", "/nonexistent"],
            2,
            &["not a directory"],
        ),
        case(
            "reset with a missing --dir",
            |_, _| {},
            &["reset", "day11", "--dir", "/nonexistent", "--yes"],
            2,
            &["not a directory"],
        ),
        case(
            "--labs does not exist",
            |_, _| {},
            &["--labs", "/nonexistent/labs", "check", "day11"],
            2,
            &["cannot read the lab definition", "--labs"],
        ),
        case(
            "a lab of an unknown format",
            |_, s| {
                std::fs::create_dir_all(s.join("labs/x")).unwrap();
                std::fs::write(s.join("labs/x/lab.toml"), "format_version = 99\n").unwrap();
            },
            &["--labs", "{scratch}/labs", "check", "x"],
            2,
            &["lab.toml"],
        ),
        case(
            "a lab.toml that is a FIFO",
            |_, s| {
                std::fs::create_dir_all(s.join("labs/x")).unwrap();
                mkfifo(s.join("labs/x/lab.toml"));
            },
            &["--labs", "{scratch}/labs", "check", "x"],
            2,
            &["lab.toml", "FIFO"],
        ),
    ];
    for ns in [
        "x; touch INJECTED #",
        "$(touch INJECTED)",
        "`touch INJECTED`",
    ] {
        let mut c = case(
            "a namespace that would reach a shell",
            |_, _| {},
            &["demo", "day11", "--dir", "{scratch}/demo", "--namespace"],
            2,
            &["not a registry namespace"],
        );
        c.args.push(ns);
        c.absent = vec!["$ docker"];
        v.push(c);
    }
    let mut labs = case(
        "LAB_LABS_DIR is empty: the built-in labs",
        |_, _| {},
        DOCKERFILE,
        0,
        &["PASS"],
    );
    labs.env = vec![("LAB_LABS_DIR", "")];
    v.push(labs);
    v
}

fn python_cases() -> Vec<Case> {
    let mut v = vec![
        case(
            "--python /bin/false",
            |_, _| {},
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "/bin/false",
            ],
            1,
            &["exited with code 1 and printed nothing"],
        ),
        case(
            "--python does not exist",
            |_, _| {},
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "/nonexistent/python",
            ],
            1,
            &["cannot use the Python", "--python"],
        ),
        case(
            "--python is a directory",
            |_, s| std::fs::create_dir(s.join("py")).unwrap(),
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
            ],
            1,
            &["cannot use the Python"],
        ),
        case(
            "--python floods its output",
            |_, s| {
                script(s, "py", "exec yes");
            },
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
            ],
            1,
            &["more than 256 KiB"],
        ),
        case(
            "--python prints nonsense",
            |_, s| {
                script(s, "py", "echo not json");
            },
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
            ],
            1,
            &["unexpected output", "Python 3 interpreter"],
        ),
        case(
            "--python writes ESC to stderr and fails",
            |_, s| {
                script(s, "py", "printf 'bad\\033[2J\\007' >&2; exit 3");
            },
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
                "--format",
                "human",
            ],
            1,
            &["\\u{1b}[2J"],
        ),
        case(
            "direct_url.json with a percent-escape before a multibyte character",
            |_, s| {
                script(
                    s,
                    "py",
                    r#"cat <<'EOF'
{"executable": "/x/bin/python", "version": "3.11.7", "venv": true, "dist_version": "1.0.0", "direct_url": "{\"url\": \"file:///w%\u00e9%4\", \"dir_info\": {\"editable\": true}}", "module_origin": null, "module_error": null, "gunicorn": false}
EOF"#,
                );
            },
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
            ],
            1,
            &["another copy of the code"],
        ),
        case(
            "direct_url.json that is not JSON",
            |_, s| {
                script(
                    s,
                    "py",
                    r#"cat <<'EOF'
{"executable": "/x/bin/python", "version": "3.11.7", "venv": true, "dist_version": "1.0.0", "direct_url": "{{{not json", "module_origin": null, "module_error": null, "gunicorn": false}
EOF"#,
                );
            },
            &[
                "check",
                "day11",
                "--step",
                "editable",
                "--python",
                "{scratch}/py",
            ],
            1,
            &["not in editable mode"],
        ),
    ];
    let mut c = case(
        "--python that hangs past the deadline",
        |_, s| {
            script(s, "py", "exec sleep 60");
        },
        EDITABLE,
        1,
        &["within 20.0 s"],
    );
    c.args = vec![
        "check",
        "day11",
        "--step",
        "editable",
        "--python",
        "{scratch}/py",
    ];
    c.secs = 30;
    v.push(c);
    v
}

#[test]
fn bad_files_and_bad_usage_get_clear_messages_within_bounds() {
    let mut cases = file_cases();
    cases.extend(usage_cases());
    assert!(cases.len() >= 30, "{} cases", cases.len());
    run_table(cases);
}

#[test]
fn bad_interpreters_are_bounded_and_leave_nothing_running() {
    run_table(python_cases());
    // A --python that forks: the grandchild dies with its group when lab is done with it.
    let ws = Workspace::solution();
    let scratch = tempfile::tempdir().unwrap();
    let pidfile = scratch.path().join("grandchild.pid");
    let py = script(
        scratch.path(),
        "py",
        &format!("sleep 300 & echo $! > {}; echo not json", pidfile.display()),
    );
    let m = run_lab(
        &[
            "check".into(),
            "day11".into(),
            "--step".into(),
            "editable".into(),
            "--python".into(),
            py.display().to_string(),
            "--dir".into(),
            ws.path().display().to_string(),
        ],
        scratch.path(),
        &[],
    );
    assert_eq!(m.code, 1, "{}{}", m.stdout, m.stderr);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    assert!(!alive, "the interpreter's grandchild {pid} outlived lab");
}

#[test]
fn an_empty_or_relative_state_dir_never_writes_into_the_current_directory() {
    for value in ["", "state"] {
        let ws = Workspace::solution();
        let cwd = tempfile::tempdir().unwrap();
        let m = run_lab(
            &[
                "check".into(),
                "day11".into(),
                "--step".into(),
                "dockerfile".into(),
                "--dir".into(),
                ws.path().display().to_string(),
            ],
            cwd.path(),
            &[
                ("SRE_LAB_STATE_DIR", value),
                ("HOME", cwd.path().join("home").to_str().unwrap()),
            ],
        );
        assert_eq!(m.code, 0, "{}", m.stderr);
        let entries: Vec<_> = std::fs::read_dir(cwd.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "home")
            .collect();
        assert!(
            entries.is_empty(),
            "{value:?} wrote {entries:?} into the current directory"
        );
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn bad_compose_files_get_clear_messages_within_bounds() {
    require_test_engine();
    let compose = &["check", "day11", "--step", "compose"];
    let cases = vec![
        case(
            "compose file is a FIFO",
            |ws, _| mkfifo(ws.join("compose.yaml")),
            compose,
            1,
            &["FIFO"],
        ),
        case(
            "compose file -> /dev/zero",
            |ws, _| symlink("/dev/zero", ws.join("compose.yaml")),
            compose,
            1,
            &["a device"],
        ),
        case(
            "compose file nested 100,000 deep",
            |ws, _| {
                std::fs::write(
                    ws.join("compose.yaml"),
                    format!("services: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
                )
                .unwrap();
            },
            compose,
            1,
            &["nests deeper than 64"],
        ),
        case(
            "compose file of 2 MiB",
            |ws, _| {
                std::fs::write(
                    ws.join("compose.yaml"),
                    format!("services: {{}}\n{}", "# x\n".repeat(600_000)),
                )
                .unwrap();
            },
            compose,
            1,
            &["over the limit"],
        ),
        case(
            "binary compose file",
            |ws, _| std::fs::write(ws.join("compose.yaml"), [0xffu8, 0xfe, 0]).unwrap(),
            compose,
            1,
            &["not text"],
        ),
        case(
            "a port above 65535",
            |ws, _| edit_compose(ws, "5000:5000", "70536:5000"),
            compose,
            1,
            &["70536 is not a port"],
        ),
        case(
            "a UDP port",
            |ws, _| edit_compose(ws, "5000:5000", "5000:5000/udp"),
            compose,
            1,
            &["HTTP runs over TCP"],
        ),
        case(
            "compose file -> a secret outside",
            |ws, s| {
                std::fs::write(s.join("secret.yml"), "services: {SECRET-VALUE: {}}\n").unwrap();
                symlink(s.join("secret.yml"), ws.join("compose.yaml"));
            },
            compose,
            1,
            &["outside the workspace"],
        ),
        case(
            "an alias bomb",
            |ws, _| {
                let mut y = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
                for (i, p) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
                    let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
                    y.push_str(&format!("{p}: &{p} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
                }
                y.push_str("services: {web: {build: ., ports: [\"5000:5000\"]}}\n");
                std::fs::write(ws.join("compose.yaml"), y).unwrap();
            },
            compose,
            1,
            &["compose"],
        ),
    ];
    run_table(cases);
}
