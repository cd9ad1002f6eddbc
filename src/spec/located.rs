//! [`Located`]: a spec value with the byte range it was written at, the type of every field
//! the loader reads, so that any later check can point at the value.

use std::borrow::Cow;
use std::ops::Range;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Located<T>(toml::Spanned<T>);

impl<T> Located<T> {
    pub fn new(span: Range<usize>, value: T) -> Self {
        Located(toml::Spanned::new(span, value))
    }

    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }

    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        toml::Spanned::<T>::deserialize(deserializer).map(Located)
    }
}

/// In the spec's JSON Schema a located value is just the value.
impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A policy field as the spec writes it (a JSON string, a table in IAM's shape, or
/// `{ file = "..." }`), read straight into JSON: a TOML date-time as its text, a float that
/// JSON cannot hold (`nan`, `inf`) as null.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyValue {
    pub json: serde_json::Value,
    /// What TOML calls the value's type ("table", "datetime"), for a diagnostic.
    pub toml_type: &'static str,
}

/// The key under which the `toml` deserializer hands over a date-time.
const TOML_DATETIME: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for PolicyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (json, datetime) = deserializer.deserialize_any(JsonVisitor)?;
        let toml_type = if datetime {
            "datetime"
        } else {
            toml_type_name(&json)
        };
        Ok(PolicyValue { json, toml_type })
    }
}

/// What TOML calls the type of a value read as JSON (null is a float JSON cannot hold; a
/// date-time reads as a string).
pub fn toml_type_name(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(n) if n.is_f64() => "float",
        serde_json::Value::Number(_) => "integer",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "table",
        serde_json::Value::Null => "float",
    }
}

/// Reads any TOML value as JSON; the flag says it was a date-time.
struct JsonVisitor;

/// A value within a table or an array, read by [`JsonVisitor`].
struct Json(serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(JsonVisitor)
            .map(|(json, _)| Json(json))
    }
}

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = (serde_json::Value, bool);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok((b.into(), false))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
        Ok((i.into(), false))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
        Ok((u.into(), false))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        let json = serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into);
        Ok((json, false))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok((s.into(), false))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok((s.into(), false))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok((items.into(), false))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            if key == TOML_DATETIME && object.is_empty() {
                return Ok((map.next_value::<String>()?.into(), true));
            }
            let Json(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok((object.into(), false))
    }
}

/// The schema of a policy field: a JSON string, a table in IAM's shape, or `{ file = "..." }`.
pub struct PolicyField;

impl JsonSchema for PolicyField {
    fn schema_name() -> Cow<'static, str> {
        "PolicyDocument".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        policy_schema(
            "An IAM policy document: a JSON string, a table with IAM's keys (Version, Statement), or { file = \"policy.json\" } relative to the spec",
            serde_json::Map::new(),
        )
    }
}

/// The schema of a role's inline policy: a policy field whose table forms may also hold
/// `when = "${var.NAME}"`, the switch that keeps the policy only while the variable is true.
pub struct InlinePolicyField;

impl JsonSchema for InlinePolicyField {
    fn schema_name() -> Cow<'static, str> {
        "InlinePolicy".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let when = json_schema!({
            "description": "The policy exists only while this switch is on (every one, for a list): \"${var.NAME}\" (true, or a non-empty value) or \"!${var.NAME}\"",
            "type": ["string", "array"],
            "items": { "type": "string" }
        });
        policy_schema(
            "An inline policy: a JSON string, a table with IAM's keys (Version, Statement), or { file = \"policy.json\" }; a table may also hold `when`",
            serde_json::Map::from_iter([("when".to_string(), when.to_value())]),
        )
    }
}

/// The three forms of a policy, the table forms with `extra` properties.
fn policy_schema(description: &str, extra: serde_json::Map<String, serde_json::Value>) -> Schema {
    let mut file =
        serde_json::Map::from_iter([("file".to_string(), serde_json::json!({ "type": "string" }))]);
    file.extend(extra.clone());
    let mut table = serde_json::Map::from_iter([
        (
            "Version".to_string(),
            serde_json::json!({ "type": "string" }),
        ),
        ("Id".to_string(), serde_json::json!({ "type": "string" })),
        ("Statement".to_string(), serde_json::json!({})),
    ]);
    table.extend(extra);
    json_schema!({
        "description": description,
        "anyOf": [
            { "type": "string" },
            { "type": "object", "properties": file, "required": ["file"], "additionalProperties": false },
            { "type": "object", "properties": table, "required": ["Statement"] }
        ]
    })
}
