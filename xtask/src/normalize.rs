//! Pre-pass between the faithful, hand-written spec and what progenitor accepts.
//!
//! The specs describe the vendors as they are; this pass rewrites the in-memory copy so the
//! generator can cope, and so generated types follow brokerkit's conventions:
//! - error responses are hidden from the generator, so error answers reach the crates raw
//!   (status, headers, body as sent) instead of decoded and re-encoded;
//! - several distinct JSON bodies in one response group become one `oneOf` component
//!   (`<OperationId>Success` / `<OperationId>Error`), because progenitor asserts one type per group;
//! - parameters marked `x-brokerkit-session-header` are dropped from the operations: the
//!   crate's hooks send them, so callers never pass them by hand;
//! - every `format: decimal` schema points at one synthetic component that the generator
//!   replaces with `brokerkit_runtime::Decimal`;
//! - every credential (`format: password` or `x-brokerkit-secret: true`) becomes
//!   `brokerkit_runtime::Secret`, so no generated type prints a password or token in `Debug`;
//! - every string enum becomes open: `oneOf: [known values, any string]`, so a value the vendor
//!   adds later decodes as `Other(String)` instead of failing the whole response.

use crate::lint::{json_schema, resolve, response_groups, HTTP_METHODS};
use heck::ToUpperCamelCase;
use serde_json::{json, Map, Value};

/// Component name the generator maps to `brokerkit_runtime::Decimal`.
pub const DECIMAL_COMPONENT: &str = "BrokerkitDecimal";
/// Component name the generator maps to `brokerkit_runtime::Secret`.
pub const SECRET_COMPONENT: &str = "BrokerkitSecret";
/// TradeLocker's positions table, kept as raw JSON by the generator
/// (`brokerkit_tradelocker::rows::RawRows`) and decoded straight into typed rows.
pub const RAW_ROWS_COMPONENT: &str = "PositionRows";
/// Extension that marks a string as a credential (passwords use `format: password`).
pub const SECRET_EXT: &str = "x-brokerkit-secret";
/// Extension that marks a header parameter the session supplies.
pub const SESSION_HEADER_EXT: &str = "x-brokerkit-session-header";

pub fn normalize(doc: &mut Value) -> Result<(), String> {
    raw_error_bodies(doc);
    merge_response_bodies(doc)?;
    drop_session_headers(doc);
    rewrite_decimals(doc);
    rewrite_secrets(doc);
    open_enums(doc);
    Ok(())
}

/// Error responses are left out of what the generator sees, so the generated client hands
/// every error answer over undecoded (`UnexpectedResponse`: status, headers and the raw body),
/// and nothing of it is lost. (A documented error with no body schema would be worse: progenitor
/// drops its body.) The crates decode the vendor's error schemas themselves; those stay in
/// `components`, so their types are still generated.
fn raw_error_bodies(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        for method in HTTP_METHODS {
            if let Some(responses) = item
                .get_mut(*method)
                .and_then(|op| op.get_mut("responses"))
                .and_then(Value::as_object_mut)
            {
                responses.retain(|code, _| !(code.starts_with(['4', '5']) || code == "default"));
            }
        }
    }
}

fn merge_response_bodies(doc: &mut Value) -> Result<(), String> {
    let mut new_components: Vec<(String, Value)> = Vec::new();
    // (path, method, response code, component name)
    let mut repoint: Vec<(String, String, String, String)> = Vec::new();
    let snapshot = doc.clone();
    for (path, item) in snapshot
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in HTTP_METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let op_id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for (group, codes) in response_groups(&snapshot, op) {
                let mut distinct: Vec<Value> = Vec::new();
                for (_, resp) in &codes {
                    if let Some(s) = json_schema(&snapshot, resp) {
                        if !distinct.contains(s) {
                            distinct.push(s.clone());
                        }
                    }
                }
                if distinct.len() < 2 {
                    continue;
                }
                let suffix = if group == "success" {
                    "Success"
                } else {
                    "Error"
                };
                let name = format!("{}{suffix}", op_id.to_upper_camel_case());
                let description = format!(
                    "One of the {group} bodies of `{op_id}`; the HTTP status tells which (merged by the generator)."
                );
                new_components.push((
                    name.clone(),
                    json!({"description": description, "oneOf": distinct}),
                ));
                for (code, _) in codes {
                    repoint.push((path.clone(), method.to_string(), code, name.clone()));
                }
            }
        }
    }
    let schemas = components_mut(doc, "schemas");
    for (name, schema) in new_components {
        if schemas.contains_key(&name) {
            return Err(format!("normalize: component `{name}` already exists; rename it, the generator needs that name"));
        }
        schemas.insert(name, schema);
    }
    for (path, method, code, name) in repoint {
        // A shared `$ref` response is copied inline so that only this operation changes.
        let shared = doc["paths"][&path][&method]["responses"][&code]
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(r) = shared {
            let inline = doc_pointer_clone(doc, &r)?;
            doc["paths"][&path][&method]["responses"][&code] = inline;
        }
        let resp = &mut doc["paths"][&path][&method]["responses"][&code];
        if let Some(content) = resp.get_mut("content").and_then(Value::as_object_mut) {
            for (media, m) in content.iter_mut() {
                if media.starts_with("application/json") {
                    m["schema"] = json!({"$ref": format!("#/components/schemas/{name}")});
                }
            }
        }
    }
    Ok(())
}

fn doc_pointer_clone(doc: &Value, r: &str) -> Result<Value, String> {
    resolve(doc, Some(&json!({"$ref": r})))
        .cloned()
        .ok_or_else(|| format!("normalize: dangling $ref {r}"))
}

fn components_mut<'a>(doc: &'a mut Value, kind: &str) -> &'a mut Map<String, Value> {
    let root = doc
        .as_object_mut()
        .expect("an OpenAPI document is an object");
    let components = root.entry("components").or_insert_with(|| json!({}));
    let map = components.as_object_mut().expect("components is an object");
    map.entry(kind)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("components section is an object")
}

fn is_session_header(doc: &Value, p: &Value) -> bool {
    resolve(doc, Some(p))
        .and_then(|p| p.get(SESSION_HEADER_EXT))
        .and_then(Value::as_bool)
        == Some(true)
}

fn drop_session_headers(doc: &mut Value) {
    let snapshot = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (key, value) in item.iter_mut() {
            let list = if key == "parameters" {
                Some(value)
            } else if HTTP_METHODS.contains(&key.as_str()) {
                value.get_mut("parameters")
            } else {
                None
            };
            if let Some(Value::Array(list)) = list {
                list.retain(|p| !is_session_header(&snapshot, p));
            }
        }
    }
}

/// Keys whose values are data, not schemas: never rewrite inside them.
const DATA_KEYS: &[&str] = &["example", "examples", "default", "enum", "x-example"];

fn rewrite_decimals(doc: &mut Value) {
    let mut found = false;
    for section in ["paths", "components"] {
        if let Some(v) = doc.get_mut(section) {
            found |= rewrite_matching(v, &is_decimal, DECIMAL_COMPONENT);
        }
    }
    if found {
        components_mut(doc, "schemas").insert(
            DECIMAL_COMPONENT.into(),
            json!({"description": "An exact decimal; replaced by brokerkit_runtime::Decimal.", "type": "number", "format": "decimal"}),
        );
    }
}

fn is_decimal(v: &Value) -> bool {
    v.get("format").and_then(Value::as_str) == Some("decimal")
        || ["oneOf", "anyOf"].iter().any(|k| {
            v.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|alts| !alts.is_empty() && alts.iter().all(is_decimal))
        })
}

/// Replaces every schema for which `matches` holds by a reference to `component`.
fn rewrite_matching(v: &mut Value, matches: &dyn Fn(&Value) -> bool, component: &str) -> bool {
    match v {
        Value::Object(map) => {
            if map.get("$ref").is_none() && matches(&Value::Object(map.clone())) {
                let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
                let reference = json!({"$ref": format!("#/components/schemas/{component}")});
                let replacement = if nullable {
                    // `allOf` keeps the nullability (and the description) that a bare `$ref` would drop.
                    let mut wrapped = Map::new();
                    wrapped.insert("allOf".into(), json!([reference]));
                    wrapped.insert("nullable".into(), Value::Bool(true));
                    if let Some(d) = map.get("description") {
                        wrapped.insert("description".into(), d.clone());
                    }
                    wrapped
                } else {
                    reference.as_object().cloned().unwrap_or_default()
                };
                *map = replacement;
                return true;
            }
            let mut found = false;
            for (k, child) in map.iter_mut() {
                if !DATA_KEYS.contains(&k.as_str()) {
                    found |= rewrite_matching(child, matches, component);
                }
            }
            found
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, i| {
            rewrite_matching(i, matches, component) | acc
        }),
        _ => false,
    }
}

fn rewrite_secrets(doc: &mut Value) {
    // Parameters stay plain strings: progenitor writes header and query values with
    // `to_string()`, which for a `Secret` is `***`.
    let parameters: Vec<(Vec<String>, Value)> = take_parameters(doc);
    let mut found = false;
    for section in ["paths", "components"] {
        if let Some(v) = doc.get_mut(section) {
            found |= rewrite_matching(v, &is_secret, SECRET_COMPONENT);
        }
    }
    put_parameters(doc, parameters);
    if found {
        components_mut(doc, "schemas").insert(
            SECRET_COMPONENT.into(),
            json!({"description": "A credential; replaced by brokerkit_runtime::Secret.", "type": "string", "format": "password"}),
        );
    }
}

/// Removes every `parameters` list (path-level, operation-level and components) and returns
/// them with their location, so a rewrite can skip them.
fn take_parameters(doc: &mut Value) -> Vec<(Vec<String>, Value)> {
    let mut out = Vec::new();
    if let Some(p) = doc
        .get_mut("components")
        .and_then(|c| c.as_object_mut())
        .and_then(|c| c.remove("parameters"))
    {
        out.push((vec!["components".into(), "parameters".into()], p));
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return out;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        if let Some(p) = item.remove("parameters") {
            out.push((vec!["paths".into(), path.clone(), "parameters".into()], p));
        }
        for method in HTTP_METHODS {
            if let Some(p) = item
                .get_mut(*method)
                .and_then(Value::as_object_mut)
                .and_then(|op| op.remove("parameters"))
            {
                out.push((
                    vec![
                        "paths".into(),
                        path.clone(),
                        method.to_string(),
                        "parameters".into(),
                    ],
                    p,
                ));
            }
        }
    }
    out
}

fn put_parameters(doc: &mut Value, parameters: Vec<(Vec<String>, Value)>) {
    for (location, value) in parameters {
        let mut target = &mut *doc;
        for key in &location[..location.len() - 1] {
            target = &mut target[key.as_str()];
        }
        target[location[location.len() - 1].as_str()] = value;
    }
}

fn is_secret(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("string")
        && (v.get("format").and_then(Value::as_str) == Some("password")
            || v.get(SECRET_EXT).and_then(Value::as_bool) == Some(true))
}

fn open_enums(doc: &mut Value) {
    for section in ["paths", "components"] {
        if let Some(v) = doc.get_mut(section) {
            open_enums_in(v);
        }
    }
}

fn open_enums_in(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_string_enum = map.get("type").and_then(Value::as_str) == Some("string")
                && map
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.len() > 1 && e.iter().all(Value::is_string));
            // A single-value enum is a discriminator (`State: Succeeded`): opening it would let one
            // variant of an untagged union swallow another, so it stays closed.
            if is_string_enum {
                let mut known = Map::new();
                known.insert("type".into(), json!("string"));
                known.insert("enum".into(), map["enum"].clone());
                let mut open = Map::new();
                for key in [
                    "description",
                    "nullable",
                    "example",
                    "default",
                    "x-unverified",
                ] {
                    if let Some(val) = map.get(key) {
                        open.insert(key.into(), val.clone());
                    }
                }
                open.insert(
                    "oneOf".into(),
                    json!([Value::Object(known), {"type": "string", "title": "Other", "description": "A value this client does not know yet."}]),
                );
                *map = open;
                return;
            }
            for (k, child) in map.iter_mut() {
                if !DATA_KEYS.contains(&k.as_str()) {
                    open_enums_in(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(open_enums_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_with(op: Value, schemas: Value) -> Value {
        json!({"openapi": "3.0.3", "paths": {"/token": {"post": op}}, "components": {"schemas": schemas}})
    }

    #[test]
    fn distinct_success_bodies_become_one_component() {
        let body = |r: &str| json!({"description": "x", "content": {"application/json": {"schema": {"$ref": r}}}});
        let mut doc = doc_with(
            json!({"operationId": "getToken", "responses": {
                "200": body("#/components/schemas/Ok"), "202": body("#/components/schemas/More"),
                "401": body("#/components/schemas/Failed")}}),
            json!({"Ok": {"type": "object"}, "More": {"type": "object"}, "Failed": {"type": "object"}}),
        );
        normalize(&mut doc).unwrap();
        let merged = &doc["components"]["schemas"]["GetTokenSuccess"]["oneOf"];
        assert_eq!(merged.as_array().unwrap().len(), 2);
        for code in ["200", "202"] {
            assert_eq!(
                doc["paths"]["/token"]["post"]["responses"][code]["content"]["application/json"]
                    ["schema"]["$ref"],
                "#/components/schemas/GetTokenSuccess"
            );
        }
        // A single error body is left alone.
        assert!(doc["components"]["schemas"].get("GetTokenError").is_none());
    }

    #[test]
    fn error_responses_are_hidden_so_their_bodies_stay_raw() {
        let body = |r: &str| json!({"description": "x", "content": {"application/json": {"schema": {"$ref": r}}}});
        let mut doc = doc_with(
            json!({"operationId": "a", "responses": {
                "200": body("#/components/schemas/Ok"), "400": body("#/components/schemas/Bad"),
                "5XX": {"description": "server"}, "default": body("#/components/schemas/Bad")}}),
            json!({"Ok": {"type": "object"}, "Bad": {"type": "object"}}),
        );
        normalize(&mut doc).unwrap();
        let responses = doc["paths"]["/token"]["post"]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["200"]);
        assert!(
            doc["components"]["schemas"].get("Bad").is_some(),
            "the error type is still generated"
        );
    }

    #[test]
    fn session_headers_are_dropped_everywhere() {
        let mut doc = doc_with(
            json!({"operationId": "a", "parameters": [{"$ref": "#/components/parameters/Key"}, {"name": "q", "in": "query"}], "responses": {}}),
            json!({}),
        );
        doc["components"]["parameters"] =
            json!({"Key": {"name": "Et-App-Key", "in": "header", SESSION_HEADER_EXT: true}});
        doc["paths"]["/token"]["parameters"] = json!([{"$ref": "#/components/parameters/Key"}]);
        normalize(&mut doc).unwrap();
        assert_eq!(
            doc["paths"]["/token"]["post"]["parameters"],
            json!([{"name": "q", "in": "query"}])
        );
        assert_eq!(doc["paths"]["/token"]["parameters"], json!([]));
    }

    #[test]
    fn decimals_point_at_one_component_and_keep_nullability() {
        let mut doc = doc_with(
            json!({"operationId": "a", "responses": {}}),
            json!({"Quote": {"type": "object", "properties": {
                "ap": {"type": "number", "format": "decimal"},
                "sl": {"type": "number", "format": "decimal", "nullable": true, "description": "stop"},
                "bal": {"oneOf": [{"type": "string", "format": "decimal"}, {"type": "number", "format": "decimal"}]},
                "n": {"type": "number", "example": {"format": "decimal"}}
            }}}),
        );
        normalize(&mut doc).unwrap();
        let props = &doc["components"]["schemas"]["Quote"]["properties"];
        let r = json!({"$ref": "#/components/schemas/BrokerkitDecimal"});
        assert_eq!(props["ap"], r);
        assert_eq!(props["bal"], r);
        assert_eq!(
            props["sl"],
            json!({"allOf": [r], "nullable": true, "description": "stop"})
        );
        assert_eq!(
            props["n"]["type"], "number",
            "examples are data and stay untouched"
        );
        assert!(doc["components"]["schemas"]
            .get(DECIMAL_COMPONENT)
            .is_some());
    }

    #[test]
    fn credentials_become_secrets() {
        let mut doc = doc_with(
            json!({"operationId": "a", "responses": {}}),
            json!({"Login": {"type": "object", "properties": {
                "password": {"type": "string", "format": "password"},
                "token": {"type": "string", "x-brokerkit-secret": true},
                "email": {"type": "string"}
            }}}),
        );
        doc["paths"]["/token"]["post"]["parameters"] = json!([{"name": "Password", "in": "header", "schema": {"type": "string", "format": "password"}}]);
        normalize(&mut doc).unwrap();
        assert_eq!(
            doc["paths"]["/token"]["post"]["parameters"][0]["schema"]["format"], "password",
            "parameters stay strings: the generator writes them with to_string()"
        );
        let props = &doc["components"]["schemas"]["Login"]["properties"];
        let r = json!({"$ref": "#/components/schemas/BrokerkitSecret"});
        assert_eq!(props["password"], r);
        assert_eq!(props["token"], r);
        assert_eq!(props["email"], json!({"type": "string"}));
    }

    #[test]
    fn string_enums_become_open() {
        let mut doc = doc_with(
            json!({"operationId": "a", "responses": {}}),
            json!({"Side": {"type": "string", "enum": ["buy", "sell"], "description": "d"},
                   "State": {"type": "string", "enum": ["Succeeded"]}}),
        );
        normalize(&mut doc).unwrap();
        let side = &doc["components"]["schemas"]["Side"];
        assert_eq!(side["description"], "d");
        assert_eq!(side["oneOf"][0]["enum"], json!(["buy", "sell"]));
        assert_eq!(side["oneOf"][1]["title"], "Other");
        assert_eq!(
            doc["components"]["schemas"]["State"]["enum"],
            json!(["Succeeded"]),
            "discriminators stay closed"
        );
    }
}
