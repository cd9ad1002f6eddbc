//! The account guard: a stack that names its account (its environment's `account_id`, or
//! `[stack] account_id`) is read and changed only with credentials for that account. It runs
//! before anything else is read or locked.

use super::WorkflowError;
use crate::aws::Aws;
use crate::spec::Spec;

/// Refuses, naming both accounts, when the credentials are not for the account `spec` must be
/// in. `GetCallerIdentity` is asked once per connection, so later steps pay nothing for it.
pub async fn check_account(aws: &Aws, spec: &Spec) -> Result<(), WorkflowError> {
    let Some(expected) = &spec.stack.account else {
        return Ok(());
    };
    let whose = match &expected.env {
        Some(env) => format!("environment `{env}`"),
        None => format!("stack `{}`", spec.stack.name),
    };
    // No credentials at all (or none that load): say for which environment and account.
    let account = aws.sts.account().await.map_err(|mut e| {
        if e.operation == "load AWS credentials" {
            e.hint = Some(format!(
                "{whose} must be in account {}: give it credentials for that account, by the environment's `profile` or `assume_role_arn`, --profile or --assume-role-arn, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                expected.account_id,
            ));
        }
        e
    })?;
    if account.account_id == expected.account_id {
        return Ok(());
    }
    Err(WorkflowError::Refused {
        message: format!(
            "{whose} must be in account {} ({}), but the credentials are for account {} ({}): nothing was read or changed",
            expected.account_id,
            expected.location.display(),
            account.account_id,
            account.caller_arn
        ),
        hint: Some(format!(
            "use credentials for account {}: the environment's `profile` or `assume_role_arn`, or --profile / --assume-role-arn",
            expected.account_id
        )),
    })
}
