//! Login throttling: failures are counted per account and per client IP in a sliding window.
//! A throttled key is refused before its password is even checked.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::clock::Millis;

/// Entries kept at most, so an attacker spraying e-mails cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    window_ms: i64,
    max_per_account: usize,
    max_per_ip: usize,
    failures: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl Throttle {
    pub fn new(window_ms: i64, max_per_account: u32, max_per_ip: u32) -> Self {
        Self {
            window_ms,
            max_per_account: max_per_account as usize,
            max_per_ip: max_per_ip as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(account: &str, ip: &str) -> [(String, bool); 2] {
        [(format!("acct:{account}"), true), (format!("ip:{ip}"), false)]
    }

    /// `Err(seconds)` when the account or the IP must wait before trying again.
    pub fn check(&self, account: &str, ip: &str, now: Millis) -> Result<(), u64> {
        let Ok(mut map) = self.failures.lock() else { return Ok(()) };
        let mut wait_ms = 0;
        for (key, is_account) in Self::keys(account, ip) {
            let limit = if is_account { self.max_per_account } else { self.max_per_ip };
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| *t <= now - self.window_ms) {
                    q.pop_front();
                }
                if q.len() >= limit {
                    // Free again when enough of the oldest failures have left the window.
                    let idx = q.len() - limit;
                    wait_ms = wait_ms.max(q[idx] + self.window_ms - now);
                }
            }
        }
        if wait_ms > 0 { Err(u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1)) } else { Ok(()) }
    }

    pub fn record_failure(&self, account: &str, ip: &str, now: Millis) {
        let Ok(mut map) = self.failures.lock() else { return };
        if map.len() >= MAX_KEYS {
            let cutoff = now - self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        for (key, _) in Self::keys(account, ip) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// A successful login forgets the account's failures (the IP's stay).
    pub fn record_success(&self, account: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("acct:{account}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_account_then_frees_it() {
        let t = Throttle::new(60_000, 3, 100);
        for i in 0..3 {
            assert!(t.check("a@x", "1.1.1.1", i).is_ok());
            t.record_failure("a@x", "1.1.1.1", i);
        }
        assert_eq!(t.check("a@x", "9.9.9.9", 10), Err(60));
        assert!(t.check("b@x", "1.1.1.1", 10).is_ok());
        assert!(t.check("a@x", "1.1.1.1", 60_001).is_ok());
    }

    #[test]
    fn throttles_ip_across_accounts() {
        let t = Throttle::new(60_000, 100, 4);
        for i in 0..4 {
            t.record_failure(&format!("u{i}@x"), "2.2.2.2", 0);
        }
        assert!(t.check("new@x", "2.2.2.2", 1).is_err());
        assert!(t.check("new@x", "3.3.3.3", 1).is_ok());
        t.record_success("u0@x");
        assert!(t.check("new@x", "2.2.2.2", 1).is_err(), "success does not clear the IP");
    }
}
