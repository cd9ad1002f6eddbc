//! The command line's flags, declared once (clap derive): `--help` and the completions come
//! from these types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::{envs, import};
use crate::aws::{ConnectOptions, Patience};
use crate::render;

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
    /// Remove the lock even when the process holding it still runs on this machine
    #[arg(long)]
    pub force: bool,
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
    pub(super) fn threshold(self) -> Option<crate::access::Risk> {
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
    #[arg(required_unless_present = "merge")]
    pub plan: Option<PathBuf>,
    /// Show the plans of several files as one (each from a CI runner's shard)
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "plan")]
    pub merge: Vec<PathBuf>,
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

/// The spec file read when `-f` is not given.
pub const DEFAULT_SPEC: &str = "plinth.toml";

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The spec file
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = DEFAULT_SPEC
    )]
    pub spec: PathBuf,
    /// Set a variable declared in [vars] (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Set variables from a TOML file of NAME = value lines (repeatable; later files win)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    #[command(flatten)]
    pub envs: envs::EnvArgs,
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
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
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
    pub(super) fn options(&self) -> ConnectOptions {
        ConnectOptions {
            region: self.region.clone(),
            fallback_region: None,
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            assume_role_arn: self.assume_role_arn.clone(),
            role_session_name: self.role_session_name.clone(),
            external_id: None,
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
    #[arg(
        long,
        value_enum,
        default_value_t = FailOn::External,
        value_name = "CLASS",
        requires = "detailed_exitcode"
    )]
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
    /// Apply this saved plan exactly, without asking (from `plinth plan --out`; for `destroy`, from `plinth plan --destroy --out`)
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
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = at_least_one)]
    pub parallelism: usize,
    /// With a saved plan of several environments: how many to apply at once
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = at_least_one)]
    pub env_parallelism: usize,
    /// With a saved plan of several environments: stop starting new ones after more than N
    /// have failed
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_failures: usize,
}

/// `--var NAME=VALUE`. A value may be a secret, so an argument that is not of that form is
/// never repeated in the error: at most the name it begins with is.
pub(super) fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| malformed_var(s))
}

pub(super) fn malformed_var(s: &str) -> String {
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

/// A count of things at once: 0 would do nothing and wait for ever.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
