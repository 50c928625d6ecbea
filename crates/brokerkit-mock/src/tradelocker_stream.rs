//! The TradeLocker sandbox's Streams API: Socket.IO v4 (socketioxide) on namespace
//! `/streams-api`, handshake path `/streams-api/socket.io`, as `specs/tradelocker.streams.yaml`
//! describes it. Any Socket.IO v4 client can use it.
//!
//! - The handshake must carry `developer-api-key: `[`DEVELOPER_API_KEY`]; any other key is
//!   refused with a Socket.IO `CONNECT_ERROR` whose message starts with `DEVELOPER_KEY_INVALID`.
//! - `subscriptions` (with an ack) SUBSCRIBEs an account with a stream token from
//!   `POST /auth/jwt/accounts/tokens` (or UNSUBSCRIBEs it). The ack is a `SubscriptionReply`.
//! - After a SUBSCRIBE: the snapshot (`AccountStatus`, each `Position`, each working
//!   `OpenOrder`), then `Property` `SyncEnd`, then changes: after every REST request that may
//!   change state, each subscription compares the account with what it last sent and emits what
//!   differs, orders first, then positions, closed positions, and the account. So an order placed
//!   over REST arrives as `OpenOrder`, `Position`, `AccountStatus`, and nothing is sent twice.
//! - When the token of a subscription expires, the server sends `subscriptions`
//!   `{status: ERROR, code: TOKEN_EXPIRED}` and stops that subscription.
//!
//! Faults, through the sandbox's [`Faults`] with the pseudo-method `STREAM`
//! (CLI: `--fault 'STREAM /streams-api=drop'`):
//! - `STREAM /streams-api` = `drop`: disconnect every socket now; `latency:MS`: stall (send
//!   nothing, answer no ack) for MS milliseconds.
//! - `STREAM /streams-api/connect` = `respond:<status>:<message>`: refuse the next handshake's key;
//!   `latency:MS`: hold the next handshake that long; `drop`: close it unanswered.

use super::{lock, rfc3339, unrealized, Sandbox, Shared};
use crate::{Fault, Faults};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::watch;

/// The developer API key the sandbox accepts on the handshake.
pub const DEVELOPER_API_KEY: &str = "sandbox-developer-key";
/// The namespace and the handshake path.
pub const NAMESPACE: &str = "/streams-api";
pub const HANDSHAKE_PATH: &str = "/streams-api/socket.io";

/// Leverage the sandbox uses for `marginUsed` (notional / 100).
const LEVERAGE: i64 = 100;

/// The stream side of one sandbox: the Socket.IO server and the change signal.
#[derive(Clone)]
pub struct Hub {
    io: SocketIo,
    inner: Arc<HubInner>,
}

struct HubInner {
    state: Shared,
    /// Bumped after every request that may change state.
    changes: watch::Sender<u64>,
    stalled_until: Mutex<Option<Instant>>,
    faults: Mutex<Option<Faults>>,
    /// Live subscriptions: (socket id, account id) → the task sending its events.
    tasks: Mutex<HashMap<(String, String), tokio::task::JoinHandle<()>>>,
    /// Events sent by every subscription since start.
    sent: std::sync::atomic::AtomicU64,
}

impl Hub {
    /// Disconnects every socket (a drop, as the client sees it).
    pub fn drop_all(&self) {
        for s in self
            .io
            .of(NAMESPACE)
            .map(|o| o.sockets())
            .unwrap_or_default()
        {
            let _ = s.disconnect();
        }
    }

    /// Sends nothing and answers no ack for `d`.
    pub fn stall(&self, d: Duration) {
        *self
            .inner
            .stalled_until
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + d);
    }

    /// How many sockets are connected to the namespace.
    pub fn sockets(&self) -> usize {
        self.io
            .of(NAMESPACE)
            .map(|o| o.sockets().len())
            .unwrap_or(0)
    }

    /// How many subscriptions are live.
    pub fn subscriptions(&self) -> usize {
        lock_map(&self.inner.tasks).len()
    }

    /// How many `stream` events the sandbox has sent.
    pub fn events_sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `n` `AccountStatus` events to every subscriber of `account_id` as fast as the
    /// socket takes them (waiting whenever its buffer is full), for throughput measurements.
    /// Returns when all are queued.
    pub async fn burst(&self, account_id: &str, n: u64) {
        let sockets = self
            .io
            .of(NAMESPACE)
            .map(|o| o.sockets())
            .unwrap_or_default();
        let subscribed: Vec<SocketRef> = {
            let tasks = lock_map(&self.inner.tasks);
            sockets
                .into_iter()
                .filter(|s| tasks.contains_key(&(s.id.to_string(), account_id.to_string())))
                .collect()
        };
        let message = {
            let s = lock(&self.inner.state);
            account_json(&s, account_id)
        };
        for s in subscribed {
            for _ in 0..n {
                if !send(&self.inner, &s, &message).await {
                    break;
                }
            }
        }
    }

    /// Signals that state may have changed (the REST layer calls it after each request).
    pub(super) fn changed(&self) {
        self.inner.changes.send_modify(|n| *n += 1);
    }
}

fn lock_map<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds the hub and the tower layer that serves the Socket.IO handshake path.
pub(super) fn hub(state: Shared) -> (socketioxide::layer::SocketIoLayer, Hub) {
    let (layer, io) = SocketIo::builder()
        .req_path(format!("{HANDSHAKE_PATH}/"))
        .max_buffer_size(1024)
        .build_layer();
    let (changes, _) = watch::channel(0u64);
    let hub = Hub {
        io: io.clone(),
        inner: Arc::new(HubInner {
            state,
            changes,
            stalled_until: Mutex::new(None),
            faults: Mutex::new(None),
            tasks: Mutex::new(HashMap::new()),
            sent: Default::default(),
        }),
    };
    let on_connect = {
        let hub = hub.clone();
        move |socket: SocketRef| on_connect(hub.clone(), socket)
    };
    let check_key = {
        let hub = hub.clone();
        move |socket: SocketRef| check_key(hub.clone(), socket)
    };
    io.ns(NAMESPACE, on_connect.with(check_key));
    (layer, hub)
}

/// Arms the `STREAM` fault rules of `faults` on this hub (polled every 10 ms).
pub(super) fn watch_faults(hub: &Hub, faults: Faults) {
    *lock_map(&hub.inner.faults) = Some(faults.clone());
    let weak = Arc::downgrade(&hub.inner);
    let io = hub.io.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let Some(inner) = weak.upgrade() else { return };
            let hub = Hub {
                io: io.clone(),
                inner,
            };
            match faults.take("STREAM", NAMESPACE) {
                Some(Fault::Drop) => hub.drop_all(),
                Some(Fault::Latency(d)) => hub.stall(d),
                _ => {}
            }
        }
    });
}

async fn check_key(hub: Hub, socket: SocketRef) -> Result<(), String> {
    let fault = lock_map(&hub.inner.faults)
        .as_ref()
        .and_then(|f| f.take("STREAM", "/streams-api/connect"));
    match fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Respond { body, .. }) => {
            return Err(format!("DEVELOPER_KEY_INVALID: {body}"));
        }
        Some(Fault::Drop) => return Err("connection closed by the server".into()),
        _ => {}
    }
    let key = socket
        .req_parts()
        .headers
        .get("developer-api-key")
        .and_then(|v| v.to_str().ok());
    match key {
        Some(DEVELOPER_API_KEY) => Ok(()),
        Some(_) => Err("DEVELOPER_KEY_INVALID: the developer-api-key is not valid".into()),
        None => Err("DEVELOPER_KEY_INVALID: the developer-api-key header is required".into()),
    }
}

async fn on_connect(hub: Hub, socket: SocketRef) {
    let _ = socket.emit("connection", &json!({"status": "CONNECTED"}));
    let handler = {
        let hub = hub.clone();
        move |socket: SocketRef, Data(body): Data<Value>, ack: AckSender| {
            on_subscriptions(hub.clone(), socket, body, ack)
        }
    };
    socket.on("subscriptions", handler);
    let on_close = {
        let hub = hub.clone();
        move |socket: SocketRef| {
            let sid = socket.id.to_string();
            let mut tasks = lock_map(&hub.inner.tasks);
            tasks.retain(|(s, _), task| {
                if *s == sid {
                    task.abort();
                }
                *s != sid
            });
        }
    };
    socket.on_disconnect(on_close);
}

async fn wait_unstalled(inner: &HubInner) {
    loop {
        let until = *lock_map(&inner.stalled_until);
        match until {
            Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
            _ => return,
        }
    }
}

async fn on_subscriptions(hub: Hub, socket: SocketRef, body: Value, ack: AckSender) {
    wait_unstalled(&hub.inner).await;
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let account_id = field("accountId").unwrap_or_default();
    let key = (socket.id.to_string(), account_id.clone());
    match field("action").as_deref() {
        Some("SUBSCRIBE") => {
            let token = field("token").unwrap_or_default();
            let refused = {
                let s = lock(&hub.inner.state);
                check_token(&s, &token, &account_id)
            };
            if let Some((code, message)) = refused {
                let reply = json!({"status": "ERROR", "accountId": account_id, "code": code, "message": message});
                let _ = ack.send(&reply);
                let _ = socket.emit("subscriptions", &reply);
                return;
            }
            let reply = json!({"status": "SUBSCRIBED", "accountId": account_id});
            let _ = ack.send(&reply);
            let task = tokio::spawn(run_subscription(
                hub.inner.clone(),
                socket.clone(),
                account_id,
                token,
            ));
            if let Some(old) = lock_map(&hub.inner.tasks).insert(key, task) {
                old.abort();
            }
        }
        Some("UNSUBSCRIBE") => {
            if let Some(task) = lock_map(&hub.inner.tasks).remove(&key) {
                task.abort();
            }
            let _ = ack.send(&json!({"status": "UNSUBSCRIBED", "accountId": account_id}));
        }
        _ => {
            let _ = ack.send(&json!({"status": "ERROR", "accountId": account_id, "message": "action must be SUBSCRIBE or UNSUBSCRIBE"}));
        }
    }
}

/// `Some((code, message))` when `token` may not stream `account_id`.
fn check_token(s: &Sandbox, token: &str, account_id: &str) -> Option<(&'static str, String)> {
    let Some(session) = s.access.get(token) else {
        return Some(("TOKEN_INVALID", "unknown stream token".into()));
    };
    if session.expires <= s.now() {
        return Some(("TOKEN_EXPIRED", "the stream token has expired".into()));
    }
    if !s
        .accounts
        .iter()
        .any(|a| a.id == account_id && a.user == session.user)
    {
        return Some(("ACCOUNT_NOT_FOUND", "no such account for this token".into()));
    }
    None
}

/// What one subscription last told its client about the account.
#[derive(Default)]
struct View {
    account: Value,
    positions: BTreeMap<String, Value>,
    orders: BTreeMap<String, Value>,
}

async fn run_subscription(
    inner: Arc<HubInner>,
    socket: SocketRef,
    account_id: String,
    token: String,
) {
    let mut changes = inner.changes.subscribe();
    let (mut view, snapshot) = {
        let s = lock(&inner.state);
        let view = current(&s, &account_id);
        let mut out = vec![view.account.clone()];
        out.extend(view.positions.values().cloned());
        out.extend(
            view.orders
                .values()
                .filter(|o| o["status"] == "PENDING")
                .cloned(),
        );
        (view, out)
    };
    for m in &snapshot {
        if !send(&inner, &socket, m).await {
            return;
        }
    }
    let end = json!({"type": "Property", "name": "SyncEnd", "accountId": account_id});
    if !send(&inner, &socket, &end).await {
        return;
    }
    loop {
        // Wake on a change (the sandbox's token controls signal one too), or when the token
        // is due to expire by the sandbox clock (at most every 5 s).
        let until_expiry = {
            let s = lock(&inner.state);
            s.access
                .get(&token)
                .and_then(|t| t.expires.duration_since(s.now()).ok())
                .unwrap_or(Duration::ZERO)
        };
        let wait = until_expiry.clamp(Duration::from_millis(10), Duration::from_secs(5));
        let _ = tokio::time::timeout(wait, changes.changed()).await;
        let (messages, expired) = {
            let s = lock(&inner.state);
            let expired = matches!(
                check_token(&s, &token, &account_id),
                Some(("TOKEN_EXPIRED", _))
            );
            let next = current(&s, &account_id);
            (diff(&s, &mut view, next), expired)
        };
        for m in &messages {
            if !send(&inner, &socket, m).await {
                return;
            }
        }
        if expired {
            let _ = socket.emit(
                "subscriptions",
                &json!({"status": "ERROR", "accountId": account_id, "code": "TOKEN_EXPIRED", "message": "the stream token has expired"}),
            );
            lock_map(&inner.tasks).remove(&(socket.id.to_string(), account_id.clone()));
            return;
        }
    }
}

/// Emits one `stream` event, waiting while the socket's buffer is full. `false` once the
/// socket is gone.
async fn send(inner: &HubInner, socket: &SocketRef, message: &Value) -> bool {
    loop {
        wait_unstalled(inner).await;
        match socket.emit("stream", message) {
            Ok(()) => {
                inner
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return true;
            }
            Err(_) if socket.connected() => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(_) => return false,
        }
    }
}

/// What changed from `view` to `next`, in the order orders, positions, closed positions,
/// account; `view` becomes `next`.
fn diff(s: &Sandbox, view: &mut View, next: View) -> Vec<Value> {
    let mut out = Vec::new();
    for (id, o) in &next.orders {
        if view.orders.get(id) != Some(o) {
            out.push(o.clone());
        }
    }
    for (id, p) in &next.positions {
        if view.positions.get(id) != Some(p) {
            out.push(p.clone());
        }
    }
    for (id, p) in &view.positions {
        if !next.positions.contains_key(id) {
            // The last fill of the position is the one that closed it.
            let last = s.executions.iter().rev().find(|e| e.position_id == *id);
            let realized = last.and_then(|e| {
                let open = p["openPrice"].as_str()?.parse::<Decimal>().ok()?;
                let units = p["units"].as_str()?.parse::<Decimal>().ok()?;
                let sign = if p["side"] == "BUY" {
                    Decimal::ONE
                } else {
                    -Decimal::ONE
                };
                Some(((e.price - open) * units * sign).round_dp(2))
            });
            out.push(json!({
                "type": "ClosePosition", "accountId": p["accountId"], "positionId": id,
                "closePrice": last.map(|e| text(e.price)),
                "closeDateTime": last.map(|e| rfc3339(UNIX_EPOCH + Duration::from_millis(e.created as u64))),
                "realizedPnl": realized.map(text),
            }));
        }
    }
    if view.account != next.account {
        out.push(next.account.clone());
    }
    *view = next;
    out
}

fn text(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn current(s: &Sandbox, account_id: &str) -> View {
    let mut view = View {
        account: account_json(s, account_id),
        ..View::default()
    };
    for p in s.positions.iter().filter(|p| p.account == account_id) {
        let Some(i) = s.instrument(p.instrument) else {
            continue;
        };
        view.positions.insert(
            p.id.clone(),
            json!({
                "type": "Position", "accountId": account_id, "positionId": p.id,
                "instrument": i.name, "side": p.side.to_ascii_uppercase(), "lots": text(p.qty),
                "lotSize": text(i.contract_size), "units": text(p.qty * i.contract_size),
                "openPrice": text(p.avg_price), "openDateTime": rfc3339(UNIX_EPOCH + Duration::from_millis(p.opened as u64)),
                "openOrderId": s.orders.iter().find(|o| o.position_id.as_deref() == Some(p.id.as_str())).map(|o| o.id.clone()),
                "stopLossOrderId": p.stop_loss_id, "takeProfitOrderId": p.take_profit_id,
                "maintMargin": text(p.qty * i.contract_size * p.avg_price / Decimal::from(LEVERAGE)),
            }),
        );
    }
    for o in s.orders.iter().filter(|o| o.account == account_id) {
        let Some(i) = s.instrument(o.instrument) else {
            continue;
        };
        let status = match o.status.as_str() {
            "New" => "PENDING",
            "Filled" => "EXECUTED",
            _ => "CANCELLED",
        };
        view.orders.insert(
            o.id.clone(),
            json!({
                "type": "OpenOrder", "accountId": account_id, "orderId": o.id,
                "instrument": i.name, "amount": text(o.qty), "lotSize": text(i.contract_size),
                "side": o.side.to_ascii_uppercase(),
                "price": o.price.or(o.stop_price).or(o.avg_price).map(text),
                "status": status,
            }),
        );
    }
    view
}

fn account_json(s: &Sandbox, account_id: &str) -> Value {
    let Some(a) = s.accounts.iter().find(|a| a.id == account_id) else {
        return json!({"type": "AccountStatus", "accountId": account_id});
    };
    let positions = s.positions.iter().filter(|p| p.account == account_id);
    let mut open_pl = Decimal::ZERO;
    let mut margin = Decimal::ZERO;
    for p in positions {
        open_pl += unrealized(s, p);
        if let Some(i) = s.instrument(p.instrument) {
            margin += p.qty * i.contract_size * p.avg_price / Decimal::from(LEVERAGE);
        }
    }
    let margin = margin.round_dp(2);
    let equity = a.balance + open_pl;
    let server = s
        .config
        .users
        .iter()
        .find(|u| u.email == a.user)
        .map(|u| u.server.clone());
    json!({
        "type": "AccountStatus", "accountId": a.id, "currency": "USD",
        "balance": text(a.balance), "balanceWithoutCredit": text(a.balance), "equity": text(equity),
        "marginAvailable": text(equity - margin), "marginUsed": text(margin),
        "blockedBalance": "0", "credit": "0", "brandId": server, "userId": a.user,
    })
}
