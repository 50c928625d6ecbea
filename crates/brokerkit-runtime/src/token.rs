//! The token a session sends, and its refresh: at most one refresh in flight, however many
//! tasks find the token stale or rejected at the same moment.

use crate::Secret;
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// An access token, the refresh token that renews it, and when each stops working.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: Secret,
    pub refresh: Option<Secret>,
    pub access_expires_at: Option<SystemTime>,
    pub refresh_expires_at: Option<SystemTime>,
}

impl Tokens {
    pub fn new(access: impl Into<Secret>) -> Self {
        Self {
            access: access.into(),
            refresh: None,
            access_expires_at: None,
            refresh_expires_at: None,
        }
    }
}

/// When a JWT says it expires: its `exp` claim (Unix seconds), read WITHOUT checking the
/// signature. Only for timing a renewal; `None` when the token is not a JWT or has no `exp`.
pub fn jwt_expiry(token: &str) -> Option<SystemTime> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<serde_json::Number>,
    }
    let seconds = serde_json::from_slice::<Claims>(&bytes)
        .ok()?
        .exp?
        .as_f64()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds)))
        .flatten()
}

/// An access token as the value of an `Authorization: Bearer …` header, marked sensitive.
/// Its `Debug` shows no token.
#[derive(Clone)]
pub struct Bearer(Option<http::HeaderValue>);

impl Bearer {
    pub fn new(token: &Secret) -> Self {
        let mut text = String::with_capacity(7 + token.expose().len());
        text.push_str("Bearer ");
        text.push_str(token.expose());
        // From the `String` itself: its buffer becomes the header's, with no second copy.
        Self(http::HeaderValue::try_from(text).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        }))
    }

    /// Sets `Authorization` on `request`; an error when the token holds characters a header
    /// cannot carry.
    pub fn set(&self, request: &mut reqwest::Request) -> Result<(), String> {
        let value = self
            .0
            .clone()
            .ok_or_else(|| crate::hooks::unfit_for_header(&reqwest::header::AUTHORIZATION))?;
        request
            .headers_mut()
            .insert(reqwest::header::AUTHORIZATION, value);
        Ok(())
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(***)")
    }
}

/// Why a refresh failed. Carries no token: its `Display` is safe to log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token refresh failed{}: {message}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(), if *login_required { "; the session must log in again" } else { "" })]
pub struct RefreshError {
    pub status: Option<u16>,
    pub message: String,
    /// The refresh token itself is dead (expired, burned or refused) and the session holds no
    /// credentials to log in with: only a new login can go on.
    pub login_required: bool,
}

impl RefreshError {
    pub fn new(status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            login_required: false,
        }
    }

    /// The session cannot renew itself any more; the caller must log in again.
    pub fn login_required(status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            login_required: true,
            ..Self::new(status, message)
        }
    }
}

/// The first wait after a failed renewal; it doubles with each failure in a row, up to
/// [`MAX_RENEWAL_BACKOFF`]. Meanwhile every caller gets the failure without a new request, so a
/// broken renewal endpoint (or a password login that keeps failing) is not hammered once per
/// caller — which a broker may read as credential stuffing and lock the account.
pub const FIRST_RENEWAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two renewal attempts after failures.
pub const MAX_RENEWAL_BACKOFF: Duration = Duration::from_secs(60);

struct Failed {
    generation: u64,
    error: RefreshError,
    until: tokio::time::Instant,
    streak: u32,
}

/// Obtains new tokens from the current ones (usually by calling the vendor's refresh endpoint).
pub type Refresher =
    Arc<dyn Fn(Arc<Tokens>) -> BoxFuture<'static, Result<Tokens, RefreshError>> + Send + Sync>;

struct Current {
    tokens: Arc<Tokens>,
    /// `Bearer <access>`, made once per token: every call sends it, and a clone of a header
    /// value shares its bytes where a new one would copy the token twice.
    bearer: Bearer,
    generation: u64,
    /// When to renew: `skew` before expiry, but never earlier than half the token's lifetime,
    /// so a short-lived token is not renewed on every call.
    renew_at: Option<SystemTime>,
}

impl Current {
    fn is_stale(&self) -> bool {
        self.renew_at.is_some_and(|at| SystemTime::now() >= at)
    }
}

/// Holds the session's tokens. Cheap to read; refreshes are single-flight.
pub struct TokenCell {
    current: RwLock<Option<Current>>,
    refresh_lock: tokio::sync::Mutex<()>,
    failed: std::sync::Mutex<Option<Failed>>,
    refresher: RwLock<Option<Refresher>>,
    /// The refresher logs in again rather than spending a refresh token.
    relogs_in: std::sync::atomic::AtomicBool,
    skew: Duration,
    generations: AtomicU64,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCell")
            .field("logged_in", &self.snapshot().is_some())
            .field("refreshes", &self.refresh_count())
            .finish_non_exhaustive()
    }
}

impl TokenCell {
    /// `skew`: how long before `access_expires_at` a token counts as stale and is renewed.
    pub fn new(skew: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            failed: std::sync::Mutex::new(None),
            refresher: RwLock::new(None),
            relogs_in: std::sync::atomic::AtomicBool::new(false),
            skew,
            generations: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Renews with a refresh token: `refresher` gets the current tokens, whose `refresh` it
    /// spends. Without a refresh token nothing is renewed.
    pub fn set_refresher(&self, refresher: Refresher) {
        self.relogs_in.store(false, Ordering::SeqCst);
        *self.refresher.write().unwrap_or_else(|p| p.into_inner()) = Some(refresher);
    }

    /// Renews by logging in again (vendors without refresh tokens): `refresher` needs no
    /// refresh token and is run whenever the access token is stale or refused.
    pub fn set_relogin(&self, refresher: Refresher) {
        self.relogs_in.store(true, Ordering::SeqCst);
        *self.refresher.write().unwrap_or_else(|p| p.into_inner()) = Some(refresher);
    }

    /// Stores new tokens and returns their generation (which [`Self::refresh_rejected`] takes).
    pub fn set(&self, tokens: Tokens) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let now = SystemTime::now();
        let renew_at = tokens.access_expires_at.map(|at| {
            let lifetime = at.duration_since(now).unwrap_or_default();
            at - self.skew.min(lifetime / 2)
        });
        let current = Current {
            bearer: Bearer::new(&tokens.access),
            tokens: Arc::new(tokens),
            generation,
            renew_at,
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(current);
        generation
    }

    pub fn clear(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The current tokens and their generation, or `None` before login.
    pub fn snapshot(&self) -> Option<(Arc<Tokens>, u64)> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| (c.tokens.clone(), c.generation))
    }

    fn is_stale(&self) -> bool {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.as_ref().is_some_and(Current::is_stale)
    }

    /// When the current access token stops working, when known; `None` before login.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.snapshot().and_then(|(t, _)| t.access_expires_at)
    }

    /// How many refreshes this cell has run.
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// The access token to send now, renewed first when it is about to expire.
    /// `None` before login. Without a refresher (or a refresh token) a stale token is returned
    /// as it is, and the server's answer decides.
    pub async fn access(&self) -> Result<Option<(Secret, u64)>, RefreshError> {
        noted(self.access_inner().await)
    }

    /// [`Self::access`] as the `Authorization` value to send, renewed first when it is about
    /// to expire; `None` before login.
    pub async fn bearer(&self) -> Result<Option<Bearer>, RefreshError> {
        let fresh = {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            let Some(c) = current.as_ref() else {
                return Ok(None);
            };
            (!c.is_stale()).then(|| c.bearer.clone())
        };
        if let Some(bearer) = fresh {
            return Ok(Some(bearer));
        }
        // Boxed: renewing is rare, and every call's future would otherwise have room for it.
        Ok(Box::pin(self.access())
            .await?
            .map(|(token, _)| Bearer::new(&token)))
    }

    async fn access_inner(&self) -> Result<Option<(Secret, u64)>, RefreshError> {
        let Some((tokens, generation)) = self.snapshot() else {
            return Ok(None);
        };
        if !self.is_stale() || !self.can_refresh(&tokens) {
            return Ok(Some((tokens.access.clone(), generation)));
        }
        self.refresh_unless_newer(generation, || self.is_stale())
            .await
    }

    /// The server rejected the token of `generation`: renew it, unless another task already
    /// has. Returns the token to retry with, or `None` when there is nothing to retry with.
    pub async fn refresh_rejected(
        &self,
        generation: u64,
    ) -> Result<Option<(Secret, u64)>, RefreshError> {
        noted(self.refresh_rejected_inner(generation).await)
    }

    async fn refresh_rejected_inner(
        &self,
        generation: u64,
    ) -> Result<Option<(Secret, u64)>, RefreshError> {
        let Some((tokens, _)) = self.snapshot() else {
            return Ok(None);
        };
        if !self.can_refresh(&tokens) {
            return Ok(None);
        }
        self.refresh_unless_newer(generation, || true).await
    }

    fn can_refresh(&self, tokens: &Tokens) -> bool {
        (tokens.refresh.is_some() || self.relogs_in.load(Ordering::SeqCst))
            && self
                .refresher
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
    }

    async fn refresh_unless_newer(
        &self,
        seen: u64,
        still_needed: impl Fn() -> bool,
    ) -> Result<Option<(Secret, u64)>, RefreshError> {
        let _guard = self.refresh_lock.lock().await;
        // Whoever held the lock before us may have refreshed already.
        let Some((tokens, generation)) = self.snapshot() else {
            return Ok(None);
        };
        if generation != seen || !still_needed() {
            return Ok(Some((tokens.access.clone(), generation)));
        }
        let refresher = self
            .refresher
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(refresher) = refresher else {
            return Ok(Some((tokens.access.clone(), generation)));
        };
        let streak = {
            let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            match failed.as_ref() {
                Some(f) if f.generation == generation => {
                    if tokio::time::Instant::now() < f.until {
                        return Err(f.error.clone());
                    }
                    f.streak
                }
                _ => 0,
            }
        };
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        match refresher(tokens).await {
            Ok(fresh) => {
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                let access = fresh.access.clone();
                let generation = self.set(fresh);
                Ok(Some((access, generation)))
            }
            Err(error) => {
                let wait = FIRST_RENEWAL_BACKOFF
                    .saturating_mul(1u32 << streak.min(16))
                    .min(MAX_RENEWAL_BACKOFF);
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Failed {
                    generation,
                    error: error.clone(),
                    until: tokio::time::Instant::now() + wait,
                    streak: streak + 1,
                });
                Err(error)
            }
        }
    }
}

/// A renewal error also goes to the enclosing call's slot, so the caller sees it instead of
/// the 401 that prompted it.
fn noted<T>(result: Result<T, RefreshError>) -> Result<T, RefreshError> {
    if let Err(e) = &result {
        crate::call::note_renewal_failure(e);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_says_when_it_expires() {
        // The seed's TradeLocker access token: exp 1685120393.
        let seed = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ0cmFkZWxvY2tlci1hcGkiLCJhdWQiOiJ0cmFkZWxvY2tlci1hcGktdHJhZGVycyIsInR5cGUiOiJhY2Nlc3NfdG9rZW4iLCJzdWIiOiJPU1AjREVWQ0xMOWc0aXNUT0VpS2pmTmRKdzEzIiwidWlkIjoiMTQ0YmYyODctNTFlNC00YjQyLWJlNTQtYzBkZTRmMTE3ODMzIiwiYnJhbmQiOiJPU1AiLCJpYXQiOjE2ODUxMTY3OTMsImV4cCI6MTY4NTEyMDM5M30.cyDXRqUNVX6h5rtZb7m30vNIwEoYN7xUU2jfGM-Cf90";
        assert_eq!(
            jwt_expiry(seed),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_685_120_393))
        );
        for not_a_jwt in ["", "opaque-token", "a.b.c", "a.e30.c", "a.eyJleHAiOi0xfQ.c"] {
            assert_eq!(jwt_expiry(not_a_jwt), None, "{not_a_jwt}");
        }
    }
    use std::sync::atomic::AtomicUsize;

    fn counting_refresher(calls: Arc<AtomicUsize>) -> Refresher {
        Arc::new(move |old: Arc<Tokens>| {
            let calls = calls.clone();
            Box::pin(async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let mut t = Tokens::new(format!("access-{n}"));
                t.refresh = old.refresh.clone();
                t.access_expires_at = Some(SystemTime::now() + Duration::from_secs(3600));
                Ok(t)
            })
        })
    }

    fn expired() -> Tokens {
        let mut t = Tokens::new("access-0");
        t.refresh = Some("r".into());
        t.access_expires_at = Some(SystemTime::now() - Duration::from_secs(1));
        t
    }

    #[tokio::test]
    async fn many_tasks_on_a_stale_token_refresh_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cell = Arc::new(TokenCell::new(Duration::from_secs(30)));
        cell.set_refresher(counting_refresher(calls.clone()));
        cell.set(expired());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let cell = cell.clone();
                tokio::spawn(async move { cell.access().await.unwrap().unwrap().0 })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().expose(), "access-1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cell.refresh_count(), 1);
    }

    #[tokio::test]
    async fn a_rejected_generation_is_refreshed_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cell = Arc::new(TokenCell::new(Duration::ZERO));
        cell.set_refresher(counting_refresher(calls.clone()));
        let mut fresh_looking = expired();
        fresh_looking.access_expires_at = None;
        let g = cell.set(fresh_looking);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cell = cell.clone();
                tokio::spawn(async move { cell.refresh_rejected(g).await.unwrap().unwrap().0 })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().expose(), "access-1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_renewed_at_half_life_not_on_every_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cell = TokenCell::new(Duration::from_secs(60));
        cell.set_refresher(counting_refresher(calls.clone()));
        let mut t = expired();
        t.access_expires_at = Some(SystemTime::now() + Duration::from_secs(10));
        cell.set(t);
        for _ in 0..5 {
            assert_eq!(cell.access().await.unwrap().unwrap().0.expose(), "access-0");
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "a 10 s token is fresh for its first 5 s despite the 60 s skew"
        );
    }

    #[tokio::test]
    async fn without_a_refresher_the_stale_token_is_used_as_is() {
        let cell = TokenCell::new(Duration::ZERO);
        assert!(
            cell.access().await.unwrap().is_none(),
            "nothing before login"
        );
        cell.set(expired());
        assert_eq!(cell.access().await.unwrap().unwrap().0.expose(), "access-0");
        assert!(cell.refresh_rejected(1).await.unwrap().is_none());
    }

    fn request() -> reqwest::Request {
        reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/x".parse().unwrap())
    }

    fn authorization(bearer: &Bearer) -> http::HeaderValue {
        let mut request = request();
        bearer.set(&mut request).unwrap();
        request.headers()["authorization"].clone()
    }

    #[tokio::test]
    async fn the_bearer_follows_the_current_token_renews_a_stale_one_and_hides_it() {
        let cell = TokenCell::new(Duration::ZERO);
        assert!(
            cell.bearer().await.unwrap().is_none(),
            "nothing before login"
        );
        cell.set(Tokens::new("first"));
        let first = cell.bearer().await.unwrap().unwrap();
        assert_eq!(authorization(&first), "Bearer first");
        assert!(authorization(&first).is_sensitive());
        assert_eq!(format!("{first:?}"), "Bearer(***)");
        cell.set(Tokens::new("second"));
        let second = cell.bearer().await.unwrap().unwrap();
        assert_eq!(
            authorization(&second),
            "Bearer second",
            "a new token, a new value"
        );
        // A stale token is renewed before its value is handed out.
        cell.set_refresher(Arc::new(|_| Box::pin(async { Ok(Tokens::new("renewed")) })));
        let mut stale = expired();
        stale.refresh = Some(Secret::new("r"));
        cell.set(stale);
        let renewed = cell.bearer().await.unwrap().unwrap();
        assert_eq!(authorization(&renewed), "Bearer renewed");
        assert_eq!(cell.refresh_count(), 1);
        // A token no header can carry is an error when set, not a panic.
        cell.set(Tokens::new("bad\nvalue"));
        let bad = cell.bearer().await.unwrap().unwrap();
        assert!(bad.set(&mut request()).is_err());
    }

    #[tokio::test]
    async fn a_failed_refresh_is_reported_and_keeps_the_old_tokens() {
        let cell = TokenCell::new(Duration::ZERO);
        cell.set_refresher(Arc::new(|_| {
            Box::pin(async { Err(RefreshError::new(Some(401), "refresh token expired")) })
        }));
        let g = cell.set(expired());
        let err = cell.access().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "token refresh failed (HTTP 401): refresh token expired"
        );
        assert_eq!(cell.snapshot().unwrap().1, g);
        assert!(!format!("{cell:?}").contains("access-0"));
    }

    fn failing_refresher(calls: Arc<AtomicUsize>) -> Refresher {
        Arc::new(move |_| {
            let calls = calls.clone();
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(RefreshError::new(Some(500), "renewal endpoint down"))
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_is_shared_and_backed_off() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cell = Arc::new(TokenCell::new(Duration::ZERO));
        cell.set_refresher(failing_refresher(calls.clone()));
        let g = cell.set(expired());
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let cell = cell.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        cell.access().await.map(drop)
                    } else {
                        cell.refresh_rejected(g).await.map(drop)
                    }
                })
            })
            .collect();
        for t in tasks {
            let err = t.await.unwrap().unwrap_err();
            assert_eq!(
                err.status,
                Some(500),
                "every caller gets the renewal's own error"
            );
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one renewal for 1,000 callers"
        );

        // Within the backoff nobody asks again; after it, one new attempt, then a longer wait.
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(cell.access().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(cell.access().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(cell.access().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the second wait is 2 s");
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(cell.access().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn new_tokens_end_the_backoff() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cell = TokenCell::new(Duration::ZERO);
        cell.set_refresher(failing_refresher(calls.clone()));
        cell.set(expired());
        assert!(cell.access().await.is_err());
        // A login from elsewhere stores new (already stale) tokens: they get their own attempt.
        cell.set(expired());
        assert!(cell.access().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn login_required_says_so() {
        let e = RefreshError::login_required(Some(401), "refresh token expired");
        assert!(
            e.to_string().ends_with("the session must log in again"),
            "{e}"
        );
    }
}
