//! The JSON decoding of every generated client's successful answers.
//!
//! progenitor-client reads a body with `serde_json::from_slice`, which checks UTF-8 again for
//! each key and each number it hands over; exact decimals are read from their text, so a
//! 20,000-bar history paid that 100,000 times. Here the body is checked once and read as text.
//! The xtask routes the generated code's `ResponseValue::from_response` here.

use progenitor_client::{Error, ResponseValue};
use serde::de::DeserializeOwned;

/// The answer's JSON body as `T`, with its status and headers; what progenitor-client's
/// `ResponseValue::from_response` returns, errors included (an undecodable body keeps its
/// bytes in `Error::InvalidResponsePayload`).
///
/// Not an `async fn`, nor `Response::bytes`: their futures keep the answer, and the body's
/// reading, twice, and every call's future has room for this one (issue 12).
// The error is progenitor's, the one every generated call returns.
#[allow(clippy::result_large_err)]
pub fn json<T: DeserializeOwned, E>(
    mut response: reqwest::Response,
) -> impl std::future::Future<Output = Result<ResponseValue<T>, Error<E>>> {
    use futures::FutureExt;
    let status = response.status();
    // Taken, not cloned: the body is read from the response without them.
    let headers = std::mem::take(response.headers_mut());
    whole(response.bytes_stream()).map(move |full| match full {
        Ok(full) => decoded(full, status, headers),
        Err(e) => Err(Error::ResponseBodyError(e)),
    })
}

/// The whole body: its one chunk as it came when it came in one (most answers), else the
/// chunks joined once at the end into a buffer of their exact size (a buffer grown as they
/// come could hold twice the body).
fn whole(
    mut chunks: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
) -> impl std::future::Future<Output = reqwest::Result<bytes::Bytes>> {
    use futures::StreamExt;
    use std::task::Poll;
    let mut first: Option<bytes::Bytes> = None;
    let mut more: Vec<bytes::Bytes> = Vec::new();
    futures::future::poll_fn(move |cx| loop {
        match std::task::ready!(chunks.poll_next_unpin(cx)) {
            Some(Ok(chunk)) if first.is_none() => first = Some(chunk),
            Some(Ok(chunk)) => more.push(chunk),
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => {
                let head = first.take().unwrap_or_default();
                if more.is_empty() {
                    return Poll::Ready(Ok(head));
                }
                let rest = std::mem::take(&mut more);
                let mut joined =
                    Vec::with_capacity(head.len() + rest.iter().map(|c| c.len()).sum::<usize>());
                joined.extend_from_slice(&head);
                for chunk in rest {
                    joined.extend_from_slice(&chunk);
                }
                return Poll::Ready(Ok(joined.into()));
            }
        }
    })
}

#[allow(clippy::result_large_err)]
fn decoded<T: DeserializeOwned, E>(
    full: bytes::Bytes,
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
) -> Result<ResponseValue<T>, Error<E>> {
    let decoded = match std::str::from_utf8(&full) {
        Ok(text) => serde_json::from_str(text),
        // Not UTF-8: serde_json's own reading says where and why.
        Err(_) => serde_json::from_slice(&full),
    };
    match decoded {
        Ok(inner) => Ok(ResponseValue::new(inner, status, headers)),
        Err(e) => {
            // progenitor's error keeps only the body; the failure read from it gets the rest.
            crate::call::note_undecodable(headers);
            Err(Error::InvalidResponsePayload(full, e))
        }
    }
}

/// An open enum's value: `Ok` with the known variant its text names (`K`'s `FromStr`, which
/// the generator writes from the same names as its serde renames), or `Err` with the text of
/// one this client does not know yet. The generated `Deserialize` of every open enum (`Known`
/// or `Other(String)`) reads through here: serde's untagged enums buffer each value and try
/// the variants in turn, which cost every answer's status field more than its decoding.
pub fn open_enum<'de, D, K>(deserializer: D) -> Result<Result<K, String>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: std::str::FromStr,
{
    struct Text<K>(std::marker::PhantomData<K>);
    impl<K: std::str::FromStr> serde::de::Visitor<'_> for Text<K> {
        type Value = Result<K, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(text.parse().map_err(|_| text.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(text.parse().map_err(|_| text))
        }
    }
    deserializer.deserialize_str(Text(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static [u8]) -> reqwest::Response {
        http::Response::builder()
            .status(200)
            .header("x-request-id", "7")
            .body(body)
            .unwrap()
            .into()
    }

    fn streamed(chunks: Vec<Result<&'static [u8], std::io::Error>>) -> reqwest::Response {
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        http::Response::builder()
            .status(200)
            .body(body)
            .unwrap()
            .into()
    }

    #[tokio::test]
    async fn a_body_in_many_chunks_is_joined_and_a_cut_one_is_a_body_error() {
        let value: ResponseValue<Vec<crate::Decimal>> = json::<_, ()>(streamed(vec![
            Ok(b"[1.0"),
            Ok(b""),
            Ok(b"1, 2.5"),
            Ok(b"]"),
        ]))
        .await
        .unwrap();
        assert_eq!(
            value
                .into_inner()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
            ["1.01", "2.5"]
        );
        let one: ResponseValue<Vec<u8>> = json::<_, ()>(streamed(vec![Ok(b""), Ok(b"[7]")]))
            .await
            .unwrap();
        assert_eq!(one.into_inner(), [7]);
        let cut = json::<Vec<u8>, ()>(streamed(vec![
            Ok(b"[1,"),
            Err(std::io::Error::other("reset")),
        ]))
        .await;
        assert!(matches!(cut, Err(Error::ResponseBodyError(_))), "{cut:?}");
    }

    #[tokio::test]
    async fn a_body_decodes_with_its_status_headers_and_exact_digits() {
        let value: ResponseValue<crate::Decimal> = json::<_, ()>(answer(b"1.23456789012345678901"))
            .await
            .unwrap();
        assert_eq!(value.status(), 200);
        assert_eq!(value.headers()["x-request-id"], "7");
        assert_eq!(value.into_inner().to_string(), "1.23456789012345678901");
    }

    #[derive(Debug, PartialEq)]
    enum Side {
        Buy,
        Sell,
    }
    impl std::str::FromStr for Side {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            match s {
                "buy" => Ok(Self::Buy),
                "sell" => Ok(Self::Sell),
                _ => Err(()),
            }
        }
    }

    fn side(json: &str) -> Result<Result<Side, String>, serde_json::Error> {
        open_enum(&mut serde_json::Deserializer::from_str(json))
    }

    #[test]
    fn an_open_enum_reads_known_names_keeps_unknown_text_and_refuses_non_strings() {
        assert_eq!(side(r#""buy""#).unwrap(), Ok(Side::Buy));
        assert_eq!(side(r#""sell""#).unwrap(), Ok(Side::Sell));
        // Names are exact, escapes are read: nothing is guessed or lost.
        assert_eq!(side(r#""Buy""#).unwrap(), Err("Buy".to_string()));
        assert_eq!(side(r#""s\u0065ll""#).unwrap(), Ok(Side::Sell));
        assert_eq!(side(r#""short\n""#).unwrap(), Err("short\n".to_string()));
        for bad in ["1", "null", "{}", "[\"buy\"]"] {
            let e = side(bad).unwrap_err();
            assert!(e.to_string().contains("expected a string"), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_or_not_utf8_keeps_its_bytes() {
        for body in [&b"{\"a\": "[..], &b"\"\xff\xfe\""[..]] {
            match json::<serde_json::Value, ()>(answer(body)).await {
                Err(Error::InvalidResponsePayload(bytes, _)) => assert_eq!(&bytes[..], body),
                other => panic!("{other:?}"),
            }
        }
    }
}
