//! The room's dashboard in a real Chromium, in mid-workshop: a room of 24 learners seeded into
//! a real room database (some done, some stuck past the alarm, the funnel half full), served
//! by the real `lab classroom serve`, looked at in both themes at 1280x800 and 1920x1080. The
//! screenshots are kept in `target/tmp/room-screenshots/`; with
//! `SRE_LAB_UPDATE_BOOK_SCREENSHOTS=1` the light 1280x800 one becomes the book's picture.

use std::path::{Path, PathBuf};

use lab::report::{CheckResult, Status, StepReport};
use lab::room::store::Store;
use serde_json::json;

use crate::browser::Driver;
use crate::classroom::Server;
use crate::common::*;

const STEPS: [&str; 7] = CORE_STEPS;

/// What a learner stuck on each step sees (the grader's own check ids and wording).
fn failing(step: &str) -> CheckResult {
    let (id, msg, hint) = match step {
        "dockerfile" => (
            "dockerfile.cmd",
            "CMD runs `flask run`: the lesson serves the app with Gunicorn",
            "CMD [\"gunicorn\", \"--bind=0.0.0.0:5000\", \"src.main:app\"]",
        ),
        "build" => (
            "build.image",
            "no image python-docker-app: the last build failed at Dockerfile:5 (RUN pip install)",
            "read the first error line of the build output",
        ),
        "run" => (
            "run.ports",
            "the container listens on 5000/tcp but publishes it on no host port",
            "start it again with -p 5000:5000",
        ),
        "tag" => (
            "tag.version",
            "python-docker-app:v1.0 is tagged, not :v1",
            "docker tag python-docker-app localhost:5001/python-docker-app:v1",
        ),
        "push" => (
            "push.registry",
            "nothing at localhost:5001/python-docker-app:v1 yet",
            "docker push localhost:5001/python-docker-app:v1",
        ),
        "compose" => (
            "compose.port",
            "host port 5000 is held by day11-web (started by docker run)",
            "docker stop day11-web, then docker compose up --build -d",
        ),
        _ => (
            "editable.installed",
            "python-docker-app is installed as a copy, not in editable mode",
            "pip install -e .",
        ),
    };
    CheckResult::fail(id, msg).hint(hint)
}

fn step(id: &str, status: Status) -> StepReport {
    StepReport {
        id: id.into(),
        title: id.into(),
        status,
        points: 1,
        book: format!("{id}.md"),
        hint: "see the book".into(),
        checks: vec![match status {
            Status::Pass => CheckResult::pass(format!("{id}.ok"), "as the lesson asks"),
            _ => failing(id),
        }],
        ..StepReport::default()
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// 24 learners, joined 4 h 50 ago (the schedule is at Compose): (name, steps passed, minutes on
/// the failing step or None when the next step is not begun, online).
const ROOM: &[(&str, usize, Option<i64>, bool)] = &[
    ("Amara Okafor", 7, None, true),
    ("Lucas Ferreira", 7, None, true),
    ("Mei Lin", 6, Some(4), true),
    ("Jonas Becker", 6, None, true),
    ("Priya Raman", 5, Some(9), true),
    ("Sofia Rossi", 5, Some(3), true),
    ("Kwame Mensah", 5, None, true),
    ("Hannah Schmidt", 5, Some(14), true),
    ("Diego Alvarez", 4, Some(6), true),
    ("Aiko Tanaka", 4, None, true),
    ("Omar Haddad", 4, Some(2), true),
    ("Elena Popescu", 4, None, false),
    ("Noah Williams", 3, Some(18), true),
    ("Fatima Zahra", 3, Some(7), true),
    ("Mateo García", 3, None, true),
    ("Chloé Martin", 3, Some(1), true),
    ("Ravi Kumar", 2, Some(26), true),
    ("Ingrid Larsen", 2, None, true),
    ("Tomás Silva", 2, Some(11), true),
    ("Yusuf Demir", 1, Some(33), true),
    ("Grace Kim", 1, None, false),
    ("Ali Rezaei", 1, Some(5), true),
    ("Zoe Müller", 0, Some(21), true),
    ("Samuel Osei", 0, None, true),
];

/// Write the room into `dir`'s database as the server would have, with past times.
fn seed(dir: &Path) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let joined = now - 290 * 60;
    let mut store = Store::open(dir).unwrap();
    for (n, (name, passed, stuck, online)) in ROOM.iter().enumerate() {
        let id = store
            .join(name, &format!("seed-token-{n}"), joined + n as i64 * 20)
            .unwrap();
        // Each pass at the schedule's pace (minutes after joining that each step ends, lunch and
        // breaks included), sped up or slowed down so the last one lands before now.
        const PLAN_END: [i64; 7] = [90, 110, 140, 220, 240, 295, 325];
        let end = now - stuck.unwrap_or(3) * 60 - 60;
        for (i, s) in STEPS.iter().take(*passed).enumerate() {
            let at = joined + (end - joined) * PLAN_END[i] / PLAN_END[*passed - 1];
            store
                .record(id, &rfc3339(at), &[step(s, Status::Pass)], at)
                .unwrap();
        }
        if let (Some(min), Some(s)) = (stuck, STEPS.get(*passed)) {
            let at = now - min * 60;
            store
                .record(id, &rfc3339(at), &[step(s, Status::Fail)], at)
                .unwrap();
        }
        if *online {
            store.seen(id, now - 15 - n as i64).unwrap();
        }
    }
}

async fn look(d: &Driver, width: u32, height: u32, theme: &str) {
    d.post("/window/rect", json!({"width": width, "height": height}))
        .await;
    d.js(&format!(
        "localStorage.setItem('lab-room-theme', '{theme}'); location.reload(); return true"
    ))
    .await;
    d.wait_for(
        &format!("return document.documentElement.dataset.theme === '{theme}' && !!document.querySelector('#funnel')"),
        "the dashboard in its theme",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh"]
async fn the_dashboard_shows_a_mid_workshop_room_at_a_glance_in_both_themes() {
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    let server = Server::start(data.path(), "127.0.0.1:0");
    let d = Driver::start().await;
    d.open(&format!("{}/?token={}", server.url, server.token))
        .await;
    d.wait_for(
        "return !!document.querySelector('#funnel')",
        "the dashboard",
    )
    .await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("room-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut backgrounds = Vec::new();
    for theme in ["light", "dark"] {
        for (w, h) in [(1280, 800), (1920, 1080)] {
            look(&d, w, h, theme).await;
            // The funnel: 24 in the room; the first bar the fullest, and a third of the room past push.
            let counts = d
                .js("return [...document.querySelectorAll('#funnel .num')].map(t => t.textContent)")
                .await;
            assert_eq!(counts[0], "22 / 24", "{counts}");
            assert_eq!(counts[4], "8 / 24", "{counts}");
            let widths = d
                .js("return [...document.querySelectorAll('#funnel .fill')].map(r => r.getBoundingClientRect().width)")
                .await;
            let widths: Vec<f64> = widths
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(widths[0] > widths[4] && widths[4] > widths[6], "{widths:?}");
            // The panel is on screen without scrolling, its text no smaller than 12 px.
            let bottom = d
                .js("return document.querySelector('#glance').getBoundingClientRect().bottom")
                .await;
            assert!(
                bottom.as_f64().unwrap() <= h as f64,
                "the panel runs below the fold at {w}x{h}"
            );
            let smallest = d.js("return Math.min(...[...document.querySelectorAll('#funnel text')].map(t => t.getBoundingClientRect().height))").await;
            assert!(
                smallest.as_f64().unwrap() >= 12.0,
                "funnel text {smallest} px at {w}x{h}"
            );
            // The pace: where the schedule is (4 h 50 in: Compose) and where the median learner is.
            let pace = d
                .js("return document.querySelector('#glance').innerText")
                .await;
            let pace = pace.as_str().unwrap_or_default();
            assert!(pace.contains("the schedule: Compose the service"), "{pace}");
            assert!(
                pace.contains("the median learner: Tag a version (behind the schedule)"),
                "{pace}"
            );
            // Needs help first: the longest stuck first, highlighted past the 10-minute alarm.
            let help = d
                .js("return [...document.querySelectorAll('#help li')].map(l => [l.querySelector('.who').textContent, l.classList.contains('alarm')])")
                .await;
            assert_eq!(help[0], json!(["Yusuf Demir", true]), "{help}");
            assert_eq!(help[1], json!(["Ravi Kumar", true]), "{help}");
            let last_alarm = help
                .as_array()
                .unwrap()
                .iter()
                .rposition(|h| h[1] == true)
                .unwrap();
            assert_eq!(
                help[last_alarm][0], "Tomás Silva",
                "11 min is the last over 10: {help}"
            );
            assert_eq!(help[last_alarm + 1][1], false);
            // Status by word and colour, and the headers stay put.
            let words = d.js("return [...new Set([...document.querySelectorAll('#grid td.st')].map(c => c.textContent))].sort()").await;
            assert_eq!(words, json!(["fail", "not started", "pass"]));
            let sticky = d
                .js("return getComputedStyle(document.querySelector('#grid thead th')).position")
                .await;
            assert_eq!(sticky, "sticky");
            backgrounds.push(
                d.js("return getComputedStyle(document.body).backgroundColor")
                    .await,
            );
            d.screenshot(&shots.join(format!("dashboard-{theme}-{w}x{h}.png")))
                .await;
        }
    }
    assert_eq!(backgrounds[0], "rgb(255, 255, 255)");
    assert_eq!(backgrounds[2], "rgb(13, 17, 23)", "the dark theme is dark");
    // The filter, by name or by step.
    look(&d, 1280, 800, "light").await;
    let visible = "return [...document.querySelectorAll('#grid tbody tr')].filter(r => !r.classList.contains('hidden')).length";
    assert_eq!(d.js(visible).await, 24);
    d.js("const f = document.getElementById('filter'); f.value = 'ravi'; f.dispatchEvent(new Event('input')); return true").await;
    assert_eq!(d.js(visible).await, 1);
    d.js("const f = document.getElementById('filter'); f.value = 'compose'; f.dispatchEvent(new Event('input')); return true").await;
    assert_eq!(d.js(visible).await, 4, "the learners on the compose step");
    d.js("const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); return true").await;
    if std::env::var_os("SRE_LAB_UPDATE_BOOK_SCREENSHOTS").is_some() {
        std::fs::copy(
            shots.join("dashboard-light-1280x800.png"),
            repo().join("book/src/images/room-mid-workshop.png"),
        )
        .unwrap();
    }
    // The projector: the same panel, large, and no names anywhere.
    d.open(&format!("{}/projector", server.url)).await;
    for theme in ["light", "dark"] {
        look(&d, 1920, 1080, theme).await;
        let text = d.js("return document.body.textContent").await;
        let text = text.as_str().unwrap();
        assert!(
            text.contains("22 / 24") && text.contains("in the room"),
            "{text}"
        );
        for (name, ..) in ROOM {
            assert!(!text.contains(name), "{name} on the projector");
        }
        let size = d.js("return parseFloat(getComputedStyle(document.querySelector('#glance .counts b')).fontSize)").await;
        assert!(
            size.as_f64().unwrap() >= 36.0,
            "large on the projector: {size}"
        );
        d.screenshot(&shots.join(format!("projector-{theme}-1920x1080.png")))
            .await;
    }
    let errors = d.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    d.quit().await;
    drop(server);
}
