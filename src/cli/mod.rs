//! The command line: flags declared once (clap derive), each command a few lines of glue over
//! the library. Data goes to stdout, progress and diagnostics to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws::{Aws, ConnectOptions, Patience};
use crate::lock;
use crate::plan::{Plan, PlanOptions};
use crate::render;
use crate::saved::SavedPlan;
use crate::spec::{self, LoadOptions, Spec};
use crate::workflow::{
    apply_stack, open_saved_plan, plan_offline, plan_stack, read_live, saved_plan_refusal,
    ApplyRequest, WorkflowError,
};

mod import;
mod ui;

use ui::{format_outputs, TerminalApply, Ui};

/// What went wrong, for the one place that prints errors and picks the exit code.
type Failure = WorkflowError;

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
    /// Print who can do what in the stack today, from the live account's policies
    Access(AccessArgs),
    /// Rewrite specs in plinth's layout (field order, spacing), keeping comments and policies
    Fmt(FmtArgs),
    /// Print the stack's resources and their references, as Graphviz dot or Mermaid
    Graph(GraphArgs),
    /// Write a spec for resources made by hand, read from the live account
    Import(import::ImportArgs),
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
pub struct AccessArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The lowest risk class of gained access that makes `--detailed-exitcode` return 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Public,
    External,
    Escalation,
    Data,
    Internal,
    /// Any policy change that widens access, whoever gains it
    Any,
}

impl FailOn {
    fn threshold(self) -> Option<crate::access::Risk> {
        use crate::access::Risk;
        match self {
            FailOn::Public => Some(Risk::Public),
            FailOn::External => Some(Risk::External),
            FailOn::Escalation => Some(Risk::Escalation),
            FailOn::Data => Some(Risk::Data),
            FailOn::Internal => Some(Risk::Internal),
            FailOn::Any => None,
        }
    }
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
    /// `json`, the policy to attach; `text`, one statement a paragraph
    #[arg(long, value_enum, default_value_t = PolicyFormat::Json)]
    pub format: PolicyFormat,
    /// Say which of plinth's operations need each statement
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    Json,
    Text,
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
    /// Exit 0 for no changes, 2 for changes, 3 for changes that grant access at or above
    /// --fail-on, 1 for errors
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// With --detailed-exitcode, the lowest risk class of gained access that exits 3
    /// (`any`: every change that widens access)
    #[arg(long, value_enum, default_value_t = FailOn::External, value_name = "CLASS")]
    pub fail_on: FailOn,
    /// Plan the deletion of everything the stack owns
    #[arg(long, conflicts_with = "refresh_only")]
    pub destroy: bool,
    /// Only report drift: how resources the stack owns differ from the spec, changing nothing
    #[arg(long)]
    pub refresh_only: bool,
    /// Also write the plan to FILE, for `plinth apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan against FILE, written by `plinth snapshot`, instead of the live account: nothing is
    /// sent to AWS, and the plan cannot be saved for apply
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub live_snapshot: Option<PathBuf>,
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

/// `--var NAME=VALUE`. A value may be a secret, so an argument that is not of that form is
/// never repeated in the error: at most the name it begins with is.
fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| malformed_var(s))
}

fn malformed_var(s: &str) -> String {
    let first = s
        .split(|c: char| c.is_whitespace() || c == ':')
        .next()
        .unwrap_or("");
    let named = !first.is_empty()
        && first.len() < s.trim_end().len()
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if named {
        format!("the --var for `{first}` has no `=` between the name and the value (the value is not shown)")
    } else {
        "a --var argument has no `=` between the name and the value (the argument is not shown)"
            .into()
    }
}

/// Parses the command line. clap repeats a rejected value in its error, and a `--var` value
/// may be a secret, so that error is written here from parse_var's message alone. Usage
/// errors exit 1, as every other error does: 2 means "changes" with `--detailed-exitcode`.
fn parse_arguments() -> Result<Cli, ExitCode> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let error = match Cli::try_parse() {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    if !error.use_stderr() {
        // --help and --version.
        let _ = error.print();
        return Err(ExitCode::SUCCESS);
    }
    let about_var = matches!(
        error.get(ContextKind::InvalidArg),
        Some(ContextValue::String(arg)) if arg.starts_with("--var")
    );
    if error.kind() == ErrorKind::ValueValidation && about_var {
        let reason = std::error::Error::source(&error)
            .map_or_else(|| malformed_var(""), ToString::to_string);
        let _ = writeln!(
            std::io::stderr(),
            "error: {reason}\nhint: write --var NAME=VALUE, e.g. --var 'api_token=...'"
        );
    } else {
        let _ = error.print();
    }
    Err(ExitCode::from(1))
}

pub fn main() -> ExitCode {
    let cli = match parse_arguments() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
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
            let options = PlanOptions {
                destroy: args.destroy,
                refresh_only: args.refresh_only,
            };
            let plan = match &args.live_snapshot {
                Some(file) => plan_offline(&spec, file, options)?,
                None => {
                    let aws = Aws::connect(&args.aws.options()).await?;
                    plan_stack(&aws, &spec, options).await?
                }
            };
            if let Some(path) = &args.out {
                SavedPlan::new(&spec, &args.spec.vars, &plan)
                    .write(path)
                    .map_err(|e| Failure::Refused {
                        message: format!("cannot write the plan file `{}`: {e}", path.display()),
                        hint: None,
                    })?;
            }
            ui.out(&show(&plan, &args.render, ui));
            Ok(match args.detailed_exitcode {
                false => 0,
                true => crate::access::detailed_exit_code(&plan, args.fail_on.threshold()),
            })
        }
        Command::Access(args) => {
            let spec = load(&args.spec, ui)?;
            let aws = Aws::connect(&args.aws.options()).await?;
            let plan = plan_stack(&aws, &spec, PlanOptions::default()).await?;
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
            let aws = Aws::connect(&args.aws.options()).await?;
            let snapshot = read_live(&aws, &spec).await?;
            let json = serde_json::to_string_pretty(&snapshot).map_err(|e| Failure::Refused {
                message: e.to_string(),
                hint: None,
            })?;
            ui.out(&format!("{json}\n"));
            Ok(0)
        }
        Command::Show(args) => {
            let saved = SavedPlan::read(&args.plan).map_err(saved_plan_refusal)?;
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
                return Err(Failure::Refused {
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
        Command::Import(args) => import::run(args, ui).await,
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
                return Err(Failure::Refused {
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
    let changed = crate::fmt::format_files(&files, args.check).map_err(|e| Failure::Refused {
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

fn load(args: &SpecArgs, ui: &Ui) -> Result<Spec, Failure> {
    let spec = spec::load(
        &args.spec,
        &LoadOptions {
            var_overrides: args.vars.clone(),
        },
    )
    .map_err(Failure::Spec)?;
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

async fn apply_command(args: ApplyArgs, destroy: bool, ui: &Ui) -> Result<u8, Failure> {
    let spec_args = match &args.plan {
        Some(path) => SpecArgs {
            spec: PathBuf::from(&open_saved_plan(path, &args.spec.vars)?.spec),
            vars: args.spec.vars.clone(),
        },
        None => SpecArgs {
            spec: args.spec.spec.clone(),
            vars: args.spec.vars.clone(),
        },
    };
    let spec = load(&spec_args, ui)?;
    let aws = Aws::connect(&args.aws.options()).await?;
    let request = ApplyRequest {
        saved: args.plan.clone(),
        destroy,
        parallelism: args.parallelism,
    };
    let view = TerminalApply {
        ui,
        auto_approve: args.auto_approve,
    };
    let outcome = apply_stack(&aws, &spec, &request, &view).await?;
    let outputs = outcome.outputs();
    if !outputs.is_empty() {
        ui.err("\nOutputs:\n");
        ui.out(&format_outputs(&outputs, OutputFormat::Env));
    }
    Ok(if outcome.succeeded() { 0 } else { 1 })
}
