//! Several environments in one run: each is its own stack with its own connection, planned
//! concurrently under one limit of reads in flight, or applied a few at a time, each under
//! its own lock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::{stream, StreamExt};

use super::{plan_stack, WorkflowError};
use crate::aws::{Aws, ConnectOptions};
use crate::plan::{Plan, PlanOptions};
use crate::spec::Spec;
use crate::state::READ_CONCURRENCY;
use crate::stop::Stop;

/// Plans every `(spec, connection)` concurrently. All of them share one limit of
/// [`READ_CONCURRENCY`] requests in flight (every request of every connection, and the reads
/// by name as one stack's do), so planning fifty environments does not send fifty times as
/// many requests at once. Results are in the order given.
pub async fn plan_each(
    stacks: &[(&Spec, ConnectOptions)],
    options: PlanOptions,
) -> Vec<Result<Plan, WorkflowError>> {
    let reads = Arc::new(tokio::sync::Semaphore::new(READ_CONCURRENCY));
    let requests = Arc::new(tokio::sync::Semaphore::new(READ_CONCURRENCY));
    let plans = futures::future::join_all(stacks.iter().map(|(spec, connect)| {
        let plan = async move {
            let aws = Aws::connect(connect).await?;
            plan_stack(&aws, spec, options).await
        };
        tracing::Instrument::instrument(plan, env_span(spec))
    }));
    let plans = super::read::READ_LIMIT.scope(reads, plans);
    crate::aws::transport::SHARED_LIMIT
        .scope(requests, plans)
        .await
}

/// The span a run over several environments gives each one's work, so that a warning logged
/// on the way (a retry, a merge done again) says whose it is: ` WARN env{name=dev}: ...`.
/// At the warning level, so that it shows wherever the warnings do.
pub fn env_span(spec: &Spec) -> tracing::Span {
    match &spec.stack.env {
        Some(env) => tracing::warn_span!("env", name = %env.name),
        None => tracing::Span::none(),
    }
}

/// How one environment of a run over several ended.
#[derive(Debug)]
pub enum EnvOutcome<T> {
    Done(T),
    Failed(WorkflowError),
    /// Not started: more environments had failed than the run tolerates.
    Skipped,
    /// Not started: the run was asked to stop (Ctrl-C, SIGTERM).
    Stopped,
}

/// Runs `run` for each item, at most `parallelism` at once, in the order given, and starts no
/// new one once more than `max_failures` have failed (as CloudFormation StackSets' failure
/// tolerance does), or once `stop` is asked for; a run already going is let finish (it heeds
/// `stop` itself). A run fails with an error, or with a result `succeeded` says is not one (an
/// apply whose steps failed part way). Outcomes come back in the order given.
pub async fn each_tolerating<I, T, F, Fut>(
    items: Vec<I>,
    parallelism: usize,
    max_failures: usize,
    stop: &Stop,
    succeeded: impl Fn(&T) -> bool,
    run: F,
) -> Vec<EnvOutcome<T>>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, WorkflowError>>,
{
    let succeeded = &succeeded;
    let failures = AtomicUsize::new(0);
    let (failures, run) = (&failures, &run);
    let mut outcomes: Vec<(usize, EnvOutcome<T>)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move {
            if failures.load(Ordering::SeqCst) > max_failures {
                return (i, EnvOutcome::Skipped);
            }
            if stop.is_asked() {
                return (i, EnvOutcome::Stopped);
            }
            match run(item).await {
                Ok(t) => {
                    if !succeeded(&t) {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    (i, EnvOutcome::Done(t))
                }
                Err(e) => {
                    failures.fetch_add(1, Ordering::SeqCst);
                    (i, EnvOutcome::Failed(e))
                }
            }
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> WorkflowError {
        WorkflowError::Refused {
            message: "no".into(),
            hint: None,
        }
    }

    #[tokio::test]
    async fn no_environment_starts_once_more_than_max_failures_have_failed() {
        // One at a time, so the order of starts is the order given.
        let outcomes = each_tolerating(
            vec![1, 2, 3, 4],
            1,
            1,
            &Stop::never(),
            |_| true,
            |n| async move {
                if n <= 2 {
                    Err(refused())
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert!(matches!(outcomes[0], EnvOutcome::Failed(_)));
        assert!(matches!(outcomes[1], EnvOutcome::Failed(_)));
        assert!(matches!(outcomes[2], EnvOutcome::Skipped));
        assert!(matches!(outcomes[3], EnvOutcome::Skipped));
    }

    #[tokio::test]
    async fn failures_within_the_tolerance_let_the_rest_run() {
        let outcomes = each_tolerating(
            vec![1, 2, 3],
            1,
            1,
            &Stop::never(),
            |_| true,
            |n| async move {
                if n == 1 {
                    Err(refused())
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert!(matches!(outcomes[0], EnvOutcome::Failed(_)));
        assert!(matches!(outcomes[1], EnvOutcome::Done(2)));
        assert!(matches!(outcomes[2], EnvOutcome::Done(3)));
    }

    /// An apply that ran but whose steps failed part way is a failure too.
    #[tokio::test]
    async fn a_run_that_ends_without_succeeding_counts_as_failed() {
        let outcomes = each_tolerating(
            vec![1, 2, 3],
            1,
            0,
            &Stop::never(),
            |n: &i32| *n != 1,
            |n| async move { Ok(n) },
        )
        .await;
        assert!(matches!(outcomes[0], EnvOutcome::Done(1)));
        assert!(matches!(outcomes[1], EnvOutcome::Skipped));
        assert!(matches!(outcomes[2], EnvOutcome::Skipped));
    }

    #[tokio::test]
    async fn no_environment_starts_once_a_stop_is_asked_for() {
        let (handle, stop) = Stop::channel();
        // The second environment's run is where the signal arrives: it finishes, and neither
        // environment after it starts.
        let outcomes = each_tolerating(
            vec![1, 2, 3, 4],
            1,
            9,
            &stop,
            |_| true,
            |n| {
                if n == 2 {
                    handle.ask();
                }
                async move { Ok(n) }
            },
        )
        .await;
        assert!(matches!(outcomes[0], EnvOutcome::Done(1)));
        assert!(matches!(outcomes[1], EnvOutcome::Done(2)));
        assert!(matches!(outcomes[2], EnvOutcome::Stopped));
        assert!(matches!(outcomes[3], EnvOutcome::Stopped));
    }
}
