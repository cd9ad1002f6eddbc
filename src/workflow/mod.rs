//! The steps every command shares, in order: connect, learn the account, read live, plan;
//! and the protocol of an apply around the executor.

mod apply;
mod denied;
pub mod envs;
pub mod guard;
pub mod index;
mod read;

pub use apply::{
    apply_stack, check_saved_inputs, open_saved_plan, saved_plan_refusal, unloadable_saved_spec,
    ApplyOutcome, ApplyRequest, ApplyView,
};

use std::collections::BTreeMap;

use crate::aws::{Aws, AwsError};
use crate::diag::Diagnostics;
use crate::model::Address;
use crate::plan::{self, physical_ids, Plan, PlanOptions};
use crate::spec::resolve::Resolver;
use crate::spec::Spec;
use crate::state::{Account, LiveSnapshot};

/// Why a command stopped: the spec, AWS, or a refusal with a reason and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0}")]
    Spec(Diagnostics),
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
    },
    /// Diagnostics the planner found once AWS was read: something was sent after all.
    #[error("{0}")]
    Planned(Diagnostics),
}

impl From<Diagnostics> for WorkflowError {
    fn from(d: Diagnostics) -> Self {
        WorkflowError::Spec(d)
    }
}

/// Reads the live state `spec` concerns: the account, the resources it names and those the
/// stack owns. Resources whose names do not mention the account are read while
/// `GetCallerIdentity` (and the stack's index, when it has one) are on their way.
pub async fn read_live(aws: &Aws, spec: &Spec) -> Result<LiveSnapshot, WorkflowError> {
    // A stack that names its account reads nothing before the account is known to be it.
    guard::check_account(aws, spec).await?;
    let unknown = Account::unknown(aws.sts.region());
    let resolver = Resolver::new(spec, &unknown, None);
    let early: BTreeMap<Address, String> = spec
        .resources
        .values()
        .filter_map(|r| match r.body.physical_id(&resolver) {
            Ok(Some(id)) if !id.contains(Account::UNKNOWN) => Some((r.address.clone(), id)),
            _ => None,
        })
        .collect();
    let known = async {
        let stack_index = async {
            match &spec.stack.lock {
                Some(lock) => crate::aws::index::read(aws, lock, &spec.stack.name).await,
                None => None,
            }
        };
        let (account, index) = futures::join!(aws.sts.account(), stack_index);
        let account = account?;
        let physical_ids = physical_ids(spec, &Resolver::new(spec, &account, None))?;
        Ok::<_, WorkflowError>(read::Known {
            account,
            physical_ids,
            index,
        })
    };
    let (snapshot, caller_role) = futures::join!(
        read::read(aws, spec, &early, known),
        caller_role_arn(aws, spec)
    );
    let mut snapshot = snapshot?;
    if let Some(account) = snapshot.account.as_mut() {
        account.caller_role_arn = caller_role?;
    }
    Ok(snapshot)
}

/// The ARN, path included, of the role plinth runs as, when it runs as an assumed role and
/// the plan needs to name it: `${aws.caller_arn}`, or a key's lockout check. A session's ARN
/// (`assumed-role/NAME/SESSION`) leaves the role's path out, and a policy naming the role
/// without it names a role that does not exist (KMS and IAM refuse it). Read beside the
/// resources: nothing but the plan waits for it.
async fn caller_role_arn(aws: &Aws, spec: &Spec) -> Result<Option<String>, WorkflowError> {
    if !spec.needs_caller_role() {
        return Ok(None);
    }
    let named = spec.names_caller();
    // The read of the resources reports a failure of GetCallerIdentity.
    let Ok(account) = aws.sts.account().await else {
        return Ok(None);
    };
    let Some(role) = account.assumed_role_name() else {
        return Ok(None);
    };
    match aws.iam.role_arn(role).await {
        Ok(arn) => Ok(arn),
        // Only the lockout check asked: it compares with the role as the session names it.
        Err(_) if !named => Ok(None),
        Err(mut e) => {
            e.hint = Some(format!(
                "the spec names the identity running plinth (`${{aws.caller_arn}}`), and a session's ARN does not say its role's path: allow iam:GetRole on role {role}"
            ));
            Err(WorkflowError::Aws(e))
        }
    }
}

/// Reads the live state `spec` concerns and plans against it.
pub async fn plan_stack(
    aws: &Aws,
    spec: &Spec,
    options: PlanOptions,
) -> Result<Plan, WorkflowError> {
    Ok(plan_stack_live(aws, spec, options).await?.0)
}

/// The plan `plinth access` reads the live grants from: [`plan_stack`], with every resource's
/// policies read, those the spec leaves unmanaged too (a managed policy attached by hand).
pub async fn plan_for_access(aws: &Aws, spec: &Spec) -> Result<Plan, WorkflowError> {
    read::EVERY_POLICY
        .scope(true, plan_stack(aws, spec, PlanOptions::default()))
        .await
}

/// [`plan_stack`], with the live state it planned against.
pub async fn plan_stack_live(
    aws: &Aws,
    spec: &Spec,
    options: PlanOptions,
) -> Result<(Plan, LiveSnapshot), WorkflowError> {
    let snapshot = match read_live(aws, spec).await {
        Ok(snapshot) => snapshot,
        Err(WorkflowError::Aws(e)) => {
            return Err(WorkflowError::Aws(
                denied::explain_error(aws, spec, e).await,
            ))
        }
        Err(e) => return Err(e),
    };
    let plan = plan::plan(spec, &snapshot, options).map_err(WorkflowError::Planned)?;
    Ok((plan, snapshot))
}

/// Reads a live state written by `plinth snapshot`, for [`plan_offline`]: refused when the
/// file cannot be read, is not a snapshot, or does not say which account it was read from.
/// Nothing is sent to AWS, and the spec is not needed, so the command line reads it while the
/// spec loads.
pub fn read_snapshot(snapshot_file: &std::path::Path) -> Result<LiveSnapshot, WorkflowError> {
    let refused = |why: String| WorkflowError::Refused {
        message: format!("cannot plan against `{}`: {why}", snapshot_file.display()),
        hint: Some("pass a file written by `plinth snapshot -f SPEC > FILE`".into()),
    };
    let text = std::fs::read_to_string(snapshot_file).map_err(|e| refused(e.to_string()))?;
    let snapshot = crate::model::sharing_policies(|| serde_json::from_str::<LiveSnapshot>(&text));
    let snapshot = snapshot.map_err(|e| {
        refused(format!(
            "not a live snapshot (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    // Its text is as large as what it parsed into; planning can use that memory instead.
    drop(text);
    if snapshot.account.is_none() {
        return Err(refused(
            "it does not say which account it was read from".into(),
        ));
    }
    Ok(snapshot)
}

/// Plans against a live state read by [`read_snapshot`] instead of the account: to reproduce
/// a colleague's plan, or for a bug report. Nothing is sent to AWS.
pub fn plan_offline(
    spec: &Spec,
    snapshot: &LiveSnapshot,
    options: PlanOptions,
) -> Result<Plan, WorkflowError> {
    Ok(plan::plan(spec, snapshot, options)?)
}

/// The stack's `[outputs]` as text, from a plan of the live account; refused while one of
/// them has no value yet (the resource it comes from does not exist).
pub fn stack_outputs(
    spec: &Spec,
    plan: &Plan,
) -> Result<Vec<(String, Option<String>)>, WorkflowError> {
    // A value known before apply (a role's ARN, made of its name) is no value of the account's
    // while the plan would still create the resource it comes from.
    let not_yet = |name: &str| {
        spec.outputs.get(name).is_some_and(|text| {
            text.references().any(|r| match r {
                crate::spec::template::Reference::Resource { address, .. } => plan
                    .change(address)
                    .is_some_and(|c| c.action == crate::plan::Action::Create),
                _ => false,
            })
        })
    };
    let values: Vec<(String, Option<String>)> = plan
        .outputs
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (!v.is_unknown() && !not_yet(k)).then(|| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.display())
                }),
            )
        })
        .collect();
    let missing: Vec<&str> = values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(WorkflowError::Refused {
            message: format!(
                "no value yet for {}: the resources they come from do not exist",
                missing.join(", ")
            ),
            hint: Some("run `plinth apply` first".into()),
        });
    }
    Ok(values)
}

/// Writes the plan of `spec` to `path` for `plinth apply FILE`.
pub fn save_plan(
    path: &std::path::Path,
    spec: &Spec,
    plan: &Plan,
    vars: &[(String, String)],
    var_files: &[std::path::PathBuf],
) -> Result<(), WorkflowError> {
    let env_vars = crate::spec::env::vars_from_environment();
    crate::saved::SavedPlan::new(&[(spec, plan)], vars, &env_vars, var_files)
        .write(path)
        .map_err(|e| WorkflowError::Refused {
            message: format!("cannot write the plan file `{}`: {e}", path.display()),
            hint: None,
        })
}
