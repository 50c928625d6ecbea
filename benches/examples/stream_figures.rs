//! Figures for the live streams (not asserted anywhere; printed for the closing notes):
//!
//! 1. events per second one TradeLocker stream sustains: the in-process sandbox sends a burst
//!    of `AccountStatus` events to one subscription, the consumer decodes them as fast as it
//!    can; and quotes per second one AutoShares quote stream takes with the streamer sending
//!    without pause;
//! 2. resident memory (RSS) of 1,000 idle subscriptions: 1,000 TradeLocker streams (one socket
//!    each) and 1,000 AutoShares data streams, against a sandbox in a child process so that
//!    only the client's memory is counted.
//!
//! `cargo build --release -p brokerkit-mock && cargo run --release -p brokerkit-bench --example
//! stream_figures [throughput|memory-tradelocker|memory-autoshares] [N]` (a memory figure is
//! cleanest alone in its process).

use brokerkit_tradelocker::stream::{self, StreamBuilder, StreamEvent, TokenSource};
use futures::{FutureExt, StreamExt};
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

const EMAIL: &str = "trader@example.com";
const PASSWORD: &str = "demo-password";
const SERVER: &str = "OSP-DEMO";

async fn tradelocker_throughput() -> Result<(), Box<dyn std::error::Error>> {
    let server = brokerkit_mock::tradelocker::start(Default::default()).await?;
    let creds = brokerkit_tradelocker::Credentials::new(EMAIL, PASSWORD, SERVER);
    let tokens = stream::account_tokens(&server.base_url(), creds);
    let account = "2200767";
    let mut s = StreamBuilder::new(
        stream::origin_for(&server.base_url()),
        brokerkit_mock::tradelocker::stream::DEVELOPER_API_KEY,
        SERVER,
        tokens,
    )
    .account(account)
    .connect()
    .await?;
    while !matches!(s.next().await, Some(Ok(StreamEvent::SyncEnd { .. }))) {}
    let n = 100_000u64;
    let started = Instant::now();
    let hub = server.streams.clone();
    tokio::spawn(async move { hub.burst(account, n).await });
    let (mut got, mut lagged) = (0u64, 0u64);
    while got + lagged < n {
        match tokio::time::timeout(Duration::from_secs(30), s.next()).await {
            Ok(Some(Ok(StreamEvent::Account(_)))) => got += 1,
            Ok(Some(Ok(StreamEvent::Lagged { dropped }))) => lagged += dropped,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "tradelocker: one stream took {got} AccountStatus events in {secs:.2} s = {:.0} events/s ({lagged} dropped by lag)",
        got as f64 / secs
    );
    Ok(())
}

async fn autoshares_throughput() -> Result<(), Box<dyn std::error::Error>> {
    let server = brokerkit_mock::autoshares::start(Default::default()).await?;
    server.streamers.set_quote_interval(Duration::ZERO);
    let session = brokerkit_autoshares::AutoShares::new(server.base_url(), server.app_key())?
        .login_single_factor("trader", "trader-pass")
        .await?;
    let mut s = session
        .quote_stream()
        .subscribe(brokerkit_autoshares::stream::EntityType::Quote, ["1"])
        .connect()
        .await?;
    let started = Instant::now();
    let (mut quotes, mut lagged) = (0u64, 0u64);
    while started.elapsed() < Duration::from_secs(3) {
        match s.next().await {
            Some(Ok(brokerkit_autoshares::stream::StreamerEvent::Quote(_))) => quotes += 1,
            Some(Ok(brokerkit_autoshares::stream::StreamerEvent::Lagged { dropped })) => {
                lagged += dropped
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "autoshares: one quote stream took {quotes} quotes in {secs:.2} s = {:.0} quotes/s ({lagged} dropped by lag)",
        quotes as f64 / secs
    );
    Ok(())
}

/// Kills the child sandbox when dropped, also on an early return.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `brokerkit-mock <vendor>` beside this binary; returns the child and its base URL.
fn child_sandbox(
    vendor: &str,
) -> Result<(std::process::Child, String), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("brokerkit-mock"))
        .ok_or("no target dir")?;
    let mut child = std::process::Command::new(&bin)
        .arg(vendor)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {e} (build it: cargo build --release -p brokerkit-mock)",
                bin.display()
            )
        })?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let url = line.split_whitespace().last().ok_or("no URL")?.to_string();
    Ok((child, url))
}

async fn tradelocker_idle_memory(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (child, url) = child_sandbox("tradelocker")?;
    let _child = Kill(child);
    let creds = brokerkit_tradelocker::Credentials::new(EMAIL, PASSWORD, SERVER);
    // One token call, shared by every stream.
    let fetched = stream::account_tokens(&url, creds)().await?;
    let tokens: TokenSource = Arc::new(move || {
        let fetched = fetched.clone();
        async move { Ok(fetched) }.boxed()
    });
    let before = rss_kib();
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = StreamBuilder::new(
            stream::origin_for(&url),
            brokerkit_mock::tradelocker::stream::DEVELOPER_API_KEY,
            SERVER,
            tokens.clone(),
        )
        .account("2200767")
        .connect()
        .await?;
        while !matches!(s.next().await, Some(Ok(StreamEvent::SyncEnd { .. }))) {}
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    println!(
        "tradelocker: {n} idle subscriptions (one socket each): RSS {before} KiB -> {after} KiB, {} KiB each",
        (after.saturating_sub(before)) / n as u64
    );
    drop(streams);
    Ok(())
}

async fn autoshares_idle_memory(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (child, url) = child_sandbox("autoshares")?;
    let _child = Kill(child);
    let session = brokerkit_autoshares::AutoShares::new(url, "sandbox-app-key")?
        .login_single_factor("trader", "trader-pass")
        .await?;
    let before = rss_kib();
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = session
            .data_stream()
            .subscribe(
                brokerkit_autoshares::stream::EntityType::AccountBalance,
                ["2001"],
            )
            .connect()
            .await?;
        while !matches!(
            s.next().await,
            Some(Ok(
                brokerkit_autoshares::stream::StreamerEvent::Subscribed { .. }
            ))
        ) {}
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    println!(
        "autoshares: {n} idle data subscriptions (one socket each): RSS {before} KiB -> {after} KiB, {} KiB each",
        (after.saturating_sub(before)) / n as u64
    );
    drop(streams);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only = std::env::args().nth(1).unwrap_or_default();
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    if only.is_empty() || only == "throughput" {
        tradelocker_throughput().await?;
        autoshares_throughput().await?;
    }
    // One vendor per process for a clean figure (freed memory stays in the allocator).
    if only.is_empty() || only == "memory-tradelocker" {
        if let Err(e) = tradelocker_idle_memory(n).await {
            println!("tradelocker idle memory: {e}");
        }
    }
    if only.is_empty() || only == "memory-autoshares" {
        if let Err(e) = autoshares_idle_memory(n).await {
            println!("autoshares idle memory: {e}");
        }
    }
    Ok(())
}
