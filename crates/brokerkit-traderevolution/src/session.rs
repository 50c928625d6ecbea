//! A logged-in BackOffice session: logs in with a login and password, keeps the
//! access/refresh pair with their lifetimes, renews the access token through the `token`
//! header shortly before it expires and whenever the server answers 401 (one refresh in flight
//! however many calls need it), and logs in again when the refresh token itself is no longer
//! accepted. Every generated operation is reachable through [`Session::call`]; the common
//! ones have typed helpers with exact decimals.

use crate::error::Error;
use crate::generated::{types, Client, ResponseValue};
use crate::hooks::State;
use crate::money::{NewOperation, Operation, OperationType};
use crate::report::{ReportQuery, ReportTable};
use crate::ErrorCode;
use brokerkit_runtime::{BrokerError, ClientConfig, Failure, RefreshError, Reply, Secret, Tokens};
use rust_decimal::Decimal;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The public sandbox host.
pub const SANDBOX_HOST: &str = "sandbox.traderevolution.com";

/// The BackOffice base URL of an installation: `https://{host}:8443/proftrading/rest`.
pub fn server_url(host: &str) -> String {
    format!("https://{host}:8443/proftrading/rest")
}

/// Used when the token response leaves out a lifetime (as public client code does).
pub const DEFAULT_ACCESS_LIFETIME: Duration = Duration::from_secs(300);
/// Used when the token response leaves out a lifetime (as public client code does).
pub const DEFAULT_REFRESH_LIFETIME: Duration = Duration::from_secs(3600);
/// The most a token is renewed ahead of its expiry (a tenth of its lifetime when shorter).
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// The lifetimes the server gave the current token pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub access: Duration,
    pub refresh: Duration,
}

/// Runs one generated call and converts its error, keeping what the hooks saw of the answer.
pub(crate) async fn run<T, E, Fut>(fut: Fut) -> Result<T, Error>
where
    E: serde::Serialize,
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
{
    brokerkit_runtime::call::scoped(fut, Error::from_generated)
        .await
        .map(ResponseValue::into_inner)
}

/// Logs in and renews tokens. Holds its own client without a token cell, so a refresh never
/// goes through the hooks it serves.
struct Auth {
    client: Client,
    login: String,
    password: Secret,
    lifetimes: RwLock<Option<TokenLifetimes>>,
    logins: AtomicU64,
}

/// A lifetime from the token response: a JSON number of seconds, not necessarily whole (the
/// source reads it as a number); missing, zero, negative, non-finite or absurdly large values
/// fall back to `default`.
fn lifetime(secs: Option<f64>, default: Duration) -> Duration {
    match secs.map(Duration::try_from_secs_f64) {
        Some(Ok(d)) if !d.is_zero() => d,
        _ => default,
    }
}

fn margin(life: Duration) -> Duration {
    (life / 10).min(MAX_REFRESH_MARGIN)
}

impl Auth {
    async fn login(&self) -> Result<Tokens, Error> {
        self.logins.fetch_add(1, Ordering::SeqCst);
        let body = types::TokenRequest {
            login: self.login.clone(),
            password: self.password.clone(),
        };
        let pair = run(self.client.get_token().body(body).send()).await?;
        Ok(self.store(pair))
    }

    fn store(&self, pair: types::TokenPair) -> Tokens {
        let access = lifetime(pair.access_token_life_time, DEFAULT_ACCESS_LIFETIME);
        let refresh = lifetime(pair.refresh_token_life_time, DEFAULT_REFRESH_LIFETIME);
        *self.lifetimes.write().unwrap_or_else(|p| p.into_inner()) =
            Some(TokenLifetimes { access, refresh });
        let now = SystemTime::now();
        Tokens {
            access: pair.access_token,
            refresh: Some(pair.refresh_token),
            access_expires_at: Some(now + access - margin(access)),
            refresh_expires_at: Some(now + refresh - margin(refresh)),
        }
    }

    /// A new pair from the refresh token; a fresh login when the refresh token is past its
    /// lifetime or refused.
    async fn renew(&self, old: Arc<Tokens>) -> Result<Tokens, RefreshError> {
        let usable = old
            .refresh_expires_at
            .is_none_or(|at| SystemTime::now() < at);
        if let (true, Some(refresh)) = (usable, old.refresh.as_ref()) {
            match run(self.client.refresh_token().token(refresh.expose()).send()).await {
                Ok(pair) => return Ok(self.store(pair)),
                Err(e) if matches!(e.status(), Some(400 | 401 | 403 | 406)) => {}
                Err(e) => return Err(RefreshError::new(e.status(), e.to_string())),
            }
        }
        self.login().await.map_err(|e| {
            let message = format!("logging in again failed: {e}");
            // The kept password itself is refused: only the caller can log in now.
            if matches!(e.status(), Some(401 | 403)) {
                RefreshError::login_required(e.status(), message)
            } else {
                RefreshError::new(e.status(), message)
            }
        })
    }
}

/// A logged-in session. Cheap to clone; clones share the tokens.
#[derive(Clone)]
pub struct Session {
    client: Client,
    auth: Arc<Auth>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.client.baseurl)
            .field("login", &self.auth.login)
            .field("tokens", &self.client.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// Settings for a session; [`Session::login`] uses the defaults.
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

    /// Logs in with a login and password.
    pub async fn login(self, login: &str, password: impl Into<Secret>) -> Result<Session, Error> {
        let http = self
            .client_config
            .build()
            .map_err(Failure::InvalidRequest)?;
        let base_url = self.base_url.trim_end_matches('/');
        let pipeline = self.client_config.pipeline;
        let fresh_state = || State {
            pipeline: pipeline.clone(),
            ..State::default()
        };
        let auth = Arc::new(Auth {
            client: Client::new_with_client(base_url, http.clone(), fresh_state()),
            login: login.to_string(),
            password: password.into(),
            lifetimes: RwLock::new(None),
            logins: AtomicU64::new(0),
        });
        let tokens = auth.login().await?;
        let state = fresh_state();
        state.tokens.set(tokens);
        let renewer = auth.clone();
        state.tokens.set_refresher(Arc::new(move |old| {
            let auth = renewer.clone();
            Box::pin(async move { auth.renew(old).await })
        }));
        Ok(Session {
            client: Client::new_with_client(base_url, http, state),
            auth,
        })
    }
}

impl Session {
    /// Settings for a session at `base_url` (e.g. [`server_url`]`("sandbox.traderevolution.com")`).
    pub fn builder(base_url: impl Into<String>) -> SessionBuilder {
        SessionBuilder {
            base_url: base_url.into(),
            client_config: ClientConfig::default(),
        }
    }

    /// Logs in at `base_url` with default settings.
    pub async fn login(
        base_url: &str,
        login: &str,
        password: impl Into<Secret>,
    ) -> Result<Self, Error> {
        Self::builder(base_url).login(login, password).await
    }

    /// The generated client; its calls carry this session's token.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs any generated operation through the session (token, the pipeline) and returns
    /// its answer with status and headers; errors keep the raw body and status:
    /// `session.call(|c| c.get_account().account_id(42).send()).await?.value`.
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

    async fn value<'a, T, F, Fut>(&'a self, op: F) -> Result<T, Error>
    where
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error>>,
    {
        run(op(&self.client)).await
    }

    /// Renews the token pair now (through the `token` header, or by logging in again).
    pub async fn refresh(&self) -> Result<(), Error> {
        let Some((_, generation)) = self.client.inner.tokens.snapshot() else {
            return Err(Failure::NotLoggedIn("the session has logged out".into()).into());
        };
        self.client
            .inner
            .tokens
            .refresh_rejected(generation)
            .await?;
        Ok(())
    }

    /// Forgets the tokens (the BackOffice has no endpoint that revokes them); later secured
    /// calls fail typed as not logged in, unsent.
    pub async fn logout(&self) -> Result<(), Error> {
        self.client.inner.tokens.clear();
        Ok(())
    }

    /// The lifetimes of the current token pair as the server gave them.
    pub fn token_lifetimes(&self) -> Option<TokenLifetimes> {
        *self
            .auth
            .lifetimes
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// When the access token is treated as expired and renewed (a margin before the
    /// server's lifetime ends: a tenth of it, at most [`MAX_REFRESH_MARGIN`]).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.client.inner.tokens.expires_at()
    }

    /// How many times the session renewed its tokens (refreshed, or logged in again).
    pub fn renewals(&self) -> u64 {
        self.client.inner.tokens.refresh_count()
    }

    /// How many times the session logged in (1 after [`Session::login`]).
    pub fn login_count(&self) -> u64 {
        self.auth.logins.load(Ordering::SeqCst)
    }

    /// Verifies a one-time token from an external link and returns the login it belongs to.
    /// The token is consumed by the server. [`Error::InvalidToken`] when expired or used.
    pub async fn verify_one_time_token(&self, token: &Secret) -> Result<String, Error> {
        let body = types::OneTimeTokenRequest {
            token: token.clone(),
        };
        let v = self
            .value(|c| c.verify_external_token().body(body).send())
            .await?;
        verified_login(v)
    }

    /// Resolves a trading-platform (PFIX) session token to its user login.
    /// [`Error::InvalidToken`] when the server reports it expired.
    pub async fn verify_pfix_token(&self, token: &Secret) -> Result<String, Error> {
        verify_pfix_token(&self.client, token).await
    }

    /// Asks the server what an error code means (`GET /methods/errors`).
    pub async fn describe_error(&self, code: &ErrorCode) -> Result<String, Error> {
        match self
            .value(|c| c.describe_error().error_id(code.as_str()).send())
            .await
        {
            Ok(d) => Ok(d.description.unwrap_or_default()),
            // A plain-text (or bare JSON string) answer is a description too.
            Err(Error::Failure(Failure::Decode {
                status: Some(200),
                body,
                ..
            })) if !body.is_empty() => {
                let text = serde_json::from_slice::<String>(&body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
                Ok(text.trim().to_string())
            }
            Err(e) => Err(e),
        }
    }

    /// The user with this login, if any. The login is sent quoted (`'login'`), as public client
    /// code does.
    pub async fn find_user_by_login(&self, login: &str) -> Result<Option<types::User>, Error> {
        let quoted = quote_filter_value(login)?;
        let users = self.value(|c| c.find_users().login(quoted).send()).await?;
        Ok(users
            .into_iter()
            .find(|u| u.login.as_deref().is_none_or(|l| l == login)))
    }

    /// The passwords no user may choose (`GET /passwordBlacklist`; the route's shape is
    /// unverified). They stay [`Secret`]s like every password.
    pub async fn password_blacklist(&self) -> Result<Vec<Secret>, Error> {
        let entries = self.value(|c| c.list_password_blacklist().send()).await?;
        Ok(entries.into_iter().map(|e| e.password).collect())
    }

    /// Puts a password on the blacklist (`POST /passwordBlacklist`; method and body are
    /// unverified), so that user creation and password changes refuse it.
    pub async fn blacklist_password(&self, password: impl Into<Secret>) -> Result<(), Error> {
        let body = types::PasswordBlacklistEntry {
            password: password.into(),
        };
        self.value(|c| c.add_to_password_blacklist().body(body).send())
            .await
    }

    /// Closes a trading account (`POST /closeAccount`; path, method and body are
    /// unverified). The account stays readable with a closed status.
    pub async fn close_account(&self, account_id: i64) -> Result<(), Error> {
        let body = types::CloseAccountRequest { account_id };
        self.value(|c| c.close_account().body(body).send()).await
    }

    /// Rolls back (deletes) a position (`DELETE /positions/{id}`). Position ids are strings:
    /// they can exceed 2^53.
    pub async fn roll_back_position(&self, position_id: &str) -> Result<(), Error> {
        self.value(|c| c.delete_position().position_id(position_id).send())
            .await
    }

    /// The orders, of one account or of all (`GET /orders`; filters and fields are
    /// unverified).
    pub async fn orders(&self, account_id: Option<i64>) -> Result<Vec<types::Order>, Error> {
        self.value(|c| {
            let mut b = c.list_orders();
            if let Some(id) = account_id {
                b = b.account_id(id);
            }
            b.send()
        })
        .await
    }

    /// The balance of a trading account, exactly.
    pub async fn account_balance(&self, account_id: i64) -> Result<Option<Decimal>, Error> {
        let account = self
            .value(|c| c.get_account().account_id(account_id).send())
            .await?;
        Ok(account.balance.map(|b| b.into_inner()))
    }

    /// Creates an account operation and returns its id (when the server reports one).
    pub async fn create_operation(&self, op: &NewOperation) -> Result<Option<i64>, Error> {
        let body = op
            .to_request()
            .map_err(|m| Error::Failure(Failure::InvalidRequest(m)))?;
        Ok(self
            .value(|c| c.create_account_operation().body(body).send())
            .await?
            .id)
    }

    /// Credits `amount` (a deposit, type 2). `amount` must be greater than zero: anything else
    /// is [`Failure::Amount`] and nothing is sent (the sign is never flipped to fit). Whether the
    /// account may receive it is the server's to judge.
    pub async fn deposit(
        &self,
        account_id: i64,
        amount: Decimal,
        comment: Option<&str>,
    ) -> Result<Option<i64>, Error> {
        let amount = brokerkit_runtime::amount::positive("amount", amount)?;
        let mut op = NewOperation::new(account_id, OperationType::Deposit, amount);
        op.comment = comment.map(str::to_string);
        self.create_operation(&op).await
    }

    /// Debits `amount` (a withdrawal, type 3, sent as a negative amount since the sign selects
    /// debit or credit). `amount` is how much to take out and must be greater than zero:
    /// anything else is [`Failure::Amount`] and nothing is sent. Whether the balance covers it
    /// is the server's to judge.
    pub async fn withdraw(
        &self,
        account_id: i64,
        amount: Decimal,
        comment: Option<&str>,
    ) -> Result<Option<i64>, Error> {
        let amount = brokerkit_runtime::amount::positive("amount", amount)?;
        let mut op = NewOperation::new(account_id, OperationType::Withdrawal, -amount);
        op.comment = comment.map(str::to_string);
        self.create_operation(&op).await
    }

    /// The settled operations of one account.
    pub async fn settled_operations(&self, account_id: i64) -> Result<Vec<Operation>, Error> {
        let ops = self
            .value(|c| {
                c.list_account_operations()
                    .is_settled(types::SettledFlag::from(types::SettledFlagString::True))
                    .account_id(account_id)
                    .send()
            })
            .await?;
        Ok(ops.into_iter().map(Operation::from).collect())
    }

    /// Runs a report.
    pub async fn run_report(&self, query: &ReportQuery) -> Result<ReportTable, Error> {
        let result = self
            .value(|c| {
                let mut b = c.run_report().report_id(query.report_id);
                if let Some(v) = query.start_ms {
                    b = b.start_date(v);
                }
                if let Some(v) = query.end_ms {
                    b = b.end_date(v);
                }
                if let Some(v) = query.limit {
                    b = b.limit(v);
                }
                if let Some(v) = query.account_id {
                    b = b.account_id(v);
                }
                if let Some(v) = &query.asset_name {
                    b = b.asset_name(v.clone());
                }
                b.send()
            })
            .await?;
        Ok(ReportTable::from(result))
    }
}

/// Resolves a trading-platform (PFIX) session token to its user login, without a session
/// (the endpoint needs no Bearer token): `Client::new(base_url, Default::default())`.
pub async fn verify_pfix_token(client: &Client, token: &Secret) -> Result<String, Error> {
    let v = run(client.verify_pfix_token().token(token.expose()).send()).await?;
    verified_login(v)
}

fn verified_login(v: types::TokenVerification) -> Result<String, Error> {
    match (v.is_expired, v.login) {
        (Some(true), _) | (_, None) => Err(Error::InvalidToken),
        (_, Some(login)) if login.is_empty() => Err(Error::InvalidToken),
        (_, Some(login)) => Ok(login),
    }
}

/// `value` as a single-quoted filter literal, `'` doubled as in SQL, so a login can never add a
/// condition; backslashes and control characters, whose meaning to the server is unknown, are
/// refused.
fn quote_filter_value(value: &str) -> Result<String, Error> {
    if value.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(Error::Failure(Failure::InvalidRequest(
            "a login holding a backslash or a control character cannot be searched for safely"
                .into(),
        )));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

#[cfg(test)]
mod filter_tests {
    use super::quote_filter_value;

    #[test]
    fn quotes_are_doubled_and_escapes_refused() {
        assert_eq!(quote_filter_value("abc").unwrap(), "'abc'");
        assert_eq!(
            quote_filter_value("x' or login='admin").unwrap(),
            "'x'' or login=''admin'"
        );
        assert!(quote_filter_value("a\\b").is_err());
        assert!(quote_filter_value("a\nb").is_err());
    }
}
