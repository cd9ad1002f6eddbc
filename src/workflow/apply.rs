//! The protocol of an apply, around the executor: lock the stack, plan (or check a saved plan
//! still holds), ask, keep the stack index ahead of the steps, run them, bring the index up to
//! date, unlock. What a person sees of it goes through [`ApplyView`]; only the command line
//! touches the terminal.

use std::path::Path;

use super::{plan_stack_live, WorkflowError};
use crate::apply::{self, ApplyOptions, ApplyReport, Progress};
use crate::aws::{index, Aws};
use crate::lock::{LockError, Released, StackLock};
use crate::plan::{Plan, PlanOptions};
use crate::saved::{SavedEnvironment, SavedPlan, SavedPlanError};
use crate::spec::Spec;
use crate::state::{LiveSnapshot, StackIndex};
use crate::stop::Stop;
use crate::workflow::index::{after_apply, before_apply};

/// What an apply shows and asks along the way.
pub trait ApplyView {
    /// The plan about to be applied.
    fn plan(&self, plan: &Plan);
    /// Asks to go ahead with `plan`; an error stops the apply before any change. The answer
    /// is awaited, so that a stop asked for meanwhile ends the question.
    fn confirm<'a>(
        &'a self,
        plan: &'a Plan,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), WorkflowError>> + 'a>>;
    /// Whether `confirm` waits for a person's answer (not `--auto-approve`): while it waits,
    /// `plinth unlock --force` may let another apply take the stack's lock.
    fn asks(&self) -> bool;
    /// The progress of `steps` steps about to run.
    fn progress(&self, steps: usize) -> Box<dyn Progress>;
    /// The steps' outcome of `plan`, once every step has ended.
    fn report(&self, plan: &Plan, report: &ApplyReport);
    /// Something went wrong that does not change the outcome.
    fn warn(&self, warning: &str);
}

/// An apply, as the command line asked for it.
pub struct ApplyRequest {
    /// A saved plan (of this environment) to apply instead of planning again.
    pub saved: Option<SavedEnvironment>,
    pub destroy: bool,
    pub parallelism: usize,
    /// Asked by Ctrl-C or SIGTERM: before any change the apply ends with nothing changed; once
    /// steps run, none starts and those under way finish (see [`crate::stop`]).
    pub stop: Stop,
}

/// How an apply ended, when it got as far as running steps (or found nothing to do).
pub struct ApplyOutcome {
    pub plan: Plan,
    /// `None` when the plan had nothing to do.
    pub report: Option<ApplyReport>,
}

impl ApplyOutcome {
    pub fn succeeded(&self) -> bool {
        self.report.as_ref().is_none_or(ApplyReport::succeeded)
    }

    /// The stack's outputs after a successful apply (not a destroy).
    pub fn outputs(&self) -> Vec<(String, Option<String>)> {
        match &self.report {
            Some(report) if report.succeeded() && !self.plan.destroy => {
                apply::outputs(&self.plan, report)
            }
            _ => Vec::new(),
        }
    }
}

/// Applies `spec` under the stack's lock (when it has one): the lock is taken before the live
/// state is read, so the plan cannot go stale under us, and released whatever happens.
pub async fn apply_stack(
    aws: &Aws,
    spec: &Spec,
    request: &ApplyRequest,
    view: &dyn ApplyView,
) -> Result<ApplyOutcome, WorkflowError> {
    super::guard::check_account(aws, spec).await?;
    // The command that releases this stack's lock: an environment's needs its name.
    let unlock = match &spec.stack.env {
        Some(env) => format!("plinth unlock -f {} --env {}", spec.file.name, env.name),
        None => format!("plinth unlock -f {}", spec.file.name),
    };
    let lock = match &spec.stack.lock {
        Some(config) => {
            let caller = aws.sts.account().await?.caller_arn;
            let operation = if request.destroy { "destroy" } else { "apply" };
            let lock = StackLock::acquire(aws, config, &spec.stack.name, &caller, operation)
                .await
                .map_err(|e| match e {
                    // The lock's calls go to the stack's region: a lock bucket of another
                    // region answers with a redirect.
                    LockError::Aws(mut e) if e.is_code("PermanentRedirect") => {
                        e.hint = Some(format!(
                            "the lock bucket `{}` is in another region than the stack ({}): plinth reaches it in the stack's region, so keep the lock bucket there (environments in several regions each need one, named with a variable)",
                            config.bucket,
                            aws.sts.region()
                        ));
                        WorkflowError::Aws(e)
                    }
                    LockError::Aws(e) => WorkflowError::Aws(e),
                    held => WorkflowError::Refused {
                        message: held.to_string(),
                        hint: Some(format!(
                            "wait for it to finish; if that process is gone, run `{unlock}`"
                        )),
                    },
                })?;
            Some(lock)
        }
        None => {
            view.warn(&unlocked_warning(&spec.stack.name));
            None
        }
    };
    let result = apply_locked(aws, spec, request, view, lock.as_ref()).await;
    if let Some(lock) = lock {
        match lock.release(aws).await {
            Ok(Released::Released) => {}
            Ok(Released::AlreadyGone) => view.warn(
                "the stack lock was removed while this apply ran (`plinth unlock`): another apply may have run beside it; plan again to see the account as it is now",
            ),
            Ok(Released::TakenOver(holder)) => view.warn(&format!(
                "the stack lock was removed while this apply ran and is now held: {}; it is left in place, and the account may have changed beside this apply",
                crate::lock::describe(&Some(holder))
            )),
            Err(e) => view.warn(&format!(
                "the stack lock could not be released ({e}); run `{unlock}`"
            )),
        }
    }
    result
}

async fn apply_locked(
    aws: &Aws,
    spec: &Spec,
    request: &ApplyRequest,
    view: &dyn ApplyView,
    lock_held: Option<&StackLock>,
) -> Result<ApplyOutcome, WorkflowError> {
    let prepared = async {
        let (plan, snapshot) = match &request.saved {
            Some(saved) => saved_plan(saved, aws, spec).await?,
            None => {
                let options = PlanOptions {
                    destroy: request.destroy,
                    refresh_only: false,
                };
                plan_stack_live(aws, spec, options).await?
            }
        };
        view.plan(&plan);
        if request.saved.is_none() && !plan.is_empty() {
            view.confirm(&plan).await?;
            // A person took their time: the lock may have been forced away meanwhile, and
            // another apply may hold it now. Nothing has changed yet, so stop here.
            if let Some(lock) = lock_held.filter(|_| view.asks()) {
                if let Some(now) = lock.lost(aws).await? {
                    return Err(WorkflowError::Refused {
                        message: format!(
                            "the stack lock was removed while this apply waited for its answer{}; nothing was changed",
                            now.map(|h| format!(", and is now held: {}", crate::lock::describe(&Some(h))))
                                .unwrap_or_default()
                        ),
                        hint: Some("plan again: another apply may have changed the account".into()),
                    });
                }
            }
        }
        Ok::<_, WorkflowError>((plan, snapshot))
    };
    // Until the steps start nothing has changed, so a stop ends the apply at once (and the
    // caller releases the lock).
    let (plan, snapshot) = tokio::select! {
        prepared = prepared => prepared?,
        () = request.stop.asked() => return Err(WorkflowError::Refused {
            message: "apply stopped (interrupted) before any change; nothing was changed".into(),
            hint: None,
        }),
    };
    // The stack index names what the apply is about to create before it does (and is written
    // even when there is nothing to do, for a stack that had a lock but no index yet).
    let stack_index = before_apply(
        StackIndex::of_owned(&spec.stack.name, &snapshot.owned),
        &plan,
    );
    let lock = spec.stack.lock.as_ref();
    if let Some(lock) = lock.filter(|_| snapshot.index.as_ref() != Some(&stack_index)) {
        index::write(aws, lock, &stack_index).await?;
    }
    if plan.is_empty() {
        return Ok(ApplyOutcome { plan, report: None });
    }
    let steps = plan.changes.iter().filter(|c| c.is_change()).count();
    let progress = view.progress(steps);
    let options = ApplyOptions {
        parallelism: request.parallelism,
        stop: request.stop.clone(),
    };
    let mut report = apply::apply(aws, &plan, options, progress.as_ref()).await;
    drop(progress);
    super::denied::explain_report(aws, spec, &mut report).await;
    view.report(&plan, &report);
    let after = after_apply(stack_index.clone(), &plan, &report);
    if let Some(lock) = lock.filter(|_| after != stack_index) {
        if let Err(e) = index::write(aws, lock, &after).await {
            // The next plan lists the account rather than trusting an index that may lack a key.
            let deleted = index::delete(aws, lock).await;
            view.warn(&format!(
                "the stack index could not be updated ({e}){}",
                if deleted.is_ok() {
                    "; it was removed, and the next plan lists the account"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(ApplyOutcome {
        plan,
        report: Some(report),
    })
}

/// A saved plan that cannot be read, as a refusal with the hint for each reason.
pub fn saved_plan_refusal(e: SavedPlanError) -> WorkflowError {
    let hint = match e {
        SavedPlanError::Tampered(_) => "plan again; a plan file must not be edited",
        SavedPlanError::Version { .. } => "plan again with this version of plinth",
        SavedPlanError::Unreadable { .. } => "pass the file written by `plinth plan --out`",
    };
    WorkflowError::Refused {
        message: e.to_string(),
        hint: Some(hint.into()),
    }
}

/// Reads a saved plan and checks that it was made with the same variables: the spec to load is
/// the one it names, and [`check_saved_inputs`] then holds it to the files planned from.
pub fn open_saved_plan(path: &Path, vars: &[(String, String)]) -> Result<SavedPlan, WorkflowError> {
    let saved = SavedPlan::read(path).map_err(saved_plan_refusal)?;
    let differences = saved.var_differences(vars, &crate::spec::env::vars_from_environment());
    if !differences.is_empty() {
        return Err(WorkflowError::Refused {
            message: format!(
                "the variables differ from the plan's, so none of it was applied:\n  {}",
                differences.join("\n  ")
            ),
            hint: Some("give apply the same --var options and PLINTH_VAR_* variables as `plinth plan`, or plan again".into()),
        });
    }
    Ok(saved)
}

/// Checks that the specs loaded for a saved plan (one per environment) are made of the files it
/// was planned from. Loading recorded each file's hash, so no file is read a second time.
pub fn check_saved_inputs(saved: &SavedPlan, specs: &[&Spec]) -> Result<(), WorkflowError> {
    spec_changed(saved.changed_inputs_of(specs.iter().flat_map(|s| &s.inputs)))
}

/// A saved plan's spec that no longer loads: refused as changed when one of its files changed
/// since the plan (then the load's own error is beside the point), otherwise that error.
pub fn unloadable_saved_spec(saved: &SavedPlan, error: WorkflowError) -> WorkflowError {
    spec_changed(saved.changed_inputs()).err().unwrap_or(error)
}

fn spec_changed(changed: Vec<String>) -> Result<(), WorkflowError> {
    if changed.is_empty() {
        return Ok(());
    }
    Err(WorkflowError::Refused {
        message: format!(
            "the spec changed since the plan was made: {}",
            changed.join(", ")
        ),
        hint: Some("plan again and review the new plan".into()),
    })
}

/// Checks that a saved plan (of one environment; its files were checked by
/// [`check_saved_inputs`]) still holds: same account, same live state.
async fn saved_plan(
    saved: &SavedEnvironment,
    aws: &Aws,
    spec: &Spec,
) -> Result<(Plan, LiveSnapshot), WorkflowError> {
    let account = aws.sts.account().await?;
    if saved.plan.refresh_only {
        return Err(WorkflowError::Refused {
            message: "the plan file is a drift report (--refresh-only), not a plan to apply"
                .to_string(),
            hint: Some("make a plan without --refresh-only".into()),
        });
    }
    let options = PlanOptions {
        destroy: saved.plan.destroy,
        refresh_only: false,
    };
    let (now, snapshot) = plan_stack_live(aws, spec, options).await?;
    let secrets = saved.secret_differences(&now);
    let differences = saved.account_differences(&account, &now);
    if differences.is_empty() && !secrets.is_empty() {
        return Err(WorkflowError::Refused {
            message: format!(
                "a secret is not the one the plan was made with, so none of it was applied:\n  {}",
                secrets.join("\n  ")
            ),
            hint: Some("give apply the same --var values, var files and PLINTH_VAR_* environment variables as plan, or plan again with the new secret".into()),
        });
    }
    let differences: Vec<String> = secrets.into_iter().chain(differences).collect();
    if !differences.is_empty() {
        return Err(WorkflowError::Refused {
            message: format!(
                "the account no longer matches the saved plan, so none of it was applied:\n  {}",
                differences.join("\n  ")
            ),
            hint: Some("plan again and review the new plan".into()),
        });
    }
    // The new plan is the saved plan (checked above), and it holds the secrets in hand.
    Ok((now, snapshot))
}

/// Said by every apply and destroy of a stack without a lock: nothing stops a second one.
fn unlocked_warning(stack: &str) -> String {
    format!("stack `{stack}` has no lock, so two applies at once can create a resource twice; add `lock = {{ bucket = \"...\" }}` to [stack] (README.md, \"Locking\")")
}
