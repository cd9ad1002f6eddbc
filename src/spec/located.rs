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
        json_schema!({
            "description": "An IAM policy document: a JSON string, a table with IAM's keys (Version, Statement), or { file = \"policy.json\" } relative to the spec",
            "anyOf": [
                { "type": "string" },
                { "type": "object", "properties": { "file": { "type": "string" } }, "required": ["file"], "additionalProperties": false },
                { "type": "object", "properties": { "Version": { "type": "string" }, "Id": { "type": "string" }, "Statement": {} }, "required": ["Statement"] }
            ]
        })
    }
}
