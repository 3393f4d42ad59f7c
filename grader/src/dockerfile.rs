//! A Dockerfile read for meaning: the final stage's instructions as plain facts with their
//! `line:column`, parsed by `parse-dockerfile` (heredocs, `# escape=`, JSON vs shell form) after
//! removing what Docker itself ignores (a UTF-8 BOM, CRLF line ends).
//!
//! The `dockerfile` check grades these facts against the lesson; the `image` check compares
//! them with the built image's config.

use std::path::Path;

use parse_dockerfile::{Command, Instruction, Source};

/// Where something is in the Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One `ENV` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
    pub pos: Pos,
    /// Written in the legacy `ENV KEY value` form.
    pub legacy: bool,
}

/// A `CMD` (or `ENTRYPOINT`).
#[derive(Debug, Clone, PartialEq)]
pub struct CmdFact {
    /// JSON array (exec form) rather than a shell string.
    pub exec: bool,
    /// The array's elements, or the shell string as one element.
    pub args: Vec<String>,
    pub pos: Pos,
}

/// A `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyFact {
    pub sources: Vec<String>,
    pub dest: String,
    pub pos: Pos,
    /// Index among the stage's instructions (for order checks).
    pub index: usize,
}

/// A `RUN`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFact {
    pub text: String,
    pub pos: Pos,
    pub index: usize,
}

/// What the final stage of a Dockerfile says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The final stage's `FROM` image.
    pub from: Option<(String, Pos)>,
    /// The last `WORKDIR`, with every WORKDIR seen.
    pub workdirs: Vec<(String, Pos, usize)>,
    pub env: Vec<EnvVar>,
    pub expose: Vec<(String, Pos)>,
    pub cmd: Option<CmdFact>,
    pub entrypoint: Option<CmdFact>,
    pub copies: Vec<CopyFact>,
    pub runs: Vec<RunFact>,
    /// Lines of `# hadolint ignore=...` (and `global ignore`) comments: they silence a linter,
    /// never the builder, so a finding under one still stands.
    pub lint_pragmas: Vec<(usize, String)>,
    /// The `# syntax=` parser directive's frontend image and its line, when there is one:
    /// BuildKit pulls that image (from Docker Hub unless it names another registry) before it
    /// reads the rest, so an offline build fails on it.
    pub syntax: Option<(String, usize)>,
}

/// The `# syntax=IMAGE` parser directive, as BuildKit reads directives: only in the comment
/// lines at the very top (a blank line, an instruction or a comment that is not `key=value`
/// ends them), the key case-insensitive, spaces around `=` allowed.
pub fn syntax_directive(text: &str) -> Option<(String, usize)> {
    for (i, line) in normalize(text).lines().take(100).enumerate() {
        let rest = line.trim().strip_prefix('#')?;
        let (k, v) = rest.split_once('=')?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.contains(char::is_whitespace) {
            return None;
        }
        if k.eq_ignore_ascii_case("syntax") && !v.is_empty() {
            return Some((v.chars().take(200).collect(), i + 1));
        }
    }
    None
}

/// A Dockerfile Docker would refuse.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub pos: Pos,
}

/// Text as Docker reads it: no BOM, LF line ends (line numbers are unchanged).
pub fn normalize(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

/// Byte offset to `line:column`, in O(log n) per lookup (a table of line starts), so a huge
/// Dockerfile is parsed in linear time.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }
    fn pos(&self, offset: usize) -> Pos {
        let line = self.0.partition_point(|&s| s <= offset).max(1);
        Pos {
            line,
            column: offset - self.0[line - 1] + 1,
        }
    }
}

/// Whether a character may be in a variable name (`$NAME`): ASCII letters, digits and `_`.
pub fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The variable name that starts at `b[start]`, and the index just past it.
pub fn name_at(b: &[char], start: usize) -> (String, usize) {
    let end = b[start..]
        .iter()
        .position(|&c| !is_name(c))
        .map_or(b.len(), |p| start + p);
    (b[start..end].iter().collect(), end)
}

/// Expand `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` as the builder does, from
/// the variables in scope (ARG and ENV); `\$` stays a literal `$`. Unknown names expand to
/// nothing, like the builder's.
pub fn expand(s: &str, vars: &std::collections::HashMap<String, String>) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let b: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' if b.get(i + 1) == Some(&'$') => {
                out.push('$');
                i += 2;
            }
            '$' if b.get(i + 1) == Some(&'{') => {
                let Some(close) = b[i + 2..].iter().position(|&c| c == '}') else {
                    out.extend(&b[i..]);
                    break;
                };
                let inner: String = b[i + 2..i + 2 + close].iter().collect();
                let value = if let Some((name, word)) = inner.split_once(":-") {
                    match vars.get(name).filter(|v| !v.is_empty()) {
                        Some(v) => v.clone(),
                        None => expand(word, vars),
                    }
                } else if let Some((name, word)) = inner.split_once(":+") {
                    match vars.get(name).filter(|v| !v.is_empty()) {
                        Some(_) => expand(word, vars),
                        None => String::new(),
                    }
                } else {
                    vars.get(&inner).cloned().unwrap_or_default()
                };
                out.push_str(&value);
                i += close + 3;
            }
            '$' if b.get(i + 1).is_some_and(|&c| is_name(c)) => {
                let (name, end) = name_at(&b, i + 1);
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `ARG` arguments: `NAME` or `NAME=default`, several per line.
fn arg_pairs(args: &str) -> Vec<(String, Option<String>)> {
    shell_words(args)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

fn command(lines: &Lines, cmd: &Command<'_>, keyword_start: usize) -> CmdFact {
    let pos = lines.pos(keyword_start);
    match cmd {
        Command::Exec(a) => CmdFact {
            exec: true,
            args: a.value.iter().map(|s| s.value.to_string()).collect(),
            pos,
        },
        Command::Shell(s) => CmdFact {
            exec: false,
            args: vec![s.value.trim().to_string()],
            pos,
        },
        _ => CmdFact {
            exec: false,
            args: vec![],
            pos,
        },
    }
}

/// Split `ENV` arguments into pairs: `K=V K2="v 2"` or the legacy `K value with spaces`.
pub fn split_env(args: &str) -> (Vec<(String, String)>, bool) {
    let args = args.trim();
    let first_word = args.split_whitespace().next().unwrap_or("");
    if !first_word.contains('=') {
        // Legacy form: one pair, the rest of the line is the value.
        let (k, v) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        return (vec![(k.to_string(), unquote(v.trim()))], true);
    }
    let mut pairs = Vec::new();
    for word in shell_words(args) {
        if let Some((k, v)) = word.split_once('=') {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    (pairs, false)
}

fn unquote(s: &str) -> String {
    shell_words(s).join(" ")
}

/// Split on unquoted whitespace, removing quotes and backslash escapes.
pub fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Parse Dockerfile text into the final stage's facts, as the builder sees them: ARG values
/// expanded (global ones in `FROM`, a stage's ARG and ENV values in its instructions), and a
/// `FROM <stage>` starting from that stage's facts, so `FROM python:3.9-slim AS base` then
/// `FROM base` has the base image and everything `base` set up.
pub fn parse(raw: &str) -> Result<Facts, ParseError> {
    use std::collections::HashMap;
    let text = normalize(raw);
    let df = parse_dockerfile::parse(&text).map_err(|e| ParseError {
        message: e.to_string(),
        pos: Pos {
            line: e.line().max(1),
            column: e.column().max(1),
        },
    })?;
    if df.instructions.is_empty() {
        return Err(ParseError {
            message: "the Dockerfile has no instructions (it is empty or only comments)".into(),
            pos: Pos { line: 1, column: 1 },
        });
    }
    let lines = Lines::new(&text);
    let syntax = syntax_directive(&text);
    // Global ARGs (before the first FROM), usable in FROM lines and redeclared in stages.
    let mut global: HashMap<String, String> = HashMap::new();
    // Each named stage's facts and variables (ARG and ENV values), for `FROM <stage>`.
    let mut stages: HashMap<String, (Facts, HashMap<String, String>)> = HashMap::new();
    let mut facts = Facts::default();
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut stage_name: Option<String> = None;
    let mut in_stage = false;
    let mut cmd_set_here = false;
    let save = |stages: &mut HashMap<String, (Facts, HashMap<String, String>)>,
                name: &Option<String>,
                facts: &Facts,
                vars: &HashMap<String, String>| {
        if let Some(n) = name {
            stages.insert(n.to_ascii_lowercase(), (facts.clone(), vars.clone()));
        }
    };
    for (index, inst) in df.instructions.iter().enumerate() {
        match inst {
            Instruction::Arg(a) => {
                for (k, v) in arg_pairs(&a.arguments.value) {
                    if !in_stage {
                        global.insert(k, v.map(|v| expand(&v, &global)).unwrap_or_default());
                    } else {
                        let value = match v {
                            Some(v) => expand(&v, &vars),
                            None => global.get(&k).cloned().unwrap_or_default(),
                        };
                        // An ENV of the same name wins over the ARG, as in the builder.
                        vars.entry(k).or_insert(value);
                    }
                }
            }
            Instruction::From(f) => {
                save(&mut stages, &stage_name, &facts, &vars);
                in_stage = true;
                let image = expand(&f.image.value, &global);
                let pos = lines.pos(f.from.span.start);
                (facts, vars) = match stages.get(&image.to_ascii_lowercase()) {
                    // A new stage on top of an earlier one: it inherits what that one set.
                    Some((inherited, v)) => (inherited.clone(), v.clone()),
                    None => (
                        Facts {
                            from: Some((image, pos)),
                            ..Facts::default()
                        },
                        HashMap::new(),
                    ),
                };
                stage_name = f.as_.as_ref().map(|(_, n)| n.value.to_string());
                cmd_set_here = false;
            }
            Instruction::Workdir(w) => facts.workdirs.push((
                expand(w.arguments.value.trim(), &vars),
                lines.pos(w.workdir.span.start),
                index,
            )),
            Instruction::Env(e) => {
                let (pairs, legacy) = split_env(&e.arguments.value);
                for (key, value) in pairs {
                    let value = expand(&value, &vars);
                    vars.insert(key.clone(), value.clone());
                    facts.env.push(EnvVar {
                        key,
                        value,
                        pos: lines.pos(e.env.span.start),
                        legacy,
                    });
                }
            }
            Instruction::Expose(x) => {
                for a in &x.arguments {
                    facts
                        .expose
                        .push((expand(&a.value, &vars), lines.pos(x.expose.span.start)));
                }
            }
            Instruction::Cmd(c) => {
                facts.cmd = Some(command(&lines, &c.arguments, c.cmd.span.start));
                cmd_set_here = true;
            }
            Instruction::Entrypoint(c) => {
                facts.entrypoint = Some(command(&lines, &c.arguments, c.entrypoint.span.start));
                // The builder resets a CMD inherited from an earlier stage when ENTRYPOINT is set.
                if !cmd_set_here {
                    facts.cmd = None;
                }
            }
            Instruction::Copy(c) => facts.copies.push(CopyFact {
                sources: sources(&c.src),
                dest: expand(&c.dest.value, &vars),
                pos: lines.pos(c.copy.span.start),
                index,
            }),
            Instruction::Add(c) => facts.copies.push(CopyFact {
                sources: sources(&c.src),
                dest: expand(&c.dest.value, &vars),
                pos: lines.pos(c.add.span.start),
                index,
            }),
            Instruction::Run(r) => {
                let mut body = match &r.arguments {
                    Command::Exec(a) => a
                        .value
                        .iter()
                        .map(|s| s.value.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    Command::Shell(s) => s.value.to_string(),
                    _ => String::new(),
                };
                for h in &r.here_docs {
                    body.push('\n');
                    body.push_str(&h.value);
                }
                facts.runs.push(RunFact {
                    text: body,
                    pos: lines.pos(r.run.span.start),
                    index,
                });
            }
            _ => {}
        }
    }
    facts.lint_pragmas = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let body = l.trim_start().strip_prefix('#')?.trim();
            let rest = body.strip_prefix("hadolint")?.trim_start();
            (rest.starts_with("ignore=") || rest.starts_with("global ignore="))
                .then(|| (i + 1, body.chars().take(120).collect()))
        })
        .take(100)
        .collect();
    facts.syntax = syntax;
    Ok(facts)
}

fn sources(src: &[Source<'_>]) -> Vec<String> {
    src.iter()
        .map(|s| match s {
            Source::Path(p) => p.value.to_string(),
            _ => "<<heredoc>>".to_string(),
        })
        .collect()
}

/// Read (bounded: a regular file inside the workspace, at most
/// [`crate::bounded::MAX_SPEC_FILE`]) and parse `dir/Dockerfile`. `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<Result<Facts, ParseError>>, crate::bounded::ReadError> {
    use crate::bounded::{read_text, ReadError, MAX_SPEC_FILE};
    match read_text(&dir.join("Dockerfile"), MAX_SPEC_FILE, Some(dir)) {
        Ok(text) => Ok(Some(parse(&text))),
        Err(ReadError::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod syntax_tests {
    use super::syntax_directive;

    #[test]
    fn the_syntax_directive_is_read_only_where_buildkit_reads_it() {
        let d = syntax_directive;
        assert_eq!(
            d("# syntax=docker/dockerfile:1\nFROM x\n"),
            Some(("docker/dockerfile:1".into(), 1))
        );
        assert_eq!(
            d("\u{feff}# escape=`\r\n#   SYNTAX = docker/dockerfile:1.7\r\nFROM x\n"),
            Some(("docker/dockerfile:1.7".into(), 2))
        );
        // After a blank line, an instruction or a plain comment it is only a comment.
        assert_eq!(d("\n# syntax=docker/dockerfile:1\nFROM x\n"), None);
        assert_eq!(d("FROM x\n# syntax=docker/dockerfile:1\n"), None);
        assert_eq!(d("# the app\n# syntax=docker/dockerfile:1\nFROM x\n"), None);
        assert_eq!(d("# syntax=\nFROM x\n"), None);
    }
}

/// An absolute path with `.`, `..` and repeated or trailing slashes resolved, as the builder
/// resolves WORKDIR.
pub fn normalize_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Facts {
    /// The effective working directory (last absolute WORKDIR; relative ones append),
    /// normalized as a path: `/app/`, `/app/.` and `/srv/../app` are all `/app`.
    pub fn workdir(&self) -> Option<String> {
        let mut cur: Option<String> = None;
        for (w, _, _) in &self.workdirs {
            cur = Some(if w.starts_with('/') {
                w.clone()
            } else {
                format!("{}/{}", cur.unwrap_or_default().trim_end_matches('/'), w)
            });
        }
        cur.map(|p| normalize_path(&p))
    }

    /// The process the image runs: ENTRYPOINT's exec form followed by CMD's, as the engine
    /// composes them. `None` when neither is set; `Some((false, ..))` when a shell form is
    /// involved (then the engine runs `/bin/sh -c`).
    pub fn process(&self) -> Option<(bool, Vec<String>)> {
        match (&self.entrypoint, &self.cmd) {
            (None, None) => None,
            (None, Some(c)) => Some((c.exec, c.args.clone())),
            // A shell-form ENTRYPOINT ignores CMD.
            (Some(e), _) if !e.exec => Some((false, e.args.clone())),
            (Some(e), None) => Some((true, e.args.clone())),
            (Some(e), Some(c)) => {
                let mut all = e.args.clone();
                all.extend(c.args.iter().cloned());
                Some((c.exec, all))
            }
        }
    }

    /// The final value of each ENV key.
    pub fn env_value(&self, key: &str) -> Option<&EnvVar> {
        self.env.iter().rev().find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESSON: &str = "FROM python:3.9-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nENV FLASK_APP=src/main.py\nENV FLASK_ENV=development\nENV PYTHONPATH=/app\nEXPOSE 5000\nCMD [\"gunicorn\",\"--bind\",\"0.0.0.0:5000\",\"src.main:app\"]\n";

    #[test]
    fn reads_the_lesson_dockerfile() {
        let f = parse(LESSON).unwrap();
        assert_eq!(f.from.as_ref().unwrap().0, "python:3.9-slim");
        assert_eq!(f.workdir().as_deref(), Some("/app"));
        assert_eq!(f.env_value("PYTHONPATH").unwrap().value, "/app");
        assert_eq!(
            f.env_value("FLASK_APP").unwrap().pos,
            Pos { line: 6, column: 1 }
        );
        let cmd = f.cmd.unwrap();
        assert!(cmd.exec);
        assert_eq!(
            cmd.args,
            ["gunicorn", "--bind", "0.0.0.0:5000", "src.main:app"]
        );
        assert_eq!(cmd.pos.line, 10);
        assert_eq!(f.copies.len(), 2);
        assert_eq!(f.expose[0].0, "5000");
    }

    #[test]
    fn bom_and_crlf_are_accepted_like_docker_does() {
        let crlf = format!("\u{feff}{}", LESSON.replace('\n', "\r\n"));
        assert_eq!(parse(&crlf).unwrap(), parse(LESSON).unwrap());
    }

    #[test]
    fn single_quoted_cmd_is_shell_form() {
        let f = parse("FROM x\nCMD ['gunicorn', 'src.main:app']\n").unwrap();
        assert!(!f.cmd.unwrap().exec);
    }

    #[test]
    fn env_forms() {
        assert_eq!(
            split_env("A=1 B=\"two words\""),
            (
                vec![("A".into(), "1".into()), ("B".into(), "two words".into())],
                false
            )
        );
        assert_eq!(
            split_env("PYTHONPATH /app"),
            (vec![("PYTHONPATH".into(), "/app".into())], true)
        );
    }

    #[test]
    fn only_the_final_stage_counts() {
        let f =
            parse("FROM golang AS b\nWORKDIR /src\nFROM python:3.9-slim\nWORKDIR /app\n").unwrap();
        assert_eq!(f.from.unwrap().0, "python:3.9-slim");
        assert_eq!(f.workdirs.len(), 1);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("FROM python:3.9-slim\nCOPY\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{e:?}");
    }
}
