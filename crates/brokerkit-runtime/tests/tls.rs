//! The client brokerkit builds under the enabled TLS feature (by default rustls with ring)
//! completes a real TLS handshake over loopback, and verifies the server's certificate.
//!
//! The fixtures are a throw-away test CA and a `localhost`/`127.0.0.1` certificate it signed
//! (valid to 2126), made with `openssl req`/`openssl x509`; the key protects nothing.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA: &[u8] = include_bytes!("fixtures/test-ca.pem");
const CERT: &[u8] = include_bytes!("fixtures/localhost.pem");
const KEY: &[u8] = include_bytes!("fixtures/localhost.key");

/// An HTTPS server on loopback (rustls with ring, independent of the client's backend) that
/// answers every request with `200 over tls`.
async fn https_server() -> SocketAddr {
    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nover tls";
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_default_client_speaks_https_and_checks_the_certificate() {
    let addr = https_server().await;
    let url = format!("https://localhost:{}/ping", addr.port());

    let trusting = brokerkit_runtime::tls::client_builder()
        .add_root_certificate(reqwest::Certificate::from_pem(CA).unwrap())
        .resolve("localhost", addr)
        .build()
        .expect("the client builds under the enabled TLS feature");
    let reply = trusting.get(&url).send().await.expect("TLS handshake");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.text().await.unwrap(), "over tls");

    // Without the test CA the same server is refused: the certificate is verified.
    let strict = brokerkit_runtime::tls::client_builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let refused = strict.get(&url).send().await.expect_err("unknown issuer");
    assert!(refused.is_connect(), "{refused:?}");
}
