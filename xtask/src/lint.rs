//! The rules a spec must follow so progenitor can generate it without panicking and so the
//! vendor clients stay alike. Every finding names the JSON path and the rule; the caller adds
//! the spec's file name.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One broken rule, at one place in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer-like path, e.g. `paths./trade/quotes.get.operationId`.
    pub path: String,
    /// Short rule name, stable for grepping.
    pub rule: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.path, self.rule, self.message)
    }
}

pub const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Checks the whole document. An empty result means the spec is inside the supported subset.
pub fn lint(doc: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |path: String, rule: &'static str, message: String| {
        out.push(Finding {
            path,
            rule,
            message,
        })
    };

    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => {}
        Some(v) => push(
            "openapi".into(),
            "openapi-3.0",
            format!("version {v} is not supported; write OpenAPI 3.0.x (nullable: true instead of type lists)"),
        ),
        None => push("openapi".into(), "openapi-3.0", "missing `openapi: 3.0.3`".into()),
    }

    let mut seen_ids: BTreeMap<String, String> = BTreeMap::new();
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let shared_params = item.get("parameters");
        for method in HTTP_METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let here = format!("paths.{path}.{method}");
            match op.get("operationId").and_then(Value::as_str) {
                None | Some("") => push(
                    format!("{here}.operationId"),
                    "operation-id",
                    "every operation needs an operationId".into(),
                ),
                Some(id) => {
                    if let Some(prev) = seen_ids.insert(id.to_string(), here.clone()) {
                        push(
                            format!("{here}.operationId"),
                            "operation-id-unique",
                            format!("`{id}` is already used at {prev}"),
                        );
                    }
                }
            }
            match op.get("tags").and_then(Value::as_array) {
                Some(tags) if tags.len() == 1 => {}
                _ => push(
                    format!("{here}.tags"),
                    "one-tag",
                    "every operation needs exactly one tag".into(),
                ),
            }
            if op
                .get("summary")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                push(
                    format!("{here}.summary"),
                    "summary",
                    "every operation needs a summary".into(),
                );
            }
            for (i, p) in params(doc, op.get("parameters"))
                .chain(params(doc, shared_params))
                .enumerate()
            {
                if p.get("in").and_then(Value::as_str) == Some("cookie") {
                    push(
                        format!("{here}.parameters[{i}]"),
                        "no-cookie",
                        "cookie parameters are not supported by the generator".into(),
                    );
                }
            }
            if let Some(content) = resolve(doc, op.get("requestBody"))
                .and_then(|b| b.get("content"))
                .and_then(Value::as_object)
            {
                for media in content.keys() {
                    if media.starts_with("multipart/") {
                        push(
                            format!("{here}.requestBody.content.{media}"),
                            "no-multipart",
                            "multipart bodies are not supported by the generator".into(),
                        );
                    }
                }
            }
            for (group, codes) in response_groups(doc, op) {
                let with_body = codes
                    .iter()
                    .filter(|(_, r)| json_schema(doc, r).is_some())
                    .count();
                if with_body != 0 && with_body != codes.len() {
                    let names: Vec<String> = codes
                        .iter()
                        .map(|(c, r)| {
                            format!(
                                "{c}{}",
                                if json_schema(doc, r).is_some() {
                                    ""
                                } else {
                                    " (no body)"
                                }
                            )
                        })
                        .collect();
                    push(
                        format!("{here}.responses"),
                        "body-or-none",
                        format!("the {group} responses mix a JSON body with none ({}); give them all a body or none", names.join(", ")),
                    );
                }
                for (code, resp) in &codes {
                    if let Some(schema) = json_schema(doc, resp) {
                        let mut visited = Vec::new();
                        if let Some(at) = find_closed_object(doc, schema, &mut visited) {
                            push(
                                format!("{here}.responses.{code}"),
                                "open-responses",
                                format!("response schema forbids unknown fields at {at} (additionalProperties: false); vendors add fields, so leave it open"),
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

/// Follows a local `$ref` (one level at a time) to the object it names.
pub fn resolve<'a>(doc: &'a Value, v: Option<&'a Value>) -> Option<&'a Value> {
    let mut v = v?;
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => v = pointer(doc, r)?,
            None => return Some(v),
        }
    }
    None
}

fn pointer<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    doc.pointer(r.strip_prefix('#')?)
}

fn params<'a>(doc: &'a Value, list: Option<&'a Value>) -> impl Iterator<Item = &'a Value> + 'a {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(move |p| resolve(doc, Some(p)))
}

/// The 2xx responses and the error responses of an operation, each resolved.
pub fn response_groups<'a>(
    doc: &'a Value,
    op: &'a Value,
) -> Vec<(&'static str, Vec<(String, &'a Value)>)> {
    let mut ok = Vec::new();
    let mut err = Vec::new();
    for (code, resp) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(resp) = resolve(doc, Some(resp)) else {
            continue;
        };
        if code.starts_with('2') {
            ok.push((code.clone(), resp));
        } else if code.starts_with(['4', '5']) || code == "default" {
            err.push((code.clone(), resp));
        }
    }
    vec![("success", ok), ("error", err)]
}

/// The schema of a response's `application/json` content, if it has one.
pub fn json_schema<'a>(_doc: &'a Value, resp: &'a Value) -> Option<&'a Value> {
    let content = resp.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json"))
        .and_then(|(_, m)| m.get("schema"))
}

fn find_closed_object(doc: &Value, schema: &Value, visited: &mut Vec<String>) -> Option<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if visited.iter().any(|v| v == r) {
            return None;
        }
        visited.push(r.to_string());
        let target = pointer(doc, r)?;
        return find_closed_object(doc, target, visited).map(|p| {
            if p.is_empty() {
                r.to_string()
            } else {
                p
            }
        });
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        return Some(String::new());
    }
    let children = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .chain(
            ["items", "additionalProperties"]
                .iter()
                .filter_map(|k| schema.get(*k)),
        )
        .chain(
            ["allOf", "oneOf", "anyOf"]
                .iter()
                .filter_map(|k| schema.get(*k).and_then(Value::as_array))
                .flatten(),
        );
    for child in children {
        if child.is_object() {
            if let Some(p) = find_closed_object(doc, child, visited) {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(extra: Value) -> Value {
        let mut op = json!({"operationId": "getThing", "tags": ["t"], "summary": "s",
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}});
        op.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"openapi": "3.0.3", "paths": {"/thing": {"get": op}}})
    }

    fn rules(doc: &Value) -> Vec<&'static str> {
        lint(doc).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_clean_operation_passes() {
        assert!(lint(&op(json!({}))).is_empty());
    }

    #[test]
    fn each_rule_fires_and_names_the_path() {
        let mut doc = op(json!({"operationId": null, "tags": [], "summary": ""}));
        doc["openapi"] = json!("3.1.0");
        let found = lint(&doc);
        let names: Vec<_> = found.iter().map(|f| f.rule).collect();
        assert_eq!(names, ["openapi-3.0", "operation-id", "one-tag", "summary"]);
        assert_eq!(found[1].path, "paths./thing.get.operationId");
    }

    #[test]
    fn cookie_multipart_and_mixed_bodies_are_rejected() {
        let doc = op(json!({
            "parameters": [{"name": "c", "in": "cookie", "schema": {"type": "string"}}],
            "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
                "204": {"description": "none"}
            }
        }));
        assert_eq!(rules(&doc), ["no-cookie", "no-multipart", "body-or-none"]);
    }

    #[test]
    fn closed_response_objects_are_found_through_refs() {
        let mut doc = op(json!({"responses": {"200": {"description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}));
        doc["components"] = json!({"schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "object", "additionalProperties": false}
        }});
        let found = lint(&doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, "open-responses");
        assert!(
            found[0].message.contains("#/components/schemas/B"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn duplicate_operation_ids_are_rejected() {
        let mut doc = op(json!({}));
        doc["paths"]["/other"] = json!({"get": doc["paths"]["/thing"]["get"].clone()});
        assert_eq!(rules(&doc), ["operation-id-unique"]);
    }
}
