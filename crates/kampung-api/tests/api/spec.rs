//! A small checker of JSON values against the served OpenAPI description:
//! enough of JSON Schema for what utoipa emits (`$ref`, `oneOf`, `type`
//! (also as a list), `properties`, `required`, `items`, `enum`,
//! `additionalProperties`). It is strict: an object key that the schema does
//! not list is an error, so a field added to a type and not to its
//! description fails.

use serde_json::Value;

use super::Reply;

pub struct Spec(pub Value);

impl Spec {
    pub fn load() -> Spec {
        Spec(serde_json::from_str(kampung_api::openapi::json()).unwrap())
    }

    /// The response schema of one operation and status.
    pub fn response_schema(&self, path: &str, method: &str, status: u16) -> &Value {
        let op = &self.0["paths"][path][method];
        assert!(op.is_object(), "no operation {method} {path} in the spec");
        let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path}: no JSON response {status} in the spec"
        );
        schema
    }

    /// Check a reply against the spec's schema for its operation and status.
    pub fn check_reply(&self, path: &str, method: &str, reply: &Reply) {
        let schema = self.response_schema(path, method, reply.status.as_u16());
        let value = reply.json();
        if let Err(e) = self.check(&value, schema, "$") {
            panic!(
                "{method} {path} -> {}: body does not match the spec: {e}\nbody: {value:#}",
                reply.status
            );
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unexpected $ref {r}"));
                let target = &self.0["components"]["schemas"][name];
                assert!(target.is_object(), "dangling $ref {r}");
                self.resolve(target)
            }
            None => schema,
        }
    }

    pub fn check(&self, value: &Value, schema: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
            let errors: Vec<String> = options
                .iter()
                .filter_map(|s| self.check(value, s, at).err())
                .collect();
            return if errors.len() < options.len() {
                Ok(())
            } else {
                Err(format!("{at}: matches no variant: {}", errors.join(" | ")))
            };
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(value, s, at)?;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
        match value {
            Value::Object(map) => {
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    let open = schema.get("additionalProperties").is_some();
                    for (k, v) in map {
                        match props.get(k) {
                            Some(s) => self.check(v, s, &format!("{at}.{k}"))?,
                            None if open => {}
                            None => return Err(format!("{at}: key '{k}' is not in the schema")),
                        }
                    }
                    for r in schema
                        .get("required")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let r = r.as_str().unwrap_or_default();
                        if !map.contains_key(r) {
                            return Err(format!("{at}: required key '{r}' is missing"));
                        }
                    }
                } else if let Some(extra) = schema.get("additionalProperties") {
                    if extra.is_object() {
                        for (k, v) in map {
                            self.check(v, extra, &format!("{at}.{k}"))?;
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(v, s, &format!("{at}[{i}]"))?;
                    }
                }
                let n = items.len() as u64;
                if schema
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                    || schema
                        .get("maxItems")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| n > m)
                {
                    return Err(format!("{at}: {n} items is out of the schema's bounds"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

#[test]
fn the_checker_rejects_what_it_should() {
    let spec = Spec(serde_json::json!({
        "components": {"schemas": {"A": {
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "integer"}, "y": {"type": ["string", "null"]}}
        }}}
    }));
    let a = serde_json::json!({"$ref": "#/components/schemas/A"});
    assert!(spec
        .check(&serde_json::json!({"x": 1, "y": null}), &a, "$")
        .is_ok());
    assert!(spec.check(&serde_json::json!({"y": "s"}), &a, "$").is_err());
    assert!(spec
        .check(&serde_json::json!({"x": 1, "z": 2}), &a, "$")
        .is_err());
    assert!(spec.check(&serde_json::json!({"x": "1"}), &a, "$").is_err());
}
