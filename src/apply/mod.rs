//! The executor: carries out a plan exactly as planned, in dependency order, concurrently.
//!
//! It makes no decisions the plan did not make. A step that fails takes its dependents down
//! with it (they are skipped); independent steps go on. The report says what was done, what
//! failed and what was skipped, so a second `plinth apply` can finish the job.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde::Serialize;

use crate::aws::{Aws, AwsError, WaitNotices, WAIT_NOTICES};
use crate::model::{Address, Value};
use crate::plan::{Action, Plan, ResourceChange};
use crate::spec::resolve::fill_pending;
use crate::spec::template::Reference;
use crate::stop::Stop;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps in flight at once.
    pub parallelism: usize,
    /// Once asked, no step starts and the waits of those under way end (see [`crate::stop`]).
    pub stop: Stop,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallelism: 16,
            stop: Stop::never(),
        }
    }
}

/// How apply tells the outside world what it is doing; only the CLI draws anything.
pub trait Progress: Send + Sync {
    fn started(&self, change: &ResourceChange);
    /// A step waits for AWS to catch up (IAM propagation, a queue name deleted recently).
    fn waiting(&self, address: &Address, notice: &str);
    fn finished(&self, outcome: &StepOutcome);
}

/// Reports nothing, for library callers and tests.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: &ResourceChange) {}
    fn waiting(&self, _: &Address, _: &str) {}
    fn finished(&self, _: &StepOutcome) {}
}

#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub address: Address,
    pub action: Action,
    /// A delete that only releases someone else's resource ([`ResourceChange::releases`]), or
    /// an update that lets go of one (`release = true`, [`ResourceChange::lets_go`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
    pub status: StepStatus,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StepStatus {
    Done,
    Failed {
        error: String,
        hint: Option<String>,
        /// When the step was refused access: what, so the hint can say whether the printed
        /// policy grants it.
        #[serde(skip)]
        denial: Option<crate::aws::denied::Denial>,
    },
    /// Not attempted because a step it depends on failed.
    Skipped {
        because: Address,
    },
    /// Not attempted because the steps it waits for wait, in the end, on each other: `cycle`
    /// is one such circle (its first step again at the end), so none of them could start.
    Blocked {
        cycle: Vec<Address>,
    },
    /// Not started: the apply was asked to stop (Ctrl-C, SIGTERM) before its turn came.
    Interrupted,
    /// Not started: an earlier step gave up on the endpoint (it refused connections, or did not
    /// answer, again and again), so every later step would have failed the same way.
    NotStarted {
        /// The step whose failure said so.
        after: Address,
    },
}

impl StepStatus {
    /// Why a blocked step did not run, in one line.
    pub fn blocked_reason(cycle: &[Address]) -> String {
        let circle: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        format!(
            "could not run: it waits for steps that wait on each other ({}), so none of them could start; this is a bug in plinth's ordering, please report it with the plan (`plinth plan --out`)",
            circle.join(" -> ")
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub outcomes: Vec<StepOutcome>,
    /// What each resource created by this apply exported (`arn`, `key_id`, ...).
    pub exports: BTreeMap<Address, crate::aws::Exports>,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| matches!(o.status, StepStatus::Done))
    }

    /// Whether the apply was asked to stop before every step had started.
    pub fn interrupted(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o.status, StepStatus::Interrupted))
    }

    /// Steps done with `action`, releases apart from destroys.
    fn count(&self, action: Action, released: bool) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.action == action && o.released == released)
            .filter(|o| matches!(o.status, StepStatus::Done))
            .count()
    }

    /// `Apply complete: 7 added, 1 changed, 0 replaced, 0 destroyed in 3.2 s.`, with `, N
    /// released` before the time when existing resources were let go; a destroy's (a plan of
    /// `--destroy`) says `Destroy complete: 3 destroyed in 1.2 s.`
    pub fn summary_line(&self, destroy: bool) -> String {
        let released = match self.count(Action::Delete, true) + self.count(Action::Update, true) {
            0 => String::new(),
            n => format!(", {n} released"),
        };
        let counts = format!(
            "{} added, {} changed, {} replaced, {} destroyed{released} in {:.1} s.",
            self.count(Action::Create, false),
            self.count(Action::Update, false),
            self.count(Action::Replace, false),
            self.count(Action::Delete, false),
            self.elapsed.as_secs_f64()
        );
        if self.succeeded() && destroy {
            format!(
                "Destroy complete: {} destroyed{released} in {:.1} s.",
                self.count(Action::Delete, false),
                self.elapsed.as_secs_f64()
            )
        } else if self.succeeded() {
            format!("Apply complete: {counts}")
        } else {
            let failed = self
                .outcomes
                .iter()
                .filter(|o| matches!(o.status, StepStatus::Failed { .. }))
                .count();
            let skipped = self
                .outcomes
                .iter()
                .filter(|o| matches!(o.status, StepStatus::Skipped { .. }))
                .count();
            let blocked = self
                .outcomes
                .iter()
                .filter(|o| matches!(o.status, StepStatus::Blocked { .. }))
                .count();
            let blocked = match blocked {
                0 => String::new(),
                n => format!(", {n} could not run (waiting on each other)"),
            };
            let interrupted = self
                .outcomes
                .iter()
                .filter(|o| {
                    matches!(
                        o.status,
                        StepStatus::Interrupted | StepStatus::NotStarted { .. }
                    )
                })
                .count();
            let what = if destroy { "Destroy" } else { "Apply" };
            if interrupted > 0 {
                return format!("{what} stopped: {interrupted} not started, {failed} failed, {skipped} skipped{blocked}; {counts}");
            }
            format!("{what} failed: {failed} failed, {skipped} skipped{blocked}; {counts}")
        }
    }
}

/// Runs every change of `plan` that is not a no-op.
pub async fn apply(
    aws: &Aws,
    plan: &Plan,
    options: ApplyOptions,
    progress: &dyn Progress,
) -> ApplyReport {
    let started = Instant::now();
    let steps: BTreeMap<&Address, &ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.is_change())
        .map(|c| (&c.address, c))
        .collect();
    let waits_for = schedule(&steps);

    let mut outcomes: BTreeMap<Address, StepOutcome> = BTreeMap::new();
    let mut exports: BTreeMap<Address, BTreeMap<String, String>> = BTreeMap::new();
    let mut running = FuturesUnordered::new();
    let mut pending: BTreeSet<&Address> = steps.keys().copied().collect();
    let (notices, mut notice_rx) = tokio::sync::mpsc::unbounded_channel();
    // Steps a stop left unstarted: reported after those under way, which finish first.
    let mut not_started = Vec::new();
    // The step whose failure gave up on the endpoint: nothing starts after it.
    let mut endpoint_gone: Option<Address> = None;

    loop {
        if let Some(after) = &endpoint_gone {
            not_started.extend(std::mem::take(&mut pending).into_iter().map(|address| {
                StepOutcome {
                    address: address.clone(),
                    action: steps[address].action,
                    released: steps[address].releases() || steps[address].lets_go(),
                    status: StepStatus::NotStarted {
                        after: after.clone(),
                    },
                    elapsed: Duration::ZERO,
                }
            }));
        }
        // Asked to stop: what has not started stays so; the steps under way finish.
        if options.stop.is_asked() {
            not_started.extend(std::mem::take(&mut pending).into_iter().map(|address| {
                StepOutcome {
                    address: address.clone(),
                    action: steps[address].action,
                    released: steps[address].releases() || steps[address].lets_go(),
                    status: StepStatus::Interrupted,
                    elapsed: Duration::ZERO,
                }
            }));
        }
        // Skip what can no longer run, start what is ready.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for address in pending.clone() {
                let deps = &waits_for[address];
                if let Some(failed) = deps.iter().find(|d| {
                    outcomes
                        .get(**d)
                        .is_some_and(|o| !matches!(o.status, StepStatus::Done))
                }) {
                    let change = steps[address];
                    let outcome = StepOutcome {
                        address: address.clone(),
                        action: change.action,
                        released: change.releases() || change.lets_go(),
                        status: StepStatus::Skipped {
                            because: (*failed).clone(),
                        },
                        elapsed: Duration::ZERO,
                    };
                    progress.finished(&outcome);
                    outcomes.insert(address.clone(), outcome);
                    pending.remove(address);
                    progressed = true;
                } else if running.len() < options.parallelism.max(1)
                    && deps.iter().all(|d| outcomes.contains_key(*d))
                {
                    let change = steps[address];
                    pending.remove(address);
                    progress.started(change);
                    let filled = fill(change, &exports);
                    let waits = WaitNotices {
                        address: change.address.clone(),
                        sender: notices.clone(),
                        stop: options.stop.clone(),
                    };
                    running.push(WAIT_NOTICES.scope(waits, async move {
                        let t = Instant::now();
                        let result = match filled {
                            Ok(change) => execute(aws, plan, &change).await,
                            Err(e) => Err(e),
                        };
                        (change, result, t.elapsed())
                    }));
                    progressed = true;
                }
            }
        }
        let next = tokio::select! {
            done = running.next() => done,
            Some((address, notice)) = notice_rx.recv() => {
                progress.waiting(&address, &notice);
                continue;
            }
            () = options.stop.asked(), if !pending.is_empty() => continue,
        };
        let Some((change, result, elapsed)) = next else {
            break;
        };
        let status = match result {
            Ok(exported) => {
                exports.insert(change.address.clone(), exported);
                StepStatus::Done
            }
            Err(e) => {
                let mut hint = e.hint.clone();
                if e.endpoint_given_up() {
                    endpoint_gone.get_or_insert_with(|| change.address.clone());
                    // A call sent before the endpoint went may have been carried out.
                    let unknown = "whether AWS carried out the calls this step sent before the endpoint stopped answering is not known: the next plan reads what is there";
                    hint = Some(match hint {
                        Some(h) => format!("{h}; {unknown}"),
                        None => unknown.to_string(),
                    });
                }
                StepStatus::Failed {
                    error: e.to_string(),
                    hint,
                    denial: e.denial(),
                }
            }
        };
        let outcome = StepOutcome {
            address: change.address.clone(),
            action: change.action,
            released: change.releases() || change.lets_go(),
            status,
            elapsed,
        };
        progress.finished(&outcome);
        outcomes.insert(change.address.clone(), outcome);
    }
    for outcome in not_started {
        progress.finished(&outcome);
        outcomes.insert(outcome.address.clone(), outcome);
    }
    // Nothing runs and steps are left: each waits for another left step, round a cycle.
    for address in &pending {
        let outcome = StepOutcome {
            address: (*address).clone(),
            action: steps[address].action,
            released: steps[address].releases() || steps[address].lets_go(),
            status: StepStatus::Blocked {
                cycle: cycle_from(address, &waits_for, &pending),
            },
            elapsed: Duration::ZERO,
        };
        progress.finished(&outcome);
        outcomes.insert((*address).clone(), outcome);
    }
    ApplyReport {
        outcomes: outcomes.into_values().collect(),
        exports,
        elapsed: started.elapsed(),
    }
}

/// The plan's outputs with the values created by this apply filled in; `None` for an output
/// whose resource was not created.
pub fn outputs(plan: &Plan, report: &ApplyReport) -> Vec<(String, Option<String>)> {
    let lookup = |r: &Reference| match r {
        Reference::Resource { address, attribute } => report
            .exports
            .get(address)
            .and_then(|e| e.get(attribute))
            .cloned(),
        _ => None,
    };
    plan.outputs
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::Unknown(p) => fill_pending(p, lookup)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                other => other
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| Some(other.display())),
            };
            (name.clone(), text)
        })
        .collect()
}

/// What each step waits for. Creates and updates wait for the resources they refer to.
/// Deletes wait until everything that might still refer to the deleted resource has changed:
/// every create, update and replace, and the deletes of the resources that refer to it.
fn schedule<'a>(
    steps: &BTreeMap<&'a Address, &'a ResourceChange>,
) -> BTreeMap<&'a Address, Vec<&'a Address>> {
    let builds: Vec<&Address> = steps
        .values()
        .filter(|c| c.action != Action::Delete)
        .map(|c| &c.address)
        .collect();
    let mut referrers: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for c in steps.values().filter(|c| c.action == Action::Delete) {
        for d in &c.depends_on {
            referrers.entry(d).or_default().push(&c.address);
        }
    }
    steps
        .values()
        .map(|c| {
            let deps = if c.action == Action::Delete {
                let referring = referrers.get(&c.address).into_iter().flatten().copied();
                builds.iter().copied().chain(referring).collect()
            } else {
                c.depends_on
                    .iter()
                    .filter_map(|d| steps.get_key_value(d).map(|(k, _)| *k))
                    .collect()
            };
            (&c.address, deps)
        })
        .collect()
}

/// The cycle `start` waits on among the steps that could not start: following, from `start`,
/// the first wait that is among them until a step comes round again. Every such step waits
/// for another (otherwise it would have run or been skipped), so the walk ends in a cycle.
fn cycle_from(
    start: &Address,
    waits_for: &BTreeMap<&Address, Vec<&Address>>,
    stuck: &BTreeSet<&Address>,
) -> Vec<Address> {
    let mut path: Vec<&Address> = vec![start];
    loop {
        let last = path[path.len() - 1];
        let Some(next) = waits_for
            .get(last)
            .into_iter()
            .flatten()
            .find(|d| stuck.contains(**d))
        else {
            return path.into_iter().cloned().collect();
        };
        if let Some(at) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<Address> = path[at..].iter().map(|a| (*a).clone()).collect();
            cycle.push((*next).clone());
            return cycle;
        }
        path.push(next);
    }
}

/// Fills in the values that were only known after the resources they refer to were created.
fn fill(
    change: &ResourceChange,
    exports: &BTreeMap<Address, BTreeMap<String, String>>,
) -> Result<ResourceChange, AwsError> {
    let lookup = |r: &Reference| match r {
        Reference::Resource { address, attribute } => {
            exports.get(address).and_then(|e| e.get(attribute)).cloned()
        }
        _ => None,
    };
    let fill_value = |v: &Value| -> Result<Value, String> {
        match v {
            Value::Unknown(p) => fill_pending(p, lookup),
            Value::Map(m) => Ok(Value::Map(
                m.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            match v {
                                Value::Unknown(p) => fill_pending(p, lookup)?,
                                other => other.clone(),
                            },
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            )),
            other => Ok(other.clone()),
        }
    };
    let mut filled = change.clone();
    if let Some(desired) = &mut filled.desired {
        for (name, value) in desired.iter_mut() {
            *value = fill_value(value).map_err(|e| AwsError {
                operation: format!("resolve {}.{name}", change.address),
                code: None,
                message: e,
                hint: Some(
                    "a value this resource refers to was not produced by its creator".into(),
                ),
            })?;
        }
    }
    Ok(filled)
}

/// Carries out one change; returns the resource's exports when it was created.
async fn execute(
    aws: &Aws,
    plan: &Plan,
    change: &ResourceChange,
) -> Result<BTreeMap<String, String>, AwsError> {
    aws.apply(&plan.stack, change).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, action: Action, depends_on: &[&str]) -> ResourceChange {
        let parse = |a: &str| Address::try_from(a.to_string()).unwrap();
        ResourceChange {
            address: parse(address),
            action,
            reason: None,
            physical_id: String::new(),
            replaces: None,
            attributes: Vec::new(),
            desired: None,
            live: None,
            take_ownership: false,
            depends_on: depends_on.iter().map(|a| parse(a)).collect(),
            lints: Vec::new(),
        }
    }

    /// Records what the executor reports, in order.
    #[derive(Default)]
    struct Recorded(std::sync::Mutex<Vec<StepOutcome>>);

    impl Progress for Recorded {
        fn started(&self, change: &ResourceChange) {
            panic!("{} started, but it waits on a cycle", change.address);
        }
        fn waiting(&self, _: &Address, _: &str) {}
        fn finished(&self, outcome: &StepOutcome) {
            self.0.lock().unwrap().push(outcome.clone());
        }
    }

    #[test]
    fn steps_that_wait_on_each_other_are_reported_as_not_run_with_their_cycle() {
        let plan = Plan {
            format_version: crate::plan::FORMAT_VERSION,
            stack: "cycle".into(),
            account: crate::state::Account::unknown("us-east-1"),
            destroy: false,
            refresh_only: false,
            changes: vec![
                change("role.a", Action::Update, &["queue.b"]),
                change("queue.b", Action::Update, &["role.a"]),
                change("key.c", Action::Create, &["queue.b"]),
            ],
            outputs: Vec::new(),
            warnings: Vec::new(),
        };
        // No step starts, so no request is made: a configuration without credentials will do.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let aws = Aws::from_config(config);
        let progress = Recorded::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(apply(&aws, &plan, ApplyOptions::default(), &progress));

        assert!(
            !report.succeeded(),
            "an apply that did nothing did not succeed"
        );
        assert_eq!(report.outcomes.len(), 3, "every step is accounted for");
        assert_eq!(
            progress.0.lock().unwrap().len(),
            3,
            "and shown as it is decided"
        );
        let cycle = |address: &str| {
            let outcome = report
                .outcomes
                .iter()
                .find(|o| o.address.to_string() == address)
                .unwrap();
            match &outcome.status {
                StepStatus::Blocked { cycle } => {
                    cycle.iter().map(ToString::to_string).collect::<Vec<_>>()
                }
                other => panic!("{address}: {other:?}"),
            }
        };
        assert_eq!(cycle("role.a"), ["role.a", "queue.b", "role.a"]);
        assert_eq!(cycle("queue.b"), ["queue.b", "role.a", "queue.b"]);
        // A step outside the cycle that waits on it names the cycle.
        assert_eq!(cycle("key.c"), ["queue.b", "role.a", "queue.b"]);
        let summary = report.summary_line(false);
        assert!(
            summary.starts_with("Apply failed: 0 failed, 0 skipped, 3 could not run (waiting on each other); 0 added, 0 changed"),
            "{summary}"
        );
        let reason = StepStatus::blocked_reason(&[
            Address::try_from("role.a".to_string()).unwrap(),
            Address::try_from("queue.b".to_string()).unwrap(),
            Address::try_from("role.a".to_string()).unwrap(),
        ]);
        assert!(reason.contains("(role.a -> queue.b -> role.a)"), "{reason}");
    }

    /// Steps not started because an earlier one gave up on the endpoint count as not started.
    #[test]
    fn steps_left_when_the_endpoint_is_gone_are_not_started() {
        let outcome = |address: &str, status: StepStatus| StepOutcome {
            address: Address::try_from(address.to_string()).unwrap(),
            action: Action::Create,
            released: false,
            status,
            elapsed: Duration::ZERO,
        };
        let after = Address::try_from("queue.a".to_string()).unwrap();
        let report = ApplyReport {
            outcomes: vec![
                outcome(
                    "queue.a",
                    StepStatus::Failed {
                        error: "gone".into(),
                        hint: None,
                        denial: None,
                    },
                ),
                outcome(
                    "queue.b",
                    StepStatus::NotStarted {
                        after: after.clone(),
                    },
                ),
                outcome("queue.c", StepStatus::NotStarted { after }),
            ],
            exports: BTreeMap::new(),
            elapsed: Duration::from_millis(100),
        };
        assert!(report
            .summary_line(false)
            .starts_with("Apply stopped: 2 not started, 1 failed, 0 skipped"));
    }

    /// A destroy's summary says destroy, whether it completes, fails or is stopped.
    #[test]
    fn a_destroy_s_summary_says_destroy() {
        let outcome = |address: &str, status: StepStatus| StepOutcome {
            address: Address::try_from(address.to_string()).unwrap(),
            action: Action::Delete,
            released: false,
            status,
            elapsed: Duration::ZERO,
        };
        let report = |statuses: Vec<StepOutcome>| ApplyReport {
            outcomes: statuses,
            exports: BTreeMap::new(),
            elapsed: Duration::from_millis(1200),
        };
        let done = report(vec![
            outcome("role.a", StepStatus::Done),
            outcome("queue.b", StepStatus::Done),
        ]);
        assert_eq!(
            done.summary_line(true),
            "Destroy complete: 2 destroyed in 1.2 s."
        );
        assert!(done
            .summary_line(false)
            .starts_with("Apply complete: 0 added"));
        let failed = report(vec![
            outcome("role.a", StepStatus::Done),
            outcome(
                "queue.b",
                StepStatus::Failed {
                    error: "AccessDenied".into(),
                    hint: None,
                    denial: None,
                },
            ),
        ]);
        assert!(
            failed.summary_line(true).starts_with(
                "Destroy failed: 1 failed, 0 skipped; 0 added, 0 changed, 0 replaced, 1 destroyed"
            ),
            "{}",
            failed.summary_line(true)
        );
        let stopped = report(vec![
            outcome("role.a", StepStatus::Done),
            outcome("queue.b", StepStatus::Interrupted),
        ]);
        assert!(
            stopped
                .summary_line(true)
                .starts_with("Destroy stopped: 1 not started, 0 failed"),
            "{}",
            stopped.summary_line(true)
        );
        assert!(stopped.summary_line(false).starts_with("Apply stopped:"));
    }

    #[test]
    fn deletes_wait_for_every_build_and_for_the_deletes_that_refer_to_them() {
        let changes = [
            change("role.kept", Action::Update, &["queue.kept"]),
            change("queue.kept", Action::Create, &[]),
            change("function.old", Action::Delete, &["role.old"]),
            change("role.old", Action::Delete, &["policy.old"]),
            change("policy.old", Action::Delete, &[]),
        ];
        let steps: BTreeMap<&Address, &ResourceChange> =
            changes.iter().map(|c| (&c.address, c)).collect();
        let waits: BTreeMap<String, Vec<String>> = schedule(&steps)
            .into_iter()
            .map(|(a, deps)| {
                (
                    a.to_string(),
                    deps.into_iter().map(ToString::to_string).collect(),
                )
            })
            .collect();
        assert_eq!(waits["queue.kept"], Vec::<String>::new());
        assert_eq!(waits["role.kept"], ["queue.kept"]);
        assert_eq!(waits["function.old"], ["role.kept", "queue.kept"]);
        assert_eq!(
            waits["role.old"],
            ["role.kept", "queue.kept", "function.old"]
        );
        assert_eq!(waits["policy.old"], ["role.kept", "queue.kept", "role.old"]);
    }
}
