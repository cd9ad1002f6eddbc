//! AWS failures as a person reads them: one line with the operation, the resource, AWS's code
//! and message, and one hint. Never the SDK's `Debug` output, and never a Rust type name: an
//! error that AWS did not answer (no credentials, no connection, a timeout) is told from the
//! chain of its causes' `Display` texts and the types plinth knows.

use std::error::Error;
use std::sync::OnceLock;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::AwsError;

/// Where requests go, as messages name it: the `--endpoint-url`, or AWS in a region. Set once
/// by `Aws::connect`.
static DESTINATION: OnceLock<String> = OnceLock::new();

pub(crate) fn set_destination(endpoint_url: Option<&str>, region: Option<&str>) {
    let _ = DESTINATION.set(match (endpoint_url, region) {
        (Some(url), _) => url.to_string(),
        (None, Some(region)) => format!("AWS in {region}"),
        (None, None) => "AWS".to_string(),
    });
}

pub(crate) fn destination() -> &'static str {
    DESTINATION.get().map_or("AWS", String::as_str)
}

const CREDENTIAL_CHAIN: &str = "plinth looks for credentials as the AWS CLI does: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then the profile (--profile or AWS_PROFILE) in ~/.aws/credentials and ~/.aws/config (for SSO run `aws sso login`), then web identity (AWS_WEB_IDENTITY_TOKEN_FILE), then the container and EC2 instance metadata";

const REFRESH: &str = "refresh your credentials (`aws sso login`, or new keys or a new session token in the environment or profile), then run plinth again";

/// The hint for an error AWS answered with a code.
pub(crate) fn hint_for_code(operation: &str, code: Option<&str>, message: &str) -> Option<String> {
    let code = code?;
    Some(match code {
        code if super::denied::is_denial_code(code) => {
            super::denied::parse(operation, Some(code), message)?.hint()
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            format!("the credentials have expired: {REFRESH}")
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidSignatureException" => {
            format!("AWS does not accept these credentials (wrong key, secret or session token, or keys of another partition): {REFRESH}")
        }
        "AuthorizationHeaderMalformed" | "PermanentRedirect" | "IllegalLocationConstraintException" => {
            format!("the request went to the wrong region for this resource: check --region (requests go to {})", destination())
        }
        "NoSuchEntity" if message.contains("role with name") => "IAM does not show the role yet (it propagates within seconds, rarely a minute, after it is created): run again; if it persists, the role was deleted meanwhile".into(),
        "NoSuchEntity" if operation.starts_with("iam:AttachRolePolicy") => "the managed policy does not exist: check the ARN in the role's managed_policies (AWS's own are arn:aws:iam::aws:policy/NAME, some under a path such as service-role/)".into(),
        "NoSuchEntity" if operation.starts_with("iam:PutRolePermissionsBoundary") => "the permissions boundary policy does not exist: check the ARN in permissions_boundary".into(),
        "NoSuchEntity" => "IAM does not know the role, policy or profile the request names: check the ARN, or run again if it was created or deleted a moment ago".into(),
        "MalformedPolicyDocument" | "MalformedPolicyDocumentException" => "AWS refused the policy document; its message says which part (`plinth validate` lints what it can before AWS sees a policy)".into(),
        "LimitExceeded" | "LimitExceededException" => "an account quota is reached (the message says which): raise it in the Service Quotas console, or remove what the account no longer needs".into(),
        "Throttling" | "ThrottlingException" | "ThrottledException" | "RequestLimitExceeded"
        | "TooManyRequestsException" | "SlowDown" | "RequestThrottled"
        | "RequestThrottledException" | "ProvisionedThroughputExceededException" => "AWS kept throttling the requests after every retry: run again later, or allow more retries with --max-attempts (an apply run again finishes what is left)".into(),
        "InternalFailure" | "InternalError" | "InternalServerError" | "ServiceUnavailable"
        | "ServiceUnavailableException" | "ServiceFailure" | "InternalServiceError"
        | "InternalServiceErrorException" | "KMSInternalException" => "AWS failed on its side and kept failing after every retry: run again in a moment (an apply run again finishes what is left)".into(),
        "OptInRequired" | "InvalidRegion" => format!(
            "the region is not enabled for this account, or does not exist: check --region (requests go to {})",
            destination()
        ),
        _ => return None,
    })
}

/// The principal an AccessDenied message names ("User: arn:aws:iam::1:user/x is not
/// authorized to perform ...").
fn principal_in(message: &str) -> Option<&str> {
    let after = message.split_once("User: ")?.1;
    after
        .split_whitespace()
        .next()
        .filter(|p| p.starts_with("arn:"))
}

/// An error without an answer from AWS.
pub(crate) fn unanswered(operation: &str, err: &(dyn Error + 'static)) -> AwsError {
    let chain = causes(err);
    if let Some(credentials) = chain
        .iter()
        .find_map(|e| e.downcast_ref::<CredentialsError>())
    {
        return credentials_failure(operation, credentials, &chain);
    }
    if let Some(gave_up) = chain
        .iter()
        .find_map(|e| e.downcast_ref::<super::transport::GaveUp>())
    {
        let hint = if gave_up.silent() {
            "the endpoint accepts connections but does not answer: check --endpoint-url, --region, a proxy (HTTPS_PROXY) and the network"
        } else {
            "nothing listens there: check --endpoint-url, --region, a proxy (HTTPS_PROXY) and the network"
        };
        return AwsError {
            operation: operation.to_string(),
            code: None,
            message: gave_up.to_string(),
            hint: Some(hint.into()),
        };
    }
    let texts: Vec<String> = chain.iter().map(ToString::to_string).collect();
    let deepest = texts.last().cloned().unwrap_or_default();
    let said = |needle: &str| {
        texts
            .iter()
            .any(|t| t.to_ascii_lowercase().contains(needle))
    };
    let (message, hint) = if said("timed out") || said("timeout") {
        (
            format!("no answer from {} in time ({deepest})", destination()),
            format!("the endpoint accepted the request but did not answer: check --endpoint-url, --region and the network (requests go to {})", destination()),
        )
    } else if said("closed before message completed")
        || said("connection closed")
        || said("connection reset")
        || said("incomplete message")
    {
        (
            format!(
                "{} closed the connection without answering ({deepest})",
                destination()
            ),
            format!(
                "something between plinth and the endpoint drops the connection (a proxy, a firewall, a load balancer), or the endpoint fails: check --endpoint-url, HTTPS_PROXY and the network (requests go to {})",
                destination()
            ),
        )
    } else if said("refused")
        || said("connect")
        || said("dns")
        || said("resolve")
        || said("io error")
    {
        (
            format!("cannot connect to {}: {deepest}", destination()),
            format!(
                "check --endpoint-url, --region and the network (requests go to {})",
                destination()
            ),
        )
    } else {
        (
            texts.join(": "),
            format!("requests go to {}", destination()),
        )
    };
    AwsError {
        operation: operation.to_string(),
        code: None,
        message,
        hint: Some(hint),
    }
}

fn credentials_failure(
    _operation: &str,
    credentials: &CredentialsError,
    chain: &[&(dyn Error + 'static)],
) -> AwsError {
    // A refused AssumeRole (--assume-role-arn) is the STS call's failure, not the call it was
    // getting credentials for.
    type AssumeRoleFailure = aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;
    let assume_role = chain.iter().find_map(|e| {
        e.downcast_ref::<AssumeRoleFailure>()
            .map(|f| {
                (
                    f.code().map(str::to_string),
                    f.message().map(str::to_string),
                )
            })
            .or_else(|| {
                e.downcast_ref::<aws_sdk_sts::operation::assume_role::AssumeRoleError>()
                    .map(|f| {
                        (
                            f.code().map(str::to_string),
                            f.message().map(str::to_string),
                        )
                    })
            })
    });
    if let Some((code, message)) = assume_role.filter(|(c, m)| c.is_some() || m.is_some()) {
        let message = message.unwrap_or_default();
        let hint = match code.as_deref() {
            Some("AccessDenied") => Some(format!(
                "{} may not assume the role: the role's trust policy must trust it, and its own policy must allow `sts:AssumeRole` on the role",
                principal_in(&message).map_or_else(|| "the identity plinth starts as".to_string(), |p| format!("`{p}`"))
            )),
            other => hint_for_code("sts:AssumeRole", other, &message),
        };
        return AwsError {
            operation: "sts:AssumeRole (--assume-role-arn)".into(),
            code,
            message,
            hint,
        };
    }
    let deepest = chain
        .iter()
        .skip_while(|e| e.downcast_ref::<CredentialsError>().is_none())
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (message, hint) = match credentials {
        CredentialsError::CredentialsNotLoaded(_) => (
            "no AWS credentials were found".to_string(),
            CREDENTIAL_CHAIN.to_string(),
        ),
        CredentialsError::ProviderTimedOut(_) => (
            "loading AWS credentials timed out".to_string(),
            format!("{CREDENTIAL_CHAIN}; a credential source that does not answer (instance metadata off EC2, an SSO portal) is waited for"),
        ),
        CredentialsError::InvalidConfiguration(_) => (
            format!("the AWS credentials configuration is invalid: {deepest}"),
            "check ~/.aws/config and ~/.aws/credentials for the profile in use".to_string(),
        ),
        // The chain's last source is EC2's instance metadata, whose refusal off EC2 is what the
        // SDK reports when no source had credentials.
        _ if deepest.contains("IMDS") || deepest.to_ascii_lowercase().contains("instance metadata") => (
            "no AWS credentials were found (in the environment, the AWS config and credentials files, SSO, or EC2 instance metadata)".to_string(),
            CREDENTIAL_CHAIN.to_string(),
        ),
        _ if deepest.to_ascii_lowercase().contains("expired") => (
            format!("the AWS credentials could not be loaded: {deepest}"),
            format!("the credentials have expired: {REFRESH}"),
        ),
        _ => (
            format!("the AWS credentials could not be loaded: {deepest}"),
            CREDENTIAL_CHAIN.to_string(),
        ),
    };
    AwsError {
        operation: "load AWS credentials".into(),
        code: None,
        message,
        hint: Some(hint),
    }
}

/// The error and its causes, outermost first.
fn causes<'e>(err: &'e (dyn Error + 'static)) -> Vec<&'e (dyn Error + 'static)> {
    let mut out = vec![err];
    let mut at = err;
    while let Some(next) = at.source() {
        // A cause that repeats its parent's text adds nothing.
        if out.len() > 16 {
            break;
        }
        out.push(next);
        at = next;
    }
    out.dedup_by(|a, b| a.to_string() == b.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_action_and_the_principal() {
        let hint = hint_for_code(
            "iam:GetRole (role.r, r)",
            Some("AccessDenied"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:GetRole on resource: role r",
        )
        .unwrap();
        assert_eq!(
            hint,
            "`arn:aws:iam::123456789012:user/ci` is not allowed `iam:GetRole`; `plinth permissions` prints the policy it needs (with -f SPEC)"
        );
    }

    #[test]
    fn a_missing_managed_policy_names_the_field_to_check() {
        let hint = |operation: &str| {
            hint_for_code(
                operation,
                Some("NoSuchEntity"),
                "Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.",
            )
            .unwrap()
        };
        assert!(hint("iam:AttachRolePolicy").contains("managed_policies"));
        assert!(hint("iam:PutRolePermissionsBoundary").contains("permissions_boundary"));
        assert!(hint("iam:GetInstanceProfile").contains("check the ARN"));
    }

    #[test]
    fn codes_without_a_hint_get_none() {
        assert_eq!(
            hint_for_code("sqs:CreateQueue", Some("QueueDeletedRecently"), ""),
            None
        );
        assert_eq!(hint_for_code("sqs:CreateQueue", None, ""), None);
    }
}
