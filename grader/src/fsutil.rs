//! Files the program writes: atomically (a reader sees the old content or the new, never half,
//! and no temporary file is left), and under a lock where a file is read, changed and written
//! back by processes that may run at once (a `lab check` and a `lab watch` in one workspace).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long [`with_lock`] waits for another process before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A temporary name next to `path`, unique to this process and this call.
fn temp_name(path: &Path) -> PathBuf {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Write `bytes` to `path` atomically: a new temporary file next to it, flushed to disk,
/// renamed over it, the directory flushed too. On failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_name(path);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Best effort: the rename itself is durable once the directory is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Run `f` holding an exclusive lock on `path`'s lock file (`PATH.lock`, made if missing and
/// left in place), so a read-change-write of `path` by two processes cannot lose an update.
/// Waits up to 5 s for another holder, then says so.
pub fn with_lock<T>(path: &Path, f: impl FnOnce() -> T) -> std::io::Result<T> {
    use std::os::unix::io::AsRawFd;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let lock = path.with_file_name(format!("{name}.lock"));
    if let Some(d) = lock.parent() {
        std::fs::create_dir_all(d)?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)?;
    let start = Instant::now();
    // SAFETY: flock on a descriptor this function owns; the lock ends when `file` closes.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if start.elapsed() > LOCK_WAIT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("{} is held by another lab process", lock.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = f();
    drop(file);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"22").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"22");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.json"]);
        // A directory that does not exist is an error, and still leaves nothing.
        assert!(write_atomic(&d.path().join("no/such.json"), b"x").is_err());
        assert_ne!(temp_name(&p), temp_name(&p), "unique per call");
    }

    #[test]
    fn the_lock_serialises_read_change_write_across_threads() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("n");
        std::fs::write(&p, "0").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        with_lock(&p, || {
                            let n: u32 = std::fs::read_to_string(&p).unwrap().parse().unwrap();
                            write_atomic(&p, (n + 1).to_string().as_bytes()).unwrap();
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "100");
    }
}
