//! The engine steps against the real engine: the reference solution passes every step, and each
//! kind of check fails with the right diagnosis for the mistakes learners make.

use std::process::Command;

use crate::common::*;

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_reference_solution_passes_every_step() {
    let t = TestLab::new("solution");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    let run = &t.run_published(&mut mess, "run");
    let tag = &format!("localhost:5001/e2e/{image}:v1");
    mess.image(tag);
    docker(&["tag", &t.latest(), tag]);

    // The run container itself answers, before compose takes the port.
    let (r, _) = t.check_json(
        ws.path(),
        &["--step", "run", "--step", "tag", "--step", "push"],
    );
    assert_eq!(status(&r, "run"), "pass", "{r:#}");
    assert!(
        check(&r, "run.container")["message"]
            .as_str()
            .unwrap()
            .contains("answers HTTP 200"),
        "{r:#}"
    );
    assert_eq!(status(&r, "tag"), "pass", "{r:#}");
    let c = check(&r, "push.registry");
    assert_eq!(c["status"], "fail", "not pushed yet: {c:#}");
    assert!(text_of(c).contains("not pushed"), "{c:#}");

    mess.pushed(tag);
    docker(&["push", tag]);
    docker(&["stop", run]);
    mess.compose(ws.path());
    compose(ws.path(), &["up", "--build", "-d"]);
    wait_http(t.port);
    let venv = Venv::new();
    venv.pip(&["-e", "."], ws.path());

    let (r, code) = t.check_json(ws.path(), &["--python", venv.python().to_str().unwrap()]);
    for s in CORE_STEPS {
        assert_eq!(status(&r, s), "pass", "{s}: {r:#}");
    }
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["warnings"], 0, "{r:#}");
    assert!(
        check(&r, "run.container")["message"]
            .as_str()
            .unwrap()
            .contains(&format!("compose service holds port {}", t.port)),
        "{r:#}"
    );
    assert!(t.probes().is_empty(), "the probe was removed");

    // The same state graded as JUnit: no failures.
    let out = t
        .lab()
        .args(["check", "day11", "--format", "junit", "--python"])
        .arg(venv.python())
        .arg("--dir")
        .arg(ws.path())
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.contains(r#"failures="0" errors="0""#), "{xml}");

    // A code change without --build: the compose service and the image are stale.
    ws.edit(
        "src/main.py",
        "Hello from the Day-11 sample app!",
        "Hello again!",
    );
    let (r, _) = t.check_json(ws.path(), &["--step", "build", "--step", "compose"]);
    assert!(
        text_of(check(&r, "build.fresh")).contains("older version of src/main.py"),
        "{r:#}"
    );
    assert!(
        text_of(check(&r, "compose.fresh")).contains("without `--build`"),
        "{r:#}"
    );

    // Rebuilt (`compose build` moves the tag) but the container not recreated: it serves an
    // older build than its tag. The containerd image store forgets that build at once, so
    // this is judged by the container's own record, never skipped.
    compose(ws.path(), &["build"]);
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    let c = check(&r, "compose.fresh");
    assert_eq!(c["status"], "fail", "{}: {r:#}", engine_name());
    assert!(text_of(c).contains("older"), "{}: {c:#}", engine_name());
    if containerd_store() {
        assert!(
            text_of(c).contains("runs an older build"),
            "{}: {c:#}",
            engine_name()
        );
    }
    // The same answer written differently: build, then `up -d` without --build, passes.
    compose(ws.path(), &["up", "-d"]);
    wait_http(t.port);
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    assert_eq!(status(&r, "compose"), "pass", "{}: {r:#}", engine_name());
}

/// Build a variant of the solution's Dockerfile and grade the run step's probe.
fn probe_of(
    t: &TestLab,
    dockerfile_from: &str,
    dockerfile_to: &str,
    requirements: Option<&str>,
) -> serde_json::Value {
    let mut mess = EngineMess::default();
    let ws = t.solution();
    ws.edit("Dockerfile", dockerfile_from, dockerfile_to);
    if let Some(req) = requirements {
        ws.write("requirements.txt", req);
    }
    mess.image(&t.image);
    build(&ws, &t.image);
    let (r, code) = t.check_json(ws.path(), &["--step", "run"]);
    assert_eq!(code, 1);
    r
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_probe_diagnoses_images_that_do_not_serve() {
    let t = TestLab::new("probes");
    let cmd = r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:app"]"#;
    let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
        (
            "bound to loopback",
            r#"CMD ["gunicorn","--bind","127.0.0.1:5000","src.main:app"]"#,
            None,
            &["listens on 127.0.0.1", "0.0.0.0:5000"],
        ),
        (
            "wrong module",
            r#"CMD ["gunicorn","--bind","0.0.0.0:5000","main:app"]"#,
            None,
            &[
                "cannot import the app",
                "No module named 'main'",
                "exited with code",
            ],
        ),
        (
            "wrong attribute",
            r#"CMD ["gunicorn","--bind","0.0.0.0:5000","src.main:application"]"#,
            None,
            &["no such application variable"],
        ),
        (
            "flag and value joined",
            r#"CMD ["gunicorn","--bind 0.0.0.0:5000","src.main:app"]"#,
            None,
            &["took a flag for the app's name", "own element"],
        ),
        (
            "gunicorn not installed",
            cmd,
            Some("flask==3.0.3\n"),
            &["not installed in the image", "gunicorn"],
        ),
    ];
    for (what, to, req, words) in cases {
        let r = probe_of(&t, cmd, to, *req);
        assert_diagnosis(&r, "run.serves", words, what);
        assert!(
            t.probes().is_empty(),
            "{what}: a probe container was left behind"
        );
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_run_step_diagnoses_ports_old_images_and_foreground_runs() {
    let t = TestLab::new("runstep");
    let image = t.image.as_str();
    let publish = t.publish();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);

    // No container at all.
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    assert!(
        text_of(check(&r, "run.container"))
            .contains(&format!("docker run -d -p {publish} {image}")),
        "{r:#}"
    );
    assert_eq!(
        check(&r, "run.serves")["status"],
        "pass",
        "the image itself is fine: {r:#}"
    );

    // -p OTHER:5000: the wrong host port.
    let wrong = t.spare_port();
    let p_wrong = &t.name("pwrong");
    mess.container(p_wrong);
    docker(&[
        "run",
        "-d",
        "--name",
        p_wrong,
        "-p",
        &format!("{wrong}:5000"),
        image,
    ]);
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    let c = check(&r, "run.ports");
    assert_eq!(c["status"], "fail", "{r:#}");
    assert!(
        text_of(c).contains(&format!("host port {wrong}, not {}", t.port)),
        "{c:#}"
    );
    docker(&["rm", "-f", p_wrong]);

    // No -p at all.
    mess.container(&t.name("nop"));
    docker(&["run", "-d", "--name", &t.name("nop"), image]);
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    assert!(
        text_of(check(&r, "run.ports")).contains("no published ports (no -p)"),
        "{r:#}"
    );
    docker(&["rm", "-f", &t.name("nop")]);

    // Run in the foreground, then Ctrl-C.
    mess.container(&t.name("fg"));
    let mut fg = Command::new("docker")
        .args(["run", "--name", &t.name("fg"), "-p", &publish, image])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_http(t.port);
    docker(&["kill", "--signal", "INT", &t.name("fg")]);
    let _ = fg.wait();
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    let c = check(&r, "run.container");
    assert_eq!(c["status"], "fail", "{r:#}");
    assert!(text_of(c).contains("in the foreground (no -d)"), "{c:#}");
    docker(&["rm", "-f", &t.name("fg")]);

    // A container from an older build, still running.
    t.run_published(&mut mess, "old");
    ws.edit("src/main.py", "Hello from", "Hi from");
    build(&ws, image);
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    let c = check(&r, "run.container");
    assert!(text_of(c).contains("runs an older build"), "{c:#}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_build_step_finds_misnamed_and_stale_images() {
    let t = TestLab::new("buildstep");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    let ws = t.solution();
    let _ = docker_raw(&["rmi", "-f", image], None);
    let misnamed = format!("{}-other", image);
    mess.image(&misnamed);
    build(&ws, &misnamed);
    let (r, code) = t.check_json(
        ws.path(),
        &["--step", "build", "--step", "run", "--step", "tag"],
    );
    assert_eq!(code, 1);
    let c = check(&r, "build.exists");
    assert_eq!(c["status"], "fail");
    assert!(
        text_of(c).contains(&format!("{misnamed}:latest")),
        "names the image built under another name: {c:#}"
    );
    assert_eq!(status(&r, "run"), "skip", "{r:#}");
    assert_eq!(status(&r, "tag"), "skip", "{r:#}");

    // Built from a Dockerfile that has changed since.
    mess.image(image);
    build(&ws, image);
    ws.edit(
        "Dockerfile",
        "ENV FLASK_ENV=development",
        "ENV FLASK_ENV=production",
    );
    let (r, _) = t.check_json(ws.path(), &["--step", "build"]);
    let c = check(&r, "build.config");
    assert_eq!(c["status"], "fail", "{r:#}");
    assert!(text_of(c).contains("FLASK_ENV=development"), "{c:#}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_tag_and_push_steps_diagnose_learners_mistakes() {
    let t = TestLab::new("tagpush");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);

    // No namespace.
    let bare = &format!("{image}:v1");
    mess.image(bare);
    docker(&["tag", image, bare]);
    let (r, _) = t.check_json(ws.path(), &["--step", "tag", "--step", "push"]);
    assert!(
        text_of(check(&r, "tag.tag")).contains("has no namespace"),
        "{r:#}"
    );
    assert_eq!(status(&r, "push"), "skip");

    // A typo in the repository name.
    docker(&["rmi", bare]);
    // One letter dropped from the repository's name.
    let typo = &format!("localhost:5001/e2e/{}:v1", image.replacen('a', "", 1));
    mess.image(typo);
    docker(&["tag", image, typo]);
    let (r, _) = t.check_json(ws.path(), &["--step", "tag"]);
    assert!(
        text_of(check(&r, "tag.tag")).contains("misspelled"),
        "{r:#}"
    );

    // Tagged, then rebuilt: the tag points at the old image.
    let tag = &format!("localhost:5001/e2e/{image}:v1");
    mess.image(tag);
    docker(&["tag", image, tag]);
    ws.edit("src/pattern.py", "BORDER = \"*\"", "BORDER = \"#\"");
    build(&ws, image);
    let (r, _) = t.check_json(ws.path(), &["--step", "tag"]);
    let c = check(&r, "tag.tag");
    assert_eq!(c["status"], "fail");
    assert!(
        text_of(c).contains("tagged before the image was rebuilt"),
        "{c:#}"
    );

    // Pushed, then rebuilt and re-tagged without pushing: the registry holds the older build.
    mess.pushed(tag);
    docker(&["push", tag]);
    let (r, _) = t.check_json(ws.path(), &["--step", "push", "--image", tag]);
    assert_eq!(status(&r, "push"), "pass", "{r:#}");
    ws.edit("src/pattern.py", "BORDER = \"#\"", "BORDER = \"=\"");
    build(&ws, image);
    docker(&["tag", image, tag]);
    let (r, _) = t.check_json(ws.path(), &["--step", "push", "--image", tag]);
    let c = check(&r, "push.registry");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(text_of(c).contains("older build"), "{c:#}");

    // A registry that is not there.
    let nowhere = &format!("localhost:5999/e2e/{image}:v1");
    mess.image(nowhere);
    docker(&["tag", image, nowhere]);
    let (r, _) = t.check_json(ws.path(), &["--step", "push", "--image", nowhere]);
    let c = check(&r, "push.registry");
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(text_of(c).contains("cannot be reached"), "{c:#}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn compose_explains_the_port_held_by_the_run_container() {
    let t = TestLab::new("portholder");
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    let holder = &t.run_published(&mut mess, "holder");
    mess.compose(ws.path());
    let up = compose_cmd(ws.path())
        .args(["up", "--build", "-d"])
        .output()
        .unwrap();
    assert!(
        !up.status.success(),
        "compose cannot bind its port while the run container holds it"
    );
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    let c = check(&r, "compose.running");
    assert_eq!(c["status"], "fail", "{r:#}");
    let text = text_of(c);
    assert!(
        text.contains("already allocated") && text.contains(holder.as_str()),
        "{text}"
    );
    assert!(text.contains(&format!("docker stop {holder}")), "{text}");
}

#[test]
#[ignore = "needs Python venv and PyPI: scripts/test.sh"]
fn editable_mistakes_are_diagnosed() {
    let ws = Workspace::solution();
    let venv = Venv::new();
    let py = venv.python();
    let py = py.to_str().unwrap();

    let (r, _) = check_json(ws.path(), &["--step", "editable", "--python", py]);
    let c = check(&r, "editable.installed");
    assert_eq!(c["status"], "fail");
    assert!(text_of(c).contains("is not installed in"), "{c:#}");

    // `pip install .` without -e.
    venv.pip(&["."], ws.path());
    let (r, _) = check_json(ws.path(), &["--step", "editable", "--python", py]);
    let c = check(&r, "editable.installed");
    assert!(text_of(c).contains("not in editable mode"), "{c:#}");
    assert!(text_of(c).contains("pip install -e ."), "{c:#}");

    // Editable, but from another copy of the code.
    let other = Workspace::solution();
    venv.pip(&["-e", "."], other.path());
    let (r, _) = check_json(ws.path(), &["--step", "editable", "--python", py]);
    let c = check(&r, "editable.installed");
    assert!(
        text_of(c).contains("from another copy of the code"),
        "{c:#}"
    );

    // Right: and found through ./.venv without --python.
    let _ = std::os::unix::fs::symlink(venv.dir.path(), ws.path().join(".venv"));
    venv.pip(&["-e", "."], ws.path());
    let (r, code) = check_json(ws.path(), &["--step", "editable"]);
    assert_eq!(
        (code, status(&r, "editable")),
        (0, "pass".to_string()),
        "{r:#}"
    );
    assert!(
        text_of(check(&r, "editable.installed")).contains("chosen by ./.venv"),
        "{r:#}"
    );
    // The live proof is kept while nothing it stands on changes...
    let evidence = |r: &serde_json::Value| {
        check(r, "editable.serves")["evidence"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (r, _) = check_json(ws.path(), &["--step", "editable"]);
    assert!(evidence(&r).contains("cached"), "{r:#}");
    // ...and runs again when the code changes: an app that no longer imports fails.
    ws.edit(
        "src/main.py",
        "from flask import",
        "from flask import NoSuchThing,",
    );
    let (r, code) = check_json(ws.path(), &["--step", "editable"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(check(&r, "editable.serves")["status"], "fail", "{r:#}");
    // ...and when the environment changes: Flask uninstalled (the workspace is as it was).
    ws.edit(
        "src/main.py",
        "from flask import NoSuchThing,",
        "from flask import",
    );
    let (r, _) = check_json(ws.path(), &["--step", "editable"]);
    assert!(
        !evidence(&r).contains("cached"),
        "the edit was undone, the proof reran: {r:#}"
    );
    let out = Command::new(venv.python())
        .args(["-m", "pip", "uninstall", "-y", "-q", "flask"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (r, code) = check_json(ws.path(), &["--step", "editable"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(check(&r, "editable.serves")["status"], "fail", "{r:#}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_sample_app_tests_pass_on_python_3_9_inside_the_image() {
    let t = TestLab::new("pytests");
    let mut mess = EngineMess::default();
    let ws = t.solution();
    let tag = t.image.as_str();
    mess.image(tag);
    build(&ws, tag);
    let out = docker_raw(
        &["run", "--rm", tag, "sh", "-c", "python --version && pip install --quiet --no-cache-dir pytest && python -m pytest -q -p no:cacheprovider tests"],
        None,
    );
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Python 3.9"), "{text}");
    assert!(text.contains("5 passed"), "{text}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn a_leftover_image_never_passes_a_new_workspace() {
    let t = TestLab::new("leftover");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    // The last learner on this laptop built, ran, tagged and pushed.
    let old = t.solution_built(&mut mess);
    t.run_published(&mut mess, "leftover");
    let tag = &format!("localhost:5001/prev/{image}:v1");
    mess.image(tag);
    mess.pushed(tag);
    docker(&["tag", image, tag]);
    docker(&["push", tag]);
    let (r, _) = t.check_json(
        old.path(),
        &[
            "--step", "build", "--step", "run", "--step", "tag", "--step", "push",
        ],
    );
    for s in ["build", "run", "tag", "push"] {
        assert_eq!(
            status(&r, s),
            "pass",
            "the old workspace itself passes {s}: {r:#}"
        );
    }

    // A brand-new workspace with no Dockerfile: nothing of this was built from it.
    let new = Workspace::sample_app();
    let (r, code) = t.check_json(
        new.path(),
        &[
            "--step", "build", "--step", "run", "--step", "tag", "--step", "push",
        ],
    );
    assert_eq!(code, 1);
    assert_diagnosis(
        &r,
        "build.config",
        &["not built from this workspace", "no Dockerfile"],
        "no Dockerfile",
    );
    for (s, c) in [
        ("run", "run.container"),
        ("run", "run.serves"),
        ("tag", "tag.tag"),
        ("push", "push.registry"),
    ] {
        assert_eq!(status(&r, s), "skip", "{s} stands on the image: {r:#}");
        let c = check(&r, c);
        assert!(text_of(c).contains("do the build step first"), "{c:#}");
    }

    // A new workspace whose Dockerfile is identical could have produced it: accepted.
    let same = t.solution();
    let (r, _) = t.check_json(same.path(), &["--step", "build", "--step", "tag"]);
    assert_eq!(status(&r, "build"), "pass", "{r:#}");
    assert_eq!(status(&r, "tag"), "pass", "{r:#}");

    // A Dockerfile that builds but breaks a lesson rule (no EXPOSE): the dockerfile step
    // fails, and the steps on the image it built are still graded on their own.
    let no_expose = t.solution();
    no_expose.edit("Dockerfile", "EXPOSE 5000\n", "");
    build(&no_expose, image);
    let (r, _) = t.check_json(
        no_expose.path(),
        &["--step", "dockerfile", "--step", "build", "--step", "run"],
    );
    assert_eq!(status(&r, "dockerfile"), "fail", "{r:#}");
    assert_eq!(status(&r, "build"), "pass", "{r:#}");
    assert_eq!(check(&r, "run.serves")["status"], "pass", "{r:#}");
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_run_step_grades_the_container_the_lab_asks_for_among_several() {
    let t = TestLab::new("several");
    let image = t.image.as_str();
    let publish = t.publish();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    // Newest first would pick the wrong -p one; the documented order prefers the lab's mapping.
    let (right, other) = (t.name("right"), t.name("other"));
    let wrong = t.spare_port();
    for (name, port) in [(&right, publish.clone()), (&other, format!("{wrong}:5000"))] {
        mess.container(name);
        docker(&["run", "-d", "--name", name, "-p", &port, image]);
    }
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    assert_eq!(status(&r, "run"), "pass", "{r:#}");
    let c = check(&r, "run.container");
    assert!(
        text_of(c).contains(&format!("{right} runs detached")),
        "{c:#}"
    );
    assert!(
        text_of(c).contains(&format!("the others: {other}")),
        "{c:#}"
    );
    // With only the wrong one left, it is graded and fails on its port.
    docker(&["rm", "-f", &right]);
    let (r, _) = t.check_json(ws.path(), &["--step", "run"]);
    assert_diagnosis(
        &r,
        "run.ports",
        &[&format!("host port {wrong}, not {}", t.port)],
        "only the wrong -p",
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn compose_ports_from_variables_are_read_as_compose_reads_them() {
    let t = TestLab::new("composevars");
    let other = t.spare_port();
    let mut mess = EngineMess::default();
    let ws = t.solution();
    ws.edit(
        "compose.yaml",
        &format!("\"{}:5000\"", t.port),
        &format!("\"${{PORT:-{}}}:5000\"", t.port),
    );
    mess.compose(ws.path());
    let up = || {
        let out = compose_cmd(ws.path())
            .args(["up", "--build", "-d"])
            .output()
            .unwrap();
        assert_succeeded(&out);
    };
    // `up` with another PORT in the workspace's .env: Compose publishes it, and so does the file.
    ws.write(".env", &format!("PORT={other}\n"));
    up();
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    assert_diagnosis(
        &r,
        "compose.service",
        &[
            &format!("does not publish {}:5000", t.port),
            &format!("{other}:5000"),
        ],
        ".env PORT=other",
    );
    // Without it, the default: the lab's port.
    ws.remove(".env");
    up();
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    assert_eq!(status(&r, "compose"), "pass", "{r:#}");
    // The file now reads the other port in this shell, but the running service was made with
    // the default: the engine's bindings are what Compose did, and they win.
    ws.write(".env", &format!("PORT={other}\n"));
    let (r, _) = t.check_json(ws.path(), &["--step", "compose"]);
    let c = check(&r, "compose.service");
    assert_eq!(c["status"], "pass", "{r:#}");
    assert!(
        c["evidence"]
            .as_str()
            .unwrap()
            .contains("as the engine reports"),
        "{c:#}"
    );
}

/// `lab check day11 --step run` with a verdict cache of its own (so nothing from earlier
/// checks is reused unless the test means it to be).
fn check_run_with_cache(t: &TestLab, ws: &Workspace, cache: &std::path::Path) -> serde_json::Value {
    let out = t
        .lab()
        .env("XDG_CACHE_HOME", cache)
        .args([
            "check", "day11", "--format", "json", "--step", "run", "--dir",
        ])
        .arg(ws.path())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn evidence(r: &serde_json::Value) -> String {
    check(r, "run.serves")["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_probe_reuses_evidence_only_when_it_proves_the_image() {
    let t = TestLab::new("evidence");
    let image = t.image.as_str();
    let publish = t.publish();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    let fresh = || tempfile::tempdir().unwrap();

    // The learner's own container, run as built: no probe container is needed.
    let c = &t.run_published(&mut mess, "evidence");
    wait_http(t.port);
    let r = check_run_with_cache(&t, &ws, fresh().path());
    assert_eq!(check(&r, "run.serves")["status"], "pass", "{r:#}");
    assert!(
        evidence(&r).contains(&format!("the learner's own container {c}")),
        "{r:#}"
    );

    // A verdict is kept by image id: the next check reuses it, whatever runs now.
    let cache = fresh();
    check_run_with_cache(&t, &ws, cache.path());
    docker(&["rm", "-f", c]);
    let r = check_run_with_cache(&t, &ws, cache.path());
    assert!(evidence(&r).contains("cached by image id"), "{r:#}");

    // Each way a running container proves something else: the probe runs as before.
    let overrides: [(&str, Vec<&str>); 3] = [
        // `docker run IMAGE CMD`: another command (it even serves).
        (
            "cmd",
            vec![
                image,
                "gunicorn",
                "--bind",
                "0.0.0.0:5000",
                "--workers",
                "2",
                "src.main:app",
            ],
        ),
        // `-e`: another environment.
        ("env", vec!["-e", "FLASK_ENV=production", image]),
        // `-v $PWD:/app`: the host's files, not the image's.
        ("mount", vec!["-v", ws.path().to_str().unwrap(), image]),
    ];
    for (what, args) in overrides {
        let name = t.name(&format!("override-{what}"));
        mess.container(&name);
        let mut run = vec!["run", "-d", "--name", &name, "-p", &publish];
        let mount;
        if what == "mount" {
            mount = format!("{}:/app", ws.path().display());
            run.extend(["-v", &mount, image]);
        } else {
            run.extend(args.iter().copied());
        }
        docker(&run);
        wait_http(t.port);
        let r = check_run_with_cache(&t, &ws, fresh().path());
        assert_eq!(check(&r, "run.serves")["status"], "pass", "{what}: {r:#}");
        assert!(
            evidence(&r).contains("a probe container lab started"),
            "{what}: {r:#}"
        );
        docker(&["rm", "-f", &name]);
    }

    // A container from an older build of the image: not evidence for the current one.
    let old = &t.run_published(&mut mess, "older");
    ws.edit("src/main.py", "Hello from", "Hi from");
    build(&ws, image);
    let r = check_run_with_cache(&t, &ws, fresh().path());
    assert!(
        evidence(&r).contains("a probe container lab started"),
        "{r:#}"
    );
    docker(&["rm", "-f", old]);

    // A container answering on the port from a different image: not evidence either.
    let other = &t.name("other-image");
    mess.container(other);
    docker(&[
        "run",
        "-d",
        "--name",
        other,
        "-p",
        &publish,
        "python:3.9-slim",
        "python3",
        "-m",
        "http.server",
        "5000",
    ]);
    let r = check_run_with_cache(&t, &ws, fresh().path());
    assert!(
        evidence(&r).contains("a probe container lab started"),
        "{r:#}"
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_optional_steps_are_graded_when_asked_and_never_change_the_core_verdict() {
    let t = TestLab::new("optional");
    let image = t.image.as_str();
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    let ids = |r: &serde_json::Value| -> Vec<String> {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Plain `lab check`: the seven core steps only.
    let (r, _) = t.check_json(ws.path(), &[]);
    assert_eq!(ids(&r), CORE_STEPS);
    assert_eq!(r["summary"]["total"], 7);

    // Named, they are graded (and count: the lesson's image has neither).
    let (r, code) = t.check_json(ws.path(), &["--step", "nonroot", "--step", "healthcheck"]);
    assert_eq!(code, 1);
    assert_diagnosis(
        &r,
        "nonroot.user",
        &["runs its app as root", "no USER"],
        "lesson image, nonroot",
    );
    assert_diagnosis(
        &r,
        "healthcheck.healthy",
        &["no HEALTHCHECK"],
        "lesson image, healthcheck",
    );
    assert_eq!(
        step(&r, "nonroot")["optional"],
        false,
        "named: graded as asked"
    );

    // `--optional`: they come along, marked optional, outside the summary and the verdict.
    let (r, _) = t.check_json(ws.path(), &["--step", "dockerfile", "--optional"]);
    assert_eq!(ids(&r), ["dockerfile"], "--step wins over --optional");
    let out = t
        .lab()
        .args(["check", "day11", "--format", "json", "--optional", "--dir"])
        .arg(ws.path())
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(step(&r, "nonroot")["optional"], true);
    assert_eq!(step(&r, "nonroot")["status"], "fail");
    assert_eq!(r["summary"]["total"], 7);

    // The going-further Dockerfile: an unprivileged user and a health check the image can run.
    let better =
        std::fs::read_to_string(repo().join("labs/day11/solution/going-further/Dockerfile"))
            .unwrap();
    ws.write("Dockerfile", &better);
    build(&ws, image);
    let (r, code) = t.check_json(ws.path(), &["--step", "nonroot", "--step", "healthcheck"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        text_of(check(&r, "nonroot.user")).contains("uid 1000"),
        "{r:#}"
    );
    assert!(check(&r, "healthcheck.healthy")["evidence"]
        .as_str()
        .unwrap()
        .contains("every second"));

    // Wrong answers written differently.
    let wrong = [
        (better.replace("USER appuser", "USER 0"), "nonroot.user", "runs its app as root"),
        (
            better.replace(
                r#"CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:5000/health', timeout=2)"]"#,
                "CMD curl -f http://localhost:5000/health || exit 1",
            ),
            "healthcheck.healthy",
            "calls curl",
        ),
        (better.replace("localhost:5000/health", "localhost:5001/health"), "healthcheck.healthy", "unhealthy"),
    ];
    for (dockerfile, id, words) in wrong {
        ws.write("Dockerfile", &dockerfile);
        build(&ws, image);
        let (r, _) = t.check_json(ws.path(), &["--step", "nonroot", "--step", "healthcheck"]);
        assert_diagnosis(&r, id, &[words], words);
    }
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_devloop_step_proves_a_live_edit_on_a_copy_and_never_touches_the_workspace() {
    let t = TestLab::new("devloop");
    let image = t.image.as_str();
    let dev_port = format!("{}:5000", t.spare_port());
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    let before = ws.read("src/main.py");
    let grade = || t.check_json(ws.path(), &["--step", "devloop"]).0;

    // No development container at all.
    assert_diagnosis(
        &grade(),
        "devloop.live",
        &["no development container", "--reload"],
        "none",
    );

    // Mounted, but no --reload: found, graded, and the edit does not show.
    let dev = &t.name("dev");
    mess.container(dev);
    let mount = format!("{}:/app", ws.path().display());
    docker(&[
        "run", "-d", "--name", dev, "-p", &dev_port, "-v", &mount, image,
    ]);
    assert_diagnosis(
        &grade(),
        "devloop.live",
        &["does not reload"],
        "no --reload",
    );
    docker(&["rm", "-f", dev]);

    // Reloading, but mounted elsewhere.
    let elsewhere = format!("{}:/code", ws.path().display());
    docker(&[
        "run",
        "-d",
        "--name",
        dev,
        "-p",
        &dev_port,
        "-v",
        &elsewhere,
        image,
        "gunicorn",
        "--reload",
        "--bind",
        "0.0.0.0:5000",
        "src.main:app",
    ]);
    assert_diagnosis(
        &grade(),
        "devloop.live",
        &["not mounted over /app"],
        "mounted elsewhere",
    );
    docker(&["rm", "-f", dev]);

    // The lesson's development container: the edit shows, on lab's copy.
    docker(&[
        "run",
        "-d",
        "--name",
        dev,
        "-p",
        &dev_port,
        "-v",
        &mount,
        image,
        "gunicorn",
        "--reload",
        "--bind",
        "0.0.0.0:5000",
        "src.main:app",
    ]);
    let r = grade();
    assert_eq!(check(&r, "devloop.live")["status"], "pass", "{r:#}");
    assert!(
        text_of(check(&r, "devloop.live")).contains("no rebuild"),
        "{r:#}"
    );
    assert_eq!(
        ws.read("src/main.py"),
        before,
        "the learner's files are never changed"
    );
}

#[test]
#[ignore = "needs the private test engine: scripts/test.sh"]
fn the_size_step_weighs_what_the_dockerfile_adds_and_names_the_heaviest_layer() {
    let t = TestLab::new("imagesize");
    let mut mess = EngineMess::default();
    let ws = t.solution_built(&mut mess);
    // The lesson's image: about 5 MiB on top of its base, nearly all of it `pip install`.
    let (r, code) = t.check_json(ws.path(), &["--step", "size"]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&r, "size.added");
    assert!(text_of(c).contains("RUN pip install"), "{c:#}");
    assert!(
        c["evidence"].as_str().unwrap().contains("docker history"),
        "{c:#}"
    );

    // No .dockerignore and a virtual environment in the workspace: `COPY . .` ships it.
    ws.remove(".dockerignore");
    let venv = std::process::Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(ws.path())
        .status()
        .unwrap();
    assert!(venv.success());
    build(&ws, &t.image);
    let (r, code) = t.check_json(ws.path(), &["--step", "size"]);
    assert_eq!(code, 1, "{r:#}");
    assert_diagnosis(
        &r,
        "size.added",
        &[
            "more than 15 MiB",
            "COPY",
            ".dockerignore",
            "docker history",
        ],
        "a .venv copied in",
    );

    // Deleting it in a later RUN does not help: the layer that added it still ships.
    ws.write(
        "Dockerfile",
        &format!("{}RUN rm -rf /app/.venv\n", ws.read("Dockerfile")),
    );
    build(&ws, &t.image);
    let (r, _) = t.check_json(ws.path(), &["--step", "size"]);
    assert_diagnosis(&r, "size.added", &["COPY"], "removed later");

    // Right again, written differently: the .dockerignore back, with more in it.
    ws.write(".dockerignore", ".venv/\n.git\n**/__pycache__\n*.pyc\n");
    ws.edit("Dockerfile", "RUN rm -rf /app/.venv\n", "");
    build(&ws, &t.image);
    let (r, code) = t.check_json(ws.path(), &["--step", "size"]);
    assert_eq!((code, status(&r, "size")), (0, "pass".to_string()), "{r:#}");
}
