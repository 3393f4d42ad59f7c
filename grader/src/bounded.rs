//! Everything the learner controls is hostile until bounded, and this module is where the bounds
//! live: files in the workspace (and in a venv), the output of the learner's programs, and the
//! text that reaches a terminal. HTTP bodies, container logs and registry answers are bounded
//! where they are read (`http.rs`, `engine/docker.rs`, `registry.rs`) with the limits below.
//!
//! - A file is opened only when, after following symlinks, it is a regular file: a FIFO or a
//!   device is refused before `open` could block or stream forever, and the size is checked
//!   before and while reading.
//! - A file the learner wrote is read only from inside the workspace: a `Dockerfile` that is a
//!   symlink to `/etc/shadow` is named, never read, so nothing of it can be echoed.
//! - A child process runs in its own process group, its output is read up to a limit, and the
//!   whole group is killed at the deadline (or when the future is dropped on Ctrl-C).
//! - Control characters are escaped before text reaches a terminal (the report data keeps
//!   them as they are).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest Dockerfile, compose file or `.dockerignore` read (a real one is a few KiB).
pub const MAX_SPEC_FILE: u64 = 1024 * 1024;
/// The largest workspace source file compared with the image's copy.
pub const MAX_SOURCE_FILE: u64 = 8 * 1024 * 1024;
/// The most output kept from a learner's program (the Python inspection prints ~1 KiB).
pub const MAX_PROCESS_OUTPUT: usize = 256 * 1024;
/// The most read of an HTTP answer from the learner's app.
pub const MAX_HTTP_BODY: usize = 256 * 1024;
/// The most read of a container's log tail.
pub const MAX_LOG: usize = 64 * 1024;

/// The longest `detail` of a check result (a log tail), so a report stays well under the
/// room server's 256 KiB body limit.
pub const MAX_DETAIL: usize = 4 * 1024;

/// Why a learner's file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("{} is {kind}, not a regular file; make it a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is {size} bytes, over the limit of {limit} bytes for this file; is it the right file?", path.display())]
    TooBig {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{} leads outside the workspace (to {}); docker build only sees the workspace: put the real file here", path.display(), target.display())]
    Outside { path: PathBuf, target: PathBuf },
    #[error("{} is not text (UTF-8); write it with a text editor", .0.display())]
    NotText(PathBuf),
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Read a file of at most `limit` bytes. `within`: the directory it must resolve inside (the
/// workspace), or `None` for files that legitimately live elsewhere (a venv's metadata).
pub fn read_file(path: &Path, limit: u64, within: Option<&Path>) -> Result<Vec<u8>, ReadError> {
    let io = |e: std::io::Error| ReadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // `metadata` follows symlinks (a venv's files may be links) without opening anything.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReadError::Missing(path.to_path_buf()))
        }
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    if let Some(root) = within {
        let target = path.canonicalize().map_err(io)?;
        let root = root.canonicalize().map_err(io)?;
        if !target.starts_with(&root) {
            return Err(ReadError::Outside {
                path: path.to_path_buf(),
                target,
            });
        }
    }
    if meta.len() > limit {
        return Err(ReadError::TooBig {
            path: path.to_path_buf(),
            size: meta.len(),
            limit,
        });
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        // Should the file be swapped for a FIFO after the check, open still cannot block.
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooBig {
            path: path.to_path_buf(),
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// The last `max` bytes of a log file the grader itself wrote from a learner's program (as
/// lossy UTF-8); empty when it cannot be read.
pub fn read_tail(path: &Path, max: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Read a text file (UTF-8) of at most `limit` bytes; see [`read_file`].
pub fn read_text(path: &Path, limit: u64, within: Option<&Path>) -> Result<String, ReadError> {
    let bytes = read_file(path, limit, within)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotText(path.to_path_buf()))
}

/// What a bounded child process did.
#[derive(Debug)]
pub struct Finished {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when the output went past the limit (the process was then killed).
    pub truncated: bool,
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
}

/// Run a learner's program: in its own process group, its stdout and stderr read up to `limit`
/// bytes each, the whole group killed at `deadline`, on too much output, or when this future
/// is dropped (Ctrl-C). `Err` says what went wrong in words.
pub async fn run(
    mut cmd: tokio::process::Command,
    limit: usize,
    deadline: Duration,
) -> Result<Finished, String> {
    use tokio::io::AsyncReadExt;
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let group = GroupGuard(child.id());
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    // Read both streams until both end, or either passes the limit (then stop at once: a
    // program flooding stdout need never close stderr).
    let read = async {
        let mut o = Vec::new();
        let mut e = Vec::new();
        let (mut bo, mut be) = ([0u8; 8192], [0u8; 8192]);
        let (mut o_done, mut e_done) = (false, false);
        while !(o_done && e_done) && o.len() <= limit && e.len() <= limit {
            tokio::select! {
                r = out.read(&mut bo), if !o_done => match r.map_err(|x| x.to_string())? {
                    0 => o_done = true,
                    n => o.extend_from_slice(&bo[..n]),
                },
                r = err.read(&mut be), if !e_done => match r.map_err(|x| x.to_string())? {
                    0 => e_done = true,
                    n => e.extend_from_slice(&be[..n]),
                },
            }
        }
        Ok::<_, String>((o, e))
    };
    let (mut o, mut e) = match tokio::time::timeout(deadline, read).await {
        Ok(r) => r?,
        Err(_) => {
            drop(group);
            return Err(format!(
                "it did not finish within {:.1} s and was stopped",
                deadline.as_secs_f64()
            ));
        }
    };
    let truncated = o.len() > limit || e.len() > limit;
    if truncated {
        drop(group);
        o.truncate(limit);
        e.truncate(limit);
        let _ = child.wait().await;
        return Ok(Finished {
            code: None,
            stdout: o,
            stderr: e,
            truncated,
        });
    }
    let status = match tokio::time::timeout(deadline, child.wait()).await {
        Ok(s) => s.map_err(|x| x.to_string())?,
        Err(_) => {
            drop(group);
            return Err(format!(
                "it did not exit within {:.1} s and was stopped",
                deadline.as_secs_f64()
            ));
        }
    };
    // The program is done; anything it left running in its group goes too.
    drop(group);
    Ok(Finished {
        code: status.code(),
        stdout: o,
        stderr: e,
        truncated,
    })
}

/// Kills a process group when dropped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.0.take() {
            // SAFETY: killpg with a group id we created (process_group(0) makes pid the pgid).
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Text safe for a terminal: control characters (ESC, BEL, ...) other than newline and tab
/// are shown as `\u{1b}`-style escapes, so a learner's file cannot drive the terminal.
pub fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// At most `max` bytes of `s`, cut at a character boundary, keeping the end (the last lines
/// of a log say most), with a note of what was cut.
pub fn cap_tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {start} bytes cut ...]\n{}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_workspace_within_the_limit_are_read() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path();
        std::fs::write(ws.join("Dockerfile"), "FROM x\n").unwrap();
        assert_eq!(
            read_text(&ws.join("Dockerfile"), 100, Some(ws)).unwrap(),
            "FROM x\n"
        );
        assert!(matches!(
            read_text(&ws.join("Dockerfile"), 3, Some(ws)),
            Err(ReadError::TooBig { .. })
        ));
        assert!(matches!(
            read_file(&ws.join("nope"), 3, Some(ws)),
            Err(ReadError::Missing(_))
        ));
        std::fs::create_dir(ws.join("dir")).unwrap();
        let e = read_file(&ws.join("dir"), 3, Some(ws)).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", ws.join("zero")).unwrap();
            let e = read_file(&ws.join("zero"), 1 << 20, None).unwrap_err();
            assert!(e.to_string().contains("a device"), "{e}");
            let fifo = std::ffi::CString::new(ws.join("fifo").to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid path.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
            let e = read_file(&ws.join("fifo"), 100, Some(ws)).unwrap_err();
            assert!(e.to_string().contains("FIFO"), "{e}");
            let outside = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(outside.path(), "secret").unwrap();
            std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
            let e = read_text(&ws.join("link"), 100, Some(ws)).unwrap_err();
            assert!(e.to_string().contains("outside the workspace"), "{e}");
            assert!(!e.to_string().contains("secret"));
            // Without a root (a venv's file), a symlink to a regular file is fine.
            assert_eq!(read_text(&ws.join("link"), 100, None).unwrap(), "secret");
        }
        std::fs::write(ws.join("bin"), [0xff, 0xfe, 0]).unwrap();
        assert!(matches!(
            read_text(&ws.join("bin"), 100, Some(ws)),
            Err(ReadError::NotText(_))
        ));
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal_and_tails_are_capped() {
        assert_eq!(escape_control("a\tb\nc"), "a\tb\nc");
        assert_eq!(escape_control("x\u{1b}[2Jy\u{7}"), "x\\u{1b}[2Jy\\u{7}");
        let long = "é".repeat(100);
        let t = cap_tail(&long, 11);
        assert!(t.ends_with("éééé"), "{t}");
        assert!(t.starts_with("[... "), "{t}");
    }

    #[tokio::test]
    async fn a_program_is_bounded_in_output_and_time_and_its_group_dies() {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg("yes");
        let f = run(c, 1000, Duration::from_secs(5)).await.unwrap();
        assert!(f.truncated);
        assert_eq!(f.stdout.len(), 1000);

        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("pid");
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        let e = run(c, 1000, Duration::from_millis(500)).await.unwrap_err();
        assert!(e.contains("within 0.5 s"), "{e}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild was in the group: it is gone (or a zombie about to be reaped).
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "grandchild {pid} survived the deadline");

        let mut c = tokio::process::Command::new("false");
        c.arg("x");
        let f = run(c, 1000, Duration::from_secs(5)).await.unwrap();
        assert_eq!(f.code, Some(1));
    }
}
