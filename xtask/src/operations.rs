//! The operations table: every operation of a spec with its method, route template, whether it
//! is secured, whether it is idempotent and its rate class, emitted as
//! `OPERATIONS: &[brokerkit_runtime::Operation]` plus `operation(id)`, a `match` on the id.
//!
//! Idempotency follows the method (RFC 9110) unless the operation says otherwise with
//! `x-brokerkit-idempotent` (and why, in `x-brokerkit-idempotent-reason`); the rate class is
//! `x-brokerkit-rate-class`, one of the names the spec lists in its top-level
//! `x-brokerkit-rate-classes`. [`lint`] checks the extensions are well-formed.

use crate::lint::{Finding, HTTP_METHODS};
use heck::ToSnakeCase;
use serde_json::Value;

/// The extensions an operation may carry.
const IDEMPOTENT: &str = "x-brokerkit-idempotent";
const REASON: &str = "x-brokerkit-idempotent-reason";
const RATE_CLASS: &str = "x-brokerkit-rate-class";
/// The top-level map of rate-class names to what the vendor says about each limit.
const RATE_CLASSES: &str = "x-brokerkit-rate-classes";

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub method: String,
    pub path: String,
    pub secured: bool,
    pub idempotent: bool,
    pub rate_class: Option<String>,
}

/// RFC 9110 §9.2.2.
fn idempotent_method(method: &str) -> bool {
    matches!(
        method,
        "get" | "head" | "options" | "trace" | "put" | "delete"
    )
}

fn operations(doc: &Value) -> impl Iterator<Item = (&str, &str, &Value)> {
    doc.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            HTTP_METHODS
                .iter()
                .filter_map(move |m| item.get(*m).map(|op| (path.as_str(), *m, op)))
        })
}

/// The findings on the `x-brokerkit-*` extensions of operations and the rate-class list.
pub fn lint(doc: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |path: String, rule: &'static str, message: String| {
        out.push(Finding {
            path,
            rule,
            message,
        })
    };
    let classes = doc.get(RATE_CLASSES);
    let declared: Vec<&str> = match classes {
        None => Vec::new(),
        Some(Value::Object(m)) => {
            for (name, about) in m {
                if !is_class_name(name) {
                    push(
                        format!("{RATE_CLASSES}.{name}"),
                        "rate-class-name",
                        "a rate class is named in UPPER_SNAKE_CASE, as the vendor names it".into(),
                    );
                }
                if about.as_str().is_none_or(|s| s.trim().is_empty()) {
                    push(
                        format!("{RATE_CLASSES}.{name}"),
                        "rate-class-described",
                        "say what the vendor publishes about this limit (a non-empty string)"
                            .into(),
                    );
                }
            }
            m.keys().map(String::as_str).collect()
        }
        Some(_) => {
            push(
                RATE_CLASSES.into(),
                "rate-classes",
                "a map of rate-class names to their descriptions".into(),
            );
            Vec::new()
        }
    };
    for (path, method, op) in operations(doc) {
        let here = format!("paths.{path}.{method}");
        let Some(op) = op.as_object() else { continue };
        for key in op.keys().filter(|k| k.starts_with("x-brokerkit-")) {
            if ![IDEMPOTENT, REASON, RATE_CLASS].contains(&key.as_str()) {
                push(
                    format!("{here}.{key}"),
                    "brokerkit-extension",
                    format!("unknown extension on an operation (known: {IDEMPOTENT}, {REASON}, {RATE_CLASS})"),
                );
            }
        }
        match (op.get(IDEMPOTENT), op.get(REASON)) {
            (None, None) => {}
            (Some(Value::Bool(_)), Some(Value::String(r))) if !r.trim().is_empty() => {}
            (Some(Value::Bool(_)), _) => push(
                format!("{here}.{REASON}"),
                "idempotent-reason",
                format!("`{IDEMPOTENT}` needs a non-empty `{REASON}` saying why"),
            ),
            (Some(_), _) => push(
                format!("{here}.{IDEMPOTENT}"),
                "idempotent-bool",
                "`true` or `false`".into(),
            ),
            (None, Some(_)) => push(
                format!("{here}.{REASON}"),
                "idempotent-reason",
                format!("a reason without `{IDEMPOTENT}`"),
            ),
        }
        match op.get(RATE_CLASS) {
            None => {}
            Some(Value::String(c)) if declared.contains(&c.as_str()) => {}
            Some(Value::String(c)) => push(
                format!("{here}.{RATE_CLASS}"),
                "rate-class-declared",
                format!("`{c}` is not listed in the top-level `{RATE_CLASSES}`"),
            ),
            Some(_) => push(
                format!("{here}.{RATE_CLASS}"),
                "rate-class-name",
                "the name of one of the spec's rate classes (a string)".into(),
            ),
        }
    }
    out
}

fn is_class_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Every operation, in spec order. `secured` holds the ids the spec's `security` secures.
pub fn table(doc: &Value, secured: &[String]) -> Vec<Row> {
    operations(doc)
        .filter_map(|(path, method, op)| {
            let id = op.get("operationId")?.as_str()?.to_snake_case();
            Some(Row {
                secured: secured.contains(&id),
                idempotent: op
                    .get(IDEMPOTENT)
                    .and_then(Value::as_bool)
                    .unwrap_or_else(|| idempotent_method(method)),
                rate_class: op
                    .get(RATE_CLASS)
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                id,
            })
        })
        .collect()
}

/// `OPERATIONS` and `operation(id)`, to append to the generated file.
pub fn items(rows: &[Row]) -> Vec<syn::Item> {
    let entries = rows.iter().map(|r| {
        let (id, method, path, secured, idempotent) =
            (&r.id, &r.method, &r.path, r.secured, r.idempotent);
        let rate_class = match &r.rate_class {
            Some(c) => quote::quote!(::std::option::Option::Some(#c)),
            None => quote::quote!(::std::option::Option::None),
        };
        quote::quote! {
            ::brokerkit_runtime::Operation {
                id: #id,
                method: #method,
                path: #path,
                secured: #secured,
                idempotent: #idempotent,
                rate_class: #rate_class,
            }
        }
    });
    let arms = rows.iter().enumerate().map(|(i, r)| {
        let id = &r.id;
        quote::quote!(#id => ::std::option::Option::Some(&OPERATIONS[#i]),)
    });
    let count = rows.len();
    let file: syn::File = syn::parse_quote! {
        /// Every operation of the spec: method, route template, whether it needs a token,
        /// whether it may be sent twice (`x-brokerkit-idempotent`, else the method) and the
        /// vendor rate limit it counts against (`x-brokerkit-rate-class`). The hooks hand the
        /// entry to `brokerkit_runtime::call::send`.
        pub const OPERATIONS: &[::brokerkit_runtime::Operation; #count] = &[#(#entries),*];

        /// The entry of [`OPERATIONS`] for a [`Client`] method name (progenitor's operation id).
        pub fn operation(id: &str) -> ::std::option::Option<&'static ::brokerkit_runtime::Operation> {
            match id {
                #(#arms)*
                _ => ::std::option::Option::None,
            }
        }
    };
    file.items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Value {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    const SPEC: &str = r#"
openapi: 3.0.3
x-brokerkit-rate-classes:
  QUOTES: At most `limit` per interval, from /config.
paths:
  /quotes:
    get: {operationId: getQuotes, x-brokerkit-rate-class: QUOTES}
  /positions:
    delete:
      operationId: closeAllPositions
      x-brokerkit-idempotent: false
      x-brokerkit-idempotent-reason: A repeat closes positions opened since.
  /orders:
    post: {operationId: placeOrder}
    put: {operationId: replaceOrder}
"#;

    #[test]
    fn idempotency_follows_the_method_unless_overridden() {
        let rows = table(&doc(SPEC), &["get_quotes".into()]);
        let by_id = |id: &str| rows.iter().find(|r| r.id == id).unwrap().clone();
        let quotes = by_id("get_quotes");
        assert!(quotes.idempotent && quotes.secured);
        assert_eq!(quotes.rate_class.as_deref(), Some("QUOTES"));
        assert_eq!(
            (quotes.method.as_str(), quotes.path.as_str()),
            ("GET", "/quotes")
        );
        assert!(!by_id("close_all_positions").idempotent, "overridden");
        assert!(!by_id("place_order").idempotent);
        assert!(by_id("replace_order").idempotent);
        assert!(!by_id("replace_order").secured);
        assert!(lint(&doc(SPEC)).is_empty(), "{:?}", lint(&doc(SPEC)));
    }

    #[test]
    fn malformed_extensions_are_findings() {
        let bad = doc(r#"
openapi: 3.0.3
x-brokerkit-rate-classes: {quotes: "", DEPTH: Depth.}
paths:
  /a:
    get: {operationId: a, x-brokerkit-rate-class: QUOTES, x-brokerkit-idempotent: false}
    put: {operationId: b, x-brokerkit-idempotent: "no", x-brokerkit-idempotent-reason: why}
    post: {operationId: c, x-brokerkit-idempotent-reason: why, x-brokerkit-idempotant: true}
    delete: {operationId: d, x-brokerkit-rate-class: 3}
"#);
        let rules: Vec<(String, &str)> = lint(&bad).into_iter().map(|f| (f.path, f.rule)).collect();
        for expected in [
            ("x-brokerkit-rate-classes.quotes", "rate-class-name"),
            ("x-brokerkit-rate-classes.quotes", "rate-class-described"),
            ("paths./a.get.x-brokerkit-rate-class", "rate-class-declared"),
            (
                "paths./a.get.x-brokerkit-idempotent-reason",
                "idempotent-reason",
            ),
            ("paths./a.put.x-brokerkit-idempotent", "idempotent-bool"),
            (
                "paths./a.post.x-brokerkit-idempotent-reason",
                "idempotent-reason",
            ),
            (
                "paths./a.post.x-brokerkit-idempotant",
                "brokerkit-extension",
            ),
            ("paths./a.delete.x-brokerkit-rate-class", "rate-class-name"),
        ] {
            assert!(
                rules.contains(&(expected.0.to_string(), expected.1)),
                "{expected:?} missing from {rules:?}"
            );
        }
        assert_eq!(rules.len(), 8, "{rules:?}");
    }

    #[test]
    fn the_table_is_a_const_and_a_match() {
        let rows = table(&doc(SPEC), &[]);
        let mut file: syn::File = syn::parse_quote!();
        file.items = items(&rows);
        let code = prettyplease::unparse(&file);
        assert!(
            code.contains("pub const OPERATIONS: &[::brokerkit_runtime::Operation; 4usize]"),
            "{code}"
        );
        assert!(
            code.contains(
                "\"close_all_positions\" => ::std::option::Option::Some(&OPERATIONS[1usize])"
            ),
            "{code}"
        );
        assert!(
            code.contains("rate_class: ::std::option::Option::Some(\"QUOTES\")"),
            "{code}"
        );
    }
}
