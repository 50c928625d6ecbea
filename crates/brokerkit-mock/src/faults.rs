//! Fault injection and hit counting, in front of every sandbox.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a request instead of (or before) answering it normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Answer 429 with `Retry-After` and this JSON body.
    RateLimited { retry_after_secs: u64, body: String },
    /// Answer with this 5xx status and a short JSON body.
    ServerError(u16),
    /// Send the headers of a 200, then break the connection mid-body.
    Drop,
    /// Carry the request out (state changes as usual), then break the connection in the middle
    /// of the answer: the caller cannot know that it executed.
    ExecuteThenDrop,
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Answer with exactly this status and JSON body.
    Respond { status: u16, body: String },
}

#[derive(Clone, Debug)]
struct Rule {
    method: Option<String>,
    path: String,
    fault: Fault,
    remaining: Option<usize>,
}

/// The faults armed on a running sandbox. Paths are relative to the vendor prefix, e.g.
/// `/trade/quotes`; a trailing `*` matches a prefix.
#[derive(Clone, Default, Debug)]
pub struct Faults(Arc<Mutex<Vec<Rule>>>);

impl Faults {
    /// Applies `fault` to every request to `path` until cleared.
    pub fn inject(&self, path: &str, fault: Fault) {
        self.push(None, path, fault, None);
    }

    /// Applies `fault` to the next `times` requests with this method and path.
    pub fn inject_times(&self, method: &str, path: &str, fault: Fault, times: usize) {
        self.push(Some(method), path, fault, Some(times));
    }

    fn push(&self, method: Option<&str>, path: &str, fault: Fault, remaining: Option<usize>) {
        let rule = Rule {
            method: method.map(str::to_ascii_uppercase),
            path: path.to_string(),
            fault,
            remaining,
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(rule);
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let i = rules.iter().position(|r| {
            r.method.as_deref().is_none_or(|m| m == method)
                && match r.path.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => r.path == path,
                }
        })?;
        let fault = rules[i].fault.clone();
        if let Some(n) = rules[i].remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                rules.remove(i);
            }
        }
        Some(fault)
    }
}

/// How many requests each `METHOD /path` received (path relative to the vendor prefix).
#[derive(Clone, Default, Debug)]
pub struct Hits(Arc<Mutex<HashMap<String, usize>>>);

impl Hits {
    pub fn get(&self, method: &str, path: &str) -> usize {
        let key = format!("{} {path}", method.to_ascii_uppercase());
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Every `METHOD /raw/path` so far with its count, to see exactly what a call sent.
    pub fn snapshot(&self) -> HashMap<String, usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn total(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }

    fn record(&self, method: &str, path: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(format!("{method} {path}"))
            .or_default() += 1;
    }
}

/// One answered request, as recorded by [`Recorder`].
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    /// Path relative to the vendor prefix, without the query.
    pub path: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

/// Records every answer the sandbox gives (faults excepted) while switched on, so a test can
/// check each one against the spec. Off by default: it buffers bodies.
#[derive(Clone, Default, Debug)]
pub struct Recorder {
    on: Arc<std::sync::atomic::AtomicBool>,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Recorder {
    pub fn start(&self) {
        self.on.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Everything recorded so far, and clears the log.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn is_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Ctl {
    prefix: String,
    faults: Faults,
    hits: Hits,
    recorder: Recorder,
}

pub(crate) fn wrap(
    router: axum::Router,
    prefix: &str,
    faults: Faults,
    hits: Hits,
    recorder: Recorder,
) -> axum::Router {
    let ctl = Ctl {
        prefix: prefix.to_string(),
        faults,
        hits,
        recorder,
    };
    let inner = if prefix.is_empty() {
        router
    } else {
        axum::Router::new().nest(prefix, router)
    };
    inner.layer(middleware::from_fn_with_state(ctl, apply))
}

async fn apply(State(ctl): State<Ctl>, req: Request, next: Next) -> Response {
    let full = req.uri().path().to_string();
    let path = full.strip_prefix(&ctl.prefix).unwrap_or(&full).to_string();
    let method = req.method().as_str().to_string();
    ctl.hits.record(&method, &path);
    let Some(fault) = ctl.faults.take(&method, &path) else {
        let response = next.run(req).await;
        return if ctl.recorder.is_on() {
            record(&ctl.recorder, method, path, response).await
        } else {
            response
        };
    };
    match fault {
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Fault::RateLimited {
            retry_after_secs,
            body,
        } => {
            let mut r = json_response(StatusCode::TOO_MANY_REQUESTS, body);
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            r
        }
        Fault::ServerError(code) => json_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r#"{"error":"injected server error"}"#.to_string(),
        ),
        Fault::Drop => cut_answer(StatusCode::OK),
        Fault::ExecuteThenDrop => {
            let executed = next.run(req).await;
            cut_answer(executed.status())
        }
        Fault::Malformed => json_response(StatusCode::OK, "{\"s\":\"ok\",\"d\":[1,2".to_string()),
        Fault::Respond { status, body } => {
            json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
        }
    }
}

async fn record(recorder: &Recorder, method: String, path: String, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let exchange = Exchange {
        method,
        path,
        status: parts.status.as_u16(),
        content_type,
        body: bytes.clone(),
    };
    recorder
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(exchange);
    Response::from_parts(parts, Body::from(bytes))
}

/// Headers of `status`, the start of a JSON body, then a reset connection.
fn cut_answer(status: StatusCode) -> Response {
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"{\"s\":\"ok\",\"d\":"),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected drop",
        )),
    ];
    let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}
