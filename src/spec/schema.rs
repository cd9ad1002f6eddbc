//! `plinth schema`: a JSON Schema of the spec format, for TOML editors (taplo / Even Better
//! TOML) to complete and check specs. It is generated from the very structs the loader
//! deserializes each table into, so the two cannot drift apart.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::kinds::{each_table, TableTypes};
use super::load::RawStack;
use super::Silence;
use crate::model::Kind;

/// The whole spec file: the tables below, then one table per resource kind, in the order of
/// `Kind::ALL`, each from the struct that kind's loader deserializes (`kinds::each_table`).
struct SpecFile;

/// The whole spec file. Each resource table also takes `silence` (taken out before the kind
/// reads the table), added by [`Resources`].
#[derive(JsonSchema)]
#[schemars(title = "plinth spec", deny_unknown_fields)]
#[allow(dead_code)]
struct SpecHead {
    stack: RawStack,
    /// Plain values, overridable with `--var NAME=VALUE`; used as `${var.NAME}`.
    vars: Option<BTreeMap<String, Scalar>>,
    /// Values printed after apply and by `plinth outputs`, usually `${KIND.NAME.ATTRIBUTE}`.
    outputs: Option<BTreeMap<String, String>>,
    /// Environments, by name: each its own stack, chosen with `--env NAME` or `--all-envs`.
    env: Option<BTreeMap<String, super::env::RawEnv>>,
}

impl JsonSchema for SpecFile {
    fn schema_name() -> Cow<'static, str> {
        SpecHead::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = SpecHead::json_schema(generator);
        let mut tables = KindTables {
            generator,
            properties: Vec::new(),
        };
        each_table(&mut tables);
        if let Some(properties) = (schema.get_mut("properties")).and_then(|p| p.as_object_mut()) {
            for (kind, table) in tables.properties {
                properties.insert(kind.as_str().into(), table);
            }
        }
        schema
    }
}

/// Collects each kind's property of the spec file: an optional table of its resources.
struct KindTables<'a> {
    generator: &'a mut SchemaGenerator,
    properties: Vec<(Kind, serde_json::Value)>,
}

impl TableTypes for KindTables<'_> {
    fn table<T: JsonSchema>(&mut self, kind: Kind) {
        let table = self.generator.subschema_for::<Option<Resources<T>>>();
        self.properties.push((kind, table.to_value()));
    }
}

/// A table of resources of one kind, by logical name.
struct Resources<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Resources<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}ByName", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut resource = T::json_schema(generator);
        let silence = generator.subschema_for::<Vec<Silence>>();
        if let Some(properties) = resource
            .get_mut("properties")
            .and_then(|p| p.as_object_mut())
        {
            properties.insert("silence".into(), silence.to_value());
            properties.insert(
                "when".into(),
                serde_json::json!({ "type": ["string", "array"], "items": { "type": "string" }, "description": "the resource exists only while this switch is on (every one, for a list): \"${var.NAME}\" or \"!${var.NAME}\"" }),
            );
            properties.insert(
                "release".into(),
                serde_json::json!({ "type": "boolean", "description": "the next apply lets go of the resource without deleting it" }),
            );
        }
        schemars::json_schema!({
            "type": "object",
            "propertyNames": { "pattern": super::rules::logical_name_pattern() },
            "additionalProperties": resource
        })
    }
}

/// A variable: a string, number or boolean.
struct Scalar;

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// The JSON Schema of the spec format, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(SpecFile);
    let mut out = serde_json::to_string_pretty(&schema).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn every_kind_and_its_fields_are_in_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for kind in Kind::ALL {
            assert!(
                properties.contains_key(kind.as_str()),
                "{kind} is missing from the schema"
            );
        }
        let text = json_schema();
        for field in [
            "max_session_hours",
            "deletion_window_days",
            "visibility_timeout",
            "batching_window",
            "public_access_block",
            "silence",
            "lock",
        ] {
            assert!(
                text.contains(&format!("\"{field}\"")),
                "{field} is missing from the schema"
            );
        }
        assert_eq!(
            schema["additionalProperties"], false,
            "unknown tables are errors"
        );
    }
}
