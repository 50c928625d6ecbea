// The README's sandbox example: `cargo run -p brokerkit --example readme_sandbox`.
use brokerkit_mock::{tradelocker, Fault};
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // 127.0.0.1 on a free port; give the base URL to the client under test.
    let server = tradelocker::start(Default::default()).await?;
    let base_url = server.base_url();

    // Faults per route (relative to the vendor's base path; `*` matches a prefix).
    let slow = Fault::Latency(Duration::from_secs(2));
    server.faults.inject("/trade/quotes", slow);
    let busy = Fault::RateLimited {
        retry_after_secs: 1,
        body: "{}".into(),
    };
    server.faults.inject("/trade/accounts/*", busy);

    // The next call must refresh its token; count how often it did.
    server.expire_access_tokens();
    assert_eq!(server.hits.get("POST", "/auth/jwt/refresh"), 0);
    println!("TradeLocker sandbox at {base_url}, two faults armed");
    Ok(())
}
