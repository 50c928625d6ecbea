//! A logged-in Slate session: login, the bearer token on every call, renewal on expiry.
//!
//! Slate's customer login (`POST /customers/login`) returns a JWT and no refresh token. The
//! session therefore keeps the credentials it logged in with (as [`Secret`]s) and renews by
//! logging in again:
//! - before a call, when the token's `exp` claim is less than [`EXPIRY_SKEW`](crate::hooks::EXPIRY_SKEW) away;
//! - after a 401, once, then the call is sent again.
//!
//! A staff session ([`Session::login_staff`]) gets a token pair instead and renews through
//! `POST /auth/refresh`.
//!
//! Renewals are single-flight: however many tasks find the token stale at the same moment,
//! one login goes out. A session made from a token ([`Session::with_token`], for API tokens
//! or staff tokens) or by [`Session::autologin`] has no credentials and cannot renew: a 401
//! comes back as [`Error::Unauthorized`].
//!
//! The token's claims ([`UnverifiedClaims`]) are decoded **without verifying the signature**:
//! they tell the client which account to use, never what it is allowed to do.

use crate::claims::UnverifiedClaims;
use crate::error::Error;
use crate::hooks::State;
use crate::money::{AccountSummary, WithdrawalReceipt};
use crate::{types, Client};
use brokerkit_runtime::{BrokerError, ClientConfig, Failure, RefreshError, Reply, Secret, Tokens};
use progenitor_client::{ClientInfo, ResponseValue};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// The customer record and token facts returned by a login. Holds no secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoggedIn {
    pub customer: types::CustomerResponse,
    /// Claims of the new access token. **Unverified.**
    pub claims: UnverifiedClaims,
}

#[derive(Clone)]
struct Credentials {
    email: String,
    password: Secret,
}

struct Shared {
    claims: RwLock<Option<UnverifiedClaims>>,
    customer: RwLock<Option<types::CustomerResponse>>,
}

/// Settings for a [`Session`]; [`Session::new`] uses the defaults.
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    base_url: String,
    client_config: ClientConfig,
}

impl SessionBuilder {
    /// Timeouts, a `reqwest::Client` of your own, User-Agent, retries, deadline, answer size
    /// limit: the same [`ClientConfig`] every brokerkit session takes.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.client_config = config;
        self
    }

    /// A session that is not logged in yet: [`Session::login`] next.
    pub fn build(self) -> Result<Session, Error> {
        let http = self
            .client_config
            .build()
            .map_err(Failure::InvalidRequest)?;
        let state = State {
            pipeline: self.client_config.pipeline,
            ..State::default()
        };
        Ok(Session::from_client(Client::new_with_client(
            self.base_url.trim_end_matches('/'),
            http,
            state,
        )))
    }
}

/// A Slate client with its session. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Session {
    client: Client,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.client.baseurl())
            .field("tokens", &self.client.inner().tokens())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Settings for a session at `base_url`, the broker's API root (e.g.
    /// `https://api.mybroker.slate-labs.com`).
    pub fn builder(base_url: impl Into<String>) -> SessionBuilder {
        SessionBuilder {
            base_url: base_url.into(),
            client_config: ClientConfig::default(),
        }
    }

    /// A session that is not logged in yet, with the default [`ClientConfig`].
    pub fn new(base_url: &str) -> Self {
        Self::builder(base_url)
            .build()
            .expect("the default HTTP client builds")
    }

    /// A session that sends `token` as it is: a scoped API token or a staff token obtained
    /// elsewhere. It cannot renew itself. Claims are read when the token is a JWT.
    pub fn with_token(base_url: &str, token: impl Into<Secret>) -> Self {
        let session = Self::new(base_url);
        session.install_token(token.into());
        session
    }

    fn from_client(client: Client) -> Self {
        Self {
            client,
            shared: Arc::new(Shared {
                claims: RwLock::new(None),
                customer: RwLock::new(None),
            }),
        }
    }

    /// The generated client. Its calls carry this session's bearer token and renew it like
    /// [`Session::call`]; map their errors with [`Error::from_progenitor`] (or use `call`, which
    /// also types the status of undecodable answers and failed renewals).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Logs a customer in (`POST /customers/login`) and keeps the credentials to log in again
    /// when the token expires.
    pub async fn login(&self, email: &str, password: impl Into<Secret>) -> Result<LoggedIn, Error> {
        let creds = Credentials {
            email: email.to_string(),
            password: password.into(),
        };
        let outcome = login_once(&self.client, &creds).await?;
        let logged_in = self.install_login(outcome.0, outcome.1, Some(creds))?;
        Ok(logged_in)
    }

    /// Logs a staff user in (`POST /api/admin/users/login`, an unverified route from the
    /// vendor's narrative guide) for the CRM operations. Users with TOTP enabled must pass
    /// `totp_code` (or a backup code); without it the answer is [`Error::TotpRequired`]. The
    /// token pair is renewed through `POST /auth/refresh` (single-use, rotating refresh tokens).
    pub async fn login_staff(
        &self,
        email: &str,
        password: impl Into<Secret>,
        totp_code: Option<Secret>,
    ) -> Result<UnverifiedClaims, Error> {
        let body = types::StaffLoginRequest {
            email: email.to_string(),
            password: password.into(),
            totp_code,
        };
        let answer = scoped(self.client.staff_login().body(body).send())
            .await?
            .into_inner();
        let pair = match answer {
            types::StaffLoginSuccess::TokenPair(pair) => pair,
            types::StaffLoginSuccess::TotpChallenge(_) => return Err(Error::TotpRequired),
        };
        let (tokens, claims) = staff_tokens(pair)?;
        self.client
            .inner()
            .tokens()
            .set_refresher(refresh_pair(self.client.clone(), self.shared.clone()));
        self.client.inner().tokens().set(tokens);
        *self
            .shared
            .claims
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(claims.clone());
        *self
            .shared
            .customer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
        Ok(claims)
    }

    /// Redeems a one-time autologin token (`GET /auth/autologin`). The session cannot renew
    /// itself afterwards (no password is known): log in again when it expires.
    pub async fn autologin(&self, one_time_token: impl Into<Secret>) -> Result<LoggedIn, Error> {
        let token: Secret = one_time_token.into();
        let rv = scoped(self.client.autologin().token(token.expose()).send()).await?;
        let body = rv.into_inner();
        self.install_login(body.access_token, body.customer, None)
    }

    fn install_login(
        &self,
        access: Secret,
        customer: types::CustomerResponse,
        creds: Option<Credentials>,
    ) -> Result<LoggedIn, Error> {
        let claims = UnverifiedClaims::decode(access.expose())?;
        let mut tokens = Tokens::new(access);
        tokens.access_expires_at = claims.expires_at;
        if let Some(creds) = creds {
            self.client.inner().tokens().set_relogin(relogin(
                self.client.clone(),
                creds,
                self.shared.clone(),
            ));
        }
        self.client.inner().tokens().set(tokens);
        *self
            .shared
            .claims
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(claims.clone());
        *self
            .shared
            .customer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(customer.clone());
        Ok(LoggedIn { customer, claims })
    }

    fn install_token(&self, token: Secret) {
        let claims = UnverifiedClaims::decode(token.expose()).ok();
        let mut tokens = Tokens::new(token);
        tokens.access_expires_at = claims.as_ref().and_then(|c| c.expires_at);
        self.client.inner().tokens().set(tokens);
        *self
            .shared
            .claims
            .write()
            .unwrap_or_else(|p| p.into_inner()) = claims;
    }

    /// Replaces the token the session sends (e.g. after rotating an API token).
    pub fn set_token(&self, token: impl Into<Secret>) {
        self.install_token(token.into());
    }

    /// Forgets the tokens and credentials (Slate has no endpoint that revokes a customer
    /// token). Later secured calls fail typed as not logged in, without being sent.
    pub async fn logout(&self) -> Result<(), Error> {
        self.client.inner().tokens().clear();
        *self
            .shared
            .claims
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
        *self
            .shared
            .customer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Claims of the current access token, decoded **without verifying the signature**.
    /// `None` before login, or when the token is not a JWT (e.g. an opaque API token).
    pub fn claims(&self) -> Option<UnverifiedClaims> {
        self.shared
            .claims
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The primary trading-account login from the token's (unverified) claims.
    pub fn primary_login(&self) -> Option<String> {
        self.claims().and_then(|c| c.primary_login)
    }

    /// The access token the session currently sends (redacted in `Debug`), e.g. to hand to
    /// another process. `None` before login.
    pub fn access_token(&self) -> Option<Secret> {
        self.client
            .inner()
            .tokens()
            .snapshot()
            .map(|(t, _)| t.access.clone())
    }

    /// The customer record returned by the last login.
    pub fn customer(&self) -> Option<types::CustomerResponse> {
        self.shared
            .customer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many times the session has renewed its token (logged in again, or refreshed a
    /// staff pair).
    pub fn renewals(&self) -> u64 {
        self.client.inner().tokens().refresh_count()
    }

    /// When the access token expires (its `exp` claim); `None` before login, after
    /// [`Session::logout`], or for a token that names no expiry.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.client.inner().tokens().expires_at()
    }

    /// Runs one generated call with renewal: the token is renewed first when it is about to
    /// expire, and after a 401 the session logs in again (when it can) and sends the call
    /// once more (the hooks do both, for direct `client()` calls too).
    ///
    /// ```no_run
    /// # async fn demo(session: brokerkit_slate::Session) -> Result<(), brokerkit_slate::Error> {
    /// let me = session.call(|c| async move { c.get_me().send().await }).await?;
    /// println!("{} (remaining this minute: {:?})", me.value.email, me.rate_limit.remaining);
    /// # Ok(()) }
    /// ```
    pub async fn call<'a, T, E, F, Fut>(&'a self, op: F) -> Result<Reply<T>, Error>
    where
        E: serde::Serialize,
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        brokerkit_runtime::call::run(op(&self.client))
            .await
            .map_err(Error::from_failure)
    }

    // ---- typed helpers over the common customer calls -------------------------------------

    /// The logged-in customer's profile (`GET /customers/me`, unverified route).
    pub async fn me(&self) -> Result<types::CustomerResponse, Error> {
        Ok(self
            .call(|c| async move { c.get_me().send().await })
            .await?
            .value)
    }

    /// Live state of a trading account with exact decimals. `login` defaults to the primary
    /// login of the token's (unverified) claims.
    pub async fn account_summary(&self, login: Option<&str>) -> Result<AccountSummary, Error> {
        let login = match login {
            Some(l) => l.to_string(),
            None => self.primary_login().ok_or_else(|| {
                Error::Failure(Failure::InvalidRequest(
                    "no account login given and the token names no primary account".into(),
                ))
            })?,
        };
        let reply = self.call(|c| {
            let login = login.clone();
            async move { c.get_account_state().login(login).send().await }
        });
        Ok(AccountSummary::from(reply.await?.value))
    }

    /// Starts a deposit (`POST /customers/me/deposit`); the answer holds the cashier
    /// configuration. The client checks that `amount` is greater than zero ([`Failure::Amount`],
    /// nothing sent); minimums, maximums and the currency are the broker's to judge.
    pub async fn deposit(
        &self,
        amount: rust_decimal::Decimal,
        currency: Option<&str>,
    ) -> Result<Reply<types::DepositInitiated>, Error> {
        let amount = brokerkit_runtime::amount::positive("amount", amount)?;
        let body = types::DepositRequest {
            amount: amount.into(),
            currency: currency.map(str::to_owned),
            gateway: None,
        };
        self.call(|c| {
            let body = body.clone();
            async move { c.customer_initiate_deposit().body(body).send().await }
        })
        .await
    }

    /// Files a withdrawal request (`POST /customers/me/withdraw`) in the account currency.
    /// The client checks that `amount` is greater than zero ([`Failure::Amount`], nothing sent);
    /// whether the balance covers it is the broker's to judge.
    pub async fn withdraw(
        &self,
        amount: rust_decimal::Decimal,
        payment_data: serde_json::Map<String, serde_json::Value>,
        comment: Option<&str>,
    ) -> Result<WithdrawalReceipt, Error> {
        let amount = brokerkit_runtime::amount::positive("amount", amount)?;
        let comment = match comment {
            Some(c) => Some(
                types::WithdrawalRequestComment::try_from(c.to_string()).map_err(|e| {
                    Error::Failure(Failure::InvalidRequest(format!("comment: {e}")))
                })?,
            ),
            None => None,
        };
        let body = types::WithdrawalRequest {
            amount: amount.into(),
            payment_data,
            comment,
        };
        let reply = self
            .call(|c| {
                let body = body.clone();
                async move { c.customer_request_withdrawal().body(body).send().await }
            })
            .await?;
        Ok(WithdrawalReceipt::from(reply.value))
    }
}

/// Logs in once; returns the access token and the customer.
async fn login_once(
    client: &Client,
    creds: &Credentials,
) -> Result<(Secret, types::CustomerResponse), Error> {
    let body = types::CustomerLoginRequest {
        email: creds.email.clone(),
        password: creds.password.clone(),
    };
    let body = scoped(client.customer_login().body(body).send())
        .await?
        .into_inner();
    Ok((body.access_token, body.customer))
}

/// The token cell's refresher: log in again with the kept credentials.
fn relogin(
    client: Client,
    creds: Credentials,
    shared: Arc<Shared>,
) -> brokerkit_runtime::Refresher {
    Arc::new(move |_old: Arc<Tokens>| {
        let client = client.clone();
        let creds = creds.clone();
        let shared = shared.clone();
        Box::pin(async move {
            let (access, customer) = login_once(&client, &creds)
                .await
                .map_err(|e| RefreshError::new(e.status(), e.to_string()))?;
            let claims = UnverifiedClaims::decode(access.expose())
                .map_err(|e| RefreshError::new(None, e.to_string()))?;
            let mut tokens = Tokens::new(access);
            tokens.access_expires_at = claims.expires_at;
            *shared.claims.write().unwrap_or_else(|p| p.into_inner()) = Some(claims);
            *shared.customer.write().unwrap_or_else(|p| p.into_inner()) = Some(customer);
            Ok(tokens)
        })
    })
}

/// Tokens and claims from a staff token pair; the access token's `exp` wins over `expires_in`.
fn staff_tokens(pair: types::TokenPair) -> Result<(Tokens, UnverifiedClaims), Error> {
    let claims = UnverifiedClaims::decode(pair.access_token.expose())?;
    let mut tokens = Tokens::new(pair.access_token);
    tokens.refresh = pair.refresh_token;
    tokens.access_expires_at = claims.expires_at.or_else(|| {
        let secs = u64::try_from(pair.expires_in?).ok()?;
        std::time::SystemTime::now().checked_add(std::time::Duration::from_secs(secs))
    });
    Ok((tokens, claims))
}

/// The token cell's refresher for staff sessions: `POST /auth/refresh` with the current
/// (single-use) refresh token.
fn refresh_pair(client: Client, shared: Arc<Shared>) -> brokerkit_runtime::Refresher {
    Arc::new(move |old: Arc<Tokens>| {
        let client = client.clone();
        let shared = shared.clone();
        Box::pin(async move {
            let Some(refresh_token) = old.refresh.clone() else {
                return Err(RefreshError::login_required(None, "no refresh token"));
            };
            let sent = scoped(
                client
                    .refresh_token()
                    .body(types::RefreshRequest { refresh_token })
                    .send(),
            )
            .await;
            let pair = match sent {
                Ok(rv) => rv.into_inner(),
                // A dead (expired, revoked or already rotated) refresh token: staff logins need
                // a TOTP code only a person has, so only a new login can go on.
                Err(e) if matches!(e.status(), Some(400 | 401 | 403)) => {
                    return Err(RefreshError::login_required(e.status(), e.to_string()))
                }
                Err(e) => return Err(RefreshError::new(e.status(), e.to_string())),
            };
            let (tokens, claims) =
                staff_tokens(pair).map_err(|e| RefreshError::new(None, e.to_string()))?;
            *shared.claims.write().unwrap_or_else(|p| p.into_inner()) = Some(claims);
            Ok(tokens)
        })
    })
}

/// Runs one generated call in the runtime's call scope and types its failure.
async fn scoped<T, E, Fut>(fut: Fut) -> Result<ResponseValue<T>, Error>
where
    E: serde::Serialize,
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
{
    brokerkit_runtime::call::scoped(fut, Error::from_progenitor).await
}
