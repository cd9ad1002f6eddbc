//! Answers "would these policies allow this request", the way IAM evaluates them within one
//! account: an explicit Deny wins, otherwise any Allow allows, otherwise the request is
//! implicitly denied. Conditions are evaluated only on the context keys a caller supplies
//! (`is_allowed_in`) and only for string and ARN operators; any other condition is unknown, so a
//! statement holding one can only make the answer "allowed if conditions hold".

use serde::Serialize;

use super::access::{action_set, principal_set, resource_set, Part, Set};
use super::model::{
    Clause, Condition, Effect, PolicyDocument, Principal, PrincipalKind, Principals, Statement,
};
use super::pattern;

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
    is_allowed_in(policies, principal, action, resource, &[])
}

/// [`is_allowed`] for a request whose context holds `context`'s keys with those values (for
/// example `aws:SourceArn`, which S3 sets to the bucket's ARN when it sends an event). A
/// condition on one of these keys is decided; conditions on other keys stay unknown.
pub fn is_allowed_in(
    policies: &[&PolicyDocument],
    principal: Option<&Principal>,
    action: &str,
    resource: &str,
    context: &[(&str, &str)],
) -> Decision {
    let request = Request {
        principal,
        action: action.to_lowercase(),
        resource: resource.to_string(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_lowercase(), *v))
            .collect(),
    };
    let (mut allowed, mut allowed_unconditionally, mut conditional_deny) = (false, false, false);
    for policy in policies {
        for statement in policy.statements() {
            let statement = statement.normalized();
            if !request.matches(&statement) {
                continue;
            }
            let unconditional = match request.conditions_hold(&statement.condition) {
                ConditionsHold::No => continue,
                ConditionsHold::Yes => true,
                ConditionsHold::Unknown => false,
            };
            match (statement.effect, unconditional) {
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

/// Could these identity policies allow `action` on some resource? False only when no Allow
/// statement that applies to the policies' holder names the action, so a caller can skip asking
/// [`is_allowed`] about every resource one by one.
pub fn may_allow_action(policies: &[&PolicyDocument], action: &str) -> bool {
    // Asked of every role in a spec, so it reads the statements as written instead of
    // normalizing them: actions compare without case, and `{"AWS": "*"}` is everyone.
    let action = action.to_lowercase();
    let names = |patterns: &[String]| {
        patterns
            .iter()
            .any(|p| pattern::matches(&p.to_lowercase(), &action))
    };
    policies
        .iter()
        .flat_map(|p| p.statements())
        .any(|statement| {
            let for_holder = match &statement.principal {
                None | Some(Clause::Is(Principals::Everyone)) => true,
                Some(Clause::Is(Principals::Listed(listed))) => listed
                    .iter()
                    .any(|p| p.kind == PrincipalKind::Aws && p.id == "*"),
                Some(Clause::Not(_)) => false,
            };
            statement.effect == Effect::Allow
                && for_holder
                && match &statement.action {
                    Clause::Is(patterns) => names(patterns),
                    Clause::Not(patterns) => !names(patterns),
                }
        })
}

enum ConditionsHold {
    Yes,
    No,
    Unknown,
}

struct Request<'a> {
    principal: Option<&'a Principal>,
    /// Lowercased, as normalized statements spell actions.
    action: String,
    resource: String,
    /// Context keys (lowercased, as normalized conditions spell them) with their values.
    context: Vec<(String, &'a str)>,
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

    /// Whether a statement's condition blocks all hold: a block that fails makes the statement
    /// not apply; one that cannot be decided leaves the statement conditional.
    fn conditions_hold(&self, conditions: &[Condition]) -> ConditionsHold {
        let mut all_known = true;
        for condition in conditions {
            match self.condition_holds(condition) {
                Some(false) => return ConditionsHold::No,
                Some(true) => {}
                None => all_known = false,
            }
        }
        if all_known {
            ConditionsHold::Yes
        } else {
            ConditionsHold::Unknown
        }
    }

    /// Decides one condition block on a single-valued context key with a string or ARN
    /// operator; `None` for anything else (other operators, set operators, policy variables).
    fn condition_holds(&self, condition: &Condition) -> Option<bool> {
        let (_, value) = self.context.iter().find(|(key, _)| *key == condition.key)?;
        if condition.operator.starts_with("For")
            || (condition.values.iter()).any(|v| super::condition::has_unknown_variable(v))
        {
            return None;
        }
        let any = |test: &dyn Fn(&str) -> bool| condition.values.iter().any(|v| test(v));
        let held = match condition.base_operator() {
            "StringEquals" | "StringNotEquals" => any(&|v| v == *value),
            "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
                any(&|v| v.eq_ignore_ascii_case(value))
            }
            // IAM matches wildcards in both ARN operators.
            "StringLike" | "StringNotLike" | "ArnEquals" | "ArnNotEquals" | "ArnLike"
            | "ArnNotLike" => any(&|v| pattern::matches(v, value)),
            _ => return None,
        };
        Some(held != condition.is_negated())
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
    #[rustfmt::skip]
    fn conditions_on_context_keys_are_decided() {
        let s3 = Principal::service("s3.amazonaws.com");
        let bucket = "arn:aws:s3:::tonic-uploads";
        let context: &[(&str, &str)] = &[("aws:SourceArn", bucket), ("aws:SourceAccount", "123456789012")];
        let send = |condition: &str| format!(r#"{{"Effect": "Allow", "Principal": {{"Service": "s3.amazonaws.com"}}, "Action": "sqs:SendMessage", "Resource": "*", "Condition": {condition}}}"#);
        let cases: &[(&str, Decision)] = &[
            (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::tonic-uploads"}}"#, Decision::Allowed),
            (r#"{"ArnEquals": {"AWS:SOURCEARN": "arn:aws:s3:::tonic-*"}}"#, Decision::Allowed),
            (r#"{"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::other", "arn:aws:s3:::tonic-uploads"]}}"#, Decision::Allowed),
            (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::other"}}"#, Decision::ImplicitDeny),
            (r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::other"}}"#, Decision::Allowed),
            (r#"{"StringEquals": {"aws:SourceAccount": "123456789012"}}"#, Decision::Allowed),
            (r#"{"StringEquals": {"aws:SourceAccount": "210987654321"}}"#, Decision::ImplicitDeny),
            (r#"{"StringEquals": {"aws:SourceAccount": "123456789012"}, "Bool": {"aws:SecureTransport": "true"}}"#, Decision::AllowedIfConditions),
            (r#"{"ForAnyValue:StringEquals": {"aws:SourceAccount": "123456789012"}}"#, Decision::AllowedIfConditions),
            (r#"{"StringEquals": {"aws:PrincipalTag/team": "data"}}"#, Decision::AllowedIfConditions),
        ];
        for (condition, expected) in cases {
            let policy = doc(&send(condition));
            assert_eq!(is_allowed_in(&[&policy], Some(&s3), "sqs:SendMessage", QUEUE, context), *expected, "{condition}");
        }
        // Without the context, every one of them is only allowed if its conditions hold.
        let policy = doc(&send(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::other"}}"#));
        assert_eq!(is_allowed(&[&policy], Some(&s3), "sqs:SendMessage", QUEUE), Decision::AllowedIfConditions);
        // A Deny whose condition holds is a Deny.
        let denied = doc(&format!("{}, {}", send("{}").replace(r#", "Condition": {}"#, ""), r#"{"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::other"}}}"#));
        assert_eq!(is_allowed_in(&[&denied], Some(&s3), "sqs:SendMessage", QUEUE, context), Decision::ExplicitDeny);
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

    #[test]
    #[rustfmt::skip]
    fn an_action_no_allow_names_is_never_allowed_on_any_resource() {
        let cases: &[(&str, &str, bool)] = &[
            (r#"{"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "arn:aws:lambda:*:*:function:tonic-*"}"#, "Lambda:createfunction", true),
            (r#"{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}"#, "lambda:CreateFunction", true),
            (r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#, "lambda:CreateFunction", true),
            (r#"{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "LAMBDA:Create*", "Resource": "*"}"#, "lambda:CreateFunction", true),
            (r#"{"Effect": "Allow", "NotAction": "lambda:*", "Resource": "*"}"#, "lambda:CreateFunction", false),
            (r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}"#, "lambda:CreateFunction", false),
            (r#"{"Effect": "Deny", "Action": "lambda:*", "Resource": "*"}"#, "lambda:CreateFunction", false),
            // A statement for named principals is a resource policy's, not the holder's.
            (r#"{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:*", "Resource": "*"}"#, "lambda:CreateFunction", false),
        ];
        for (statements, action, expected) in cases {
            let policy = doc(statements);
            assert_eq!(may_allow_action(&[&policy], action), *expected, "{statements} {action}");
            // Never false where some resource is allowed.
            let decision = is_allowed(&[&policy], None, action, "arn:aws:lambda:us-east-1:123456789012:function:tonic-x");
            if matches!(decision, Decision::Allowed | Decision::AllowedIfConditions) {
                assert!(may_allow_action(&[&policy], action), "{statements}");
            }
        }
    }
}
