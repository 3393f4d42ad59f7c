//! The file-only checks, graded through the real CLI: the reference answers pass, and each
//! known learner mistake fails with the right diagnosis.

use crate::common::*;

/// Grade only the Dockerfile of a workspace whose Dockerfile is `text`.
fn grade_dockerfile(text: &str) -> serde_json::Value {
    let ws = Workspace::solution();
    ws.write("Dockerfile", text);
    let (report, code) = check_json(ws.path(), &["--step", "dockerfile"]);
    let st = status(&report, "dockerfile");
    assert_eq!(code, if st == "pass" { 0 } else { 1 }, "{report:#}");
    report
}

fn lesson() -> String {
    std::fs::read_to_string(repo().join("labs/day11/solution/Dockerfile")).unwrap()
}

#[test]
fn the_reference_dockerfile_passes_with_no_warnings() {
    let r = grade_dockerfile(&lesson());
    assert_eq!(status(&r, "dockerfile"), "pass");
    let checks = step(&r, "dockerfile")["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{r:#}");
    assert!(
        checks.len() >= 9,
        "every requirement is its own check: {r:#}"
    );
}

#[test]
fn equivalent_dockerfiles_pass() {
    let variants = [
        // Windows line endings and a byte-order mark, which Docker accepts.
        format!("\u{feff}{}", lesson().replace('\n', "\r\n")),
        // All ENV in one instruction, lowercase instructions, a comment.
        lesson()
            .replace(
                "ENV FLASK_APP=src/main.py\nENV FLASK_ENV=development\nENV PYTHONPATH=/app\n",
                "# the app\nenv FLASK_APP=src/main.py FLASK_ENV=development PYTHONPATH=/app\n",
            )
            .replace("EXPOSE 5000", "expose 5000/tcp"),
        // Gunicorn flags in another spelling, with workers.
        lesson().replace(
            r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
            r#"CMD ["gunicorn", "--workers", "2", "-b", "0.0.0.0:5000", "src.main:app"]"#,
        ),
        // The base image from a global ARG, whole or in part: the builder expands them.
        format!(
            "ARG BASE=python:3.9-slim\n{}",
            lesson().replace("FROM python:3.9-slim", "FROM ${BASE}")
        ),
        format!(
            "ARG PY=3.9\n{}",
            lesson().replace("FROM python:3.9-slim", "FROM python:${PY}-slim")
        ),
        // A named stage, then a stage built on it: the final image has what `base` set up.
        lesson().replace(
            "FROM python:3.9-slim",
            "FROM python:3.9-slim AS base\nFROM base",
        ),
        lesson()
            .replace("FROM python:3.9-slim", "FROM python:3.9-slim AS base")
            .replace("COPY . .", "FROM base AS final\nCOPY . ."),
        // A trailing slash on WORKDIR names the same directory.
        lesson().replace("WORKDIR /app", "WORKDIR /app/"),
        // ENTRYPOINT plus CMD compose into the lesson's exact process.
        lesson().replace(
            r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
            "ENTRYPOINT [\"gunicorn\"]\nCMD [\"--bind\",\"0.0.0.0:5000\",\"src.main:app\"]",
        ),
        // An ENV value taken from an ARG.
        lesson().replace(
            "ENV PYTHONPATH=/app",
            "ARG APP_DIR=/app\nENV PYTHONPATH=${APP_DIR}",
        ),
        // FLASK_DEBUG next to the lesson's FLASK_ENV is fine.
        lesson().replace(
            "ENV FLASK_ENV=development",
            "ENV FLASK_ENV=development\nENV FLASK_DEBUG=1",
        ),
    ];
    for v in variants {
        let r = grade_dockerfile(&v);
        assert_eq!(status(&r, "dockerfile"), "pass", "{v}\n{r:#}");
    }
}

#[test]
fn meaning_not_text_cuts_both_ways() {
    // Spellings that look right but build something else.
    let wrong = [
        // An ARG that is never given a value: FROM names no image at all.
        (
            lesson().replace(
                "FROM python:3.9-slim",
                "ARG BASE\nFROM ${BASE:-python:3.8-slim}",
            ),
            "dockerfile.base",
        ),
        // A stage named like the base, built FROM another image.
        (
            lesson().replace(
                "FROM python:3.9-slim",
                "FROM python:3.8-slim AS base\nFROM base",
            ),
            "dockerfile.base",
        ),
        // An ENTRYPOINT in shell form: CMD is ignored and /bin/sh is PID 1.
        (
            lesson().replace(
                r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
                "ENTRYPOINT gunicorn --bind 0.0.0.0:5000 src.main:app",
            ),
            "dockerfile.cmd",
        ),
        // WORKDIR /app/.. is /, not /app.
        (
            lesson().replace("WORKDIR /app", "WORKDIR /app/.."),
            "dockerfile.workdir",
        ),
    ];
    for (v, id) in wrong {
        let r = grade_dockerfile(&v);
        assert_eq!(check(&r, id)["status"], "fail", "{v}\n{r:#}");
    }
}

#[test]
fn a_relative_workdir_that_lands_in_app_is_a_warning() {
    let r = grade_dockerfile(&lesson().replace("WORKDIR /app", "WORKDIR app"));
    assert_eq!(status(&r, "dockerfile"), "pass");
    let c = check(&r, "dockerfile.workdir");
    assert_eq!(c["status"], "warn");
    assert!(text_of(c).contains("relative"), "{c:#}");
}

#[test]
fn legacy_env_form_passes_with_a_warning() {
    let r = grade_dockerfile(&lesson().replace("ENV PYTHONPATH=/app", "ENV PYTHONPATH /app"));
    assert_eq!(status(&r, "dockerfile"), "pass");
    assert_eq!(check(&r, "dockerfile.env.PYTHONPATH")["status"], "warn");
}

/// (what the learner wrote instead, the failing check, words the diagnosis must contain)
const MISTAKES: &[(&str, &str, &str, &[&str])] = &[
    (
        "shell-form CMD",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        "CMD gunicorn --bind 0.0.0.0:5000 src.main:app",
        &["shell form", "exit 137"],
    ),
    (
        "single quotes",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        "CMD ['gunicorn', '--bind', '0.0.0.0:5000', 'src.main:app']",
        &["not valid JSON", "double quotes"],
    ),
    (
        "flag and value in one element",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        r#"CMD ["gunicorn", "--bind 0.0.0.0:5000", "src.main:app"]"#,
        &["holds a space", "own element"],
    ),
    (
        "binds loopback",
        "0.0.0.0:5000",
        "127.0.0.1:5000",
        &["127.0.0.1", "container itself"],
    ),
    (
        "no bind",
        r#""--bind","0.0.0.0:5000","#,
        "",
        &["no --bind", "127.0.0.1:8000"],
    ),
    (
        "wrong app path",
        "src.main:app",
        "main:app",
        &["\"main:app\"", "src.main:app"],
    ),
    (
        "not gunicorn",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        r#"CMD ["flask", "run"]"#,
        &["does not run gunicorn"],
    ),
    (
        "no CMD",
        r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#,
        "",
        &["there is no CMD"],
    ),
];

#[test]
fn cmd_mistakes_are_diagnosed() {
    for (what, from, to, words) in MISTAKES {
        let r = grade_dockerfile(&lesson().replace(from, to));
        assert_diagnosis(&r, "dockerfile.cmd", words, what);
        let c = check(&r, "dockerfile.cmd");
        if !to.is_empty() {
            assert!(
                c["location"]
                    .as_str()
                    .unwrap()
                    .starts_with("Dockerfile:10:"),
                "{what}: {c:#}"
            );
        }
    }
}

#[test]
fn other_dockerfile_mistakes_are_diagnosed() {
    let cases: &[(&str, String, &str, &[&str])] = &[
        ("latest base", lesson().replace("FROM python:3.9-slim", "FROM python:latest"), "dockerfile.base", &["latest", "FROM python:3.9-slim"]),
        ("untagged base", lesson().replace("FROM python:3.9-slim", "FROM python"), "dockerfile.base", &["latest"]),
        ("full base", lesson().replace("FROM python:3.9-slim", "FROM python:3.9"), "dockerfile.base", &["different variant"]),
        ("workdir elsewhere", lesson().replace("WORKDIR /app", "WORKDIR /code"), "dockerfile.workdir", &["/code", "WORKDIR /app"]),
        ("relative workdir after another", lesson().replace("WORKDIR /app", "WORKDIR /srv\nWORKDIR app"), "dockerfile.workdir", &["relative", "/srv/app"]),
        ("no workdir", lesson().replace("WORKDIR /app\n", ""), "dockerfile.workdir", &["no WORKDIR"]),
        (
            "code copied before pip",
            lesson().replace("COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .", "COPY . .\nRUN pip install --no-cache-dir -r requirements.txt"),
            "dockerfile.requirements",
            &["busts the layer cache"],
        ),
        ("pip cache kept", lesson().replace("--no-cache-dir ", ""), "dockerfile.requirements", &["/root/.cache/pip", "--no-cache-dir"]),
        ("no pip install", lesson().replace("RUN pip install --no-cache-dir -r requirements.txt\n", ""), "dockerfile.requirements", &["executable file not found"]),
        ("no COPY . .", lesson().replace("COPY . .\n", ""), "dockerfile.copy-code", &["never copied"]),
        ("PYTHONPATH typo", lesson().replace("PYTHONPATH=/app", "PYTHONPATH=/app/src"), "dockerfile.env.PYTHONPATH", &["/app/src"]),
        ("FLASK_APP typo", lesson().replace("FLASK_APP=src/main.py", "FLASK_APP=main.py"), "dockerfile.env.FLASK_APP", &["main.py"]),
        ("ENV case", lesson().replace("FLASK_ENV=", "flask_env="), "dockerfile.env.FLASK_ENV", &["case-sensitive"]),
        ("no EXPOSE", lesson().replace("EXPOSE 5000\n", ""), "dockerfile.expose", &["EXPOSE 5000", "-p"]),
        ("wrong EXPOSE", lesson().replace("EXPOSE 5000", "EXPOSE 8080"), "dockerfile.expose", &["EXPOSE 8080"]),
        ("syntax error", lesson().replace("EXPOSE 5000", "EXPOSE"), "dockerfile.syntax", &["Dockerfile:9:"]),
    ];
    for (what, text, id, words) in cases {
        let r = grade_dockerfile(text);
        assert_eq!(status(&r, "dockerfile"), "fail", "{what}: {r:#}");
        assert_diagnosis(&r, id, words, what);
    }
}

#[test]
fn a_linter_pragma_hides_nothing_from_the_lesson() {
    // hadolint's own pragma over the shell-form CMD: the finding stands, and says why.
    let shell = r#"CMD gunicorn --bind 0.0.0.0:5000 src.main:app"#;
    let cmd = r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#;
    let text = lesson().replace(cmd, &format!("# hadolint ignore=DL3025\n{shell}"));
    let r = grade_dockerfile(&text);
    assert_diagnosis(
        &r,
        "dockerfile.cmd",
        &["silences hadolint, not Docker"],
        "pragma",
    );
    // A global one covers every finding; one that is not above the finding names nothing.
    let text = format!(
        "# hadolint global ignore=DL3042\n{}",
        lesson().replace("--no-cache-dir ", "")
    );
    let r = grade_dockerfile(&text);
    assert_diagnosis(
        &r,
        "dockerfile.requirements",
        &["`# hadolint global ignore=DL3042`"],
        "global",
    );
    let text = lesson()
        .replace("WORKDIR /app", "# hadolint ignore=DL3045\nWORKDIR /app")
        .replace(cmd, shell);
    let r = grade_dockerfile(&text);
    assert!(
        !text_of(check(&r, "dockerfile.cmd")).contains("hadolint"),
        "{r:#}"
    );
    // And a right answer under a pragma is still a pass.
    let text = lesson().replace(cmd, &format!("# hadolint ignore=DL3025\n{cmd}"));
    let r = grade_dockerfile(&text);
    assert_eq!(status(&r, "dockerfile"), "pass", "{r:#}");
}

#[test]
fn a_missing_dockerfile_names_the_near_miss() {
    let ws = Workspace::solution();
    std::fs::rename(
        ws.path().join("Dockerfile"),
        ws.path().join("dockerfile.txt"),
    )
    .unwrap();
    let (r, code) = check_json(ws.path(), &["--step", "dockerfile"]);
    assert_eq!(code, 1);
    let c = check(&r, "dockerfile.file");
    assert_eq!(c["status"], "fail");
    assert!(text_of(c).contains("rename `dockerfile.txt`"), "{c:#}");
}

#[test]
fn dockerignore_gaps_are_warnings_not_failures() {
    let ws = Workspace::solution();
    ws.remove(".dockerignore");
    let (r, code) = check_json(ws.path(), &["--step", "dockerfile"]);
    assert_eq!((code, status(&r, "dockerfile")), (0, "pass".to_string()));
    assert_eq!(check(&r, "dockerfile.dockerignore")["status"], "warn");
    ws.write(".dockerignore", ".git\n");
    let (r, _) = check_json(ws.path(), &["--step", "dockerfile"]);
    let c = check(&r, "dockerfile.dockerignore");
    assert_eq!(c["status"], "warn");
    assert!(text_of(c).contains(".venv, venv, __pycache__"), "{c:#}");
}

fn grade_compose_file(text: &str) -> serde_json::Value {
    let ws = Workspace::solution();
    ws.write("compose.yaml", text);
    check_json(ws.path(), &["--step", "compose"]).0
}

#[test]
fn compose_file_mistakes_are_diagnosed() {
    let good = std::fs::read_to_string(repo().join("labs/day11/solution/compose.yaml")).unwrap();
    let cases: &[(&str, String, &str, &[&str])] = &[
        (
            "tab indentation",
            good.replace("  web:", "\tweb:"),
            "compose.file",
            &["not valid YAML", "compose.yaml:2:"],
        ),
        (
            "port: typo",
            good.replace("ports:", "port:"),
            "compose.file",
            &[
                "services.web.port",
                "did you mean `ports`?",
                "compose.yaml:4",
            ],
        ),
        (
            "unknown top-level key",
            good.replace("services:", "service:"),
            "compose.file",
            &["`service` is not a Compose key", "did you mean `services`?"],
        ),
        (
            "only image",
            good.replace("build: .", "image: python-docker-app"),
            "compose.service",
            &["no service is built", "only `image:`"],
        ),
        (
            "build elsewhere",
            good.replace("build: .", "build: ./other"),
            "compose.service",
            &["web: build ./other"],
        ),
        (
            "ports reversed and different",
            good.replace("\"5000:5000\"", "\"8080:5000\""),
            "compose.service",
            &["8080:5000", "\"5000:5000\""],
        ),
        (
            "ports not a list",
            good.replace(
                "    ports:\n      - \"5000:5000\"",
                "    ports: \"5000:5000\"",
            ),
            "compose.file",
            &["must be a list"],
        ),
    ];
    for (what, text, id, words) in cases {
        let r = grade_compose_file(text);
        assert_eq!(status(&r, "compose"), "fail", "{what}: {r:#}");
        assert_diagnosis(&r, id, words, what);
    }
}

#[test]
fn a_missing_compose_file_says_which_names_count() {
    let ws = Workspace::solution();
    ws.remove("compose.yaml");
    let (r, code) = check_json(ws.path(), &["--step", "compose"]);
    assert_eq!(code, 1);
    assert!(text_of(check(&r, "compose.file")).contains("compose.yaml or compose.yml"));
}

/// Gunicorn takes its bind from several channels (command line over GUNICORN_CMD_ARGS over
/// the config file over $PORT over its default 127.0.0.1:8000): each is judged as gunicorn
/// reads it. A case: (what, Dockerfile edit, extra file, passes, words the message must hold).
type BindCase<'a> = (
    &'a str,
    &'a str,
    Option<(&'a str, &'a str)>,
    bool,
    &'a [&'a str],
);

#[test]
fn gunicorn_binds_given_through_other_channels_are_read_as_gunicorn_reads_them() {
    let cli = r#""--bind","0.0.0.0:5000","#;
    let cases: &[BindCase] = &[
        // Right, written differently.
        (
            "GUNICORN_CMD_ARGS",
            "ENV GUNICORN_CMD_ARGS=\"--bind=0.0.0.0:5000 --workers 2\"\n",
            None,
            true,
            &["from GUNICORN_CMD_ARGS"],
        ),
        (
            "gunicorn.conf.py",
            "",
            Some((
                "gunicorn.conf.py",
                "workers = 2\nbind = \"0.0.0.0:5000\"  # all interfaces\n",
            )),
            true,
            &["from gunicorn.conf.py"],
        ),
        (
            "-c conf file",
            "",
            Some(("conf/g.py", "bind = ['0.0.0.0:5000']\n")),
            true,
            &["from conf/g.py"],
        ),
        ("PORT", "ENV PORT=5000\n", None, true, &["$PORT"]),
        // Wrong.
        (
            "GUNICORN_CMD_ARGS on loopback",
            "ENV GUNICORN_CMD_ARGS=\"-b 127.0.0.1:5000\"\n",
            None,
            false,
            &[
                "127.0.0.1:5000 (from GUNICORN_CMD_ARGS)",
                "container itself",
            ],
        ),
        (
            "conf file on another port",
            "",
            Some(("gunicorn.conf.py", "bind = \"0.0.0.0:8000\"\n")),
            false,
            &["0.0.0.0:8000 (from gunicorn.conf.py)", "port 5000"],
        ),
        (
            "PORT elsewhere",
            "ENV PORT=8080\n",
            None,
            false,
            &["0.0.0.0:8080", "$PORT"],
        ),
        // Near misses: a computed bind is not guessed (gunicorn's default is named), and a
        // conf file outside the workspace is not read.
        (
            "computed bind",
            "",
            Some((
                "gunicorn.conf.py",
                "import os\nbind = os.environ.get('B')\n",
            )),
            false,
            &["127.0.0.1:8000"],
        ),
    ];
    for (what, env, file, passes, words) in cases {
        let ws = Workspace::solution();
        let mut df = lesson().replace(cli, "");
        if *what == "-c conf file" {
            df = df.replace(r#"["gunicorn","#, r#"["gunicorn","-c","/app/conf/g.py","#);
        }
        df = df.replace("CMD [", &format!("{env}CMD ["));
        ws.write("Dockerfile", &df);
        if let Some((name, text)) = file {
            if let Some(parent) = std::path::Path::new(name).parent() {
                std::fs::create_dir_all(ws.path().join(parent)).unwrap();
            }
            ws.write(name, text);
        }
        let (r, _) = check_json(ws.path(), &["--step", "dockerfile"]);
        let c = check(&r, "dockerfile.cmd");
        assert_eq!(
            c["status"],
            if *passes { "pass" } else { "fail" },
            "{what}: {c:#}"
        );
        for w in *words {
            assert!(text_of(c).contains(w), "{what}: lacks {w:?}: {c:#}");
        }
    }
}

/// `.dockerignore` is judged by what the builder would leave out, in its pattern language.
#[test]
fn dockerignore_is_read_in_the_builders_pattern_language() {
    let ws = Workspace::solution();
    let cases: &[(&str, &str, &[&str])] = &[
        // Right, written differently: exclude everything, let back what the image needs.
        (
            "*\n!src\n!requirements.txt\n!pyproject.toml\n",
            "pass",
            &["excludes everything and lets back only !src"],
        ),
        ("/.git/\n**/.venv\n./venv\n**/__pycache__\n", "pass", &[]),
        ("[.]git\n.v?nv\nvenv*\n__pycache__/\n", "pass", &[]),
        // Wrong: a later line lets .git back in; the last matching line decides.
        (
            ".git\n.venv\nvenv\n__pycache__\n!.git\n",
            "warn",
            &["does not exclude .git", "`!.git` lets it back in"],
        ),
        // Near misses: a commented line, and a pattern one directory down.
        (
            "#.git\n.venv\nvenv\n__pycache__\n",
            "warn",
            &["does not exclude .git"],
        ),
        (
            "src/.git\n.venv\nvenv\n__pycache__\n",
            "warn",
            &["does not exclude .git"],
        ),
    ];
    for (text, want, words) in cases {
        ws.write(".dockerignore", text);
        let (r, _) = check_json(ws.path(), &["--step", "dockerfile"]);
        let c = check(&r, "dockerfile.dockerignore");
        assert_eq!(c["status"], *want, "{text:?}: {c:#}");
        for w in *words {
            assert!(text_of(c).contains(w), "{text:?}: lacks {w:?}: {c:#}");
        }
    }
}

/// A narrower copy with the same effect as `COPY . .` passes; one that lands elsewhere names
/// where it landed (COPY copies a directory's contents, not the directory).
#[test]
fn a_narrower_copy_of_the_apps_package_is_judged_by_where_it_lands() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("COPY src ./src", "pass", &["/app/src"]),
        ("COPY ./src/ /app/src/", "pass", &["/app/src"]),
        ("COPY src/ src/", "pass", &["/app/src"]),
        (
            "COPY src .",
            "fail",
            &["*contents* of src into /app", "COPY src ./src"],
        ),
        ("COPY src /src", "fail", &["puts src at /src", "/app/src"]),
        ("COPY tests ./tests", "fail", &["never copied"]),
    ];
    for (copy, want, words) in cases {
        let r = grade_dockerfile(&lesson().replace("COPY . .", copy));
        let c = check(&r, "dockerfile.copy-code");
        assert_eq!(c["status"], *want, "{copy}: {c:#}");
        for w in *words {
            assert!(text_of(c).contains(w), "{copy}: lacks {w:?}: {c:#}");
        }
    }
}
