//! The README's main job: `cargo run -p brokerkit --example quickstart`.
//!
//! Starts a sandbox of every vendor in this process (no network needed) and, for each, logs
//! in, lists accounts, reads market data and trades where the API trades, then prints one
//! table per broker. Set a vendor's `BROKERKIT_<VENDOR>_URL` and credentials (see each vendor's
//! example in this folder) to talk to that real broker instead.

// Each vendor example stands alone, so each declares `support/` itself; here it is compiled once
// per vendor module, which is what this lint would flag.
#![allow(clippy::duplicate_mod)]

#[path = "autoshares.rs"]
mod autoshares;
#[path = "slate.rs"]
mod slate;
#[path = "tradelocker.rs"]
mod tradelocker;
#[path = "traderevolution.rs"]
mod traderevolution;

use std::process::ExitCode;
use std::time::Instant;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let tables = [
        tradelocker::run().await,
        autoshares::run().await,
        traderevolution::run().await,
        slate::run().await,
    ];
    let mut failed = 0;
    for table in &tables {
        match table {
            Ok(table) => println!("{table}"),
            Err(e) => {
                failed += 1;
                println!("FAILED {e}\n");
            }
        }
    }
    let ms = started.elapsed().as_millis();
    let brokers = tables.len();
    if failed == 0 {
        println!("{brokers} brokers, all ok, in {ms} ms");
        ExitCode::SUCCESS
    } else {
        println!("{brokers} brokers, {failed} failed, in {ms} ms");
        ExitCode::FAILURE
    }
}
