//! A neutral fixture server: it answers every request with a body recorded earlier, and shares
//! no code with brokerkit's clients or the hand-written baseline. Bodies are recorded once
//! through [`Recorder`], a forwarding proxy in front of a sandbox, so both clients later read
//! byte-identical answers from a server that does no work per request but a map lookup.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One recorded answer.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Answers keyed by `METHOD path?query`, and by `METHOD path` for a query that was not seen.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    exact: HashMap<String, Recorded>,
    by_path: HashMap<String, Recorded>,
    /// The last `Authorization` the recorded client sent: the baseline sends the same, so that
    /// both clients' requests are the same size.
    authorization: Option<String>,
}

impl Recording {
    /// Records (or replaces) the answer to `method path` (the path may carry a query).
    pub fn insert(&mut self, method: &Method, path_and_query: &str, answer: Recorded) {
        let path = path_and_query.split('?').next().unwrap_or_default();
        self.by_path
            .insert(format!("{method} {path}"), answer.clone());
        self.exact
            .insert(format!("{method} {path_and_query}"), answer);
    }

    /// The answer to `method path?query`, falling back to the last one recorded for the path.
    pub fn get(&self, method: &Method, path_and_query: &str) -> Option<&Recorded> {
        let path = path_and_query.split('?').next().unwrap_or_default();
        self.exact
            .get(&format!("{method} {path_and_query}"))
            .or_else(|| self.by_path.get(&format!("{method} {path}")))
    }

    /// The bearer token the recorded client sent last (the one its login was answered with,
    /// which the fixture server answers again when replaying).
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }

    /// The recorded body for `method path` (any query).
    pub fn body(&self, method: &Method, path: &str) -> Option<&Bytes> {
        self.by_path
            .get(&format!("{method} {path}"))
            .map(|r| &r.body)
    }

    /// Replaces the body recorded for `method path` (any query), keeping status and type.
    pub fn replace_body(&mut self, method: &Method, path: &str, body: Bytes) {
        let key = format!("{method} {path}");
        let prefix = format!("{key}?");
        if let Some(r) = self.by_path.get_mut(&key) {
            r.body = body.clone();
        }
        for (k, r) in self.exact.iter_mut() {
            if *k == key || k.starts_with(&prefix) {
                r.body = body.clone();
            }
        }
    }
}

/// A server on loopback, running on its own thread and runtime (so it never competes with the
/// measured clients' scheduler), until dropped.
pub struct Served {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// `http://127.0.0.1:port` followed by `prefix`.
    pub fn base_url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_on_thread(app: axum::Router) -> Served {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the fixture server");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            // Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to keep-alive requests.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
    });
    Served {
        addr: addr_rx.recv().expect("the fixture server's address"),
        shutdown: Some(stop_tx),
        thread: Some(thread),
    }
}

fn answer(r: &Recorded) -> Response {
    let mut response = Response::new(Body::from(r.body.clone()));
    *response.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    if let Some(ct) = r
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

fn path_and_query(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned())
}

/// Serves `recording`: each request gets its recorded answer, or 404.
pub fn replay(recording: Recording) -> Served {
    let recording = Arc::new(recording);
    let app = axum::Router::new()
        .fallback(
            |State(rec): State<Arc<Recording>>, req: Request| async move {
                match rec.get(req.method(), &path_and_query(&req)) {
                    Some(r) => answer(r),
                    None => {
                        let mut r = Response::new(Body::from("not recorded"));
                        *r.status_mut() = StatusCode::NOT_FOUND;
                        r
                    }
                }
            },
        )
        .with_state(recording);
    serve_on_thread(app)
}

/// A forwarding proxy that keeps every answer it passes on.
pub struct Recorder {
    served: Served,
    recording: Arc<Mutex<Recording>>,
}

#[derive(Clone)]
struct Upstream {
    http: reqwest::Client,
    origin: String,
    recording: Arc<Mutex<Recording>>,
}

impl Recorder {
    /// Forwards to `origin` (`http://host:port`, no path).
    pub fn start(origin: &str) -> Recorder {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let upstream = Upstream {
            http: brokerkit_runtime::tls::client_builder()
                .build()
                .expect("a reqwest client"),
            origin: origin.trim_end_matches('/').to_owned(),
            recording: recording.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(upstream);
        Recorder {
            served: serve_on_thread(app),
            recording,
        }
    }

    pub fn base_url(&self, prefix: &str) -> String {
        self.served.base_url(prefix)
    }

    /// Everything recorded so far.
    pub fn recording(&self) -> Recording {
        self.recording.lock().unwrap().clone()
    }
}

async fn forward(State(up): State<Upstream>, req: Request) -> Response {
    let method = req.method().clone();
    let target = path_and_query(&req);
    let mut out = up
        .http
        .request(method.clone(), format!("{}{target}", up.origin));
    for (name, value) in req.headers() {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let reply = match out.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let mut r = Response::new(Body::from(format!("upstream: {e}")));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            return r;
        }
    };
    let recorded = Recorded {
        status: reply.status().as_u16(),
        content_type: reply
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: reply.bytes().await.unwrap_or_default(),
    };
    let response = answer(&recorded);
    let mut recording = up.recording.lock().unwrap();
    recording.insert(&method, &target, recorded);
    if authorization.is_some() {
        recording.authorization = authorization;
    }
    response
}

/// The origin (`http://host:port`) and path prefix of a base URL.
pub fn split_base_url(base_url: &str) -> (String, String) {
    let rest = base_url.split_once("://").map(|x| x.1).unwrap_or(base_url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let scheme = base_url.split_once("://").map(|x| x.0).unwrap_or("http");
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("/{}", path.trim_end_matches('/'))
    };
    (format!("{scheme}://{host}"), prefix)
}
