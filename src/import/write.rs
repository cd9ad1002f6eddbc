//! The spec an import writes: live resources in plinth's spec format, pure (no AWS, no files).
//!
//! Every attribute the live read found is declared as it is, so that planning the result
//! against the same account changes nothing but ownership. Values equal to AWS's defaults are
//! left out (unset is unmanaged, so leaving them out changes nothing either). Strings that name
//! another imported resource become references to it (`${role.lambda.arn}`), unless the
//! reference would close a cycle; the account id and region in the rest become `${aws.account_id}`
//! and `${aws.region}`. Policies go to files of their own, as the customer's JSON, pretty-printed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};

use crate::model::{Address, Kind, Value};
use crate::policy::PolicyDocument;
use crate::spec::kinds::shared::is_shared_sid;
use crate::state::{Account, LiveResource};

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
        account,
        found,
        edges: RefCell::new(BTreeMap::new()),
        files: BTreeMap::new(),
        packages: BTreeMap::new(),
        notes: Vec::new(),
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
                "{}: stack `{owner}` owns it (its plinth:stack tag), so this stack's plan refuses it until that stack lets it go",
                f.address
            ));
        }
        let table = writer.resource(f);
        tables
            .entry(f.address.kind)
            .or_default()
            .push((f.address.name.clone(), table));
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
    account: &'a Account,
    found: &'a [Found],
    /// References written so far, from each address to those it names: a reference that
    /// would close a cycle is written out as a literal instead.
    edges: RefCell<BTreeMap<Address, BTreeSet<Address>>>,
    files: BTreeMap<String, String>,
    packages: BTreeMap<String, Arc<Vec<u8>>>,
    notes: Vec<String>,
}

impl Writer<'_> {
    fn resource(&mut self, f: &Found) -> Table {
        let mut t = Table::new();
        let a = &f.live.attributes;
        let from = &f.address;
        match from.kind {
            Kind::Role => {
                self.literal(&mut t, a, "name");
                self.text_unless(&mut t, a, "path", "/");
                self.text_unless(&mut t, a, "description", "");
                if let Some(Value::Int(h)) =
                    a.get("max_session_hours").filter(|h| **h != Value::Int(1))
                {
                    t.insert("max_session_hours", value(*h));
                }
                self.policy_file(&mut t, from, a.get("trust"), "trust");
                if let Some(Value::Set(arns)) = a.get("managed_policies").filter(|v| !is_empty(v)) {
                    let list: Array = arns.iter().map(|s| self.template(from, s)).collect();
                    t.insert("managed_policies", value(list));
                }
                if let Some(Value::Map(policies)) = a.get("policies").filter(|v| !is_empty(v)) {
                    let mut group = Table::new();
                    group.set_implicit(true);
                    for (name, doc) in policies {
                        let mut inline = Table::new();
                        let file = self.write_policy(from, Some(doc), name);
                        if let Some(file) = file {
                            inline.insert("file", value(file));
                        }
                        group.insert(name, Item::Table(inline));
                    }
                    t.insert("policies", Item::Table(group));
                }
                if let Some(Value::Str(b)) = a.get("permissions_boundary") {
                    t.insert("permissions_boundary", value(self.template(from, b)));
                }
                self.tags(&mut t, a);
                t.insert("adopt", value(true));
            }
            Kind::Policy => {
                self.literal(&mut t, a, "name");
                self.text_unless(&mut t, a, "path", "/");
                self.text_unless(&mut t, a, "description", "");
                self.policy_file(&mut t, from, a.get("document"), "document");
                self.tags(&mut t, a);
                t.insert("adopt", value(true));
            }
            Kind::InstanceProfile => {
                self.literal(&mut t, a, "name");
                self.text_unless(&mut t, a, "path", "/");
                if let Some(Value::Str(role)) = a.get("role") {
                    let role = match self.reference_to(from, Kind::Role, "name", role) {
                        Some(r) => r,
                        None => escape(role),
                    };
                    t.insert("role", value(role));
                }
                self.tags(&mut t, a);
                t.insert("adopt", value(true));
            }
            Kind::OidcProvider => {
                self.literal(&mut t, a, "url");
                if let Some(v) = a.get("client_ids") {
                    t.insert("client_ids", self.item(from, v));
                }
                if let Some(v) = a.get("thumbprints").filter(|v| !is_empty(v)) {
                    t.insert("thumbprints", self.item(from, v));
                }
                self.tags(&mut t, a);
                t.insert("adopt", value(true));
            }
            Kind::Key => self.key(&mut t, f),
            Kind::Queue => {
                self.literal(&mut t, a, "name");
                for field in [
                    "content_based_deduplication",
                    "visibility_timeout",
                    "message_retention",
                    "delay",
                    "max_message_size",
                    "receive_wait",
                ] {
                    let default = |v: &Value| {
                        QUEUE_DEFAULTS
                            .iter()
                            .any(|(f, d)| *f == field && d.as_ref() == Some(v))
                    };
                    if let Some(v) = a.get(field).filter(|v| !default(v)) {
                        t.insert(field, self.item(from, v));
                    }
                }
                if let Some(Value::Str(k)) = a.get("kms_key") {
                    let key = self
                        .reference_to(from, Kind::Key, "arn", k)
                        .or_else(|| self.reference_to(from, Kind::Key, "key_id", k))
                        .unwrap_or_else(|| self.template(from, k));
                    t.insert("kms_key", value(key));
                    if let Some(v) = a
                        .get("kms_data_key_reuse")
                        .filter(|v| **v != Value::Int(300))
                    {
                        t.insert("kms_data_key_reuse", self.item(from, v));
                    }
                } else if let Some(v @ Value::Bool(_)) = a.get("sqs_managed_sse") {
                    t.insert("sqs_managed_sse", self.item(from, v));
                }
                self.policy_file(&mut t, from, a.get("policy"), "policy");
                if let Some(v) = a.get("redrive") {
                    t.insert("redrive", self.item(from, v));
                }
                self.tags(&mut t, a);
                t.insert("adopt", value(true));
            }
            Kind::Function => self.function(&mut t, f),
            Kind::Bucket => self.bucket(&mut t, f),
        }
        t
    }

    fn key(&mut self, t: &mut Table, f: &Found) {
        let a = &f.live.attributes;
        let from = &f.address;
        t.insert("key_id", value(self.template(from, &f.requested)));
        t.insert("existing", value(true));
        self.shared_policy(t, from, a.get("policy"), "key policy");
    }

    /// The policy of an existing key or bucket, a shared document: plinth owns the statements
    /// it names by Sid and keeps the others, so the block declares those with a Sid it can
    /// name (letters and digits) and says which it leaves to their owner.
    fn shared_policy(&mut self, t: &mut Table, from: &Address, doc: Option<&Value>, what: &str) {
        let Some(Value::Policy(doc)) = doc else {
            self.policy_file(t, from, doc, "policy");
            return;
        };
        let (named, others): (Vec<_>, Vec<_>) = doc
            .statements()
            .iter()
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

    fn function(&mut self, t: &mut Table, f: &Found) {
        let a = &f.live.attributes;
        let from = &f.address;
        self.literal(t, a, "name");
        if let Some(Value::Str(role)) = a.get("role") {
            t.insert("role", value(self.template(from, role)));
        }
        // An image brings its own runtime and handler.
        let image = matches!(a.get("code"), Some(Value::Str(c)) if c.starts_with("image:"));
        if !image {
            for field in ["runtime", "handler"] {
                self.literal(t, a, field);
            }
        }
        match a.get("code") {
            Some(Value::Str(code)) if code.starts_with("image:") => {
                let mut code_table = InlineTable::new();
                code_table.insert("image", escape(&code["image:".len()..]).into());
                t.insert("code", value(code_table));
            }
            Some(Value::Str(code)) if code.starts_with("s3://") => {
                let (bucket, key) = code["s3://".len()..].split_once('/').unwrap_or((code, ""));
                let mut code_table = InlineTable::new();
                code_table.insert("s3_bucket", escape(bucket).into());
                code_table.insert("s3_key", escape(key).into());
                t.insert("code", value(code_table));
            }
            _ => {
                let file = format!("functions/{}.zip", f.live.physical_id);
                let mut code_table = InlineTable::new();
                code_table.insert("zip", file.as_str().into());
                t.insert("code", value(code_table));
                match &f.package {
                    Some(zip) => {
                        self.packages.insert(file, Arc::clone(zip));
                    }
                    None => self.notes.push(format!(
                        "{from}: put the function's deployment package at {file} (Lambda console: Actions, Export function, Download deployment package); plinth compares it with the live code by its SHA-256"
                    )),
                }
            }
        }
        for field in ["timeout", "memory"] {
            if let Some(v) = a.get(field) {
                t.insert(field, self.item(from, v));
            }
        }
        if let Some(Value::Map(environment)) = a.get("environment").filter(|v| !is_empty(v)) {
            let mut inline = InlineTable::new();
            let mut secrets = Vec::new();
            for (name, v) in environment {
                let Value::Str(text) = v else { continue };
                let text = self.template(from, text);
                if looks_secret(name) {
                    let mut secret = InlineTable::new();
                    secret.insert("secret", text.into());
                    inline.insert(name, secret.into());
                    secrets.push(name.as_str());
                } else {
                    inline.insert(name, text.into());
                }
            }
            t.insert("environment", value(inline));
            if !secrets.is_empty() {
                self.notes.push(format!(
                    "{from}: {} written as {{ secret = ... }} so that plinth never shows {}; the value is in plinth.toml: move it to a --var (`{{ secret = \"${{var.NAME}}\" }}`) before sharing the file",
                    secrets.join(", "),
                    if secrets.len() == 1 { "it" } else { "them" }
                ));
            }
        }
        self.text_unless(t, a, "description", "");
        if let Some(v) = a
            .get("architectures")
            .filter(|v| **v != Value::List(vec![Value::str("x86_64")]) && !is_empty(v))
        {
            t.insert("architectures", self.item(from, v));
        }
        if let Some(v) = a
            .get("ephemeral_storage")
            .filter(|v| **v != Value::Int(512))
        {
            t.insert("ephemeral_storage", self.item(from, v));
        }
        if let Some(v) = a.get("reserved_concurrency") {
            t.insert("reserved_concurrency", self.item(from, v));
        }
        if let Some(Value::Map(triggers)) = a.get("triggers").filter(|v| !is_empty(v)) {
            let mut list = toml_edit::ArrayOfTables::new();
            for (queue, settings) in triggers {
                let mut trigger = Table::new();
                let queue = self
                    .reference_to(from, Kind::Queue, "arn", queue)
                    .unwrap_or_else(|| self.template(from, queue));
                trigger.insert("queue", value(queue));
                if let Value::Map(settings) = settings {
                    for (k, v) in settings {
                        if !is_empty(v) {
                            trigger.insert(k, self.item(from, v));
                        }
                    }
                }
                list.push(trigger);
            }
            t.insert("trigger", Item::ArrayOfTables(list));
        }
        self.tags(t, a);
        t.insert("adopt", value(true));
    }

    fn bucket(&mut self, t: &mut Table, f: &Found) {
        let a = &f.live.attributes;
        let from = &f.address;
        self.literal(t, a, "name");
        t.insert("existing", value(true));
        self.shared_policy(t, from, a.get("policy"), "bucket policy");
        let cors = self.named_entries(from, a.get("cors"), "CORS rule");
        if !cors.is_empty() {
            let mut list = toml_edit::ArrayOfTables::new();
            for rule in cors {
                list.push(self.table(from, rule));
            }
            t.insert("cors", Item::ArrayOfTables(list));
        }
        if let Some(v) = a.get("public_access_block").filter(|v| {
            **v != crate::model::bucket::public_access_block(false, false, false, false)
        }) {
            t.insert("public_access_block", self.item(from, v));
        }
        if let Some(v) = a.get("encryption") {
            t.insert("encryption", self.item(from, v));
        }
        let entries = self.named_entries(from, a.get("notifications"), "notification");
        let mut list = toml_edit::ArrayOfTables::new();
        for entry in entries {
            let Value::Map(m) = entry else { continue };
            if m.contains_key("topic") || m.contains_key("eventbridge") {
                let note = format!(
                    "{from}: a notification to {} is not declared (plinth manages queue and function notifications); it is kept as it is",
                    if m.contains_key("topic") { "an SNS topic" } else { "EventBridge" }
                );
                self.notes.push(note);
                continue;
            }
            let mut table = Table::new();
            for (k, v) in m {
                let item = match (k.as_str(), v) {
                    ("queue", Value::Str(arn)) => value(
                        self.reference_to(from, Kind::Queue, "arn", arn)
                            .unwrap_or_else(|| self.template(from, arn)),
                    ),
                    ("function", Value::Str(arn)) => value(
                        self.reference_to(from, Kind::Function, "arn", arn)
                            .unwrap_or_else(|| self.template(from, arn)),
                    ),
                    _ => self.item(from, v),
                };
                table.insert(k, item);
            }
            list.push(table);
        }
        if !list.is_empty() {
            t.insert("notification", Item::ArrayOfTables(list));
        }
    }

    /// The entries of a shared bucket's collection (CORS rules, notifications) the block can
    /// declare: plinth owns exactly the entries it names by id, so one without an id it can
    /// record is left to its owner, with a note.
    fn named_entries<'v>(
        &mut self,
        from: &Address,
        v: Option<&'v Value>,
        what: &str,
    ) -> Vec<&'v Value> {
        let Some(Value::List(entries)) = v else {
            return Vec::new();
        };
        let (named, others): (Vec<&Value>, Vec<&Value>) = entries.iter().partition(|e| {
            crate::model::bucket::entry_id(e).is_some_and(crate::model::bucket::is_recordable_id)
                || matches!(e, Value::Map(m) if m.contains_key("eventbridge"))
        });
        if !others.is_empty() {
            self.notes.push(format!(
                "{from}: {} {what}{} without an id plinth can record {} kept as {} {} and not declared: plinth manages the {what}s of an existing bucket by id (letters, digits, `-`, `_`, `.`); give {} one to declare {}",
                others.len(),
                plural(others.len()),
                if others.len() == 1 { "is" } else { "are" },
                if others.len() == 1 { "it" } else { "they" },
                if others.len() == 1 { "is" } else { "are" },
                if others.len() == 1 { "it" } else { "them" },
                if others.len() == 1 { "it" } else { "them" },
            ));
        }
        named
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
        if s.starts_with("arn:") {
            let parts: Vec<&str> = s.splitn(6, ':').collect();
            if parts.len() == 6 {
                let region = if parts[3] == self.account.region && !parts[3].is_empty() {
                    "${aws.region}".to_string()
                } else {
                    parts[3].to_string()
                };
                let acct = if parts[4] == account {
                    "${aws.account_id}".to_string()
                } else {
                    parts[4].to_string()
                };
                return format!(
                    "{}:{}:{}:{region}:{acct}:{}",
                    parts[0],
                    parts[1],
                    parts[2],
                    escape(parts[5])
                );
            }
        }
        escape(s)
    }
}

/// SQS settings and AWS's defaults for them (`None`: always declared).
const QUEUE_DEFAULTS: &[(&str, Option<Value>)] = &[
    ("content_based_deduplication", Some(Value::Bool(false))),
    ("visibility_timeout", Some(Value::Int(30))),
    ("message_retention", Some(Value::Int(345_600))),
    ("delay", Some(Value::Int(0))),
    // 1 MiB since August 2025; 256 KiB before.
    ("max_message_size", Some(Value::Int(1_048_576))),
    ("max_message_size", Some(Value::Int(262_144))),
    ("receive_wait", Some(Value::Int(0))),
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Str(s) => s.is_empty(),
        _ => false,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A literal `${` written so that plinth reads it as text; IAM's own policy variables
/// (`${aws:username}`, with a `:`) are left as they are, as plinth leaves them.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let is_iam_variable = after
            .find('}')
            .is_some_and(|end| after[..end].contains(':'));
        out.push_str(if is_iam_variable { "${" } else { "$${" });
        rest = after;
    }
    out.push_str(rest);
    out
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

/// An environment variable whose name says it holds a secret.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE",
        "APIKEY",
        "API_KEY",
    ]
    .iter()
    .any(|word| upper.contains(word))
}
