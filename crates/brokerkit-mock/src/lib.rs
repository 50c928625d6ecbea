//! Loopback sandboxes that speak each vendor's API as its spec describes, written
//! independently of the generated clients so that the tests check one against the other.
//!
//! Every sandbox is an axum router served on `127.0.0.1` by [`serve`], which adds two things
//! any test can use: [`Faults`] (latency, 429, 5xx, dropped connection, malformed body per
//! route) and [`Hits`] (how many times each route was called).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = brokerkit_mock::tradelocker::start(Default::default()).await?;
//! println!("TradeLocker sandbox at {}", server.base_url());
//! # Ok(()) }
//! ```

// Handlers return the ready axum `Response` as their error: it is the answer to send, and it
// lives for one request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod autoshares;
pub mod exact;
pub mod faults;
pub mod hostile;
mod rejections;
pub mod slate;
pub mod tradelocker;
pub mod traderevolution;

pub use faults::{Exchange, Fault, Faults, Hits, Recorder};

use axum::serve::ListenerExt;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// A sandbox serving on loopback until dropped.
pub struct Running {
    addr: SocketAddr,
    prefix: String,
    pub faults: Faults,
    pub hits: Hits,
    pub recorder: Recorder,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Running {
    /// The base URL a client takes (scheme, host, port and the vendor's path prefix).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `router` under `prefix` on `127.0.0.1:port` (0 picks a free port), with fault
/// injection and hit counting in front of it.
pub async fn serve(router: axum::Router, prefix: &str, port: u16) -> std::io::Result<Running> {
    serve_with(router, prefix, port, |app| app).await
}

/// [`serve`], with `outer` applied to the whole app (after fault injection and hit counting):
/// for services outside the vendor prefix, such as a Socket.IO layer.
pub async fn serve_with(
    router: axum::Router,
    prefix: &str,
    port: u16,
    outer: impl FnOnce(axum::Router) -> axum::Router,
) -> std::io::Result<Running> {
    let faults = Faults::default();
    let hits = Hits::default();
    let recorder = Recorder::default();
    let app = outer(faults::wrap(
        router,
        prefix,
        faults.clone(),
        hits.clone(),
        recorder.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    // Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to keep-alive requests.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        prefix: prefix.to_string(),
        faults,
        hits,
        recorder,
        shutdown: Some(tx),
    })
}
