//! `.dockerignore` read as the builder reads it (Docker's pattern matcher): one pattern a line,
//! `#` comments, paths cleaned and relative to the context root, `*` and `?` within one path
//! segment, `**` across any number of them, `[...]` classes, `\` escapes, `!` re-including.
//! The last pattern that matches a path decides, and a pattern that matches a directory
//! matches everything under it. So `*` then `!src` keeps only `src`, whatever else is listed.

/// At most this many patterns, of at most this many characters, are read.
const MAX_PATTERNS: usize = 1_000;
const MAX_PATTERN_CHARS: usize = 256;

/// One pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    glob: Vec<char>,
    /// `!pattern`: re-include what earlier lines excluded.
    pub negated: bool,
    /// As written, for messages.
    pub text: String,
}

/// The patterns of a `.dockerignore` text.
pub fn parse(text: &str) -> Vec<Pattern> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(MAX_PATTERNS)
        .filter_map(|l| {
            let (negated, body) = match l.strip_prefix('!') {
                Some(b) => (true, b.trim()),
                None => (false, l),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() || cleaned.chars().count() > MAX_PATTERN_CHARS {
                return None;
            }
            Some(Pattern {
                glob: cleaned.chars().collect(),
                negated,
                text: l.chars().take(MAX_PATTERN_CHARS).collect(),
            })
        })
        .collect()
}

/// A path cleaned as Go's `filepath.Clean` does, without the leading `/` (the context root).
fn clean(p: &str) -> String {
    crate::dockerfile::normalize_path(&format!("/{p}"))
        .trim_start_matches('/')
        .to_string()
}

/// Whether the builder leaves `path` (relative to the context root) out of the context.
pub fn excluded(patterns: &[Pattern], path: &str) -> bool {
    let path = clean(path);
    let mut out = false;
    for p in patterns {
        if matches_or_parent(p, &path) {
            out = !p.negated;
        }
    }
    out
}

/// The last pattern that decides `path`, if any.
pub fn decided_by<'a>(patterns: &'a [Pattern], path: &str) -> Option<&'a Pattern> {
    let path = clean(path);
    patterns.iter().rev().find(|p| matches_or_parent(p, &path))
}

fn matches_or_parent(p: &Pattern, path: &str) -> bool {
    let mut prefix = String::new();
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            prefix.push('/');
        }
        prefix.push_str(seg);
        if glob(&p.glob, &prefix.chars().collect::<Vec<_>>()) {
            return true;
        }
    }
    false
}

/// Glob matching by dynamic programming over (pattern index, path index): linear in their
/// product, whatever the pattern (a line of a hundred stars included).
fn glob(p: &[char], s: &[char]) -> bool {
    let (pn, sn) = (p.len(), s.len());
    // memo[i][j]: 0 unknown, 1 false, 2 true
    let mut memo = vec![0u8; (pn + 1) * (sn + 1)];
    fn go(p: &[char], s: &[char], i: usize, j: usize, memo: &mut [u8]) -> bool {
        let w = s.len() + 1;
        if memo[i * w + j] != 0 {
            return memo[i * w + j] == 2;
        }
        let r = if i == p.len() {
            j == s.len()
        } else {
            match p[i] {
                '*' if p.get(i + 1) == Some(&'*') => {
                    // `**` spans separators; `**/` may also match no directory at all.
                    let mut k = i + 2;
                    while p.get(k) == Some(&'*') {
                        k += 1;
                    }
                    let skip_slash = p.get(k) == Some(&'/');
                    (j..=s.len()).any(|m| {
                        go(p, s, k, m, memo)
                            || (skip_slash
                                && (m == j || s[m - 1] == '/')
                                && go(p, s, k + 1, m, memo))
                    })
                }
                '*' => {
                    let mut m = j;
                    loop {
                        if go(p, s, i + 1, m, memo) {
                            break true;
                        }
                        if m == s.len() || s[m] == '/' {
                            break false;
                        }
                        m += 1;
                    }
                }
                '?' => j < s.len() && s[j] != '/' && go(p, s, i + 1, j + 1, memo),
                '[' => match class(p, i, s.get(j).copied()) {
                    Some((true, next)) => go(p, s, next, j + 1, memo),
                    Some((false, _)) => false,
                    // An unclosed `[` is a plain character.
                    None => s.get(j) == Some(&'[') && go(p, s, i + 1, j + 1, memo),
                },
                '\\' if i + 1 < p.len() => {
                    s.get(j) == Some(&p[i + 1]) && go(p, s, i + 2, j + 1, memo)
                }
                c => s.get(j) == Some(&c) && go(p, s, i + 1, j + 1, memo),
            }
        };
        memo[i * w + j] = if r { 2 } else { 1 };
        r
    }
    go(p, s, 0, 0, &mut memo)
}

/// A `[...]` class at `p[i]` against `c`: whether it matches, and the index after it.
fn class(p: &[char], i: usize, c: Option<char>) -> Option<(bool, usize)> {
    let mut k = i + 1;
    let negate = matches!(p.get(k), Some('^') | Some('!'));
    if negate {
        k += 1;
    }
    let mut hit = false;
    let mut first = true;
    while k < p.len() && (p[k] != ']' || first) {
        first = false;
        let lo = p[k];
        if p.get(k + 1) == Some(&'-') && k + 2 < p.len() && p[k + 2] != ']' {
            if let Some(c) = c {
                hit |= lo <= c && c <= p[k + 2];
            }
            k += 3;
        } else {
            hit |= c == Some(lo);
            k += 1;
        }
    }
    if k >= p.len() {
        return None;
    }
    let c = c?;
    Some(((hit != negate) && c != '/', k + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, path: &str) -> bool {
        excluded(&parse(text), path)
    }

    #[test]
    fn names_stars_and_directories_as_the_builder_reads_them() {
        assert!(ex(".git\n", ".git"));
        assert!(
            ex(".git/\n", ".git/config"),
            "a directory's pattern covers what is in it"
        );
        assert!(ex("/.git\n", ".git"), "a leading slash is the context root");
        assert!(
            !ex("__pycache__\n", "src/__pycache__"),
            "a bare name is the root's only"
        );
        assert!(ex("**/__pycache__\n", "src/__pycache__"));
        assert!(
            ex("**/__pycache__\n", "__pycache__"),
            "**/ also matches no directory"
        );
        assert!(ex("*.pyc\n", "x.pyc") && !ex("*.pyc\n", "src/x.pyc"));
        assert!(ex("*/*.pyc\n", "src/x.pyc"));
        assert!(ex("v?nv\n", "venv") && ex("[._]venv\n", ".venv") && !ex("[!.]venv\n", ".venv"));
        assert!(ex("# a comment\n\n  .venv  \n", ".venv"));
        assert!(!ex("#.venv\n", ".venv"));
    }

    #[test]
    fn the_last_match_decides_and_an_ignore_everything_file_keeps_only_what_it_reincludes() {
        let all = "*\n!src\n!requirements.txt\n!pyproject.toml\n";
        assert!(ex(all, ".git") && ex(all, ".venv") && ex(all, "venv"));
        assert!(!ex(all, "src/main.py") && !ex(all, "requirements.txt"));
        assert!(!ex(".venv\n!.venv\n", ".venv"));
        assert!(ex("!.venv\n.venv\n", ".venv"));
        assert_eq!(
            decided_by(&parse(all), ".git").map(|p| p.text.as_str()),
            Some("*")
        );
    }

    #[test]
    fn hostile_patterns_are_bounded() {
        let stars = "*".repeat(200) + "a";
        assert!(!ex(&stars, &"b".repeat(200)));
        let t = "x\n".repeat(5_000);
        assert_eq!(parse(&t).len(), MAX_PATTERNS);
        assert!(!ex("[abc\n", "a") && ex("[abc\n", "[abc"));
        assert!(parse(&"a".repeat(300)).is_empty());
    }
}
