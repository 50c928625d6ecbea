//! brokerkit against a hand-written reqwest + serde baseline, in one process, against one
//! neutral fixture server of recorded bodies (`brokerkit_bench::replay`), in interleaved rounds.
//! Prints one table of medians and ratios (the figures of BENCHMARKS.md) and the peak memory of
//! decoding 1M position rows.
//!
//! `cargo bench -p brokerkit-bench --bench ratios` (`BENCH_ROUNDS=n` for more or fewer rounds).

use brokerkit_bench::alloc::{self, Counting};
use brokerkit_bench::replay::{self, Recorder, Recording, Served};
use brokerkit_bench::rounds::{interleave, Compared};
use brokerkit_runtime::{ClientConfig, RateLimits};
use brokerkit_tradelocker as tl;
use futures::StreamExt;
use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

#[global_allocator]
static GLOBAL: Counting = Counting;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;
/// A bearer token of a real token's length for the baseline (the fixture server checks none).
const HISTORY_BARS: i64 = 20_000;
const HISTORY_FROM: i64 = 1_700_000_000_000;
const POSITIONS: usize = 1_000;
const MEMORY_ROWS: usize = 1_000_000;

/// The hand-written baseline: what a user writes today without brokerkit (f64 prices).
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
        pub ap: f64,
        pub bp: f64,
        #[serde(rename = "as")]
        pub as_: f64,
        pub bs: f64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct History {
        pub bar_details: Vec<Bar>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Bar {
        pub t: i64,
        pub o: f64,
        pub h: f64,
        pub l: f64,
        pub c: f64,
        pub v: Option<f64>,
    }

    #[derive(Deserialize)]
    pub struct Positions {
        pub positions: Vec<Vec<Value>>,
    }

    /// Every column, by fixed index (as hand-rolled clients do, and break when columns move).
    #[allow(dead_code)]
    pub struct Position {
        pub id: String,
        pub instrument: i64,
        pub route: i64,
        pub side: String,
        pub qty: f64,
        pub avg_price: f64,
        pub stop_loss_id: Option<String>,
        pub take_profit_id: Option<String>,
        pub open_date: Option<i64>,
        pub unrealized_pl: Option<f64>,
        pub strategy_id: Option<String>,
    }

    fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    fn float(v: &Value) -> Option<f64> {
        match v {
            Value::String(s) => s.parse().ok(),
            v => v.as_f64(),
        }
    }
    fn int(v: &Value) -> Option<i64> {
        match v {
            Value::String(s) => s.parse().ok(),
            v => v.as_i64(),
        }
    }

    pub fn decode(rows: &[Vec<Value>]) -> Vec<Position> {
        rows.iter()
            .map(|r| Position {
                id: text(&r[0]).unwrap_or_default(),
                instrument: int(&r[1]).unwrap_or_default(),
                route: int(&r[2]).unwrap_or_default(),
                side: text(&r[3]).unwrap_or_default(),
                qty: float(&r[4]).unwrap_or_default(),
                avg_price: float(&r[5]).unwrap_or_default(),
                stop_loss_id: text(&r[6]),
                take_profit_id: text(&r[7]),
                open_date: int(&r[8]),
                unrealized_pl: float(&r[9]),
                strategy_id: text(&r[10]),
            })
            .collect()
    }

    pub struct TradeLocker {
        pub http: reqwest::Client,
        pub base: String,
        pub account_id: String,
        /// The token the login answered (the one brokerkit's session sends too).
        pub token: String,
    }

    impl TradeLocker {
        async fn get<T: serde::de::DeserializeOwned>(
            &self,
            path: &str,
            query: &[(&str, String)],
        ) -> T {
            let env: Envelope<T> = self
                .http
                .get(format!("{}{path}", self.base))
                .query(query)
                .bearer_auth(&self.token)
                .header("accNum", "1")
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(env.s, "ok");
            env.d.unwrap()
        }

        pub async fn quote(&self) -> Quote {
            self.get(
                "/trade/quotes",
                &[
                    ("tradableInstrumentId", EURUSD.to_string()),
                    ("routeId", INFO.to_string()),
                ],
            )
            .await
        }

        pub async fn history(&self) -> Vec<Bar> {
            let h: History = self
                .get(
                    "/trade/history",
                    &[
                        ("tradableInstrumentId", EURUSD.to_string()),
                        ("routeId", INFO.to_string()),
                        ("resolution", "1m".into()),
                        ("from", HISTORY_FROM.to_string()),
                        ("to", (HISTORY_FROM + HISTORY_BARS * 60_000).to_string()),
                    ],
                )
                .await;
            h.bar_details
        }

        pub async fn positions(&self) -> Vec<Position> {
            let p: Positions = self
                .get(
                    &format!("/trade/accounts/{}/positions", self.account_id),
                    &[],
                )
                .await;
            decode(&p.positions)
        }
    }

    /// One GET with a bearer token (and extra headers), decoded into `T`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        http: &reqwest::Client,
        url: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> T {
        let mut rb = http.get(url).bearer_auth(token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct TeAccount {
        pub id: i64,
        pub balance: Option<f64>,
        pub currency: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    pub struct AsBalance {
        pub net_cash: Option<f64>,
        pub buying_power: Option<f64>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct SlateCustomer {
        pub id: Option<Value>,
        pub email: Option<String>,
    }
}

fn minute() -> tl::types::Resolution {
    tl::Resolution::Minute.into()
}

/// reqwest's own builder, as a program that uses reqwest by hand starts from (not brokerkit's
/// `tls::client_builder`, whose settings are brokerkit's), with a TLS provider installed: the
/// workspace builds reqwest without one.
fn plain_builder() -> reqwest::ClientBuilder {
    brokerkit_runtime::tls::install_default_provider();
    reqwest::Client::builder()
}

fn http() -> reqwest::Client {
    plain_builder().build().expect("a reqwest client")
}

/// A baseline client with the timeouts brokerkit's default configuration sets.
fn timed_http() -> reqwest::Client {
    plain_builder()
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("a reqwest client")
}

fn tl_credentials() -> tl::Credentials {
    tl::Credentials::new("trader@example.com", "demo-password", "OSP-DEMO")
}

async fn tl_session(base_url: String) -> tl::Session {
    tl_session_with(base_url, ClientConfig::default()).await
}

async fn tl_session_with(base_url: String, config: ClientConfig) -> tl::Session {
    let session = tl::Session::builder(tl::Environment::Custom(base_url))
        .config(config)
        .login(&tl_credentials())
        .await
        .expect("login");
    let account = session.accounts().await.expect("accounts").remove(0);
    session.select_account(&account);
    session
}

async fn tl_history(session: &tl::Session) -> Vec<tl::types::Bar> {
    session
        .history(
            EURUSD,
            INFO,
            minute(),
            HISTORY_FROM,
            HISTORY_FROM + HISTORY_BARS * 60_000,
        )
        .await
        .expect("history")
}

/// Rewrites every published rate limit to a million a second: the pacing machinery runs on
/// every call, as it does for users, but never waits.
fn unthrottled(config: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(config).expect("the config body");
    if let Some(limits) = v["d"]["rateLimits"].as_array_mut() {
        for l in limits {
            l["limit"] = 1_000_000.into();
            l["intervalNum"] = 1.into();
            l["measure"] = "SECONDS".into();
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// Records, through a proxy in front of the TradeLocker sandbox, what brokerkit asks. The
/// baseline asks for the same paths (its queries may be in another order: the fixture server
/// then answers by path), and the fixture server checks no token.
async fn record_tradelocker() -> (Recording, String, String) {
    let sandbox = brokerkit_mock::tradelocker::start(Default::default())
        .await
        .expect("the sandbox");
    // Positions are seeded directly (not recorded), without pacing.
    let seeder = tl::Session::builder(tl::Environment::Custom(sandbox.base_url()))
        .config(ClientConfig::default().rate_limits(RateLimits::off()))
        .login(&tl_credentials())
        .await
        .unwrap();
    let account = seeder.accounts().await.unwrap().remove(0);
    seeder.select_account(&account);
    for _ in 0..POSITIONS {
        seeder
            .place_order(&tl::orders::market(
                EURUSD,
                TRADE,
                tl::orders::Direction::Buy,
                Decimal::new(1, 2),
            ))
            .await
            .unwrap();
    }

    let (origin, prefix) = replay::split_base_url(&sandbox.base_url());
    let recorder = Recorder::start(&origin);
    let session = tl_session(recorder.base_url(&prefix)).await;
    session.quote(EURUSD, INFO).await.unwrap();
    assert_eq!(tl_history(&session).await.len(), HISTORY_BARS as usize);
    assert_eq!(session.positions().await.unwrap().len(), POSITIONS);
    let mut recording = recorder.recording();
    let config_path = format!("{prefix}/trade/config");
    let config = recording
        .body(&Method::GET, &config_path)
        .expect("the config was read")
        .clone();
    recording.replace_body(&Method::GET, &config_path, unthrottled(&config).into());
    (recording, prefix, account.id)
}

/// The recorded 1,000-row positions body, grown to `rows` rows with distinct ids.
fn grown_positions(body: &[u8], rows: usize) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    let seed = v["d"]["positions"].as_array().unwrap().clone();
    let grown: Vec<Value> = (0..rows)
        .map(|i| {
            let mut row = seed[i % seed.len()].clone();
            row[0] = Value::String(format!("{}", 7_421_932_185_916_132_049u64 - i as u64));
            row
        })
        .collect();
    v["d"]["positions"] = Value::Array(grown);
    serde_json::to_vec(&v).unwrap()
}

struct Row {
    what: String,
    compared: Compared,
    /// Calls per timed run (throughput rows) or `None` (time rows).
    calls: Option<usize>,
    target: &'static str,
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| what | brokerkit | baseline | brokerkit / baseline | target |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let (b, h) = (r.compared.brokerkit_median(), r.compared.baseline_median());
        match r.calls {
            Some(n) => println!(
                "| {} | {:.0} calls/s | {:.0} calls/s | {:.2}× the calls/s | {} |",
                r.what,
                n as f64 / b.as_secs_f64(),
                n as f64 / h.as_secs_f64(),
                r.compared.speed_ratio(),
                r.target
            ),
            None => println!(
                "| {} | {:.2} ms | {:.2} ms | {:.2}× the time | {} |",
                r.what,
                b.as_secs_f64() * 1e3,
                h.as_secs_f64() * 1e3,
                r.compared.time_ratio(),
                r.target
            ),
        }
    }
}

fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(31)
}

const SEQUENTIAL: usize = 200;
const IN_FLIGHT: usize = 32;
const CONCURRENT_CALLS: usize = 640;

/// The token brokerkit's session sent while `recording` was made: the baseline sends it too.
fn token_of(recording: &Recording) -> String {
    recording
        .bearer()
        .expect("the recorded calls carried a bearer token")
        .to_owned()
}

/// One timed run of the baseline's sequential quotes.
async fn sequential_quotes(h: &by_hand::TradeLocker) {
    for _ in 0..SEQUENTIAL {
        h.quote().await;
    }
}

/// One timed run of the baseline's quotes, `IN_FLIGHT` at a time.
async fn concurrent_quotes(h: &by_hand::TradeLocker) {
    futures::stream::iter(0..CONCURRENT_CALLS)
        .map(|_| h.quote())
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
}

/// One timed run of brokerkit's quotes, `IN_FLIGHT` at a time.
async fn session_concurrent_quotes(s: &tl::Session) {
    futures::stream::iter(0..CONCURRENT_CALLS)
        .map(|_| async move { s.quote(EURUSD, INFO).await.unwrap() })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
}

/// One timed run of brokerkit's sequential quotes.
async fn session_quotes(s: &tl::Session) {
    for _ in 0..SEQUENTIAL {
        s.quote(EURUSD, INFO).await.unwrap();
    }
}

async fn tradelocker_rows(out: &mut Vec<Row>) -> (Recording, String, String) {
    let (recording, prefix, account_id) = record_tradelocker().await;
    let served: Served = replay::replay(recording.clone());
    let session = tl_session(served.base_url(&prefix)).await;
    let by_hand = by_hand::TradeLocker {
        http: http(),
        base: served.base_url(&prefix),
        account_id: account_id.clone(),
        token: token_of(&recording),
    };
    let n = rounds();
    let (s, h) = (&session, &by_hand);

    let c = interleave(n, || session_quotes(s), || sequential_quotes(h)).await;
    // The harness against itself: a second hand-written client in brokerkit's place. Any
    // distance from 1.00× here is the harness's (connection placement, order), not brokerkit's.
    let twin = by_hand::TradeLocker {
        http: http(),
        base: served.base_url(&prefix),
        account_id: account_id.clone(),
        token: token_of(&recording),
    };
    let t = &twin;
    let aa = interleave(n, || sequential_quotes(t), || sequential_quotes(h)).await;
    let counted = |label: &str, (allocs, bytes): (usize, usize)| {
        println!(
            "allocations per quote, {label}: {:.1} ({:.0} bytes)",
            allocs as f64 / 100.0,
            bytes as f64 / 100.0
        )
    };
    alloc::start();
    let at = alloc::counts();
    for _ in 0..100 {
        s.quote(EURUSD, INFO).await.unwrap();
    }
    let end = alloc::counts();
    alloc::stop();
    counted("brokerkit", (end.0 - at.0, end.1 - at.1));
    alloc::start();
    let at = alloc::counts();
    for _ in 0..100 {
        h.quote().await;
    }
    let end = alloc::counts();
    alloc::stop();
    counted("hand-written", (end.0 - at.0, end.1 - at.1));
    out.push(Row {
        what: format!("TradeLocker quotes, sequential ({SEQUENTIAL} per run)"),
        compared: c,
        calls: Some(SEQUENTIAL),
        target: "≥ 0.95×",
    });
    out.push(Row {
        what: format!("harness check: hand-written against a second hand-written client, quotes, sequential ({SEQUENTIAL} per run)"),
        compared: aa,
        calls: Some(SEQUENTIAL),
        target: "1.00×",
    });

    let c = interleave(n, || session_concurrent_quotes(s), || concurrent_quotes(h)).await;
    let concurrent_row = out.len();
    out.push(Row {
        what: format!("TradeLocker quotes, {IN_FLIGHT} in flight ({CONCURRENT_CALLS} per run)"),
        compared: c,
        calls: Some(CONCURRENT_CALLS),
        target: "≥ 0.95×",
    });

    let c = interleave(
        n,
        || async move {
            assert_eq!(tl_history(s).await.len(), HISTORY_BARS as usize);
        },
        || async move {
            assert_eq!(h.history().await.len(), HISTORY_BARS as usize);
        },
    )
    .await;
    out.push(Row {
        what: "TradeLocker history, 20,000 bars fetched and decoded (exact / f64)".into(),
        compared: c,
        calls: None,
        target: "≤ 1.3×",
    });

    let c = interleave(
        n,
        || async move {
            assert_eq!(s.positions().await.unwrap().len(), POSITIONS);
        },
        || async move {
            assert_eq!(h.positions().await.len(), POSITIONS);
        },
    )
    .await;
    out.push(Row {
        what: "TradeLocker positions, 1,000 rows fetched and decoded into typed rows".into(),
        compared: c,
        calls: None,
        target: "≤ 1.1×",
    });
    // Measured last (its row shown beside the session's): run before the history, it left the
    // heap and the pools so that the history's ratio read about 0.05 higher.
    let aa = interleave(n, || concurrent_quotes(t), || concurrent_quotes(h)).await;
    out.insert(
        concurrent_row + 1,
        Row {
            what: format!("harness check: the same, {IN_FLIGHT} in flight"),
            compared: aa,
            calls: Some(CONCURRENT_CALLS),
            target: "1.00×",
        },
    );

    drop(served);
    (recording, prefix, account_id)
}

async fn other_vendor_rows(out: &mut Vec<Row>) {
    let n = rounds();
    const CALLS: usize = 100;

    // TraderEvolution: one trading account.
    let sandbox = brokerkit_mock::traderevolution::start(Default::default())
        .await
        .unwrap();
    let (origin, prefix) = replay::split_base_url(&sandbox.base_url());
    let recorder = Recorder::start(&origin);
    let account_id = 3_243_753;
    let te = brokerkit_traderevolution::Session::login(
        &recorder.base_url(&prefix),
        "admin",
        "admin-pass",
    )
    .await
    .unwrap();
    te.account_balance(account_id).await.unwrap();
    let http = http();
    let recording = recorder.recording();
    let token = token_of(&recording);
    let served = replay::replay(recording);
    let te =
        brokerkit_traderevolution::Session::login(&served.base_url(&prefix), "admin", "admin-pass")
            .await
            .unwrap();
    let url = format!("{}/accounts/{account_id}", served.base_url(&prefix));
    let (s, http_ref, url_ref, token_ref) = (&te, &http, &url, token.as_str());
    let c = interleave(
        n,
        || async move {
            for _ in 0..CALLS {
                s.account_balance(account_id).await.unwrap();
            }
        },
        || async move {
            for _ in 0..CALLS {
                let _: by_hand::TeAccount =
                    by_hand::get_json(http_ref, url_ref, token_ref, &[]).await;
            }
        },
    )
    .await;
    out.push(Row {
        what: "TraderEvolution `GET /accounts/{id}`, sequential".into(),
        compared: c,
        calls: Some(CALLS),
        target: "≥ 0.95×",
    });
    drop((served, recorder, sandbox));

    // AutoShares: an account's balance.
    let sandbox = brokerkit_mock::autoshares::start(Default::default())
        .await
        .unwrap();
    let (origin, prefix) = replay::split_base_url(&sandbox.base_url());
    let recorder = Recorder::start(&origin);
    let login = |base: String| async move {
        let api = brokerkit_autoshares::AutoShares::new(base, "sandbox-app-key").unwrap();
        api.login("trader", "trader-pass")
            .await
            .unwrap()
            .into_session()
            .unwrap()
    };
    let session = login(recorder.base_url(&prefix)).await;
    let account = session.accounts().await.unwrap()[0].id.unwrap();
    session.balance(account).await.unwrap();
    let key = [("Et-App-Key", "sandbox-app-key")];
    let recording = recorder.recording();
    let token = token_of(&recording);
    let served = replay::replay(recording);
    let session = login(served.base_url(&prefix)).await;
    let url = format!("{}/v1.0/accounts/{account}/info", served.base_url(&prefix));
    let (s, url_ref, key_ref, token_ref) = (&session, &url, &key, token.as_str());
    let c = interleave(
        n,
        || async move {
            for _ in 0..CALLS {
                s.balance(account).await.unwrap();
            }
        },
        || async move {
            for _ in 0..CALLS {
                let _: by_hand::AsBalance =
                    by_hand::get_json(http_ref, url_ref, token_ref, key_ref).await;
            }
        },
    )
    .await;
    out.push(Row {
        what: "AutoShares `GET /v1.0/accounts/{id}/info`, sequential".into(),
        compared: c,
        calls: Some(CALLS),
        target: "≥ 0.95×",
    });
    drop((served, recorder, sandbox));

    // Slate: the customer's profile.
    let sandbox = brokerkit_mock::slate::start(Default::default())
        .await
        .unwrap();
    let (origin, prefix) = replay::split_base_url(&sandbox.base_url());
    let recorder = Recorder::start(&origin);
    let session = brokerkit_slate::Session::new(&recorder.base_url(&prefix));
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    session.me().await.unwrap();
    let recording = recorder.recording();
    let token = token_of(&recording);
    let served = replay::replay(recording);
    let session = brokerkit_slate::Session::new(&served.base_url(&prefix));
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    let url = format!("{}/customers/me", served.base_url(&prefix));
    let (s, url_ref, token_ref) = (&session, &url, token.as_str());
    let c = interleave(
        n,
        || async move {
            for _ in 0..CALLS {
                s.me().await.unwrap();
            }
        },
        || async move {
            for _ in 0..CALLS {
                let _: by_hand::SlateCustomer =
                    by_hand::get_json(http_ref, url_ref, token_ref, &[]).await;
            }
        },
    )
    .await;
    out.push(Row {
        what: "Slate `GET /customers/me`, sequential".into(),
        compared: c,
        calls: Some(CALLS),
        target: "≥ 0.95×",
    });
}

/// Peak heap while one call fetches and decodes `MEMORY_ROWS` position rows, over the body.
async fn memory(recording: &Recording, prefix: &str, account_id: &str) {
    let path = format!("{prefix}/trade/accounts/{account_id}/positions");
    let body = grown_positions(recording.body(&Method::GET, &path).unwrap(), MEMORY_ROWS);
    let body_len = body.len();
    let mut big = recording.clone();
    big.replace_body(&Method::GET, &path, body.into());
    let served = replay::replay(big);
    // The default answer size limit (64 MiB) is below this body.
    let config = ClientConfig::default().max_body(1 << 30);
    let session = tl_session_with(served.base_url(prefix), config).await;
    let by_hand = by_hand::TradeLocker {
        http: http(),
        base: served.base_url(prefix),
        account_id: account_id.to_string(),
        token: token_of(recording),
    };
    println!();
    println!(
        "| {MEMORY_ROWS} position rows ({:.1} MB of JSON) | peak heap | × the body |",
        body_len as f64 / 1e6
    );
    println!("|---|---|---|");
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let report = |what: &str, peak: usize| {
        println!(
            "| {what} | {:.0} MiB | {:.1}× |",
            mib(peak),
            peak as f64 / body_len as f64
        );
    };

    alloc::start();
    let rows = session.positions().await.unwrap();
    alloc::stop();
    assert_eq!(rows.len(), MEMORY_ROWS);
    report(
        "brokerkit `Session::positions` (a Vec of typed rows)",
        alloc::peak(),
    );
    drop(rows);

    alloc::start();
    let mut count = 0usize;
    let mut qty = Decimal::ZERO;
    session
        .positions_each(|p| {
            count += 1;
            qty += p.qty;
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
    alloc::stop();
    assert_eq!(count, MEMORY_ROWS);
    assert!(qty > Decimal::ZERO);
    report(
        "brokerkit `Session::positions_each` (one row at a time: a sum over the rows)",
        alloc::peak(),
    );

    alloc::start();
    let rows = by_hand.positions().await;
    alloc::stop();
    assert_eq!(rows.len(), MEMORY_ROWS);
    report(
        "hand-written (`Vec<Vec<Value>>`, then typed rows)",
        alloc::peak(),
    );
    drop(rows);
}

/// One side of one comparison alone, for ~10 s, to run under a profiler: brokerkit's
/// (`BENCH_PROFILE=quotes|concurrent|history|positions perf record …`) or, for the first three,
/// the baseline's (`quotes-baseline`, `concurrent-baseline`, `history-baseline`);
/// `quotes-without-timeouts` is a session whose HTTP client has no timeouts.
async fn profile(what: &str) {
    let (recording, prefix, _) = record_tradelocker().await;
    let token = token_of(&recording);
    let served = replay::replay(recording);
    let s = &tl_session(served.base_url(&prefix)).await;
    let h = &by_hand::TradeLocker {
        http: http(),
        base: served.base_url(&prefix),
        account_id: String::new(),
        token: token.clone(),
    };
    let bare = &tl_session_with(
        served.base_url(&prefix),
        ClientConfig::default().http_client(http()),
    )
    .await;
    let timed = &by_hand::TradeLocker {
        http: timed_http(),
        base: served.base_url(&prefix),
        account_id: String::new(),
        token: token.clone(),
    };
    // A fixed count (`BENCH_PROFILE_CALLS`) instead of 10 s: instruction counts (valgrind)
    // of two counts then differ by exactly the calls between them.
    let calls: Option<u64> = std::env::var("BENCH_PROFILE_CALLS")
        .ok()
        .and_then(|n| n.parse().ok());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut runs = 0u64;
    while calls.map_or(std::time::Instant::now() < until, |n| runs < n) {
        match what {
            "quotes" => {
                s.quote(EURUSD, INFO).await.unwrap();
            }
            "concurrent" => {
                session_concurrent_quotes(s).await
            }
            "concurrent-baseline" => {
                concurrent_quotes(h).await
            }
            "concurrent-without-timeouts" => {
                session_concurrent_quotes(bare).await
            }
            "concurrent-baseline-with-timeouts" => {
                concurrent_quotes(timed).await
            }
            "history" => {
                tl_history(s).await;
            }
            "quotes-without-timeouts" => {
                bare.quote(EURUSD, INFO).await.unwrap();
            }
            "quotes-baseline" => {
                h.quote().await;
            }
            "history-baseline" => {
                h.history().await;
            }
            "positions" => {
                s.positions().await.unwrap();
            }
            other => panic!("BENCH_PROFILE={other}: quotes, quotes-without-timeouts, concurrent, history or positions (or quotes-, concurrent- or history-baseline)"),
        }
        runs += 1;
    }
    println!("{what}: {runs} runs");
}

/// Which part of the session costs what: quotes (sequential, then `IN_FLIGHT` at a time) of
/// sessions with parts of the pipeline switched off, each interleaved with the baseline
/// (`BENCH_ATTRIBUTE=1`).
async fn attribute() {
    let (recording, prefix, _) = record_tradelocker().await;
    let token = token_of(&recording);
    let served = replay::replay(recording);
    let base = served.base_url(&prefix);
    let h = &by_hand::TradeLocker {
        http: http(),
        base: base.clone(),
        account_id: String::new(),
        token: token.clone(),
    };
    let timed_out = &by_hand::TradeLocker {
        http: timed_http(),
        base: base.clone(),
        account_id: String::new(),
        token: token.clone(),
    };
    let n = rounds();
    let report = |label: &str, c: Compared| println!("{label}: {:.3}×", c.speed_ratio());
    report(
        "baseline with brokerkit's timeouts",
        interleave(n, || sequential_quotes(timed_out), || sequential_quotes(h)).await,
    );
    let variants = [
        ("session, defaults", ClientConfig::default()),
        (
            "session, a client without timeouts",
            ClientConfig::default().http_client(http()),
        ),
        (
            "session, no timeouts, no pacing",
            ClientConfig::default()
                .http_client(http())
                .rate_limits(RateLimits::off()),
        ),
        (
            "session, no timeouts, no retries",
            ClientConfig::default()
                .http_client(http())
                .retry(brokerkit_runtime::call::Retry::off()),
        ),
        (
            "session, no timeouts, no pacing, no retries",
            ClientConfig::default()
                .http_client(http())
                .rate_limits(RateLimits::off())
                .retry(brokerkit_runtime::call::Retry::off()),
        ),
    ];
    for (label, config) in variants {
        let s = &tl_session_with(base.clone(), config).await;
        let c = interleave(n, || session_quotes(s), || sequential_quotes(h)).await;
        report(label, c);
        let c = interleave(n, || session_concurrent_quotes(s), || concurrent_quotes(h)).await;
        report(&format!("{label}, {IN_FLIGHT} in flight"), c);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test --benches` passes nothing and should
    // only check that the bench builds.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ratios: run with `cargo bench -p brokerkit-bench --bench ratios`");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    if std::env::var("BENCH_ATTRIBUTE").is_ok() {
        rt.block_on(attribute());
        return;
    }
    if let Ok(what) = std::env::var("BENCH_PROFILE") {
        rt.block_on(profile(&what));
        return;
    }
    rt.block_on(async {
        let mut rows = Vec::new();
        println!("{} interleaved rounds per comparison", rounds());
        let (recording, prefix, account_id) = tradelocker_rows(&mut rows).await;
        other_vendor_rows(&mut rows).await;
        print_table(&rows);
        memory(&recording, &prefix, &account_id).await;
    });
}
