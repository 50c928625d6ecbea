//! How a session builds its HTTP client: the same timeouts and override for every vendor.

use std::time::Duration;

/// Timeouts, or a ready `reqwest::Client` (proxies, TLS settings…) that replaces them.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// A client to use as it is; the timeouts above then do not apply.
    pub client: Option<reqwest::Client>,
    /// User-Agent, retries, deadline and answer size limit of every request.
    pub pipeline: crate::call::Pipeline,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            client: None,
            pipeline: crate::call::Pipeline::default(),
        }
    }
}

impl HttpSettings {
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
    fn a_given_client_wins_over_the_timeouts() {
        assert!(HttpSettings::default().build().is_ok());
        let given = crate::tls::client_builder().build().unwrap();
        let s = HttpSettings {
            client: Some(given),
            ..Default::default()
        };
        assert!(s.build().is_ok());
        assert_eq!(HttpSettings::default().timeout, Duration::from_secs(30));
    }
}
