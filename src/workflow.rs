//! The steps every command shares, in order: connect, learn the account, read live, plan.

use std::collections::BTreeMap;

use crate::aws::sts::Account;
use crate::aws::{Aws, AwsError};
use crate::diag::Diagnostics;
use crate::index;
use crate::live::{self, LiveSnapshot};
use crate::model::Address;
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
/// stack owns. Resources whose names do not mention the account are read while
/// `GetCallerIdentity` (and the stack's index, when it has one) are on their way.
pub async fn read_live(aws: &Aws, spec: &Spec) -> Result<LiveSnapshot, PlanError> {
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
                Some(lock) => index::read(aws, lock, &spec.stack.name).await,
                None => None,
            }
        };
        let (account, index) = futures::join!(aws.sts.account(), stack_index);
        let account = account?;
        let physical_ids = physical_ids(spec, &Resolver::new(spec, &account, None))?;
        Ok::<_, PlanError>(live::Known {
            account,
            physical_ids,
            index,
        })
    };
    live::read(aws, spec, &early, known).await
}

/// Reads the live state `spec` concerns and plans against it.
pub async fn plan_stack(aws: &Aws, spec: &Spec, options: PlanOptions) -> Result<Plan, PlanError> {
    Ok(plan_stack_live(aws, spec, options).await?.0)
}

/// [`plan_stack`], with the live state it planned against.
pub async fn plan_stack_live(
    aws: &Aws,
    spec: &Spec,
    options: PlanOptions,
) -> Result<(Plan, LiveSnapshot), PlanError> {
    let snapshot = read_live(aws, spec).await?;
    let plan = plan::plan(spec, &snapshot, options)?;
    Ok((plan, snapshot))
}
