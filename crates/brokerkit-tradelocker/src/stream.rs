//! TradeLocker's Streams API: account events (balances, positions, orders) over Socket.IO v4,
//! as a `futures::Stream` of typed [`StreamEvent`]s that reconnects, resubscribes and renews
//! its tokens by itself. Built on `rust_socketio` (websocket transport); the messages are the
//! types generated from `specs/tradelocker.streams.yaml` ([`crate::stream_types`]).
//!
//! ```no_run
//! use brokerkit_tradelocker::stream::{self, StreamBuilder, StreamEvent};
//! use brokerkit_tradelocker::Credentials;
//! use futures::StreamExt;
//!
//! # async fn demo() -> Result<(), stream::StreamError> {
//! let creds = Credentials::new("trader@example.com", "password", "OSP-DEMO");
//! let tokens = stream::account_tokens("https://demo.tradelocker.com/backend-api", creds);
//! let mut events = StreamBuilder::new(stream::DEV_ORIGIN, "my-developer-key", "OSP-DEMO", tokens)
//!     .account("2200767")
//!     .connect()
//!     .await?;
//! while let Some(event) = events.next().await {
//!     match event? {
//!         StreamEvent::Resync { .. } => { /* forget the account; a snapshot follows */ }
//!         StreamEvent::SyncEnd { .. } => println!("snapshot complete"),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! **Order and resync.** After each subscription the server sends a snapshot (the account, its
//! positions and working orders), then [`StreamEvent::SyncEnd`], then changes. Whenever the
//! stream has to subscribe again (a reconnect, a renewed token, or a consumer that fell behind)
//! it first yields [`StreamEvent::Resync`] for the account: drop what you hold of it, and a
//! fresh snapshot and `SyncEnd` follow. So the state a consumer builds after the next `SyncEnd`
//! is the server's, with nothing lost or counted twice.
//!
//! **Slow consumers.** Events wait in a bounded queue ([`StreamBuilder::capacity`], 1,024 by
//! default). When it is full, the stream does not buffer more: it drops events (the socket is
//! still read, so heartbeats go on), and once the consumer has caught up to half the queue it
//! yields [`StreamEvent::Lagged`] with the number dropped, then a `Resync` and a fresh snapshot
//! of every account. Memory stays bounded by the queue, however slow the consumer.
//!
//! **Errors.** A refused `developer-api-key` ([`StreamError::KeyRefused`]) or a stream token the
//! server still refuses after one renewal ([`StreamError::TokenRefused`]) ends the stream, as
//! does running out of reconnection attempts; a transport drop does not: it reconnects with
//! backoff. No token or key is in any `Debug` or `Display`.

use crate::stream_types::{self as msg, SubscriptionStatusString};
use crate::Credentials;
use brokerkit_runtime::Secret;
use futures::future::BoxFuture;
use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// The Streams API origin of the official example (TradeLocker's development environment).
pub const DEV_ORIGIN: &str = "https://api-dev.tradelocker.com";
/// Unverified: the production origin as community code reports it.
pub const LIVE_ORIGIN: &str = "https://api.tradelocker.com";
/// The Socket.IO namespace.
pub const NAMESPACE: &str = "/streams-api";
/// The handshake path under the origin.
pub const HANDSHAKE_PATH: &str = "/streams-api/socket.io/";

/// The origin of the Streams API that goes with a REST base URL: the sandbox serves both on one
/// port (`http://127.0.0.1:PORT/backend-api` → `http://127.0.0.1:PORT`); TradeLocker's hosts
/// map to [`DEV_ORIGIN`] (demo, dev, staging) or [`LIVE_ORIGIN`] (live).
pub fn origin_for(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    if trimmed.contains("live.tradelocker.com") {
        return LIVE_ORIGIN.into();
    }
    if trimmed.contains(".tradelocker.com") {
        return DEV_ORIGIN.into();
    }
    trimmed
        .strip_suffix("/backend-api")
        .unwrap_or(trimmed)
        .to_string()
}

/// One account's stream token, from `POST /auth/jwt/accounts/tokens`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamToken {
    pub account_id: String,
    pub access_token: Secret,
    /// When the server says the token expires (`None` if it did not say, or unreadable).
    pub expires_at: Option<SystemTime>,
}

impl StreamToken {
    /// A token from elsewhere (a [`TokenSource`] of your own).
    pub fn new(
        account_id: impl Into<String>,
        access_token: impl Into<Secret>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        Self {
            account_id: account_id.into(),
            access_token: access_token.into(),
            expires_at,
        }
    }
}

/// Where the stream gets its tokens: called at the start, before a token expires, and when the
/// server refuses one. [`account_tokens`] is the usual one.
pub type TokenSource =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<StreamToken>, StreamError>> + Send + Sync>;

/// A [`TokenSource`] that logs in with `credentials` at `POST {base_url}/auth/jwt/accounts/tokens`
/// (without a `developer-api-key`, as the docs ask) each time tokens are needed.
pub fn account_tokens(base_url: &str, credentials: Credentials) -> TokenSource {
    let url = format!(
        "{}/auth/jwt/accounts/tokens",
        base_url.trim_end_matches('/')
    );
    let credentials = Arc::new(credentials);
    Arc::new(move || {
        let url = url.clone();
        let credentials = credentials.clone();
        async move {
            let failed = |message: String| StreamError::Tokens {
                status: None,
                message,
            };
            let client = brokerkit_runtime::tls::client_builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| failed(e.to_string()))?;
            let body = crate::types::JwtCredentials {
                email: credentials.email.clone(),
                password: credentials.password.clone(),
                server: credentials.server.clone(),
            };
            let response = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| failed(e.without_url().to_string()))?;
            let status = response.status();
            if !status.is_success() {
                return Err(StreamError::Tokens {
                    status: Some(status.as_u16()),
                    message: format!("the token call answered {status}"),
                });
            }
            let tokens: crate::types::StreamAccountTokens = response
                .json()
                .await
                .map_err(|e| failed(format!("unreadable token answer: {}", e.without_url())))?;
            Ok(tokens
                .data
                .into_iter()
                .map(|t| StreamToken {
                    account_id: t.account_id.to_string(),
                    access_token: t.access_token,
                    expires_at: t
                        .expire_date
                        .as_deref()
                        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                        .map(SystemTime::from),
                })
                .collect())
        }
        .boxed()
    })
}

/// Why the stream has to subscribe an account again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResyncReason {
    /// The connection dropped and came back.
    Reconnected,
    /// The stream token was renewed (before it expired, or because the server said it had).
    TokenRenewed,
    /// The consumer fell behind and events were dropped.
    Lagged,
}

/// One item of the stream.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The server accepted the subscription of an account (its snapshot follows).
    Subscribed { account_id: String },
    /// Balances of an account.
    Account(msg::AccountStatus),
    /// A position, new or changed.
    Position(msg::Position),
    /// A position closed in full.
    PositionClosed(msg::ClosePosition),
    /// An order, new or changed (`status` says whether it still works).
    Order(msg::OpenOrder),
    /// The snapshot of an account is complete; what follows are changes.
    SyncEnd { account_id: Option<String> },
    /// Forget what you hold of this account: a fresh snapshot and `SyncEnd` follow.
    Resync {
        account_id: String,
        reason: ResyncReason,
    },
    /// The consumer fell behind and this many events were dropped; a `Resync` of every account
    /// follows.
    Lagged { dropped: u64 },
    /// The account is no longer subscribed (after [`StreamHandle::unsubscribe`]).
    Unsubscribed { account_id: String },
    /// A `Property` other than `SyncEnd`.
    Property(msg::Property),
    /// A `stream` message of a type this version does not know, as received.
    Other(Value),
}

/// What ended the stream, or what the stream could not do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The server refused the `developer-api-key` header. Check the key (it is not the login).
    #[error("the Streams API refused the developer-api-key ({message}); check the developer key")]
    KeyRefused { message: String },
    /// The server refused the stream token of an account, also after a renewal.
    #[error("the Streams API refused the stream token of account {account_id} ({}): {message}", code.as_deref().unwrap_or("no code"))]
    TokenRefused {
        account_id: String,
        code: Option<String>,
        message: String,
    },
    /// The token source gave no token for an account.
    #[error("no stream token for account {account_id}: is it one of this login's accounts?")]
    NoToken { account_id: String },
    /// The token source failed.
    #[error("could not get stream tokens: {message}")]
    Tokens {
        status: Option<u16>,
        message: String,
    },
    /// Could not reach the Streams API.
    #[error("could not connect to the Streams API: {0}")]
    Connect(String),
    /// The server did not answer in time.
    #[error("the Streams API did not answer {0} in time")]
    Timeout(&'static str),
    /// The connection dropped and every reconnection attempt failed.
    #[error("the Streams API connection dropped and {attempts} reconnection attempts failed")]
    Disconnected { attempts: u32 },
    /// The stream was closed (by [`StreamHandle::close`] or because it ended).
    #[error("the stream is closed")]
    Closed,
}

/// Configures and opens a [`AccountStream`].
pub struct StreamBuilder {
    origin: String,
    developer_key: Secret,
    brand_id: String,
    tokens: TokenSource,
    accounts: Vec<String>,
    capacity: usize,
    renew_before: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    max_attempts: Option<u32>,
    answer_timeout: Duration,
}

impl std::fmt::Debug for StreamBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBuilder")
            .field("origin", &self.origin)
            .field("developer_key", &self.developer_key)
            .field("brand_id", &self.brand_id)
            .field("accounts", &self.accounts)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl StreamBuilder {
    /// A stream at `origin` (e.g. [`DEV_ORIGIN`], or [`origin_for`] a REST base URL), sending
    /// `developer_key` on the handshake, for the broker server `brand_id` (the login's `server`).
    pub fn new(
        origin: impl Into<String>,
        developer_key: impl Into<Secret>,
        brand_id: impl Into<String>,
        tokens: TokenSource,
    ) -> Self {
        Self {
            origin: origin.into(),
            developer_key: developer_key.into(),
            brand_id: brand_id.into(),
            tokens,
            accounts: Vec::new(),
            capacity: 1024,
            renew_before: Duration::from_secs(60),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            max_attempts: None,
            answer_timeout: Duration::from_secs(10),
        }
    }

    /// Subscribes this account (by account id) when the stream opens.
    pub fn account(mut self, account_id: impl Into<String>) -> Self {
        self.accounts.push(account_id.into());
        self
    }

    /// How many events may wait for the consumer before the stream drops them (see the
    /// module docs). At least 4.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(4);
        self
    }

    /// How long before a token's expiry the stream renews it (default 60 s).
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    /// Backoff between reconnection attempts: doubles from `min` up to `max`.
    pub fn reconnect_delay(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// Gives up after this many failed reconnection attempts in a row (default: never).
    pub fn max_reconnect_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// How long to wait for the server's answer to a connection or a subscription (default 10 s).
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// Connects and subscribes the accounts; returns once every account is subscribed (its
    /// snapshot then arrives on the stream), or with the error that prevented it.
    pub async fn connect(self) -> Result<AccountStream, StreamError> {
        let (out_tx, out_rx) = mpsc::channel(self.capacity);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            out: out_tx,
            lag: Mutex::new(Lag::default()),
            delivered: AtomicU64::new(0),
            lag_started: tokio::sync::Notify::new(),
        });
        let mut driver = Driver {
            config: self,
            shared: shared.clone(),
            tokens: BTreeMap::new(),
            control: None,
            client: None,
        };
        driver.refresh_tokens().await?;
        driver.connect_and_subscribe(None).await?;
        tokio::spawn(driver.run(cmd_rx));
        Ok(AccountStream {
            events: out_rx,
            handle: StreamHandle { commands: cmd_tx },
        })
    }
}

/// The stream of one connection's accounts. Dropping it closes the connection.
pub struct AccountStream {
    events: mpsc::Receiver<Result<StreamEvent, StreamError>>,
    handle: StreamHandle,
}

impl AccountStream {
    /// A handle to subscribe or unsubscribe accounts while the stream is read.
    pub fn handle(&self) -> StreamHandle {
        self.handle.clone()
    }
}

impl futures::Stream for AccountStream {
    type Item = Result<StreamEvent, StreamError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Controls a running [`AccountStream`].
#[derive(Clone, Debug)]
pub struct StreamHandle {
    commands: mpsc::Sender<Command>,
}

#[derive(Debug)]
enum Command {
    Subscribe(String, oneshot::Sender<Result<(), StreamError>>),
    Unsubscribe(String, oneshot::Sender<Result<(), StreamError>>),
    Close,
}

impl StreamHandle {
    /// Subscribes another account; its snapshot follows on the stream.
    pub async fn subscribe(&self, account_id: impl Into<String>) -> Result<(), StreamError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Subscribe(account_id.into(), tx))
            .await
            .map_err(|_| StreamError::Closed)?;
        rx.await.unwrap_or(Err(StreamError::Closed))
    }

    /// Unsubscribes an account; [`StreamEvent::Unsubscribed`] follows on the stream, and no
    /// event of that account after it.
    pub async fn unsubscribe(&self, account_id: impl Into<String>) -> Result<(), StreamError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Unsubscribe(account_id.into(), tx))
            .await
            .map_err(|_| StreamError::Closed)?;
        rx.await.unwrap_or(Err(StreamError::Closed))
    }

    /// Closes the connection; the stream ends.
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }
}

/// What the socket callbacks and the driver share.
struct Shared {
    out: mpsc::Sender<Result<StreamEvent, StreamError>>,
    lag: Mutex<Lag>,
    delivered: AtomicU64,
    /// Wakes the driver when a lag starts (its recovery check runs only while lagging).
    lag_started: tokio::sync::Notify,
}

#[derive(Default)]
struct Lag {
    lagging: bool,
    dropped: u64,
    /// Accounts whose events are not forwarded (between UNSUBSCRIBE and its answer, and after).
    muted: Vec<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Lag> {
        self.lag.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forwards a data event without waiting: a full queue puts the stream in lag.
    fn forward(&self, event: StreamEvent) {
        let mut lag = self.lock();
        if lag.lagging {
            lag.dropped += 1;
            return;
        }
        match self.out.try_send(Ok(event)) {
            Ok(()) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                lag.lagging = true;
                lag.dropped = 1;
                self.lag_started.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// What the socket callbacks tell the driver.
#[derive(Debug)]
enum Signal {
    Connected,
    ConnectError(String),
    Closed,
    /// A `subscriptions` event (not an ack).
    Subscription(msg::SubscriptionReply),
    /// A `connection` event.
    Connection(msg::ConnectionStatus),
}

struct Driver {
    config: StreamBuilder,
    shared: Arc<Shared>,
    tokens: BTreeMap<String, StreamToken>,
    control: Option<mpsc::Receiver<Signal>>,
    client: Option<Client>,
}

fn account_of(event: &StreamEvent) -> Option<&str> {
    match event {
        StreamEvent::Account(m) => Some(&m.account_id),
        StreamEvent::Position(m) => Some(&m.account_id),
        StreamEvent::PositionClosed(m) => Some(&m.account_id),
        StreamEvent::Order(m) => Some(&m.account_id),
        StreamEvent::SyncEnd { account_id } => account_id.as_deref(),
        _ => None,
    }
}

fn decode(value: Value) -> StreamEvent {
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let typed = match kind.as_str() {
        "AccountStatus" => serde_json::from_value(value.clone()).map(StreamEvent::Account),
        "Position" => serde_json::from_value(value.clone()).map(StreamEvent::Position),
        "ClosePosition" => serde_json::from_value(value.clone()).map(StreamEvent::PositionClosed),
        "OpenOrder" => serde_json::from_value(value.clone()).map(StreamEvent::Order),
        "Property" => serde_json::from_value::<msg::Property>(value.clone()).map(|p| {
            if p.name == "SyncEnd" {
                StreamEvent::SyncEnd {
                    account_id: p.account_id,
                }
            } else {
                StreamEvent::Property(p)
            }
        }),
        _ => return StreamEvent::Other(value),
    };
    typed.unwrap_or(StreamEvent::Other(value))
}

fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        _ => Value::Null,
    }
}

impl Driver {
    async fn refresh_tokens(&mut self) -> Result<(), StreamError> {
        let fresh = (self.config.tokens)().await?;
        for t in fresh {
            self.tokens.insert(t.account_id.clone(), t);
        }
        for a in &self.config.accounts {
            if !self.tokens.contains_key(a) {
                return Err(StreamError::NoToken {
                    account_id: a.clone(),
                });
            }
        }
        Ok(())
    }

    /// When the earliest token of a subscribed account should be renewed.
    fn renew_at(&self) -> Option<tokio::time::Instant> {
        let earliest = self
            .config
            .accounts
            .iter()
            .filter_map(|a| self.tokens.get(a)?.expires_at)
            .min()?;
        let left = earliest
            .checked_sub(self.config.renew_before)
            .and_then(|t| t.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::ZERO);
        Some(tokio::time::Instant::now() + left)
    }

    async fn open(&mut self) -> Result<(), StreamError> {
        let (tx, rx) = mpsc::channel::<Signal>(64);
        let origin = self
            .config
            .origin
            .trim_end_matches('/')
            .replacen("wss://", "https://", 1)
            .replacen("ws://", "http://", 1);
        let shared = self.shared.clone();
        let on_stream = move |payload: Payload, _: Client| {
            let shared = shared.clone();
            async move {
                let event = decode(first(payload));
                let muted =
                    account_of(&event).is_some_and(|a| shared.lock().muted.iter().any(|m| m == a));
                if !muted {
                    shared.forward(event);
                }
            }
            .boxed()
        };
        let signal = |tx: &mpsc::Sender<Signal>, make: fn(Value) -> Option<Signal>| {
            let tx = tx.clone();
            move |payload: Payload, _: Client| {
                let tx = tx.clone();
                async move {
                    if let Some(s) = make(first(payload)) {
                        let _ = tx.try_send(s);
                    }
                }
                .boxed()
            }
        };
        let on_error = {
            let tx = tx.clone();
            move |payload: Payload, _: Client| {
                let tx = tx.clone();
                async move {
                    let text = match first(payload) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if text.contains("ConnectError") {
                        let _ = tx.try_send(Signal::ConnectError(text));
                    }
                }
                .boxed()
            }
        };
        let mut builder = ClientBuilder::new(format!("{origin}{HANDSHAKE_PATH}"))
            .namespace(NAMESPACE)
            .transport_type(TransportType::Websocket)
            .opening_header("developer-api-key", self.config.developer_key.expose())
            // A transport that dies without a DISCONNECT packet raises no event here, so the
            // crate reconnects that case itself (its CONNECT then reaches `serve`, which
            // resubscribes); a server-side disconnect is ours to handle (`Signal::Closed`).
            .reconnect(true)
            .reconnect_on_disconnect(false)
            .reconnect_delay(
                self.config.reconnect_min.as_millis() as u64,
                self.config.reconnect_max.as_millis() as u64,
            )
            .on("stream", on_stream)
            .on(
                "subscriptions",
                signal(&tx, |v| {
                    serde_json::from_value(v).ok().map(Signal::Subscription)
                }),
            )
            .on(
                "connection",
                signal(&tx, |v| {
                    serde_json::from_value(v).ok().map(Signal::Connection)
                }),
            )
            .on(Event::Connect, signal(&tx, |_| Some(Signal::Connected)))
            .on(Event::Close, signal(&tx, |_| Some(Signal::Closed)))
            .on(Event::Error, on_error);
        if let Some(max) = self.config.max_attempts {
            builder = builder.max_reconnect_attempts(max.min(u8::MAX as u32) as u8);
        }
        let client = builder
            .connect()
            .await
            .map_err(|e| StreamError::Connect(e.to_string()))?;
        self.client = Some(client);
        self.control = Some(rx);
        // The namespace answers CONNECT or CONNECT_ERROR (a refused key).
        let answer = tokio::time::timeout(self.config.answer_timeout, async {
            loop {
                match self.control.as_mut()?.recv().await? {
                    Signal::Connected => return Some(Ok(())),
                    Signal::ConnectError(text) => {
                        return Some(Err(StreamError::KeyRefused {
                            message: short(&text),
                        }))
                    }
                    Signal::Connection(c) if c.status == "ERROR" => {
                        return Some(Err(StreamError::KeyRefused {
                            message: short(c.message.as_deref().unwrap_or("connection refused")),
                        }))
                    }
                    Signal::Closed => return None,
                    _ => {}
                }
            }
        })
        .await;
        match answer {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => {
                self.close_client().await;
                Err(e)
            }
            Ok(None) => {
                self.close_client().await;
                Err(StreamError::Connect(
                    "the server closed the connection".into(),
                ))
            }
            Err(_) => {
                self.close_client().await;
                Err(StreamError::Timeout("the connection"))
            }
        }
    }

    async fn close_client(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.disconnect().await;
        }
    }

    /// Emits `subscriptions` and waits for its ack.
    async fn request(
        &self,
        body: &msg::SubscriptionRequest,
    ) -> Result<msg::SubscriptionReply, StreamError> {
        let client = self.client.as_ref().ok_or(StreamError::Closed)?;
        let (tx, rx) = oneshot::channel::<Value>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let shared = self.shared.clone();
        let data = serde_json::to_value(body).unwrap_or_default();
        client
            .emit_with_ack(
                "subscriptions",
                data,
                self.config.answer_timeout,
                move |payload: Payload, _: Client| {
                    let tx = tx.clone();
                    let shared = shared.clone();
                    async move {
                        if let Some(tx) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            // An ack's arguments arrive as one array.
                            let value = match first(payload) {
                                Value::Array(mut args) if !args.is_empty() => args.swap_remove(0),
                                other => other,
                            };
                            // `Subscribed` goes out here, in the socket's order, so that it
                            // comes before the snapshot the server sends after the ack.
                            let reply =
                                serde_json::from_value::<msg::SubscriptionReply>(value.clone());
                            if let Ok(r) = reply {
                                if r.status == SubscriptionStatusString::Subscribed.into() {
                                    if let Some(account_id) = r.account_id {
                                        shared.forward(StreamEvent::Subscribed { account_id });
                                    }
                                }
                            }
                            let _ = tx.send(value);
                        }
                    }
                    .boxed()
                },
            )
            .await
            .map_err(|e| StreamError::Connect(e.to_string()))?;
        let value = tokio::time::timeout(self.config.answer_timeout, rx)
            .await
            .map_err(|_| StreamError::Timeout("a subscription"))?
            .map_err(|_| StreamError::Timeout("a subscription"))?;
        serde_json::from_value(value.clone()).map_err(|e| {
            StreamError::Connect(format!("unreadable subscription answer: {e}: {value}"))
        })
    }

    /// SUBSCRIBEs one account; renews the tokens once if the server refuses the token.
    async fn subscribe(&mut self, account_id: &str) -> Result<(), StreamError> {
        let mut renewed = false;
        loop {
            let token = self
                .tokens
                .get(account_id)
                .ok_or_else(|| StreamError::NoToken {
                    account_id: account_id.into(),
                })?;
            let body = msg::SubscriptionRequest {
                action: msg::SubscriptionActionString::Subscribe.into(),
                token: Some(token.access_token.clone()),
                brand_id: self.config.brand_id.clone(),
                account_id: account_id.into(),
            };
            self.shared.lock().muted.retain(|m| m != account_id);
            let reply = self.request(&body).await?;
            if reply.status == SubscriptionStatusString::Subscribed.into() {
                return Ok(());
            }
            let code = reply.code.as_ref().map(code_text);
            let token_problem = matches!(code.as_deref(), Some("TOKEN_EXPIRED" | "TOKEN_INVALID"));
            if token_problem && !renewed {
                renewed = true;
                self.refresh_tokens().await?;
                continue;
            }
            return Err(StreamError::TokenRefused {
                account_id: account_id.into(),
                code,
                message: short(reply.message.as_deref().unwrap_or("refused")),
            });
        }
    }

    /// Sends a marker or an error to the consumer, waiting for room (markers are never dropped).
    async fn send(&self, event: StreamEvent) {
        let _ = self.shared.out.send(Ok(event)).await;
    }

    async fn resync(&mut self, reason: ResyncReason) -> Result<(), StreamError> {
        for a in self.config.accounts.clone() {
            self.send(StreamEvent::Resync {
                account_id: a.clone(),
                reason,
            })
            .await;
            self.subscribe(&a).await?;
        }
        Ok(())
    }

    /// Opens the connection and subscribes every account; `reason` is the resync reason on a
    /// reconnection (`None` the first time).
    async fn connect_and_subscribe(
        &mut self,
        reason: Option<ResyncReason>,
    ) -> Result<(), StreamError> {
        self.open().await?;
        match reason {
            Some(r) => self.resync(r).await,
            None => {
                for a in self.config.accounts.clone() {
                    self.subscribe(&a).await?;
                }
                Ok(())
            }
        }
    }

    /// Reconnects with backoff until it works, a fatal error, or the attempts run out.
    async fn reconnect(&mut self) -> Result<(), StreamError> {
        self.close_client().await;
        let mut delay = self.config.reconnect_min;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match self
                .connect_and_subscribe(Some(ResyncReason::Reconnected))
                .await
            {
                Ok(()) => return Ok(()),
                Err(
                    e @ (StreamError::KeyRefused { .. }
                    | StreamError::TokenRefused { .. }
                    | StreamError::NoToken { .. }),
                ) => return Err(e),
                Err(_) => {
                    self.close_client().await;
                    if self.config.max_attempts.is_some_and(|max| attempts >= max) {
                        return Err(StreamError::Disconnected { attempts });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.config.reconnect_max);
                }
            }
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let result = self.serve(&mut commands).await;
        self.close_client().await;
        if let Err(e) = result {
            let _ = self.shared.out.send(Err(e)).await;
        }
    }

    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> Result<(), StreamError> {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            let renew_at = self.renew_at();
            // The lag check runs only while lagging: an idle stream does not wake.
            let lagging = self.shared.lock().lagging;
            let signal = async {
                match self.control.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.shared.out.closed() => return Ok(()),
                command = commands.recv() => match command {
                    None | Some(Command::Close) => return Ok(()),
                    Some(Command::Subscribe(account, answer)) => {
                        if !self.tokens.contains_key(&account) {
                            self.refresh_tokens().await.ok();
                        }
                        let result = self.subscribe(&account).await;
                        if result.is_ok() && !self.config.accounts.contains(&account) {
                            self.config.accounts.push(account);
                        }
                        let _ = answer.send(result);
                    }
                    Some(Command::Unsubscribe(account, answer)) => {
                        self.shared.lock().muted.push(account.clone());
                        let body = msg::SubscriptionRequest {
                            action: msg::SubscriptionActionString::Unsubscribe.into(),
                            token: None,
                            brand_id: self.config.brand_id.clone(),
                            account_id: account.clone(),
                        };
                        let result = self.request(&body).await.map(|_| ());
                        if result.is_ok() {
                            self.config.accounts.retain(|a| *a != account);
                            self.send(StreamEvent::Unsubscribed { account_id: account }).await;
                        }
                        let _ = answer.send(result);
                    }
                },
                signal = signal => match signal {
                    None | Some(Signal::Closed) => self.reconnect().await?,
                    Some(Signal::Subscription(reply)) => {
                        let code = reply.code.as_ref().map(code_text);
                        if matches!(code.as_deref(), Some("TOKEN_EXPIRED" | "TOKEN_INVALID")) {
                            if let Some(account) = reply.account_id.filter(|a| self.config.accounts.contains(a)) {
                                self.refresh_tokens().await?;
                                self.send(StreamEvent::Resync { account_id: account.clone(), reason: ResyncReason::TokenRenewed }).await;
                                self.subscribe(&account).await?;
                            }
                        }
                    }
                    // The socket came back by itself (see `open`): subscribe everything again.
                    Some(Signal::Connected) => self.resync(ResyncReason::Reconnected).await?,
                    Some(Signal::ConnectError(text)) => {
                        return Err(StreamError::KeyRefused { message: short(&text) });
                    }
                    Some(Signal::Connection(c)) if c.status == "ERROR" => {
                        return Err(StreamError::KeyRefused { message: short(c.message.as_deref().unwrap_or("connection refused")) });
                    }
                    Some(_) => {}
                },
                _ = async {
                    match renew_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.refresh_tokens().await?;
                    self.resync(ResyncReason::TokenRenewed).await?;
                }
                _ = self.shared.lag_started.notified(), if !lagging => {}
                _ = tick.tick(), if lagging => {
                    // Out of lag once the consumer has made room for half the queue.
                    let recovered = {
                        let mut lag = self.shared.lock();
                        if lag.lagging && self.shared.out.capacity() >= self.shared.out.max_capacity() / 2 {
                            lag.lagging = false;
                            let dropped = std::mem::take(&mut lag.dropped);
                            let _ = self.shared.out.try_send(Ok(StreamEvent::Lagged { dropped }));
                            true
                        } else {
                            false
                        }
                    };
                    if recovered {
                        self.resync(ResyncReason::Lagged).await?;
                    }
                }
            }
        }
    }
}

fn code_text(code: &msg::StreamErrorCode) -> String {
    match code {
        msg::StreamErrorCode::String(c) => c.to_string(),
        msg::StreamErrorCode::Other(c) => c.clone(),
    }
}

/// A server-supplied text, cut to a readable length.
fn short(text: &str) -> String {
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_decode_by_type_and_unknown_ones_are_kept() {
        let order = decode(
            json!({"type": "OpenOrder", "accountId": "1", "orderId": "7421932185916132001", "side": "BUY", "status": "EXECUTED", "amount": "0.01"}),
        );
        let StreamEvent::Order(o) = order else {
            panic!("{order:?}")
        };
        assert_eq!(o.order_id, "7421932185916132001");
        assert_eq!(o.amount, Some("0.01".parse().unwrap()));
        assert_eq!(o.side, Some(msg::SideString::Buy.into()));
        assert_eq!(
            decode(json!({"type": "Property", "name": "SyncEnd", "accountId": "1"})),
            StreamEvent::SyncEnd {
                account_id: Some("1".into())
            }
        );
        let odd = json!({"type": "Heartbeat"});
        assert_eq!(decode(odd.clone()), StreamEvent::Other(odd));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_for("http://127.0.0.1:9/backend-api"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            origin_for("https://demo.tradelocker.com/backend-api"),
            DEV_ORIGIN
        );
        assert_eq!(
            origin_for("https://live.tradelocker.com/backend-api/"),
            LIVE_ORIGIN
        );
    }

    #[test]
    fn no_secret_in_debug() {
        let tokens: TokenSource = Arc::new(|| async { Ok(Vec::new()) }.boxed());
        let b = StreamBuilder::new(DEV_ORIGIN, "dev-key-123", "OSP", tokens);
        assert!(!format!("{b:?}").contains("dev-key-123"));
    }
}
