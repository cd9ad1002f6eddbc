//! Statements as sets of requests, and whether one set of statements grants more than another.
//!
//! A statement covers the requests whose principal, action and resource fall in its three
//! sets and whose context meets its conditions. To compare statement lists we split each
//! statement into atoms (one principal entry, one action pattern, one resource pattern, the
//! statement's conditions) and ask whether the other side covers each atom: one statement
//! alone, or several whose conditions together admit what the atom's do (`cases`). That is
//! exact for the common shapes and errs towards "not covered" otherwise, which reads as "may
//! widen": the safe answer for a reviewer.

use super::model::{Clause, Condition, Effect, Principal, PrincipalKind, Principals, Statement};
use serde::Serialize;
use std::borrow::Cow;

use super::{cases, pattern};

/// How a change to a policy moves the access it grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessChange {
    /// Some request is allowed that was not before.
    Widens,
    /// Some request that was allowed no longer is.
    Narrows,
    NoChange,
    /// Some requests gained access and some lost it.
    Mixed,
}

impl AccessChange {
    pub(super) fn from_gained_lost(gained: bool, lost: bool) -> AccessChange {
        match (gained, lost) {
            (true, true) => AccessChange::Mixed,
            (true, false) => AccessChange::Widens,
            (false, true) => AccessChange::Narrows,
            (false, false) => AccessChange::NoChange,
        }
    }

    pub(super) fn gained(self) -> bool {
        matches!(self, AccessChange::Widens | AccessChange::Mixed)
    }

    pub(super) fn lost(self) -> bool {
        matches!(self, AccessChange::Narrows | AccessChange::Mixed)
    }
}

/// A kind of thing a statement element lists: action or resource patterns, or principals.
pub(super) trait Element {
    /// Every request `other` admits is admitted by `self`.
    fn covers(&self, other: &Self) -> bool;
    /// Some request is admitted by both.
    fn overlaps(&self, other: &Self) -> bool;
    fn is_universal(&self) -> bool;
}

/// Action and resource patterns; actions are compared after normalization lowercased them.
impl Element for String {
    fn covers(&self, other: &Self) -> bool {
        pattern::is_subset(other, self)
    }

    fn overlaps(&self, other: &Self) -> bool {
        pattern::overlaps(self, other)
    }

    fn is_universal(&self) -> bool {
        pattern::is_universal(self)
    }
}

/// An account's root principal stands for every principal of that account (the account
/// delegates through its own policies); otherwise principals are compared literally.
impl Element for Principal {
    fn covers(&self, other: &Self) -> bool {
        if self == other {
            return true;
        }
        self.kind == PrincipalKind::Aws
            && other.kind == PrincipalKind::Aws
            && root_account(&self.id).is_some_and(|account| aws_account(&other.id) == Some(account))
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.covers(other) || other.covers(self)
    }

    fn is_universal(&self) -> bool {
        self.kind == PrincipalKind::Aws && self.id == "*"
    }
}

/// The account of an AWS principal given as an account id or an ARN.
pub(super) fn aws_account(id: &str) -> Option<&str> {
    if super::canon::is_account_id(id) {
        return Some(id);
    }
    let mut fields = id.strip_prefix("arn:")?.split(':');
    fields.nth(3).filter(|account| !account.is_empty())
}

fn root_account(id: &str) -> Option<&str> {
    id.ends_with(":root").then(|| aws_account(id)).flatten()
}

/// The values one element of a statement admits.
pub(super) enum Set<'a, T> {
    All,
    Only(&'a [T]),
    AllBut(&'a [T]),
}

/// One dimension of an atom: everything, one listed value, or a complement.
pub(super) enum Part<'a, T> {
    All,
    One(&'a T),
    AllBut(&'a [T]),
}

// Derived Clone/Copy would needlessly require `T: Copy`; a part only holds references.
impl<T> Clone for Part<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Part<'_, T> {}

impl<'a, T: Element> Set<'a, T> {
    /// An absent element admits everything: an identity policy's principal is whoever holds
    /// it, and a trust policy's resource is the role it is attached to.
    fn of(clause: Option<&'a Clause<Vec<T>>>) -> Set<'a, T> {
        match clause {
            None => Set::All,
            Some(Clause::Is(values)) => Set::Only(values),
            Some(Clause::Not(values)) => Set::AllBut(values),
        }
    }

    pub(super) fn covers(&self, part: &Part<T>) -> bool {
        match (self, part) {
            (Set::All, _) => true,
            (Set::Only(outer), Part::One(value)) => outer.iter().any(|o| o.covers(value)),
            // Only a universal pattern surely covers everything or a complement.
            (Set::Only(outer), _) => outer.iter().any(T::is_universal),
            (Set::AllBut(excluded), Part::One(value)) => {
                excluded.iter().all(|e| !e.overlaps(value))
            }
            (Set::AllBut(_), Part::All) => false,
            (Set::AllBut(excluded), Part::AllBut(inner_excluded)) => excluded
                .iter()
                .all(|e| inner_excluded.iter().any(|i| i.covers(e))),
        }
    }

    fn parts(&self) -> Vec<Part<'a, T>> {
        match self {
            Set::All => vec![Part::All],
            Set::Only(values) => values.iter().map(Part::One).collect(),
            Set::AllBut(values) => vec![Part::AllBut(values)],
        }
    }
}

pub(super) fn principal_set(statement: &Statement) -> Set<'_, Principal> {
    match &statement.principal {
        None | Some(Clause::Is(Principals::Everyone)) => Set::All,
        Some(Clause::Is(Principals::Listed(listed))) => Set::Only(listed),
        // NotPrincipal "*" excludes everyone.
        Some(Clause::Not(Principals::Everyone)) => Set::Only(&[]),
        Some(Clause::Not(Principals::Listed(listed))) => Set::AllBut(listed),
    }
}

pub(super) fn action_set(statement: &Statement) -> Set<'_, String> {
    Set::of(Some(&statement.action))
}

pub(super) fn resource_set(statement: &Statement) -> Set<'_, String> {
    Set::of(statement.resource.as_ref())
}

struct Atom<'a> {
    principal: Part<'a, Principal>,
    /// Another account that the statement's conditions hold every principal to, where its
    /// principal is everyone (`aws:PrincipalAccount`, `aws:PrincipalArn`): the atom's
    /// principals are that account's, as if it named the account.
    account: Option<&'a str>,
    action: Part<'a, String>,
    resource: Part<'a, String>,
    /// The statement's conditions, and what a named principal makes true of every request it
    /// admits: a principal of account X sends `aws:PrincipalAccount` X.
    condition: Cow<'a, [Condition]>,
}

/// The facts about a request that an AWS principal named in a statement fixes.
fn principal_facts(principal: &Principal) -> Vec<Condition> {
    let mut facts = Vec::new();
    if principal.kind != PrincipalKind::Aws {
        return facts;
    }
    let fact = |key: &str, value: &str| Condition {
        operator: "StringEquals".into(),
        key: key.into(),
        values: vec![value.into()],
    };
    if let Some(account) = aws_account(&principal.id).filter(|a| super::canon::is_account_id(a)) {
        facts.push(fact(PRINCIPAL_ACCOUNT, account));
    }
    // A role's sessions and a user send their own ARN; an account's root stands for all of
    // the account's principals, each with its own.
    let named = principal
        .id
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'));
    if let Some((_, name)) = named {
        if (name.starts_with("role/") || name.starts_with("user/")) && !name.contains(['*', '?']) {
            facts.push(fact(PRINCIPAL_ARN, &principal.id));
        }
    }
    facts
}

const PRINCIPAL_ACCOUNT: &str = "aws:principalaccount";
const PRINCIPAL_ARN: &str = "aws:principalarn";

/// The one account whose principals `conditions` admit alone, when they hold every principal
/// to one: `StringEquals aws:PrincipalAccount`, or an ARN test of `aws:PrincipalArn` whose
/// every value names that account. A service, which sends neither key, fails both.
fn pinned_account(conditions: &[Condition]) -> Option<&str> {
    let mut pinned = None;
    for condition in conditions {
        let accounts: Option<Vec<&str>> =
            match (condition.key.as_str(), condition.operator.as_str()) {
                (PRINCIPAL_ACCOUNT, "StringEquals") => {
                    Some(condition.values.iter().map(String::as_str).collect())
                }
                (PRINCIPAL_ARN, "ArnEquals" | "ArnLike" | "StringEquals" | "StringLike") => {
                    condition
                        .values
                        .iter()
                        .map(|arn| {
                            let account = arn.strip_prefix("arn:aws:")?.split(':').nth(2)?;
                            Some(account)
                        })
                        .collect()
                }
                _ => continue,
            };
        match accounts.as_deref() {
            Some([first, rest @ ..])
                if super::canon::is_account_id(first) && rest.iter().all(|a| a == first) =>
            {
                if pinned.is_some_and(|p| p != *first) {
                    return None;
                }
                pinned = Some(*first);
            }
            _ => return None,
        }
    }
    pinned
}

/// The statement's atoms. `own` is the account the policy is in, when known: a principal
/// pinned to another account is compared as that account's (cross-account access needs that
/// account's own policies either way), one pinned to `own` stays everyone (a key or trust
/// policy that lets in every principal of its own account needs no IAM policy of theirs,
/// which naming the account's root does).
fn atoms<'a>(statement: &'a Statement, own: Option<&str>) -> Vec<Atom<'a>> {
    let principals = principal_set(statement).parts();
    let actions = action_set(statement).parts();
    let resources = resource_set(statement).parts();
    let pinned = statement
        .principal
        .is_some()
        .then(|| pinned_account(&statement.condition))
        .flatten()
        .filter(|account| own.is_some_and(|own| own != *account));
    let mut atoms = Vec::new();
    for &principal in &principals {
        let (principal, account, condition) = match principal {
            Part::One(p) if p.is_universal() => {
                (Part::All, pinned, Cow::Borrowed(&statement.condition[..]))
            }
            Part::All => (Part::All, pinned, Cow::Borrowed(&statement.condition[..])),
            Part::One(p) => {
                let facts = principal_facts(p);
                let condition = if facts.is_empty() {
                    Cow::Borrowed(&statement.condition[..])
                } else {
                    Cow::Owned(statement.condition.iter().cloned().chain(facts).collect())
                };
                (principal, None, condition)
            }
            Part::AllBut(_) => (principal, None, Cow::Borrowed(&statement.condition[..])),
        };
        for &action in &actions {
            for &resource in &resources {
                atoms.push(Atom {
                    principal,
                    account,
                    action,
                    resource,
                    condition: condition.clone(),
                });
            }
        }
    }
    atoms
}

/// How an account's root principal compares with the account's other principals.
#[derive(Clone, Copy)]
enum Root {
    /// The root stands for every principal of its account, as IAM policies may let any of
    /// them in: a principal moved from a role to its account's root has lost nothing.
    StandsForAccount,
    /// The root is only the delegation to the account's IAM policies: naming one of the
    /// account's roles beside it lets that role in without an IAM policy of its own (in its own
    /// account, as a key policy or trust policy does), so it is access gained. Where the
    /// policy's account is known, only its own root is read so ([`scope_covers`]).
    Delegates,
}

/// Do `outer`'s principals, actions and resources cover the atom's? `own` is the account the
/// policy is in, when known: its root is only the delegation to its IAM policies, whatever
/// `root` says (an own role named in a key or trust policy needs no IAM policy of its own, and
/// one that is not needs one).
fn scope_covers(outer: &Statement, atom: &Atom, root: Root, own: Option<&str>) -> bool {
    // Only a root of the policy's own account delegates, when that account is known: another
    // account's principals need their own account's IAM policies whether the policy names
    // their root or one of them (cross-account access needs both sides), so a vendor role in
    // place of the vendor's root is access lost, never gained.
    let delegates = |o: &Principal| match own {
        Some(own) => o.id == own || root_account(&o.id) == Some(own),
        None => matches!(root, Root::Delegates),
    };
    let principal_covered = match (root, principal_set(outer), &atom.principal) {
        // Every principal of another account: everyone, or the account itself.
        (_, Set::Only(outer), Part::All) if atom.account.is_some() => outer.iter().any(|o| {
            o.is_universal()
                || o.kind == PrincipalKind::Aws
                    && (o.id == atom.account.unwrap_or_default()
                        || root_account(&o.id) == atom.account)
        }),
        (_, Set::Only(outer), Part::One(inner)) => outer.iter().any(|o| {
            o == *inner
                || o.is_universal()
                || o.covers(inner) && !(delegates(o) && names_one_principal_of(o, inner))
        }),
        (_, set, part) => set.covers(part),
    };
    principal_covered
        && action_set(outer).covers(&atom.action)
        && resource_set(outer).covers(&atom.resource)
}

/// Is every request of the atom admitted by one of `outer`'s statements, each compared with
/// its [`Root`] reading?
///
/// The statements whose principals, actions and resources cover the atom's cover it through
/// their conditions, one alone or several together ([`cases::union_covers`]): one statement
/// for `team = a`, another for `team = b`.
fn atom_covered(atom: &Atom, outer: &[(&Statement, Root)], own: Option<&str>) -> bool {
    let in_scope: Vec<&[Condition]> = outer
        .iter()
        .filter(|(statement, root)| scope_covers(statement, atom, *root, own))
        .map(|(statement, _)| statement.condition.as_slice())
        .collect();
    // With no statement in scope, only conditions that can never hold together (`Null true`
    // beside `StringEquals` on the key) leave the atom covered: it admits no request.
    if in_scope.is_empty() && atom.condition.is_empty() {
        return false;
    }
    cases::union_covers(&atom.condition, &in_scope)
}

fn with_effect<'a>(statements: &[&'a Statement], effect: Effect) -> Vec<&'a Statement> {
    statements
        .iter()
        .copied()
        .filter(|s| s.effect == effect)
        .collect()
}

/// Whether `root` is an account's root and `other` one principal of that account (not the
/// account itself, however spelt).
fn names_one_principal_of(root: &Principal, other: &Principal) -> bool {
    root_account(&root.id).is_some()
        && !(super::canon::is_account_id(&other.id) || root_account(&other.id).is_some())
}

/// Is every atom of every statement of `inner` covered by `outer` (see [`atom_covered`])?
fn all_covered(inner: &[&Statement], outer: &[(&Statement, Root)], own: Option<&str>) -> bool {
    inner
        .iter()
        .flat_map(|statement| atoms(statement, own))
        .all(|atom| atom_covered(&atom, outer, own))
}

fn reading<'a>(statements: &[&'a Statement], root: Root) -> Vec<(&'a Statement, Root)> {
    statements.iter().map(|s| (*s, root)).collect()
}

/// Allows read with `root`, and Denies, whose account root is not taken to block the
/// account's roles.
fn allows_or_denies<'a>(
    allows: &[&'a Statement],
    root: Root,
    denies: &[&'a Statement],
) -> Vec<(&'a Statement, Root)> {
    let mut outer = reading(allows, root);
    outer.extend(reading(denies, Root::Delegates));
    outer
}

/// How access changes from `old` to `new`, both lists of normalized statements.
///
/// A request is allowed when an Allow admits it and no Deny does. Access is gained when a new
/// Allow is covered neither by the old Allows nor by a new Deny (an Allow a Deny blocks grants
/// nothing), or an old Deny is not covered by the new Denies; lost in the mirror cases. A Deny
/// is compared with Denies only: it also blocks what the principal's other policies allow,
/// which this document does not show.
///
/// `own` is the account the policy is in, when known (see [`atoms`]).
pub(super) fn access_change(
    old: &[&Statement],
    new: &[&Statement],
    own: Option<&str>,
) -> AccessChange {
    let (old_allows, new_allows) = (
        with_effect(old, Effect::Allow),
        with_effect(new, Effect::Allow),
    );
    let (old_denies, new_denies) = (
        with_effect(old, Effect::Deny),
        with_effect(new, Effect::Deny),
    );
    // A role named beside its account's root is access gained (the root only delegates);
    // a role replaced by its account's root is not access lost (IAM may still let it in).
    let gained = !all_covered(
        &new_allows,
        &allows_or_denies(&old_allows, Root::Delegates, &new_denies),
        own,
    ) || !all_covered(
        &old_denies,
        &reading(&new_denies, Root::StandsForAccount),
        own,
    );
    let lost = !all_covered(
        &old_allows,
        &allows_or_denies(&new_allows, Root::StandsForAccount, &old_denies),
        own,
    ) || !all_covered(
        &new_denies,
        &reading(&old_denies, Root::StandsForAccount),
        own,
    );
    AccessChange::from_gained_lost(gained, lost)
}

#[cfg(test)]
mod tests {
    use super::super::PolicyDocument;
    use super::*;

    /// Compares two statement lists given as JSON statement arrays.
    fn check(old: &str, new: &str, expected: AccessChange) {
        let parse = |statements: &str| {
            PolicyDocument::parse(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
            ))
            .unwrap_or_else(|e| panic!("{statements}: {e}"))
            .normalized()
        };
        let (old_doc, new_doc) = (parse(old), parse(new));
        let old: Vec<&Statement> = old_doc.statements().iter().collect();
        let new: Vec<&Statement> = new_doc.statements().iter().collect();
        assert_eq!(
            access_change(&old, &new, None),
            expected,
            "\nold: {old_doc:?}\nnew: {new_doc:?}"
        );
    }

    const GET: &str =
        r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tonic-data/*"}"#;

    #[test]
    #[rustfmt::skip]
    fn access_changes() {
        let cases: &[(&str, &str, AccessChange)] = &[
            (GET, GET, AccessChange::NoChange),
            (GET, r#"{"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::tonic-data/*"}"#, AccessChange::Widens),
            (GET, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tonic-*"}"#, AccessChange::Widens),
            (r#"{"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::tonic-*"}"#, GET, AccessChange::Narrows),
            (GET, r#"{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::tonic-data/*"}"#, AccessChange::Mixed),
            // Moving an action between statements with the same resource changes nothing.
            (
                r#"{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}, {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, {"Effect": "Allow", "Action": ["s3:DeleteObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}"#,
                AccessChange::NoChange,
            ),
            // Deny removed or narrowed widens; added narrows.
            (&format!(r#"{GET}, {{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {{"Bool": {{"aws:SecureTransport": "false"}}}}}}"#), GET, AccessChange::Widens),
            (&format!(r#"{GET}, {{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}"#), &format!(r#"{GET}, {{"Effect": "Deny", "Action": "s3:Get*", "Resource": "*"}}"#), AccessChange::Widens),
            (GET, &format!(r#"{GET}, {{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}"#), AccessChange::Narrows),
            // Conditions: removing or loosening widens, adding narrows.
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
                AccessChange::Widens,
            ),
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}}}"#,
                AccessChange::Widens,
            ),
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}}}"#,
                AccessChange::Narrows,
            ),
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}"#,
                AccessChange::Narrows,
            ),
            // Principals: an account root covers the account's roles.
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}, "Action": "sqs:SendMessage", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sqs:SendMessage", "Resource": "*"}"#,
                AccessChange::Widens,
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sqs:SendMessage", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}"#,
                AccessChange::Widens,
            ),
            // ... but the root only delegates to IAM: a role named beside it gains access
            // without an IAM policy, as a vendor's statement added to a key policy does.
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/vendor"}, "Action": "kms:Decrypt", "Resource": "*"}"#,
                AccessChange::Widens,
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "kms:*", "Resource": "*"}"#,
                AccessChange::NoChange,
            ),
            // NotAction: excluding less widens.
            (
                r#"{"Effect": "Allow", "NotAction": ["iam:*", "kms:*"], "Resource": "*"}"#,
                r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#,
                AccessChange::Widens,
            ),
            (
                r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
                AccessChange::Narrows,
            ),
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}"#,
                AccessChange::Narrows,
            ),
            // Effect flips.
            (GET, &GET.replace("Allow", "Deny"), AccessChange::Narrows),
            (&GET.replace("Allow", "Deny"), GET, AccessChange::Widens),
        ];
        for (old, new, expected) in cases {
            check(old, new, *expected);
        }
    }

    /// Operators and values over two context keys, for [`labels_never_hide_a_change`].
    const OPERATORS: &[&str] = &[
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIfExists",
        "StringNotEqualsIfExists",
        "StringLike",
        "StringNotLike",
        "StringLikeIfExists",
        "Null",
    ];
    const VALUES: &[&str] = &["a", "b", "c", "a*", "*", "?"];
    /// The third key is `aws:SourceIp`, with these operators and ranges.
    const IP_OPERATORS: &[&str] = &[
        "IpAddress",
        "NotIpAddress",
        "IpAddressIfExists",
        "NotIpAddressIfExists",
    ];
    const IP_VALUES: &[&str] = &["10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9", "192.168.0.0/16"];
    const IP_CONTEXT_VALUES: &[Option<&str>] = &[
        None,
        Some("10.1.2.3"),
        Some("10.200.0.1"),
        Some("192.168.1.1"),
        Some("8.8.8.8"),
    ];

    /// A request's value of one key: absent, or one of these. `ab` and `d` match no listed
    /// value literally; `*`, `?` and `a*` are the listed patterns' own text.
    const CONTEXT_VALUES: &[Option<&str>] = &[
        None,
        Some("a"),
        Some("b"),
        Some("c"),
        Some("ab"),
        Some("d"),
        Some("*"),
        Some("?"),
        Some("a*"),
    ];

    /// IAM's reading of one condition, from its documentation of condition operators: a
    /// negated operator or `...IfExists` holds when the key is absent, any other fails.
    fn holds(operator: &str, values: &[String], context: Option<&str>) -> bool {
        if operator == "Null" {
            return (values[0] == "true") == context.is_none();
        }
        let Some(value) = context else {
            return operator.contains("Not") || operator.ends_with("IfExists");
        };
        value_matches(operator.trim_end_matches("IfExists"), values, value)
    }

    /// Does one request value meet the operator `base` (without set prefix or `IfExists`)?
    fn value_matches(base: &str, values: &[String], value: &str) -> bool {
        let any = values.iter().any(|v| {
            if base.contains("IpAddress") {
                let (network, prefix) = v.split_once('/').unwrap();
                let (network, address): (u32, u32) = (
                    network.parse::<std::net::Ipv4Addr>().unwrap().into(),
                    value.parse::<std::net::Ipv4Addr>().unwrap().into(),
                );
                let shift = 32 - prefix.parse::<u32>().unwrap();
                network >> shift == address >> shift
            } else if base.contains("Like") {
                pattern::matches(v, value)
            } else {
                v == value
            }
        });
        any != base.contains("Not")
    }

    /// A generated condition's values as JSON strings: `Null` takes `true` or `false`.
    fn json_values(operator: &str, values: &[usize], names: &[&str]) -> String {
        let values: Vec<String> = if operator == "Null" {
            vec![format!("\"{}\"", values[0] % 2 == 0)]
        } else {
            values
                .iter()
                .map(|v| format!("\"{}\"", names[*v]))
                .collect()
        };
        values.join(", ")
    }

    fn statement_json(
        effect: bool,
        action: usize,
        conditions: &[(usize, usize, Vec<usize>)],
    ) -> String {
        let mut blocks: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (operator, key, values) in conditions {
            if *key == 2 {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| format!("\"{}\"", IP_VALUES[v % IP_VALUES.len()]))
                    .collect();
                let operator = IP_OPERATORS[operator % IP_OPERATORS.len()];
                blocks
                    .entry(operator)
                    .or_default()
                    .push(format!(r#""aws:SourceIp": [{}]"#, values.join(", ")));
                continue;
            }
            let operator = OPERATORS[*operator];
            blocks.entry(operator).or_default().push(format!(
                r#""aws:PrincipalTag/k{key}": [{}]"#,
                json_values(operator, values, VALUES)
            ));
        }
        let condition: Vec<String> = blocks
            .iter()
            .map(|(operator, keys)| format!(r#""{operator}": {{{}}}"#, keys.join(", ")))
            .collect();
        statement(effect, action, &condition)
    }

    type StatementShape = (bool, usize, Vec<(usize, usize, Vec<usize>)>);

    fn statement_shape() -> impl proptest::strategy::Strategy<Value = StatementShape> {
        use proptest::prelude::*;
        let condition = (
            0..OPERATORS.len(),
            0..3usize,
            prop::collection::vec(0..VALUES.len(), 1..3),
        );
        (
            prop::bool::weighted(0.75),
            0..3usize,
            prop::collection::vec(condition, 0..3),
        )
    }

    fn document(shapes: &[StatementShape]) -> Option<PolicyDocument> {
        let statements: Vec<String> = shapes
            .iter()
            .map(|(effect, action, conditions)| statement_json(*effect, *action, conditions))
            .collect();
        parsed(&statements)
    }

    /// The statements as a normalized document; `None` where an operator lists a key twice (a
    /// duplicate JSON key: not a document).
    fn parsed(statements: &[String]) -> Option<PolicyDocument> {
        PolicyDocument::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(", ")
        ))
        .ok()
        .map(|doc| doc.normalized())
    }

    /// A generated statement: its effect, one of three actions, and its condition blocks.
    fn statement(allow: bool, action: usize, blocks: &[String]) -> String {
        format!(
            r#"{{"Effect": "{}", "Action": "{}", "Resource": "*", "Condition": {{{}}}}}"#,
            if allow { "Allow" } else { "Deny" },
            ["s3:GetObject", "s3:PutObject", "s3:*"][action],
            blocks.join(", ")
        )
    }

    /// Is `action` allowed under `doc` for a request whose context meets the conditions
    /// `holds` says it meets?
    fn allowed(doc: &PolicyDocument, action: &str, holds: impl Fn(&Condition) -> bool) -> bool {
        let applies = |statement: &Statement| {
            action_set(statement).covers(&Part::One(&action.to_string()))
                && statement.condition.iter().all(&holds)
        };
        let statements = doc.statements();
        statements
            .iter()
            .any(|s| s.effect == Effect::Allow && applies(s))
            && !statements
                .iter()
                .any(|s| s.effect == Effect::Deny && applies(s))
    }

    /// Does the label of `old` → `new` report every request that `decisions` (whether each
    /// request of a fixed list is allowed, per document and action) finds gained or lost?
    fn label_reports_every_change(
        old: &PolicyDocument,
        new: &PolicyDocument,
        decisions: impl Fn(&PolicyDocument, &str) -> Vec<bool>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let (mut gained, mut lost) = (false, false);
        for action in ["s3:getobject", "s3:putobject", "s3:deleteobject"] {
            for (before, after) in decisions(old, action)
                .into_iter()
                .zip(decisions(new, action))
            {
                gained |= after && !before;
                lost |= before && !after;
            }
        }
        let old_statements: Vec<&Statement> = old.statements().iter().collect();
        let new_statements: Vec<&Statement> = new.statements().iter().collect();
        let label = access_change(&old_statements, &new_statements, None);
        proptest::prop_assert!(
            !gained || label.gained(),
            "gain hidden: {label:?}\nold: {old:?}\nnew: {new:?}"
        );
        proptest::prop_assert!(
            !lost || label.lost(),
            "loss hidden: {label:?}\nold: {old:?}\nnew: {new:?}"
        );
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Whenever some request is allowed after a change and not before, the label says
        /// access is gained, and lost in the mirror case: checked by evaluating both documents
        /// for every request over three condition keys.
        #[test]
        fn labels_never_hide_a_change(
            old in proptest::collection::vec(statement_shape(), 1..4),
            new in proptest::collection::vec(statement_shape(), 1..4),
        ) {
            let (Some(old), Some(new)) = (document(&old), document(&new)) else {
                return Ok(());
            };
            label_reports_every_change(&old, &new, |doc, action| {
                let mut decisions = Vec::new();
                for &k0 in CONTEXT_VALUES {
                    for &k1 in CONTEXT_VALUES {
                        for &ip in IP_CONTEXT_VALUES {
                            let context = [k0, k1, ip];
                            decisions.push(allowed(doc, action, |c| {
                                let key = match c.key.as_str() {
                                    "aws:sourceip" => 2,
                                    key if key.ends_with("k0") => 0,
                                    _ => 1,
                                };
                                holds(&c.operator, &c.values, context[key])
                            }));
                        }
                    }
                }
                decisions
            })?;
        }
    }

    /// Set operators over a multivalued key, for [`set_operator_labels_never_hide_a_change`].
    const SET_OPERATORS: &[&str] = &[
        "ForAllValues:StringEquals",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringNotEquals",
        "ForAnyValue:StringNotEquals",
        "ForAllValues:StringLike",
        "ForAnyValue:StringLike",
        "ForAllValues:StringEqualsIfExists",
        "ForAnyValue:StringEqualsIfExists",
        "Null",
    ];
    const SET_VALUES: &[&str] = &["a", "b", "c", "a*"];
    /// The request's `aws:TagKeys`: absent, or a list of values.
    const SET_CONTEXTS: &[Option<&[&str]>] = &[
        None,
        Some(&[]),
        Some(&["a"]),
        Some(&["b"]),
        Some(&["a", "b"]),
        Some(&["c"]),
        Some(&["a", "c"]),
        Some(&["ab", "d"]),
    ];

    /// IAM's reading of a set operator, from its documentation of multivalued keys:
    /// `ForAllValues` holds when every value of the request matches (so for none or an absent
    /// key), `ForAnyValue` when one does (so never for none or an absent key).
    fn set_holds(operator: &str, values: &[String], context: Option<&[&str]>) -> bool {
        if operator == "Null" {
            return (values[0] == "true") == context.is_none();
        }
        let Some(context) = context else {
            return operator.starts_with("ForAllValues") || operator.ends_with("IfExists");
        };
        let base = operator
            .split_once(':')
            .unwrap()
            .1
            .trim_end_matches("IfExists");
        let matches = |value: &str| value_matches(base, values, value);
        if operator.starts_with("ForAllValues") {
            context.iter().all(|value| matches(value))
        } else {
            context.iter().any(|value| matches(value))
        }
    }

    type SetShape = (bool, usize, Vec<(usize, Vec<usize>)>);

    fn set_document(shapes: &[SetShape]) -> Option<PolicyDocument> {
        let statements: Vec<String> = shapes
            .iter()
            .map(|(effect, action, conditions)| {
                let blocks: Vec<String> = conditions
                    .iter()
                    .map(|(operator, values)| {
                        let operator = SET_OPERATORS[*operator];
                        format!(
                            r#""{operator}": {{"aws:TagKeys": [{}]}}"#,
                            json_values(operator, values, SET_VALUES)
                        )
                    })
                    .collect();
                statement(*effect, *action, &blocks)
            })
            .collect();
        parsed(&statements)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// As [`labels_never_hide_a_change`], for `ForAllValues` and `ForAnyValue` conditions on
        /// a multivalued key, whose requests may hold no value, several, or lack the key.
        #[test]
        fn set_operator_labels_never_hide_a_change(
            old in proptest::collection::vec((proptest::bool::weighted(0.75), 0..3usize, proptest::collection::vec((0..SET_OPERATORS.len(), proptest::collection::vec(0..SET_VALUES.len(), 1..3)), 0..3)), 1..4),
            new in proptest::collection::vec((proptest::bool::weighted(0.75), 0..3usize, proptest::collection::vec((0..SET_OPERATORS.len(), proptest::collection::vec(0..SET_VALUES.len(), 1..3)), 0..3)), 1..4),
        ) {
            let (Some(old), Some(new)) = (set_document(&old), set_document(&new)) else {
                return Ok(());
            };
            label_reports_every_change(&old, &new, |doc, action| {
                SET_CONTEXTS
                    .iter()
                    .map(|&context| {
                        allowed(doc, action, |c| set_holds(&c.operator, &c.values, context))
                    })
                    .collect()
            })?;
        }
    }

    /// A trust statement's `Principal "*"` held to one account by a condition, compared in
    /// the account 123456789012: another account's principals are that account's; its own
    /// stay everyone (they need no IAM policy of their own), and without the account known
    /// nothing is read into the condition.
    #[test]
    #[rustfmt::skip]
    fn principals_held_to_an_account_by_a_condition() {
        use AccessChange::*;
        let trust = |principal: &str, condition: &str| format!(
            r#"{{"Effect": "Allow", "Principal": {principal}, "Action": "sts:AssumeRole"{}}}"#,
            if condition.is_empty() { String::new() } else { format!(r#", "Condition": {condition}"#) }
        );
        let other = trust(r#"{"AWS": "210987654321"}"#, "");
        let own = trust(r#"{"AWS": "arn:aws:iam::123456789012:root"}"#, "");
        let everyone_of = |account: &str| trust(r#""*""#, &format!(r#"{{"StringEquals": {{"aws:PrincipalAccount": "{account}"}}}}"#));
        let roles_of_other = trust(r#"{"AWS": "*"}"#, r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::210987654321:role/*"}}"#);
        let role = trust(r#"{"AWS": "arn:aws:iam::210987654321:role/vendor"}"#, "");
        let role_in_account = trust(r#"{"AWS": "arn:aws:iam::210987654321:role/vendor"}"#, r#"{"StringEquals": {"aws:PrincipalAccount": "210987654321"}}"#);
        let role_by_arn = trust(r#"{"AWS": "arn:aws:iam::210987654321:role/vendor"}"#, r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::210987654321:role/vendor"}}"#);
        let own_role = trust(r#"{"AWS": "arn:aws:iam::123456789012:role/hub"}"#, "");
        let own_root_and_role = trust(r#"{"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/hub"]}"#, "");
        let cases: &[(&str, &str, Option<&str>, AccessChange, AccessChange)] = &[
            (&other, &everyone_of("210987654321"), Some("123456789012"), NoChange, NoChange),
            (&other, &roles_of_other, Some("123456789012"), Narrows, Widens),
            (&own, &everyone_of("123456789012"), Some("123456789012"), Widens, Narrows),
            (&other, &everyone_of("210987654321"), None, Widens, Narrows),
            (&other, &everyone_of("111122223333"), Some("123456789012"), Mixed, Mixed),
            // The plan's own root only delegates to the account's IAM policies: a role of the
            // account named beside it, or instead of it, is access the root does not stand for.
            (&own_root_and_role, &own, Some("123456789012"), Narrows, Widens),
            (&own_role, &own, Some("123456789012"), Mixed, Mixed),
            // Another account's root stands for its principals, each of which needs its own
            // account's IAM policy either way: one of its roles in place of it is access lost.
            (&other, &role, Some("123456789012"), Narrows, Widens),
            (&other, &role, None, Mixed, Widens),
            // Not knowing the account, a root stands for its principals, as another account's
            // does.
            (&own_root_and_role, &own, None, NoChange, Widens),
            // A condition a named principal always meets changes nothing.
            (&role, &role_in_account, None, NoChange, NoChange),
            (&role, &role_by_arn, None, NoChange, NoChange),
        ];
        let parse = |statement: &str| {
            PolicyDocument::parse(&format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#))
                .unwrap()
                .normalized()
        };
        for (old, new, account, forward, backward) in cases {
            let (old, new) = (parse(old), parse(new));
            let (old, new): (Vec<&Statement>, Vec<&Statement>) = (old.statements().iter().collect(), new.statements().iter().collect());
            assert_eq!(access_change(&old, &new, *account), *forward, "{old:?}\n -> {new:?}");
            assert_eq!(access_change(&new, &old, *account), *backward, "{new:?}\n -> {old:?}");
        }
    }

    #[test]
    fn principal_coverage() {
        let root = Principal::aws("arn:aws:iam::123456789012:root");
        assert!(root.covers(&Principal::aws("arn:aws:iam::123456789012:role/app")));
        assert!(root.covers(&Principal::aws(
            "arn:aws:sts::123456789012:assumed-role/app/s"
        )));
        assert!(root.covers(&Principal::aws("123456789012")));
        assert!(!root.covers(&Principal::aws("arn:aws:iam::210987654321:role/app")));
        assert!(!root.covers(&Principal::service("123456789012")));
        assert!(!Principal::aws("arn:aws:iam::123456789012:role/app").covers(&root));
    }
}
