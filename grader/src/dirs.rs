//! Where the program keeps things (the state and cache directories) and the clock it stamps
//! them with.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where state files live: `$SRE_LAB_STATE_DIR`, `$XDG_STATE_HOME/sre-lab`, or
/// `~/.local/state/sre-lab`. An empty or relative value is ignored (it would write progress
/// into whatever directory `lab` runs in, a workspace included).
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SRE_LAB_STATE_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return d;
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return d.join("sre-lab");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/sre-lab")
}

/// Where caches live (content-addressed, safe to delete): `$XDG_CACHE_HOME/sre-lab`, or
/// `~/.cache/sre-lab`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return d.join("sre-lab");
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/sre-lab")
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
