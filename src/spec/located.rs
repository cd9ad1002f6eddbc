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
