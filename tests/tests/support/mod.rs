//! Checks recorded sandbox answers against the vendor's spec: the operation must exist, the
//! status must be documented, and a JSON body must validate against the documented schema.

#![allow(dead_code)] // each test file uses part of this module

use brokerkit_mock::Exchange;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

pub struct Spec {
    name: String,
    doc: Value,
    /// Components converted to JSON Schema, embedded in every validator.
    components: Value,
    ops: Vec<Op>,
}

struct Op {
    id: String,
    method: String,
    segments: Vec<String>,
    responses: Map<String, Value>,
}

/// OpenAPI 3.0 schema objects → JSON Schema: `nullable` becomes a union with null.
fn convert(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, child) in map {
                match k.as_str() {
                    "nullable" | "example" | "discriminator" | "xml" | "externalDocs" => {}
                    "properties" | "patternProperties" => {
                        let props = child.as_object().map(|m| {
                            m.iter()
                                .map(|(n, s)| (n.clone(), convert(s)))
                                .collect::<Map<_, _>>()
                        });
                        out.insert(k.clone(), Value::Object(props.unwrap_or_default()));
                    }
                    "enum" | "required" | "default" => {
                        out.insert(k.clone(), child.clone());
                    }
                    _ => {
                        out.insert(k.clone(), convert(child));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
                return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(target) => v = target,
            None => break,
        }
    }
    v
}

impl Spec {
    pub fn load(vendor: &str) -> Spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("specs")
            .join(format!("{vendor}.yaml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        let components = json!({"schemas": convert(&doc["components"]["schemas"])});
        let mut ops = Vec::new();
        for (template, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                let responses = op["responses"].as_object().cloned().unwrap_or_default();
                ops.push(Op {
                    id: id.to_string(),
                    method: method.to_ascii_uppercase(),
                    segments: template.split('/').map(str::to_owned).collect(),
                    responses,
                });
            }
        }
        Spec {
            name: vendor.to_string(),
            doc,
            components,
            ops,
        }
    }

    /// Every operationId of the spec.
    pub fn operation_ids(&self) -> BTreeSet<String> {
        self.ops.iter().map(|o| o.id.clone()).collect()
    }

    fn find(&self, method: &str, path: &str) -> Option<&Op> {
        let parts: Vec<&str> = path.split('/').collect();
        self.ops
            .iter()
            .filter(|o| o.method == method && o.segments.len() == parts.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s.starts_with('{') || s == p)
            })
            // The most literal template wins (`/orders/history` over `/orders/{id}`).
            .max_by_key(|o| o.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    /// Checks one answer; returns the operationId it belongs to.
    pub fn check(&self, ex: &Exchange) -> Result<String, String> {
        let at = format!("{}: {} {} -> {}", self.name, ex.method, ex.path, ex.status);
        let op = self
            .find(&ex.method, &ex.path)
            .ok_or_else(|| format!("{at}: no operation in the spec"))?;
        let status = ex.status.to_string();
        let range = format!("{}XX", &status[..1]);
        let response = op
            .responses
            .get(&status)
            .or_else(|| op.responses.get(&range))
            .or_else(|| op.responses.get("default"))
            .ok_or_else(|| format!("{at}: status not documented for {}", op.id))?;
        let response = resolve(&self.doc, response);
        let schema = response
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| {
                c.iter()
                    .find(|(m, _)| m.starts_with("application/json"))
                    .map(|(_, m)| m)
            })
            .and_then(|m| m.get("schema"));
        let Some(schema) = schema else {
            return Ok(op.id.clone());
        };
        let body: Value = serde_json::from_slice(&ex.body)
            .map_err(|e| format!("{at}: body is not JSON ({e})"))?;
        let mut root = convert(schema);
        if let Value::Object(m) = &mut root {
            m.insert("components".into(), self.components.clone());
        }
        let validator = jsonschema::validator_for(&root)
            .map_err(|e| format!("{at}: schema does not compile: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .take(5)
            .collect();
        if errors.is_empty() {
            Ok(op.id.clone())
        } else {
            Err(format!(
                "{at} ({}): {}\nbody: {}",
                op.id,
                errors.join("; "),
                String::from_utf8_lossy(&ex.body)
            ))
        }
    }

    /// Checks every exchange; panics listing every mismatch. Returns the operations covered.
    pub fn check_all(&self, exchanges: &[Exchange]) -> BTreeSet<String> {
        assert!(!exchanges.is_empty(), "{}: nothing was recorded", self.name);
        let mut covered = BTreeSet::new();
        let mut failures = Vec::new();
        for ex in exchanges {
            match self.check(ex) {
                Ok(id) => {
                    covered.insert(id);
                }
                Err(e) => failures.push(e),
            }
        }
        assert!(
            failures.is_empty(),
            "{} answers break the spec:\n{}",
            failures.len(),
            failures.join("\n")
        );
        covered
    }
}
