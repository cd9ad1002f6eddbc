//! The command line: each command a few lines of glue over the library, and its exit code.
//! The flags are in `args.rs`, the terminal in `ui.rs`. Data goes to stdout, progress and
//! diagnostics to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;

use crate::lock;
use crate::plan::{Plan, PlanOptions};
use crate::render;
use crate::saved::SavedPlan;
use crate::spec::{self, LoadOptions, Spec};
use crate::workflow::{
    apply_stack, open_saved_plan, plan_offline, plan_stack, read_live, read_snapshot, save_plan,
    saved_plan_refusal, stack_outputs, ApplyRequest, WorkflowError,
};

mod args;
mod envs;
mod import;
mod signals;
mod ui;

use args::{malformed_var, parse_var};
pub use args::{
    AccessArgs, ApplyArgs, AwsArgs, Cli, ColorChoice, Command, FailOn, FmtArgs, Format, GraphArgs,
    GraphFormatArg, OutputFormat, OutputsArgs, PermissionsArgs, PlanArgs, PolicyFormat, RenderArgs,
    ShowArgs, SnapshotArgs, SpecArgs, UnlockArgs,
};

use ui::{format_outputs, TerminalApply, Ui};

/// What went wrong, for the one place that prints errors and picks the exit code.
type Failure = WorkflowError;

/// Parses the command line. clap repeats a rejected value in its error, and a `--var` value
/// may be a secret, so that error is written here from parse_var's message alone. Usage
/// errors exit 1, as every other error does: 2 means "changes" with `--detailed-exitcode`.
fn parse_arguments() -> Result<Cli, u8> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let error = match Cli::try_parse() {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    if !error.use_stderr() {
        // --help and --version.
        let _ = error.print();
        return Err(0);
    }
    let about_var = matches!(
        error.get(ContextKind::InvalidArg),
        Some(ContextValue::String(arg)) if arg.starts_with("--var")
    );
    if let Some((written, long)) = single_dash_long_option() {
        // Terraform's options take one dash (`-out=FILE`); only the option's name is shown,
        // never what follows `=`, which may be a secret.
        let _ = writeln!(
            std::io::stderr(),
            "error: unexpected argument '{written}'\nhint: plinth's options take two dashes: --{long}"
        );
    } else if error.kind() == ErrorKind::ValueValidation && about_var {
        let reason = std::error::Error::source(&error)
            .map_or_else(|| malformed_var(""), ToString::to_string);
        let _ = writeln!(
            std::io::stderr(),
            "error: {reason}\nhint: write --var NAME=VALUE, e.g. --var 'api_token=...'"
        );
    } else {
        let _ = error.print();
    }
    Err(1)
}

/// The first argument written with one dash that is one of plinth's long options with two
/// (`-out` for `--out`, as Terraform spells its options): what was written (up to `=`), and
/// the option.
fn single_dash_long_option() -> Option<(String, String)> {
    fn longs(command: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            command
                .get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
        for sub in command.get_subcommands() {
            longs(sub, out);
        }
    }
    let mut known = Vec::new();
    longs(&<Cli as clap::CommandFactory>::command(), &mut known);
    std::env::args().skip(1).find_map(|arg| {
        let rest = arg.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
        let name = rest.split('=').next().unwrap_or(rest);
        (name.len() > 1 && known.iter().any(|k| k == name))
            .then(|| (format!("-{name}"), name.to_string()))
    })
}

/// Runs the command line and returns the process's exit code, its output flushed: the binary
/// ends the process without the C library's exit handlers (`memory::exit`).
pub fn main() -> u8 {
    let code = command_line();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}

fn command_line() -> u8 {
    let cli = match parse_arguments() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_logging(cli.verbose);
    let ui = Ui::new(cli.color);
    // One thread: plinth's concurrency is requests in flight, all driven from the one future
    // `run` returns (it spawns no tasks but an apply's signal listener). A multi-threaded runtime ran that future on this
    // thread anyway and the connections on its workers, and paid for the hand-offs between
    // them: ten times the context switches and a third more processor time per plan.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ui.err(&format!("error: cannot start the async runtime: {e}\n"));
            return 1;
        }
    };
    match runtime.block_on(run(cli.command, &ui)) {
        Ok(code) => code,
        Err(failure) => {
            ui.report(&failure);
            1
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // plinth's own warnings (retries among them); the SDK's warnings print its errors'
        // Debug form, so only its errors show.
        0 => "error,plinth=warn",
        1 => "plinth=debug,info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .try_init();
}

/// Standard error for the log, with every secret the process has seen hidden: a trace of the
/// SDK prints the body of an AWS error, which may quote a secret the request sent (Lambda's
/// refusal of a large environment does).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::model::without_secrets(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether `command` talks to AWS (or may: `graph --plan`, `unlock`).
fn connects(command: &Command) -> bool {
    match command {
        Command::Plan(args) => args.live_snapshot.is_none(),
        Command::Graph(args) => args.plan,
        Command::Apply(_)
        | Command::Destroy(_)
        | Command::Snapshot(_)
        | Command::Outputs(_)
        | Command::Unlock(_)
        | Command::Access(_)
        | Command::Import(_) => true,
        Command::Validate(_)
        | Command::Show(_)
        | Command::Schema
        | Command::Permissions(_)
        | Command::Fmt(_)
        | Command::Completions { .. } => false,
    }
}

async fn run(command: Command, ui: &Ui) -> Result<u8, Failure> {
    // The SDK's first connection loads the system's trust roots (every certificate of the
    // bundle and of its directory): a command that will connect loads them on a second core
    // while it reads the spec and the AWS configuration, 2 to 3 ms off its first request
    // (docs/benchmarks.md, section 2). A spec with errors exits without waiting for it.
    if connects(&command) {
        let _ = std::thread::Builder::new()
            .name("trust-roots".into())
            .spawn(crate::aws::warm_trust_roots);
    }
    match command {
        Command::Validate(args) => {
            for spec in envs::load_all(&args, ui, true, true)? {
                let env = spec.stack.env.as_ref();
                ui.out(&format!(
                    "{}: stack `{}`{} is valid ({} resource{}).\n",
                    spec.file.name,
                    spec.stack.name,
                    env.map_or(String::new(), |e| format!(" (environment `{}`)", e.name)),
                    spec.resources.len(),
                    if spec.resources.len() == 1 { "" } else { "s" }
                ));
                left_to_exit(spec);
            }
            Ok(0)
        }
        Command::Plan(args) => {
            // An offline plan's snapshot does not depend on the spec: it is read and parsed on
            // a thread of its own from the start, while the spec is read for its environments
            // and loads (a tenth of a 10,000-resource offline plan, docs/benchmarks.md section
            // 3). A spec with errors is still reported first.
            let snapshot = args.live_snapshot.clone().map(|file| {
                std::thread::Builder::new()
                    .name("snapshot".into())
                    .spawn(move || read_snapshot(&file))
            });
            // The spec is read for its environments once: a large spec takes milliseconds.
            let chosen = envs::chosen(&args.spec)?;
            if chosen.len() != 1 {
                return envs::plan_many(&args, ui).await;
            }
            // A text plan on the terminal shows the spec's warnings itself, each lint beside
            // its resource; they are shown here too only if no plan comes of it.
            let plan_shows_warnings = args.render.format == Format::Text && ui.one_screen;
            let spec = envs::load_chosen(&args.spec, chosen, ui, !plan_shows_warnings)?;
            let options = PlanOptions {
                destroy: args.destroy,
                refresh_only: args.refresh_only,
            };
            let planned = async {
                match snapshot {
                    Some(reading) => {
                        let snapshot = reading
                            .map_err(|e| Failure::Refused {
                                message: format!("cannot start a thread to read the snapshot: {e}"),
                                hint: None,
                            })?
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                        let plan = plan_offline(&spec, &snapshot, options)?;
                        // Freeing it is a tenth of the work left; the process's exit frees it
                        // at once.
                        left_to_exit(snapshot);
                        Ok::<_, Failure>(plan)
                    }
                    None => {
                        let aws = envs::connect(&args.aws, &spec).await?;
                        Ok(plan_stack(&aws, &spec, options).await?)
                    }
                }
            };
            let plan = match planned.await {
                Ok(plan) => plan,
                Err(failure) => {
                    if plan_shows_warnings {
                        show_warnings(&spec, ui);
                    }
                    return Err(failure);
                }
            };
            if let Some(path) = &args.out {
                save_plan(path, &spec, &plan, &args.spec.vars, &args.spec.var_files)?;
            }
            let access = crate::access::changes(&plan);
            ui.out(&show(&plan, &access, &args.render, ui));
            let code = match args.detailed_exitcode {
                false => 0,
                true => crate::access::detailed_exit_code(&plan, args.fail_on.threshold(), &access),
            };
            left_to_exit((spec, plan, access));
            Ok(code)
        }
        Command::Access(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = envs::connect(&args.aws, &spec).await?;
            let plan = crate::workflow::plan_for_access(&aws, &spec).await?;
            let stack = crate::access::Stack::from_plan(&plan, crate::access::Side::Live);
            let grants = crate::access::grants(&stack);
            ui.out(&match args.format {
                Format::Text => render::access::grants_text(&grants),
                Format::Markdown => render::access::grants_markdown(&plan.stack, &grants),
                Format::Json => {
                    let document = serde_json::json!({ "stack": plan.stack, "account": plan.account.account_id, "grants": grants });
                    format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default())
                }
            });
            Ok(0)
        }
        Command::Snapshot(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = envs::connect(&args.aws, &spec).await?;
            let snapshot = read_live(&aws, &spec).await?;
            let json = serde_json::to_string_pretty(&snapshot).map_err(|e| Failure::Refused {
                message: e.to_string(),
                hint: None,
            })?;
            ui.out(&format!("{json}\n"));
            Ok(0)
        }
        Command::Show(args) => {
            let files: Vec<SavedPlan> = args
                .plan
                .iter()
                .chain(&args.merge)
                .map(|path| SavedPlan::read(path).map_err(saved_plan_refusal))
                .collect::<Result<_, _>>()?;
            envs::show_plans(&files.iter().collect::<Vec<_>>(), &args, ui)
        }
        Command::Outputs(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = envs::connect(&args.aws, &spec).await?;
            let plan = plan_stack(&aws, &spec, PlanOptions::default()).await?;
            let values = stack_outputs(&spec, &plan)?;
            ui.out(&format_outputs(&values, args.format));
            Ok(0)
        }
        Command::Fmt(args) => fmt(&args, ui),
        Command::Import(args) => import::run(args, ui).await,
        Command::Graph(args) => {
            let spec = load(&args.spec, ui)?;
            let plan = if args.plan {
                let aws = envs::connect(&args.aws, &spec).await?;
                Some(plan_stack(&aws, &spec, PlanOptions::default()).await?)
            } else {
                None
            };
            let format = match args.format {
                GraphFormatArg::Dot => crate::graph_view::GraphFormat::Dot,
                GraphFormatArg::Mermaid => crate::graph_view::GraphFormat::Mermaid,
            };
            ui.out(&crate::graph_view::render(&spec, plan.as_ref(), format));
            Ok(0)
        }
        Command::Schema => {
            ui.out(&crate::spec::schema::json_schema());
            Ok(0)
        }
        Command::Unlock(args) => {
            let spec = load(&args.spec, ui)?;
            let Some(config) = &spec.stack.lock else {
                return Err(Failure::Refused {
                    message: format!("stack `{}` has no lock configured", spec.stack.name),
                    hint: Some("configure one with [stack] lock = { bucket = \"...\" }".into()),
                });
            };
            let aws = envs::connect(&args.aws, &spec).await?;
            crate::workflow::guard::check_account(&aws, &spec).await?;
            match lock::force_unlock(&aws, config, args.force).await? {
                lock::Unlocked::HolderRunning(holder) => {
                    return Err(Failure::Refused {
                        message: format!(
                            "stack `{}` is locked by a process still running on this machine: {}",
                            spec.stack.name,
                            lock::describe(&Some(holder))
                        ),
                        hint: Some(
                            "wait for it to finish; pass --force to remove the lock all the same"
                                .into(),
                        ),
                    });
                }
                lock::Unlocked::Removed(Some(holder)) => ui.err(&format!(
                    "Removed the lock of stack `{}` held by {} ({} pid {} on {}).\n",
                    spec.stack.name, holder.holder, holder.operation, holder.pid, holder.host
                )),
                lock::Unlocked::Removed(None) => ui.err(&format!(
                    "Removed the lock of stack `{}`, which named no holder.\n",
                    spec.stack.name
                )),
                lock::Unlocked::NotLocked => {
                    ui.err(&format!("Stack `{}` was not locked.\n", spec.stack.name))
                }
            }
            Ok(0)
        }
        Command::Permissions(args) => {
            let spec = load(&args.spec, ui)?;
            let defaults = crate::permissions::Target::default();
            let target = crate::permissions::Target {
                partition: args.partition,
                account_id: args.account_id.unwrap_or(defaults.account_id),
                region: args.region.unwrap_or(defaults.region),
            };
            let policy = crate::permissions::policy(&spec, &target);
            ui.out(&ui::format_permissions(&policy, args.format, args.explain));
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "plinth",
                &mut out,
            );
            ui.out(&String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Apply(args) => apply_command(args, false, ui).await,
        Command::Destroy(args) => apply_command(args, true, ui).await,
    }
}

/// `plinth fmt`: formats in place, or with `--check` prints the diffs and returns 1 if any.
fn fmt(args: &FmtArgs, ui: &Ui) -> Result<u8, Failure> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("plinth.toml")]
    } else {
        args.files.clone()
    };
    let (changed, failed) = crate::fmt::format_files(&files, args.check);
    for (path, diff) in &changed {
        if args.check {
            ui.out(diff);
        } else {
            ui.err(&format!("formatted {}\n", path.display()));
        }
    }
    // Every file that could not be formatted is reported; the last is the command's failure.
    let mut failures: Vec<Failure> = (failed.into_iter())
        .map(|e| Failure::Refused {
            message: e.to_string(),
            hint: Some(if e.io {
                "check the path: `plinth fmt` takes spec files (plinth.toml in the current directory by default)".into()
            } else {
                "fmt formats only specs that are valid TOML; `plinth validate` says more".into()
            }),
        })
        .collect();
    if let Some(last) = failures.pop() {
        for failure in &failures {
            ui.report(failure);
        }
        return Err(last);
    }
    Ok(u8::from(args.check && !changed.is_empty()))
}

/// Leaves a command's data, which holds nothing but memory, to the end of the process, which
/// follows the command: the system takes a process's memory back at once, where freeing a
/// 10,000-resource spec and its plan value by value touched every page of it again (1.7 % of
/// an offline plan's instructions, and more of its time).
fn left_to_exit<T>(data: T) {
    std::mem::forget(data);
}

/// Loads the spec for the one environment chosen (or the spec without environments).
fn load(args: &SpecArgs, ui: &Ui) -> Result<Spec, Failure> {
    envs::load_one(args, ui, true)
}

/// Loads the spec for environment `env`, showing its warnings on stderr if `warn`.
fn load_env(args: &SpecArgs, env: Option<String>, ui: &Ui, warn: bool) -> Result<Spec, Failure> {
    let spec = spec::load(
        &args.spec,
        &LoadOptions {
            var_overrides: args.vars.clone(),
            var_files: args.var_files.clone(),
            env_vars: spec::env::vars_from_environment(),
            env,
        },
    )
    .map_err(Failure::Spec)?;
    if warn {
        show_warnings(&spec, ui);
    }
    Ok(spec)
}

/// The warnings of loading `spec`, on stderr.
fn show_warnings(spec: &Spec, ui: &Ui) {
    if !spec.warnings.0.is_empty() {
        ui.err(&spec.warnings.render(ui.color_stderr));
        ui.err("\n");
    }
}

/// The plan in the chosen format, with its access changes (computed once by the caller, which
/// also gates the exit code on them).
fn show(plan: &Plan, access: &[crate::access::GrantChange], args: &RenderArgs, ui: &Ui) -> String {
    match args.format {
        Format::Text => render::text::render_with(
            plan,
            access,
            render::text::TextOptions {
                color: ui.color_stdout,
            },
        ),
        Format::Json => render::json::render_with(plan, access),
        Format::Markdown => render::markdown::render_with(
            plan,
            access,
            render::markdown::MarkdownOptions {
                budget: args.markdown_budget,
            },
        ),
    }
}

async fn apply_command(args: ApplyArgs, destroy: bool, ui: &Ui) -> Result<u8, Failure> {
    if let Some(path) = &args.plan {
        let saved = open_saved_plan(path, &args.spec.vars)?;
        // `destroy FILE` promises deletion only: a plan that creates or changes anything
        // is applied with `apply FILE`, where that is what the reader expects.
        if destroy && saved.plans().any(|plan| !plan.destroy) {
            return Err(WorkflowError::Refused {
                message: format!(
                    "{} is not a destroy plan, so `plinth destroy` applied none of it",
                    path.display()
                ),
                hint: Some(format!(
                    "apply it with `plinth apply {}`, or make a destroy plan with `plinth plan --destroy --out FILE`",
                    path.display()
                )),
            });
        }
        // `apply FILE` applies a destroy plan as it was reviewed, but a job that always
        // applies its plan file says, before anything, that this one deletes the stack.
        if !destroy && saved.plans().any(|plan| plan.destroy) {
            ui.err(&format!(
                "warning: {} is a destroy plan (`plinth plan --destroy`): applying it deletes everything the stack owns\n",
                path.display()
            ));
        }
        return envs::apply_saved(saved, &args, ui).await;
    }
    // On the terminal the plan shown before applying carries the spec's warnings; they are
    // shown on their own only if the apply stops before its plan is shown.
    let plan_shows_warnings = ui.one_screen;
    let spec = envs::load_one(&args.spec, ui, !plan_shows_warnings)?;
    let request = ApplyRequest {
        saved: None,
        destroy,
        parallelism: args.parallelism,
        stop: signals::stop_on_signals(),
    };
    let view = TerminalApply {
        ui,
        auto_approve: args.auto_approve,
        plan_shown: Default::default(),
        env: None,
        rerun: ui::rerun_args(&spec),
    };
    let applied = async {
        let aws = envs::connect(&args.aws, &spec).await?;
        apply_stack(&aws, &spec, &request, &view).await
    };
    let outcome = match applied.await {
        Ok(outcome) => outcome,
        Err(failure) => {
            if plan_shows_warnings && !view.plan_shown.get() {
                show_warnings(&spec, ui);
            }
            return Err(failure);
        }
    };
    let outputs = outcome.outputs();
    if !outputs.is_empty() {
        ui.err("\nOutputs:\n");
        ui.out(&format_outputs(&outputs, OutputFormat::Env));
    }
    Ok(if outcome.succeeded() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{connects, Cli};

    fn command(args: &[&str]) -> super::Command {
        Cli::try_parse_from(std::iter::once("plinth").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    /// Only a command that will talk to AWS loads the trust roots early: the offline ones
    /// (validate, an offline plan, a saved plan shown) read no certificate.
    #[test]
    fn only_commands_that_connect_load_the_trust_roots_early() {
        for args in [
            &["plan"][..],
            &["apply"],
            &["destroy"],
            &["snapshot"],
            &["access"],
            &["outputs"],
            &["unlock"],
            &["graph", "--plan"],
        ] {
            assert!(connects(&command(args)), "{args:?}");
        }
        for args in [
            &["validate"][..],
            &["plan", "--live-snapshot", "snapshot.json"],
            &["show", "saved.plan"],
            &["graph"],
            &["schema"],
            &["permissions"],
            &["fmt"],
        ] {
            assert!(!connects(&command(args)), "{args:?}");
        }
    }
}
