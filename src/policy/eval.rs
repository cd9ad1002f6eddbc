//! Answers "would these policies allow this request", the way IAM evaluates them within one
//! account: an explicit Deny wins, otherwise any Allow allows, otherwise the request is
//! implicitly denied. Conditions are not evaluated (the request context is unknown), so a
//! conditional statement can only make the answer "allowed if conditions hold".

use serde::Serialize;

use super::access::{action_set, principal_set, resource_set, Part, Set};
use super::model::{Effect, PolicyDocument, Principal, Statement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    /// An unconditional Deny matches.
    ExplicitDeny,
    /// No Allow matches.
    ImplicitDeny,
    /// Allowed only if some conditions hold: every matching Allow is conditional, or a
    /// conditional Deny also matches.
    AllowedIfConditions,
}

/// Evaluates a request against identity and resource policies together.
///
/// `principal` is the caller. `None` means "whoever holds the policy": statements without a
/// Principal element (identity policies) and statements for everyone apply, statements naming
/// specific principals do not. Statements without a Resource element (trust policies) apply
/// to any resource. `action` is matched case-insensitively, `resource` exactly.
pub fn is_allowed(
    policies: &[&PolicyDocument],
    principal: Option<&Principal>,
    action: &str,
    resource: &str,
) -> Decision {
    let request = Request {
        principal,
        action: action.to_lowercase(),
        resource: resource.to_string(),
    };
    let (mut allowed, mut allowed_unconditionally, mut conditional_deny) = (false, false, false);
    for policy in policies {
        for statement in policy.statements() {
            let statement = statement.normalized();
            if !request.matches(&statement) {
                continue;
            }
            match (statement.effect, statement.condition.is_empty()) {
                (Effect::Deny, true) => return Decision::ExplicitDeny,
                (Effect::Deny, false) => conditional_deny = true,
                (Effect::Allow, true) => allowed_unconditionally = true,
                (Effect::Allow, false) => allowed = true,
            }
        }
    }
    if allowed_unconditionally && !conditional_deny {
        Decision::Allowed
    } else if allowed_unconditionally || allowed {
        Decision::AllowedIfConditions
    } else {
        Decision::ImplicitDeny
    }
}

struct Request<'a> {
    principal: Option<&'a Principal>,
    /// Lowercased, as normalized statements spell actions.
    action: String,
    resource: String,
}

impl Request<'_> {
    /// Does the statement apply to this request, conditions aside?
    fn matches(&self, statement: &Statement) -> bool {
        let principal_matches = match (principal_set(statement), self.principal) {
            (Set::All, _) => true,
            (set, Some(principal)) => set.covers(&Part::One(principal)),
            (_, None) => false,
        };
        principal_matches
            && action_set(statement).covers(&Part::One(&self.action))
            && resource_set(statement).covers(&Part::One(&self.resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:tonic-queue";

    fn doc(statements: &str) -> PolicyDocument {
        PolicyDocument::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
        ))
        .unwrap_or_else(|e| panic!("{statements}: {e}"))
    }

    #[test]
    #[rustfmt::skip]
    fn decisions() {
        let role = Principal::aws("arn:aws:iam::123456789012:role/app");
        let s3 = Principal::service("s3.amazonaws.com");
        let cases: &[(&str, Option<&Principal>, &str, &str, Decision)] = &[
            (r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:*:tonic-*"}"#, None, "SQS:ReceiveMessage", QUEUE, Decision::Allowed),
            (r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:*:other-*"}"#, None, "sqs:ReceiveMessage", QUEUE, Decision::ImplicitDeny),
            (r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:Receive*", "Resource": "*"}"#, None, "sqs:ReceiveMessage", QUEUE, Decision::ExplicitDeny),
            (r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#, None, "sqs:ReceiveMessage", QUEUE, Decision::Allowed),
            (r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#, None, "iam:PassRole", QUEUE, Decision::ImplicitDeny),
            (r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:sqs:*:*:tonic-*"}"#, None, "sqs:SendMessage", QUEUE, Decision::ImplicitDeny),
            (r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": true}}}"#, None, "sqs:SendMessage", QUEUE, Decision::AllowedIfConditions),
            (r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}"#, None, "sqs:SendMessage", QUEUE, Decision::AllowedIfConditions),
            // Resource policies: the Principal element must admit the caller.
            (r#"{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"}"#, Some(&s3), "kms:GenerateDataKey", "*", Decision::Allowed),
            (r#"{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"}"#, Some(&role), "kms:GenerateDataKey", "*", Decision::ImplicitDeny),
            (r#"{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"}"#, None, "kms:GenerateDataKey", "*", Decision::ImplicitDeny),
            (r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sqs:SendMessage", "Resource": "*"}"#, Some(&role), "sqs:SendMessage", QUEUE, Decision::Allowed),
            (r#"{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}"#, Some(&s3), "sqs:SendMessage", QUEUE, Decision::Allowed),
            (r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "123456789012"}, "Action": "sqs:SendMessage", "Resource": "*"}"#, Some(&role), "sqs:SendMessage", QUEUE, Decision::ImplicitDeny),
            // Trust policies have no Resource.
            (r#"{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}"#, Some(&Principal::service("lambda.amazonaws.com")), "sts:AssumeRole", "arn:aws:iam::123456789012:role/x", Decision::Allowed),
        ];
        for (statements, principal, action, resource, expected) in cases {
            let policy = doc(statements);
            assert_eq!(is_allowed(&[&policy], *principal, action, resource), *expected, "{statements} {action}");
        }
    }

    #[test]
    fn deny_in_one_policy_overrides_allow_in_another() {
        let allow = doc(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#);
        let deny = doc(r#"{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}"#);
        assert_eq!(
            is_allowed(&[&allow, &deny], None, "s3:DeleteBucket", "arn:aws:s3:::b"),
            Decision::ExplicitDeny
        );
        assert_eq!(
            is_allowed(&[&allow, &deny], None, "s3:GetObject", "arn:aws:s3:::b/k"),
            Decision::Allowed
        );
        assert_eq!(
            is_allowed(&[], None, "s3:GetObject", "arn:aws:s3:::b/k"),
            Decision::ImplicitDeny
        );
    }
}
