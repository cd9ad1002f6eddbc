//! The command line over environments: `--env`, `--all-envs` and `--shard`, loading the spec
//! for each chosen environment, and the commands that run over several at once (`plan`,
//! `show`, `apply FILE`).

use clap::Args;

use super::args::DEFAULT_SPEC;
use super::ui::{TerminalApply, Ui};
use super::{load_env, show, ApplyArgs, AwsArgs, Failure, Format, PlanArgs, ShowArgs, SpecArgs};
use crate::access::{self, GrantChange};
use crate::aws::{Aws, ConnectOptions};
use crate::plan::{Plan, PlanOptions};
use crate::render::envs::{self as view, EnvFailure, EnvPlan};
use crate::saved::SavedPlan;
use crate::spec::env::{EnvChoice, Environment, Shard};
use crate::spec::Spec;
use crate::workflow::envs::{each_tolerating, plan_each, EnvOutcome};
use crate::workflow::{apply_stack, check_saved_inputs, unloadable_saved_spec, ApplyRequest};

#[derive(Debug, Default, Args)]
pub struct EnvArgs {
    /// Work on this environment of the spec, an [env.NAME] (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub names: Vec<String>,
    /// Work on every environment the spec declares
    #[arg(long, conflicts_with = "names")]
    pub all_envs: bool,
    /// Take the I-th of N slices of the chosen environments, for a CI matrix (1/3, 2/3, 3/3)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

impl EnvArgs {
    fn choice(&self, default_all: bool) -> EnvChoice {
        EnvChoice {
            names: self.names.clone(),
            all: self.all_envs,
            shard: self.shard,
            default_all,
        }
    }
}

/// The chosen environments, in name order (`[None]` for a spec without environments).
fn selection(args: &SpecArgs, default_all: bool) -> Result<Vec<Option<String>>, Failure> {
    crate::spec::env::select(&args.spec, &args.envs.choice(default_all)).map_err(Failure::Spec)
}

/// The environments the command line chose, when none means the spec's only stack: `[None]`
/// for a spec without environments.
pub fn chosen(args: &SpecArgs) -> Result<Vec<Option<String>>, Failure> {
    selection(args, false)
}

/// The spec loaded for the one environment chosen.
/// Its warnings are shown on stderr if `warn`.
pub fn load_one(args: &SpecArgs, ui: &Ui, warn: bool) -> Result<Spec, Failure> {
    load_chosen(args, chosen(args)?, ui, warn)
}

/// [`load_one`], with the choice already read by [`chosen`]; refused unless it is one.
pub fn load_chosen(
    args: &SpecArgs,
    mut chosen: Vec<Option<String>>,
    ui: &Ui,
    warn: bool,
) -> Result<Spec, Failure> {
    match chosen.len() {
        1 => load_env(args, chosen.pop().flatten(), ui, warn),
        0 => Err(Failure::Refused {
            message: "this shard holds no environment".into(),
            hint: Some("there are fewer environments than shards".into()),
        }),
        n => Err(Failure::Refused {
            message: format!("this command works on one environment at a time, and {n} are chosen"),
            hint: Some("pass one --env NAME; `plinth plan` takes several, and `plinth apply FILE` applies their saved plan".into()),
        }),
    }
}

/// The spec loaded for every chosen environment (every one the spec declares, when none is
/// chosen and `default_all`). Their warnings are shown on stderr if `warn`.
pub fn load_all(
    args: &SpecArgs,
    ui: &Ui,
    default_all: bool,
    warn: bool,
) -> Result<Vec<Spec>, Failure> {
    let specs = selection(args, default_all)?
        .into_iter()
        .map(|env| load_env(args, env, ui, warn))
        .collect::<Result<Vec<Spec>, Failure>>()?;
    let shared = crate::spec::env::names_shared_across(&specs);
    if shared.has_errors() {
        return Err(Failure::Spec(shared));
    }
    Ok(specs)
}

/// The connection of `spec`'s environment: the command line's options, and the environment's
/// own where the command line says nothing.
pub fn connect_options(aws: &AwsArgs, env: Option<&Environment>) -> ConnectOptions {
    let mut options = aws.options();
    let Some(env) = env else {
        return options;
    };
    options.region = options.region.or_else(|| env.region.clone());
    options.profile = options.profile.or_else(|| env.profile.clone());
    if options.assume_role_arn.is_none() {
        options.assume_role_arn = env.assume_role_arn.clone();
        if let Some(name) = &env.role_session_name {
            options.role_session_name = name.clone();
        }
        options.external_id = env.external_id.clone();
    }
    options
}

pub async fn connect(aws: &AwsArgs, spec: &Spec) -> Result<Aws, Failure> {
    Ok(Aws::connect(&connect_options(aws, spec.stack.env.as_ref())).await?)
}

/// `plinth plan` over several environments: planned concurrently, shown as one result.
pub async fn plan_many(args: &PlanArgs, ui: &Ui) -> Result<u8, Failure> {
    if args.live_snapshot.is_some() {
        return Err(Failure::Refused {
            message: "--live-snapshot plans one environment".into(),
            hint: Some("pass one --env NAME".into()),
        });
    }
    // A text plan on the terminal shows each environment's warnings itself; those of an
    // environment that could not be planned are shown with its error.
    let plan_shows_warnings = args.render.format == Format::Text && ui.one_screen;
    let specs = load_all(&args.spec, ui, false, !plan_shows_warnings)?;
    if specs.is_empty() {
        // A CI matrix may have more runners than environments: the runner left without one
        // still hands on an (empty) plan and document, so the steps after it need no case of
        // their own.
        ui.err("No environment in this shard: nothing to plan.\n");
        if args.render.format != Format::Text {
            ui.out(&render(&[], &[], &args.render, ui));
        }
        if let Some(path) = &args.out {
            write_saved(&SavedPlan::new_empty(&args.spec.spec), path)?;
        }
        return Ok(0);
    }
    let stacks: Vec<(&Spec, ConnectOptions)> = specs
        .iter()
        .map(|s| (s, connect_options(&args.aws, s.stack.env.as_ref())))
        .collect();
    let options = PlanOptions {
        destroy: args.destroy,
        refresh_only: args.refresh_only,
    };
    let results = plan_each(&stacks, options).await;
    let mut planned: Vec<(&Spec, Plan)> = Vec::new();
    let mut failed = Vec::new();
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(plan) => planned.push((spec, plan)),
            Err(e) => failed.push((spec, e)),
        }
    }
    // Two environments may name one existing resource differently (a key by its alias and by
    // its id): only now that AWS has answered can their statements be compared.
    let read: Vec<&Spec> = planned.iter().map(|(spec, _)| *spec).collect();
    let shared = crate::spec::env::sids_shared_across(&read, |spec, resource| {
        let (_, plan) = planned.iter().find(|(s, _)| std::ptr::eq(*s, spec))?;
        let change = plan
            .changes
            .iter()
            .find(|c| c.address == resource.address)?;
        Some(change.physical_id.clone())
    });
    if shared.has_errors() {
        return Err(Failure::Planned(shared));
    }
    for (spec, e) in &failed {
        ui.err(&format!("environment {}:\n", env_name(spec)));
        if plan_shows_warnings {
            super::show_warnings(spec, ui);
        }
        ui.report(e);
    }
    let access: Vec<Vec<GrantChange>> = planned.iter().map(|(_, p)| access::changes(p)).collect();
    let plans: Vec<EnvPlan<'_>> = planned
        .iter()
        .zip(&access)
        .map(|((spec, plan), access)| EnvPlan {
            name: spec.stack.env.as_ref().map(|e| e.name.as_str()),
            plan,
            access,
        })
        .collect();
    // An environment that could not be planned is listed too, as not planned: a document
    // of the others alone would read as a plan of fewer environments.
    let not_planned: Vec<EnvFailure> = failed
        .iter()
        .map(|(spec, e)| EnvFailure {
            name: env_name(spec),
            account_id: spec
                .stack
                .env
                .as_ref()
                .map(|env| env.account_id.clone())
                .unwrap_or_else(|| "-".to_string()),
            region: spec
                .stack
                .env
                .as_ref()
                .and_then(|env| env.region.clone())
                .or_else(|| args.aws.region.clone())
                .unwrap_or_else(|| "-".to_string()),
            error: crate::model::without_secrets(&e.to_string())
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        })
        .collect();
    if !plans.is_empty() || !not_planned.is_empty() {
        ui.out(&render(&plans, &not_planned, &args.render, ui));
    }
    if !failed.is_empty() {
        return Err(Failure::Refused {
            message: format!(
                "{} of {} environments could not be planned: {}",
                failed.len(),
                specs.len(),
                failed
                    .iter()
                    .map(|(spec, _)| env_name(spec))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(if args.out.is_some() {
                "the errors above say why; no plan file was written".into()
            } else {
                "the errors above say why".into()
            }),
        });
    }
    if let Some(path) = &args.out {
        let pairs: Vec<(&Spec, &Plan)> = planned.iter().map(|(s, p)| (*s, p)).collect();
        write_saved(
            &SavedPlan::new(
                &pairs,
                &args.spec.vars,
                &crate::spec::env::vars_from_environment(),
                &args.spec.var_files,
            ),
            path,
        )?;
    }
    Ok(match args.detailed_exitcode {
        false => 0,
        true => plans
            .iter()
            .map(|p| access::detailed_exit_code(p.plan, args.fail_on.threshold(), p.access))
            .max()
            .unwrap_or(0),
    })
}

fn write_saved(saved: &SavedPlan, path: &std::path::Path) -> Result<(), Failure> {
    saved.write(path).map_err(|e| Failure::Refused {
        message: format!("cannot write the plan file `{}`: {e}", path.display()),
        hint: None,
    })
}

fn env_name(spec: &Spec) -> String {
    spec.stack
        .env
        .as_ref()
        .map_or_else(|| spec.stack.name.clone(), |e| e.name.clone())
}

fn render(
    plans: &[EnvPlan<'_>],
    failed: &[EnvFailure],
    args: &super::RenderArgs,
    ui: &Ui,
) -> String {
    match args.format {
        Format::Text => view::text(
            plans,
            failed,
            crate::render::text::TextOptions {
                color: ui.color_stdout,
            },
        ),
        Format::Json => view::json(plans, failed),
        Format::Markdown => view::markdown(
            plans,
            failed,
            crate::render::markdown::MarkdownOptions {
                budget: args.markdown_budget,
            },
        ),
    }
}

/// `plinth show FILE` (one plan as before; the plans of several environments together) and
/// `plinth show --merge A B ...`: the plans of several files (one per CI runner) as one
/// result. An environment in two files is refused: the runners' shards should not overlap.
pub fn show_plans(files: &[&SavedPlan], args: &ShowArgs, ui: &Ui) -> Result<u8, Failure> {
    let environments: Vec<_> = files.iter().flat_map(|f| f.environments.iter()).collect();
    let access: Vec<Vec<GrantChange>> = environments
        .iter()
        .map(|e| access::changes(&e.plan))
        .collect();
    let plans: Vec<EnvPlan<'_>> = environments
        .iter()
        .zip(&access)
        .map(|(e, access)| EnvPlan {
            name: e.env.as_deref(),
            plan: &e.plan,
            access,
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for p in &plans {
        if !seen.insert((p.name, &p.plan.stack, &p.plan.account.account_id)) {
            return Err(Failure::Refused {
                message: format!(
                    "environment {} (stack `{}`) is in more than one of the plan files",
                    p.label(),
                    p.plan.stack
                ),
                hint: Some(
                    "merge the files of one run's shards, each planned with its own --shard I/N"
                        .into(),
                ),
            });
        }
    }
    match plans.as_slice() {
        [one] if args.merge.is_empty() => ui.out(&show(one.plan, one.access, &args.render, ui)),
        _ => ui.out(&render(&plans, &[], &args.render, ui)),
    }
    Ok(0)
}

/// `plinth apply FILE`: every environment of the saved plan, `--env-parallelism` at once, each
/// under its own lock and after its own checks; no new one starts once more than
/// `--max-failures` have failed. The exit code is the worst of them.
pub async fn apply_saved(saved: SavedPlan, args: &ApplyArgs, ui: &Ui) -> Result<u8, Failure> {
    let chosen = choose_saved(&saved, &args.spec)?;
    // The spec's and var files' paths are the plan's directory's: apply from there.
    if let Some(directory) = saved_directory(&saved) {
        let here = std::env::current_dir().ok();
        if here.as_deref() != Some(directory.as_path()) {
            std::env::set_current_dir(&directory).map_err(|e| Failure::Refused {
                message: format!(
                    "the saved plan was made in {}, which cannot be entered: {e}",
                    directory.display()
                ),
                hint: Some("plan again from where the spec is".into()),
            })?;
            ui.err(&format!(
                "Applying in {}, where the plan was made.\n",
                directory.display()
            ));
        }
    }
    if !std::path::Path::new(&saved.spec).is_file() {
        return Err(Failure::Refused {
            message: format!(
                "the saved plan's spec `{}` is not found from {}",
                saved.spec,
                std::env::current_dir().map_or_else(|_| "here".into(), |d| d.display().to_string())
            ),
            hint: Some("apply a saved plan from the directory `plinth plan` ran in".into()),
        });
    }
    if chosen.is_empty() {
        ui.err("No environment of the saved plan is chosen: nothing to apply.\n");
        return Ok(0);
    }
    let spec_args = SpecArgs {
        spec: std::path::PathBuf::from(&saved.spec),
        vars: args.spec.vars.clone(),
        var_files: saved
            .var_files
            .iter()
            .map(std::path::PathBuf::from)
            .collect(),
        envs: EnvArgs {
            names: Vec::new(),
            all_envs: false,
            shard: None,
        },
    };
    let mut specs = Vec::new();
    for env in &chosen {
        let spec = load_env(&spec_args, env.env.clone(), ui, true)
            .map_err(|e| unloadable_saved_spec(&saved, e))?;
        specs.push((spec, env.clone()));
    }
    check_saved_inputs(&saved, &specs.iter().map(|(s, _)| s).collect::<Vec<_>>())?;
    let single = specs.len() == 1;
    let stop = super::signals::stop_on_signals();
    let outcomes = each_tolerating(
        specs.iter().collect(),
        args.env_parallelism,
        args.max_failures,
        &stop,
        crate::workflow::ApplyOutcome::succeeded,
        |(spec, env)| {
            let view = TerminalApply {
                ui,
                auto_approve: args.auto_approve,
                plan_shown: Default::default(),
                env: (!single).then(|| env_name(spec)),
                rerun: super::ui::rerun_args(spec),
            };
            let stop = stop.clone();
            let span = crate::workflow::envs::env_span(spec);
            let apply = async move {
                let view = &view;
                if !single {
                    ui.err(&format!(
                        "--- applying environment {} ---\n",
                        env_name(spec)
                    ));
                }
                // A saved plan is bound to its region: it is the one to use when nothing
                // else names one (an apply job without AWS_REGION).
                let mut options = connect_options(&args.aws, spec.stack.env.as_ref());
                options.fallback_region = Some(env.plan.account.region.clone());
                let aws = crate::aws::Aws::connect(&options).await?;
                let request = ApplyRequest {
                    saved: Some(env.clone()),
                    destroy: env.plan.destroy,
                    parallelism: args.parallelism,
                    stop,
                };
                apply_stack(&aws, spec, &request, view).await
            };
            tracing::Instrument::instrument(apply, span)
        },
    )
    .await;
    if single {
        let outcome = outcomes.into_iter().next();
        return match outcome {
            Some(EnvOutcome::Done(outcome)) => {
                let outputs = outcome.outputs();
                if !outputs.is_empty() {
                    ui.err("\nOutputs:\n");
                    ui.out(&super::format_outputs(&outputs, super::OutputFormat::Env));
                }
                Ok(if outcome.succeeded() { 0 } else { 1 })
            }
            Some(EnvOutcome::Failed(e)) => Err(e),
            _ => Ok(1),
        };
    }
    let mut table = String::from("\nenvironment  account       status\n");
    let mut worst = 0;
    for ((spec, saved), outcome) in specs.iter().zip(&outcomes) {
        let status = match outcome {
            EnvOutcome::Done(o) if o.succeeded() => "applied".to_string(),
            EnvOutcome::Done(o) if o.report.as_ref().is_some_and(|r| r.interrupted()) => {
                worst = 1;
                "stopped (some steps not started)".to_string()
            }
            EnvOutcome::Done(_) => {
                worst = 1;
                "failed (some steps)".to_string()
            }
            EnvOutcome::Failed(e) => {
                worst = 1;
                ui.err(&format!("environment {}:\n", env_name(spec)));
                ui.report(e);
                format!("failed: {}", first_line(&e.to_string()))
            }
            EnvOutcome::Skipped => {
                worst = 1;
                "not started (--max-failures reached)".to_string()
            }
            EnvOutcome::Stopped => {
                worst = 1;
                "not started (the apply was stopped)".to_string()
            }
        };
        let account = &saved.plan.account.account_id;
        table.push_str(&format!(
            "{:<11}  {account:<12}  {status}\n",
            env_name(spec)
        ));
    }
    ui.err(&table);
    // Each environment's outputs, after its name as a comment: the lines stay an env file.
    for (spec, outcome) in specs.iter().map(|(spec, _)| spec).zip(&outcomes) {
        let EnvOutcome::Done(outcome) = outcome else {
            continue;
        };
        let outputs = outcome.outputs();
        if !outputs.is_empty() {
            ui.out(&format!(
                "# environment {}\n{}",
                env_name(spec),
                super::format_outputs(&outputs, super::OutputFormat::Env)
            ));
        }
    }
    Ok(worst)
}

/// The environments of a saved plan that `apply FILE` applies: all of them, or those named by
/// `--env` (each must be in the file), sliced by `--shard`. A saved plan names its own spec and
/// var files, so `-f` and `--var-file` naming others are refused rather than ignored.
fn choose_saved(
    saved: &SavedPlan,
    args: &SpecArgs,
) -> Result<Vec<crate::saved::SavedEnvironment>, Failure> {
    let given = args.spec.as_path();
    if given != std::path::Path::new(DEFAULT_SPEC)
        && !same_file(given, planned_path(saved, &saved.spec))
    {
        return Err(Failure::Refused {
            message: format!(
                "-f {}: this saved plan was made from `{}`",
                given.display(),
                saved.spec
            ),
            hint: Some("leave out -f: a saved plan applies the spec it was made from".into()),
        });
    }
    let planned: Vec<&str> = saved.var_files.iter().map(String::as_str).collect();
    if let Some(other) = args
        .var_files
        .iter()
        .find(|f| !planned.iter().any(|p| same_file(f, planned_path(saved, p))))
    {
        return Err(Failure::Refused {
            message: format!(
                "--var-file {}: this saved plan was not made with it",
                other.display()
            ),
            hint: Some(
                "leave out --var-file: a saved plan reads again the var files it was made with"
                    .into(),
            ),
        });
    }
    let names: Vec<&str> = saved
        .environments
        .iter()
        .filter_map(|e| e.env.as_deref())
        .collect();
    for asked in &args.envs.names {
        if !names.contains(&asked.as_str()) {
            return Err(Failure::Refused {
                message: format!("--env {asked}: the saved plan holds no environment `{asked}`"),
                hint: Some(match names.as_slice() {
                    [] => "it was made from a spec without environments: leave out --env".into(),
                    _ => format!("it holds: {}", names.join(", ")),
                }),
            });
        }
    }
    let chosen: Vec<_> = saved
        .environments
        .iter()
        .filter(|e| {
            args.envs.names.is_empty()
                || e.env.as_ref().is_some_and(|n| args.envs.names.contains(n))
        })
        .cloned()
        .collect();
    Ok(match args.envs.shard {
        Some(shard) => shard.slice(&chosen),
        None => chosen,
    })
}

/// The directory a saved plan was made in, if it recorded one that still exists.
fn saved_directory(saved: &SavedPlan) -> Option<std::path::PathBuf> {
    let directory = std::path::PathBuf::from(saved.directory.as_ref()?);
    directory.is_dir().then_some(directory)
}

/// A path a saved plan recorded, as seen from here: relative paths are its directory's.
fn planned_path(saved: &SavedPlan, path: &str) -> std::path::PathBuf {
    match saved_directory(saved) {
        Some(directory) => directory.join(path),
        None => std::path::PathBuf::from(path),
    }
}

/// Whether two spellings of a path name one file (compared as written when either is missing).
fn same_file(a: &std::path::Path, b: impl AsRef<std::path::Path>) -> bool {
    let b = b.as_ref();
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The first line of a message, for a table cell; a line that only introduces a list (ends
/// with `:`) takes the list's first item with it.
fn first_line(s: &str) -> String {
    let mut lines = s.lines().map(str::trim);
    let first = lines.next().unwrap_or_default();
    match (first.strip_suffix(':'), lines.next()) {
        (Some(intro), Some(item)) => format!("{intro}: {item}"),
        _ => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    /// A table cell holds a message's first line, with the first item of a list it introduces.
    #[test]
    fn a_cell_holds_the_first_line_and_the_first_item_it_introduces() {
        assert_eq!(
            first_line("AccessDenied on iam:CreateRole\nmore detail"),
            "AccessDenied on iam:CreateRole"
        );
        assert_eq!(
            first_line(
                "the saved plan no longer matches the account:\n  role.a changed\n  role.b changed"
            ),
            "the saved plan no longer matches the account: role.a changed"
        );
        assert_eq!(first_line("ends with a colon:"), "ends with a colon:");
        assert_eq!(first_line(""), "");
    }
}
