//! The least-privilege IAM policy for the identity that runs plinth on a spec: only the actions
//! plinth calls for the kinds the spec uses ([`crate::aws::actions`], kept next to the calls),
//! each granted on the narrowest resources AWS lets a policy name.
//!
//! Pure: made from the spec alone, without AWS. The account and region are `*` unless given.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};

use crate::aws::{self, KindActions};
use crate::model::{oidc_provider_id, Address, ArnId, ArnScope, Kind, STACK_TAG};
use crate::spec::kinds::role::RoleSpec;
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

/// The ARN a resource of `spec` has in `target`, as the printed policy names it.
pub fn arn_of(spec: &Spec, target: &Target, address: &Address) -> Option<String> {
    Arns { spec, target }.of(address)
}

/// The identity policy plinth needs to plan, apply and destroy `spec`.
pub fn policy(spec: &Spec, target: &Target) -> Json {
    let arns = Arns { spec, target };
    let mut statements = Vec::new();
    let mut kinds: Vec<Kind> = spec.resources.keys().map(|a| a.kind).collect();
    kinds.dedup();
    let kinds_declared: BTreeSet<Kind> = kinds.iter().copied().collect();
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
        // A call on another IAM resource is granted only where the spec declares resources of
        // that type, on those and on the ones the stack owns: deleting a role takes it out of
        // the stack's instance profiles, never out of anyone else's.
        let elsewhere: Vec<&(&str, &str)> = actions
            .elsewhere
            .iter()
            .filter(|(_, r)| other_kind(r).is_some_and(|k| kinds_declared.contains(&k)))
            .collect();
        if !elsewhere.is_empty() {
            let mut resources: BTreeSet<String> = BTreeSet::new();
            for (_, pattern) in &elsewhere {
                let other = other_kind(pattern).expect("filtered above");
                resources.extend(
                    spec.resources
                        .keys()
                        .filter(|a| a.kind == other)
                        .filter_map(|a| arns.of(a)),
                );
            }
            statements.push(json!({
                "Sid": format!("{name}CallsOnOtherIamResources"),
                "Effect": "Allow",
                "Action": elsewhere.iter().map(|(a, _)| *a).collect::<BTreeSet<_>>(),
                "Resource": resources,
            }));
        }
        let creates = addresses
            .iter()
            .any(|a| !spec.resources[*a].body.must_exist());
        if !actions.before_creation.is_empty() && creates {
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
            .map(|key| arns.of_kind(Kind::Bucket, &format!("{}/{key}", lock.bucket)));
        statements.push(json!({
            "Sid": "StackLockAndIndex",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": objects,
        }));
    }
    // A session's ARN leaves its role's path out; `${aws.caller_arn}`, and the identity a
    // key's lockout check looks for, is the role's ARN as GetRole gives it (IAM Identity
    // Center's roles live under a path). The role's name is known only at plan, so every
    // role of the account may be read.
    if spec.needs_caller_role() {
        statements.push(json!({
            "Sid": "NameTheRoleRunningPlinth",
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": arns.type_wide(Kind::Role),
        }));
    }
    let (to_functions, to_profiles) = passed_roles(spec, &arns);
    if !to_functions.is_empty() {
        statements.push(json!({
            "Sid": "PassRolesToLambda",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": to_functions,
            "Condition": { "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } },
        }));
    }
    if !to_profiles.is_empty() {
        // AddRoleToInstanceProfile checks iam:PassRole on the role, and AWS documents no
        // iam:PassedToService value for it: the grant names exactly the roles the spec's
        // instance profiles hold instead.
        statements.push(json!({
            "Sid": "PassRolesToInstanceProfiles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": to_profiles,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The grants on the resources themselves: those the spec names, and (where the service
/// supports conditions on resource tags) any resource the stack owns, so that one that left
/// the spec can still be deleted.
/// Keys the stack shares with their owners (`existing = true`): reading and writing the key
/// policy and the stack's own record tag, nothing else; never creating, disabling or
/// scheduling the deletion of the key. A key named by alias is granted through the
/// `kms:ResourceAliases` condition, since its ARN holds an id plinth does not know.
fn shared_key_statements(arns: &Arns<'_>, name: &str, addresses: &[&Address]) -> Vec<Json> {
    let mut by_arn: BTreeSet<String> = BTreeSet::new();
    let mut by_alias: BTreeSet<String> = BTreeSet::new();
    for address in addresses {
        let ResourceBody::Key(key) = &arns.spec.resources[*address].body else {
            continue;
        };
        let Some(id) = key.key_id.as_ref().filter(|_| key.existing) else {
            continue;
        };
        let id = arns.text(id);
        if id.starts_with("arn:") {
            by_arn.insert(id);
        } else if id.starts_with("alias/") {
            by_alias.insert(id);
        } else {
            by_arn.insert(arns.of_kind(Kind::Key, &id));
        }
    }
    if by_arn.is_empty() && by_alias.is_empty() {
        return Vec::new();
    }
    let actions = [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:ListResourceTags",
        "kms:TagResource",
        "kms:UntagResource",
    ];
    let record = format!(
        "{}{}*",
        crate::model::shared::SHARES_TAG_PREFIX,
        arns.spec.stack.name
    );
    let mut out = Vec::new();
    let scopes: [(&str, Json, Option<Json>); 2] = [
        ("ByArn", json!(by_arn), None),
        (
            "ByAlias",
            json!(arns.type_wide(Kind::Key)),
            Some(json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": by_alias } })),
        ),
    ];
    for (suffix, resource, condition) in scopes {
        let empty = match suffix {
            "ByArn" => by_arn.is_empty(),
            _ => by_alias.is_empty(),
        };
        if empty {
            continue;
        }
        let mut statement = json!({
            "Sid": format!("{name}SharedWithItsOwner{suffix}"),
            "Effect": "Allow",
            "Action": &actions[..4],
            "Resource": resource,
        });
        if let Some(c) = &condition {
            statement["Condition"] = c.clone();
        }
        out.push(statement);
        // Only the stack's own record among the key's tags.
        let mut tagging = json!({
            "Sid": format!("{name}SharedRecordTag{suffix}"),
            "Effect": "Allow",
            "Action": &actions[4..],
            "Resource": resource,
            "Condition": { "ForAllValues:StringLike": { "aws:TagKeys": [record.clone()] } },
        });
        if let Some(Json::Object(c)) = &condition {
            for (k, v) in c {
                tagging["Condition"][k] = v.clone();
            }
        }
        out.push(tagging);
    }
    out
}

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
            out.extend(shared_key_statements(arns, name, addresses));
            let aliases: Vec<String> = addresses
                .iter()
                .filter_map(|a| match &arns.spec.resources[*a].body {
                    ResourceBody::Key(k) => k.aliases.as_ref().filter(|_| !k.existing),
                    _ => None,
                })
                .flatten()
                .map(|alias| arns.alias_arn(&arns.text(alias)))
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
        Kind::Role => out.extend(role_statements(arns, name, actions, addresses, owned)),
        Kind::Bucket => out.extend(bucket_statements(arns, name, addresses)),
        _ => {
            let mut resources: Vec<String> = addresses.iter().filter_map(|a| arns.of(a)).collect();
            resources.sort();
            resources.dedup();
            out.push(json!({
                "Sid": format!("{name}NamedInTheSpec"),
                "Effect": "Allow",
                "Action": actions.on_resource,
                "Resource": resources,
            }));
            out.push(json!({
                "Sid": format!("{name}OwnedByTheStack"),
                "Effect": "Allow",
                "Action": actions.on_resource,
                "Resource": arns.type_wide(kind),
                "Condition": owned,
            }));
        }
    }
    out
}

/// Role calls that give a role more access: granted only where the spec asks for them, and
/// attachments and boundaries only of the policies it names.
const ROLE_GRANTING: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:PutRolePermissionsBoundary",
];

/// Role calls about inline policies a role's block declares: plinth reads a role's inline
/// policies only when its block declares some (others are not managed), and a role that left the
/// spec is stripped by listing and deleting them, not reading them.
const ROLE_INLINE: &[&str] = &["iam:PutRolePolicy", "iam:GetRolePolicy"];

/// Role calls that only a role in the spec needs; a role that left the spec is only read,
/// stripped of its policies and deleted.
const ROLE_SPEC_ONLY: &[&str] = &[
    "iam:CreateRole",
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
];

fn role_statements(
    arns: &Arns<'_>,
    name: &str,
    actions: &KindActions,
    addresses: &[&Address],
    owned: Json,
) -> Vec<Json> {
    // Each role the spec names, with its ARN as `Arns::of` builds it for every kind.
    let roles: Vec<(String, &RoleSpec)> = addresses
        .iter()
        .filter_map(|a| match &arns.spec.resources[*a].body {
            ResourceBody::Role(r) => Some((arns.of(a)?, &**r)),
            _ => None,
        })
        .collect();
    let sorted = |items: Vec<String>| items.into_iter().collect::<BTreeSet<String>>();
    let plain = |keep: &dyn Fn(&str) -> bool| -> Vec<&str> {
        actions
            .on_resource
            .iter()
            .copied()
            .filter(|a| !ROLE_GRANTING.contains(a) && !ROLE_INLINE.contains(a) && keep(a))
            .collect()
    };
    let mut out = vec![
        json!({
            "Sid": format!("{name}NamedInTheSpec"),
            "Effect": "Allow",
            "Action": plain(&|_| true),
            "Resource": sorted(roles.iter().map(|(arn, _)| arn.clone()).collect()),
        }),
        json!({
            "Sid": format!("{name}OwnedByTheStack"),
            "Effect": "Allow",
            "Action": plain(&|a| !ROLE_SPEC_ONLY.contains(&a)),
            "Resource": arns.type_wide(Kind::Role),
            "Condition": owned,
        }),
    ];
    let with_inline: Vec<String> = roles
        .iter()
        .filter(|(_, r)| r.policies.as_ref().is_some_and(|p| !p.is_empty()))
        .map(|(arn, _)| arn.clone())
        .collect();
    if !with_inline.is_empty() {
        out.push(json!({
            "Sid": format!("{name}InlinePolicies"),
            "Effect": "Allow",
            "Action": ROLE_INLINE,
            "Resource": sorted(with_inline),
        }));
    }
    // Per role: the managed policies it attaches, and its permissions boundary.
    let attached = |r: &RoleSpec| -> Vec<String> {
        r.managed_policies
            .iter()
            .flatten()
            .map(|p| arns.text(p))
            .collect()
    };
    let boundary = |r: &RoleSpec| -> Vec<String> {
        r.permissions_boundary
            .iter()
            .map(|p| arns.text(p))
            .collect()
    };
    type Wanted<'w> = &'w dyn Fn(&RoleSpec) -> Vec<String>;
    let granting: [(&str, &str, &str, Wanted); 2] = [
        (
            "iam:AttachRolePolicy",
            "ManagedPolicyAttachments",
            "iam:PolicyARN",
            &attached,
        ),
        (
            "iam:PutRolePermissionsBoundary",
            "PermissionsBoundaries",
            "iam:PermissionsBoundary",
            &boundary,
        ),
    ];
    for (action, sid, key, wanted) in granting {
        let holders: Vec<&(String, &RoleSpec)> = roles
            .iter()
            .filter(|(_, r)| !wanted(r).is_empty())
            .collect();
        if holders.is_empty() {
            continue;
        }
        let policies = sorted(holders.iter().flat_map(|(_, r)| wanted(r)).collect());
        out.push(json!({
            "Sid": format!("{name}{sid}"),
            "Effect": "Allow",
            "Action": action,
            "Resource": sorted(holders.iter().map(|(arn, _)| arn.clone()).collect()),
            "Condition": { "ArnLike": { key: policies } },
        }));
    }
    out
}

/// A bucket's grants follow its block: the calls for the settings it declares, creating and
/// deleting only a bucket the stack owns, and deleting objects only with `force_destroy`. S3
/// cannot condition bucket calls on the bucket's tags: a bucket that left the spec is deleted
/// with the grants of the spec that still named it.
fn bucket_statements(arns: &Arns<'_>, name: &str, addresses: &[&Address]) -> Vec<Json> {
    let mut by_actions: std::collections::BTreeMap<Vec<&str>, BTreeSet<String>> =
        Default::default();
    let mut object_deletion = BTreeSet::new();
    for address in addresses {
        let ResourceBody::Bucket(b) = &arns.spec.resources[*address].body else {
            continue;
        };
        let Some(arn) = arns.of(address) else {
            continue;
        };
        // `s3:TagResource` authorizes the tags CreateBucket sets: only for a bucket plinth creates.
        let mut actions = vec!["s3:PutBucketTagging"];
        if !b.existing {
            actions.push("s3:TagResource");
        }
        let settings: [(bool, &[&str]); 5] = [
            (
                b.policy.is_some(),
                &[
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                ],
            ),
            (b.cors.is_some(), &["s3:GetBucketCORS", "s3:PutBucketCORS"]),
            (
                b.encryption.is_some(),
                &[
                    "s3:GetEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                ],
            ),
            (
                b.public_access_block.is_some(),
                &[
                    "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketPublicAccessBlock",
                ],
            ),
            (
                b.notifications.is_some(),
                &["s3:GetBucketNotification", "s3:PutBucketNotification"],
            ),
        ];
        for (declared, calls) in settings {
            if declared {
                actions.extend(calls);
            }
        }
        if !b.existing {
            actions.extend(["s3:CreateBucket", "s3:DeleteBucket"]);
            if b.force_destroy {
                actions.push("s3:ListBucketVersions");
                object_deletion.insert(format!("{arn}/*"));
            }
        }
        actions.sort();
        by_actions.entry(actions).or_default().insert(arn);
    }
    let mut out: Vec<Json> = by_actions
        .into_iter()
        .enumerate()
        .map(|(i, (actions, buckets))| {
            let suffix = if i == 0 {
                String::new()
            } else {
                (i + 1).to_string()
            };
            json!({
                "Sid": format!("{name}NamedInTheSpec{suffix}"),
                "Effect": "Allow",
                "Action": actions,
                "Resource": buckets,
            })
        })
        .collect();
    if !object_deletion.is_empty() {
        out.push(json!({
            "Sid": format!("{name}ObjectsOfForceDestroyedBuckets"),
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
            "Resource": object_deletion,
        }));
    }
    out
}

/// The roles the spec's functions run as, and those its instance profiles hold.
fn passed_roles(spec: &Spec, arns: &Arns<'_>) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut functions, mut profiles) = (BTreeSet::new(), BTreeSet::new());
    for resource in spec.resources.values() {
        match &resource.body {
            ResourceBody::Function(f) => {
                functions.insert(arns.text(&f.role));
            }
            ResourceBody::InstanceProfile(p) => {
                if let Some(role) = &p.role {
                    profiles.insert(arns.of_kind(Kind::Role, &format!("/{}", arns.text(role))));
                }
            }
            _ => {}
        }
    }
    (functions, profiles)
}

/// The kind of IAM resource an `elsewhere` pattern (`instance-profile/*`) names.
fn other_kind(pattern: &str) -> Option<Kind> {
    let first = pattern.split('/').next()?;
    Kind::ALL.iter().copied().find(|k| {
        let format = k.arn_format();
        format.service == "iam" && format.prefix.trim_end_matches('/') == first
    })
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
    /// A KMS alias's ARN (`alias/NAME` in the account and region): not a kind of its own.
    fn alias_arn(&self, alias: &str) -> String {
        let Target {
            partition,
            account_id,
            region,
        } = self.target;
        format!("arn:{partition}:kms:{region}:{account_id}:{alias}")
    }

    fn scope(&self) -> ArnScope<'_> {
        ArnScope {
            partition: &self.target.partition,
            region: &self.target.region,
            account_id: &self.target.account_id,
        }
    }

    /// The ARN of the resource of `kind` with `id` ([`Kind::arn`]).
    fn of_kind(&self, kind: Kind, id: &str) -> String {
        kind.arn(self.scope(), id)
    }

    /// Every resource of a kind in the account.
    fn type_wide(&self, kind: Kind) -> String {
        kind.type_wide_arn(self.scope())
    }

    /// A resource's ARN; `None` for a key, whose ARN holds the id KMS assigns.
    fn of(&self, address: &Address) -> Option<String> {
        self.arn_of(address, 0)
    }

    fn arn_of(&self, address: &Address, depth: usize) -> Option<String> {
        let text = |t: &Text| self.text_at(t, depth + 1);
        let body = &self.spec.resources.get(address)?.body;
        let kind = body.kind();
        let id = match kind.arn_format().id {
            ArnId::PathAndName => {
                let path = body.iam_path().map_or_else(|| "/".to_string(), text);
                path + &text(body.arn_id()?)
            }
            ArnId::Name => text(body.arn_id()?),
            ArnId::IssuerUrl => oidc_provider_id(&text(body.arn_id()?)).to_string(),
            ArnId::Assigned => return None,
        };
        Some(self.of_kind(kind, &id))
    }

    fn name_of(&self, address: &Address, depth: usize) -> Option<String> {
        let name = self.spec.resources.get(address)?.body.name()?;
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
                Reference::Aws(AwsFact::CallerArn) => "*".to_string(),
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

/// Which of plinth's operations need a statement of [`policy`], by its Sid, for
/// `plinth permissions --explain`.
pub fn needed_by(sid: &str) -> String {
    let kind = Kind::ALL
        .iter()
        .copied()
        .find(|k| sid.starts_with(&kind_sid(*k)))
        .map(|k| k.as_str().replace('_', " "));
    let kind = kind.as_deref().unwrap_or("resource");
    let rest = Kind::ALL
        .iter()
        .map(|k| kind_sid(*k))
        .filter(|prefix| sid.starts_with(prefix.as_str()))
        .max_by_key(String::len)
        .map_or(sid, |prefix| &sid[prefix.len()..]);
    let rest = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    match (sid, rest) {
        ("FindWhatTheStackOwnsByListingEveryKind", _) => "plan: without the stack's index, finding what the stack owns and the spec no longer names lists every kind and reads each one's tags".into(),
        ("StackLockAndIndex", _) => "apply and destroy: taking and releasing the stack lock; plan and apply: reading and writing the stack index beside it".into(),
        ("PassRolesToLambda", _) => "apply: creating and updating functions that run as these roles (Lambda checks iam:PassRole)".into(),
        ("PassRolesToInstanceProfiles", _) => "apply: putting these roles in the spec's instance profiles (AddRoleToInstanceProfile checks iam:PassRole)".into(),
        (_, "NamedInTheSpec") => format!("plan: reading each {kind} the spec names; apply: writing what its block declares, creating and deleting only what the stack owns"),
        (_, "OwnedByTheStack") => format!("plan: reading a {kind} the stack owns (by its tag) that the spec no longer names; apply and destroy: deleting it"),
        (_, "CallsOnResourcesWithoutKnownArns") => format!("apply and destroy: calls a {kind} needs on resources plinth cannot name in advance, limited by condition to those the spec names"),
        (_, "CallsOnOtherIamResources") => format!("destroy and apply: deleting a {kind} takes it out of the stack's instance profiles"),
        (_, "CreateTaggedBeforeItHasAnArn") => format!("apply: creating a {kind}, tagged as the stack's in the create call"),
        (_, "Aliases") => "apply: creating and deleting the aliases the spec names".into(),
        (_, "InlinePolicies") => "plan and apply: reading and writing the inline policies the spec declares on these roles".into(),
        (_, "ManagedPolicyAttachments") => "apply: attaching the managed policies the spec names to these roles, and no other".into(),
        (_, "PermissionsBoundaries") => "apply: setting the permissions boundaries the spec names on these roles".into(),
        (_, "ObjectsOfForceDestroyedBuckets") => "destroy: emptying the buckets declared with force_destroy = true before deleting them".into(),
        _ => format!("plinth's calls on the {kind} resources of the spec"),
    }
}

#[cfg(test)]
mod tests;
