//! What a brokerkit call costs next to the same call written by hand with `reqwest` + `serde`,
//! in the same run, against the TradeLocker sandbox on loopback. Also allocations per call,
//! counted by a global allocator (printed before the timings).
//!
//! `cargo bench -p brokerkit-bench`; figures go to BENCHMARKS.md.

use brokerkit_mock::tradelocker as sandbox;
use brokerkit_tradelocker::rows::Position;
use brokerkit_tradelocker::{orders, Credentials, Environment, Session};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)] // forwards to the system allocator, only counting
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;

/// The hand-written baseline: what a user writes today without brokerkit.
mod by_hand {
    use super::*;

    #[derive(Deserialize)]
    pub struct Envelope<T> {
        pub s: String,
        pub d: Option<T>,
        #[allow(dead_code)]
        pub errmsg: Option<String>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Quote {
        pub ap: Decimal,
        pub bp: Decimal,
        #[serde(rename = "as")]
        pub as_: Decimal,
        pub bs: Decimal,
    }

    #[derive(Deserialize)]
    pub struct Positions {
        pub positions: Vec<Vec<Value>>,
    }

    #[allow(dead_code)]
    pub struct Position {
        pub id: String,
        pub qty: Decimal,
        pub avg_price: Decimal,
    }

    pub struct Api {
        pub http: reqwest::Client,
        pub base: String,
        pub token: String,
        pub account_id: String,
    }

    impl Api {
        pub async fn quote(&self) -> Quote {
            let env: Envelope<Quote> = self
                .http
                .get(format!("{}/trade/quotes", self.base))
                .query(&[("tradableInstrumentId", EURUSD), ("routeId", INFO)])
                .bearer_auth(&self.token)
                .header("accNum", "1")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(env.s, "ok");
            env.d.unwrap()
        }

        pub async fn positions(&self) -> Vec<Position> {
            let env: Envelope<Positions> = self
                .http
                .get(format!(
                    "{}/trade/accounts/{}/positions",
                    self.base, self.account_id
                ))
                .bearer_auth(&self.token)
                .header("accNum", "1")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            decode(&env.d.unwrap().positions)
        }
    }

    /// Decoding by fixed index, as hand-rolled clients do (and break when columns move).
    pub fn decode(rows: &[Vec<Value>]) -> Vec<Position> {
        let dec = |v: &Value| v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
        rows.iter()
            .map(|r| Position {
                id: r[0].as_str().unwrap_or_default().to_string(),
                qty: dec(&r[4]),
                avg_price: dec(&r[5]),
            })
            .collect()
    }
}

struct Fixture {
    _server: sandbox::Server,
    session: Session,
    by_hand: by_hand::Api,
    columns: Vec<String>,
    rows: brokerkit_tradelocker::rows::RawRows,
    raw_rows: Vec<Vec<Value>>,
}

async fn fixture(positions: usize) -> Fixture {
    let server = sandbox::start(Default::default()).await.unwrap();
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::login(Environment::Custom(server.base_url()), &creds)
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    for _ in 0..positions {
        session
            .place_order(&orders::market(
                EURUSD,
                TRADE,
                orders::Direction::Buy,
                Decimal::new(1, 2),
            ))
            .await
            .unwrap();
    }
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let login: Value = http
        .post(format!("{}/auth/jwt/token", server.base_url()))
        .json(&serde_json::json!({"email": "trader@example.com", "password": "demo-password", "server": "OSP-DEMO"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_hand = by_hand::Api {
        http,
        base: server.base_url(),
        token: login["accessToken"].as_str().unwrap().to_string(),
        account_id: account.id.clone(),
    };
    let config = session.config().await.unwrap();
    let columns: Vec<String> = config
        .positions_config
        .as_ref()
        .unwrap()
        .columns
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let raw = session
        .client()
        .get_positions()
        .account_id(account.id.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    let rows = raw.d.unwrap().positions;
    let raw_rows = serde_json::from_str(&rows.json()).unwrap();
    Fixture {
        _server: server,
        session,
        by_hand,
        columns,
        rows,
        raw_rows,
    }
}

fn allocations<F: FnMut()>(label: &str, n: usize, mut f: F) {
    f();
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..n {
        f();
    }
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    println!(
        "allocations {label:<42} {:>8.1} allocs/op {:>10.0} bytes/op",
        (a1 - a0) as f64 / n as f64,
        (b1 - b0) as f64 / n as f64
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = rt.block_on(fixture(100));

    allocations("quote: brokerkit Session::quote", 200, || {
        rt.block_on(fx.session.quote(EURUSD, INFO)).unwrap();
    });
    allocations("quote: hand-written reqwest + serde", 200, || {
        rt.block_on(fx.by_hand.quote());
    });
    allocations("100 positions: brokerkit Session::positions", 50, || {
        rt.block_on(fx.session.positions()).unwrap();
    });
    allocations("100 positions: hand-written", 50, || {
        rt.block_on(fx.by_hand.positions());
    });
    // Decoding consumes the table; the copies are made before counting.
    let mut tables = vec![fx.rows.clone(); 201];
    allocations("decode 100 rows: brokerkit (by column name)", 200, || {
        tables
            .pop()
            .unwrap()
            .decode::<Position>("positions", &fx.columns)
            .unwrap();
    });
    allocations("decode 100 rows: hand-written (by index)", 200, || {
        by_hand::decode(&fx.raw_rows);
    });

    let mut g = c.benchmark_group("quote over loopback");
    g.bench_function("brokerkit", |b| {
        b.to_async(&rt)
            .iter(|| async { fx.session.quote(EURUSD, INFO).await.unwrap() })
    });
    g.bench_function("hand-written", |b| {
        b.to_async(&rt).iter(|| fx.by_hand.quote())
    });
    g.finish();

    let mut g = c.benchmark_group("100 positions over loopback");
    g.bench_function("brokerkit", |b| {
        b.to_async(&rt)
            .iter(|| async { fx.session.positions().await.unwrap() })
    });
    g.bench_function("hand-written", |b| {
        b.to_async(&rt).iter(|| fx.by_hand.positions())
    });
    g.finish();

    let mut g = c.benchmark_group("decode 100 position rows");
    g.bench_function("brokerkit by name", |b| {
        b.iter_batched(
            || fx.rows.clone(),
            |rows| rows.decode::<Position>("positions", &fx.columns).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("hand-written by index", |b| {
        b.iter(|| by_hand::decode(&fx.raw_rows))
    });
    g.finish();
}

criterion_group! {
    name = calls;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = benches
}
criterion_main!(calls);
