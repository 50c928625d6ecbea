//! Client-side pacing to a vendor's published rate limits, with [`governor`].
//!
//! A vendor names its limits (TradeLocker's `rateLimits` in `/trade/config`: `QUOTES`,
//! `PLACE_ORDER`, …; Slate's 300 requests a minute per user); the spec tags each operation
//! with the limit it counts against (`x-brokerkit-rate-class`, in the generated operations
//! table); [`RateLimits`] holds a [`Limit`] per class and, before each request of a class,
//! waits until sending keeps the account under it. Counting is per (account, class): two
//! accounts of one login do not slow each other. A class with no limit set, or an operation
//! with no class, is not paced.
//!
//! The pace is one request every `per / requests`, plus a small headroom (default
//! [`DEFAULT_HEADROOM_PERCENT`] %), and a burst that fits in half the headroom: with
//! `requests` N, headroom h and burst b = N·h / 2(1 + h), a window of `per` holds at most
//! b + N / (1 + h) ≤ N requests, so a server that counts a sliding window of N per `per`
//! never sees more than it allows, even when loopback or network jitter moves requests closer
//! together by up to h/2 × `per`. Below 42 requests per interval (at the default headroom) b
//! is 1: no burst at all. A generous limit gets one, so that concurrent requests are not
//! spaced microseconds apart through timer wake-ups that take far longer.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::HeaderValue;

/// The key of a count shared by every account (`account` `None`).
static SHARED: HeaderValue = HeaderValue::from_static("");

/// The headroom added to each request's share of a limit's interval, in percent.
pub const DEFAULT_HEADROOM_PERCENT: u32 = 5;

/// At most `requests` requests per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    requests: NonZeroU32,
    per: Duration,
}

impl Limit {
    /// `None` when `requests` is zero or `per` is shorter than a millisecond.
    pub fn new(requests: u32, per: Duration) -> Option<Self> {
        let requests = NonZeroU32::new(requests)?;
        (per >= Duration::from_millis(1)).then_some(Self { requests, per })
    }

    pub fn per_second(requests: u32) -> Option<Self> {
        Self::new(requests, Duration::from_secs(1))
    }

    pub fn per_minute(requests: u32) -> Option<Self> {
        Self::new(requests, Duration::from_secs(60))
    }

    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    pub fn per(&self) -> Duration {
        self.per
    }

    /// The time kept between two requests: `per / requests`, plus `headroom_percent` %.
    pub fn spacing(&self, headroom_percent: u32) -> Duration {
        (self.per / self.requests.get()).mul_f64(1.0 + f64::from(headroom_percent) / 100.0)
    }

    /// How many requests may go at once: those that fit in half the headroom (see the module
    /// docs), at least one.
    pub fn burst(&self, headroom_percent: u32) -> NonZeroU32 {
        let h = u64::from(headroom_percent);
        let b = u64::from(self.requests.get()) * h / (2 * (100 + h));
        NonZeroU32::new(u32::try_from(b).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} per {:?}", self.requests, self.per)
    }
}

/// The hasher of both maps a call looks up (its class, then its account). Their keys are few
/// (the spec's class names, the accounts of one login), so there is nothing for a flood of
/// colliding keys to exploit and a fast hasher is safe; std's SipHash cost a quote 480
/// instructions (issue 12).
type FastHash = foldhash::fast::RandomState;

/// governor's keyed limiter with [`FastHash`].
type Keyed = RateLimiter<
    HeaderValue,
    HashMapStateStore<HeaderValue, FastHash>,
    DefaultClock,
    NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

struct Class {
    limit: Limit,
    /// Keyed by the header value that names the account (the empty value for a shared count):
    /// a clone of the request's own header, so counting a call copies nothing.
    limiter: Arc<Keyed>,
}

struct Inner {
    enabled: bool,
    headroom_percent: u32,
    classes: RwLock<HashMap<String, Class, FastHash>>,
}

/// The limits a client paces itself to, and the state of that pacing. Clones share both,
/// so a session's clones (and the clients it builds) count together.
///
/// Default: on, with no limit set — each vendor's session sets the limits it knows (the
/// TradeLocker session those its server publishes in `/trade/config`); [`RateLimits::off`]
/// never waits.
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<Inner>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::with(true, DEFAULT_HEADROOM_PERCENT)
    }
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limits: BTreeMap<String, String> = self
            .read()
            .iter()
            .map(|(k, c)| (k.clone(), c.limit.to_string()))
            .collect();
        f.debug_struct("RateLimits")
            .field("enabled", &self.inner.enabled)
            .field("headroom_percent", &self.inner.headroom_percent)
            .field("limits", &limits)
            .finish()
    }
}

impl RateLimits {
    fn with(enabled: bool, headroom_percent: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                enabled,
                headroom_percent,
                classes: RwLock::default(),
            }),
        }
    }

    /// Pacing switched off: limits may still be set (and read back) but nothing waits.
    pub fn off() -> Self {
        Self::with(false, DEFAULT_HEADROOM_PERCENT)
    }

    /// Whether requests are paced at all.
    pub fn is_on(&self) -> bool {
        self.inner.enabled
    }

    /// The same limits with another headroom (a new, unshared pacing state).
    pub fn headroom_percent(self, percent: u32) -> Self {
        let out = Self::with(self.inner.enabled, percent);
        for (class, c) in self.read().iter() {
            out.set(class, c.limit);
        }
        out
    }

    /// Sets `limit` on `class` (builder style).
    pub fn limit(self, class: &str, limit: Limit) -> Self {
        self.set(class, limit);
        self
    }

    /// Sets `limit` on `class`, for every clone. Setting the limit a class already has keeps
    /// what was counted so far; another limit starts counting afresh.
    pub fn set(&self, class: &str, limit: Limit) {
        let mut classes = self
            .inner
            .classes
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if classes.get(class).is_some_and(|c| c.limit == limit) {
            return;
        }
        let spacing = limit
            .spacing(self.inner.headroom_percent)
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(spacing)
            .expect("a spacing above zero")
            .allow_burst(limit.burst(self.inner.headroom_percent));
        classes.insert(
            class.to_string(),
            Class {
                limit,
                limiter: Arc::new(RateLimiter::hashmap_with_clock_and_hasher(
                    quota,
                    DefaultClock::default(),
                    FastHash::default(),
                )),
            },
        );
    }

    /// The limit set on `class`.
    pub fn get(&self, class: &str) -> Option<Limit> {
        self.read().get(class).map(|c| c.limit)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Class, FastHash>> {
        self.inner.classes.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request of `class` for `account` (the header value that names it)
    /// keeps under the class's limit, and counts it; returns how long it waited. No wait when
    /// off, without a class, or when the class has no limit. `account` `None` is one shared
    /// key (vendors whose limit is per user or per session).
    pub async fn until_ready(
        &self,
        class: Option<&str>,
        account: Option<&HeaderValue>,
    ) -> Duration {
        match self.turn(class, account) {
            None => Duration::ZERO,
            Some(wait) => wait.await,
        }
    }

    /// Counts a request of `class` for `account` when it may go at once (`None`, the usual
    /// case, which neither reads the clock nor allocates a future); otherwise the wait for its
    /// turn, which counts it when it ends and returns how long it took.
    pub(crate) fn turn(
        &self,
        class: Option<&str>,
        account: Option<&HeaderValue>,
    ) -> Option<Pin<Box<dyn Future<Output = Duration> + Send>>> {
        if !self.inner.enabled {
            return None;
        }
        let classes = self.read();
        let limiter = &classes.get(class?)?.limiter;
        if limiter.check_key(account.unwrap_or(&SHARED)).is_ok() {
            return None;
        }
        // Owned only when waiting: the wait outlives the borrow.
        let key = account.unwrap_or(&SHARED).clone();
        let limiter = limiter.clone();
        drop(classes);
        Some(Box::pin(async move {
            let started = std::time::Instant::now();
            limiter.until_key_ready(&key).await;
            started.elapsed()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    static ONE: HeaderValue = HeaderValue::from_static("1");
    static TWO: HeaderValue = HeaderValue::from_static("2");

    #[test]
    fn a_limit_needs_requests_and_an_interval() {
        assert!(Limit::new(0, Duration::from_secs(1)).is_none());
        assert!(Limit::new(5, Duration::ZERO).is_none());
        let l = Limit::new(3, Duration::from_secs(2)).unwrap();
        assert_eq!((l.requests(), l.per()), (3, Duration::from_secs(2)));
        assert_eq!(
            Limit::per_second(10).unwrap().spacing(5),
            Duration::from_millis(105)
        );
        assert_eq!(
            Limit::per_minute(60).unwrap().spacing(0),
            Duration::from_secs(1)
        );
    }

    /// Requests sent as early as the pacing allows (the burst at once, then one per spacing)
    /// never put more than `requests` in any window of `per`, even moved closer together by
    /// half the headroom.
    #[test]
    fn the_burst_keeps_every_window_under_the_limit() {
        assert_eq!(Limit::per_second(20).unwrap().burst(5).get(), 1);
        assert_eq!(Limit::per_minute(300).unwrap().burst(5).get(), 7);
        assert_eq!(Limit::per_second(1_000_000).unwrap().burst(5).get(), 23_809);
        assert_eq!(Limit::per_second(1_000_000).unwrap().burst(0).get(), 1);
        for h in [1u32, 5, 10, 25] {
            for n in (1..300).chain([999, 1000, 4321]) {
                let limit = Limit::per_second(n).unwrap();
                let (b, t) = (limit.burst(h).get() as usize, limit.spacing(h));
                let jitter = Duration::from_secs(1).mul_f64(f64::from(h) / 200.0);
                let sent: Vec<Duration> = (0..b + n as usize + 2)
                    .map(|i| t * i.saturating_sub(b - 1) as u32)
                    .collect();
                // Each window starts at a request; later ones come `jitter` earlier.
                let most = (0..sent.len())
                    .map(|i| {
                        let end = sent[i] + Duration::from_secs(1) + jitter;
                        sent[i..].iter().take_while(|&&at| at < end).count()
                    })
                    .max()
                    .unwrap();
                assert!(
                    most <= n as usize,
                    "{n}/s, headroom {h} %: {most} in a window"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_generous_limit_lets_concurrent_requests_go_without_waiting() {
        let limits = RateLimits::default().limit("QUOTES", Limit::per_second(100_000).unwrap());
        let waits = futures::future::join_all(
            (0..32).map(|_| limits.until_ready(Some("QUOTES"), Some(&ONE))),
        )
        .await;
        assert!(waits.iter().all(|w| w.is_zero()), "{waits:?}");
        // A strict one still spaces them.
        let strict = RateLimits::default().limit("QUOTES", Limit::per_second(20).unwrap());
        strict.until_ready(Some("QUOTES"), Some(&ONE)).await;
        assert!(!strict
            .until_ready(Some("QUOTES"), Some(&ONE))
            .await
            .is_zero());
    }

    #[tokio::test]
    async fn requests_of_one_account_and_class_are_spaced_to_the_limit() {
        let limits = RateLimits::default().limit("QUOTES", Limit::per_second(20).unwrap());
        let spacing = Limit::per_second(20)
            .unwrap()
            .spacing(DEFAULT_HEADROOM_PERCENT);
        let started = Instant::now();
        for _ in 0..6 {
            limits.until_ready(Some("QUOTES"), Some(&ONE)).await;
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= spacing * 5, "{elapsed:?} < 5 × {spacing:?}");
        assert!(
            elapsed < spacing * 5 + Duration::from_millis(500),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn accounts_classes_unset_classes_and_off_do_not_wait_on_each_other() {
        let limit = Limit::new(1, Duration::from_secs(30)).unwrap();
        let limits = RateLimits::default()
            .limit("QUOTES", limit)
            .limit("PLACE_ORDER", limit);
        let started = Instant::now();
        // One request each: the first of its (account, class) never waits.
        limits.until_ready(Some("QUOTES"), Some(&ONE)).await;
        limits.until_ready(Some("QUOTES"), Some(&TWO)).await;
        limits.until_ready(Some("PLACE_ORDER"), Some(&ONE)).await;
        for _ in 0..10 {
            limits.until_ready(Some("DEPTH"), Some(&ONE)).await;
            limits.until_ready(None, Some(&ONE)).await;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        // A second quote on account 1 would wait 30 s.
        let waited = tokio::time::timeout(
            Duration::from_millis(200),
            limits.until_ready(Some("QUOTES"), Some(&ONE)),
        )
        .await;
        assert!(waited.is_err(), "the account's second quote waits");

        let off = RateLimits::off().limit("QUOTES", limit);
        for _ in 0..5 {
            assert_eq!(
                off.until_ready(Some("QUOTES"), Some(&ONE)).await,
                Duration::ZERO
            );
        }
        assert_eq!(off.get("QUOTES"), Some(limit), "limits are kept when off");
    }

    #[tokio::test]
    async fn clones_share_the_count_and_an_unchanged_limit_keeps_it() {
        let limit = Limit::new(1, Duration::from_secs(30)).unwrap();
        let limits = RateLimits::default().limit("QUOTES", limit);
        let clone = limits.clone();
        limits.until_ready(Some("QUOTES"), None).await;
        clone.set("QUOTES", limit);
        let waited = tokio::time::timeout(
            Duration::from_millis(200),
            clone.until_ready(Some("QUOTES"), None),
        )
        .await;
        assert!(waited.is_err(), "the clone saw the first request");
        clone.set("QUOTES", Limit::per_second(100).unwrap());
        assert!(
            limits.until_ready(Some("QUOTES"), None).await < Duration::from_millis(100),
            "a new limit counts afresh, for every clone"
        );
        assert!(format!("{limits:?}").contains("QUOTES"));
    }
}
