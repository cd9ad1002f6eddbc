//! The access model: who can do what in the stack, from every policy together.
//!
//! A [`Grant`] is one row: a principal may perform some actions on a resource, under some
//! conditions, through a chain of policies (`via`). Rows come from three places, combined
//! with AWS's rules:
//! - **trust policies**: who may assume each role (accounts, roles, services, web identities,
//!   everyone);
//! - **identity policies** (a role's inline and managed policies, limited by its permissions
//!   boundary): what each role may do. In the same account the identity policy alone grants
//!   access, except to a KMS key, whose key policy must allow it too (directly, or by
//!   delegating to the account's root); a resource in another account needs that account's
//!   resource policy as well, which plinth cannot see, so the row is conditional;
//! - **resource policies** (key, queue, bucket): what other principals may do to the resource.
//!   The own account's root is the delegation to IAM policies, not a grant of its own.
//!
//! An explicit Deny in any of the policies involved removes the actions it covers (from a
//! wildcard of one service, by naming what is left); a Deny with a condition, or one covering
//! only part of a wildcard of every service, makes the row conditional. So
//! does any Allow condition plinth cannot decide: rows are never silently dropped or allowed.
//! Whoever may assume a role also gains that role's rows, transitively.
//!
//! Each row has a [`Risk`] class. [`changes`] compares the grants of the live account with
//! those of the plan's desired state: the plan's "Access changes". Pure: reads a [`Plan`] only.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{ArnScope, Attributes, Kind, Value};
use crate::plan::{Plan, ResourceChange};
use crate::policy::catalog::{catalog, AccessLevel};
use crate::policy::pattern;
use crate::policy::{
    Clause, Condition, Effect, PolicyDocument, PrincipalKind, Principals, Statement,
};

mod affected;
mod aws_managed;
mod reach;
#[cfg(test)]
mod tests;

use crate::parallel::two_at_once;
use reach::*;

use crate::hash::FastMap;

/// How much a row matters to a reviewer, highest first (so `Ord` sorts the riskiest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Anyone, including anonymous callers.
    Public,
    /// Another account, a web identity, or an AWS service acting for whoever calls it.
    External,
    /// Can grant itself or others more: pass roles, write policies, change code or keys.
    Escalation,
    /// Reads, writes, decrypts or deletes data.
    Data,
    Internal,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Public => "public",
            Risk::External => "external",
            Risk::Escalation => "escalation",
            Risk::Data => "data",
            Risk::Internal => "internal",
        }
    }
}

/// One row of the access model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub risk: Risk,
    /// `*` (everyone), an account id, a role (its stack address, or its ARN), a service
    /// principal (`lambda.amazonaws.com`) or a web-identity provider.
    pub principal: String,
    /// Action patterns, lowercase, sorted.
    pub actions: Vec<String>,
    /// A stack resource's address (with a sub-path such as `/*` for objects), or the pattern
    /// as written for anything else.
    pub resource: String,
    /// The resource as an ARN (or ARN pattern): what makes two rows of a plan's two sides the
    /// same row, where `resource` is only its label (a bucket that leaves the spec is still
    /// the same bucket, named by its ARN instead of its address).
    #[serde(skip)]
    pub target: String,
    /// Each condition the row depends on, as `Operator key values`.
    pub conditions: Vec<String>,
    /// The policies the grant goes through, outermost first (`role.lambda trust`,
    /// `role.lambda policies.queue`).
    pub via: Vec<String>,
    /// Depends on something plinth cannot decide: a condition, a Deny with a condition, or
    /// another account's policy.
    pub conditional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Gained,
    Lost,
}

/// A row gained or lost by a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GrantChange {
    pub change: Change,
    #[serde(flatten)]
    pub grant: Grant,
}

/// Which side of a plan to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Desired,
}

/// A resource of the stack as the model sees it.
struct Node<'a> {
    /// Its place in the plan's changes, the same on both sides.
    change: usize,
    /// The plan leaves it as it is (a no-op): the same attributes on both sides, or policies
    /// that say the same in other words.
    unchanged: bool,
    address: String,
    kind: Kind,
    arn: String,
    /// The plan's attributes, or (for a shared resource the stack releases) the live ones
    /// without the stack's parts.
    attributes: std::borrow::Cow<'a, Attributes>,
    /// Its policies that name what the same apply creates (`trust`, `policies.NAME`), with
    /// each `${ADDRESS.arn}` of the stack filled in with that resource's ARN as the model
    /// names it: a new role's inline policy on a new key grants on that key.
    pending: Vec<(String, PolicyDocument)>,
}

/// The stack on one side of a plan.
pub struct Stack<'a> {
    account_id: String,
    nodes: Vec<Node<'a>>,
    by_arn: FastMap<String, usize>,
    /// The nodes of each service (the ARN's third field), in order: a `"Resource": "*"` of
    /// `logs:` actions need not visit a stack's thousands of queues and roles.
    by_service: FastMap<&'static str, Vec<usize>>,
    /// Each action pattern's class, as `action_risk` found it: a stack repeats a few actions
    /// thousands of times.
    action_risks: std::cell::RefCell<FastMap<String, Risk>>,
}

impl<'a> Stack<'a> {
    pub fn from_plan(plan: &'a Plan, side: Side) -> Stack<'a> {
        let account = &plan.account;
        // Sized once: a node per change but the deleted ones, each a hundred bytes or so that
        // a growing vector would copy along as it doubled.
        let mut nodes: Vec<Node> = Vec::with_capacity(plan.changes.len());
        nodes.extend(
            plan.changes
                .iter()
                .enumerate()
                .filter_map(|(index, change)| {
                    let attributes = match side {
                        // A drift report's rows go from the spec to the account: before, the live
                        // resource with what the spec declares; after, the live resource.
                        // A resource missing from the account is the spec's alone.
                        Side::Live if plan.refresh_only && change.live.is_none() => {
                            Cow::Borrowed(change.desired.as_ref()?)
                        }
                        Side::Live if plan.refresh_only => {
                            let live = change.live.as_deref()?;
                            match &change.desired {
                                Some(desired) if change.is_change() => {
                                    let mut spec = live.clone();
                                    spec.extend(
                                        desired.iter().map(|(k, v)| (k.clone(), v.clone())),
                                    );
                                    Cow::Owned(spec)
                                }
                                _ => Cow::Borrowed(live),
                            }
                        }
                        Side::Live => Cow::Borrowed(change.live.as_deref()?),
                        Side::Desired if plan.refresh_only => {
                            Cow::Borrowed(change.live.as_deref()?)
                        }
                        // Someone else's resource the stack lets go of stays, with its owner's
                        // parts. (`release = true` keeps the stack's parts too: its desired side
                        // is the live resource.)
                        Side::Desired if change.releases() => {
                            Cow::Owned(crate::plan::shared::released(change.live.as_deref()?))
                        }
                        Side::Desired if change.action == crate::plan::Action::Delete => {
                            return None
                        }
                        // What apply leaves alone is, after it, what the account holds: the
                        // live resource as read, rather than the spec's values (the same, or
                        // the plan would change them) with the live ones it leaves out merged
                        // in.
                        Side::Desired if change.action == crate::plan::Action::NoOp => {
                            Cow::Borrowed(change.live.as_deref().or(change.desired.as_ref())?)
                        }
                        // What the spec leaves out apply leaves as it is (unset is unmanaged): the
                        // live value stays, a role's managed policies and boundary among them.
                        Side::Desired => {
                            let desired = change.desired.as_ref()?;
                            match change.live.as_deref() {
                                Some(live) if has_key_beyond(live, desired) => {
                                    let mut after = desired.clone();
                                    for (k, v) in live {
                                        after.entry(k.clone()).or_insert_with(|| v.clone());
                                    }
                                    Cow::Owned(after)
                                }
                                _ => Cow::Borrowed(desired),
                            }
                        }
                    };

                    Some(Node {
                        change: index,
                        unchanged: change.action == crate::plan::Action::NoOp,
                        address: change.address.text(),
                        kind: change.address.kind,
                        arn: arn_of(
                            change,
                            &attributes,
                            &account.partition,
                            &account.region,
                            &account.account_id,
                        ),
                        attributes,
                        pending: Vec::new(),
                    })
                }),
        );
        fill_pending_policies(&mut nodes);
        let by_arn = nodes
            .iter()
            .enumerate()
            .map(|(index, node): (usize, &Node)| (node.arn.clone(), index))
            .collect();
        let mut by_service: FastMap<&'static str, Vec<usize>> = FastMap::default();
        for (index, node) in nodes.iter().enumerate() {
            by_service
                .entry(node.kind.arn_format().service)
                .or_default()
                .push(index);
        }
        Stack {
            account_id: account.account_id.clone(),
            nodes,
            by_arn,
            by_service,
            action_risks: Default::default(),
        }
    }

    fn policy<'n>(&self, node: &'n Node<'a>, name: &str) -> Option<&'n PolicyDocument> {
        crate::plan::attribute_at(&node.attributes, name)
            .and_then(Value::as_policy)
            .or_else(|| node.pending(name))
    }

    /// `action_risk`, found once per action pattern.
    fn action_risk(&self, action: &str) -> Risk {
        let mut known = self.action_risks.borrow_mut();
        if let Some(&risk) = known.get(action) {
            return risk;
        }
        let risk = action_risk(action);
        known.insert(action.to_string(), risk);
        risk
    }

    fn node_by_arn(&self, arn: &str) -> Option<&Node<'a>> {
        self.by_arn.get(arn).map(|&index| &self.nodes[index])
    }
}

/// The ARN AWS gives a resource of this kind and name; a key's id is known only once it
/// exists, so a key being created matches any key id.
fn arn_of(
    change: &ResourceChange,
    attributes: &Attributes,
    partition: &str,
    region: &str,
    account: &str,
) -> String {
    let at = ArnScope {
        partition,
        region,
        account_id: account,
    };
    (change.address.kind).resource_arn(at, attributes, &change.physical_id)
}

impl Node<'_> {
    fn pending(&self, name: &str) -> Option<&PolicyDocument> {
        self.pending
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, doc)| doc)
    }
}

/// Does `live` have a key `desired` lacks? Both are sorted: one walk through both.
fn has_key_beyond(live: &Attributes, desired: &Attributes) -> bool {
    let mut wanted = desired.keys().peekable();
    for key in live.keys() {
        while wanted.next_if(|w| *w < key).is_some() {}
        if wanted.next_if(|w| *w == key).is_none() {
            return true;
        }
    }
    false
}

/// Reads the policies of each node that wait for a value of the same apply
/// ([`Node::pending`]). Only nodes with one pay for the table of ARNs.
fn fill_pending_policies(nodes: &mut [Node]) {
    fn waits(value: &Value) -> bool {
        matches!(value, Value::Unknown(p) if p.policy)
    }
    fn pending_of(attributes: &Attributes) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        for (name, value) in attributes.iter() {
            match value {
                Value::Map(entries) if name == "policies" => out.extend(
                    (entries.iter())
                        .filter(|(_, v)| waits(v))
                        .map(|(key, v)| (format!("{name}.{key}"), v)),
                ),
                _ if waits(value) => out.push((name.clone(), value)),
                _ => {}
            }
        }
        out
    }
    // Asked of every node, so without building the list.
    let has_pending = |attributes: &Attributes| {
        attributes.iter().any(|(name, value)| match value {
            Value::Map(entries) if name == "policies" => entries.values().any(waits),
            _ => waits(value),
        })
    };
    let waiting: Vec<usize> = (nodes.iter().enumerate())
        .filter(|(_, n)| has_pending(&n.attributes))
        .map(|(index, _)| index)
        .collect();
    if waiting.is_empty() {
        return;
    }
    // By address, so that filling a template costs its own references, not one search of
    // it per node of the stack (10,000 at the benchmark's size).
    // Borrowed from the nodes (twice 10,000 strings not copied): the documents are filled
    // first, then handed to their nodes.
    let arns: FastMap<&str, &str> = nodes
        .iter()
        .map(|n| (n.address.as_str(), n.arn.as_str()))
        .collect();
    let fill = |template: &str| fill_arns(template, &arns);
    let filled: Vec<(usize, Vec<(String, PolicyDocument)>)> = (waiting.into_iter())
        .map(|index| {
            let pending = pending_of(&nodes[index].attributes)
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.pending_policy(fill)?)))
                .collect();
            (index, pending)
        })
        .collect();
    drop(arns);
    for (index, pending) in filled {
        nodes[index].pending = pending;
    }
}

/// `template` with each `${ADDRESS.arn}` whose address `arns` holds replaced by that ARN; every
/// other reference is kept as written.
fn fill_arns(template: &str, arns: &FastMap<&str, &str>) -> String {
    let mut text = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = crate::policy::pattern::find_open(rest) {
        let (before, from) = rest.split_at(start);
        text.push_str(before);
        let arn = from.find('}').and_then(|end| {
            let address = from[2..end].strip_suffix(".arn")?;
            Some((arns.get(address)?, end))
        });
        match arn {
            Some((arn, end)) => {
                text.push_str(arn);
                rest = &from[end + 1..];
            }
            None => {
                text.push_str("${");
                rest = &from[2..];
            }
        }
    }
    text.push_str(rest);
    text
}

/// Every grant of the stack, sorted riskiest first.
pub fn grants(stack: &Stack) -> Vec<Grant> {
    grants_from(stack, |_| true)
}

/// The grants whose origin is one of the nodes `include` takes (by position): every row, and
/// every row derived from it through assumed roles, reads only nodes of its origin's group
/// (`affected`), so a whole group gives the same rows as the whole stack does for it.
fn grants_from(stack: &Stack, include: impl Fn(usize) -> bool) -> Vec<Grant> {
    let mut rows = Vec::new();
    for (index, node) in stack.nodes.iter().enumerate() {
        if !include(index) {
            continue;
        }
        match node.kind {
            Kind::Role => {
                trust_rows(stack, node, &mut rows);
                identity_rows(stack, node, &mut rows);
            }
            Kind::Key | Kind::Queue | Kind::Bucket => resource_policy_rows(stack, node, &mut rows),
            _ => {}
        }
    }
    let rows = through_assumed_roles(stack, rows);
    let mut rows = merge(rows);
    rows.sort_by(|a, b| order(a).cmp(&order(b)));
    rows
}

/// Riskiest first; for one principal, direct grants before those through assumed roles.
fn order(g: &Grant) -> (Risk, &str, usize, &Grant) {
    (g.risk, &g.principal, g.via.len(), g)
}

/// A principal as rows show it: a stack role by address, an account root by account id.
fn principal_label(stack: &Stack, kind: PrincipalKind, id: &str) -> String {
    if kind == PrincipalKind::Aws {
        if id == "*" {
            return "*".to_string();
        }
        if let Some(node) = stack.node_by_arn(id) {
            return node.address.clone();
        }
        if let Some(account) = id
            .strip_suffix(":root")
            .and_then(|arn| arn.rsplit(':').next())
        {
            return account.to_string();
        }
    }
    id.to_string()
}

fn condition_text(condition: &Condition) -> String {
    format!(
        "{} {} {}",
        condition.operator,
        condition.key,
        condition.values.join(", ")
    )
}

/// Conditions that say which caller a grant is for rather than when it holds: they scope the
/// principal, so plinth shows them but does not call the row conditional.
fn scopes_principal(condition: &Condition) -> bool {
    let key = condition.key.to_ascii_lowercase();
    let key = key.as_str();
    key == "aws:sourceaccount"
        || key == "aws:sourcearn"
        || key == "aws:sourceowner"
        || key == "sts:externalid"
        || key.ends_with(":aud")
        || key.ends_with(":sub")
}

fn account_of(id: &str) -> Option<&str> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(id);
    }
    id.strip_prefix("arn:")?
        .split(':')
        .nth(3)
        .filter(|a| !a.is_empty())
}

/// Keys whose value is the ARN of the caller or of the request's source: `aws:PrincipalArn`,
/// `aws:SourceArn`, and the ARN a service puts in a KMS request's encryption context
/// (`kms:EncryptionContext:aws:logs:arn`, the log group CloudWatch Logs encrypts for), which
/// AWS documents as the confused-deputy control of those services' key policies.
fn names_a_source_arn(key: &str) -> bool {
    matches!(key, "aws:principalarn" | "aws:sourcearn") || is_encryption_context(key)
}

/// `kms:EncryptionContext:aws:SERVICE:arn`, in any case.
fn is_encryption_context(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.strip_prefix("kms:encryptioncontext:aws:")
        .is_some_and(|rest| rest.ends_with(":arn"))
}

/// Where a condition that narrows the caller lets callers in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// This account only.
    Own,
    /// Some place outside it: another account, an organization, a network.
    Other,
    /// An S3 bucket's ARN, which names no account: taken for this account's, as a bucket
    /// notifying a queue is, unless another condition of the statement names an account.
    Bucket,
    /// Anywhere: its values are wildcards (`arn:aws:iam::*:role/*`, `*`, `o-*`).
    Any,
}

impl Scope {
    /// Where the conditions of one statement, which must all hold, let callers in from: a
    /// condition fixing this account or another decides, before a bucket's ARN (whose account
    /// plinth takes to be this one only when nothing else says).
    fn of_all(scopes: &[Scope]) -> Option<Scope> {
        [Scope::Own, Scope::Other, Scope::Bucket]
            .into_iter()
            .find(|s| scopes.contains(s))
            .map(|s| if s == Scope::Bucket { Scope::Own } else { s })
            .or((!scopes.is_empty()).then_some(Scope::Any))
    }
}

/// The scope of a condition on who the caller is or where the request comes from; `None` for
/// a key that says neither. Of several values, the widest.
fn scope(condition: &Condition, own_account: &str) -> Option<Scope> {
    let key = condition.key.to_ascii_lowercase();
    let of_value = |value: &str| -> Scope {
        let wild = |text: &str| text.is_empty() || text.chars().all(|c| c == '*' || c == '?');
        match key.as_str() {
            "aws:principalaccount"
            | "aws:sourceaccount"
            | "aws:sourceowner"
            | "kms:calleraccount" => {
                if pattern::has_wildcard(value) {
                    Scope::Any
                } else if value == own_account {
                    Scope::Own
                } else {
                    Scope::Other
                }
            }
            _ if names_a_source_arn(&key) => {
                match value.strip_prefix("arn:").map(|a| a.split(':').nth(3)) {
                    Some(Some(account)) if pattern::has_wildcard(account) => Scope::Any,
                    Some(Some(account)) if account == own_account => Scope::Own,
                    // An S3 bucket's ARN names no account; plinth cannot tell whose it is and
                    // takes it for the stack's, as a bucket notifying a queue is, unless it is a
                    // pattern (`arn:aws:s3:::*`, `arn:aws:s3:::logs-*`): any account may hold a
                    // bucket of that name.
                    Some(Some(""))
                        if value
                            .splitn(6, ':')
                            .nth(5)
                            .is_some_and(pattern::has_wildcard) =>
                    {
                        Scope::Any
                    }
                    Some(Some("")) => Scope::Bucket,
                    Some(Some(_)) => Scope::Other,
                    _ if wild(value) => Scope::Any,
                    _ => Scope::Other,
                }
            }
            _ if !crate::policy::fixed_value(&key, value) => Scope::Any,
            _ => Scope::Other,
        }
    };
    let scopes = names_a_source_arn(&key)
        || matches!(
            key.as_str(),
            "aws:principalorgid"
            | "aws:principalorgpaths"
            | "aws:principalaccount"
            | "aws:sourceaccount"
            | "aws:sourceowner"
            | "aws:sourceorgid"
            | "aws:sourceorgpaths"
            | "aws:principalarn"
            | "aws:sourcearn"
            | "aws:sourcevpce"
            | "aws:sourcevpc"
            | "aws:sourceip"
            | "aws:userid"
            | "kms:calleraccount"
            // The caller must be able to use that KMS key, which anonymous callers cannot.
            | "s3:x-amz-server-side-encryption-aws-kms-key-id"
        );
    if !scopes {
        return None;
    }
    let each: Vec<Scope> = condition.values.iter().map(|v| of_value(v)).collect();
    // The values are alternatives: the widest decides.
    [Scope::Any, Scope::Other, Scope::Bucket, Scope::Own]
        .into_iter()
        .find(|s| each.contains(s))
}

/// Issuers whose tokens anyone can get, for a repository or workspace of their own: the
/// subject claim names the owner (`repo:OWNER/REPO:...`, `project_path:GROUP/...`,
/// `organization:ORG:...`), and a trust that does not fix it lets everyone there in.
const SHARED_ISSUERS: &[(&str, &str)] = &[
    ("token.actions.githubusercontent.com", "repo:"),
    ("gitlab.com", "project_path:"),
    ("app.terraform.io", "organization:"),
];

/// Issuers IAM knows by name, whose tokens anyone can get for an application of their own
/// (a Google OAuth client, a Cognito identity pool in any account): a trust that fixes
/// neither the application (`aud`, `app_id`) nor the user (`sub`, `id`, `user_id`) lets in
/// everyone with an account there. The claims that fix one or the other.
const OPEN_ISSUERS: &[(&str, &[&str])] = &[
    ("accounts.google.com", &["aud", "oaud", "sub"]),
    ("cognito-identity.amazonaws.com", &["aud", "sub"]),
    ("graph.facebook.com", &["app_id", "id"]),
    ("www.amazon.com", &["app_id", "user_id"]),
];

/// Does a trust of `provider` (an OIDC provider's ARN, or the issuer) let in anyone with an
/// account at a shared issuer: no condition, on the subject or on the owner's own claims,
/// that must match an owner written out?
fn anyone_of_a_shared_issuer(provider: &str, conditions: &[Condition]) -> bool {
    let issuer = provider
        .rsplit_once(":oidc-provider/")
        .map_or(provider, |(_, issuer)| issuer);
    if let Some((_, claims)) = OPEN_ISSUERS.iter().find(|(i, _)| *i == issuer) {
        // Any of the claims, fixed to values without a wildcard, names someone.
        let fixes = |c: &Condition| {
            let key = c.key.to_ascii_lowercase();
            key.strip_prefix(issuer)
                .and_then(|k| k.strip_prefix(':'))
                .is_some_and(|claim| claims.contains(&claim))
                && crate::policy::holds_only_on_listed_values(&c.operator)
                && !c.values.is_empty()
                && c.values
                    .iter()
                    .all(|v| !v.is_empty() && !pattern::has_wildcard(v))
        };
        return !conditions.iter().any(fixes);
    }
    let Some((_, prefix)) = SHARED_ISSUERS.iter().find(|(i, _)| *i == issuer) else {
        return false;
    };
    let fixes_an_owner = |c: &Condition| {
        let operator = c.operator.to_ascii_lowercase();
        let key = c.key.to_ascii_lowercase();
        let Some(claim) = key.strip_prefix(issuer).and_then(|k| k.strip_prefix(':')) else {
            return false;
        };
        let owner_of = |value: &str| -> Option<String> {
            match claim {
                "sub" => {
                    let rest = value.strip_prefix(prefix)?;
                    Some(rest.split(['/', ':']).next().unwrap_or("").to_string())
                }
                "repository" | "project_path" => Some(value.split('/').next()?.to_string()),
                "repository_owner"
                | "repository_owner_id"
                | "namespace_path"
                | "namespace_id"
                | "terraform_organization_name" => Some(value.to_string()),
                _ => None,
            }
        };
        !operator.contains("not")
            && !operator.ends_with("ifexists")
            && operator.starts_with("string")
            && !c.values.is_empty()
            && c.values.iter().all(|v| {
                owner_of(v).is_some_and(|owner| !owner.is_empty() && !pattern::has_wildcard(&owner))
            })
    };
    !conditions.iter().any(fixes_an_owner)
}

/// The risk of a row: the principal's class if it is public or external, else the actions'.
fn classify(
    stack: &Stack,
    principal: &str,
    kind: PrincipalKind,
    in_resource_policy: bool,
    conditions: &[Condition],
    actions: &[String],
) -> Risk {
    // Only a condition that must match narrows who the caller is: a negated operator
    // (`StringNotEquals aws:PrincipalAccount`) lets in every other account, and anonymous
    // callers, whose request has no such key; `...IfExists` and `ForAllValues` let in
    // whoever lacks the key.
    let narrows = |c: &&Condition| crate::policy::holds_only_on_listed_values(&c.operator);
    // A caller writes its own encryption context: only a service's says where it acts.
    let scopes: Vec<Scope> = conditions
        .iter()
        .filter(narrows)
        .filter(|c| !is_encryption_context(&c.key))
        .filter_map(|c| scope(c, &stack.account_id))
        .collect();
    let principal_risk = match kind {
        // Everyone, unless a condition narrows the caller: to this account (then the
        // actions decide), to some other place (external), or only by a wildcard (public).
        PrincipalKind::Aws if principal == "*" => match Scope::of_all(&scopes) {
            Some(Scope::Own) => None,
            Some(Scope::Other) => Some(Risk::External),
            _ => Some(Risk::Public),
        },
        PrincipalKind::Aws | PrincipalKind::CanonicalUser => account_of(principal)
            .filter(|a| *a != stack.account_id)
            .map(|_| Risk::External)
            // A canonical user id names an account, possibly another.
            .or((kind == PrincipalKind::CanonicalUser).then_some(Risk::External)),
        // A web identity is another party's; one of a shared issuer (GitHub Actions, GitLab,
        // HCP Terraform) whose subject is not narrowed to an owner is anyone with an account
        // there.
        PrincipalKind::Federated if anyone_of_a_shared_issuer(principal, conditions) => {
            Some(Risk::Public)
        }
        PrincipalKind::Federated => Some(Risk::External),
        // A service acting for whoever asks it (the confused deputy), unless its source is
        // this account's: a source in another account, or any, is external.
        PrincipalKind::Service => {
            let source = |c: &&Condition| {
                let key = c.key.to_ascii_lowercase();
                names_a_source_arn(&key)
                    || matches!(key.as_str(), "aws:sourceaccount" | "aws:sourceowner")
            };
            let sources: Vec<Scope> = conditions
                .iter()
                .filter(narrows)
                .filter(source)
                .filter_map(|c| scope(c, &stack.account_id))
                .collect();
            let own = Scope::of_all(&sources) == Some(Scope::Own);
            (in_resource_policy && !own).then_some(Risk::External)
        }
    };
    principal_risk.unwrap_or_else(|| {
        actions
            .iter()
            .map(|action| stack.action_risk(action))
            .min()
            .unwrap_or(Risk::Internal)
    })
}

/// Writes that let a principal act as more than it is, which the IAM catalog files under
/// "Write" rather than "Permissions management": changing what code runs as a role or which role
/// it runs as, creating credentials, joining a group, and setting a queue's attributes (its
/// policy among them). Every action the catalog files under "Permissions management" escalates
/// too (`escalates`).
const ESCALATION: &[&str] = &[
    "iam:passrole",
    "iam:create*policy*",
    "iam:put*policy",
    "iam:attach*policy",
    "iam:update*policy*",
    "iam:setdefaultpolicyversion",
    "iam:createaccesskey",
    "iam:createloginprofile",
    "iam:updateloginprofile",
    "iam:updateassumerolepolicy",
    "iam:addusertogroup",
    "kms:putkeypolicy",
    "kms:creategrant",
    "lambda:updatefunctioncode",
    "lambda:updatefunctionconfiguration",
    "lambda:addpermission",
    "s3:putbucketpolicy",
    "sqs:setqueueattributes",
    "sqs:addpermission",
];

/// Actions that read, write, decrypt or delete data.
const DATA: &[&str] = &[
    "s3:getobject*",
    "s3:putobject*",
    "s3:deleteobject*",
    "s3:restoreobject",
    "s3:listbucket*",
    "sqs:receivemessage",
    "sqs:sendmessage*",
    "sqs:deletemessage*",
    "sqs:purgequeue",
    "kms:decrypt",
    "kms:encrypt",
    "kms:generatedatakey*",
    "kms:reencrypt*",
    "kms:sign",
    "kms:generatemac",
    "kms:derivesharedsecret",
    "dynamodb:getitem",
    "dynamodb:batchgetitem",
    "dynamodb:query",
    "dynamodb:scan",
    "dynamodb:putitem",
    "dynamodb:updateitem",
    "dynamodb:deleteitem",
    "dynamodb:batchwriteitem",
    "dynamodb:partiql*",
    "dynamodb:exporttabletopointintime",
    "dynamodb:restoretable*",
    "secretsmanager:getsecretvalue",
    "secretsmanager:batchgetsecretvalue",
    "secretsmanager:putsecretvalue",
    "secretsmanager:updatesecret",
    "secretsmanager:deletesecret",
    "secretsmanager:restoresecret",
    "ssm:getparameter*",
    "ssm:putparameter",
    "ssm:deleteparameter*",
    "kinesis:getrecords",
    "kinesis:subscribetoshard",
    "kinesis:putrecord*",
    "firehose:putrecord*",
    "sns:publish",
    "logs:getlogevents",
    "logs:filterlogevents",
    "glue:getpartition*",
    "glue:gettable*",
    "redshift-data:*",
    "rds-data:*",
];

/// One action pattern's class; the actions of a row take the riskiest of theirs.
fn action_risk(action: &str) -> Risk {
    let any = |list: &[&str]| list.iter().any(|p| pattern::overlaps(action, p));
    if any(ESCALATION) || manages_permissions(action) {
        Risk::Escalation
    } else if any(DATA) {
        Risk::Data
    } else {
        Risk::Internal
    }
}

/// Does the action pattern name an action the IAM catalog files under "Permissions
/// management" (writing a resource's policy or ACL, a grant, passing a role)? A pattern whose
/// service is a wildcard is not looked up (every service's table would be read); `*` and
/// `iam:*` are escalation through the hand-written list already.
fn manages_permissions(action: &str) -> bool {
    let Some((service, _)) = action.split_once(':') else {
        return false;
    };
    !pattern::has_wildcard(service)
        && catalog()
            .actions_matching(action)
            .any(|(_, a)| a.level == AccessLevel::PermissionsManagement)
}

/// Allow statements of a document, normalized.
fn allows(doc: &PolicyDocument) -> Vec<Statement> {
    of_effect(doc, Effect::Allow)
}

fn denies(doc: &PolicyDocument) -> Vec<Statement> {
    of_effect(doc, Effect::Deny)
}

/// A document's statements of one effect, normalized, but with condition keys as the author
/// spelled them: rows show them (an EKS issuer's id is unreadable lowercased), and every
/// comparison of keys here ignores case, as IAM does.
fn of_effect(doc: &PolicyDocument, effect: Effect) -> Vec<Statement> {
    doc.statements()
        .iter()
        .filter(|s| s.effect == effect)
        .map(|written| {
            let mut statement = written.normalized();
            for condition in &mut statement.condition {
                if let Some(spelled) = written
                    .condition
                    .iter()
                    .find(|c| c.key.eq_ignore_ascii_case(&condition.key))
                {
                    condition.key = spelled.key.clone();
                }
            }
            statement
        })
        .collect()
}

/// The action patterns of a statement; NotAction is shown as `all but ...`.
fn statement_actions(statement: &Statement) -> Vec<String> {
    match &statement.action {
        Clause::Is(actions) => actions.clone(),
        Clause::Not(actions) => vec![format!("* except {}", actions.join(", "))],
    }
}

/// What is left of a row's actions after the Denies that apply to it.
#[derive(Debug, Default)]
struct Denied {
    actions: Vec<String>,
    /// A Deny that cannot be decided here (a NotPrincipal, a NotResource, or one covering
    /// only part of an action pattern) may take some of them.
    conditional: bool,
    /// What must hold for the actions left to be allowed: each conditional Deny covering them,
    /// negated (`StringNotEquals aws:PrincipalOrgID o-1` leaves them to callers with
    /// `StringEquals aws:PrincipalOrgID o-1`), or as `not ...` where no one operator is
    /// its negation.
    unless: Vec<String>,
    /// The negated conditions among `unless`, for the row's class.
    negated: Vec<Condition>,
}

impl Denied {
    /// Actions with nothing denied yet.
    fn all(actions: Vec<String>) -> Denied {
        Denied {
            actions,
            ..Denied::default()
        }
    }

    /// What `step` (another policy's Denies, a boundary, a key policy) leaves of these
    /// actions: conditional if either is, under the conditions of both.
    fn then(self, step: impl FnOnce(Vec<String>) -> Denied) -> Denied {
        let Denied {
            actions,
            conditional,
            mut unless,
            mut negated,
        } = self;
        let next = step(actions);
        unless.extend(next.unless);
        negated.extend(next.negated);
        Denied {
            actions: next.actions,
            conditional: conditional || next.conditional,
            unless,
            negated,
        }
    }
}

/// Who makes a request, as the Denies of a policy see it: the principal's ARN (or account id),
/// and whether it is a role of the stack with a permissions boundary.
#[derive(Clone, Copy)]
struct Caller<'c> {
    id: &'c str,
    bounded: bool,
}

impl<'a> Stack<'a> {
    /// `id` as a caller: a role of the stack has a boundary or not; anyone else, not as far
    /// as plinth can tell.
    fn caller<'c>(&self, id: &'c str) -> Caller<'c> {
        let bounded = self.node_by_arn(id).is_some_and(|n| {
            n.kind == Kind::Role && n.attributes.get("permissions_boundary").is_some()
        });
        Caller { id, bounded }
    }
}

/// What remains of `actions` after the Denies that apply to `principal` (or to anyone, for
/// `None`) on `resource` (any resource, for `None`): a Deny whose Resource covers the row's
/// resource removes the actions it covers, or, with conditions, leaves them only when its
/// conditions do not hold. A Deny naming only part of what the row reaches (one queue of a
/// row on `*`) leaves the row as it is: the stack's resources have rows of their own. One that
/// takes part of a wildcard of one service away whatever the request (`sqs:DeleteMessage` of
/// `sqs:*`) leaves the wildcard's other actions, each by name from the IAM catalog; any other
/// Deny covering part of a pattern makes the row conditional.
fn apply_denies(
    denies: &[Statement],
    caller: Option<Caller<'_>>,
    resource: Option<&str>,
    actions: Vec<String>,
) -> Denied {
    let mut out = Denied::default();
    let applying: Vec<(&Statement, Applies)> = denies
        .iter()
        .map(|deny| (deny, deny_applies(deny, caller, resource)))
        .filter(|(_, applies)| *applies != Applies::Never)
        .collect();
    let mut actions = actions;
    let cut: Vec<usize> = (0..actions.len())
        .filter(|&i| {
            applying.iter().any(|(deny, applies)| {
                *applies == Applies::Always && {
                    let (covers, overlaps) = deny_covers(deny, &actions[i]);
                    overlaps && !covers
                }
            })
        })
        .collect();
    for i in cut.into_iter().rev() {
        if let Some(named) = by_name(&actions[i]) {
            actions.splice(i..=i, named);
        }
    }
    let mut kept: BTreeSet<String> = BTreeSet::new();
    for action in actions {
        let mut removed = false;
        for (deny, applies) in &applying {
            let (covers, overlaps) = deny_covers(deny, &action);
            if !overlaps {
                continue;
            }
            if *applies == Applies::Perhaps {
                out.conditional = true;
            } else if covers && *applies == Applies::Always {
                removed = true;
            } else if covers {
                out.conditional = true;
                let negated = match deny.condition.as_slice() {
                    [one] => negation(one),
                    _ => None,
                };
                match negated {
                    Some(allowed) => {
                        let text = condition_text(&allowed);
                        if !out.unless.contains(&text) {
                            out.unless.push(text);
                            out.negated.push(allowed);
                        }
                    }
                    None => {
                        // Shown after `if`, as the rows' other conditions are.
                        let text = match deny.condition.as_slice() {
                            [one] => format!("not {}", condition_text(one)),
                            all => format!(
                                "not ({})",
                                all.iter()
                                    .map(condition_text)
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ),
                        };
                        if !out.unless.contains(&text) {
                            out.unless.push(text);
                        }
                    }
                }
            } else if overlaps {
                out.conditional = true;
            }
        }
        if !removed && kept.insert(action.clone()) {
            out.actions.push(action);
        }
    }
    out
}

/// Whether a Deny applies to a caller's requests on a resource, before its actions are
/// compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    Never,
    /// Whatever the request: no condition, or only conditions on who the caller is, which hold.
    Always,
    /// Where its conditions hold.
    Conditionally,
    /// In a way plinth cannot tell: a NotResource that leaves out part of the row's resource, a
    /// NotPrincipal listing one session of the role. The row is conditional.
    Perhaps,
}

/// Whether `deny` applies to requests by `caller` (anyone, for `None`) on `resource` (any
/// resource, for `None`).
fn deny_applies(deny: &Statement, caller: Option<Caller<'_>>, resource: Option<&str>) -> Applies {
    let principal = caller.map(|c| c.id);
    let bounded = caller.is_some_and(|c| c.bounded);
    // Whether the Deny names the caller, and its resource the row's: `None` where plinth
    // cannot tell.
    let principal_hit = match (&deny.principal, principal) {
        (None, _) | (_, None) => Some(true),
        (Some(Clause::Is(Principals::Everyone)), _) => Some(true),
        (Some(Clause::Is(Principals::Listed(listed))), Some(p)) => {
            Some(listed.iter().any(|l| names_principal(&l.id, p)))
        }
        // A Deny with NotPrincipal denies everyone it does not name exactly: an account's root
        // listed there spares the account itself, not its roles. A role acts through its
        // sessions, which the role's ARN does not spare: only a session's ARN listed too
        // (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`) does, for that session alone
        // (IAM's `NotPrincipal` with `Deny`). Nothing it lists spares a role with a
        // permissions boundary.
        (Some(Clause::Not(Principals::Listed(listed))), Some(p)) if is_role_arn(p) => {
            if !bounded && listed.iter().any(|l| is_session_of(&l.id, p)) {
                None
            } else {
                Some(true)
            }
        }
        (Some(Clause::Not(Principals::Listed(listed))), Some(p)) => {
            Some(!listed.iter().any(|l| names_exactly(&l.id, p)))
        }
        (Some(Clause::Not(Principals::Everyone)), _) => Some(false),
    };
    let resource_hit = match (&deny.resource, resource) {
        (None, _) | (_, None) => Some(true),
        (Some(Clause::Is(patterns)), Some(r)) => {
            Some(patterns.iter().any(|p| pattern::is_subset(r, p)))
        }
        (Some(Clause::Not(patterns)), Some(r)) => {
            if patterns.iter().any(|p| pattern::is_subset(r, p)) {
                Some(false)
            } else if patterns.iter().any(|p| pattern::overlaps(p, r)) {
                // Denied only where the row's resource is not among those it leaves out,
                // which a pattern cannot tell.
                None
            } else {
                Some(true)
            }
        }
    };
    if principal_hit == Some(false) || resource_hit == Some(false) {
        return Applies::Never;
    }
    // Conditions on who the caller is, decided for a known caller: one that fails leaves the
    // Deny out; when all hold, it applies as if it had none.
    let decided: Vec<Option<bool>> = match principal {
        Some(p) if !deny.condition.is_empty() => {
            deny.condition.iter().map(|c| holds_for(c, p)).collect()
        }
        _ => Vec::new(),
    };
    if decided.contains(&Some(false)) {
        Applies::Never
    } else if principal_hit.is_none() || resource_hit.is_none() {
        Applies::Perhaps
    } else if deny.condition.is_empty()
        || !decided.is_empty() && decided.iter().all(|d| *d == Some(true))
    {
        Applies::Always
    } else {
        Applies::Conditionally
    }
}

/// Whether a Deny's actions cover the action pattern `action` (every action it matches), and
/// whether they overlap it (some).
fn deny_covers(deny: &Statement, action: &str) -> (bool, bool) {
    match &deny.action {
        Clause::Is(patterns) => (
            patterns.iter().any(|p| pattern::is_subset(action, p)),
            patterns.iter().any(|p| pattern::overlaps(action, p)),
        ),
        Clause::Not(patterns) => (
            !patterns.iter().any(|p| pattern::overlaps(action, p)),
            !patterns.iter().any(|p| pattern::is_subset(action, p)),
        ),
    }
}

/// The actions an action pattern of one named service matches, each by name as rows write
/// actions (lowercase), from the IAM catalog; `None` for a pattern of every service, all but
/// some actions (`* except ...`), or one the catalog knows nothing of.
fn by_name(action: &str) -> Option<Vec<String>> {
    let (service, _) = action.split_once(':')?;
    if pattern::has_wildcard(service) || excepted(action).is_some() {
        return None;
    }
    let named: Vec<String> = catalog()
        .actions_matching(action)
        .map(|(service, a)| format!("{}:{}", service.prefix, a.name).to_ascii_lowercase())
        .collect();
    (!named.is_empty()).then_some(named)
}

/// Does a policy's principal `listed` name the caller `principal`: the same ARN, or the root
/// of its account.
fn names_principal(listed: &str, principal: &str) -> bool {
    listed == principal
        || (listed.ends_with(":root") || account_of(listed) == Some(listed))
            && account_of(listed) == account_of(principal)
}

/// Whether `condition` holds for a request by `principal` (an account's id or root, or a
/// role's ARN), where it tests only who the caller is: `aws:PrincipalAccount`, and
/// `aws:PrincipalArn` for a role, or for an account where every value names another account.
/// `None` where that is not enough to tell (any other key, everyone, a service, a role of the
/// account named only by its root).
fn holds_for(condition: &Condition, principal: &str) -> Option<bool> {
    // An IAM principal: an account, its root, a role or a user (not a web identity's
    // provider, whose callers carry no principal account).
    let iam = principal.len() == 12
        || principal.strip_prefix("arn:").is_some_and(|a| {
            a.split(':').nth(1) == Some("iam")
                && a.split(':').nth(4).is_some_and(|r| {
                    r == "root" || r.starts_with("role/") || r.starts_with("user/")
                })
        });
    if !iam {
        return None;
    }
    let account = account_of(principal)?;
    let role = is_role_arn(principal).then_some(principal);
    let operator = condition.operator.to_ascii_lowercase();
    let operator = operator.strip_suffix("ifexists").unwrap_or(&operator);
    let (negated, like) = match operator {
        "stringequals" | "arnequals" => (false, false),
        "stringlike" | "arnlike" => (false, true),
        "stringnotequals" | "arnnotequals" => (true, false),
        "stringnotlike" | "arnnotlike" => (true, true),
        _ => return None,
    };
    // ARN operators match wildcards too.
    let like = like || operator.starts_with("arn");
    let test = |pattern: &str, value: &str| {
        if like {
            pattern::matches(pattern, value)
        } else {
            pattern == value
        }
    };
    let any = match condition.key.to_ascii_lowercase().as_str() {
        "aws:principalaccount" => condition.values.iter().any(|v| test(v, account)),
        "aws:principalarn" => match role {
            Some(arn) => condition.values.iter().any(|v| test(v, arn)),
            // Some role of the account: it matches none when every value names another account.
            None => {
                let elsewhere = |v: &String| {
                    v.split(':')
                        .nth(4)
                        .is_some_and(|a| !pattern::has_wildcard(a) && a != account)
                };
                if !condition.values.iter().all(elsewhere) {
                    return None;
                }
                false
            }
        },
        _ => return None,
    };
    Some(any != negated)
}

fn is_role_arn(id: &str) -> bool {
    id.starts_with("arn:") && id.split(':').nth(2) == Some("iam") && id.contains(":role/")
}

/// Is `listed` a session of the role `role` (`arn:aws:sts::ACCOUNT:assumed-role/NAME/...`,
/// where the role's ARN is `arn:aws:iam::ACCOUNT:role/PATH/NAME`)?
fn is_session_of(listed: &str, role: &str) -> bool {
    let Some(name) = role.rsplit('/').next() else {
        return false;
    };
    let session = listed
        .split(':')
        .nth(5)
        .and_then(|r| r.strip_prefix("assumed-role/"));
    listed.split(':').nth(2) == Some("sts")
        && account_of(listed) == account_of(role)
        && session
            .and_then(|s| s.split_once('/'))
            .is_some_and(|(n, _)| n == name)
}

/// Does `listed` name the principal `principal` itself: the same ARN, or both the same
/// account (its root's ARN or its id)? Unlike [`names_principal`], a root does not stand for
/// the account's roles.
fn names_exactly(listed: &str, principal: &str) -> bool {
    let root = |id: &str| id.ends_with(":root") || account_of(id) == Some(id);
    listed == principal
        || root(listed) && root(principal) && account_of(listed) == account_of(principal)
}

/// The condition that holds exactly when `condition` does not, where one operator is its
/// negation whether or not the key is in the request: a negated operator matches a request
/// without the key, so `StringNotEquals` is `StringEquals`'s negation, but nothing is
/// `NumericLessThan`'s (`NumericGreaterThanEquals` fails without the key), nor a set
/// operator's or a positive `...IfExists` one's. A negated `...IfExists` holds without the key
/// as the negated operator does, so its negation is the same (`StringNotEqualsIfExists`'s is
/// `StringEquals`).
fn negation(condition: &Condition) -> Option<Condition> {
    const PAIRS: &[(&str, &str)] = &[
        ("StringEquals", "StringNotEquals"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
        ("StringLike", "StringNotLike"),
        ("ArnEquals", "ArnNotEquals"),
        ("ArnLike", "ArnNotLike"),
        ("IpAddress", "NotIpAddress"),
        ("NumericEquals", "NumericNotEquals"),
        ("DateEquals", "DateNotEquals"),
    ];
    let written = condition.operator.to_ascii_lowercase();
    let (base, if_exists) = match written.strip_suffix("ifexists") {
        Some(base) => (base, true),
        None => (written.as_str(), false),
    };
    let operator = PAIRS.iter().find_map(|(yes, no)| {
        if base.eq_ignore_ascii_case(no) {
            Some(*yes)
        } else if !if_exists && base.eq_ignore_ascii_case(yes) {
            Some(*no)
        } else {
            None
        }
    })?;
    Some(Condition {
        operator: operator.to_string(),
        key: condition.key.clone(),
        values: condition.values.clone(),
    })
}

/// What of `actions` the statements `allowed` let through: an action one of theirs covers,
/// or where one of theirs is narrower (`kms:*` through a statement allowing `kms:Decrypt` is
/// `kms:Decrypt`), theirs; an action they only partly overlap stays, conditional: so are
/// actions let through only by statements with conditions or in part.
///
/// The conditions of the statements an action gets through only under them are kept on the
/// row (`unless`): a key policy's `kms:ViaService`, a trust's `aws:MultiFactorAuthPresent`.
/// Dropping one then shows as access gained.
fn intersect(actions: Vec<String>, allowed: &[&Statement]) -> Denied {
    let mut out: Vec<String> = Vec::new();
    let mut conditional = false;
    // The statements whose conditions some action needs, by position in `allowed`.
    let mut relied: BTreeSet<usize> = BTreeSet::new();
    for action in actions {
        // What gets through, whether only in part or under conditions, and the statement
        // whose conditions it needs.
        let mut through: Vec<(String, bool, Option<usize>)> = Vec::new();
        for (index, statement) in allowed.iter().enumerate() {
            let conditioned = !statement.condition.is_empty();
            let needs = conditioned.then_some(index);
            // All actions but some (a NotAction's row): theirs that it does not leave out get
            // through (`* except iam:*` through a trust allowing `sts:AssumeRole` is
            // `sts:AssumeRole`); one it leaves out in part gets through in part.
            if let Some(left_out) = excepted(&action) {
                match &statement.action {
                    Clause::Is(patterns) => {
                        for p in patterns {
                            if left_out.iter().any(|l| pattern::is_subset(p, l)) {
                                continue;
                            }
                            let partly = left_out.iter().any(|l| pattern::overlaps(p, l));
                            through.push((p.clone(), conditioned || partly, needs));
                        }
                    }
                    Clause::Not(_) => through.push((action.clone(), true, needs)),
                }
                continue;
            }
            match &statement.action {
                Clause::Is(patterns) => {
                    if patterns.iter().any(|p| pattern::is_subset(&action, p)) {
                        through.push((action.clone(), conditioned, needs));
                        continue;
                    }
                    for p in patterns {
                        if pattern::is_subset(p, &action) {
                            through.push((p.clone(), conditioned, needs));
                        } else if pattern::overlaps(p, &action) {
                            through.push((action.clone(), true, needs));
                        }
                    }
                }
                Clause::Not(patterns) => {
                    if !patterns.iter().any(|p| pattern::overlaps(&action, p)) {
                        through.push((action.clone(), conditioned, needs));
                    } else if !patterns.iter().any(|p| pattern::is_subset(&action, p)) {
                        through.push((action.clone(), true, needs));
                    }
                }
            }
        }
        if through.is_empty() {
            continue;
        }
        // Whole through an unconditional statement: nothing narrower needs showing.
        if through.iter().any(|(a, c, _)| *a == action && !c) {
            out.push(action);
            continue;
        }
        if through.iter().all(|(_, c, _)| *c) {
            conditional = true;
            relied.extend(through.iter().filter_map(|(_, _, needs)| *needs));
        }
        for (a, _, _) in through {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    let mut denied = Denied {
        conditional,
        ..Denied::all(out)
    };
    let all_of = |statement: &Statement| {
        statement
            .condition
            .iter()
            .map(condition_text)
            .collect::<Vec<_>>()
    };
    match relied
        .iter()
        .map(|&i| allowed[i])
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {}
        [one] => {
            denied.unless = all_of(one);
            denied.negated = one.condition.clone();
        }
        several => {
            let each: Vec<String> = several
                .iter()
                .map(|s| match all_of(s).as_slice() {
                    [one] => one.clone(),
                    all => format!("({})", all.join(" and ")),
                })
                .collect();
            denied.unless = vec![each.join(" or ")];
        }
    }
    denied
}

fn trust_rows(stack: &Stack, role: &Node, rows: &mut Vec<Grant>) {
    let Some(trust) = stack.policy(role, "trust") else {
        return;
    };
    let denies = denies(trust);
    for statement in allows(trust) {
        let Some(Clause::Is(principals)) = &statement.principal else {
            continue;
        };
        let mut listed: Vec<(PrincipalKind, String)> = match principals {
            Principals::Everyone => vec![(PrincipalKind::Aws, "*".to_string())],
            Principals::Listed(listed) => listed.iter().map(|p| (p.kind, p.id.clone())).collect(),
        };
        // Everyone held to callers by `aws:PrincipalArn` or `aws:PrincipalAccount` lets in
        // the stack's roles those conditions hold for, each as itself (without an IAM policy
        // of its own, as a trust naming it does): what they reach goes on through this role.
        // `push_row` keeps the roles the conditions hold for.
        let everyone = listed
            .iter()
            .any(|(kind, id)| *kind == PrincipalKind::Aws && id == "*");
        let held_to_callers = statement.condition.iter().any(|c| {
            crate::policy::holds_only_on_listed_values(&c.operator)
                && matches!(
                    c.key.to_ascii_lowercase().as_str(),
                    "aws:principalarn" | "aws:principalaccount"
                )
        });
        if everyone && held_to_callers {
            listed.extend(
                (stack.nodes.iter())
                    .filter(|n| n.kind == Kind::Role && n.address != role.address)
                    .map(|n| (PrincipalKind::Aws, n.arn.clone())),
            );
        }
        for (kind, id) in listed {
            // A role of the stack that denies itself the assumption cannot make it, whatever
            // the trust policy says.
            let denied = apply_denies(
                &denies,
                Some(stack.caller(&id)),
                Some(&role.arn),
                statement_actions(&statement),
            )
            .then(|actions| callers_denials(stack, &id, &role.arn, actions));
            if denied.actions.is_empty() {
                continue;
            }
            push_row(
                stack,
                rows,
                &statement,
                (kind, &id),
                false,
                denied,
                (role.address.clone(), role.arn.clone()),
                format!("{} trust", role.address),
            );
        }
    }
}

/// A row of a trust or resource policy's statement: its class from the principal, the
/// statement's conditions and what the Denies left it.
#[allow(clippy::too_many_arguments)]
fn push_row(
    stack: &Stack,
    rows: &mut Vec<Grant>,
    statement: &Statement,
    (kind, id): (PrincipalKind, &str),
    in_resource_policy: bool,
    denied: Denied,
    (resource, target): (String, String),
    via: String,
) {
    // A condition on who the caller is that fails for this principal leaves it nothing; one
    // that holds says nothing more.
    let mut own: Vec<&Condition> = Vec::new();
    for condition in &statement.condition {
        match holds_for(condition, id) {
            Some(false) => return,
            Some(true) => {}
            None => own.push(condition),
        }
    }
    let mut conditions: Vec<Condition> = own.iter().map(|c| (*c).clone()).collect();
    conditions.extend(denied.negated);
    let mut texts: Vec<String> = own.iter().map(|c| condition_text(c)).collect();
    texts.extend(denied.unless);
    rows.push(Grant {
        risk: classify(
            stack,
            id,
            kind,
            in_resource_policy,
            &conditions,
            &denied.actions,
        ),
        conditional: denied.conditional || own.iter().any(|c| !scopes_principal(c)),
        principal: principal_label(stack, kind, id),
        actions: denied.actions,
        resource,
        target,
        conditions: texts,
        via: vec![via],
    });
}

/// What is left of `actions` on `resource` after the caller's own policies, when the caller
/// is one of the stack's roles: an explicit Deny in its identity policies or its permissions
/// boundary wins over a trust or resource policy's Allow. And a boundary's implicit deny
/// limits a role even where a resource or trust policy names the role's ARN: only a role
/// session's ARN escapes it (IAM's policy evaluation logic, "Evaluating identity-based policies
/// with resource-based policies" and "Permissions boundaries").
fn callers_denials(stack: &Stack, caller: &str, resource: &str, actions: Vec<String>) -> Denied {
    let Some(role) = stack.node_by_arn(caller).filter(|n| n.kind == Kind::Role) else {
        return Denied::all(actions);
    };
    let (documents, _) = identity_documents(stack, role);
    let all: Vec<Statement> = documents.iter().flat_map(|(_, d)| denies(d)).collect();
    let denied = apply_denies(&all, None, Some(resource), actions);
    under_boundary(denied, boundary_of(stack, role), resource)
}

/// What a role's permissions boundary ([`boundary_of`]) leaves of `denied` on `target`: what
/// it allows there too; all of it, conditional, when plinth cannot read the boundary.
fn under_boundary(
    denied: Denied,
    boundary: Option<Option<&PolicyDocument>>,
    target: &str,
) -> Denied {
    match boundary {
        Some(Some(doc)) => denied.then(|a| within_boundary(doc, target, a)),
        Some(None) => Denied {
            conditional: true,
            ..denied
        },
        None => denied,
    }
}

/// A role's permissions boundary: `None` without one, `Some(None)` for a managed policy
/// whose document plinth cannot read (neither the stack's nor an AWS managed policy it knows).
fn boundary_of<'n>(stack: &'n Stack, role: &'n Node) -> Option<Option<&'n PolicyDocument>> {
    let arn = role
        .attributes
        .get("permissions_boundary")
        .and_then(Value::as_str)?;
    Some(
        stack
            .node_by_arn(arn)
            .and_then(|n| stack.policy(n, "document"))
            .or_else(|| aws_managed::document(arn)),
    )
}

/// A role's identity policies with their names: inline, then managed policies of the stack
/// and AWS managed policies plinth knows ([`aws_managed`]); and the ARNs of the managed
/// policies whose documents cannot be read from the plan.
fn identity_documents<'n>(
    stack: &'n Stack,
    role: &'n Node,
) -> (Vec<(String, &'n PolicyDocument)>, Vec<String>) {
    let mut documents: Vec<(String, &PolicyDocument)> = Vec::new();
    if let Some(Value::Map(policies)) = role.attributes.get("policies") {
        for (name, value) in policies {
            let pending = || role.pending(&format!("policies.{name}"));
            if let Some(doc) = value.as_policy().or_else(pending) {
                documents.push((format!("{} policies.{name}", role.address), doc));
            }
        }
    }
    let mut unknown = Vec::new();
    if let Some(Value::Set(arns)) = role.attributes.get("managed_policies") {
        for arn in arns {
            match stack
                .node_by_arn(arn)
                .and_then(|n| stack.policy(n, "document").map(|d| (n, d)))
            {
                Some((node, doc)) => documents.push((node.address.clone(), doc)),
                None => match aws_managed::document(arn) {
                    Some(doc) => documents.push((arn.clone(), doc)),
                    None => unknown.push(arn.clone()),
                },
            }
        }
    }
    (documents, unknown)
}

/// A role's identity policies' rows. A managed policy from outside the stack cannot be read
/// from the plan: an AWS managed policy plinth knows gives the rows of its document, any
/// other one conditional row that names it.
fn identity_rows(stack: &Stack, role: &Node, rows: &mut Vec<Grant>) {
    let (documents, unknown) = identity_documents(stack, role);
    let boundary = boundary_of(stack, role);
    let all_denies: Vec<Statement> = documents.iter().flat_map(|(_, d)| denies(d)).collect();
    let role_arn = role.arn.as_str();
    for arn in unknown {
        // What it grants cannot be told: it may be anything, escalation included.
        rows.push(Grant {
            risk: Risk::Escalation,
            principal: role.address.clone(),
            actions: vec!["(not known to plinth)".to_string()],
            resource: "*".to_string(),
            target: "*".to_string(),
            conditions: Vec::new(),
            via: vec![arn],
            conditional: true,
        });
    }
    for (via, doc) in &documents {
        for statement in allows(doc) {
            let patterns: Vec<String> = match &statement.resource {
                Some(Clause::Is(patterns)) => patterns.clone(),
                Some(Clause::Not(patterns)) => vec![format!("* except {}", patterns.join(", "))],
                None => continue,
            };
            let granted = statement_actions(&statement);
            for resource_pattern in patterns {
                for (resource, target_arn, target) in targets(stack, &resource_pattern, &granted) {
                    // Denies and the boundary are matched against what the row reaches: one
                    // queue of a pattern, a bucket's objects.
                    let mut denied =
                        apply_denies(&all_denies, None, Some(&target_arn), granted.clone());
                    denied = under_boundary(denied, boundary, &target_arn);
                    let actions = &mut denied.actions;
                    // Only actions of the resource's own service act on it.
                    let arn = target.map_or(resource_pattern.as_str(), |n| n.arn.as_str());
                    if let Some(service) =
                        arn.strip_prefix("arn:").and_then(|a| a.split(':').nth(1))
                    {
                        // (STS acts on IAM's roles: `sts:AssumeRole` on `arn:aws:iam::...`.)
                        actions.retain(|a| {
                            let prefix = a.split(':').next().unwrap_or("");
                            a.starts_with('*')
                                || pattern::overlaps(prefix, service)
                                || service == "iam" && pattern::overlaps(prefix, "sts")
                        });
                    }
                    // Nor does an action none of whose resource types the row's resource can
                    // be (`s3:GetObject` on a bucket's ARN, `sqs:ListQueues` on a queue's): the
                    // row's ARN (pattern), which for `arn:aws:s3:::b/*` names the bucket's
                    // objects where the resource it reaches is the bucket, and for a pattern
                    // naming a bucket and its objects is one row for each.
                    let catalog = crate::policy::catalog::catalog();
                    actions.retain(|a| catalog.acts_on(a, &target_arn));
                    if let Some(node) = target {
                        denied =
                            denied.then(|a| resource_side(stack, node, &target_arn, role_arn, a));
                    } else if account_of(&resource_pattern)
                        .is_some_and(|a| a != stack.account_id && !pattern::has_wildcard(a))
                    {
                        // Another account's resource answers with its own policy too.
                        denied.conditional = true;
                    }
                    let Denied {
                        actions,
                        conditional,
                        unless,
                        negated,
                    } = denied;
                    if actions.is_empty() {
                        continue;
                    }
                    let mut texts: Vec<String> =
                        statement.condition.iter().map(condition_text).collect();
                    texts.extend(unless);
                    let mut conditions = statement.condition.clone();
                    conditions.extend(negated);
                    rows.push(Grant {
                        risk: classify(
                            stack,
                            role_arn,
                            PrincipalKind::Aws,
                            false,
                            &conditions,
                            &actions,
                        ),
                        principal: role.address.clone(),
                        actions,
                        resource,
                        target: target_arn,
                        conditional: conditional || !texts.is_empty(),
                        conditions: texts,
                        via: vec![via.clone()],
                    });
                }
            }
        }
    }
}

/// What a permissions boundary leaves of a role's actions on `target`: only what it allows
/// there too (the narrower of the two patterns), less what it denies.
///
/// A boundary statement whose Resource names only part of what the row reaches (the row's
/// `*`, the boundary's one queue) lets the actions through in part: the row stays, but
/// conditional, as it holds only where the boundary's resources are.
fn within_boundary(boundary: &PolicyDocument, target: &str, actions: Vec<String>) -> Denied {
    let allowed: Vec<Statement> = allows(boundary);
    let (whole, part): (Vec<&Statement>, Vec<&Statement>) = allowed
        .iter()
        .filter(|s| reaches(s, target))
        .partition(|s| covers_whole(s, target));
    apply_denies(&denies(boundary), None, Some(target), actions).then(|actions| {
        let mut through = intersect(actions.clone(), &whole);
        let in_part = intersect(actions, &part);
        let more: Vec<String> = (in_part.actions.into_iter())
            .filter(|a| !through.actions.contains(a))
            .collect();
        if !more.is_empty() {
            through.actions.extend(more);
            through.conditional = true;
        }
        through
    })
}

/// Does an Allow statement's Resource (or NotResource) take in all of `target`?
fn covers_whole(statement: &Statement, target: &str) -> bool {
    match &statement.resource {
        None => true,
        Some(Clause::Is(patterns)) => patterns.iter().any(|p| pattern::is_subset(target, p)),
        Some(Clause::Not(patterns)) => !patterns.iter().any(|p| pattern::overlaps(target, p)),
    }
}

/// Does an Allow statement's Resource (or NotResource) reach `target`?
fn reaches(statement: &Statement, target: &str) -> bool {
    match &statement.resource {
        None => true,
        Some(Clause::Is(patterns)) => patterns.iter().any(|p| pattern::overlaps(p, target)),
        Some(Clause::Not(patterns)) => !patterns.iter().any(|p| pattern::is_subset(target, p)),
    }
}

/// The rows a plan gains and loses: the desired state's grants against the live account's.
/// A row whose principal, resource, conditions and path stay the same reports only the
/// actions added or removed (`s3:*` covers `s3:GetObject`).
///
/// Only the groups of resources a change can reach are computed (`affected`): the rows of the
/// others are the same on both sides.
///
/// In a large plan the two sides are built, and their rows computed, on two threads: they
/// share nothing until they are compared.
pub fn changes(plan: &Plan) -> Vec<GrantChange> {
    changes_on(plan, plan.changes.len() >= TWO_THREADS_FROM)
}

/// [`changes`], on two threads when `both`.
fn changes_on(plan: &Plan, both: bool) -> Vec<GrantChange> {
    let side = |side| {
        let stack = Stack::from_plan(plan, side);
        let links = affected::links(&stack);
        (stack, links)
    };
    let ((live, live_links), (desired, desired_links)) =
        two_at_once(both, || side(Side::Live), || side(Side::Desired));
    let affected::Affected {
        live: live_affected,
        desired: desired_affected,
    } = affected::affected(&live, &desired, [&live_links, &desired_links]);
    let (before, after) = two_at_once(
        both,
        move || grants_from(&live, |index| live_affected[index]),
        move || grants_from(&desired, |index| desired_affected[index]),
    );
    let changes = gained_and_lost(&before, &after, &plan.account.account_id, both);
    // Freeing a large plan's rows is milliseconds of work: each side's on a core of its own.
    two_at_once(both, move || drop(before), move || drop(after));
    changes
}

/// The size of plan from which [`changes`] takes a second thread: below it, starting one
/// costs more than it saves.
const TWO_THREADS_FROM: usize = 500;

/// The rows gained and lost from `before` to `after`, sorted riskiest first; each half on a
/// thread of its own when `both`.
fn gained_and_lost(before: &[Grant], after: &[Grant], own: &str, both: bool) -> Vec<GrantChange> {
    let (mut out, lost) = two_at_once(
        both,
        || {
            let mut gained = Vec::new();
            difference(after, before, Change::Gained, own, &mut gained);
            gained
        },
        || {
            let mut lost = Vec::new();
            difference(before, after, Change::Lost, own, &mut lost);
            lost
        },
    );
    out.extend(lost);
    out.sort_by(|a, b| (order(&a.grant), a.change).cmp(&(order(&b.grant), b.change)));
    out
}

/// `changes` computed from every row of both sides, which the groups must not change: for the
/// tests, and the benchmark's reference.
#[doc(hidden)]
pub fn changes_in_full(plan: &Plan) -> Vec<GrantChange> {
    gained_and_lost(
        &grants(&Stack::from_plan(plan, Side::Live)),
        &grants(&Stack::from_plan(plan, Side::Desired)),
        &plan.account.account_id,
        false,
    )
}

/// What makes two rows the same row: principal, resource, conditions and path, where the
/// resource is the same by its label (a stack resource's address, which stays when a role is
/// renamed) or by its ARN (a bucket that leaves the spec is named by its ARN instead of its
/// address).
type RowKey<'g> = (&'g str, &'g str, &'g [String], &'g [String]);

fn row_key<'g>(g: &'g Grant, resource: &'g str) -> RowKey<'g> {
    (&g.principal, resource, &g.conditions, path(g))
}

/// The trusts a row goes through, without the policy that grants its actions at the end: an
/// action that moves to another policy of the same role (an inline policy renamed, a statement
/// moved to a managed policy or to the queue's own policy) is no access gained or lost.
fn path(g: &Grant) -> &[String] {
    &g.via[..g.via.len().saturating_sub(1)]
}

/// A row without its resource and conditions: the rows of one principal through one path.
type WhoKey<'g> = (&'g str, &'g [String]);

/// The rows of `from` that `other` does not hold. A row is held by a row of `other` for the
/// same principal and path whose actions and resource cover it and whose conditions hold
/// whenever its own do: a trust that gains an `sts:ExternalId` condition, or narrows an
/// `aws:SourceIp` range, grants nothing it did not grant before, and one that drops or widens
/// it loses nothing.
fn difference(
    from: &[Grant],
    other: &[Grant],
    change: Change,
    own: &str,
    out: &mut Vec<GrantChange>,
) {
    // Rows of one principal, resource, conditions and path through different policies (an
    // inline and a managed policy of one role, each on `*`) share a key: each is kept.
    // Sized once: most rows have a key of their own, and growing the tables by doubling
    // rehashed every key along the way.
    let sized = || FastMap::with_capacity_and_hasher(other.len(), Default::default());
    let mut by_label: FastMap<RowKey, Vec<&Grant>> = sized();
    let mut by_arn: FastMap<RowKey, Vec<&Grant>> = sized();
    for g in other {
        by_label.entry(row_key(g, &g.resource)).or_default().push(g);
        by_arn.entry(row_key(g, &g.target)).or_default().push(g);
    }
    let mut by_who: FastMap<WhoKey, Held> = FastMap::default();
    for g in other {
        by_who.entry((&g.principal, path(g))).or_default().push(g);
    }
    // Everyone (`*`) holds what any one principal holds, under the same conditions; and
    // another account (its root) what any of its roles holds: they get in only as that
    // account allows, as its root does. (The stack's own account's root only delegates to
    // its IAM policies: one of its roles named directly gets in without one.)
    let in_scope = |grant: &Grant| -> Vec<&Grant> {
        let account = account_of(&grant.principal)
            .filter(|a| *a != own && grant.principal.contains(":role/"));
        // Everyone held to another account by `aws:PrincipalAccount` is that account's
        // principals: its root holds what they hold.
        let pinned = (grant.principal == "*")
            .then(|| pinned_account(&grant.conditions))
            .flatten()
            .filter(|a| a != own);
        let principals = [
            Some(grant.principal.as_str()),
            Some("*"),
            account,
            pinned.as_deref(),
        ];
        principals
            .into_iter()
            .flatten()
            .filter_map(|principal| by_who.get(&(principal, path(grant))))
            .flat_map(|held| held.covering(grant))
            .collect()
    };
    for grant in from {
        let held_by = |held: &Grant, a: &String| held.actions.iter().any(|b| action_covers(b, a));
        let same_rows: Vec<&Grant> = by_label
            .get(&row_key(grant, &grant.resource))
            .or_else(|| by_arn.get(&row_key(grant, &grant.target)))
            .map(|rows| rows.to_vec())
            .unwrap_or_default();
        // The same row on the other side: one that holds all of it, or else the first.
        let same = same_rows
            .iter()
            .find(|s| grant.actions.iter().all(|a| held_by(s, a)))
            .or(same_rows.first())
            .copied();
        // Most rows are the same row on the other side, which holds all of it.
        let actions: Vec<String> = match same {
            Some(same) if grant.actions.iter().all(|a| held_by(same, a)) => Vec::new(),
            _ => {
                let in_scope = in_scope(grant);
                // Of those, the rows whose conditions hold whenever the row's own do. A role
                // of the stack (named by its address) is of this account: an Allow to everyone
                // in the account holds what it holds.
                let conditions = parsed_conditions(&grant.conditions);
                // Whose account the row's principal is in: `aws:PrincipalAccount` holds it.
                let caller = if grant.principal.starts_with("role.") {
                    Some(own)
                } else {
                    account_of(&grant.principal)
                };
                let holders: Vec<&Grant> = in_scope
                    .iter()
                    .filter(|held| conditions_imply(&conditions, held, caller))
                    .copied()
                    .collect();
                let mut unheld: Vec<String> = grant
                    .actions
                    .iter()
                    .filter(|a| !holders.iter().any(|held| held_by(held, a)))
                    .cloned()
                    .collect();
                if !unheld.is_empty() && holders.len() < in_scope.len() {
                    if let Some(inner) = tests_of(conditions) {
                        unheld
                            .retain(|a| !held_together(&inner, &in_scope, |held| held_by(held, a)));
                    }
                }
                unheld
            }
        };
        let risk_rose = same.is_some_and(|s| grant.risk < s.risk) && change == Change::Gained;
        if actions.is_empty() && !risk_rose {
            continue;
        }
        // Part of a row is the class of its own actions, when the actions made the row's
        // class: a gained `kms:GenerateDataKey` is data, though the row also holds `kms:Put*`.
        // A row public or external by its principal, or escalation by the role its principal
        // may assume, keeps its class.
        let class = |actions: &[String]| actions.iter().map(|a| action_risk(a)).min();
        let risk = if actions.is_empty() || actions.len() == grant.actions.len() {
            grant.risk
        } else if class(&grant.actions) == Some(grant.risk) {
            class(&actions).unwrap_or(grant.risk)
        } else {
            grant.risk
        };
        let actions = if actions.is_empty() {
            grant.actions.clone()
        } else {
            actions
        };
        out.push(GrantChange {
            change,
            grant: Grant {
                risk,
                actions,
                ..grant.clone()
            },
        });
    }
}

/// The rows of one principal through one path, with what finds those whose resource may cover
/// a row's without trying each: a principal may hold thousands.
#[derive(Default)]
struct Held<'g> {
    /// In order.
    rows: Vec<&'g Grant>,
    /// Places in `rows`, by resource label and by target.
    by_resource: FastMap<&'g str, Vec<usize>>,
    by_target: FastMap<&'g str, Vec<usize>>,
    /// Places in `rows` of those whose target is a pattern.
    patterns: Vec<usize>,
}

impl<'g> Held<'g> {
    fn push(&mut self, g: &'g Grant) {
        let at = self.rows.len();
        self.rows.push(g);
        self.by_resource.entry(&g.resource).or_default().push(at);
        self.by_target.entry(&g.target).or_default().push(at);
        if pattern::has_wildcard(&g.target) {
            self.patterns.push(at);
        }
    }

    /// The rows whose resource covers `grant`'s (`resource_covers`), in order. A row on
    /// another literal target never covers a literal target, so only the rows on the same
    /// resource or target and those on a pattern are tried; a pattern (or an exception list)
    /// is tried against every row.
    fn covering(&self, grant: &Grant) -> Vec<&'g Grant> {
        if pattern::has_wildcard(&grant.target) {
            return (self.rows.iter())
                .filter(|held| resource_covers(held, grant))
                .copied()
                .collect();
        }
        let none = &[][..];
        let mut places: Vec<usize> = [
            self.by_resource
                .get(grant.resource.as_str())
                .map_or(none, Vec::as_slice),
            self.by_target
                .get(grant.target.as_str())
                .map_or(none, Vec::as_slice),
            &self.patterns,
        ]
        .concat();
        places.sort_unstable();
        places.dedup();
        places
            .into_iter()
            .map(|at| self.rows[at])
            .filter(|held| resource_covers(held, grant))
            .collect()
    }
}

/// A NotAction or NotResource of a row, shown as `* except A, B`: the patterns it leaves out.
fn excepted(pattern: &str) -> Option<Vec<&str>> {
    pattern
        .strip_prefix("* except ")
        .map(|rest| rest.split(", ").collect())
}

/// Does the action pattern `outer` of a row cover `inner`? Either may be all actions but some
/// (`* except s3:*`): all but `s3:*` covers `sqs:SendMessage` and all but `s3:Get*`, and not
/// all but `s3:PutObject`.
fn action_covers(outer: &str, inner: &str) -> bool {
    match (excepted(outer), excepted(inner)) {
        (None, None) => pattern::is_subset(inner, outer),
        // What `inner` grants is left out of nothing `outer` leaves out.
        (Some(left_out), None) => !left_out.iter().any(|p| pattern::overlaps(inner, p)),
        // All but some actions is covered only by all actions.
        (None, Some(_)) => pattern::is_universal(outer),
        // Everything `outer` leaves out, `inner` leaves out too.
        (Some(outer_out), Some(inner_out)) => outer_out
            .iter()
            .all(|o| inner_out.iter().any(|i| pattern::is_subset(o, i))),
    }
}

/// Does `held`'s resource cover `grant`'s: the same resource, or an ARN pattern that matches
/// every resource `grant`'s does (`arn:aws:s3:::b/*` covers `arn:aws:s3:::b/a/*`)? Rows of
/// the stack's resources (named by address) and rows of what lies outside it (named by the
/// pattern as written) cover only their own sort: a queue the plan creates is new access
/// even where a wildcard already named queues outside the stack.
fn resource_covers(held: &Grant, grant: &Grant) -> bool {
    let in_stack = |g: &Grant| g.resource != g.target;
    held.resource == grant.resource
        || held.target == grant.target
        || (in_stack(held) == in_stack(grant)
            && excepted(&held.target).is_none()
            && excepted(&grant.target).is_none()
            && pattern::is_subset(&grant.target, &held.target))
}

/// Parsed conditions as condition tests, unless one is not a test (a NotPrincipal's
/// exception).
fn tests_of(parsed: Vec<(&str, Option<Condition>)>) -> Option<Vec<Condition>> {
    parsed.into_iter().map(|(_, test)| test).collect()
}

/// The one account a row's `StringEquals aws:PrincipalAccount` condition names, if any.
fn pinned_account(conditions: &[String]) -> Option<String> {
    parsed_conditions(conditions)
        .into_iter()
        .filter_map(|(_, test)| test)
        .find_map(|test| match test.values.as_slice() {
            [account] if test.operator == "StringEquals" && test.key == "aws:principalaccount" => {
                Some(account.clone())
            }
            _ => None,
        })
}

/// Do rows of `in_scope` that hold the action (`holds`) hold it together under a row's
/// condition tests `inner`, though none alone does: `team = a` in one row and `team = b` in
/// another hold `team` in `a, b` ([`crate::policy::conditions_union_covers`]). Rows whose
/// conditions are not all tests take no part.
fn held_together(inner: &[Condition], in_scope: &[&Grant], holds: impl Fn(&Grant) -> bool) -> bool {
    let outers: Vec<Vec<Condition>> = in_scope
        .iter()
        .filter(|held| holds(held))
        .filter_map(|held| tests_of(parsed_conditions(&held.conditions)))
        .collect();
    let outers: Vec<&[Condition]> = outers.iter().map(Vec::as_slice).collect();
    !outers.is_empty() && crate::policy::conditions_union_covers(inner, &outers)
}

/// A row's conditions read back into condition tests (`Operator key values`, as
/// `condition_text` writes them), or kept as text when they are not one (a NotPrincipal's
/// exception).
fn parsed_conditions(conditions: &[String]) -> Vec<(&str, Option<Condition>)> {
    conditions
        .iter()
        .map(|text| {
            let test = text.split_once(' ').and_then(|(operator, rest)| {
                let (key, values) = rest.split_once(' ')?;
                Some(Condition {
                    operator: operator.to_string(),
                    key: key.to_ascii_lowercase(),
                    values: values.split(", ").map(str::to_string).collect(),
                })
            });
            (text.as_str(), test)
        })
        .collect()
}

/// Does each of `held`'s conditions hold whenever `conditions` all do: is it one of them, or
/// implied by one of them (`aws:SourceIp` in 10.1.0.0/16 implies it in 10.0.0.0/8)?
///
/// `caller`, the stack's own account when the row is one of its roles: a condition of `held`
/// on the caller's account that holds for that account holds for the row.
fn conditions_imply(
    conditions: &[(&str, Option<Condition>)],
    held: &Grant,
    caller: Option<&str>,
) -> bool {
    if held.conditions.is_empty() {
        return true;
    }
    let held_tests = parsed_conditions(&held.conditions);
    held_tests.iter().all(|(held_text, held_test)| {
        let on_the_account = held_test
            .as_ref()
            .is_some_and(|h| h.key == "aws:principalaccount");
        if let (true, Some(account), Some(test)) = (on_the_account, caller, held_test) {
            if holds_for(test, account) == Some(true) {
                return true;
            }
        }
        conditions.iter().any(|(text, test)| {
            text == held_text
                || matches!((test, held_test), (Some(t), Some(h)) if crate::policy::condition_implies(t, h))
        })
    })
}

/// `plan --detailed-exitcode`: 0 without changes, 3 when some gained row of the plan's access
/// `changes` is at or above `threshold` (`None`: when some policy change widens access at
/// all), 2 otherwise.
pub fn detailed_exit_code(plan: &Plan, threshold: Option<Risk>, changes: &[GrantChange]) -> u8 {
    if plan.is_empty() {
        return 0;
    }
    let fails = match threshold {
        None => plan.summary().widens_access,
        Some(threshold) => gains_at_or_above(changes, threshold),
    };
    if fails {
        3
    } else {
        2
    }
}

/// Is some gained row at or above `threshold`?
pub fn gains_at_or_above(changes: &[GrantChange], threshold: Risk) -> bool {
    changes
        .iter()
        .any(|c| c.change == Change::Gained && c.grant.risk <= threshold)
}

/// Actions for people: each pattern, with the number of actions a wildcard covers
/// (`s3:Get* (64 actions)`). Four or more actions of one service that are all but at most
/// three of a wildcard's (what a Deny left of it) are written as that wildcard with its
/// exceptions: `sqs:* except sqs:DeleteMessage (19 actions)`.
pub fn describe_actions(actions: &[String]) -> String {
    let catalog = catalog();
    let mut parts: Vec<String> = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for a in actions {
        if done.contains(a.as_str()) {
            continue;
        }
        if let Some((text, members)) = all_but_a_few(a, actions) {
            parts.push(text);
            done.extend(members);
            continue;
        }
        parts.push(
            if pattern::has_wildcard(a) && !a.starts_with('*') && !a.starts_with('(') {
                let count = catalog.actions_matching(a).count();
                format!(
                    "{} ({count} action{})",
                    spelled(a),
                    if count == 1 { "" } else { "s" }
                )
            } else {
                spelled(a)
            },
        );
    }
    parts.join(", ")
}

/// The actions of `first`'s service among `actions`, as a wildcard less its exceptions, when
/// there are four or more, all named, and they are all but one to three of the wildcard their
/// names' common beginning makes (`sqs:*`, `s3:Get*`); with the actions it stands for.
fn all_but_a_few<'s>(first: &str, actions: &'s [String]) -> Option<(String, Vec<&'s str>)> {
    const MIN_ACTIONS: usize = 4;
    const MAX_EXCEPTIONS: usize = 3;
    let (service, _) = first.split_once(':')?;
    if pattern::has_wildcard(first) {
        return None;
    }
    let same: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.split_once(':').is_some_and(|(s, _)| s == service))
        .collect();
    if same.len() < MIN_ACTIONS || same.iter().any(|a| pattern::has_wildcard(a)) {
        return None;
    }
    let names: Vec<&str> = same
        .iter()
        .filter_map(|a| a.split_once(':'))
        .map(|(_, n)| n)
        .collect();
    let common = names.iter().fold(names[0], |common, name| {
        let shared = common
            .bytes()
            .zip(name.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        &common[..shared]
    });
    let wildcard = format!("{service}:{common}*");
    let all: Vec<String> = catalog()
        .actions_matching(&wildcard)
        .map(|(s, a)| format!("{}:{}", s.prefix, a.name).to_ascii_lowercase())
        .collect();
    let members: BTreeSet<&str> = same.iter().copied().collect();
    if members.iter().any(|m| !all.iter().any(|a| a == m)) {
        return None;
    }
    let missing: Vec<&String> = all
        .iter()
        .filter(|a| !members.contains(a.as_str()))
        .collect();
    if missing.is_empty() || missing.len() > MAX_EXCEPTIONS {
        return None;
    }
    let text = format!(
        "{} except {} ({} actions)",
        spelled(&wildcard),
        missing
            .iter()
            .map(|m| spelled(m))
            .collect::<Vec<_>>()
            .join(", "),
        members.len()
    );
    Some((text, same))
}

/// The catalog's spelling of a lowercase action (`sts:AssumeRole`); of a wildcard, its literal
/// parts as the first action it matches spells them (`s3:*Object`). As is when the catalog
/// knows no such action.
fn spelled(action: &str) -> String {
    if !action.contains(':') {
        return action.to_string();
    }
    let Some((service, first)) = catalog().actions_matching(action).next() else {
        return action.to_string();
    };
    let name = format!("{}:{}", service.prefix, first.name);
    if !pattern::has_wildcard(action) {
        return name;
    }
    // Each run of the pattern between wildcards is found, in order, in the action's name
    // (compared lowercase: the catalog's names are ASCII), and takes its spelling there.
    let lower = name.to_ascii_lowercase();
    let mut out = String::with_capacity(action.len());
    let mut from = 0;
    let mut literal = String::new();
    let flush = |literal: &mut String, out: &mut String, from: &mut usize| {
        if literal.is_empty() {
            return;
        }
        match lower[*from..].find(literal.as_str()) {
            Some(at) => {
                let start = *from + at;
                out.push_str(&name[start..start + literal.len()]);
                *from = start + literal.len();
            }
            None => out.push_str(literal),
        }
        literal.clear();
    };
    for c in action.chars() {
        if c == '*' || c == '?' {
            flush(&mut literal, &mut out, &mut from);
            out.push(c);
        } else {
            literal.push(c.to_ascii_lowercase());
        }
    }
    flush(&mut literal, &mut out, &mut from);
    out
}

/// One line per row, as the text plan and `plinth access` print them:
/// `external  111122223333 gains sts:AssumeRole on role.tonic_lambda (via role.tonic_lambda trust)`.
pub fn describe(grant: &Grant, verb: &str) -> String {
    let mut line = format!(
        "{} {verb} {} on {}",
        grant.principal,
        describe_actions(&grant.actions),
        grant.resource
    );
    if grant.via.len() > 1 {
        let through: Vec<&str> = grant.via[..grant.via.len() - 1]
            .iter()
            .map(|v| v.trim_end_matches(" trust"))
            .collect();
        line.push_str(&format!(" through {}", through.join(", then ")));
    }
    if !grant.conditions.is_empty() {
        line.push_str(&format!(" if {}", grant.conditions.join(" and ")));
    }
    if grant.conditional {
        line.push_str(" (conditional)");
    }
    line
}
