//! The steps every command shares, in order: connect, learn the account, read live, plan.

use crate::aws::{Aws, AwsError};
use crate::diag::Diagnostics;
use crate::live::{self, LiveSnapshot};
use crate::plan::{self, physical_ids, Plan, PlanOptions, Resolver};
use crate::spec::Spec;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Spec(Diagnostics),
    #[error("{0}")]
    Aws(#[from] AwsError),
}

impl From<Diagnostics> for PlanError {
    fn from(d: Diagnostics) -> Self {
        PlanError::Spec(d)
    }
}

/// Reads the live state `spec` concerns: the account, the resources it names and those the
/// stack owns.
pub async fn read_live(aws: &Aws, spec: &Spec) -> Result<LiveSnapshot, PlanError> {
    let account = aws.sts.account().await?;
    let ids = physical_ids(spec, &Resolver::new(spec, &account, None))?;
    Ok(live::read(aws, spec, account, &ids).await?)
}

/// Reads the live state `spec` concerns and plans against it.
pub async fn plan_stack(aws: &Aws, spec: &Spec, options: PlanOptions) -> Result<Plan, PlanError> {
    let snapshot = read_live(aws, spec).await?;
    Ok(plan::plan(spec, &snapshot, options)?)
}
