//! Login throttling without lockout. Failures are counted in a sliding window per account *and
//! client IP* together, and per client IP. Past the allowance each further try waits longer
//! (1 s, 2 s, 4 s, … up to the window), counted from the last failure. An account is never
//! locked as such: a sign-in from an IP with no recent failures is not delayed by failures
//! elsewhere, so an attacker cannot lock the owner out by guessing wrong on purpose.
//! A throttled key is refused before its password is even checked.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::clock::Millis;

/// Entries kept at most, so an attacker spraying e-mails cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    window_ms: i64,
    /// Failures of one account from one IP before the delays start.
    max_per_account: usize,
    /// Failures from one IP (any accounts) before the delays start.
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

    fn pair(account: &str, ip: &str) -> String {
        format!("acct:{account}\u{1f}ip:{ip}")
    }

    fn ip(ip: &str) -> String {
        format!("ip:{ip}")
    }

    /// The wait before the next try of a key with these failures: none within the allowance,
    /// then 1 s doubling with each failure past it, at most the window, from the last failure.
    fn wait(&self, q: &VecDeque<Millis>, allowance: usize, now: Millis) -> i64 {
        if q.len() < allowance.max(1) {
            return 0;
        }
        let past = u32::try_from(q.len() - allowance.max(1)).unwrap_or(u32::MAX).min(30);
        let delay = (1000i64 << past).min(self.window_ms);
        q.back().map_or(0, |last| (last + delay - now).max(0))
    }

    /// `Err(seconds)` when this account from this IP, or this IP, must wait before trying again.
    pub fn check(&self, account: &str, ip: &str, now: Millis) -> Result<(), u64> {
        let Ok(mut map) = self.failures.lock() else { return Ok(()) };
        let mut wait_ms = 0;
        for (key, allowance) in [(Self::pair(account, ip), self.max_per_account), (Self::ip(ip), self.max_per_ip)] {
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| *t <= now - self.window_ms) {
                    q.pop_front();
                }
                wait_ms = wait_ms.max(self.wait(q, allowance, now));
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
        for key in [Self::pair(account, ip), Self::ip(ip)] {
            let q = map.entry(key).or_default();
            q.push_back(now);
            // The delay is capped at the window, so more history than this changes nothing.
            while q.len() > 64 {
                q.pop_front();
            }
        }
    }

    /// A successful sign-in forgets this account's failures from this IP (the IP's stay).
    pub fn record_success(&self, account: &str, ip: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Self::pair(account, ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_account_and_ip_and_never_lock_the_owner_out() {
        let t = Throttle::new(900_000, 3, 100);
        for i in 0..3 {
            assert!(t.check("a@x", "1.1.1.1", i).is_ok());
            t.record_failure("a@x", "1.1.1.1", i);
        }
        // The attacker waits 1 s after the allowance, then 2 s, 4 s, …
        assert_eq!(t.check("a@x", "1.1.1.1", 10), Err(1));
        assert!(t.check("a@x", "1.1.1.1", 1_002).is_ok());
        t.record_failure("a@x", "1.1.1.1", 1_002);
        assert_eq!(t.check("a@x", "1.1.1.1", 1_003), Err(2));
        t.record_failure("a@x", "1.1.1.1", 3_003);
        assert_eq!(t.check("a@x", "1.1.1.1", 3_004), Err(4));
        // The owner, from another IP, is not delayed at all.
        assert!(t.check("a@x", "9.9.9.9", 3_004).is_ok());
        // Other accounts from the attacker's IP are not delayed by this account's failures.
        assert!(t.check("b@x", "1.1.1.1", 3_004).is_ok());
        // The delay never exceeds the window.
        for i in 0..40 {
            t.record_failure("a@x", "1.1.1.1", 10_000 + i);
        }
        assert_eq!(t.check("a@x", "1.1.1.1", 10_040), Err(900));
        assert!(t.check("a@x", "1.1.1.1", 10_039 + 900_000).is_ok());
    }

    #[test]
    fn one_ip_guessing_many_accounts_is_slowed() {
        let t = Throttle::new(60_000, 100, 4);
        for i in 0..4 {
            t.record_failure(&format!("u{i}@x"), "2.2.2.2", 0);
        }
        assert!(t.check("new@x", "2.2.2.2", 1).is_err());
        assert!(t.check("new@x", "3.3.3.3", 1).is_ok());
        t.record_success("u0@x", "2.2.2.2");
        assert!(t.check("new@x", "2.2.2.2", 1).is_err(), "success does not clear the IP");
    }
}
