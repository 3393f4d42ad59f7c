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

fn pos_of(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Pos { line, column }
}

fn command(text: &str, cmd: &Command<'_>, keyword_start: usize) -> CmdFact {
    match cmd {
        Command::Exec(a) => CmdFact {
            exec: true,
            args: a.value.iter().map(|s| s.value.to_string()).collect(),
            pos: pos_of(text, keyword_start),
        },
        Command::Shell(s) => CmdFact {
            exec: false,
            args: vec![s.value.trim().to_string()],
            pos: pos_of(text, keyword_start),
        },
        _ => CmdFact {
            exec: false,
            args: vec![],
            pos: pos_of(text, keyword_start),
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
fn shell_words(s: &str) -> Vec<String> {
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

/// Parse Dockerfile text into the final stage's facts.
pub fn parse(raw: &str) -> Result<Facts, ParseError> {
    let text = normalize(raw);
    let df = parse_dockerfile::parse(&text).map_err(|e| ParseError {
        message: e.to_string(),
        pos: Pos {
            line: e.line(),
            column: e.column(),
        },
    })?;
    let mut facts = Facts::default();
    for (index, inst) in df.instructions.iter().enumerate() {
        match inst {
            Instruction::From(f) => {
                // A new stage starts: only the final stage makes the image.
                facts = Facts {
                    from: Some((f.image.value.to_string(), pos_of(&text, f.from.span.start))),
                    ..Facts::default()
                };
            }
            Instruction::Workdir(w) => facts.workdirs.push((
                w.arguments.value.trim().to_string(),
                pos_of(&text, w.workdir.span.start),
                index,
            )),
            Instruction::Env(e) => {
                let (pairs, legacy) = split_env(&e.arguments.value);
                for (key, value) in pairs {
                    facts.env.push(EnvVar {
                        key,
                        value,
                        pos: pos_of(&text, e.env.span.start),
                        legacy,
                    });
                }
            }
            Instruction::Expose(x) => {
                for a in &x.arguments {
                    facts
                        .expose
                        .push((a.value.to_string(), pos_of(&text, x.expose.span.start)));
                }
            }
            Instruction::Cmd(c) => facts.cmd = Some(command(&text, &c.arguments, c.cmd.span.start)),
            Instruction::Entrypoint(c) => {
                facts.entrypoint = Some(command(&text, &c.arguments, c.entrypoint.span.start))
            }
            Instruction::Copy(c) => facts.copies.push(CopyFact {
                sources: sources(&c.src),
                dest: c.dest.value.to_string(),
                pos: pos_of(&text, c.copy.span.start),
                index,
            }),
            Instruction::Add(c) => facts.copies.push(CopyFact {
                sources: sources(&c.src),
                dest: c.dest.value.to_string(),
                pos: pos_of(&text, c.add.span.start),
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
                    pos: pos_of(&text, r.run.span.start),
                    index,
                });
            }
            _ => {}
        }
    }
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

/// Read and parse `dir/Dockerfile`. `Ok(None)` when there is no Dockerfile.
pub fn read(dir: &Path) -> std::io::Result<Option<Result<Facts, ParseError>>> {
    match std::fs::read_to_string(dir.join("Dockerfile")) {
        Ok(text) => Ok(Some(parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Facts {
    /// The effective working directory (last absolute WORKDIR; relative ones append).
    pub fn workdir(&self) -> Option<String> {
        let mut cur: Option<String> = None;
        for (w, _, _) in &self.workdirs {
            cur = Some(if w.starts_with('/') {
                w.clone()
            } else {
                format!("{}/{}", cur.unwrap_or_default().trim_end_matches('/'), w)
            });
        }
        cur
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
