//! What an access denial means for the person running plinth: which IAM action was refused
//! (AWS's API call names and IAM's action names differ: `PutBucketCors` is `s3:PutBucketCORS`),
//! on which resource, and which kind of policy refused it. Only a missing grant in an identity
//! policy is something `plinth permissions` can fix; a resource policy, a permissions boundary,
//! a session policy or an organization's policy is named as what to look at instead.

use crate::policy::catalog::catalog;

/// An access denial, as far as AWS's answer tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The IAM action, spelled as the Service Authorization Reference spells it.
    pub action: String,
    /// The API call that was refused, when its name is not the action's (`s3:PutBucketCors`).
    pub call: Option<String>,
    /// The resource AWS names (`arn:...` or `*`); S3 and older answers name none.
    pub resource: Option<String>,
    /// The identity AWS names (`User: arn:...`).
    pub principal: Option<String>,
    pub refused_by: RefusedBy,
}

/// Which policy refused the request, from the reason AWS gives after the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedBy {
    /// No identity-based policy allows the action, or AWS does not say (S3, older answers):
    /// the identity's own policies are what to look at.
    IdentityPolicy,
    /// Another policy kind in AWS's words: "an explicit deny in a service control policy",
    /// "no resource-based policy allows the ... action", "no permissions boundary allows ...".
    Other(String),
}

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
];

pub(crate) fn is_denial_code(code: &str) -> bool {
    DENIED_CODES.contains(&code)
}

/// The API calls whose IAM action has another name. Every other call's action is its own name
/// (`iam:CreateRole`, `kms:PutKeyPolicy`, `sqs:SetQueueAttributes`, `lambda:CreateFunction`).
const RENAMED: &[(&str, &str)] = &[
    ("s3:DeleteBucketCors", "s3:PutBucketCORS"),
    ("s3:DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("s3:DeleteBucketTagging", "s3:PutBucketTagging"),
    ("s3:DeleteObjects", "s3:DeleteObject"),
    (
        "s3:DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    ("s3:GetBucketCors", "s3:GetBucketCORS"),
    ("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    (
        "s3:GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
    ),
    ("s3:GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("s3:HeadBucket", "s3:ListBucket"),
    ("s3:HeadObject", "s3:GetObject"),
    ("s3:ListBuckets", "s3:ListAllMyBuckets"),
    ("s3:ListObjectVersions", "s3:ListBucketVersions"),
    ("s3:ListObjects", "s3:ListBucket"),
    ("s3:ListObjectsV2", "s3:ListBucket"),
    ("s3:PutBucketCors", "s3:PutBucketCORS"),
    ("s3:PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    (
        "s3:PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
    ),
    ("s3:PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
];

/// The IAM action an API call (`s3:PutBucketCors`, as plinth names operations) needs.
pub fn iam_action(call: &str) -> String {
    RENAMED
        .iter()
        .find(|(api, _)| *api == call)
        .map_or_else(|| call.to_string(), |(_, action)| (*action).to_string())
}

/// The denial an error describes: `operation` as plinth names it (`s3:PutBucketCors
/// (bucket.data, NAME)`), AWS's code and message.
pub fn parse(operation: &str, code: Option<&str>, message: &str) -> Option<Denial> {
    if !is_denial_code(code?) {
        return None;
    }
    let call = operation.split(' ').next().unwrap_or(operation);
    let named = after(message, "not authorized to perform: ").map(|rest| {
        rest.split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or(rest)
    });
    // SQS writes the action in lower case (`sqs:createqueue`): spell it as IAM does.
    let action = match named.filter(|a| a.contains(':')) {
        Some(action) => catalog().actions_matching(action).next().map_or_else(
            || action.to_string(),
            |(s, a)| format!("{}:{}", s.prefix, a.name),
        ),
        None => iam_action(call),
    };
    let resource = after(message, "on resource: ").map(|rest| {
        let end = [
            " because ",
            " with an explicit deny",
            " with an explicit Deny",
        ]
        .iter()
        .filter_map(|stop| rest.find(stop))
        .min()
        .unwrap_or(rest.len());
        rest[..end]
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '.')
            .to_string()
    });
    let reason = after(message, "because ")
        .or_else(|| after(message, "with an explicit deny in "))
        .map(|r| r.trim_end_matches('.').to_string());
    let refused_by = match reason {
        Some(r) if message.contains("with an explicit deny in ") => {
            RefusedBy::Other(format!("an explicit deny in {r}"))
        }
        Some(r) if !r.starts_with("no identity-based policy") => RefusedBy::Other(r),
        _ => RefusedBy::IdentityPolicy,
    };
    Some(Denial {
        call: (call != action && call.contains(':')).then(|| call.to_string()),
        action,
        resource,
        principal: after(message, "User: ")
            .and_then(|p| p.split_whitespace().next())
            .filter(|p| p.starts_with("arn:"))
            .map(str::to_string),
        refused_by,
    })
}

fn after<'m>(message: &'m str, marker: &str) -> Option<&'m str> {
    message.split_once(marker).map(|(_, rest)| rest)
}

impl Denial {
    /// The resource in a form a policy can name: an ARN or `*`.
    pub fn resource_arn(&self) -> Option<&str> {
        self.resource
            .as_deref()
            .filter(|r| r.starts_with("arn:") || *r == "*")
    }

    /// "`arn:...:user/ci` is not allowed `s3:PutBucketCORS` (the action of the
    /// s3:PutBucketCors call) on `arn:aws:s3:::b`", and what refused it.
    pub fn summary(&self) -> String {
        let who = self.principal.as_deref().map_or_else(
            || "the identity running plinth".to_string(),
            |p| format!("`{p}`"),
        );
        let call = self
            .call
            .as_deref()
            .map(|c| format!(" (the IAM action of the {c} call)"))
            .unwrap_or_default();
        let on = self
            .resource_arn()
            .filter(|r| *r != "*")
            .map(|r| format!(" on `{r}`"))
            .unwrap_or_default();
        format!("{who} is not allowed `{}`{call}{on}", self.action)
    }

    /// The hint without knowing the spec's printed policy.
    pub fn hint(&self) -> String {
        match &self.refused_by {
            RefusedBy::IdentityPolicy => format!(
                "{}; `plinth permissions` prints the policy it needs (with -f SPEC)",
                self.summary()
            ),
            RefusedBy::Other(reason) => self.refused_elsewhere(reason),
        }
    }

    /// The hint once the spec's printed policy is known: whether it grants what was refused.
    /// `printed` is `None` when that cannot be decided (no resource to decide it on).
    pub fn hint_with_printed(&self, printed: bool) -> String {
        match (&self.refused_by, printed) {
            (RefusedBy::Other(reason), _) => self.refused_elsewhere(reason),
            (RefusedBy::IdentityPolicy, true) => format!(
                "{}; the policy `plinth permissions -f SPEC` prints grants it: attach it to this identity, or lift what limits it (a permissions boundary, a session or an organization's policy)",
                self.summary()
            ),
            (RefusedBy::IdentityPolicy, false) => format!(
                "{}; the policy `plinth permissions -f SPEC` prints does not grant it, though plinth needed it: that is a bug in plinth's printed policy, please report it (with this message)",
                self.summary()
            ),
        }
    }

    fn refused_elsewhere(&self, reason: &str) -> String {
        let fix = if reason.contains("resource-based policy") {
            "the resource's own policy (a key, bucket or queue policy, or a role's trust policy) must allow it; an identity policy alone cannot"
        } else if reason.contains("service control policy")
            || reason.contains("resource control policy")
        {
            "the organization's policies refuse it, and no policy on the identity can lift that: ask whoever manages them"
        } else if reason.contains("permissions boundary") {
            "the identity's permissions boundary does not allow it: widen the boundary, or run plinth as another identity"
        } else if reason.contains("session policy") {
            "the session policy of the assumed role does not allow it: drop or widen the session policy"
        } else {
            "`plinth permissions` prints the identity policy plinth needs (with -f SPEC); this refusal comes from elsewhere"
        };
        format!("{} ({reason}): {fix}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_calls_are_named_by_their_iam_action() {
        let d = parse(
            "s3:PutBucketCors (bucket.data, my-lab-data)",
            Some("AccessDenied"),
            "Access Denied",
        )
        .unwrap();
        assert_eq!(d.action, "s3:PutBucketCORS");
        assert_eq!(d.call.as_deref(), Some("s3:PutBucketCors"));
        assert_eq!(d.resource, None);
        assert_eq!(d.refused_by, RefusedBy::IdentityPolicy);
        assert_eq!(
            d.hint(),
            "the identity running plinth is not allowed `s3:PutBucketCORS` (the IAM action of the s3:PutBucketCors call); `plinth permissions` prints the policy it needs (with -f SPEC)"
        );
        let n = parse(
            "s3:PutBucketNotificationConfiguration (bucket.data, b)",
            Some("AccessDenied"),
            "Access Denied",
        )
        .unwrap();
        assert_eq!(n.action, "s3:PutBucketNotification");
        assert_eq!(iam_action("iam:CreateRole"), "iam:CreateRole");
    }

    #[test]
    fn the_action_and_resource_aws_names_win_and_are_spelled_as_iam_does() {
        // SQS names the action in lower case.
        let d = parse(
            "sqs:CreateQueue (queue.work, q)",
            Some("AccessDenied"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sqs:createqueue on resource: arn:aws:sqs:us-east-1:123456789012:q because no identity-based policy allows the sqs:createqueue action",
        )
        .unwrap();
        assert_eq!(d.action, "sqs:CreateQueue");
        assert_eq!(d.call, None);
        assert_eq!(
            d.resource_arn(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
        assert_eq!(
            d.principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/ci")
        );
        // A call that needs a second action (CreateFunction passes the role) is named by it.
        let pass = parse(
            "lambda:CreateFunction (function.f, f)",
            Some("AccessDeniedException"),
            "User: arn:aws:sts::123456789012:assumed-role/ci/s is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/f-role",
        )
        .unwrap();
        assert_eq!(pass.action, "iam:PassRole");
        assert_eq!(
            pass.resource_arn(),
            Some("arn:aws:iam::123456789012:role/f-role")
        );
        // S3's newer messages quote the resource.
        let quoted = parse(
            "s3:PutBucketPolicy (bucket.data, b)",
            Some("AccessDenied"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::b\" because no identity-based policy allows the s3:PutBucketPolicy action",
        )
        .unwrap();
        assert_eq!(quoted.resource_arn(), Some("arn:aws:s3:::b"));
    }

    #[test]
    fn refusals_the_printed_policy_cannot_fix_say_where_to_look() {
        let scp = parse(
            "kms:CreateKey (key.k)",
            Some("AccessDeniedException"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: kms:CreateKey on resource: * with an explicit deny in a service control policy",
        )
        .unwrap();
        assert_eq!(
            scp.refused_by,
            RefusedBy::Other("an explicit deny in a service control policy".into())
        );
        assert!(
            scp.hint().contains("organization's policies"),
            "{}",
            scp.hint()
        );
        assert!(scp
            .hint_with_printed(false)
            .contains("organization's policies"));
        let key_policy = parse(
            "kms:PutKeyPolicy (key.k, k)",
            Some("AccessDeniedException"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: kms:PutKeyPolicy on resource: arn:aws:kms:us-east-1:123456789012:key/1 because no resource-based policy allows the kms:PutKeyPolicy action",
        )
        .unwrap();
        assert!(key_policy.hint().contains("resource's own policy"));
        assert_eq!(parse("iam:GetRole", Some("NoSuchEntity"), "x"), None);
        assert_eq!(parse("iam:GetRole", None, "x"), None);
    }

    #[test]
    fn the_printed_policy_verdict_is_part_of_the_hint() {
        let d = parse(
            "s3:PutBucketCors (bucket.b, b)",
            Some("AccessDenied"),
            "Access Denied",
        )
        .unwrap();
        assert!(d.hint_with_printed(true).contains("prints grants it"));
        assert!(d
            .hint_with_printed(false)
            .contains("bug in plinth's printed policy"));
    }
}
