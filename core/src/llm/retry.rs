//! When to try a model call again and how long to wait: 429, 5xx, timeouts and broken
//! connections are retried with exponential backoff and jitter, waiting at least what
//! `Retry-After` asks; other 4xx are not.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles with each retry.
    pub base: Duration,
    /// No backoff is longer.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this fails the call instead of waiting.
    pub max_retry_after: Duration,
    /// Each attempt's time limit.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Whether an HTTP status is worth another try.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// No `Retry-After` is read as longer than this: a day. Anything longer (`1e20`, `inf`,
/// a date in the year 9999) reads as exactly this, which is far beyond what any run
/// waits (`RetryPolicy::max_retry_after`), so the call fails at once.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` as seconds (fractions allowed) or an HTTP date, at most
/// `RETRY_AFTER_CAP`. `None` for what is neither, NaN and negative seconds; a date in the
/// past is no wait. Never panics, whatever the header holds.
pub fn retry_after(header: &str, now: SystemTime) -> Option<Duration> {
    let header = header.trim();
    if let Ok(seconds) = header.parse::<f64>() {
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        // Too large for a Duration (1e20, inf) is over the cap too.
        let wait = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        return Some(wait.min(RETRY_AFTER_CAP));
    }
    let when = httpdate::parse_http_date(header).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry): half the
    /// exponential backoff plus a random share of the other half ("equal jitter"), at
    /// least `retry_after`. `jitter` is in 0..1.
    pub fn delay(&self, retry: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let exponential = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let backoff = exponential / 2 + exponential.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
        backoff.max(retry_after.unwrap_or(Duration::ZERO))
    }
}

/// A random number in 0..1 for jitter (not for anything that must be unpredictable).
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_retry() {
        assert!(retryable_status(429) && retryable_status(500) && retryable_status(503));
        assert!(!retryable_status(400) && !retryable_status(401) && !retryable_status(404));
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("0.5", now), Some(Duration::from_millis(500)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn absurd_retry_after_values_are_capped_or_ignored() {
        let now = SystemTime::now();
        for capped in [
            "1e20",
            "inf",
            "+inf",
            "Infinity",
            "1.8e308",
            "99999999999999999999999999999999",
            "18446744073709551616",
            "86401",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(retry_after(capped, now), Some(RETRY_AFTER_CAP), "{capped}");
        }
        for ignored in [
            "NaN", "-inf", "-0.5", "-1e20", "", " ", "1e", "0x10", "1s", "\u{0}",
        ] {
            assert_eq!(retry_after(ignored, now), None, "{ignored:?}");
        }
        assert_eq!(retry_after("-0", now), Some(Duration::ZERO));
        assert_eq!(retry_after("1e-300", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(" 1.25 ", now),
            Some(Duration::from_millis(1250))
        );
        assert_eq!(
            retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // Whatever the header says, the wait never panics.
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0.5, retry_after("1e20", now)), RETRY_AFTER_CAP);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0.0, None), Duration::from_millis(250));
        assert_eq!(p.delay(1, 1.0, None), Duration::from_millis(500));
        assert_eq!(p.delay(2, 0.0, None), Duration::from_millis(500));
        assert_eq!(p.delay(3, 1.0, None), Duration::from_secs(2));
        assert_eq!(p.delay(30, 1.0, None), p.max_backoff);
        assert_eq!(
            p.delay(1, 0.5, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
