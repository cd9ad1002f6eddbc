//! The terminal: colour decisions, stdout and stderr, errors and hints, the confirmation prompt,
//! progress lines and bars, the apply report. The only code that touches the terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::{ColorChoice, OutputFormat, PolicyFormat};
use crate::apply::{ApplyReport, Progress, StepOutcome, StepStatus};
use crate::model::Address;
use crate::plan::{Action, Plan, ResourceChange};
use crate::render;
use crate::workflow::{ApplyView, WorkflowError};

pub struct Ui {
    pub color_stdout: bool,
    pub color_stderr: bool,
    /// stdout and stderr are both the terminal: what one shows, the person has read.
    pub one_screen: bool,
}

impl Ui {
    pub fn new(choice: ColorChoice) -> Self {
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let pick = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => allowed && tty,
        };
        let (stdout, stderr) = (
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        );
        Ui {
            color_stdout: pick(stdout),
            color_stderr: pick(stderr),
            // Both on the terminal, or both into one file or pipe (`2>&1 | tee plan.log`, a
            // CI job's log): what is written to either is read in one place.
            one_screen: stdout && stderr || same_file("/dev/fd/1", "/dev/fd/2"),
        }
    }

    /// Writes to stdout; a closed pipe (`plinth plan | head`) is not an error.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }

    pub fn err(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    pub fn report(&self, failure: &WorkflowError) {
        match failure {
            WorkflowError::Spec(d) => {
                self.err(&d.render(self.color_stderr));
                let n = d.errors();
                self.err(&format!(
                    "\n{n} error{} found; nothing was sent to AWS.\n",
                    if n == 1 { "" } else { "s" }
                ));
            }
            WorkflowError::Planned(d) => {
                self.err(&d.render(self.color_stderr));
                let n = d.errors();
                self.err(&format!(
                    "\n{n} error{} found; AWS was read, nothing was changed.\n",
                    if n == 1 { "" } else { "s" }
                ));
            }
            WorkflowError::Aws(e) => {
                self.err(&format!("error: {e}\n"));
                if let Some(h) = &e.hint {
                    self.err(&format!("hint: {h}\n"));
                }
            }
            WorkflowError::Refused { message, hint } => {
                self.err(&format!("error: {message}\n"));
                if let Some(h) = hint {
                    self.err(&format!("hint: {h}\n"));
                }
            }
        }
    }
}

/// Runs the CLI and returns the process exit code.
pub fn format_outputs(values: &[(String, Option<String>)], format: OutputFormat) -> String {
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

async fn confirm(plan: &Plan, auto_approve: bool, ui: &Ui) -> Result<(), WorkflowError> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(WorkflowError::Refused {
            message: format!(
                "{} needs confirmation, and there is no terminal to ask on",
                if plan.destroy { "destroy" } else { "apply" }
            ),
            hint: Some("review the plan above and pass --auto-approve".into()),
        });
    }
    let n = plan.changes.iter().filter(|c| c.is_change()).count();
    ui.err(&format!(
        "\nplinth will make {n} change{} to stack `{}`. Only 'yes' will be accepted.\nApply? ",
        if n == 1 { "" } else { "s" },
        plan.stack
    ));
    // Read on a thread of its own, so that the runtime stays free to hear Ctrl-C (which then
    // cancels the apply and releases the lock); the thread ends with the process.
    let (answered, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin().read_line(&mut answer).map(|_| answer);
        let _ = answered.send(read);
    });
    let unreadable = |e: String| WorkflowError::Refused {
        message: format!("cannot read the answer: {e}"),
        hint: None,
    };
    let answer = answer
        .await
        .map_err(|e| unreadable(e.to_string()))?
        .map_err(|e| unreadable(e.to_string()))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(WorkflowError::Refused {
            message: "apply cancelled; nothing was changed".into(),
            hint: None,
        })
    }
}

/// One plain line per started and finished step, for logs and pipelines.
/// One line per step; `prefix` names the environment when several apply at once.
struct LineProgress {
    prefix: String,
}

fn verb(action: Action, released: bool) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update if released => "releasing",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete if released => "releasing",
        Action::Delete => "destroying",
        Action::NoOp => "checking",
    }
}

impl Progress for LineProgress {
    fn started(&self, change: &ResourceChange) {
        eprintln!(
            "{}{}: {}...",
            self.prefix,
            change.address,
            verb(change.action, change.releases() || change.lets_go())
        );
    }

    fn waiting(&self, address: &Address, notice: &str) {
        eprintln!("{}{address}: {notice}", self.prefix);
    }

    fn finished(&self, o: &StepOutcome) {
        match &o.status {
            StepStatus::Done => eprintln!(
                "{}{}: {} done in {}",
                self.prefix,
                o.address,
                verb(o.action, o.released),
                secs(o.elapsed)
            ),
            StepStatus::Failed { error, .. } => eprintln!(
                "{}{}: {} failed after {}: {error}",
                self.prefix,
                o.address,
                verb(o.action, o.released),
                secs(o.elapsed)
            ),
            StepStatus::Skipped { because } => {
                eprintln!(
                    "{}{}: skipped because {because} failed",
                    self.prefix, o.address
                )
            }
            StepStatus::Blocked { cycle } => {
                eprintln!(
                    "{}{}: {}",
                    self.prefix,
                    o.address,
                    StepStatus::blocked_reason(cycle)
                )
            }
            StepStatus::Interrupted => {
                eprintln!("{}{}: not started (stopped)", self.prefix, o.address)
            }
            // Said once, in the report that follows.
            StepStatus::NotStarted { .. } => {}
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
        running.push(format!(
            "{} {}",
            verb(change.action, change.releases() || change.lets_go()),
            change.address
        ));
        self.refresh(&running);
    }

    fn waiting(&self, address: &Address, notice: &str) {
        self.bar.println(format!("{address}: {notice}"));
    }

    fn finished(&self, o: &StepOutcome) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let label = format!("{} {}", verb(o.action, o.released), o.address);
        running.retain(|r| r != &label);
        self.refresh(&running);
        self.bar.inc(1);
        self.bar.println(match &o.status {
            StepStatus::Done => format!(
                "{}: {} done in {}",
                o.address,
                verb(o.action, o.released),
                secs(o.elapsed)
            ),
            StepStatus::Failed { error, .. } => {
                format!(
                    "{}: {} failed: {error}",
                    o.address,
                    verb(o.action, o.released)
                )
            }
            StepStatus::Skipped { because } => {
                format!("{}: skipped because {because} failed", o.address)
            }
            StepStatus::Blocked { cycle } => {
                format!("{}: {}", o.address, StepStatus::blocked_reason(cycle))
            }
            StepStatus::Interrupted => format!("{}: not started (stopped)", o.address),
            StepStatus::NotStarted { after } => format!(
                "{}: not started ({after} gave up on the endpoint)",
                o.address
            ),
        });
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `destroy`: the report is a destroy's, which only `plinth destroy` finishes (`plinth apply`
/// would make again what it deleted).
/// `env` is the environment applied, which the command to run again must name.
fn print_report(report: &ApplyReport, destroy: bool, ui: &Ui, prefix: &str, rerun: &str) {
    let failed: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| !matches!(o.status, StepStatus::Done))
        .collect();
    if !failed.is_empty() {
        ui.err(&format!("\n{prefix}Not done:\n"));
        // Steps not started once the endpoint was given up on: one line for all of them.
        let unstarted: Vec<String> = failed
            .iter()
            .filter(|o| matches!(o.status, StepStatus::NotStarted { .. }))
            .map(|o| o.address.to_string())
            .collect();
        for o in &failed {
            match &o.status {
                StepStatus::Failed { error, hint, .. } => {
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
                StepStatus::Blocked { cycle } => ui.err(&format!(
                    "  {} ({}): {}\n",
                    o.address,
                    o.action.as_str(),
                    StepStatus::blocked_reason(cycle)
                )),
                StepStatus::Interrupted => ui.err(&format!(
                    "  {} ({}): not started, the apply was stopped\n",
                    o.address,
                    o.action.as_str()
                )),
                StepStatus::NotStarted { .. } | StepStatus::Done => {}
            }
        }
        if let Some(StepStatus::NotStarted { after }) = failed
            .iter()
            .map(|o| &o.status)
            .find(|s| matches!(s, StepStatus::NotStarted { .. }))
        {
            const SHOWN: usize = 10;
            let more = match unstarted.len().saturating_sub(SHOWN) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            ui.err(&format!(
                "  {} not started, since {after} gave up on the endpoint: {}{more}\n",
                unstarted.len(),
                unstarted[..unstarted.len().min(SHOWN)].join(", ")
            ));
        }
        ui.err(&if destroy {
            format!("Run `plinth destroy{rerun}` again to finish; `plinth plan --destroy{rerun}` shows what remains.\n")
        } else {
            format!("Run `plinth apply{rerun}` again to finish; `plinth plan{rerun}` shows what remains.\n")
        });
    }
    ui.err(&format!("\n{prefix}{}\n", report.summary_line(destroy)));
}

/// The arguments a command run again names: the spec, and the environment if it declares
/// any (` -f plans/tonic.toml --env prod`); the unlock hint names them the same way.
pub fn rerun_args(spec: &crate::spec::Spec) -> String {
    match &spec.stack.env {
        Some(env) => format!(" -f {} --env {}", spec.file.name, env.name),
        None => format!(" -f {}", spec.file.name),
    }
}

/// What an apply shows on the terminal, and how it asks.
pub struct TerminalApply<'a> {
    pub ui: &'a Ui,
    pub auto_approve: bool,
    /// Whether the plan has been shown (with the spec's warnings in it).
    pub plan_shown: std::cell::Cell<bool>,
    /// The environment, when several apply at once: its lines are prefixed with `[NAME] `,
    /// since they interleave.
    pub env: Option<String>,
    /// What the command to run again after a failure must name: the spec and the environment
    /// (` -f plans/tonic.toml --env prod`), as [`rerun_args`] writes them.
    pub rerun: String,
}

impl TerminalApply<'_> {
    fn prefix(&self) -> String {
        self.env
            .as_ref()
            .map_or_else(String::new, |env| format!("[{env}] "))
    }
}

impl ApplyView for TerminalApply<'_> {
    fn plan(&self, plan: &Plan) {
        let options = render::text::TextOptions {
            color: self.ui.color_stdout,
        };
        self.ui.out(&render::text::render(plan, options));
        self.plan_shown.set(true);
    }

    fn confirm<'a>(
        &'a self,
        plan: &'a Plan,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), WorkflowError>> + 'a>> {
        Box::pin(confirm(plan, self.auto_approve, self.ui))
    }

    fn asks(&self) -> bool {
        !self.auto_approve
    }

    fn progress(&self, steps: usize) -> Box<dyn Progress> {
        // One bar per environment would draw over the others': several print lines.
        if std::io::stderr().is_terminal() && self.env.is_none() {
            Box::new(BarProgress::new(steps))
        } else {
            Box::new(LineProgress {
                prefix: self.prefix(),
            })
        }
    }

    fn report(&self, plan: &Plan, report: &ApplyReport) {
        print_report(report, plan.destroy, self.ui, &self.prefix(), &self.rerun);
    }

    fn warn(&self, warning: &str) {
        self.ui
            .err(&format!("{}warning: {warning}\n", self.prefix()));
    }
}

/// The policy `plinth permissions` prints: as JSON to attach (with `explain`, an object holding
/// it and what needs each statement, by Sid), or as text, a paragraph a statement.
pub fn format_permissions(
    policy: &serde_json::Value,
    format: PolicyFormat,
    explain: bool,
) -> String {
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    let sid = |s: &serde_json::Value| s["Sid"].as_str().unwrap_or_default().to_string();
    match format {
        PolicyFormat::Json if !explain => {
            format!(
                "{}\n",
                serde_json::to_string_pretty(policy).unwrap_or_default()
            )
        }
        PolicyFormat::Json => {
            let needed_by: serde_json::Map<String, serde_json::Value> = statements
                .iter()
                .map(|s| (sid(s), crate::permissions::needed_by(&sid(s)).into()))
                .collect();
            let both = serde_json::json!({ "policy": policy, "needed_by": needed_by });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&both).unwrap_or_default()
            )
        }
        PolicyFormat::Text => {
            let list = |v: &serde_json::Value| match v {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(one) => one.clone(),
                other => other.to_string(),
            };
            let mut out = String::new();
            for s in &statements {
                out.push_str(&format!(
                    "{}\n  actions:   {}\n  resources: {}\n",
                    sid(s),
                    list(&s["Action"]),
                    list(&s["Resource"])
                ));
                if !s["Condition"].is_null() {
                    out.push_str(&format!("  when:      {}\n", s["Condition"]));
                }
                if explain {
                    out.push_str(&format!(
                        "  needed by: {}\n",
                        crate::permissions::needed_by(&sid(s))
                    ));
                }
                out.push('\n');
            }
            out
        }
    }
}

/// Whether two paths name one open file (device and inode): stdout and stderr sent to the same
/// pipe or file.
fn same_file(a: &str, b: &str) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}
