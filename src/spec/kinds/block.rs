//! The block `plinth import` writes for one live resource: each kind writes its own fields
//! ([`super::ImportFacts::write_block`]) through [`BlockWriter`], which import's writer
//! implements with what is common to all kinds (policy files, references between the imported
//! resources, TOML values). Here, below import, so that a kind's spec file holds its part.

use std::sync::Arc;

use toml_edit::{Item, Table};

use crate::model::{Address, Kind, Value};
use crate::state::LiveResource;

/// One live resource to write, under the address it gets in the spec.
#[derive(Debug, Clone)]
pub struct Found {
    pub address: Address,
    pub live: LiveResource,
    /// How the resource was asked for (a key's id, ARN or alias), when that is how the spec
    /// should find it again.
    pub requested: String,
    /// A function's zip, downloaded and checked against its `CodeSha256`.
    pub package: Option<Arc<Vec<u8>>>,
}

/// The block of one found resource, filled in field by field in the order the spec shows
/// them. Attributes named by field are read from the resource being written.
pub trait BlockWriter {
    /// Sets `field` to `item` as it is.
    fn put(&mut self, field: &str, item: Item);

    /// A text attribute as AWS holds it (a literal `${` escaped), when there is one.
    fn literal(&mut self, field: &str);

    /// A text attribute as [`BlockWriter::literal`] does, unless it is `default`.
    fn text_unless(&mut self, field: &str, default: &str);

    /// The resource's tags, unless it has none.
    fn tags(&mut self);

    /// A policy attribute as `FIELD = { file = "policies/KIND-NAME-FIELD.json" }`.
    fn policy_file(&mut self, field: &str, doc: Option<&Value>);

    /// Writes one policy document to its file (named after `name`); returns the file's path.
    fn write_policy(&mut self, doc: Option<&Value>, name: &str) -> Option<String>;

    /// The policy of an existing resource, a shared document: the statements plinth can name
    /// by Sid as `policy`, and a note (and comment) on the others, left to their owner.
    /// `what` names the document in the note (`key policy`).
    fn shared_policy(&mut self, doc: Option<&Value>, what: &str);

    /// A value as a TOML item; strings become templates.
    fn item(&mut self, v: &Value) -> Item;

    /// A map as a TOML table of items.
    fn table(&mut self, v: &Value) -> Table;

    /// `s` as a template: a reference when it is (or begins with) the ARN of another imported
    /// resource, otherwise with the account id and region of an ARN written as references.
    fn template(&self, s: &str) -> String;

    /// A reference to the `attribute` export of another imported resource of `kind` whose
    /// value is `s`, if the reference closes no cycle.
    fn reference_to(&self, kind: Kind, attribute: &str, s: &str) -> Option<String>;

    /// The parts of `kind` (`policy` statements by Sid, `cors` rules and `notification`s by
    /// id) that another stack's record on the resource holds, with that stack: those are left
    /// to it.
    fn held_by_other_stacks(&self, kind: &str) -> std::collections::BTreeMap<String, String>;

    /// The other stacks whose record is on the resource: it is someone's, shared by them
    /// (`existing = true`), not the importing stack's to adopt.
    fn sharing_stacks(&self) -> Vec<String>;

    /// Something the spec cannot say, for the person importing.
    fn note(&mut self, note: String);

    /// Places the resource's downloaded package at `file` (relative to the spec); false when
    /// none was downloaded.
    fn package(&mut self, file: &str) -> bool;
}

/// An empty list, set, map or text.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Str(s) => s.is_empty(),
        _ => false,
    }
}

/// The plural ending of a count's noun.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
