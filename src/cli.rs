//! The command line: flags declared once (clap derive), each command a few lines of glue over
//! the library. Data goes to stdout, progress and diagnostics to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply::{self, ApplyOptions, Progress, StepOutcome, StepStatus};
use crate::aws::{Aws, AwsError, ConnectOptions, Patience};
use crate::diag::Diagnostics;
use crate::index::{self, StackIndex};
use crate::live::LiveSnapshot;
use crate::lock::{self, LockError, StackLock};
use crate::model::Address;
use crate::plan::{Action, Plan, PlanOptions, ResourceChange};
use crate::render;
use crate::saved::{SavedPlan, SavedPlanError};
use crate::spec::{self, LoadOptions, Spec};
use crate::workflow::{plan_stack, plan_stack_live, read_live, PlanError};

#[derive(Debug, Parser)]
#[command(
    name = "plinth",
    version,
    about = "Plan and apply the AWS setup that data platforms ask for, from a desired-state TOML spec"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour output (NO_COLOR in the environment also turns it off)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Log AWS calls and internal steps to stderr (-v, -vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec without contacting AWS
    Validate(SpecArgs),
    /// Show what apply would change in the live account
    Plan(PlanArgs),
    /// Plan, confirm, and carry out the plan
    Apply(ApplyArgs),
    /// Delete everything the stack owns
    Destroy(ApplyArgs),
    /// Print the live state plinth reads for a spec, as JSON (for bug reports and test fixtures)
    Snapshot(SnapshotArgs),
    /// Render a saved plan file
    Show(ShowArgs),
    /// Print the stack's [outputs] from the live account (as an env file or JSON)
    Outputs(OutputsArgs),
    /// Print the JSON Schema of the spec format, for TOML editors
    Schema,
    /// Remove the stack's apply lock, e.g. one left by a process that was killed
    Unlock(UnlockArgs),
    /// Print the IAM policy the identity running plinth needs for a spec (least privilege)
    Permissions(PermissionsArgs),
    /// Rewrite specs in plinth's layout (field order, spacing), keeping comments and policies
    Fmt(FmtArgs),
    /// Print the stack's resources and their references, as Graphviz dot or Mermaid
    Graph(GraphArgs),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Spec files (default: plinth.toml)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Change nothing: print a diff for each file not in plinth's layout and exit 1 if any
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[arg(long, value_enum, default_value_t = GraphFormatArg::Dot)]
    pub format: GraphFormatArg,
    /// Read the account and label each resource with its planned action
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormatArg {
    /// Graphviz (`dot -Tsvg`)
    Dot,
    /// Mermaid (renders in GitHub Markdown)
    Mermaid,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Env)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The account the policy is for (default: any, `*`)
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// The region the policy is for (default: any, `*`)
    #[arg(long)]
    pub region: Option<String>,
    /// The AWS partition
    #[arg(long, default_value = "aws")]
    pub partition: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// NAME=value lines, quoted for a shell or an env file
    Env,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Most characters a Markdown plan may have (GitHub comments hold 65,536)
    #[arg(long, default_value_t = render::markdown::DEFAULT_BUDGET, value_name = "CHARS")]
    pub markdown_budget: usize,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `plinth plan --out`
    pub plan: PathBuf,
    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The spec file
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = "plinth.toml"
    )]
    pub spec: PathBuf,
    /// Set a variable declared in [vars] (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS region (default: AWS_REGION or the profile's region)
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the AWS config and credentials files
    #[arg(long)]
    pub profile: Option<String>,
    /// Send all AWS requests to this URL (also AWS_ENDPOINT_URL), e.g. a local emulator
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Assume this role before doing anything
    #[arg(long, value_name = "ARN")]
    pub assume_role_arn: Option<String>,
    /// Session name for --assume-role-arn
    #[arg(long, default_value = "plinth", requires = "assume_role_arn")]
    pub role_session_name: String,
    /// Source identity for --assume-role-arn, recorded by CloudTrail
    #[arg(long, requires = "assume_role_arn")]
    pub source_identity: Option<String>,
    /// Attempts per AWS request for throttling and transient errors
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
    /// Longest a step waits for AWS to catch up (IAM propagation, a queue name deleted
    /// recently) before it fails
    #[arg(long, default_value_t = 90, value_name = "SECONDS")]
    pub max_wait: u64,
    /// The first retry's backoff in milliseconds (doubled, with jitter, for each next one)
    #[arg(long, value_name = "MS")]
    pub retry_backoff_ms: Option<u64>,
}

impl AwsArgs {
    fn options(&self) -> ConnectOptions {
        ConnectOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            assume_role_arn: self.assume_role_arn.clone(),
            role_session_name: self.role_session_name.clone(),
            source_identity: self.source_identity.clone(),
            max_attempts: self.max_attempts,
            patience: Patience {
                limit: Duration::from_secs(self.max_wait),
                ..Patience::default()
            },
            retry_backoff: self.retry_backoff_ms.map(Duration::from_millis),
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Exit 0 for no changes, 2 for changes, 3 for changes that widen access, 1 for errors
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the deletion of everything the stack owns
    #[arg(long, conflicts_with = "refresh_only")]
    pub destroy: bool,
    /// Only report drift: how resources the stack owns differ from the spec, changing nothing
    #[arg(long)]
    pub refresh_only: bool,
    /// Also write the plan to FILE, for `plinth apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply this saved plan (from `plinth plan --out`) exactly, without asking
    #[arg(value_name = "PLAN_FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Apply without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many changes may be in flight at once
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallelism: usize,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// What went wrong, for the one place that prints errors and picks the exit code.
#[derive(Debug)]
pub enum Failure {
    Diagnostics(Diagnostics),
    Aws(AwsError),
    Message {
        message: String,
        hint: Option<String>,
    },
}

impl From<PlanError> for Failure {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Spec(d) => Failure::Diagnostics(d),
            PlanError::Aws(e) => Failure::Aws(e),
        }
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e)
    }
}

struct Ui {
    color_stdout: bool,
    color_stderr: bool,
}

impl Ui {
    fn new(choice: ColorChoice) -> Self {
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let pick = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => allowed && tty,
        };
        Ui {
            color_stdout: pick(std::io::stdout().is_terminal()),
            color_stderr: pick(std::io::stderr().is_terminal()),
        }
    }

    /// Writes to stdout; a closed pipe (`plinth plan | head`) is not an error.
    fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }

    fn err(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn report(&self, failure: &Failure) {
        match failure {
            Failure::Diagnostics(d) => {
                self.err(&d.render(self.color_stderr));
                let n = d.errors();
                self.err(&format!(
                    "\n{n} error{} found; nothing was sent to AWS.\n",
                    if n == 1 { "" } else { "s" }
                ));
            }
            Failure::Aws(e) => {
                self.err(&format!("error: {e}\n"));
                if let Some(h) = &e.hint {
                    self.err(&format!("hint: {h}\n"));
                }
            }
            Failure::Message { message, hint } => {
                self.err(&format!("error: {message}\n"));
                if let Some(h) = hint {
                    self.err(&format!("hint: {h}\n"));
                }
            }
        }
    }
}

/// `plinth fmt`: formats in place, or with `--check` prints the diffs and returns 1 if any.
fn fmt(args: &FmtArgs, ui: &Ui) -> Result<u8, Failure> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("plinth.toml")]
    } else {
        args.files.clone()
    };
    let changed = crate::fmt::format_files(&files, args.check).map_err(|e| Failure::Message {
        message: e.to_string(),
        hint: Some(
            "fmt formats only specs that are valid TOML; `plinth validate` says more".into(),
        ),
    })?;
    for (path, diff) in &changed {
        if args.check {
            ui.out(diff);
        } else {
            ui.err(&format!("formatted {}\n", path.display()));
        }
    }
    Ok(u8::from(args.check && !changed.is_empty()))
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let ui = Ui::new(cli.color);
    // One thread: plinth's concurrency is requests in flight, all driven from the one future
    // `run` returns (it spawns no tasks). A multi-threaded runtime ran that future on this
    // thread anyway and the connections on its workers, and paid for the hand-offs between
    // them: ten times the context switches and a third more processor time per plan.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ui.err(&format!("error: cannot start the async runtime: {e}\n"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, &ui)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            ui.report(&failure);
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "plinth=debug,info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

async fn run(command: Command, ui: &Ui) -> Result<u8, Failure> {
    match command {
        Command::Validate(args) => {
            let spec = load(&args, ui)?;
            ui.out(&format!(
                "{}: stack `{}` is valid ({} resource{}).\n",
                spec.file.name,
                spec.stack.name,
                spec.resources.len(),
                if spec.resources.len() == 1 { "" } else { "s" }
            ));
            Ok(0)
        }
        Command::Plan(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = Aws::connect(&args.aws.options()).await?;
            let options = PlanOptions {
                destroy: args.destroy,
                refresh_only: args.refresh_only,
            };
            let plan = plan_stack(&aws, &spec, options).await?;
            if let Some(path) = &args.out {
                SavedPlan::new(&spec, &args.spec.vars, &plan)
                    .write(path)
                    .map_err(|e| Failure::Message {
                        message: format!("cannot write the plan file `{}`: {e}", path.display()),
                        hint: None,
                    })?;
            }
            ui.out(&show(&plan, &args.render, ui));
            Ok(
                match (
                    args.detailed_exitcode,
                    plan.is_empty(),
                    plan.summary().widens_access,
                ) {
                    (false, _, _) | (true, true, _) => 0,
                    (true, false, false) => 2,
                    (true, false, true) => 3,
                },
            )
        }
        Command::Snapshot(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = Aws::connect(&args.aws.options()).await?;
            let snapshot = read_live(&aws, &spec).await?;
            let json = serde_json::to_string_pretty(&snapshot).map_err(|e| Failure::Message {
                message: e.to_string(),
                hint: None,
            })?;
            ui.out(&format!("{json}\n"));
            Ok(0)
        }
        Command::Show(args) => {
            let saved = SavedPlan::read(&args.plan).map_err(saved_plan_failure)?;
            ui.out(&show(&saved.plan, &args.render, ui));
            Ok(0)
        }
        Command::Outputs(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = Aws::connect(&args.aws.options()).await?;
            let plan = plan_stack(&aws, &spec, PlanOptions::default()).await?;
            let values: Vec<(String, Option<String>)> = plan
                .outputs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        (!v.is_unknown()).then(|| {
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
                return Err(Failure::Message {
                    message: format!(
                        "no value yet for {}: the resources they come from do not exist",
                        missing.join(", ")
                    ),
                    hint: Some("run `plinth apply` first".into()),
                });
            }
            ui.out(&format_outputs(&values, args.format));
            Ok(0)
        }
        Command::Fmt(args) => fmt(&args, ui),
        Command::Graph(args) => {
            let spec = load(&args.spec, ui)?;
            let plan = if args.plan {
                let aws = Aws::connect(&args.aws.options()).await?;
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
                return Err(Failure::Message {
                    message: format!("stack `{}` has no lock configured", spec.stack.name),
                    hint: Some("configure one with [stack] lock = { bucket = \"...\" }".into()),
                });
            };
            let aws = Aws::connect(&args.aws.options()).await?;
            match lock::force_unlock(&aws, config).await? {
                Some(holder) => ui.err(&format!(
                    "Removed the lock of stack `{}` held by {} ({} pid {} on {}).\n",
                    spec.stack.name, holder.holder, holder.operation, holder.pid, holder.host
                )),
                None => ui.err(&format!("Stack `{}` was not locked.\n", spec.stack.name)),
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
            let json = serde_json::to_string_pretty(&policy).map_err(|e| Failure::Message {
                message: e.to_string(),
                hint: None,
            })?;
            ui.out(&format!("{json}\n"));
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

fn load(args: &SpecArgs, ui: &Ui) -> Result<Spec, Failure> {
    let spec = spec::load(
        &args.spec,
        &LoadOptions {
            var_overrides: args.vars.clone(),
        },
    )
    .map_err(Failure::Diagnostics)?;
    if !spec.warnings.0.is_empty() {
        ui.err(&spec.warnings.render(ui.color_stderr));
        ui.err("\n");
    }
    Ok(spec)
}

fn show(plan: &Plan, args: &RenderArgs, ui: &Ui) -> String {
    match args.format {
        Format::Text => render::text::render(
            plan,
            render::text::TextOptions {
                color: ui.color_stdout,
            },
        ),
        Format::Json => render::json::render(plan),
        Format::Markdown => render::markdown::render(
            plan,
            render::markdown::MarkdownOptions {
                budget: args.markdown_budget,
            },
        ),
    }
}

fn saved_plan_failure(e: SavedPlanError) -> Failure {
    let hint = match e {
        SavedPlanError::Tampered(_) => "plan again; a plan file must not be edited",
        SavedPlanError::Version { .. } => "plan again with this version of plinth",
        SavedPlanError::Unreadable { .. } => "pass the file written by `plinth plan --out`",
    };
    Failure::Message {
        message: e.to_string(),
        hint: Some(hint.into()),
    }
}

/// Loads a saved plan and checks it still holds: same files, same account, same live state.
async fn saved_plan(
    path: &std::path::Path,
    aws: &Aws,
    spec: &Spec,
) -> Result<(Plan, LiveSnapshot), Failure> {
    let saved = SavedPlan::read(path).map_err(saved_plan_failure)?;
    let changed = saved.changed_inputs();
    if !changed.is_empty() {
        return Err(Failure::Message {
            message: format!(
                "the spec changed since the plan was made: {}",
                changed.join(", ")
            ),
            hint: Some("plan again and review the new plan".into()),
        });
    }
    let account = aws.sts.account().await?;
    if saved.plan.refresh_only {
        return Err(Failure::Message {
            message: format!(
                "`{}` is a drift report (--refresh-only), not a plan to apply",
                path.display()
            ),
            hint: Some("make a plan without --refresh-only".into()),
        });
    }
    let (now, snapshot) = plan_stack_live(
        aws,
        spec,
        PlanOptions {
            destroy: saved.plan.destroy,
            refresh_only: false,
        },
    )
    .await?;
    let differences = saved.differences(&account, &now);
    if !differences.is_empty() {
        return Err(Failure::Message {
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

async fn apply_command(args: ApplyArgs, destroy: bool, ui: &Ui) -> Result<u8, Failure> {
    let spec_args = match &args.plan {
        Some(path) => {
            let saved = SavedPlan::read(path).map_err(saved_plan_failure)?;
            let differences = saved.var_differences(&args.spec.vars);
            if !differences.is_empty() {
                return Err(Failure::Message {
                    message: format!(
                        "the variables differ from the plan's, so none of it was applied:\n  {}",
                        differences.join("\n  ")
                    ),
                    hint: Some(
                        "pass the same --var options as to `plinth plan`, or plan again".into(),
                    ),
                });
            }
            SpecArgs {
                spec: PathBuf::from(&saved.spec),
                vars: args.spec.vars.clone(),
            }
        }
        None => SpecArgs {
            spec: args.spec.spec.clone(),
            vars: args.spec.vars.clone(),
        },
    };
    let spec = load(&spec_args, ui)?;
    let aws = Aws::connect(&args.aws.options()).await?;
    // The lock is taken before the live state is read, so the plan cannot go stale under us.
    let lock = match &spec.stack.lock {
        Some(config) => {
            let caller = aws.sts.account().await?.caller_arn;
            let operation = if destroy { "destroy" } else { "apply" };
            Some(StackLock::acquire(&aws, config, &spec.stack.name, &caller, operation).await.map_err(|e| match e {
                LockError::Aws(e) => Failure::Aws(e),
                held => Failure::Message {
                    message: held.to_string(),
                    hint: Some("wait for it to finish; if that process is gone, run `plinth unlock`".into()),
                },
            })?)
        }
        None => None,
    };
    let result = apply_locked(&aws, spec, &args, destroy, ui).await;
    if let Some(lock) = lock {
        if let Err(e) = lock.release(&aws).await {
            ui.err(&format!(
                "warning: the stack lock could not be released ({e}); run `plinth unlock`\n"
            ));
        }
    }
    result
}

async fn apply_locked(
    aws: &Aws,
    spec: Spec,
    args: &ApplyArgs,
    destroy: bool,
    ui: &Ui,
) -> Result<u8, Failure> {
    let (plan, snapshot) = match &args.plan {
        Some(path) => saved_plan(path, aws, &spec).await?,
        None => {
            plan_stack_live(
                aws,
                &spec,
                PlanOptions {
                    destroy,
                    refresh_only: false,
                },
            )
            .await?
        }
    };
    ui.out(&render::text::render(
        &plan,
        render::text::TextOptions {
            color: ui.color_stdout,
        },
    ));
    if args.plan.is_none() && !plan.is_empty() {
        confirm(&plan, args.auto_approve, ui)?;
    }
    // The stack index names what the apply is about to create before it does (and is written
    // even when there is nothing to do, for a stack that had a lock but no index yet).
    let stack_index = StackIndex::of_owned(&spec.stack.name, &snapshot.owned).before_apply(&plan);
    if let Some(lock) = spec
        .stack
        .lock
        .as_ref()
        .filter(|_| snapshot.index.as_ref() != Some(&stack_index))
    {
        index::write(aws, lock, &stack_index).await?;
    }
    if plan.is_empty() {
        return Ok(0);
    }
    let steps = plan.changes.iter().filter(|c| c.is_change()).count();
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(BarProgress::new(steps))
    } else {
        Box::new(LineProgress)
    };
    let report = apply::apply(
        aws,
        &plan,
        ApplyOptions {
            parallelism: args.parallelism,
        },
        progress.as_ref(),
    )
    .await;
    drop(progress);
    print_report(&report, ui);
    let after = stack_index.clone().after_apply(&plan, &report);
    if let Some(lock) = spec.stack.lock.as_ref().filter(|_| after != stack_index) {
        if let Err(e) = index::write(aws, lock, &after).await {
            // The next plan lists the account rather than trusting an index that may lack a key.
            let deleted = index::delete(aws, lock).await;
            ui.err(&format!(
                "warning: the stack index could not be updated ({e}){}\n",
                if deleted.is_ok() {
                    "; it was removed, and the next plan lists the account"
                } else {
                    ""
                }
            ));
        }
    }
    let outputs = apply::outputs(&plan, &report);
    if report.succeeded() && !outputs.is_empty() && !plan.destroy {
        ui.err("\nOutputs:\n");
        ui.out(&format_outputs(&outputs, OutputFormat::Env));
    }
    Ok(if report.succeeded() { 0 } else { 1 })
}

fn format_outputs(values: &[(String, Option<String>)], format: OutputFormat) -> String {
    match format {
        OutputFormat::Env => values
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}\n", shell_quote(v))))
            .collect(),
        OutputFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.clone()
                            .map_or(serde_json::Value::Null, serde_json::Value::String),
                    )
                })
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&map).unwrap_or_default()
            )
        }
    }
}

/// Values that need no quoting stay bare, so the file also reads as a Docker env file.
fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

fn confirm(plan: &Plan, auto_approve: bool, ui: &Ui) -> Result<(), Failure> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Message {
            message: "apply needs confirmation, and there is no terminal to ask on".into(),
            hint: Some("review the plan above and pass --auto-approve".into()),
        });
    }
    let n = plan.changes.iter().filter(|c| c.is_change()).count();
    ui.err(&format!(
        "\nplinth will make {n} change{} to stack `{}`. Only 'yes' will be accepted.\nApply? ",
        if n == 1 { "" } else { "s" },
        plan.stack
    ));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::Message {
            message: format!("cannot read the answer: {e}"),
            hint: None,
        })?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Failure::Message {
            message: "apply cancelled; nothing was changed".into(),
            hint: None,
        })
    }
}

/// One plain line per started and finished step, for logs and pipelines.
struct LineProgress;

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "destroying",
        Action::NoOp => "checking",
    }
}

impl Progress for LineProgress {
    fn started(&self, change: &ResourceChange) {
        eprintln!("{}: {}...", change.address, verb(change.action));
    }

    fn waiting(&self, address: &Address, notice: &str) {
        eprintln!("{address}: {notice}");
    }

    fn finished(&self, o: &StepOutcome) {
        match &o.status {
            StepStatus::Done => eprintln!(
                "{}: {} done in {}",
                o.address,
                verb(o.action),
                secs(o.elapsed)
            ),
            StepStatus::Failed { error, .. } => eprintln!(
                "{}: {} failed after {}: {error}",
                o.address,
                verb(o.action),
                secs(o.elapsed)
            ),
            StepStatus::Skipped { because } => {
                eprintln!("{}: skipped because {because} failed", o.address)
            }
        }
    }
}

/// A live progress bar on a terminal: finished steps scroll above it.
struct BarProgress {
    bar: indicatif::ProgressBar,
    running: std::sync::Mutex<Vec<String>>,
}

impl BarProgress {
    fn new(steps: usize) -> Self {
        let bar = indicatif::ProgressBar::new(steps as u64).with_style(
            indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            bar,
            running: Default::default(),
        }
    }

    fn refresh(&self, running: &[String]) {
        self.bar.set_message(running.join(", "));
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for BarProgress {
    fn started(&self, change: &ResourceChange) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.push(format!("{} {}", verb(change.action), change.address));
        self.refresh(&running);
    }

    fn waiting(&self, address: &Address, notice: &str) {
        self.bar.println(format!("{address}: {notice}"));
    }

    fn finished(&self, o: &StepOutcome) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let label = format!("{} {}", verb(o.action), o.address);
        running.retain(|r| r != &label);
        self.refresh(&running);
        self.bar.inc(1);
        self.bar.println(match &o.status {
            StepStatus::Done => format!(
                "{}: {} done in {}",
                o.address,
                verb(o.action),
                secs(o.elapsed)
            ),
            StepStatus::Failed { error, .. } => {
                format!("{}: {} failed: {error}", o.address, verb(o.action))
            }
            StepStatus::Skipped { because } => {
                format!("{}: skipped because {because} failed", o.address)
            }
        });
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn print_report(report: &apply::ApplyReport, ui: &Ui) {
    let failed: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| !matches!(o.status, StepStatus::Done))
        .collect();
    if !failed.is_empty() {
        ui.err("\nNot done:\n");
        for o in failed {
            match &o.status {
                StepStatus::Failed { error, hint } => {
                    ui.err(&format!(
                        "  {} ({}): failed: {error}\n",
                        o.address,
                        o.action.as_str()
                    ));
                    if let Some(h) = hint {
                        ui.err(&format!("    hint: {h}\n"));
                    }
                }
                StepStatus::Skipped { because } => ui.err(&format!(
                    "  {} ({}): skipped, because {because} failed\n",
                    o.address,
                    o.action.as_str()
                )),
                StepStatus::Done => {}
            }
        }
        ui.err("Run `plinth apply` again to finish; `plinth plan` shows what remains.\n");
    }
    ui.err(&format!("\n{}\n", report.summary_line()));
}
