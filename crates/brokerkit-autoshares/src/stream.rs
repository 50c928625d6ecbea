//! AutoShares' streamers: the quote streamer (quotes, trades, market depth) and the data
//! streamer (orders, positions, balances, watchlists, price alerts), each a `futures::Stream`
//! of typed [`StreamerEvent`]s over a websocket (tokio-tungstenite) that reconnects, recovers
//! its streamer session (`PUT /v1.0/streamers/session/recover`) and subscribes again by itself.
//! The messages are the types generated from `specs/autoshares.streams.yaml`
//! ([`crate::stream_types`]).
//!
//! ```no_run
//! use brokerkit_autoshares::stream::{EntityType, StreamerEvent};
//! use futures::StreamExt;
//!
//! # async fn demo(session: brokerkit_autoshares::Session) -> Result<(), brokerkit_autoshares::stream::StreamError> {
//! let mut quotes = session.quote_stream().subscribe(EntityType::Quote, ["130170"]).connect().await?;
//! while let Some(event) = quotes.next().await {
//!     if let StreamerEvent::Quote(q) = event? {
//!         println!("{} bid {:?} ask {:?}", q.key, q.bid, q.ask);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! **Order and resync.** A subscription first sends the current state of its keys (the quote;
//! or the account's orders, positions and balance…), then [`StreamerEvent::Subscribed`], then
//! changes. When the stream has to subscribe again (after a drop, or after the consumer fell
//! behind) it first yields [`StreamerEvent::Resync`]: forget what you hold, the current state
//! of every subscription follows again, each closed by `Subscribed`.
//!
//! **Slow consumers.** Events wait in a bounded queue ([`StreamerBuilder::capacity`], 1,024 by
//! default). When it is full the stream drops events instead of buffering them (it keeps reading
//! the socket), and once the consumer has made room for half the queue it yields
//! [`StreamerEvent::Lagged`] with the number dropped, then `Resync`, and subscribes everything
//! again. Memory stays bounded by the queue.

use crate::stream_types as msg;
use crate::Session;
use brokerkit_runtime::Secret;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Which streamer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streamer {
    /// Quotes, trades, market depth (`QuoteAddresses`, `sessionType=1`).
    Quotes,
    /// Orders, positions, balances, watchlists, price alerts (`DataAddresses`, `sessionType=0`).
    Data,
}

impl Streamer {
    fn session_type(self) -> i32 {
        match self {
            Streamer::Data => 0,
            Streamer::Quotes => 1,
        }
    }
}

/// What a subscription is about; its keys are security ids (`Quote`, `Trade`, `Level2`),
/// trading-account ids (`Order`, `Position`, `AccountBalance`), user ids (`Watchlist`,
/// `PriceAlert`) or watchlist ids (`WatchlistContent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EntityType {
    Quote,
    Trade,
    Level2,
    Order,
    Position,
    AccountBalance,
    Watchlist,
    WatchlistContent,
    PriceAlert,
}

impl EntityType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Quote => "Quote",
            EntityType::Trade => "Trade",
            EntityType::Level2 => "Level2",
            EntityType::Order => "Order",
            EntityType::Position => "Position",
            EntityType::AccountBalance => "AccountBalance",
            EntityType::Watchlist => "Watchlist",
            EntityType::WatchlistContent => "WatchlistContent",
            EntityType::PriceAlert => "PriceAlert",
        }
    }

    fn generated(self) -> msg::EntityType {
        self.as_str()
            .parse::<msg::EntityTypeString>()
            .map(Into::into)
            .unwrap_or_else(|_| msg::EntityType::Other(self.as_str().into()))
    }
}

/// Why everything is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResyncReason {
    /// The connection dropped and the session was recovered.
    Reconnected,
    /// The consumer fell behind and events were dropped.
    Lagged,
}

/// One item of a streamer stream.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamerEvent {
    Quote(msg::QuoteMessage),
    Trade(msg::TradeMessage),
    Depth(msg::DepthMessage),
    Order(msg::OrderMessage),
    Position(msg::PositionMessage),
    Balance(msg::AccountBalanceMessage),
    Watchlist(msg::WatchlistMessage),
    WatchlistContent(msg::WatchlistContentMessage),
    PriceAlert(msg::PriceAlertMessage),
    /// The streamer accepted a subscription; the current state of its keys came before this.
    Subscribed {
        entity: EntityType,
        keys: Vec<String>,
    },
    /// The subscription is gone: nothing more of these keys.
    Unsubscribed {
        entity: EntityType,
        keys: Vec<String>,
    },
    /// Forget what you hold: every subscription's state is sent again, each ended by
    /// `Subscribed`.
    Resync {
        reason: ResyncReason,
    },
    /// The consumer fell behind and this many events were dropped; a `Resync` follows.
    Lagged {
        dropped: u64,
    },
    /// A message of an entity type this version does not know, as received.
    Other(Value),
}

/// The `Items` of a balance message (`[{Name, Value}]`, sent JSON-encoded in a string), as
/// `(name, value)` pairs; values stay text (`dayTrades` is a count, most others money).
pub fn balance_items(balance: &msg::AccountBalanceMessage) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "Value")]
        value: Value,
    }
    let Some(items) = balance.items.as_deref() else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<Item>>(items)
        .unwrap_or_default()
        .into_iter()
        .map(|i| {
            let value = match i.value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (i.name, value)
        })
        .collect()
}

/// What ended a streamer stream, or what it could not do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A REST call of the streamer (addresses, recover, user id) failed.
    #[error("the streamer's REST call failed: {message}")]
    Rest { message: String },
    /// `GET /v1.0/streamers` listed no address for this streamer.
    #[error("the broker lists no {0:?} streamer")]
    NoStreamer(Streamer),
    /// `CreateSession.txt` answered `Error`, also with a recovered session.
    #[error("the streamer refused the session: {message}")]
    SessionRefused { message: String },
    /// The streamer refused a subscription.
    #[error("the streamer refused the {entity:?} subscription of {keys:?}: {message}")]
    SubscriptionRefused {
        entity: EntityType,
        keys: Vec<String>,
        message: String,
    },
    /// Could not reach the streamer.
    #[error("could not connect to the streamer: {0}")]
    Connect(String),
    /// The streamer did not answer in time.
    #[error("the streamer did not answer {0} in time")]
    Timeout(&'static str),
    /// The connection dropped and every reconnection attempt failed.
    #[error("the streamer connection dropped and {attempts} reconnection attempts failed")]
    Disconnected { attempts: u32 },
    /// The stream is closed.
    #[error("the stream is closed")]
    Closed,
}

fn rest(e: crate::Error) -> StreamError {
    StreamError::Rest {
        message: e.to_string(),
    }
}

impl Session {
    /// A stream from the quote streamer (quotes, trades, depth).
    pub fn quote_stream(&self) -> StreamerBuilder {
        StreamerBuilder::new(self.clone(), Streamer::Quotes)
    }

    /// A stream from the data streamer (orders, positions, balances, watchlists, alerts).
    pub fn data_stream(&self) -> StreamerBuilder {
        StreamerBuilder::new(self.clone(), Streamer::Data)
    }
}

/// Configures and opens a [`StreamerStream`].
#[derive(Debug)]
pub struct StreamerBuilder {
    session: Session,
    streamer: Streamer,
    subscriptions: Vec<(EntityType, Vec<String>)>,
    capacity: usize,
    reconnect_min: Duration,
    reconnect_max: Duration,
    max_attempts: Option<u32>,
    answer_timeout: Duration,
}

impl StreamerBuilder {
    fn new(session: Session, streamer: Streamer) -> Self {
        Self {
            session,
            streamer,
            subscriptions: Vec::new(),
            capacity: 1024,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            max_attempts: None,
            answer_timeout: Duration::from_secs(10),
        }
    }

    /// Subscribes these keys of `entity` when the stream opens (keys go out `;`-separated).
    pub fn subscribe<K: Into<String>>(
        mut self,
        entity: EntityType,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.subscriptions
            .push((entity, keys.into_iter().map(Into::into).collect()));
        self
    }

    /// How many events may wait for the consumer before the stream drops them. At least 4.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(4);
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

    /// How long to wait for the streamer's answer to `CreateSession.txt` (default 10 s).
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// Gets the streamer's address, opens the session and sends the subscriptions; their
    /// state and `Subscribed` follow on the stream.
    pub async fn connect(self) -> Result<StreamerStream, StreamError> {
        let (out, events) = mpsc::channel(self.capacity);
        let (commands, command_rx) = mpsc::channel(16);
        let user_id = self
            .session
            .user_info()
            .await
            .map_err(rest)?
            .user_id
            .ok_or_else(|| StreamError::Rest {
                message: "the user info has no UserId".into(),
            })?;
        let (url, password) = self.address().await?;
        let mut driver = Driver {
            config: self,
            user_id,
            url,
            password,
            out,
            lagging: false,
            dropped: 0,
            pending: VecDeque::new(),
        };
        let (socket, session_id) = driver.open().await?;
        tokio::spawn(driver.run(socket, session_id, command_rx));
        Ok(StreamerStream {
            events,
            handle: StreamerHandle { commands },
        })
    }

    /// The streamer's URL and streamer session id, from `GET /v1.0/streamers`.
    async fn address(&self) -> Result<(String, Secret), StreamError> {
        let all = self
            .session
            .call(|c| c.get_streamers().send())
            .await
            .map_err(rest)?
            .value;
        let list = match self.streamer {
            Streamer::Quotes => all.quote_addresses,
            Streamer::Data => all.data_addresses,
        };
        list.into_iter()
            .find_map(|a| Some((a.url?, a.session_id?)))
            .ok_or(StreamError::NoStreamer(self.streamer))
    }
}

/// The events of one streamer connection. Dropping it closes the connection.
pub struct StreamerStream {
    events: mpsc::Receiver<Result<StreamerEvent, StreamError>>,
    handle: StreamerHandle,
}

impl StreamerStream {
    /// A handle to change the subscriptions while the stream is read.
    pub fn handle(&self) -> StreamerHandle {
        self.handle.clone()
    }
}

impl futures::Stream for StreamerStream {
    type Item = Result<StreamerEvent, StreamError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Controls a running [`StreamerStream`].
#[derive(Clone, Debug)]
pub struct StreamerHandle {
    commands: mpsc::Sender<Command>,
}

#[derive(Debug)]
enum Command {
    Change {
        subscribe: bool,
        entity: EntityType,
        keys: Vec<String>,
        answer: oneshot::Sender<Result<(), StreamError>>,
    },
    Close,
}

impl StreamerHandle {
    async fn change(
        &self,
        subscribe: bool,
        entity: EntityType,
        keys: Vec<String>,
    ) -> Result<(), StreamError> {
        let (answer, rx) = oneshot::channel();
        self.commands
            .send(Command::Change {
                subscribe,
                entity,
                keys,
                answer,
            })
            .await
            .map_err(|_| StreamError::Closed)?;
        rx.await.unwrap_or(Err(StreamError::Closed))
    }

    /// Subscribes more keys; their state and `Subscribed` follow on the stream. Returns once
    /// the streamer answered.
    pub async fn subscribe<K: Into<String>>(
        &self,
        entity: EntityType,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), StreamError> {
        self.change(true, entity, keys.into_iter().map(Into::into).collect())
            .await
    }

    /// Unsubscribes keys; `Unsubscribed` follows on the stream, and nothing of them after it.
    pub async fn unsubscribe<K: Into<String>>(
        &self,
        entity: EntityType,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), StreamError> {
        self.change(false, entity, keys.into_iter().map(Into::into).collect())
            .await
    }

    /// Closes the connection; the stream ends.
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }
}

/// A command sent and not answered yet.
struct Pending {
    subscribe: bool,
    entity: EntityType,
    keys: Vec<String>,
    answer: Option<oneshot::Sender<Result<(), StreamError>>>,
}

struct Driver {
    config: StreamerBuilder,
    user_id: i32,
    url: String,
    password: Secret,
    out: mpsc::Sender<Result<StreamerEvent, StreamError>>,
    lagging: bool,
    dropped: u64,
    pending: VecDeque<Pending>,
}

fn decode(value: Value) -> StreamerEvent {
    let entity = value
        .get("EntityType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let v = value.clone();
    let typed = match entity.as_str() {
        "Quote" => serde_json::from_value(v).map(StreamerEvent::Quote),
        "Trade" => serde_json::from_value(v).map(StreamerEvent::Trade),
        "Level2" => serde_json::from_value(v).map(StreamerEvent::Depth),
        "Order" => serde_json::from_value(v).map(StreamerEvent::Order),
        "Position" => serde_json::from_value(v).map(StreamerEvent::Position),
        "AccountBalance" => serde_json::from_value(v).map(StreamerEvent::Balance),
        "Watchlist" => serde_json::from_value(v).map(StreamerEvent::Watchlist),
        "WatchlistContent" => serde_json::from_value(v).map(StreamerEvent::WatchlistContent),
        "PriceAlert" => serde_json::from_value(v).map(StreamerEvent::PriceAlert),
        _ => return StreamerEvent::Other(value),
    };
    typed.unwrap_or(StreamerEvent::Other(value))
}

fn text(s: &str) -> Message {
    Message::Text(s.to_string().into())
}

impl Driver {
    /// Connects and opens a streamer session; on a refusal, recovers the streamer session once
    /// and tries again.
    async fn open(&mut self) -> Result<(Socket, Secret), StreamError> {
        match self.open_once().await {
            Err(StreamError::SessionRefused { .. }) => {
                self.recover().await?;
                self.open_once().await
            }
            other => other,
        }
    }

    async fn recover(&mut self) -> Result<(), StreamError> {
        let kind = self.config.streamer.session_type();
        let recovered = self
            .config
            .session
            .call(|c| c.recover_streamer_session().session_type(kind).send())
            .await
            .map_err(rest)?
            .value;
        self.password = match recovered {
            crate::types::RecoveredStreamerSession::StreamerSessionId(s) => {
                s.id.ok_or_else(|| StreamError::Rest {
                    message: "the recovered session has no Id".into(),
                })?
            }
            crate::types::RecoveredStreamerSession::String(s) => Secret::new(s),
        };
        Ok(())
    }

    async fn open_once(&mut self) -> Result<(Socket, Secret), StreamError> {
        brokerkit_runtime::tls::install_default_provider();
        // Unverified: what goes after the colon of `User` (the docs say "SessionId"); the
        // streamer session id is sent there and as the password.
        let user = format!("{}:{}", self.user_id, self.password.expose());
        let base = format!("{}/CreateSession.txt", self.url.trim_end_matches('/'));
        let url = reqwest::Url::parse_with_params(
            &base,
            [
                ("User", user.as_str()),
                ("Password", self.password.expose()),
                ("HttpClientType", "WebSocket"),
            ],
        )
        .map_err(|e| StreamError::Connect(format!("the streamer address is not a URL: {e}")))?;
        // tungstenite reads into a 128 KiB buffer by default; streamer messages are a few hundred
        // bytes, and an idle subscription should not cost that much (it grows when needed).
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 * 1024);
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
        let (mut socket, _) = tokio::time::timeout(self.config.answer_timeout, connect)
            .await
            .map_err(|_| StreamError::Timeout("the connection"))?
            // The error names no URL: the URL carries the streamer session id.
            .map_err(|e| StreamError::Connect(no_url(&e)))?;
        let first = tokio::time::timeout(self.config.answer_timeout, socket.next())
            .await
            .map_err(|_| StreamError::Timeout("CreateSession.txt"))?;
        let reply = match first {
            Some(Ok(Message::Text(t))) => serde_json::from_str::<msg::CommandReply>(t.as_str())
                .map_err(|e| {
                    StreamError::Connect(format!("unreadable CreateSession reply: {e}"))
                })?,
            Some(Ok(other)) => {
                return Err(StreamError::Connect(format!(
                    "unexpected first frame: {other:?}"
                )))
            }
            Some(Err(e)) => return Err(StreamError::Connect(no_url(&e))),
            None => return Err(StreamError::Connect("closed before CreateSession".into())),
        };
        let ok = reply.status_code == msg::StatusCodeString::Ok.into();
        match (ok, reply.session_id) {
            (true, Some(id)) => Ok((socket, id)),
            _ => Err(StreamError::SessionRefused {
                message: reply.message.unwrap_or_else(|| "StatusCode Error".into()),
            }),
        }
    }

    fn command(
        session_id: &Secret,
        subscribe: bool,
        entity: EntityType,
        keys: &[String],
    ) -> String {
        let cmd = msg::StreamerCommand {
            cmd: if subscribe {
                msg::CommandNameString::SubscribeTxt.into()
            } else {
                msg::CommandNameString::UnsubscribeTxt.into()
            },
            session_id: session_id.clone(),
            keys: keys.join(";"),
            entity_type: entity.generated(),
            http_client_type: "WebSocket".into(),
        };
        serde_json::to_string(&cmd).unwrap_or_default()
    }

    async fn send_all(
        &mut self,
        socket: &mut Socket,
        session_id: &Secret,
    ) -> Result<(), StreamError> {
        for (entity, keys) in self.config.subscriptions.clone() {
            socket
                .send(text(&Self::command(session_id, true, entity, &keys)))
                .await
                .map_err(|e| StreamError::Connect(no_url(&e)))?;
            self.pending.push_back(Pending {
                subscribe: true,
                entity,
                keys,
                answer: None,
            });
        }
        Ok(())
    }

    /// Forwards without waiting; a full queue starts a lag.
    fn forward(&mut self, item: Result<StreamerEvent, StreamError>) {
        if self.lagging {
            self.dropped += 1;
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(item) {
            self.lagging = true;
            self.dropped = 1;
        }
    }

    fn on_frame(&mut self, value: Value) {
        if value.get("Cmd").is_some() {
            let reply = serde_json::from_value::<msg::CommandReply>(value.clone()).ok();
            let ok = reply
                .as_ref()
                .is_some_and(|r| r.status_code == msg::StatusCodeString::Ok.into());
            let Some(mut p) = self.pending.pop_front() else {
                return;
            };
            let result = if ok {
                Ok(())
            } else {
                Err(StreamError::SubscriptionRefused {
                    entity: p.entity,
                    keys: p.keys.clone(),
                    message: reply
                        .and_then(|r| r.message)
                        .unwrap_or_else(|| "StatusCode Error".into()),
                })
            };
            let event = match (&result, p.subscribe) {
                (Ok(()), true) => Ok(StreamerEvent::Subscribed {
                    entity: p.entity,
                    keys: p.keys.clone(),
                }),
                (Ok(()), false) => Ok(StreamerEvent::Unsubscribed {
                    entity: p.entity,
                    keys: p.keys.clone(),
                }),
                (Err(e), _) => Err(e.clone()),
            };
            if !ok && p.subscribe {
                self.config
                    .subscriptions
                    .retain(|(e, k)| !(*e == p.entity && *k == p.keys));
            }
            match p.answer.take() {
                Some(answer) => {
                    if ok {
                        self.forward(event);
                    }
                    let _ = answer.send(result);
                }
                None => self.forward(event),
            }
            return;
        }
        self.forward(Ok(decode(value)));
    }

    async fn reconnect(&mut self) -> Result<(Socket, Secret), StreamError> {
        let mut delay = self.config.reconnect_min;
        let mut attempts = 0u32;
        self.pending.clear();
        loop {
            attempts += 1;
            // The old streamer session may be gone with the connection: recover one first.
            let attempt = match self.recover().await {
                Ok(()) => self.open_once().await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(opened) => return Ok(opened),
                Err(_) => {
                    if self.config.max_attempts.is_some_and(|m| attempts >= m) {
                        return Err(StreamError::Disconnected { attempts });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.config.reconnect_max);
                }
            }
        }
    }

    async fn resync(
        &mut self,
        socket: &mut Socket,
        session_id: &Secret,
        reason: ResyncReason,
    ) -> Result<(), StreamError> {
        let _ = self.out.send(Ok(StreamerEvent::Resync { reason })).await;
        self.send_all(socket, session_id).await
    }

    async fn run(
        mut self,
        socket: Socket,
        session_id: Secret,
        mut commands: mpsc::Receiver<Command>,
    ) {
        if let Err(e) = self.serve(socket, session_id, &mut commands).await {
            let _ = self.out.send(Err(e)).await;
        }
    }

    async fn serve(
        &mut self,
        mut socket: Socket,
        mut session_id: Secret,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(), StreamError> {
        self.send_all(&mut socket, &session_id).await?;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            // The lag check runs only while lagging: an idle stream does not wake.
            let lagging = self.lagging;
            tokio::select! {
                _ = self.out.closed() => {
                    let _ = socket.close(None).await;
                    return Ok(());
                }
                command = commands.recv() => match command {
                    None | Some(Command::Close) => {
                        let _ = socket.close(None).await;
                        return Ok(());
                    }
                    Some(Command::Change { subscribe, entity, keys, answer }) => {
                        let frame = text(&Self::command(&session_id, subscribe, entity, &keys));
                        if let Err(e) = socket.send(frame).await {
                            let _ = answer.send(Err(StreamError::Connect(no_url(&e))));
                            continue;
                        }
                        if subscribe {
                            self.config.subscriptions.push((entity, keys.clone()));
                        } else {
                            for (e, k) in self.config.subscriptions.iter_mut() {
                                if *e == entity {
                                    k.retain(|x| !keys.contains(x));
                                }
                            }
                            self.config.subscriptions.retain(|(_, k)| !k.is_empty());
                        }
                        self.pending.push_back(Pending { subscribe, entity, keys, answer: Some(answer) });
                    }
                },
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Value>(t.as_str()) {
                        Ok(Value::Array(items)) => items.into_iter().for_each(|v| self.on_frame(v)),
                        Ok(v) => self.on_frame(v),
                        Err(_) => self.forward(Ok(StreamerEvent::Other(Value::String(t.to_string())))),
                    },
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        let (s, id) = self.reconnect().await?;
                        socket = s;
                        session_id = id;
                        self.resync(&mut socket, &session_id, ResyncReason::Reconnected).await?;
                    }
                    Some(Ok(_)) => {}
                },
                _ = tick.tick(), if lagging => {
                    if self.lagging && self.out.capacity() >= self.out.max_capacity() / 2 {
                        self.lagging = false;
                        let dropped = std::mem::take(&mut self.dropped);
                        let _ = self.out.try_send(Ok(StreamerEvent::Lagged { dropped }));
                        // Answers still due belong to the old subscriptions: let them pass.
                        self.resync(&mut socket, &session_id, ResyncReason::Lagged).await?;
                    }
                }
            }
        }
    }
}

/// A websocket error without the URL (which carries the streamer session id).
fn no_url(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(r) => format!("HTTP {}", r.status()),
        E::Url(_) => "invalid streamer URL".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_decode_by_entity_type() {
        let q = decode(
            json!({"EntityType": "Quote", "Key": "130170", "Bid": "190.10", "Ask": "190.12"}),
        );
        let StreamerEvent::Quote(q) = q else {
            panic!("{q:?}")
        };
        assert_eq!(q.bid.map(|b| b.0), Some("190.10".parse().unwrap()));
        let b: msg::AccountBalanceMessage = serde_json::from_value(json!({
            "EntityType": "AccountBalance", "AccountId": "1", "Items": "[{\"Name\":\"equityTotal\",\"Value\":\"100.5\"}]"
        }))
        .unwrap();
        assert_eq!(
            balance_items(&b),
            vec![("equityTotal".to_string(), "100.5".to_string())]
        );
        let odd = json!({"EntityType": "News"});
        assert_eq!(decode(odd.clone()), StreamerEvent::Other(odd));
    }

    #[test]
    fn a_command_keeps_keys_in_one_string_and_the_session_is_sent() {
        let c = Driver::command(
            &Secret::new("s-1"),
            true,
            EntityType::Quote,
            &["1".into(), "2".into()],
        );
        let v: Value = serde_json::from_str(&c).unwrap();
        assert_eq!(
            v,
            json!({"Cmd": "Subscribe.txt", "SessionId": "s-1", "Keys": "1;2", "EntityType": "Quote", "HttpClientType": "WebSocket"})
        );
    }
}
