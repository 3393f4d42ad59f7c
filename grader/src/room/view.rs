//! The room's view: what the dashboard, the projector and the API show, built from the
//! store's rows by pure functions (unit-tested here), and its exports (CSV, Gradescope) through
//! the builders in [`crate::report::scores`] that `lab ci` uses too.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::store;
use crate::lab::Lab;
use crate::report::{Report, Status};

/// Seen within this many seconds: online. A quiet `lab watch` heartbeats every minute.
pub const ONLINE_SECS: i64 = 120;

/// One column of the grid.
#[derive(Debug, Clone, Serialize)]
pub struct StepHead {
    pub id: String,
    pub title: String,
    pub optional: bool,
    pub points: u32,
    /// How many learners pass it (for the projector).
    pub passed: usize,
}

/// One learner's row.
#[derive(Debug, Clone, Serialize)]
pub struct LearnerView {
    pub id: i64,
    pub name: String,
    pub online: bool,
    pub left: bool,
    /// The newest report's `generated_at`, or null before the first.
    pub updated_at: Option<String>,
    /// Step id to `pass | fail | warn | skip | error`, or `not started`.
    pub steps: BTreeMap<String, String>,
    pub score: u32,
    pub max_score: u32,
    pub bonus: u32,
    /// The first core step that does not pass.
    pub current: Option<String>,
    /// How long they have been on it, in words.
    pub in_current: String,
    /// When the last report arrived, in words.
    pub last_report: String,
    pub last_seen: String,
}

/// A failing check and who has it.
#[derive(Debug, Clone, Serialize)]
pub struct StuckView {
    pub check: String,
    pub step: String,
    pub learners: usize,
    /// RFC 3339, the earliest of them.
    pub since: String,
    pub since_ago: String,
    pub message: String,
    pub hint: String,
    pub book: String,
}

/// One core step in the room-at-a-glance panel.
#[derive(Debug, Clone, Serialize)]
pub struct GlanceStep {
    pub id: String,
    pub title: String,
    /// Learners in the room who pass it, and the share of the room that is (0 to 100).
    pub passed: usize,
    pub percent: u32,
    /// Minutes the schedule gives it, and the median minutes those who passed it took.
    pub planned_min: Option<u32>,
    pub median_min: Option<u32>,
    /// The median took longer than planned.
    pub slow: bool,
}

/// How far the room has got, for the top of the dashboard and the projector.
#[derive(Debug, Clone, Serialize)]
pub struct Glance {
    /// Learners in the room (not left), and of them online.
    pub present: usize,
    pub online: usize,
    pub steps: Vec<GlanceStep>,
    pub pace: Pace,
}

/// The room against the schedule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pace {
    /// The median learner is on an earlier step than the schedule's.
    pub behind: bool,
    /// Where the schedule says the room is now (counted from the first join).
    pub planned: Option<String>,
    /// Where the median learner is.
    pub median_on: Option<String>,
}

/// A learner who has been on the same failing step longest: first in "needs help first".
#[derive(Debug, Clone, Serialize)]
pub struct HelpView {
    pub id: i64,
    pub name: String,
    pub step: String,
    pub step_title: String,
    pub check: String,
    pub stuck_secs: i64,
    pub stuck_for: String,
    /// Past the room's alarm.
    pub alarm: bool,
    /// What they see, the hint, the book page.
    pub message: String,
    pub hint: String,
    pub book: String,
}

/// The whole room.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub lab: String,
    pub title: String,
    pub steps: Vec<StepHead>,
    pub learners: Vec<LearnerView>,
    pub stuck: Vec<StuckView>,
    pub online: usize,
    pub glance: Glance,
    pub help: Vec<HelpView>,
    pub alarm_minutes: i64,
}

fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn status_word(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Build the room's view from the store's rows (pure, so it is unit-tested).
pub fn view(
    lab: &Lab,
    learners: &[store::Learner],
    results: &[store::StoredStep],
    now: i64,
    alarm_secs: i64,
) -> RoomView {
    let known: HashMap<&str, &crate::lab::Step> =
        lab.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let max_score: u32 = lab.core_steps().map(|s| s.points()).sum();
    let mut by_learner: HashMap<i64, Vec<&store::StoredStep>> = HashMap::new();
    for r in results {
        // Steps the room's lab does not know are stored but not shown.
        if known.contains_key(r.step.id.as_str()) {
            by_learner.entry(r.learner_id).or_default().push(r);
        }
    }
    let mut rows = Vec::new();
    for l in learners {
        let mine = by_learner.get(&l.id).cloned().unwrap_or_default();
        let get = |id: &str| mine.iter().find(|r| r.step.id == id).copied();
        let mut steps = BTreeMap::new();
        let (mut score, mut bonus) = (0, 0);
        for s in &lab.steps {
            let st = get(&s.id)
                .map(|r| status_word(r.step.status))
                .unwrap_or_else(|| "not started".into());
            if st == "pass" {
                if s.optional {
                    bonus += s.points();
                } else {
                    score += s.points();
                }
            }
            steps.insert(s.id.clone(), st);
        }
        let current = lab
            .core_steps()
            .find(|s| steps.get(&s.id).map(String::as_str) != Some("pass"));
        let since = current
            .and_then(|s| get(&s.id))
            .map(|r| r.since)
            .unwrap_or(l.joined_at);
        let newest = mine
            .iter()
            .max_by(|a, b| a.generated_at.cmp(&b.generated_at));
        rows.push(LearnerView {
            id: l.id,
            name: l.name.clone(),
            online: !l.left && now - l.last_seen <= ONLINE_SECS,
            left: l.left,
            updated_at: newest.map(|r| r.generated_at.clone()),
            steps,
            score: score + bonus,
            max_score,
            bonus,
            current: current.map(|s| s.id.clone()),
            in_current: if current.is_some() {
                ago(now - since)
            } else {
                String::new()
            },
            last_report: newest
                .map(|r| format!("{} ago", ago(now - r.received_at)))
                .unwrap_or_else(|| "no check yet".into()),
            last_seen: format!("{} ago", ago(now - l.last_seen)),
        });
    }
    // Where the room is stuck: failing checks of the learners still in the room.
    let present: HashMap<i64, bool> = learners.iter().map(|l| (l.id, !l.left)).collect();
    let mut stuck: BTreeMap<String, StuckView> = BTreeMap::new();
    for r in results {
        if !present.get(&r.learner_id).copied().unwrap_or(false) {
            continue;
        }
        let Some(step) = known.get(r.step.id.as_str()) else {
            continue;
        };
        for c in r.step.checks.iter().filter(|c| c.status == Status::Fail) {
            let e = stuck.entry(c.id.clone()).or_insert_with(|| StuckView {
                check: c.id.clone(),
                step: step.id.clone(),
                learners: 0,
                since: rfc3339(r.since),
                since_ago: ago(now - r.since),
                message: c.message.clone(),
                hint: c.hint.clone().unwrap_or_else(|| step.hints[0].clone()),
                book: step.book.clone(),
            });
            e.learners += 1;
            if rfc3339(r.since) < e.since {
                e.since = rfc3339(r.since);
                e.since_ago = ago(now - r.since);
            }
        }
    }
    let mut stuck: Vec<StuckView> = stuck.into_values().collect();
    stuck.sort_by(|a, b| b.learners.cmp(&a.learners).then(a.since.cmp(&b.since)));
    let steps = lab
        .steps
        .iter()
        .map(|s| StepHead {
            id: s.id.clone(),
            title: s.title.clone(),
            optional: s.optional,
            points: s.points(),
            passed: rows
                .iter()
                .filter(|r| !r.left && r.steps.get(&s.id).map(String::as_str) == Some("pass"))
                .count(),
        })
        .collect();
    // One lookup per learner and step (a room of 1,000 has 7,000 results).
    let index: HashMap<(i64, &str), &store::StoredStep> = results
        .iter()
        .map(|r| ((r.learner_id, r.step.id.as_str()), r))
        .collect();
    let mine = |id: i64, step: &str| index.get(&(id, step)).copied();
    let present: Vec<&store::Learner> = learners.iter().filter(|l| !l.left).collect();
    let glance = glance(lab, &present, &rows, &mine, now);
    let mut help: Vec<HelpView> = Vec::new();
    for (l, row) in learners.iter().zip(&rows) {
        let Some(cur) = row.current.as_deref().filter(|_| !l.left) else {
            continue;
        };
        let (Some(r), Some(step)) = (mine(l.id, cur), known.get(cur)) else {
            continue;
        };
        let Some(c) = r.step.checks.iter().find(|c| c.status == Status::Fail) else {
            continue;
        };
        let secs = (now - r.since).max(0);
        help.push(HelpView {
            id: l.id,
            name: l.name.clone(),
            step: step.id.clone(),
            step_title: step.title.clone(),
            check: c.id.clone(),
            stuck_secs: secs,
            stuck_for: ago(secs),
            alarm: secs >= alarm_secs,
            message: c.message.clone(),
            hint: c.hint.clone().unwrap_or_else(|| step.hints[0].clone()),
            book: step.book.clone(),
        });
    }
    help.sort_by(|a, b| b.stuck_secs.cmp(&a.stuck_secs).then(a.name.cmp(&b.name)));
    RoomView {
        lab: lab.id.clone(),
        title: lab.title.clone(),
        steps,
        online: rows.iter().filter(|r| r.online).count(),
        learners: rows,
        stuck,
        glance,
        help,
        alarm_minutes: alarm_secs / 60,
    }
}

/// The median of `v` (the lower middle for an even count), or None when empty.
fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}

/// The room at a glance, from the learners still in it.
fn glance<'a>(
    lab: &Lab,
    present: &[&store::Learner],
    rows: &[LearnerView],
    mine: &dyn Fn(i64, &str) -> Option<&'a store::StoredStep>,
    now: i64,
) -> Glance {
    let core: Vec<&crate::lab::Step> = lab.core_steps().collect();
    let schedule = lab.schedule.as_ref();
    let passed_at = |l: &store::Learner, step: &str| {
        mine(l.id, step)
            .filter(|r| r.step.status == Status::Pass)
            .map(|r| r.since)
    };
    let steps = core
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let passers: Vec<&&store::Learner> = present
                .iter()
                .filter(|l| passed_at(l, &s.id).is_some())
                .collect();
            // Time on a step: from passing the step before (or joining) to passing this one.
            let took = passers
                .iter()
                .filter_map(|l| {
                    let end = passed_at(l, &s.id)?;
                    let start = match i {
                        0 => l.joined_at,
                        _ => passed_at(l, &core[i - 1].id).unwrap_or(l.joined_at),
                    };
                    let pauses = schedule.map_or(0, |sc| sc.minutes_before(&s.id)) as i64 * 60;
                    Some((end - start - pauses).max(0))
                })
                .collect();
            let median_min = median(took).map(|s| ((s + 30) / 60) as u32);
            let planned_min = schedule.and_then(|sc| sc.step_minutes(&s.id));
            GlanceStep {
                id: s.id.clone(),
                title: s.title.clone(),
                passed: passers.len(),
                percent: (passers.len() * 100)
                    .checked_div(present.len())
                    .unwrap_or(0) as u32,
                planned_min,
                median_min,
                slow: matches!((median_min, planned_min), (Some(m), Some(p)) if m > p),
            }
        })
        .collect();
    // Where the plan is: minutes since the first learner joined, walked through the schedule.
    let first_join = present.iter().map(|l| l.joined_at).min();
    let planned_item = schedule
        .zip(first_join)
        .and_then(|(sc, t)| sc.planned_at(((now - t).max(0) / 60) as u32));
    let planned = planned_item.map(|i| i.title(lab));
    // The step the plan is on: the planned item's, or the next step item after it.
    let planned_step = schedule.zip(planned_item).and_then(|(sc, item)| {
        let at = sc.items.iter().position(|i| std::ptr::eq(i, item))?;
        let next = sc.items[at..].iter().find_map(|i| i.step.as_deref())?;
        core.iter().position(|s| s.id == next)
    });
    let in_room: Vec<&LearnerView> = rows.iter().filter(|r| !r.left).collect();
    let position = |r: &LearnerView| {
        r.current
            .as_deref()
            .and_then(|c| core.iter().position(|s| s.id == c))
            .unwrap_or(core.len()) as i64
    };
    let median_pos = median(in_room.iter().map(|r| position(r)).collect());
    let median_on = median_pos.map(|p| {
        core.get(p as usize)
            .map(|s| s.title.clone())
            .unwrap_or_else(|| "done".into())
    });
    Glance {
        present: present.len(),
        online: rows.iter().filter(|r| r.online).count(),
        steps,
        pace: Pace {
            behind: matches!((median_pos, planned_step), (Some(m), Some(p)) if (m as usize) < p),
            planned,
            median_on,
        },
    }
}

pub use crate::report::scores::csv_cell;

/// One row per learner, one column per step, then the score.
pub fn csv(view: &RoomView) -> String {
    let mut out = String::from("name");
    for s in &view.steps {
        out.push(',');
        out.push_str(&csv_cell(&s.id));
    }
    out.push_str(",score,max_score,left\n");
    for l in &view.learners {
        out.push_str(&csv_cell(&l.name));
        for s in &view.steps {
            out.push(',');
            out.push_str(&csv_cell(
                l.steps.get(&s.id).map(String::as_str).unwrap_or(""),
            ));
        }
        out.push_str(&format!(",{},{},{}\n", l.score, l.max_score, l.left));
    }
    out
}

/// Gradescope's `results.json` for one learner.
pub fn gradescope(lab: &Lab, learner: &store::Learner, report: &Report) -> serde_json::Value {
    use crate::report::scores;
    scores::gradescope(
        &scores::rows(lab, report),
        &format!(
            "{}: latest results of {} in lab {}",
            lab.title, learner.name, lab.id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckResult, StepReport};

    fn lab() -> Lab {
        crate::lab::shipped("day11")
    }

    fn learner(id: i64, name: &str, joined_at: i64) -> store::Learner {
        store::Learner {
            id,
            name: name.into(),
            joined_at,
            last_seen: joined_at,
            left: false,
        }
    }

    /// Ana, Bo and Cy (ids 1 to 3), all joined at T0.
    fn three_joined_at_t0() -> [store::Learner; 3] {
        [(1, "Ana"), (2, "Bo"), (3, "Cy")].map(|(id, name)| learner(id, name, T0))
    }

    /// Results from `"LEARNER STEP pass|fail MINUTES_AFTER_T0, ..."`.
    fn timeline(events: &str) -> Vec<store::StoredStep> {
        events
            .split(", ")
            .map(|e| match e.split(' ').collect::<Vec<_>>()[..] {
                [who, step, status, min] => {
                    let status = if status == "pass" {
                        Status::Pass
                    } else {
                        Status::Fail
                    };
                    result(
                        who.parse().unwrap(),
                        step,
                        status,
                        T0 + min.parse::<i64>().unwrap() * 60,
                    )
                }
                _ => panic!("not LEARNER STEP STATUS MINUTES: {e}"),
            })
            .collect()
    }

    fn result(learner: i64, step: &str, status: Status, since: i64) -> store::StoredStep {
        let check = match status {
            Status::Pass => CheckResult::pass(format!("{step}.x"), "ok"),
            _ => CheckResult::fail(format!("{step}.x"), "what they see").hint("do this"),
        };
        store::StoredStep {
            learner_id: learner,
            step: StepReport {
                id: step.into(),
                title: step.into(),
                status,
                checks: vec![check],
                ..StepReport::default()
            },
            generated_at: format!("2026-12-02T10:{:02}:00Z", since % 60),
            since,
            received_at: since,
        }
    }

    const T0: i64 = 1_800_000_000;

    #[test]
    fn an_empty_room_has_a_panel_of_zeros() {
        let v = view(&lab(), &[], &[], T0, 600);
        assert_eq!(v.glance.present, 0);
        assert_eq!(v.glance.steps.len(), 7);
        assert!(v
            .glance
            .steps
            .iter()
            .all(|s| s.passed == 0 && s.percent == 0));
        assert!(v.glance.pace.planned.is_none() && v.help.is_empty());
    }

    #[test]
    fn the_median_time_per_step_runs_from_the_step_before() {
        let l = three_joined_at_t0();
        // After the 45 minutes of setup, the sample app and the break the schedule puts before
        // it, dockerfile took 30, 40 and 55 minutes: median 40 (plan 45). Ana's build came 30
        // minutes after her dockerfile: plan 20, so slow.
        let r = timeline(
            "1 dockerfile pass 75, 2 dockerfile pass 85, 3 dockerfile pass 100, 1 build pass 105",
        );
        let v = view(&lab(), &l, &r, T0 + 106 * 60, 600);
        let s = &v.glance.steps;
        assert_eq!((s[0].passed, s[0].percent), (3, 100));
        assert_eq!(
            (s[0].median_min, s[0].planned_min, s[0].slow),
            (Some(40), Some(45), false)
        );
        assert_eq!((s[1].passed, s[1].percent), (1, 33));
        assert_eq!((s[1].median_min, s[1].slow), (Some(30), true));
        assert_eq!(s[2].median_min, None);
        // Joined at T0, 106 minutes later the plan (from setup, where they join) is at the
        // build step; the median learner is on build too.
        assert_eq!(v.glance.pace.planned.as_deref(), Some("Build the image"));
        assert_eq!(v.glance.pace.median_on.as_deref(), Some("Build the image"));
        assert!(!v.glance.pace.behind);
        let later = view(&lab(), &l, &r, T0 + 205 * 60, 600);
        assert!(later.glance.pace.behind, "{:?}", later.glance);
    }

    #[test]
    fn who_needs_help_first_is_who_has_failed_the_same_step_longest() {
        let l = three_joined_at_t0();
        // Cy fails a later step, but only just.
        let r = timeline(
            "1 dockerfile fail 5, 2 dockerfile fail 25, 3 dockerfile pass 5, 3 build fail 29",
        );
        let v = view(&lab(), &l, &r, T0 + 30 * 60, 600);
        let names: Vec<&str> = v.help.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Ana", "Bo", "Cy"]);
        assert!(
            v.help[0].alarm && !v.help[1].alarm,
            "25 min over a 10-min alarm, 5 under"
        );
        assert_eq!(v.help[0].check, "dockerfile.x");
        assert_eq!(v.help[0].hint, "do this");
        assert_eq!(v.help[0].book, "dockerfile.md");
        assert_eq!(v.help[0].stuck_for, "25 min");
        // A learner who left is not in the list; a longer alarm highlights nobody.
        let mut gone = l.clone();
        gone[0].left = true;
        let v = view(&lab(), &gone, &r, T0 + 30 * 60, 3600);
        assert_eq!(v.help.len(), 2);
        assert!(v.help.iter().all(|h| !h.alarm));
        assert_eq!(v.glance.present, 2);
    }
}
