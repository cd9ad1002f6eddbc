//! Resource kinds: for each kind, everything plinth knows about it apart from AWS calls: its
//! spec fields, their rules, its desired attributes and what it exports to references.
//!
//! Adding a kind means a module here, an adapter in `aws/`, a variant of [`Kind`] and of
//! [`ResourceBody`], and one arm in each `match` below and in `aws::dispatch`.

pub mod bucket;
pub mod common;
pub mod function;
pub mod instance_profile;
pub mod key;
pub mod oidc_provider;
pub mod policy;
pub mod queue;
pub mod role;
pub mod shared;

use crate::spec::Located;
use toml::de::DeValue;

use crate::diag::{Diagnostics, Location};
use crate::model::{Attributes, Kind};
use crate::policy::DocumentKind;
use crate::spec::resolve::Resolver;
use crate::spec::rules::Checker;
use crate::spec::{PolicyTemplate, Text};
use crate::state::LiveResource;

/// Fields every kind takes besides its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lifecycle {
    /// Take over a resource of the same name that no stack owns (tagging it on apply).
    pub adopt: bool,
    /// Refuse any plan that would delete or replace the resource.
    pub prevent_destroy: bool,
}

/// One resource's kind-specific spec.
// One value per resource in the spec, built once: boxing the larger kinds would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ResourceBody {
    Role(role::RoleSpec),
    Queue(queue::QueueSpec),
    Function(function::FunctionSpec),
    Bucket(bucket::BucketSpec),
    Policy(policy::PolicySpec),
    InstanceProfile(instance_profile::InstanceProfileSpec),
    OidcProvider(oidc_provider::OidcProviderSpec),
    Key(key::KeySpec),
}

/// Receives, for each kind, the struct its `[KIND.NAME]` tables are deserialized into.
pub(crate) trait TableTypes {
    fn table<T: schemars::JsonSchema>(&mut self, kind: Kind);
}

/// Hands each kind's table struct to `each`, in the order of [`Kind::ALL`] (the JSON Schema's
/// order of the spec's tables).
pub(crate) fn each_table(each: &mut impl TableTypes) {
    for kind in Kind::ALL {
        match kind {
            Kind::Role => each.table::<role::RawRole>(*kind),
            Kind::Policy => each.table::<policy::RawPolicy>(*kind),
            Kind::InstanceProfile => each.table::<instance_profile::RawInstanceProfile>(*kind),
            Kind::OidcProvider => each.table::<oidc_provider::RawOidcProvider>(*kind),
            Kind::Key => each.table::<key::RawKey>(*kind),
            Kind::Queue => each.table::<queue::RawQueue>(*kind),
            Kind::Function => each.table::<function::RawFunction>(*kind),
            Kind::Bucket => each.table::<bucket::RawBucket>(*kind),
        }
    }
}

/// Loads one `[KIND.NAME]` table.
pub(crate) fn load(
    kind: Kind,
    loader: &mut crate::spec::Loader,
    value: toml::Spanned<DeValue<'_>>,
) -> Option<(ResourceBody, Lifecycle)> {
    match kind {
        Kind::Role => role::load(loader, value).map(|(b, l)| (ResourceBody::Role(b), l)),
        Kind::Queue => queue::load(loader, value).map(|(b, l)| (ResourceBody::Queue(b), l)),
        Kind::Function => {
            function::load(loader, value).map(|(b, l)| (ResourceBody::Function(b), l))
        }
        Kind::Bucket => bucket::load(loader, value).map(|(b, l)| (ResourceBody::Bucket(b), l)),
        Kind::Policy => policy::load(loader, value).map(|(b, l)| (ResourceBody::Policy(b), l)),
        Kind::InstanceProfile => instance_profile::load(loader, value)
            .map(|(b, l)| (ResourceBody::InstanceProfile(b), l)),
        Kind::OidcProvider => {
            oidc_provider::load(loader, value).map(|(b, l)| (ResourceBody::OidcProvider(b), l))
        }
        Kind::Key => key::load(loader, value).map(|(b, l)| (ResourceBody::Key(b), l)),
    }
}

/// An export AWS assigns (a queue's URL, a role's unique id): known once the resource exists
/// under `name`.
fn assigned_export(live: Option<&LiveResource>, name: &str, attribute: &str) -> Option<String> {
    live.filter(|l| l.physical_id == name)
        .and_then(|l| l.exports.get(attribute).cloned())
}

/// A whole number from the spec, with where it was written (for range errors).
fn int(loader: &crate::spec::Loader, value: &Option<Located<i64>>) -> Option<(i64, Location)> {
    value
        .as_ref()
        .map(|v| (*v.get_ref(), loader.location(v.span())))
}

impl ResourceBody {
    /// Every templated string of the spec (for references and checks).
    pub fn texts(&self) -> Vec<&Text> {
        match self {
            ResourceBody::Role(r) => r.texts(),
            ResourceBody::Queue(q) => q.texts(),
            ResourceBody::Function(f) => f.texts(),
            ResourceBody::Bucket(b) => b.texts(),
            ResourceBody::Policy(p) => p.texts(),
            ResourceBody::InstanceProfile(p) => p.texts(),
            ResourceBody::OidcProvider(p) => p.texts(),
            ResourceBody::Key(k) => k.texts(),
        }
    }

    pub fn policies(&self) -> Vec<&PolicyTemplate> {
        self.policy_documents()
            .into_iter()
            .map(|(_, p, _)| p)
            .collect()
    }

    /// Each policy document with the name plans use for it and what kind of document it is,
    /// as the kind's table of attributes says.
    pub fn policy_documents(&self) -> Vec<(String, &PolicyTemplate, DocumentKind)> {
        let kind = self.kind();
        let document = |attribute: &str| {
            let column = kind.policy_document(attribute);
            column.unwrap_or_else(|| panic!("{kind}.{attribute} is not a policy in its table"))
        };
        (self.documents().into_iter())
            .map(|(attribute, name, template)| (name, template, document(attribute).document))
            .collect()
    }

    /// Each policy document: the attribute its kind's table lists it under, the name plans
    /// use for it (`policies.NAME` for a role's inline policy), and the document.
    pub(crate) fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        fn single<'a>(
            attribute: &'static str,
            p: &'a Option<PolicyTemplate>,
        ) -> Vec<(&'static str, String, &'a PolicyTemplate)> {
            (p.iter())
                .map(|p| (attribute, attribute.to_string(), p))
                .collect()
        }
        match self {
            ResourceBody::Role(r) => r.policy_documents(),
            ResourceBody::Queue(q) => single("policy", &q.policy),
            ResourceBody::Bucket(b) => single("policy", &b.policy),
            ResourceBody::Key(k) => single("policy", &k.policy),
            ResourceBody::Policy(p) => vec![("document", "document".into(), &p.document)],
            ResourceBody::Function(_)
            | ResourceBody::InstanceProfile(_)
            | ResourceBody::OidcProvider(_) => Vec::new(),
        }
    }

    /// The kind of resource the body describes.
    pub fn kind(&self) -> Kind {
        match self {
            ResourceBody::Role(_) => Kind::Role,
            ResourceBody::Queue(_) => Kind::Queue,
            ResourceBody::Function(_) => Kind::Function,
            ResourceBody::Bucket(_) => Kind::Bucket,
            ResourceBody::Policy(_) => Kind::Policy,
            ResourceBody::InstanceProfile(_) => Kind::InstanceProfile,
            ResourceBody::OidcProvider(_) => Kind::OidcProvider,
            ResourceBody::Key(_) => Kind::Key,
        }
    }

    /// The rules AWS would enforce, checked before anything is sent.
    pub fn check(&self, checker: &Checker<'_>, diags: &mut Diagnostics) {
        match self {
            ResourceBody::Role(r) => r.check(checker, diags),
            ResourceBody::Queue(q) => q.check(checker, diags),
            ResourceBody::Function(f) => f.check(checker, diags),
            ResourceBody::Bucket(b) => b.check(checker, diags),
            ResourceBody::Policy(p) => p.check(checker, diags),
            ResourceBody::InstanceProfile(p) => p.check(checker, diags),
            ResourceBody::OidcProvider(p) => p.check(checker, diags),
            ResourceBody::Key(k) => k.check(checker, diags),
        }
    }

    /// The id the live read finds the resource by, before AWS has assigned anything: a role's
    /// name, a policy's ARN, a key's first alias. `Ok(None)` for a resource the spec gives no
    /// name (a key without aliases: it is found by its address tag); `Err` with the text that
    /// depends on a value known only after apply.
    pub fn physical_id(&self, resolver: &Resolver<'_>) -> Result<Option<String>, &Text> {
        match self {
            ResourceBody::Role(r) => resolver.text(&r.name).map(Some).ok_or(&r.name),
            ResourceBody::Queue(q) => resolver.text(&q.name).map(Some).ok_or(&q.name),
            ResourceBody::Function(f) => resolver.text(&f.name).map(Some).ok_or(&f.name),
            ResourceBody::Bucket(b) => resolver.text(&b.name).map(Some).ok_or(&b.name),
            ResourceBody::Policy(p) => p.physical_id(resolver).map(Some),
            ResourceBody::InstanceProfile(p) => resolver.text(&p.name).map(Some).ok_or(&p.name),
            ResourceBody::OidcProvider(p) => p.physical_id(resolver).map(Some),
            ResourceBody::Key(k) => k.physical_id(resolver),
        }
    }

    /// The resource is not plinth's to create (`existing = true`): plan fails if it does not
    /// exist, and plinth manages only the parts the block declares.
    pub fn must_exist(&self) -> bool {
        match self {
            ResourceBody::Bucket(b) => b.existing,
            ResourceBody::Role(r) => r.existing,
            ResourceBody::Key(k) => k.existing,
            ResourceBody::Queue(q) => q.existing,
            _ => false,
        }
    }

    /// The declared attributes, resolved. Attributes the spec leaves out are absent, so
    /// whatever AWS fills in for them is never a difference.
    pub fn desired(&self, resolver: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        match self {
            ResourceBody::Role(r) => r.desired(resolver, diags),
            ResourceBody::Queue(q) => q.desired(resolver, diags),
            ResourceBody::Function(f) => f.desired(resolver, diags),
            ResourceBody::Bucket(b) => b.desired(resolver, diags),
            ResourceBody::Policy(p) => p.desired(resolver, diags),
            ResourceBody::InstanceProfile(p) => p.desired(resolver, diags),
            ResourceBody::OidcProvider(p) => p.desired(resolver, diags),
            ResourceBody::Key(k) => k.desired(resolver, diags),
        }
    }

    /// Whether the resource has a value for an exported attribute that is one of its settings
    /// (a function's `timeout`). A setting the spec leaves out is unmanaged: AWS's value may
    /// change under plinth, so a reference to it is refused rather than guessed.
    pub fn declares_export(&self, attribute: &str) -> bool {
        match self {
            ResourceBody::Function(f) => function::declares_export(f, attribute),
            ResourceBody::Queue(q) => {
                attribute != "visibility_timeout" || q.visibility_timeout.is_some()
            }
            _ => true,
        }
    }

    /// An attribute other resources reference, if it is known before apply: deterministic
    /// ones from the spec, assigned ones from `live` (the resource as it exists now).
    pub fn export(
        &self,
        attribute: &str,
        resolver: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        match self {
            ResourceBody::Role(r) => r.export(attribute, resolver, live),
            ResourceBody::Queue(q) => q.export(attribute, resolver, live),
            ResourceBody::Function(f) => f.export(attribute, resolver, live),
            ResourceBody::Bucket(b) => b.export(attribute, resolver),
            ResourceBody::Policy(p) => p.export(attribute, resolver, live),
            ResourceBody::InstanceProfile(p) => p.export(attribute, resolver, live),
            ResourceBody::OidcProvider(p) => p.export(attribute, resolver, live),
            ResourceBody::Key(k) => k.export(attribute, resolver, live),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::model::Kind;
    use crate::spec::LoadOptions;

    /// One document of each kind that holds any: a role's trust and inline policy, a managed
    /// policy's document, a key, queue and bucket policy.
    const EVERY_DOCUMENT: &str = r#"
[stack]
name = "every-document"

[role.r]
name = "r"
trust = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'

[role.r.policies.read]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "sqs:ReceiveMessage", Resource = "${queue.q.arn}" }]

[policy.p]
name = "p"
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::every-document-bucket/*"}]}'

[key.k]
policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "${aws.caller_arn}"}, "Action": "kms:*", "Resource": "*"}]}'

[queue.q]
name = "q"
policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "${role.r.arn}"}, "Action": "sqs:SendMessage", "Resource": "*"}]}'

[bucket.b]
name = "every-document-bucket"
policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "${role.r.arn}"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::every-document-bucket/*"}]}'
"#;

    /// Every policy document a kind's spec holds is a policy row of the kind's table, and
    /// every such row is a document some spec can hold: a kind registered without its
    /// documents' rows (their lints and size limits) fails here, not in a user's plan.
    #[test]
    fn every_policy_document_is_a_row_of_its_kinds_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, EVERY_DOCUMENT).unwrap();
        let spec = crate::spec::load(&path, &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let mut held = BTreeSet::new();
        for resource in spec.resources.values() {
            let kind = resource.kind();
            let documents = resource.body.policy_documents();
            for ((attribute, name, _), (_, _, document)) in
                resource.body.documents().into_iter().zip(documents)
            {
                let column = kind.policy_document(attribute);
                assert_eq!(column.map(|c| c.document), Some(document), "{kind}.{name}");
                held.insert((kind, attribute));
            }
        }
        let rows: BTreeSet<(Kind, &str)> = (Kind::ALL.iter())
            .flat_map(|k| k.attributes().iter().map(move |a| (*k, a)))
            .filter(|(_, a)| a.policy.is_some())
            .map(|(k, a)| (k, a.name))
            .collect();
        assert_eq!(held, rows);
    }
}
