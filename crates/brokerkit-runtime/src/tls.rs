//! The TLS backend of every HTTP client brokerkit builds, chosen with cargo features.
//!
//! | feature | backend | build cost |
//! | --- | --- | --- |
//! | `rustls-ring` (default) | rustls with the *ring* provider | small: ring's C and assembly only |
//! | `rustls-aws-lc` | rustls with aws-lc-rs (reqwest's own `rustls` choice) | aws-lc-sys, a long C build |
//! | `native-tls` | the platform's TLS (OpenSSL on Linux) | needs `libssl-dev` and `pkg-config` |
//!
//! Every brokerkit crate (`brokerkit`, `brokerkit-<vendor>`, `brokerkit-runtime`) has the same
//! three features and forwards them here. At least one is required; they are additive, and with
//! several enabled reqwest's own order applies: native-tls first, then rustls (with aws-lc-rs when
//! `rustls-aws-lc` is on, ring otherwise).
//!
//! With `rustls-ring`, reqwest is built without a rustls provider of its own (its
//! `rustls-no-provider` feature), so brokerkit installs ring as rustls' process-wide default
//! ([`install_default_provider`]) before it builds a client. A program that builds its own
//! `reqwest::Client` before brokerkit has built one calls [`install_default_provider`] first, or
//! uses [`client_builder`]; without a provider reqwest panics when the client is built.
//! A provider the program installed itself is kept.

/// The backend a client from [`client_builder`] uses, as reqwest picks it from the features:
/// `"native-tls"`, `"rustls (aws-lc-rs)"` or `"rustls (ring)"`.
pub const BACKEND: &str = if cfg!(feature = "native-tls") {
    "native-tls"
} else if cfg!(feature = "rustls-aws-lc") {
    "rustls (aws-lc-rs)"
} else {
    "rustls (ring)"
};

/// Makes ring rustls' process-wide default provider unless one is installed already.
/// Cheap and idempotent; does nothing unless `rustls-ring` is on and `rustls-aws-lc` is off
/// (reqwest then falls back to aws-lc-rs itself).
pub fn install_default_provider() {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls-aws-lc")))]
    {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            if rustls::crypto::CryptoProvider::get_default().is_none() {
                // Losing a race to another installer is fine: a provider is installed either way.
                let _ = rustls::crypto::ring::default_provider().install_default();
            }
        });
    }
}

/// `reqwest::Client::builder()`, after [`install_default_provider`], without reqwest's own
/// retries.
///
/// reqwest's default retry policy resends a request only on an HTTP/2 protocol NACK (the
/// server refused the stream, or went away before reading it), yet it copies every request's
/// headers first in case one comes: over 1,100 instructions and two allocations a call, more
/// than any other single step of brokerkit's pipeline (issue 12). brokerkit builds reqwest
/// without HTTP/2, so that resend can never happen, and [`call::send`](crate::call::send)
/// does the retrying that can ([`crate::call`] says what qualifies). A program that enables
/// reqwest's `http2` feature itself and wants the NACK resends back sets
/// `.retry(…)` on this builder.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_default_provider();
    reqwest::Client::builder().retry(reqwest::retry::never().max_retries_per_request(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_client_builds() {
        let client = client_builder().build();
        assert!(client.is_ok(), "{:?}", client.err());
        // Built a second time (the provider is installed once).
        assert!(client_builder().build().is_ok());
    }

    #[cfg(all(
        feature = "rustls-ring",
        not(feature = "rustls-aws-lc"),
        not(feature = "native-tls")
    ))]
    #[test]
    fn the_default_backend_is_rustls_with_ring() {
        assert_eq!(BACKEND, "rustls (ring)");
        install_default_provider();
        let installed = rustls::crypto::CryptoProvider::get_default().expect("installed");
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.kx_groups
                .iter()
                .map(|g| format!("{:?}", g.name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(installed), names(&ring));
    }
}
