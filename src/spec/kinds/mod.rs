//! Resource kinds: for each kind, everything plinth knows about it apart from AWS calls: its
//! spec fields, their rules, its desired attributes and what it exports to references.
//!
//! Each kind's spec implements [`KindSpec`] in its module; [`kinds!`] below is the one
//! registration of each kind: its `ResourceBody` variant, its spec and table structs.

pub mod block;
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

use crate::diag::{Diagnostics, Location};
use std::collections::BTreeMap;

use crate::model::{Address, Attributes, Kind};
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

/// What every kind's spec answers, each in its own module; [`ResourceBody`] hands each
/// question to its kind's.
pub(crate) trait KindSpec {
    /// Every templated string of the spec (for references and checks).
    fn texts(&self) -> Vec<&Text>;

    /// Each policy document: the attribute its kind's table lists it under, the name plans
    /// use for it (`policies.NAME` for a role's inline policy), and the document.
    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        Vec::new()
    }

    /// The rules AWS would enforce, checked before anything is sent.
    fn check(&self, checker: &Checker<'_>, diags: &mut Diagnostics);

    /// The text the spec names the resource with (what `${KIND.NAME.name}` stands for);
    /// `None` for a kind the spec does not name.
    fn name(&self) -> Option<&Text> {
        None
    }

    /// The IAM path the spec sets, for a kind whose ARN id is its path and name (`/` when
    /// it sets none).
    fn iam_path(&self) -> Option<&Text> {
        None
    }

    /// The text the id in its ARN is made of, as its kind's [`crate::model::ArnId`] says:
    /// its name, or an OIDC provider's issuer URL; `None` where AWS assigns the id.
    fn arn_id(&self) -> Option<&Text> {
        self.name()
    }

    /// The id the live read finds the resource by, before AWS has assigned anything: a role's
    /// name, a policy's ARN, a key's first alias. `Ok(None)` for a resource the spec gives no
    /// name (a key without aliases: it is found by its address tag); `Err` with the text that
    /// depends on a value known only after apply. By default its name, resolved.
    fn physical_id(&self, resolver: &Resolver<'_>) -> Result<Option<String>, &Text> {
        match self.name() {
            Some(name) => resolver.text(name).map(Some).ok_or(name),
            None => Ok(None),
        }
    }

    /// The resource is not plinth's to create (`existing = true`): plan fails if it does not
    /// exist, and plinth manages only the parts the block declares.
    fn must_exist(&self) -> bool {
        false
    }

    /// The declared attributes, resolved. Attributes the spec leaves out are absent, so
    /// whatever AWS fills in for them is never a difference.
    fn desired(&self, resolver: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes;

    /// Whether the resource has a value for an exported attribute that is one of its settings
    /// (a function's `timeout`). A setting the spec leaves out is unmanaged: AWS's value may
    /// change under plinth, so a reference to it is refused rather than guessed.
    fn declares_export(&self, attribute: &str) -> bool {
        let _ = attribute;
        true
    }

    /// An attribute other resources reference, if it is known before apply: deterministic
    /// ones from the spec, assigned ones from `live` (the resource as it exists now).
    fn export(
        &self,
        attribute: &str,
        resolver: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String>;
}

/// What `plinth import` knows of a kind besides its table: each kind's spec type has one, as
/// its `IMPORT` constant.
#[derive(Debug, Clone, Copy)]
pub struct ImportFacts {
    /// How a message names the kind: `managed policy`, `KMS key`.
    pub words: &'static str,
    /// The optional parts a read reads only when the spec declares them: import asks for all.
    pub optional_parts: &'static [&'static str],
    /// Where its blocks go in a written spec (lower first): what others reference first.
    pub write_rank: u8,
    /// The part of a physical id (a name, an ARN, a URL) a logical name is made from.
    pub name_part: fn(&str) -> &str,
    /// Writes the block of a found resource of the kind, each field as the spec declares it.
    pub write_block: fn(&block::Found, &mut dyn block::BlockWriter),
}

/// The whole id, for [`ImportFacts::name_part`].
fn whole_id(id: &str) -> &str {
    id
}

/// Receives, for each kind, the struct its `[KIND.NAME]` tables are deserialized into.
pub(crate) trait TableTypes {
    fn table<T: schemars::JsonSchema>(&mut self, kind: Kind);
}

/// The one registration of each kind's spec: `Kind: module::Spec(Raw)` makes the kind's
/// [`ResourceBody`] variant (named as its [`Kind`]), loads its tables with `module::load`
/// into `Spec`, answers through `Spec`'s [`KindSpec`], and gives `Raw`, the struct its tables
/// deserialize into, to the JSON Schema.
macro_rules! kinds {
    ($($kind:ident: $module:ident::$spec:ident($raw:ident)),* $(,)?) => {
        /// One resource's kind-specific spec, boxed: a large spec's map of resources moves
        /// its values as it grows, and the largest kind takes most of a kilobyte.
        #[derive(Debug)]
        pub enum ResourceBody {
            $($kind(Box<$module::$spec>)),*
        }

        impl ResourceBody {
            /// The kind of resource the body describes.
            pub fn kind(&self) -> Kind {
                match self {
                    $(ResourceBody::$kind(_) => Kind::$kind),*
                }
            }

            fn spec(&self) -> &dyn KindSpec {
                match self {
                    $(ResourceBody::$kind(spec) => &**spec),*
                }
            }
        }

        /// Loads one `[KIND.NAME]` table.
        pub(crate) fn load(
            kind: Kind,
            loader: &mut crate::spec::Loader,
            value: crate::spec::BlockValue<'_, '_>,
        ) -> Option<(ResourceBody, Lifecycle)> {
            match kind {
                $(Kind::$kind => $module::load(loader, value)
                    .map(|(body, lifecycle)| (ResourceBody::$kind(Box::new(body)), lifecycle))),*
            }
        }

        /// What `plinth import` knows of `kind` ([`ImportFacts`]).
        pub fn import_facts(kind: Kind) -> ImportFacts {
            match kind {
                $(Kind::$kind => $module::$spec::IMPORT),*
            }
        }

        /// Hands each kind's table struct to `each`, in the order of [`Kind::ALL`] (the JSON
        /// Schema's order of the spec's tables).
        pub(crate) fn each_table(each: &mut impl TableTypes) {
            for kind in Kind::ALL {
                match kind {
                    $(Kind::$kind => each.table::<$module::$raw>(*kind)),*
                }
            }
        }
    };
}

/// One error, at the second block, for each pair of blocks that name one AWS resource: they
/// would fight over it on every apply. IAM's names (roles, managed policies, instance
/// profiles) are unique whatever their case, so `app` and `App` are one role.
pub(crate) fn named_twice(
    resources: &BTreeMap<Address, crate::spec::Resource>,
    resolver: &Resolver<'_>,
    code: crate::diag::Code,
) -> Vec<crate::diag::Diagnostic> {
    let mut first: BTreeMap<(Kind, String), (&Address, String, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for resource in resources.values() {
        let Ok(Some(id)) = resource.body.physical_id(resolver) else {
            continue;
        };
        let kind = resource.kind();
        let any_case = matches!(kind, Kind::Role | Kind::Policy | Kind::InstanceProfile);
        // A managed policy's name is unique in the account whatever its path (CreatePolicy):
        // it is its ARN's last part, after the path.
        let full = id;
        let id = match kind {
            Kind::Policy => full.rsplit('/').next().unwrap_or(&full).to_string(),
            _ => full.clone(),
        };
        let claim = if any_case {
            id.to_lowercase()
        } else {
            id.clone()
        };
        match first.entry((kind, claim)) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert((&resource.address, id, full));
            }
            std::collections::btree_map::Entry::Occupied(e) => {
                let (address, first_id, first_full) = e.get();
                // One name under two paths: the same name, different ARNs.
                let other_path = *first_id == id && *first_full != full;
                let message = if other_path {
                    format!(
                        "{address} and {} both name policy `{id}`: a managed policy's name is unique in the account, whatever its path",
                        resource.address
                    )
                } else if *first_id == id {
                    format!("{address} and {} both name {kind} `{id}`", resource.address)
                } else {
                    format!(
                        "{address} and {} name one {kind}: IAM names ignore case, so `{first_id}` and `{id}` are the same {kind}",
                        resource.address
                    )
                };
                out.push(
                    crate::diag::Diagnostic::error(code, message)
                        .at_location(Some(resource.location.clone()))
                        .hint(if id.starts_with("alias/") {
                            format!("an alias names one key: give [{}] an alias of its own, or declare the key once in [{address}]", resource.address)
                        } else if other_path {
                            format!("give [{}] a name of its own, or declare the policy once in [{address}]", resource.address)
                        } else {
                            format!("declare each {kind} once; merge the settings into [{address}]")
                        }),
                );
            }
        }
    }
    out
}

kinds! {
    Role: role::RoleSpec(RawRole),
    Queue: queue::QueueSpec(RawQueue),
    Function: function::FunctionSpec(RawFunction),
    Bucket: bucket::BucketSpec(RawBucket),
    Policy: policy::PolicySpec(RawPolicy),
    InstanceProfile: instance_profile::InstanceProfileSpec(RawInstanceProfile),
    OidcProvider: oidc_provider::OidcProviderSpec(RawOidcProvider),
    Key: key::KeySpec(RawKey),
}

/// A resource's single policy document under `attribute`, for [`KindSpec::documents`].
fn single_document<'a>(
    attribute: &'static str,
    document: &'a Option<PolicyTemplate>,
) -> Vec<(&'static str, String, &'a PolicyTemplate)> {
    (document.iter())
        .map(|p| (attribute, attribute.to_string(), p))
        .collect()
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
        self.spec().texts()
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

    /// Each policy document ([`KindSpec::documents`]).
    pub(crate) fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        self.spec().documents()
    }

    /// The rules AWS would enforce, checked before anything is sent.
    pub fn check(&self, checker: &Checker<'_>, diags: &mut Diagnostics) {
        self.spec().check(checker, diags)
    }

    /// The text the spec names the resource with ([`KindSpec::name`]).
    pub fn name(&self) -> Option<&Text> {
        self.spec().name()
    }

    /// The IAM path the spec sets ([`KindSpec::iam_path`]).
    pub fn iam_path(&self) -> Option<&Text> {
        self.spec().iam_path()
    }

    /// The text the id in its ARN is made of ([`KindSpec::arn_id`]).
    pub fn arn_id(&self) -> Option<&Text> {
        self.spec().arn_id()
    }

    /// The id the live read finds the resource by ([`KindSpec::physical_id`]).
    pub fn physical_id(&self, resolver: &Resolver<'_>) -> Result<Option<String>, &Text> {
        self.spec().physical_id(resolver)
    }

    /// The resource is not plinth's to create (`existing = true`).
    pub fn must_exist(&self) -> bool {
        self.spec().must_exist()
    }

    /// The declared attributes, resolved ([`KindSpec::desired`]).
    pub fn desired(&self, resolver: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        self.spec().desired(resolver, diags)
    }

    /// Whether the resource has a value for an exported setting
    /// ([`KindSpec::declares_export`]).
    pub fn declares_export(&self, attribute: &str) -> bool {
        self.spec().declares_export(attribute)
    }

    /// An attribute other resources reference, if it is known before apply
    /// ([`KindSpec::export`]).
    pub fn export(
        &self,
        attribute: &str,
        resolver: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        self.spec().export(attribute, resolver, live)
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

    /// Import writes each kind's blocks in a place of their own, and names a found resource
    /// from the part of its id each kind says.
    #[test]
    fn import_places_each_kind_apart_and_names_it_from_its_id() {
        let facts = super::import_facts;
        let ranks: BTreeSet<u8> = Kind::ALL.iter().map(|k| facts(*k).write_rank).collect();
        assert_eq!(ranks.len(), Kind::ALL.len());
        let part = |kind, id| (facts(kind).name_part)(id);
        assert_eq!(
            part(Kind::Policy, "arn:aws:iam::1:policy/team/read"),
            "read"
        );
        assert_eq!(
            part(
                Kind::OidcProvider,
                "https://token.actions.githubusercontent.com/x"
            ),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(
            part(Kind::Key, "arn:aws:kms:eu-west-1:1:alias/data"),
            "data"
        );
        assert_eq!(part(Kind::Queue, "work"), "work");
        assert_eq!(facts(Kind::Key).words, "KMS key");
    }

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
