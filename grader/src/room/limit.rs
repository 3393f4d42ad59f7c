//! Rate limits (token buckets per key) and the client's address they key joins by.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::error::ApiError;
use super::tls;

/// The client's address, for the per-address join limit; for plain and TLS listeners alike.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        PeerAddr(*s.remote_addr())
    }
}

/// Token buckets: `rate` per second, up to `burst`.
pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Vec<u8>, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(rate: f64, burst: f64) -> Limiter {
        Limiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when `key` may go now, else how many seconds until it may.
    pub fn check(&self, key: &[u8]) -> Result<(), u64> {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            b.clear();
        }
        let now = Instant::now();
        let (tokens, at) = b.entry(key.to_vec()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    /// [`Limiter::check`] as the API's 429.
    pub fn admit(&self, key: &[u8], message: &str) -> Result<(), ApiError> {
        self.check(key).map_err(|s| ApiError::too_many(message, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_asks_to_wait() {
        let l = Limiter::new(5.0, 20.0);
        for _ in 0..20 {
            assert!(l.check(b"k").is_ok());
        }
        assert_eq!(l.check(b"k"), Err(1));
        assert!(l.check(b"other").is_ok());
        let e = l.admit(b"k", "slow down").unwrap_err();
        assert_eq!(e.retry_after, Some(1));
    }
}
