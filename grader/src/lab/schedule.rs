//! A lab's `[schedule]`: the minutes of every part of the day, in order. The instructor's
//! timetable, each chapter's "about N minutes" in the book and the room dashboard's pacing are
//! all computed from it, so they cannot disagree.
//!
//! ```toml
//! [schedule]
//! start = "9:00"
//! items = [
//!   { chapter = "why-containers.md", title = "Welcome, why containers", minutes = 20 },
//!   { chapter = "setup.md", minutes = 20, join = true },   # learners join the room here
//!   { break = "break", minutes = 15 },
//!   { step = "dockerfile", minutes = 45, note = "the longest step" },
//! ]
//! ```
//! An item is a lab step (`step`), a book page that is not a core step (`chapter`), a break
//! (`break`), or a whole-room session (`session`).

use serde::Deserialize;

use crate::lab::Lab;

/// The day, in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When the day starts, `H:MM` (24-hour clock).
    pub start: String,
    pub items: Vec<Item>,
}

/// One part of the day.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// A core step of the lab, taught and done in its book page.
    pub step: Option<String>,
    /// A book page that is not a core step (ideas, setup, going further).
    pub chapter: Option<String>,
    /// A break: its name (break, lunch).
    #[serde(rename = "break")]
    pub pause: Option<String>,
    /// A session for the whole room that has no page (the room's results, questions).
    pub session: Option<String>,
    /// The title shown in the timetable (default: the step's title or the page's name).
    pub title: Option<String>,
    pub minutes: u32,
    /// What the instructor should do then.
    #[serde(default)]
    pub note: String,
    /// Learners join the room during this item; the dashboard's pace counts from its start.
    #[serde(default)]
    pub join: bool,
}

/// What kind of time an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Step,
    Chapter,
    Break,
    Session,
}

impl Item {
    pub fn kind(&self) -> Kind {
        match (&self.step, &self.chapter, &self.pause) {
            (Some(_), _, _) => Kind::Step,
            (_, Some(_), _) => Kind::Chapter,
            (_, _, Some(_)) => Kind::Break,
            _ => Kind::Session,
        }
    }

    /// The book page this item's time belongs to, if any.
    pub fn page<'a>(&'a self, lab: &'a Lab) -> Option<&'a str> {
        match (&self.step, &self.chapter) {
            (Some(s), _) => lab.step(s).map(|s| s.book.as_str()),
            (_, Some(c)) => Some(c.as_str()),
            _ => None,
        }
    }

    /// The title the timetable shows.
    pub fn title(&self, lab: &Lab) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        if let Some(s) = self.step.as_ref().and_then(|s| lab.step(s)) {
            return s.title.clone();
        }
        self.chapter
            .clone()
            .or_else(|| self.pause.clone())
            .or_else(|| self.session.clone())
            .unwrap_or_default()
    }
}

/// An item with its clock time.
#[derive(Debug, Clone)]
pub struct Slot<'a> {
    /// Minutes after midnight.
    pub at: u32,
    pub item: &'a Item,
}

/// `9:05` for 545.
pub fn clock(minutes: u32) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// `5 h 40` for 340, `45 min` for 45.
pub fn duration(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() <= 5).then_some(h * 60 + m)
}

impl Schedule {
    /// Check the schedule against its lab: every item is one kind, every core step is there
    /// exactly once, every page an item names is a step's page or a chapter the lab's book has.
    pub fn validate(&self, lab: &Lab) -> Result<(), String> {
        parse_clock(&self.start)
            .ok_or_else(|| format!("`start` {:?} is not a time like 9:00", self.start))?;
        if self.items.is_empty() {
            return Err("`items` is empty".into());
        }
        for (i, it) in self.items.iter().enumerate() {
            let kinds = [
                it.step.is_some(),
                it.chapter.is_some(),
                it.pause.is_some(),
                it.session.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                return Err(format!(
                    "item {}: give exactly one of `step`, `chapter`, `break` and `session`",
                    i + 1
                ));
            }
            if it.minutes == 0 || it.minutes > 600 {
                return Err(format!("item {}: `minutes` must be 1 to 600", i + 1));
            }
            if let Some(s) = &it.step {
                match lab.step(s) {
                    None => return Err(format!("item {}: {s:?} is not a step", i + 1)),
                    Some(st) if st.optional => {
                        return Err(format!(
                            "item {}: {s:?} is optional: schedule its chapter {:?} instead",
                            i + 1,
                            st.book
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        for s in lab.core_steps() {
            let n = self
                .items
                .iter()
                .filter(|i| i.step.as_deref() == Some(&s.id))
                .count();
            if n != 1 {
                return Err(format!(
                    "step {:?} is in the schedule {n} times: give it one item",
                    s.id
                ));
            }
        }
        for s in lab.steps.iter().filter(|s| s.optional) {
            if !self.items.iter().any(|i| i.page(lab) == Some(&s.book)) {
                return Err(format!(
                    "the optional step {:?} has no time: schedule its chapter {:?}",
                    s.id, s.book
                ));
            }
        }
        if self.items.iter().filter(|i| i.join).count() > 1 {
            return Err("only one item can be where learners `join` the room".into());
        }
        if self.end() >= 24 * 60 {
            return Err("the day ends after midnight".into());
        }
        Ok(())
    }

    fn start_minutes(&self) -> u32 {
        parse_clock(&self.start).unwrap_or(9 * 60)
    }

    /// Every item with its clock time.
    pub fn slots(&self) -> Vec<Slot<'_>> {
        let mut at = self.start_minutes();
        self.items
            .iter()
            .map(|item| {
                let s = Slot { at, item };
                at += item.minutes;
                s
            })
            .collect()
    }

    /// When the day ends, in minutes after midnight.
    pub fn end(&self) -> u32 {
        self.start_minutes() + self.items.iter().map(|i| i.minutes).sum::<u32>()
    }

    /// Minutes of teaching and lab (everything but breaks).
    pub fn teaching(&self) -> u32 {
        self.items
            .iter()
            .filter(|i| i.kind() != Kind::Break)
            .map(|i| i.minutes)
            .sum()
    }

    /// Minutes of breaks.
    pub fn breaks(&self) -> u32 {
        self.items
            .iter()
            .filter(|i| i.kind() == Kind::Break)
            .map(|i| i.minutes)
            .sum()
    }

    /// The minutes planned for a core step.
    pub fn step_minutes(&self, id: &str) -> Option<u32> {
        self.items
            .iter()
            .find(|i| i.step.as_deref() == Some(id))
            .map(|i| i.minutes)
    }

    /// The minutes the schedule puts between the step before `id` (or, for the first, the
    /// start of the item where learners join) and `id` itself: breaks, lunch, chapters. Time a
    /// learner took on a step is measured without them.
    pub fn minutes_before(&self, id: &str) -> u32 {
        let Some(at) = self
            .items
            .iter()
            .position(|i| i.step.as_deref() == Some(id))
        else {
            return 0;
        };
        let from = self.items[..at]
            .iter()
            .rposition(|i| i.step.is_some())
            .map(|p| p + 1)
            .unwrap_or_else(|| self.items.iter().position(|i| i.join).unwrap_or(0));
        self.items[from.min(at)..at].iter().map(|i| i.minutes).sum()
    }

    /// The minutes a book page gets: the items whose time belongs to it.
    pub fn page_minutes(&self, lab: &Lab, page: &str) -> u32 {
        self.items
            .iter()
            .filter(|i| i.page(lab) == Some(page))
            .map(|i| i.minutes)
            .sum()
    }

    /// Where the plan says the room is, `elapsed` minutes after learners began joining: the
    /// item then under way (or None once the day is over).
    pub fn planned_at(&self, elapsed: u32) -> Option<&Item> {
        let from = self.items.iter().position(|i| i.join).unwrap_or(0);
        let mut t = 0;
        for item in &self.items[from..] {
            t += item.minutes;
            if elapsed < t {
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day11() -> Lab {
        crate::lab::shipped("day11")
    }

    #[test]
    fn the_day11_schedule_is_valid_and_adds_up() {
        let lab = day11();
        let s = lab.schedule.as_ref().expect("day11 has a schedule");
        s.validate(&lab).unwrap();
        assert_eq!(s.teaching() + s.breaks() + s.start_minutes(), s.end());
        for st in lab.core_steps() {
            assert!(s.step_minutes(&st.id).is_some(), "{}", st.id);
        }
        let slots = s.slots();
        assert_eq!(slots[0].at, s.start_minutes());
        for w in slots.windows(2) {
            assert_eq!(w[1].at, w[0].at + w[0].item.minutes);
        }
    }

    #[test]
    fn a_schedule_that_misses_or_repeats_a_step_is_refused_with_its_name() {
        let lab = day11();
        let mut s = lab.schedule.clone().unwrap();
        let i = s
            .items
            .iter()
            .position(|i| i.step.as_deref() == Some("tag"))
            .unwrap();
        let tag = s.items.remove(i);
        let e = s.validate(&lab).unwrap_err();
        assert!(e.contains("\"tag\"") && e.contains("0 times"), "{e}");
        s.items.push(tag.clone());
        s.items.push(tag);
        assert!(s.validate(&lab).unwrap_err().contains("2 times"));
        let mut s = lab.schedule.clone().unwrap();
        s.items.push(Item {
            minutes: 5,
            ..Item::default()
        });
        s.items.last_mut().unwrap().pause = Some("x".into());
        s.items.last_mut().unwrap().chapter = Some("x.md".into());
        assert!(s.validate(&lab).unwrap_err().contains("exactly one"));
        let mut s = lab.schedule.clone().unwrap();
        s.start = "25:00".into();
        assert!(s.validate(&lab).is_err());
    }

    #[test]
    fn the_plan_walks_from_where_learners_join() {
        let lab = day11();
        let s = lab.schedule.as_ref().unwrap();
        let join = s.items.iter().position(|i| i.join).unwrap();
        assert!(std::ptr::eq(s.planned_at(0).unwrap(), &s.items[join]));
        let first = s.items[join].minutes;
        assert!(std::ptr::eq(
            s.planned_at(first).unwrap(),
            &s.items[join + 1]
        ));
        assert!(s.planned_at(24 * 60).is_none());
        // Before the first step: the items from joining on; before tag: lunch; before build: none.
        let before_first: u32 = s.items[join..]
            .iter()
            .take_while(|i| i.step.is_none())
            .map(|i| i.minutes)
            .sum();
        assert_eq!(s.minutes_before("dockerfile"), before_first);
        assert_eq!(s.minutes_before("build"), 0);
        assert_eq!(s.minutes_before("tag"), 60);
        assert_eq!(clock(545), "9:05");
        assert_eq!(duration(340), "5 h 40");
        assert_eq!(duration(45), "45 min");
        assert_eq!(duration(120), "2 h");
    }
}
