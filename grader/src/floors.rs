//! ARCHITECTURE.md's floors, checked: every `crate::` path in `grader/src` points to its own
//! floor or below, and the modules' uses have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `unit -> floor`, from the "## Floors" list.
fn floors(doc: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let section = doc.split("## Floors").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("");
    for line in section.lines() {
        let Some(rest) = line.strip_prefix("- floor ") else {
            continue;
        };
        let n: u32 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .expect("a floor number");
        for (i, part) in rest.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.to_string(), n);
            }
        }
    }
    out
}

/// The unit a module path belongs to: the longest listed prefix.
fn unit_of<'a>(path: &[&str], units: &'a BTreeMap<String, u32>) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find_map(|p| units.get_key_value(&p).map(|(k, _)| k.as_str()))
}

/// Every `crate::a::b` path in `text` (outside comments), braces expanded one level.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let ident = |s: &str| -> Vec<String> {
                s.split("::")
                    .map(|seg| {
                        seg.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|seg| !seg.is_empty())
                    .collect()
            };
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let p = ident(item.trim());
                    if !p.is_empty() {
                        out.push(p);
                    }
                }
            } else {
                let p = ident(rest);
                if !p.is_empty() {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// The module path of a source file: `room/mod.rs` is `room`, `lab/schedule.rs` is
/// `lab::schedule`, `lib.rs` is `lib`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The uses between units that break the floors, and the units no floor lists.
fn violations(
    src: &Path,
    units: &BTreeMap<String, u32>,
) -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let module = module_of(src, &f);
        if matches!(module.as_slice(), [m] if m == "lib" || m == "main") {
            continue;
        }
        let parts: Vec<&str> = module.iter().map(String::as_str).collect();
        let Some(unit) = unit_of(&parts, units) else {
            bad.push(format!(
                "{}: module {} is on no floor",
                f.display(),
                module.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        for p in crate_paths(&text) {
            let ps: Vec<&str> = p.iter().map(String::as_str).collect();
            let Some(dep) = unit_of(&ps, units) else {
                continue;
            };
            if dep == unit {
                continue;
            }
            if units[dep] > units[unit] {
                bad.push(format!(
                    "{}: `crate::{}` points up from {unit} (floor {}) to {dep} (floor {})",
                    f.display(),
                    p.join("::"),
                    units[unit],
                    units[dep]
                ));
            }
            graph
                .entry(unit.to_string())
                .or_default()
                .insert(dep.to_string());
        }
    }
    (bad, graph)
}

/// A cycle in `graph`, as the units around it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_uses_one_on_a_higher_floor_and_no_uses_go_round_a_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../ARCHITECTURE.md")).unwrap();
    let units = floors(&doc);
    assert!(units.len() > 20, "the floors list was read: {units:?}");
    let (bad, graph) = violations(&root.join("src"), &units);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        graph["checks"].contains("engine") && graph["cmd"].len() > 10,
        "the code was read: {graph:?}"
    );
    assert_eq!(cycle(&graph), None);
}

#[test]
fn the_floor_check_sees_an_upward_use_and_a_cycle() {
    let units = floors("## Floors\n- floor 0, low: `a`\n- floor 1, high: `b`, `b::c`\n");
    assert_eq!(units["b::c"], 1);
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.rs"),
        "use crate::{b::c::X, a};\n// crate::ignored\n",
    )
    .unwrap();
    std::fs::write(d.path().join("b.rs"), "fn f() { crate::a::g() }\n").unwrap();
    let (bad, graph) = violations(d.path(), &units);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].contains("points up from a (floor 0) to b::c"),
        "{bad:?}"
    );
    let mut g = graph.clone();
    g.entry("b::c".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert!(cycle(&g).is_some());
    assert_eq!(
        cycle(&BTreeMap::from([("a".to_string(), BTreeSet::new())])),
        None
    );
}
