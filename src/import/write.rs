//! The spec an import writes: live resources in plinth's spec format, pure (no AWS, no files).
//!
//! Every attribute the live read found is declared as it is, so that planning the result
//! against the same account changes nothing but ownership. Values equal to AWS's defaults are
//! left out (unset is unmanaged, so leaving them out changes nothing either). Strings that name
//! another imported resource become references to it (`${role.lambda.arn}`), unless the
//! reference would close a cycle; the account id and region in the rest become `${aws.account_id}`
//! and `${aws.region}`. Policies go to files of their own, as the customer's JSON, pretty-printed.
//!
//! Each kind writes its own fields: its spec file's block writer
//! ([`crate::spec::kinds::ImportFacts::write_block`]), through [`BlockWriter`], which this
//! module implements with what all kinds share.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};

use crate::model::{Address, Kind, Value};
use crate::policy::PolicyDocument;
use crate::spec::kinds::block::{is_empty, plural, BlockWriter};
use crate::spec::kinds::shared::is_shared_sid;
use crate::spec::template::escape;
use crate::state::Account;

pub use crate::spec::kinds::block::Found;

/// The files of an imported spec: `plinth.toml`, and each policy by its path relative to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedSpec {
    pub spec: String,
    pub files: BTreeMap<String, String>,
    /// Function zips by their path relative to it.
    pub packages: BTreeMap<String, Arc<Vec<u8>>>,
    /// What the spec could not say, for the person importing (also written as comments).
    pub notes: Vec<String>,
}

/// Writes `found` as the spec of stack `stack`.
pub fn spec(stack: &str, account: &Account, found: &[Found]) -> ImportedSpec {
    let mut writer = Writer {
        stack,
        account,
        found,
        edges: RefCell::new(BTreeMap::new()),
        files: BTreeMap::new(),
        packages: BTreeMap::new(),
        notes: Vec::new(),
        other_accounts: RefCell::new(BTreeSet::new()),
    };
    let mut doc = DocumentMut::new();
    let mut head = Table::new();
    head.insert("name", value(stack));
    doc.insert("stack", Item::Table(head));
    doc.as_table_mut()
        .decor_mut()
        .set_prefix(format!(
            "# Imported by `plinth import` from account {} in {}.\n# `plinth plan` shows only the adoption of each resource (plinth's tags); after `plinth apply`, no changes.\n",
            account.account_id, account.region
        ));
    // Resources that refer to others first, so that references follow the usual direction
    // (a bucket's notification names the queue, a queue's policy then names the bucket by ARN).
    let mut ordered: Vec<&Found> = found.iter().collect();
    ordered.sort_by_key(|f| (write_order(f.address.kind), f.address.name.clone()));
    let mut tables: BTreeMap<Kind, Vec<(String, Table)>> = BTreeMap::new();
    for f in ordered {
        if let Some(owner) = f.live.owner.as_deref().filter(|o| *o != stack) {
            writer.notes.push(format!(
                "{}: stack `{owner}` owns it (its plinth:stack tag): a role, key, queue or bucket is declared `existing = true`, shared with that stack; any other kind cannot be adopted until that stack lets it go",
                f.address
            ));
        }
        let table = writer.resource(f);
        tables
            .entry(f.address.kind)
            .or_default()
            .push((f.address.name.clone(), table));
    }
    // The other accounts the policies name are declared, which makes them known accounts
    // (lint P007 names a principal in any other account).
    let others = writer.other_accounts.take();
    if !others.is_empty() {
        let mut vars = Table::new();
        for account in others.iter() {
            vars.insert(&format!("account_{account}"), value(account.as_str()));
        }
        vars.decor_mut().set_prefix(
            "\n# Other accounts the imported policies name; declaring them makes them known accounts.\n",
        );
        doc.insert("vars", Item::Table(vars));
    }
    for kind in Kind::ALL {
        let Some(mut resources) = tables.remove(kind) else {
            continue;
        };
        resources.sort_by(|a, b| a.0.cmp(&b.0));
        let mut group = Table::new();
        group.set_implicit(true);
        for (name, table) in resources {
            group.insert(&name, Item::Table(table));
        }
        doc.insert(kind.as_str(), Item::Table(group));
    }
    let text = doc.to_string();
    let spec = crate::fmt::format_spec(&text).unwrap_or(text);
    ImportedSpec {
        spec,
        files: writer.files,
        packages: writer.packages,
        notes: writer.notes,
    }
}

fn write_order(kind: Kind) -> u8 {
    crate::spec::kinds::import_facts(kind).write_rank
}

struct Writer<'a> {
    /// The stack the spec is written for.
    stack: &'a str,
    account: &'a Account,
    found: &'a [Found],
    /// References written so far, from each address to those it names: a reference that
    /// would close a cycle is written out as a literal instead.
    edges: RefCell<BTreeMap<Address, BTreeSet<Address>>>,
    files: BTreeMap<String, String>,
    packages: BTreeMap<String, Arc<Vec<u8>>>,
    notes: Vec<String>,
    /// Other accounts the written values name (a vendor's, in a trust policy).
    other_accounts: RefCell<BTreeSet<String>>,
}

impl Writer<'_> {
    /// The block of one found resource, as its kind writes it.
    fn resource(&mut self, f: &Found) -> Table {
        let mut block = Block {
            writer: self,
            found: f,
            table: Table::new(),
        };
        (crate::spec::kinds::import_facts(f.address.kind).write_block)(f, &mut block);
        block.table
    }

    /// The policy of an existing key or bucket, a shared document: plinth owns the statements
    /// it names by Sid and keeps the others, so the block declares those with a Sid it can
    /// name (letters and digits) and says which it leaves to their owner.
    /// Statements another stack's record holds are that stack's: left out, and said so.
    fn shared_policy(
        &mut self,
        t: &mut Table,
        from: &Address,
        doc: Option<&Value>,
        what: &str,
        other_stacks: &BTreeMap<String, String>,
    ) {
        let Some(Value::Policy(doc)) = doc else {
            self.policy_file(t, from, doc, "policy");
            return;
        };
        let (theirs, statements): (Vec<_>, Vec<_>) = doc.statements().iter().partition(|s| {
            s.sid
                .as_deref()
                .is_some_and(|sid| other_stacks.contains_key(sid))
        });
        for statement in theirs {
            let sid = statement.sid.as_deref().unwrap_or_default();
            let note = format!(
                "{from}: statement {sid:?} of the {what} is managed by stack `{}`, and left to it",
                other_stacks[sid]
            );
            self.note_above(t, note);
        }
        let (named, others): (Vec<_>, Vec<_>) = statements
            .into_iter()
            .partition(|s| s.sid.as_deref().is_some_and(is_shared_sid));
        if !others.is_empty() {
            let labels: Vec<String> = others
                .iter()
                .map(|s| match &s.sid {
                    Some(sid) => format!("{sid:?}"),
                    None => "one without a Sid".to_string(),
                })
                .collect();
            let note = format!(
                "{from}: {} statement{} of the {what} cannot be declared here ({}): plinth names the statements it owns in a shared policy by a Sid of letters and digits, and keeps {} as {} {}",
                others.len(),
                plural(others.len()),
                labels.join(", "),
                if others.len() == 1 { "it" } else { "them" },
                if others.len() == 1 { "it" } else { "they" },
                if others.len() == 1 { "is" } else { "are" },
            );
            self.note_above(t, note);
        }
        if named.is_empty() {
            return;
        }
        let mut json = serde_json::Map::new();
        if let Some(v) = doc.version() {
            json.insert("Version".into(), v.as_str().into());
        }
        json.insert(
            "Statement".into(),
            named.iter().map(|s| s.to_json()).collect(),
        );
        if let Ok(subset) = PolicyDocument::from_value(&serde_json::Value::Object(json)) {
            let subset = Value::policy(subset);
            self.policy_file(t, from, Some(&subset), "policy");
        }
    }

    /// A note for the person importing, also written as a comment above the block `t`.
    fn note_above(&mut self, t: &mut Table, note: String) {
        let prefix = t
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        t.decor_mut()
            .set_prefix(format!("{prefix}\n{}", comment(&format!("{note}."))));
        self.notes.push(note);
    }

    /// A policy attribute as `FIELD = { file = "policies/KIND-NAME-FIELD.json" }`.
    fn policy_file(&mut self, t: &mut Table, from: &Address, doc: Option<&Value>, field: &str) {
        if let Some(file) = self.write_policy(from, doc, field) {
            let mut inline = InlineTable::new();
            inline.insert("file", file.into());
            t.insert(field, value(inline));
        }
    }

    /// Writes one policy document to its file; returns the file's path.
    fn write_policy(&mut self, from: &Address, doc: Option<&Value>, name: &str) -> Option<String> {
        let path = format!(
            "policies/{}-{}-{}.json",
            from.kind,
            from.name,
            file_part(name)
        );
        let text = match doc? {
            Value::Policy(doc) => {
                let templated = doc
                    .map_values(|s| self.template_in_policy(from, s))
                    .unwrap_or_else(|| (**doc).clone());
                let mut json: serde_json::Value =
                    serde_json::from_str(&templated.to_aws_json()).ok()?;
                lists_of_one_as_strings(&mut json);
                serde_json::to_string_pretty(&json).ok()?
            }
            // A document plinth could not parse is written as AWS returned it: validate shows
            // what is wrong with it.
            Value::Str(s) => s.clone(),
            _ => return None,
        };
        self.files.insert(path.clone(), format!("{text}\n"));
        Some(path)
    }

    fn literal(&self, t: &mut Table, a: &BTreeMap<String, Value>, field: &str) {
        if let Some(Value::Str(s)) = a.get(field) {
            t.insert(field, value(escape(s)));
        }
    }

    fn text_unless(&self, t: &mut Table, a: &BTreeMap<String, Value>, field: &str, default: &str) {
        if let Some(Value::Str(s)) = a.get(field).filter(|v| v.as_str() != Some(default)) {
            t.insert(field, value(escape(s)));
        }
    }

    fn tags(&self, t: &mut Table, a: &BTreeMap<String, Value>) {
        if let Some(Value::Map(tags)) = a.get("tags").filter(|v| !is_empty(v)) {
            let mut inline = InlineTable::new();
            for (k, v) in tags {
                if let Value::Str(v) = v {
                    inline.insert(k, escape(v).into());
                }
            }
            t.insert("tags", value(inline));
        }
    }

    /// A value as a TOML item; strings become templates.
    fn item(&mut self, from: &Address, v: &Value) -> Item {
        value(self.toml_value(from, v))
    }

    fn table(&mut self, from: &Address, v: &Value) -> Table {
        let mut t = Table::new();
        if let Value::Map(m) = v {
            for (k, v) in m {
                t.insert(k, self.item(from, v));
            }
        }
        t
    }

    fn toml_value(&mut self, from: &Address, v: &Value) -> toml_edit::Value {
        match v {
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Str(s) => self.template(from, s).into(),
            Value::List(items) => items
                .iter()
                .map(|i| self.toml_value(from, i))
                .collect::<Array>()
                .into(),
            Value::Set(items) => items
                .iter()
                .map(|i| self.template(from, i))
                .collect::<Array>()
                .into(),
            Value::Map(m) => {
                let mut inline = InlineTable::new();
                for (k, v) in m {
                    inline.insert(k, self.toml_value(from, v));
                }
                inline.into()
            }
            Value::Policy(p) => p.to_aws_json().into(),
            Value::Unknown(_) | Value::Sensitive(_) => "".into(),
        }
    }

    /// `s` as a template: a reference when it is (or begins with) the ARN of another imported
    /// resource, otherwise with the account id and region of an ARN written as references.
    fn template(&self, from: &Address, s: &str) -> String {
        self.substitute(from, s, false)
    }

    fn template_in_policy(&self, from: &Address, s: &str) -> String {
        self.substitute(from, s, true)
    }

    fn substitute(&self, from: &Address, s: &str, allow_self: bool) -> String {
        for target in self.found {
            let Some(arn) = target.live.exports.get("arn").filter(|a| !a.is_empty()) else {
                continue;
            };
            let rest = match s.strip_prefix(arn.as_str()) {
                Some("") => "",
                Some(rest) if rest.starts_with('/') || rest.starts_with(':') => rest,
                _ => continue,
            };
            let is_self = target.address == *from;
            if is_self && !(allow_self && target.address.kind.known_before_creation("arn")) {
                continue;
            }
            // A reference with more after it is no ARN to the lints until it is filled in, so
            // an object ARN names its bucket (`arn:aws:s3:::${bucket.data.name}/*`).
            let written = match (rest, target.address.kind) {
                ("", _) => format!("${{{}.arn}}", target.address),
                (rest, Kind::Bucket) => format!(
                    "{}${{{}.name}}{}",
                    &arn[..arn.len() - target.live.physical_id.len()],
                    target.address,
                    escape(rest)
                ),
                _ => continue,
            };
            if !is_self && !self.link(from, &target.address) {
                continue;
            }
            return written;
        }
        self.account_and_region(s)
    }

    /// A reference to the `attribute` export of an imported resource of `kind` whose value is
    /// `s`, if the reference closes no cycle.
    fn reference_to(&self, from: &Address, kind: Kind, attribute: &str, s: &str) -> Option<String> {
        let target = self.found.iter().find(|f| {
            f.address.kind == kind
                && f.address != *from
                && f.live.exports.get(attribute).map(String::as_str) == Some(s)
        })?;
        let to = target.address.clone();
        self.link(from, &to)
            .then(|| format!("${{{to}.{attribute}}}"))
    }

    /// Records a reference from `from` to `to`; false (and nothing recorded) when `to` already
    /// reaches `from`.
    fn link(&self, from: &Address, to: &Address) -> bool {
        let mut edges = self.edges.borrow_mut();
        let mut stack = vec![to.clone()];
        let mut seen = BTreeSet::new();
        while let Some(at) = stack.pop() {
            if at == *from {
                return false;
            }
            if seen.insert(at.clone()) {
                stack.extend(edges.get(&at).into_iter().flatten().cloned());
            }
        }
        edges.entry(from.clone()).or_default().insert(to.clone());
        true
    }

    fn account_and_region(&self, s: &str) -> String {
        let account = &self.account.account_id;
        if s == account {
            return "${aws.account_id}".into();
        }
        let other = |id: &str| {
            if id != account && id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                self.other_accounts.borrow_mut().insert(id.to_string());
            }
        };
        other(s);
        if s.starts_with("arn:") {
            let parts: Vec<&str> = s.splitn(6, ':').collect();
            if parts.len() == 6 {
                let region = if parts[3] == self.account.region && !parts[3].is_empty() {
                    "${aws.region}".to_string()
                } else {
                    escape(parts[3])
                };
                other(parts[4]);
                let acct = if parts[4] == account {
                    "${aws.account_id}".to_string()
                } else {
                    escape(parts[4])
                };
                // Every part AWS returned as text stays text: a literal `${` (a template pasted
                // into the console unfilled) is written escaped.
                return format!(
                    "{}:{}:{}:{region}:{acct}:{}",
                    escape(parts[0]),
                    escape(parts[1]),
                    escape(parts[2]),
                    escape(parts[5])
                );
            }
        }
        escape(s)
    }
}

/// The block of one found resource while its kind writes it ([`BlockWriter`]).
struct Block<'w, 'a> {
    writer: &'w mut Writer<'a>,
    found: &'w Found,
    table: Table,
}

impl Block<'_, '_> {
    /// The records other stacks keep on the resource, by stack.
    fn other_stacks_shares(&self) -> BTreeMap<String, crate::model::shared::Share> {
        let mut shares = crate::model::shared::all_shares(
            self.found
                .live
                .attributes
                .get(crate::model::shared::SHARES_ATTRIBUTE),
        );
        shares.remove(self.writer.stack);
        shares
    }
}

impl BlockWriter for Block<'_, '_> {
    fn put(&mut self, field: &str, item: Item) {
        self.table.insert(field, item);
    }

    fn literal(&mut self, field: &str) {
        self.writer
            .literal(&mut self.table, &self.found.live.attributes, field);
    }

    fn text_unless(&mut self, field: &str, default: &str) {
        let a = &self.found.live.attributes;
        self.writer.text_unless(&mut self.table, a, field, default);
    }

    fn tags(&mut self) {
        self.writer
            .tags(&mut self.table, &self.found.live.attributes);
    }

    fn policy_file(&mut self, field: &str, doc: Option<&Value>) {
        let from = &self.found.address;
        self.writer.policy_file(&mut self.table, from, doc, field);
    }

    fn write_policy(&mut self, doc: Option<&Value>, name: &str) -> Option<String> {
        self.writer.write_policy(&self.found.address, doc, name)
    }

    fn shared_policy(&mut self, doc: Option<&Value>, what: &str) {
        let from = &self.found.address;
        let other_stacks = self.held_by_other_stacks("policy");
        self.writer
            .shared_policy(&mut self.table, from, doc, what, &other_stacks);
    }

    /// The other stacks that share the resource, and the one that owns it, if not this one: a
    /// resource another stack owns is shared here (`existing = true`), which its owner allows,
    /// where adopting it would be refused.
    fn sharing_stacks(&self) -> Vec<String> {
        let mut stacks: Vec<String> = self.other_stacks_shares().into_keys().collect();
        if let Some(owner) = self.found.live.owner.as_deref() {
            if owner != self.writer.stack && !stacks.iter().any(|s| s == owner) {
                stacks.insert(0, owner.to_string());
            }
        }
        stacks
    }

    fn held_by_other_stacks(&self, kind: &str) -> BTreeMap<String, String> {
        self.other_stacks_shares()
            .into_iter()
            .flat_map(|(stack, share)| {
                share
                    .with_prefix(kind)
                    .map(|id| (id.to_string(), stack.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn item(&mut self, v: &Value) -> Item {
        self.writer.item(&self.found.address, v)
    }

    fn table(&mut self, v: &Value) -> Table {
        self.writer.table(&self.found.address, v)
    }

    fn template(&self, s: &str) -> String {
        self.writer.template(&self.found.address, s)
    }

    fn reference_to(&self, kind: Kind, attribute: &str, s: &str) -> Option<String> {
        self.writer
            .reference_to(&self.found.address, kind, attribute, s)
    }

    fn note(&mut self, note: String) {
        self.writer.notes.push(note);
    }

    fn package(&mut self, file: &str) -> bool {
        let Some(zip) = &self.found.package else {
            return false;
        };
        self.writer
            .packages
            .insert(file.to_string(), Arc::clone(zip));
        true
    }
}

/// A name as part of a file name: letters, digits, `-` and `_`.
fn file_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A list of one string as the string alone, as people write policies (IAM reads both alike):
/// in actions, resources, principals and condition values.
fn lists_of_one_as_strings(doc: &mut serde_json::Value) {
    use serde_json::Value as J;
    fn collapse(v: &mut J) {
        if let J::Array(items) = v {
            if items.len() == 1 && items[0].is_string() {
                *v = items.remove(0);
            }
        }
    }
    let Some(J::Array(statements)) = doc.get_mut("Statement") else {
        return;
    };
    for statement in statements.iter_mut().filter_map(J::as_object_mut) {
        for (key, v) in statement.iter_mut() {
            match key.as_str() {
                "Action" | "NotAction" | "Resource" | "NotResource" => collapse(v),
                "Principal" | "NotPrincipal" => {
                    for p in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                        collapse(p);
                    }
                }
                "Condition" => {
                    for block in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                        for values in block
                            .as_object_mut()
                            .into_iter()
                            .flat_map(|m| m.values_mut())
                        {
                            collapse(values);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// `text` as comment lines of at most 100 characters.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}
