//! The room's secrets on disk (the instructor's token, the join code) and its LAN address.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The room's secrets and address, made on first start and reused after.
pub struct RoomFiles {
    pub dir: PathBuf,
    pub instructor_token: String,
    pub join_code: String,
}

/// 128 bits from the OS, as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A join code short enough for a whiteboard: six characters from an alphabet without
/// look-alikes (no 0/O, 1/I/L).
pub fn random_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

impl RoomFiles {
    /// Read `DIR/instructor-token` and `DIR/join-code`, or write them (the token mode 0600).
    pub fn open_or_create(dir: &Path) -> std::io::Result<RoomFiles> {
        std::fs::create_dir_all(dir)?;
        let read_or =
            |name: &str, make: &dyn Fn() -> String, private: bool| -> std::io::Result<String> {
                let p = dir.join(name);
                match crate::bounded::read_text(&p, 1024, None) {
                    Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
                    _ => {
                        let v = make();
                        let mut opts = std::fs::OpenOptions::new();
                        opts.write(true).create(true).truncate(true);
                        #[cfg(unix)]
                        if private {
                            use std::os::unix::fs::OpenOptionsExt;
                            opts.mode(0o600);
                        }
                        let _ = private;
                        use std::io::Write;
                        opts.open(&p)?.write_all(format!("{v}\n").as_bytes())?;
                        Ok(v)
                    }
                }
            };
        Ok(RoomFiles {
            dir: dir.to_path_buf(),
            instructor_token: read_or("instructor-token", &random_token, true)?,
            join_code: read_or("join-code", &random_code, false)?,
        })
    }
}

/// This machine's address on the LAN, for the join command (no packet is sent).
pub fn lan_address() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_codes_are_random_and_readable() {
        assert_eq!(random_token().len(), 32);
        assert_ne!(random_token(), random_token());
        let code = random_code();
        assert_eq!(code.len(), 6);
        assert!(!code.contains(['0', 'O', '1', 'I']));
    }

    #[test]
    fn the_files_are_made_once_and_read_after() {
        let d = tempfile::tempdir().unwrap();
        let a = RoomFiles::open_or_create(d.path()).unwrap();
        let b = RoomFiles::open_or_create(d.path()).unwrap();
        assert_eq!(a.instructor_token, b.instructor_token);
        assert_eq!(a.join_code, b.join_code);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(d.path().join("instructor-token")).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }
}
