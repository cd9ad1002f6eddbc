//! The least-privilege IAM policy for the identity that runs plinth on a spec: only the actions
//! plinth calls for the kinds the spec uses ([`crate::aws::actions`], kept next to the calls),
//! each granted on the narrowest resources AWS lets a policy name.
//!
//! Pure: made from the spec alone, without AWS. The account and region are `*` unless given.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};

use crate::aws::{self, KindActions};
use crate::model::{Address, Kind, STACK_TAG};
use crate::spec::template::{render, AwsFact, Reference};
use crate::spec::{ResourceBody, Spec, Text};

/// Where the policy will be used; `*` where unknown.
#[derive(Debug, Clone)]
pub struct Target {
    pub partition: String,
    pub account_id: String,
    pub region: String,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            partition: "aws".into(),
            account_id: "*".into(),
            region: "*".into(),
        }
    }
}

/// The identity policy plinth needs to plan, apply and destroy `spec`.
pub fn policy(spec: &Spec, target: &Target) -> Json {
    let arns = Arns { spec, target };
    let mut statements = Vec::new();
    let mut kinds: Vec<Kind> = spec.resources.keys().map(|a| a.kind).collect();
    kinds.dedup();
    for kind in kinds {
        let actions = aws::actions(kind);
        let name = kind_sid(kind);
        let addresses: Vec<&Address> = spec.resources.keys().filter(|a| a.kind == kind).collect();
        statements.extend(on_resources(&arns, kind, &name, actions, &addresses));
        if !actions.by_condition.is_empty() {
            let mut scope: Vec<String> = addresses.iter().filter_map(|a| arns.of(a)).collect();
            scope.sort();
            statements.push(json!({
                "Sid": format!("{name}CallsOnResourcesWithoutKnownArns"),
                "Effect": "Allow",
                "Action": actions.by_condition,
                "Resource": "*",
                "Condition": { "ArnLike": { actions.scope_key: scope } },
            }));
        }
        if !actions.elsewhere.is_empty() {
            let resources: BTreeSet<String> = actions
                .elsewhere
                .iter()
                .map(|(_, r)| arns.arn("iam", false, r))
                .collect();
            statements.push(json!({
                "Sid": format!("{name}CallsOnOtherIamResources"),
                "Effect": "Allow",
                "Action": actions.elsewhere.iter().map(|(a, _)| *a).collect::<BTreeSet<_>>(),
                "Resource": resources,
            }));
        }
        if !actions.before_creation.is_empty() {
            statements.push(json!({
                "Sid": format!("{name}CreateTaggedBeforeItHasAnArn"),
                "Effect": "Allow",
                "Action": actions.before_creation,
                "Resource": "*",
                "Condition": { "StringEquals": { format!("aws:RequestTag/{STACK_TAG}"): spec.stack.name } },
            }));
        }
    }
    // Every plan looks for resources of every kind the stack owns, in the spec or not.
    let listings: BTreeSet<&str> = Kind::ALL
        .iter()
        .flat_map(|k| aws::actions(*k).account_wide.iter().copied())
        .collect();
    statements.push(json!({
        "Sid": "FindWhatTheStackOwnsByListingEveryKind",
        "Effect": "Allow",
        "Action": listings,
        "Resource": "*",
    }));
    if let Some(lock) = &spec.stack.lock {
        let objects = [&lock.key, &crate::aws::index::key_for(lock)]
            .map(|key| format!("arn:{}:s3:::{}/{key}", target.partition, lock.bucket));
        statements.push(json!({
            "Sid": "StackLockAndIndex",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": objects,
        }));
    }
    let passed: Vec<String> = passed_roles(spec, &arns);
    if !passed.is_empty() {
        statements.push(json!({
            "Sid": "PassRolesToFunctionsAndInstanceProfiles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": passed,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The grants on the resources themselves: those the spec names, and (where the service
/// supports conditions on resource tags) any resource the stack owns, so that one that left
/// the spec can still be deleted.
fn on_resources(
    arns: &Arns<'_>,
    kind: Kind,
    name: &str,
    actions: &KindActions,
    addresses: &[&Address],
) -> Vec<Json> {
    let owned =
        json!({ "StringEquals": { format!("aws:ResourceTag/{STACK_TAG}"): arns.spec.stack.name } });
    let mut out = Vec::new();
    match kind {
        Kind::Key => {
            // A key's ARN holds the id KMS assigns, so keys are known by their stack tag.
            out.push(json!({
                "Sid": format!("{name}OwnedByTheStack"),
                "Effect": "Allow",
                "Action": actions.on_resource,
                "Resource": arns.type_wide(kind),
                "Condition": owned,
            }));
            let aliases: Vec<String> = addresses
                .iter()
                .filter_map(|a| match &arns.spec.resources[*a].body {
                    ResourceBody::Key(k) => k.aliases.as_ref(),
                    _ => None,
                })
                .flatten()
                .map(|alias| arns.arn("kms", true, &arns.text(alias)))
                .collect();
            if !aliases.is_empty() {
                out.push(json!({
                    "Sid": format!("{name}Aliases"),
                    "Effect": "Allow",
                    "Action": ["kms:CreateAlias", "kms:DeleteAlias"],
                    "Resource": aliases,
                }));
            }
        }
        _ => {
            let mut resources: Vec<String> = addresses.iter().filter_map(|a| arns.of(a)).collect();
            if kind == Kind::Bucket {
                // Emptying a bucket deletes its objects.
                resources.extend(resources.clone().into_iter().map(|b| format!("{b}/*")));
            }
            resources.sort();
            resources.dedup();
            out.push(json!({
                "Sid": format!("{name}NamedInTheSpec"),
                "Effect": "Allow",
                "Action": actions.on_resource,
                "Resource": resources,
            }));
            // S3 cannot condition bucket calls on the bucket's tags: a bucket that left the
            // spec is deleted with the grants of the spec that still named it.
            if kind != Kind::Bucket {
                out.push(json!({
                    "Sid": format!("{name}OwnedByTheStack"),
                    "Effect": "Allow",
                    "Action": actions.on_resource,
                    "Resource": arns.type_wide(kind),
                    "Condition": owned,
                }));
            }
        }
    }
    out
}

/// The roles the spec's functions run as and its instance profiles hold.
fn passed_roles(spec: &Spec, arns: &Arns<'_>) -> Vec<String> {
    let mut roles: Vec<String> = spec
        .resources
        .values()
        .filter_map(|r| match &r.body {
            ResourceBody::Function(f) => Some(arns.text(&f.role)),
            ResourceBody::InstanceProfile(p) => p
                .role
                .as_ref()
                .map(|role| arns.arn("iam", false, &format!("role/{}", arns.text(role)))),
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// `PlinthRole`, `PlinthInstanceProfile`: Sids are letters and digits only.
fn kind_sid(kind: Kind) -> String {
    let words = kind.as_str().split('_').map(|w| {
        let mut chars = w.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    });
    format!("Plinth{}", words.collect::<String>())
}

/// ARNs of the spec's resources, with what is only known later left as `*`.
struct Arns<'a> {
    spec: &'a Spec,
    target: &'a Target,
}

impl Arns<'_> {
    fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        let region = if regional {
            self.target.region.as_str()
        } else {
            ""
        };
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.target.partition, self.target.account_id
        )
    }

    /// Every resource of a kind in the account.
    fn type_wide(&self, kind: Kind) -> String {
        match kind {
            Kind::Role => self.arn("iam", false, "role/*"),
            Kind::Policy => self.arn("iam", false, "policy/*"),
            Kind::InstanceProfile => self.arn("iam", false, "instance-profile/*"),
            Kind::OidcProvider => self.arn("iam", false, "oidc-provider/*"),
            Kind::Queue => self.arn("sqs", true, "*"),
            Kind::Function => self.arn("lambda", true, "function:*"),
            Kind::Bucket => format!("arn:{}:s3:::*", self.target.partition),
            Kind::Key => self.arn("kms", true, "key/*"),
        }
    }

    /// A resource's ARN; `None` for a key, whose ARN holds the id KMS assigns.
    fn of(&self, address: &Address) -> Option<String> {
        self.arn_of(address, 0)
    }

    fn arn_of(&self, address: &Address, depth: usize) -> Option<String> {
        let text = |t: &Text| self.text_at(t, depth + 1);
        let iam_path = |path: &Option<Text>| path.as_ref().map_or_else(|| "/".to_string(), text);
        Some(match &self.spec.resources.get(address)?.body {
            ResourceBody::Role(r) => self.arn(
                "iam",
                false,
                &format!("role{}{}", iam_path(&r.path), text(&r.name)),
            ),
            ResourceBody::Policy(p) => self.arn(
                "iam",
                false,
                &format!("policy{}{}", iam_path(&p.path), text(&p.name)),
            ),
            ResourceBody::InstanceProfile(p) => self.arn(
                "iam",
                false,
                &format!("instance-profile{}{}", iam_path(&p.path), text(&p.name)),
            ),
            ResourceBody::OidcProvider(p) => self.arn(
                "iam",
                false,
                &format!(
                    "oidc-provider/{}",
                    text(&p.url).trim_start_matches("https://")
                ),
            ),
            ResourceBody::Queue(q) => self.arn("sqs", true, &text(&q.name)),
            ResourceBody::Function(f) => {
                self.arn("lambda", true, &format!("function:{}", text(&f.name)))
            }
            ResourceBody::Bucket(b) => {
                format!("arn:{}:s3:::{}", self.target.partition, text(&b.name))
            }
            ResourceBody::Key(_) => return None,
        })
    }

    fn name_of(&self, address: &Address, depth: usize) -> Option<String> {
        let name = match &self.spec.resources.get(address)?.body {
            ResourceBody::Role(r) => &r.name,
            ResourceBody::Policy(p) => &p.name,
            ResourceBody::InstanceProfile(p) => &p.name,
            ResourceBody::Queue(q) => &q.name,
            ResourceBody::Function(f) => &f.name,
            ResourceBody::Bucket(b) => &b.name,
            ResourceBody::OidcProvider(_) | ResourceBody::Key(_) => return None,
        };
        Some(self.text_at(name, depth + 1))
    }

    /// A spec string with its references filled in as far as they are known without AWS.
    fn text(&self, text: &Text) -> String {
        self.text_at(text, 0)
    }

    /// Names may refer to other resources' names; `depth` stops a name that refers to itself.
    fn text_at(&self, text: &Text, depth: usize) -> String {
        const MAX_DEPTH: usize = 8;
        if depth > MAX_DEPTH {
            return "*".to_string();
        }
        render(&text.pieces, |r| {
            Some(match r {
                Reference::Var(name) => self
                    .spec
                    .vars
                    .get(name)
                    .map_or_else(|| "*".to_string(), |v| v.value.clone()),
                Reference::Aws(AwsFact::AccountId) => self.target.account_id.clone(),
                Reference::Aws(AwsFact::Region) => self.target.region.clone(),
                Reference::Aws(AwsFact::Partition) => self.target.partition.clone(),
                Reference::Resource { address, attribute } => match attribute.as_str() {
                    "arn" => self.arn_of(address, depth),
                    "name" => self.name_of(address, depth),
                    _ => None,
                }
                .unwrap_or_else(|| "*".to_string()),
            })
        })
        .unwrap_or_else(|| "*".to_string())
    }
}
