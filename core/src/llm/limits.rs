//! Per-provider rate limits: requests per minute, tokens per minute, calls in flight.
//! Calls are paced evenly (one every 60/rpm seconds, no bursts), so a provider's
//! per-minute limit is used fully and never exceeded by promptls itself. One `Gate` per
//! provider is shared by every call of the process.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt plus the output allowance).
    pub tpm: Option<u32>,
    /// Calls in flight at once.
    pub concurrency: usize,
}

impl Limits {
    /// The free tiers' limits where they are tight: 30 RPM on Groq, 15 RPM on Gemini.
    pub fn default_for(provider: &str) -> Limits {
        let rpm = match provider {
            "groq" => Some(30),
            "gemini" | "googleai" => Some(15),
            _ => None,
        };
        Limits {
            rpm,
            tpm: None,
            concurrency: 4,
        }
    }
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Requests and tokens per minute for one provider.
pub struct Pacer<C: Clock = DefaultClock> {
    requests: Option<Limiter<C>>,
    tokens: Option<(Limiter<C>, NonZeroU32)>,
    clock: C,
}

fn evenly(per_minute: NonZeroU32) -> Quota {
    // One cell every 60/n seconds and no burst: a rolling minute never holds more than n.
    Quota::with_period(Duration::from_secs(60) / per_minute.get())
        .unwrap_or_else(|| Quota::per_minute(per_minute))
        .allow_burst(NonZeroU32::MIN)
}

impl<C: Clock + Clone> Pacer<C> {
    pub fn new(limits: &Limits, clock: C) -> Pacer<C> {
        let requests = limits
            .rpm
            .and_then(NonZeroU32::new)
            .map(|n| RateLimiter::direct_with_clock(evenly(n), clock.clone()));
        let tokens = limits.tpm.and_then(NonZeroU32::new).map(|n| {
            // Tokens may come in a lump up to a minute's worth.
            let quota = Quota::per_minute(n);
            (RateLimiter::direct_with_clock(quota, clock.clone()), n)
        });
        Pacer {
            requests,
            tokens,
            clock,
        }
    }

    /// Takes a request slot now, or says how long until one is free.
    pub fn request_wait(&self) -> Option<Duration> {
        let limiter = self.requests.as_ref()?;
        limiter
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes `tokens` from the minute's budget now, or says how long until they are
    /// there. A call larger than a whole minute's budget waits for a whole minute's.
    pub fn tokens_wait(&self, tokens: u32) -> Option<Duration> {
        let (limiter, per_minute) = self.tokens.as_ref()?;
        let n = NonZeroU32::new(tokens.min(per_minute.get()))?;
        match limiter.check_n(n) {
            Ok(Ok(_)) => None,
            Ok(Err(not_until)) => Some(not_until.wait_time_from(self.clock.now())),
            Err(_) => None,
        }
    }
}

/// A provider's pacing and its calls-in-flight limit.
pub struct Gate {
    pacer: Pacer,
    in_flight: tokio::sync::Semaphore,
}

impl Gate {
    pub fn new(limits: &Limits) -> Gate {
        Gate {
            pacer: Pacer::new(limits, DefaultClock::default()),
            in_flight: tokio::sync::Semaphore::new(limits.concurrency.max(1)),
        }
    }

    /// Waits for a slot in flight, then for the pacing; the permit ends the call.
    pub async fn enter(&self, tokens: u32) -> tokio::sync::SemaphorePermit<'_> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        while let Some(wait) = self.pacer.request_wait() {
            tokio::time::sleep(wait).await;
        }
        while let Some(wait) = self.pacer.tokens_wait(tokens) {
            tokio::time::sleep(wait).await;
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn requests_are_paced_evenly_without_bursts() {
        let clock = FakeRelativeClock::default();
        let limits = Limits {
            rpm: Some(30),
            tpm: None,
            concurrency: 4,
        };
        let pacer = Pacer::new(&limits, clock.clone());
        assert_eq!(pacer.request_wait(), None, "the first call goes at once");
        assert_eq!(
            pacer.request_wait(),
            Some(Duration::from_secs(2)),
            "30 RPM: one every 2 s"
        );
        clock.advance(Duration::from_millis(1500));
        assert_eq!(pacer.request_wait(), Some(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(500));
        assert_eq!(pacer.request_wait(), None);
        // Over a simulated minute, calls taken as soon as allowed: exactly 30.
        let clock = FakeRelativeClock::default();
        let pacer = Pacer::new(&limits, clock.clone());
        let mut calls = 0;
        let mut elapsed = Duration::ZERO;
        while elapsed < Duration::from_secs(60) {
            match pacer.request_wait() {
                None => calls += 1,
                Some(wait) => {
                    clock.advance(wait);
                    elapsed += wait;
                }
            }
        }
        assert_eq!(calls, 30);
    }

    #[test]
    fn tokens_per_minute() {
        let clock = FakeRelativeClock::default();
        let limits = Limits {
            rpm: None,
            tpm: Some(6000),
            concurrency: 4,
        };
        let pacer = Pacer::new(&limits, clock.clone());
        assert_eq!(pacer.tokens_wait(5000), None);
        let wait = pacer.tokens_wait(2000).expect("over the minute's budget");
        assert_eq!(
            wait,
            Duration::from_secs(10),
            "1000 tokens short at 100 tokens/s"
        );
        clock.advance(wait);
        assert_eq!(pacer.tokens_wait(2000), None);
        // Larger than a minute's budget: waits for a full minute's worth, then goes.
        assert!(pacer.tokens_wait(1_000_000).is_some());
    }

    #[test]
    fn defaults() {
        assert_eq!(Limits::default_for("groq").rpm, Some(30));
        assert_eq!(Limits::default_for("gemini").rpm, Some(15));
        assert_eq!(Limits::default_for("openai").rpm, None);
        let none = Pacer::new(&Limits::default_for("openai"), FakeRelativeClock::default());
        assert_eq!((none.request_wait(), none.tokens_wait(10)), (None, None));
    }
}
