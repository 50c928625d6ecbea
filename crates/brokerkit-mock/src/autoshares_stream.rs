//! The AutoShares sandbox's streamers, as `specs/autoshares.streams.yaml` describes them: a
//! quote streamer at `ws://<host>/quotes` and a data streamer at `ws://<host>/data` (the same
//! port as the REST API), whose addresses and streamer session ids `GET /v1.0/streamers` gives.
//!
//! - `…/CreateSession.txt?User=<UserId>:<anything>&Password=<streamer SessionId>&HttpClientType=WebSocket`
//!   answers `{"Cmd":"CreateSession.txt","StatusCode":"Ok","SessionId":…}`, or `StatusCode:
//!   Error` and a close when the streamer session is unknown, of the other kind, or of another
//!   user. A dropped connection's streamer session is gone: `PUT
//!   /v1.0/streamers/session/recover?sessionType=0|1` gives a new one.
//! - `Subscribe.txt` / `Unsubscribe.txt` with `;`-separated `Keys` and an `EntityType`. A
//!   subscription first sends the current state of each key (quote; or orders, positions,
//!   balance…), then the command's reply `{"Cmd":"Subscribe.txt","StatusCode":"Ok"}`, then
//!   changes. Quotes move every [`Hub::set_quote_interval`] (50 ms by default), with a trade
//!   print and a `Level2` book each tick; data entities are compared with what the connection
//!   last sent after every REST request that may change state, and what differs is sent.
//!
//! Faults through the sandbox's [`Faults`], pseudo-method `STREAM`:
//! `STREAM /streamers=drop` closes every streamer connection (and forgets their sessions),
//! `STREAM /streamers=latency:MS` stalls them, `STREAM /streamers/connect=respond:…` refuses
//! the next CreateSession, `…/connect=latency:MS` holds it.

use super::{date, lock, order_json, position_json, Sandbox, Shared};
use crate::{Fault, Faults};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use futures::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// `sessionType` of the recover call (and the kind of a streamer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Data,
    Quote,
}

/// The streamers of one sandbox.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    state: Shared,
    changes: watch::Sender<u64>,
    /// Streamer session id → (user id, kind).
    sessions: Mutex<HashMap<String, (i32, Kind)>>,
    serial: AtomicU64,
    drop_all: broadcast::Sender<()>,
    stalled_until: Mutex<Option<Instant>>,
    faults: Mutex<Option<Faults>>,
    quote_interval_us: AtomicU64,
    connections: AtomicU64,
    sent: AtomicU64,
}

fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub(super) fn new(state: Shared) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                state,
                changes: watch::channel(0).0,
                sessions: Mutex::new(HashMap::new()),
                serial: AtomicU64::new(0),
                drop_all: broadcast::channel(4).0,
                stalled_until: Mutex::new(None),
                faults: Mutex::new(None),
                quote_interval_us: AtomicU64::new(50_000),
                connections: AtomicU64::new(0),
                sent: AtomicU64::new(0),
            }),
        }
    }

    /// Closes every streamer connection and forgets their streamer sessions.
    pub fn drop_all(&self) {
        let _ = self.inner.drop_all.send(());
    }

    /// Sends nothing for `d`.
    pub fn stall(&self, d: Duration) {
        *guard(&self.inner.stalled_until) = Some(Instant::now() + d);
    }

    /// How often quotes move (zero: as fast as the connection takes them).
    pub fn set_quote_interval(&self, every: Duration) {
        self.inner
            .quote_interval_us
            .store(every.as_micros() as u64, Ordering::Relaxed);
    }

    /// Open streamer connections.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Messages the streamers have sent.
    pub fn messages_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    pub(super) fn changed(&self) {
        self.inner.changes.send_modify(|n| *n += 1);
    }

    fn new_session(&self, user: i32, kind: Kind) -> String {
        let n = self.inner.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (h >> 32) as u32,
            (h >> 16) as u16,
            h & 0xfff,
            (n >> 12) & 0xfff,
            n
        );
        guard(&self.inner.sessions).insert(id.clone(), (user, kind));
        id
    }
}

/// `GET /v1.0/streamers` and `PUT /v1.0/streamers/session/recover`, under the API prefix.
pub(super) fn rest_routes(hub: Hub) -> Router {
    Router::new()
        .route("/v1.0/streamers", get(streamers))
        .route("/v1.0/streamers/session/recover", put(recover))
        .with_state(hub)
}

/// The two websocket endpoints, at the server root.
pub(super) fn ws_routes(hub: Hub) -> Router {
    Router::new()
        .route("/quotes/CreateSession.txt", get(quote_socket))
        .route("/data/CreateSession.txt", get(data_socket))
        .with_state(hub)
}

/// Arms the `STREAM` fault rules (polled every 10 ms).
pub(super) fn watch_faults(hub: &Hub, faults: Faults) {
    *guard(&hub.inner.faults) = Some(faults.clone());
    let weak = Arc::downgrade(&hub.inner);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let Some(inner) = weak.upgrade() else { return };
            let hub = Hub { inner };
            match faults.take("STREAM", "/streamers") {
                Some(Fault::Drop) => hub.drop_all(),
                Some(Fault::Latency(d)) => hub.stall(d),
                _ => {}
            }
        }
    });
}

async fn streamers(State(hub): State<Hub>, headers: HeaderMap) -> Response {
    let user = match lock(&hub.inner.state).auth(&headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let (quote, data) = (
        hub.new_session(user, Kind::Quote),
        hub.new_session(user, Kind::Data),
    );
    axum::Json(json!({
        "QuoteAddresses": [{"Url": format!("ws://{host}/quotes"), "Type": "EntitlementBased", "SessionId": quote}],
        "DataAddresses": [{"Url": format!("ws://{host}/data"), "Type": "EntitlementBased", "SessionId": data}],
    }))
    .into_response()
}

async fn recover(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let user = match lock(&hub.inner.state).auth(&headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let kind = match q.get("sessionType").map(String::as_str) {
        Some("0") => Kind::Data,
        Some("1") => Kind::Quote,
        // Like ETNA for a missing required query parameter: no route.
        _ => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"Message": format!(
                    "No HTTP resource was found that matches the request URI 'http://localhost{}/v1.0/streamers/session/recover'.",
                    super::PREFIX
                )})),
            )
                .into_response()
        }
    };
    axum::Json(json!({"Id": hub.new_session(user, kind)})).into_response()
}

async fn quote_socket(
    State(hub): State<Hub>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| serve_socket(hub, q, Kind::Quote, socket))
}

async fn data_socket(
    State(hub): State<Hub>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| serve_socket(hub, q, Kind::Data, socket))
}

fn reply(cmd: &str, ok: bool, session: Option<&str>, message: Option<&str>) -> Message {
    let mut v = json!({"Cmd": cmd, "StatusCode": if ok { "Ok" } else { "Error" }});
    if let Some(s) = session {
        v["SessionId"] = json!(s);
    }
    if let Some(m) = message {
        v["Message"] = json!(m);
    }
    Message::Text(v.to_string().into())
}

/// Who may open this socket: `Some(user)` when `Password` is a live streamer session of this
/// kind whose user is the one in `User`.
async fn admit(hub: &Hub, q: &HashMap<String, String>, kind: Kind) -> Result<i32, &'static str> {
    let fault = guard(&hub.inner.faults)
        .as_ref()
        .and_then(|f| f.take("STREAM", "/streamers/connect"));
    match fault {
        Some(Fault::Respond { .. }) => return Err("the streamer refused the session"),
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let password = q.get("Password").map(String::as_str).unwrap_or_default();
    let user: Option<i32> = q
        .get("User")
        .and_then(|u| u.split(':').next())
        .and_then(|u| u.parse().ok());
    match guard(&hub.inner.sessions).get(password) {
        Some((owner, k)) if *k == kind && Some(*owner) == user => Ok(*owner),
        Some(_) => Err("the streamer session belongs to another user or streamer"),
        None => Err("unknown or expired streamer session"),
    }
}

/// One connection: what it subscribed and what it last sent of each entity.
struct Conn {
    kind: Kind,
    user: i32,
    /// (EntityType, key).
    subscriptions: BTreeSet<(String, String)>,
    /// (EntityType, entity id) → the message last sent.
    sent: BTreeMap<(String, String), Value>,
    tick: u64,
}

async fn serve_socket(hub: Hub, q: HashMap<String, String>, kind: Kind, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let password = q.get("Password").cloned().unwrap_or_default();
    let user = match admit(&hub, &q, kind).await {
        Ok(u) => u,
        Err(why) => {
            let _ = tx
                .send(reply("CreateSession.txt", false, None, Some(why)))
                .await;
            let _ = tx.close().await;
            return;
        }
    };
    let session_id = hub.new_session(user, kind);
    if tx
        .send(reply("CreateSession.txt", true, Some(&session_id), None))
        .await
        .is_err()
    {
        return;
    }
    hub.inner.connections.fetch_add(1, Ordering::Relaxed);
    let mut drops = hub.inner.drop_all.subscribe();
    let mut changes = hub.inner.changes.subscribe();
    let mut conn = Conn {
        kind,
        user,
        subscriptions: BTreeSet::new(),
        sent: BTreeMap::new(),
        tick: 0,
    };
    let interval = || {
        Duration::from_micros(hub.inner.quote_interval_us.load(Ordering::Relaxed))
            .max(Duration::from_micros(1))
    };
    let mut next_tick = tokio::time::Instant::now() + interval();
    loop {
        let quoting = kind == Kind::Quote && !conn.subscriptions.is_empty();
        let out: Vec<Value> = tokio::select! {
            _ = drops.recv() => {
                // A drop loses the streamer session: the client has to recover it.
                guard(&hub.inner.sessions).remove(&password);
                guard(&hub.inner.sessions).remove(&session_id);
                break;
            }
            frame = rx.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Message::Text(text) = frame else { continue };
                let (messages, answer) = command(&hub, &mut conn, &session_id, text.as_str());
                let mut all = messages;
                all.push(answer);
                all
            }
            _ = changes.changed(), if kind == Kind::Data => {
                let s = lock(&hub.inner.state);
                data_changes(&s, &mut conn)
            }
            _ = tokio::time::sleep_until(next_tick), if quoting => {
                next_tick = tokio::time::Instant::now() + interval();
                // Without pause (a zero interval): a batch per timer tick, the timer being coarse.
                let batch = if hub.inner.quote_interval_us.load(Ordering::Relaxed) == 0 { 64 } else { 1 };
                let s = lock(&hub.inner.state);
                let mut out = Vec::new();
                for _ in 0..batch {
                    conn.tick += 1;
                    out.extend(conn.subscriptions.iter().filter_map(|(e, k)| quote_message(&s, e, k, conn.tick)));
                }
                out
            }
        };
        loop {
            let until = *guard(&hub.inner.stalled_until);
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => break,
            }
        }
        let mut failed = false;
        for m in out {
            if tx.send(Message::Text(m.to_string().into())).await.is_err() {
                failed = true;
                break;
            }
            hub.inner.sent.fetch_add(1, Ordering::Relaxed);
        }
        if failed {
            break;
        }
    }
    hub.inner.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Carries out one client command: the messages to send first (a snapshot), then the reply.
fn command(hub: &Hub, conn: &mut Conn, session_id: &str, text: &str) -> (Vec<Value>, Value) {
    let Ok(cmd) = serde_json::from_str::<Value>(text) else {
        return (
            Vec::new(),
            json!({"Cmd": "", "StatusCode": "Error", "Message": "not JSON"}),
        );
    };
    let name = cmd["Cmd"].as_str().unwrap_or_default().to_string();
    let error = |m: &str| json!({"Cmd": name, "StatusCode": "Error", "Message": m});
    if cmd["SessionId"].as_str() != Some(session_id) {
        return (Vec::new(), error("unknown SessionId"));
    }
    let entity = cmd["EntityType"].as_str().unwrap_or_default().to_string();
    let allowed: &[&str] = match conn.kind {
        Kind::Quote => &["Quote", "Trade", "Level2"],
        Kind::Data => &[
            "Order",
            "Position",
            "AccountBalance",
            "Watchlist",
            "WatchlistContent",
            "PriceAlert",
        ],
    };
    if !allowed.contains(&entity.as_str()) {
        return (
            Vec::new(),
            error("this streamer does not serve that EntityType"),
        );
    }
    let keys: Vec<String> = cmd["Keys"]
        .as_str()
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let s = lock(&hub.inner.state);
    let mut out = Vec::new();
    match name.as_str() {
        "Subscribe.txt" => {
            for key in keys {
                if conn.kind == Kind::Data && !owns(&s, conn.user, &entity, &key) {
                    return (out, error("not your key"));
                }
                conn.subscriptions.insert((entity.clone(), key.clone()));
                if conn.kind == Kind::Quote {
                    out.extend(quote_message(&s, &entity, &key, conn.tick));
                } else {
                    for (id, m) in data_entities(&s, &entity, &key) {
                        conn.sent.insert((entity.clone(), id), m.clone());
                        out.push(m);
                    }
                }
            }
        }
        "Unsubscribe.txt" => {
            for key in keys {
                conn.subscriptions.remove(&(entity.clone(), key));
            }
        }
        _ => return (out, error("unknown Cmd")),
    }
    (out, json!({"Cmd": name, "StatusCode": "Ok"}))
}

fn owns(s: &Sandbox, user: i32, entity: &str, key: &str) -> bool {
    let Ok(id) = key.parse::<i32>() else {
        return false;
    };
    match entity {
        "Order" | "Position" | "AccountBalance" => {
            s.accounts.iter().any(|a| a.id == id && a.user_id == user)
        }
        "Watchlist" | "PriceAlert" => id == user,
        "WatchlistContent" => s.watchlists.iter().any(|w| w.id == id && w.user_id == user),
        _ => false,
    }
}

/// Every value as a string, as the streamers send them.
fn strings(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null() && !v.is_array())
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => Value::String(s),
                        other => Value::String(other.to_string()),
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

fn with_entity(v: Value, entity: &str) -> Value {
    let mut v = strings(v);
    v["EntityType"] = json!(entity);
    v
}

/// The current entities behind one data subscription key, by entity id.
fn data_entities(s: &Sandbox, entity: &str, key: &str) -> Vec<(String, Value)> {
    let id: i32 = key.parse().unwrap_or_default();
    match entity {
        "Order" => s
            .orders
            .iter()
            .filter(|o| o.account_id == id)
            .map(|o| (o.id.to_string(), with_entity(order_json(o), "Order")))
            .collect(),
        "Position" => s
            .accounts
            .iter()
            .filter(|a| a.id == id)
            .flat_map(|a| {
                a.positions.values().map(move |p| {
                    let mut m = position_json(s, a, p);
                    m["AverageCost"] = json!(p.average_price.normalize().to_string());
                    m["CreateDateOffset"] = json!("0");
                    m["ModifyDateOffset"] = json!("0");
                    (p.id.to_string(), with_entity(m, "Position"))
                })
            })
            .collect(),
        "AccountBalance" => s
            .accounts
            .iter()
            .filter(|a| a.id == id)
            .map(|a| {
                let mv = s.market_value(a);
                let pending = s
                    .orders
                    .iter()
                    .filter(|o| o.account_id == a.id && matches!(o.status, "New" | "PartiallyFilled"))
                    .count();
                let items = json!([
                    {"Name": "equityTotal", "Value": (a.cash + mv).normalize().to_string()},
                    {"Name": "stockLongMarketValue", "Value": mv.normalize().to_string()},
                    {"Name": "dayTrades", "Value": "0"},
                ]);
                let m = json!({
                    "EntityType": "AccountBalance", "AccountId": a.id.to_string(),
                    "CashBalance": a.cash.normalize().to_string(), "PendingCash": "0",
                    "PendingOrdersCount": pending.to_string(), "Items": items.to_string(),
                });
                (a.id.to_string(), m)
            })
            .collect(),
        "Watchlist" => s
            .watchlists
            .iter()
            .filter(|w| w.user_id == id)
            .map(|w| {
                let m = json!({
                    "EntityType": "Watchlist", "id": w.id.to_string(), "Key": id.to_string(),
                    "Name": w.name, "Description": "", "Type": "UserList", "UserId": w.user_id.to_string(),
                    "CreateDate": date(w.created), "ModifyDate": date(w.modified), "IsDeleted": "false",
                });
                (w.id.to_string(), m)
            })
            .collect(),
        "WatchlistContent" => s
            .watchlists
            .iter()
            .filter(|w| w.id == id)
            .map(|w| {
                let symbols: Vec<String> = w
                    .securities
                    .iter()
                    .filter_map(|sid| s.security_by_id(*sid).map(|x| x.symbol.clone()))
                    .collect();
                let m = json!({"EntityType": "WatchlistContent", "Key": w.id.to_string(), "AddedSymbols": symbols.join(";"), "RemovedSymbols": ""});
                (w.id.to_string(), m)
            })
            .collect(),
        "PriceAlert" => s
            .alerts
            .iter()
            .filter(|a| a.user_id == id)
            .map(|a| {
                let m = json!({
                    "EntityType": "PriceAlert", "Id": a.id.to_string(), "State": a.state,
                    "SecurityId": a.security_id.to_string(),
                    "Symbol": s.security_by_id(a.security_id).map(|x| x.symbol.clone()),
                    "Field": a.field, "Operator": a.operator, "Argument": a.argument.normalize().to_string(),
                });
                (a.id.to_string(), m)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What changed since the connection last sent each entity of its data subscriptions.
fn data_changes(s: &Sandbox, conn: &mut Conn) -> Vec<Value> {
    let mut out = Vec::new();
    // Orders first, then positions, then balances: the order a fill happens in.
    const ORDER: [&str; 6] = [
        "Order",
        "Position",
        "AccountBalance",
        "Watchlist",
        "WatchlistContent",
        "PriceAlert",
    ];
    let mut subscriptions: Vec<(String, String)> = conn.subscriptions.iter().cloned().collect();
    subscriptions.sort_by_key(|(e, k)| (ORDER.iter().position(|x| x == e), k.clone()));
    for (entity, key) in subscriptions {
        let now = data_entities(s, &entity, &key);
        let ids: BTreeSet<String> = now.iter().map(|(id, _)| id.clone()).collect();
        for (id, m) in now {
            let slot = (entity.clone(), id);
            if conn.sent.get(&slot) != Some(&m) {
                conn.sent.insert(slot, m.clone());
                out.push(m);
            }
        }
        // A position closed out or a watchlist deleted: say so once.
        let gone: Vec<(String, String)> = conn
            .sent
            .keys()
            .filter(|(e, id)| *e == entity && !ids.contains(id))
            .filter(|(e, id)| belongs(s, e, id, &key, conn))
            .cloned()
            .collect();
        for slot in gone {
            if let Some(mut last) = conn.sent.remove(&slot) {
                match entity.as_str() {
                    "Position" => last["Quantity"] = json!("0"),
                    "Watchlist" => last["IsDeleted"] = json!("true"),
                    _ => continue,
                }
                out.push(last);
            }
        }
    }
    out
}

/// Whether a sent entity (now gone) was under this subscription key.
fn belongs(_s: &Sandbox, entity: &str, _id: &str, key: &str, conn: &Conn) -> bool {
    let last = conn.sent.get(&(entity.to_string(), _id.to_string()));
    match entity {
        "Position" => last.and_then(|m| m["AccountId"].as_str()) == Some(key),
        "Watchlist" => last.and_then(|m| m["Key"].as_str()) == Some(key),
        _ => false,
    }
}

/// The `entity` (Quote, Trade or Level2) of security `key` at `tick`: the price walks a
/// little around the security's last price.
fn quote_message(s: &Sandbox, entity: &str, key: &str, tick: u64) -> Option<Value> {
    let sec = key
        .parse::<i32>()
        .ok()
        .and_then(|id| s.security_by_id(id))?;
    // A triangle wave of ±10 cents around the last price.
    let phase = (tick % 40) as i64;
    let offset = Decimal::new(if phase < 20 { phase - 10 } else { 30 - phase }, 2);
    let last = (sec.last + offset).max(Decimal::new(1, 2));
    let (bid, ask) = (last - Decimal::new(1, 2), last + Decimal::new(1, 2));
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    let t = |d: Decimal| d.normalize().to_string();
    Some(match entity {
        "Quote" => json!({
            "EntityType": "Quote", "Key": key, "QuoteTypes": "0",
            "Ask": t(ask), "AskSize": "200", "AskMarket": "XNAS", "AskTime": now_ms,
            "Bid": t(bid), "BidSize": "300", "BidMarket": "XNAS", "BidTime": now_ms,
            "Last": t(last), "LastMarket": "XNAS", "Price": t(last), "Date": now_ms,
            "Open": t(sec.last), "High": t(sec.last + Decimal::new(10, 2)), "Low": t(sec.last - Decimal::new(10, 2)),
            "Close": t(last), "Volume": (100 * tick).to_string(), "TotalDailyVolume": (100 * tick).to_string(),
            "Change": t(offset), "ChangePc": t((offset * Decimal::from(100) / sec.last).round_dp(4)),
            "PreviousClose": t(sec.last), "UnixTimeStamp": now_ms,
        }),
        "Trade" => {
            json!({"EntityType": "Trade", "Key": key, "Price": t(last), "Size": "100", "Market": "XNAS", "UnixTimeStamp": now_ms})
        }
        "Level2" => json!({
            "EntityType": "Level2", "Key": key,
            "Bids": [{"Price": t(bid), "Size": "300", "Market": "XNAS"}, {"Price": t(bid - Decimal::new(1, 2)), "Size": "500", "Market": "ARCA"}],
            "Asks": [{"Price": t(ask), "Size": "200", "Market": "XNAS"}, {"Price": t(ask + Decimal::new(1, 2)), "Size": "400", "Market": "ARCA"}],
        }),
        _ => return None,
    })
}
