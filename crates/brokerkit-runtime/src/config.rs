//! How a session sends its requests: one [`ClientConfig`] taken by every vendor's session
//! builder, with the same defaults everywhere.
//!
//! ```
//! use brokerkit_runtime::{call::Retry, ClientConfig};
//! use std::time::Duration;
//!
//! let config = ClientConfig::default()
//!     .timeout(Duration::from_secs(10))
//!     .deadline(Duration::from_secs(20))
//!     .retry(Retry::off())
//!     .user_agent("my-bot/1.2");
//! assert_eq!(config.connect_timeout, Duration::from_secs(10));
//! // A client of your own (proxies, TLS roots…) replaces the two timeouts:
//! let own = brokerkit_runtime::tls::client_builder().build().unwrap();
//! let proxied = ClientConfig::default().http_client(own);
//! # let _ = proxied;
//! ```

use crate::call::{Pipeline, Retry};
use http::HeaderValue;
use std::time::Duration;

/// The default whole-request timeout of a client brokerkit builds: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connection timeout: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP settings and the request pipeline of a session. Every vendor's builder takes one
/// (`.config(…)`); [`Default`] is what a session uses when given none.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Whole-request timeout (each attempt). Default [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Connection timeout. Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// A client to use as it is (proxies, TLS settings, pools); the timeouts above then do not
    /// apply. Default `None`.
    pub client: Option<reqwest::Client>,
    /// User-Agent, retries, deadline and answer size limit of every request.
    pub pipeline: Pipeline,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            client: None,
            pipeline: Pipeline::default(),
        }
    }
}

impl ClientConfig {
    /// Whole-request timeout of each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sends with `client` as it is (its own timeouts, proxy, TLS).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The whole request pipeline at once.
    pub fn pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipeline = pipeline;
        self
    }

    /// When requests are sent again (see [`crate::call`] for what qualifies).
    pub fn retry(mut self, retry: Retry) -> Self {
        self.pipeline.retry = retry;
        self
    }

    /// How requests are paced to the broker's limits, per account and rate class (see
    /// [`RateLimits`](crate::RateLimits)); [`RateLimits::off`](crate::RateLimits::off)
    /// switches pacing off. TradeLocker sessions replace limits of the same name by those the
    /// server publishes in `/trade/config`.
    pub fn rate_limits(mut self, rate_limits: crate::RateLimits) -> Self {
        self.pipeline.rate_limits = rate_limits;
        self
    }

    /// The most one operation may take, renewal and retries included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.pipeline.deadline = Some(deadline);
        self
    }

    /// The largest answer read, in bytes.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.pipeline.max_body = bytes;
        self
    }

    /// The User-Agent sent instead of `brokerkit/<version>`. A value that cannot be a header
    /// (a control character) is ignored and the default kept.
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(user_agent) {
            self.pipeline.user_agent = Some(v);
        }
        self
    }

    /// Sends no User-Agent at all.
    pub fn no_user_agent(mut self) -> Self {
        self.pipeline.user_agent = None;
        self
    }

    /// The client to send with.
    pub fn build(&self) -> Result<reqwest::Client, String> {
        match &self.client {
            Some(c) => Ok(c.clone()),
            None => crate::tls::client_builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_a_given_client_wins() {
        let c = ClientConfig::default();
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.pipeline.retry, Retry::default());
        assert!(c.build().is_ok());
        assert!(ClientConfig::default()
            .http_client(crate::tls::client_builder().build().unwrap())
            .build()
            .is_ok());
    }

    #[test]
    fn builder_methods_set_the_pipeline() {
        let c = ClientConfig::default()
            .retry(Retry::off())
            .deadline(Duration::from_secs(3))
            .max_body(10)
            .user_agent("bot/1");
        assert_eq!(c.pipeline.retry.max_attempts, 1);
        assert_eq!(c.pipeline.deadline, Some(Duration::from_secs(3)));
        assert_eq!(c.pipeline.max_body, 10);
        assert_eq!(c.pipeline.user_agent.as_ref().unwrap(), "bot/1");
        let kept = ClientConfig::default().user_agent("bad\nvalue");
        assert_eq!(
            kept.pipeline.user_agent.as_ref().unwrap(),
            crate::call::USER_AGENT
        );
        assert!(ClientConfig::default()
            .no_user_agent()
            .pipeline
            .user_agent
            .is_none());
    }
}
