//! Property tests of every reader of learner-controlled text: the Dockerfile reader, the
//! Compose reader, `lab.toml` loading and `direct_url.json` decoding. On random bytes and on
//! structured mutations of valid files, each must return (a value or an error), never panic,
//! and take a bounded time per input. Case counts are fixed so CI time is bounded too.

use std::time::{Duration, Instant};

use proptest::prelude::*;

const LESSON: &str = include_str!("../../labs/day11/solution/Dockerfile");
const COMPOSE: &str = include_str!("../../labs/day11/solution/compose.yaml");
const LAB: &str = include_str!("../../labs/day11/lab.toml");
const PER_INPUT: Duration = Duration::from_secs(1);

/// A valid file with a random splice: bytes replaced, deleted or repeated at random places.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), 0..4usize, ".{0,12}"), 1..6),
        1..4usize,
    )
        .prop_map(move |(edits, repeat)| {
            let mut s: Vec<char> = base.chars().collect();
            for (at, kind, text) in edits {
                let i = at.index(s.len().max(1)).min(s.len());
                match kind {
                    0 => {
                        s.splice(i..i, text.chars());
                    }
                    1 => {
                        let end = (i + text.len()).min(s.len());
                        s.drain(i..end);
                    }
                    2 => {
                        let end = (i + 8).min(s.len());
                        let chunk: Vec<char> = s[i..end].to_vec();
                        for _ in 0..repeat {
                            s.splice(i..i, chunk.iter().cloned());
                        }
                    }
                    _ => {
                        let end = (i + 1).min(s.len());
                        s.splice(i..end, "${".chars());
                    }
                }
            }
            s.into_iter().collect()
        })
}

fn timed<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(start.elapsed() < PER_INPUT, "took {:?}", start.elapsed());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_dockerfile_reader_never_panics(text in prop_oneof![mutated(LESSON), ".{0,400}"]) {
        timed(|| {
            if let Ok(f) = crate::dockerfile::parse(&text) {
                let _ = f.workdir();
                let _ = f.process();
            }
        });
    }

    #[test]
    fn the_dockerfile_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        timed(|| { let _ = crate::dockerfile::parse(&String::from_utf8_lossy(&bytes)); });
    }

    #[test]
    fn the_compose_reader_never_panics(text in prop_oneof![mutated(COMPOSE), ".{0,400}"]) {
        timed(|| { let _ = crate::compose::parse(&text, "c.yml", &Default::default()); });
    }

    /// Both expansions: the Dockerfile's `ARG`/`ENV` (`${A:+x}`, `\\$`) and Compose's
    /// (`${A:?message}`, `$$`).
    #[test]
    fn variable_expansion_never_panics(text in "[$A-Z{}:?+\\-\\\\ 0-9]{0,80}") {
        let vars = [("A".to_string(), "5000".to_string())].into_iter().collect();
        timed(|| {
            let _ = crate::dockerfile::expand(&text, &vars);
            let _ = crate::compose::interpolate(&text, &vars);
        });
    }

    #[test]
    fn lab_files_never_panic(text in prop_oneof![mutated(LAB), ".{0,400}"]) {
        timed(|| { let _ = crate::lab::Lab::parse(std::path::Path::new("lab.toml"), &text); });
    }

    #[test]
    fn direct_url_decoding_never_panics(url in "file://[%a-f0-9é/ü\\-]{0,60}") {
        timed(|| { let _ = crate::checks::editable::file_url_path(&url); });
    }
}
