//! The README's main job: `cargo run -p brokerkit --example quickstart`.
//!
//! Starts a sandbox of every vendor in this process (no network needed) and, for each, logs
//! in, lists accounts, reads market data and trades where the API trades, then prints a short
//! report. Set a vendor's `BROKERKIT_<VENDOR>_URL` and credentials (see each vendor's example
//! in this folder) to talk to that real broker instead.

#[path = "autoshares.rs"]
mod autoshares;
#[path = "slate.rs"]
mod slate;
#[path = "tradelocker.rs"]
mod tradelocker;
#[path = "traderevolution.rs"]
mod traderevolution;

use std::future::Future;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn section(name: &str, demo: impl Future<Output = Result<Vec<String>, BoxError>>) -> bool {
    let started = Instant::now();
    println!("== {name}");
    match demo.await {
        Ok(lines) => {
            for line in lines {
                println!("   {line}");
            }
            println!("   ok in {} ms\n", started.elapsed().as_millis());
            true
        }
        Err(e) => {
            println!("   FAILED: {e}\n");
            false
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let results = [
        section("TradeLocker", tradelocker::demo()).await,
        section("AutoShares (two-factor login)", autoshares::demo()).await,
        section("TraderEvolution BackOffice", traderevolution::demo()).await,
        section("Slate Labs", slate::demo()).await,
    ];
    let failed = results.iter().filter(|ok| !**ok).count();
    println!(
        "{} vendors, {failed} failed, {} ms",
        results.len(),
        started.elapsed().as_millis()
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
