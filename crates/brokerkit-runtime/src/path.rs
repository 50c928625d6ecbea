//! Path parameters as exactly one URL path segment.
//!
//! A URL parser (reqwest's is WHATWG's) resolves `.` and `..` segments, also when written
//! `%2e`, `.%2e` or `%2E%2E`, and reads `\` as `/`: an id that holds them can retarget a call,
//! e.g. turn "cancel order `x\..\..\accounts\7\orders`" into "cancel every order of account 7".
//! [`segment`] therefore percent-encodes every byte outside RFC 3986's unreserved set (so `%`
//! becomes `%25` and no caller can forge an encoded dot), and refuses the three values no
//! encoding can carry as one segment: `""` (which would name the parent collection), `.`, `..`.
//!
//! Generated clients call [`segment`] through `?` inside `send()`, whose error type progenitor
//! fixes as [`progenitor_client::Error`]; its only fitting variant holds a `String`. The refusal
//! therefore travels as [`PathError::to_message`] and is read back, typed, by
//! [`PathError::from_message`] in [`crate::Failure::from_progenitor`]; the two live side by side
//! here and are tested as inverses.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;

/// Everything but RFC 3986 unreserved characters (ALPHA DIGIT `-` `.` `_` `~`) and `@`, which
/// RFC 3986 allows in a segment as it is and AutoShares' `users/@me/…` routes spell so. (`;`
/// stays encoded: some servers cut a segment at it.)
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Marks a refusal inside progenitor's `InvalidRequest(String)`; no progenitor message starts so.
const MESSAGE_PREFIX: &str = "brokerkit path refusal: ";

/// Why a value cannot be one path segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `""`: the URL would name the parent route (for a cancel, often "cancel all").
    Empty,
    /// `.`: resolved away by every URL parser.
    Dot,
    /// `..`: resolved to the parent segment by every URL parser.
    DotDot,
}

impl Refused {
    fn code(self) -> &'static str {
        match self {
            Refused::Empty => "empty",
            Refused::Dot => "dot",
            Refused::DotDot => "dot-dot",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Refused::Empty, Refused::Dot, Refused::DotDot]
            .into_iter()
            .find(|r| r.code() == code)
    }

    /// The refused value itself.
    pub fn value(self) -> &'static str {
        match self {
            Refused::Empty => "",
            Refused::Dot => ".",
            Refused::DotDot => "..",
        }
    }
}

/// A path parameter refused before anything was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    operation: String,
    parameter: String,
    refused: Refused,
}

impl PathError {
    /// The operation (generated method name) whose path was being built.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The path parameter's name, as the spec names it in snake case.
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    pub fn refused(&self) -> Refused {
        self.refused
    }

    /// The form carried by progenitor's `InvalidRequest(String)`.
    pub fn to_message(&self) -> String {
        format!(
            "{MESSAGE_PREFIX}{} {} {}",
            self.refused.code(),
            self.operation,
            self.parameter
        )
    }

    /// Reads back [`PathError::to_message`]; `None` for any other message.
    pub fn from_message(message: &str) -> Option<Self> {
        let rest = message.strip_prefix(MESSAGE_PREFIX)?;
        let mut parts = rest.split(' ');
        let refused = Refused::from_code(parts.next()?)?;
        let operation = parts.next()?.to_string();
        let parameter = parts.next()?.to_string();
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            operation,
            parameter,
            refused,
        })
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: path parameter `{}` is {:?}, which a URL cannot carry as one path segment",
            self.operation,
            self.parameter,
            self.refused.value()
        )
    }
}

impl std::error::Error for PathError {}

impl<E> From<PathError> for progenitor_client::Error<E> {
    fn from(e: PathError) -> Self {
        progenitor_client::Error::InvalidRequest(e.to_message())
    }
}

/// `value` as one path segment of `operation`'s URL, or the refusal naming `parameter`.
/// Percent-decoding the result gives `value` back, byte for byte.
pub fn segment(operation: &str, parameter: &str, value: &str) -> Result<String, PathError> {
    let refused = match value {
        "" => Some(Refused::Empty),
        "." => Some(Refused::Dot),
        ".." => Some(Refused::DotDot),
        _ => None,
    };
    match refused {
        Some(refused) => Err(PathError {
            operation: operation.to_string(),
            parameter: parameter.to_string(),
            refused,
        }),
        None => Ok(utf8_percent_encode(value, NOT_UNRESERVED).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters that mean something to a URL parser, or look like they might.
    const ALPHABET: &[&str] = &[
        "", ".", "/", "\\", "%", "2", "e", "E", "?", "#", " ", "\t", "\n", "\0", "é", "日", "a",
        "~", "-", "_", "+", ";", ":", "@", "&", "=", "[", "\u{202e}", "\u{ff0e}",
    ];

    /// Every string of up to three ALPHABET pieces, plus named hostile ids.
    fn inputs() -> Vec<String> {
        let mut out = vec![
            "x\\..\\y".to_string(),
            "x\\..\\..\\accounts\\7\\orders".to_string(),
            "%2e%2e".to_string(),
            ".%2E".to_string(),
            "%2e".to_string(),
            "../../accounts/7/orders".to_string(),
            "日本".to_string(),
        ];
        for a in ALPHABET {
            for b in ALPHABET {
                for c in ALPHABET {
                    out.push(format!("{a}{b}{c}"));
                }
            }
        }
        out
    }

    /// What a server sees: the segment between two fixed ones after reqwest's URL parsing.
    fn sent_segments(encoded: &str) -> Vec<String> {
        let url = reqwest::Url::parse(&format!("http://h/base/{encoded}/tail")).unwrap();
        url.path_segments()
            .unwrap()
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn every_accepted_value_reaches_the_server_as_itself_in_one_segment() {
        let mut accepted = 0;
        for value in inputs() {
            let Ok(encoded) = segment("op", "id", &value) else {
                assert!(
                    matches!(value.as_str(), "" | "." | ".."),
                    "{value:?} refused"
                );
                continue;
            };
            accepted += 1;
            assert!(
                !encoded.contains(['/', '\\', '?', '#']),
                "{value:?} -> {encoded}"
            );
            assert_eq!(
                sent_segments(&encoded),
                ["base", value.as_str(), "tail"],
                "{value:?} -> {encoded}"
            );
        }
        assert!(accepted > 20_000, "{accepted}");
    }

    #[test]
    fn only_empty_dot_and_dot_dot_are_refused_naming_operation_and_parameter() {
        for (value, refused) in [
            ("", Refused::Empty),
            (".", Refused::Dot),
            ("..", Refused::DotDot),
        ] {
            let err = segment("cancel_order", "order_id", value).unwrap_err();
            assert_eq!(err.refused(), refused);
            assert_eq!(err.refused().value(), value);
            assert_eq!(err.operation(), "cancel_order");
            assert_eq!(err.parameter(), "order_id");
            assert!(err.to_string().contains("`order_id`"), "{err}");
        }
        assert_eq!(segment("op", "id", "...").unwrap(), "...");
        assert_eq!(segment("op", "id", "%2e%2e").unwrap(), "%252e%252e");
        assert_eq!(segment("op", "id", "BRK.B").unwrap(), "BRK.B");
    }

    #[test]
    fn the_message_form_reads_back_to_the_same_error() {
        for value in ["", ".", ".."] {
            let err = segment("close_position", "position_id", value).unwrap_err();
            assert_eq!(PathError::from_message(&err.to_message()), Some(err));
        }
        assert_eq!(
            PathError::from_message("account_id was not initialized"),
            None
        );
        assert_eq!(
            PathError::from_message("brokerkit path refusal: dot op id extra"),
            None
        );
    }

    #[test]
    fn the_refusal_becomes_progenitors_invalid_request() {
        let err = segment("op", "id", "..").unwrap_err();
        let client: progenitor_client::Error<()> = err.clone().into();
        match client {
            progenitor_client::Error::InvalidRequest(m) => {
                assert_eq!(PathError::from_message(&m), Some(err))
            }
            other => panic!("{other:?}"),
        }
    }
}
