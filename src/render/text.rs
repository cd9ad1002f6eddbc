//! The plan as people read it in a terminal: readable without colour (`+ ~ -/+ -`), attribute
//! diffs, policy diffs per statement with their access label, summary last.

use std::fmt::Write as _;

use owo_colors::{OwoColorize, Style};

use super::{existing, gains_access_message, pretty, summary_line, Existing};
use crate::access::GrantChange;
use crate::plan::{Action, AttributeChange, Plan, ResourceChange};
use crate::policy::{AccessChange, PolicyDiff, Severity};

#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    pub color: bool,
}

struct Painter<'a> {
    color: bool,
    /// The plan's account, which policy diffs are read in.
    account: &'a str,
}

impl Painter<'_> {
    fn paint(&self, s: &str, style: Style) -> String {
        if self.color {
            s.style(style).to_string()
        } else {
            s.to_string()
        }
    }
    fn action(&self, a: Action) -> String {
        let (sym, style) = match a {
            Action::Create => ("+", Style::new().green()),
            Action::Update => ("~", Style::new().yellow()),
            Action::Replace => ("-/+", Style::new().magenta()),
            Action::Delete => ("-", Style::new().red()),
            Action::NoOp => (" ", Style::new()),
        };
        self.paint(sym, style)
    }
    fn diff_line(&self, line: &str) -> String {
        match line.chars().next() {
            Some('+') => self.paint(line, Style::new().green()),
            Some('-') => self.paint(line, Style::new().red()),
            Some('@') => self.paint(line, Style::new().cyan()),
            _ => line.to_string(),
        }
    }
    fn access(&self, access: &AccessChange) -> String {
        match access {
            AccessChange::Widens => self.paint("widens access", Style::new().red().bold()),
            AccessChange::Mixed => {
                self.paint("widens and narrows access", Style::new().red().bold())
            }
            AccessChange::Narrows => self.paint("narrows access", Style::new().green()),
            AccessChange::NoChange => "no change in access".to_string(),
        }
    }
}

pub fn render(plan: &Plan, options: TextOptions) -> String {
    render_with(plan, &crate::access::changes(plan), options)
}

/// The number of changed resources from which their text is written on two threads.
const TWO_THREADS_FROM: usize = 500;

/// `render`, with the plan's access changes already computed.
pub fn render_with(plan: &Plan, access: &[GrantChange], options: TextOptions) -> String {
    render_on(plan, access, options, TWO_THREADS_FROM)
}

/// [`render_with`], writing the changed resources on two threads when there are at least
/// `two_threads_from` of them.
pub(crate) fn render_on(
    plan: &Plan,
    access: &[GrantChange],
    options: TextOptions,
    two_threads_from: usize,
) -> String {
    let p = Painter {
        color: options.color,
        account: &plan.account.account_id,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Stack `{}` in account {} ({}):\n",
        plan.stack, plan.account.account_id, plan.account.region
    );
    for warning in &plan.warnings {
        out.push_str(&warning.text);
        out.push('\n');
    }
    if plan.refresh_only {
        let _ = writeln!(out, "Drift report: resources of the stack whose live state differs from the spec. Nothing will be changed.\n");
    }
    if let Some(message) = super::is_empty_message(plan) {
        let _ = writeln!(out, "{message}");
        return out;
    }
    let changed: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_change()).collect();
    // A large plan's resources are written on two cores, every other one on the second (the
    // plan's order groups resources by kind, and a role's policy diffs cost more than a
    // queue's settings), and taken back in order.
    let each = |changes: Vec<&ResourceChange>| -> Vec<String> {
        (changes.into_iter())
            .map(|change| {
                let mut out = String::new();
                resource(&mut out, &p, change);
                out.push('\n');
                out
            })
            .collect()
    };
    let (even, odd) = crate::parallel::every_other(&changed);
    let (odd, even) = crate::parallel::two_at_once(
        changed.len() >= two_threads_from,
        || each(odd),
        || each(even),
    );
    out.extend(crate::parallel::interleave(even, odd));
    // Unchanged resources are not listed, but what is wrong with their live policies is.
    for change in plan
        .changes
        .iter()
        .filter(|c| !c.is_change() && c.lints.iter().any(|f| f.severity != Severity::Info))
    {
        let _ = writeln!(
            out,
            "  {} is unchanged, but:",
            p.paint(&change.address.to_string(), Style::new().bold())
        );
        findings(&mut out, &p, change);
        out.push('\n');
    }
    out.push_str(&super::access::text_section(access));
    let summary = plan.summary();
    if plan.refresh_only {
        let _ = writeln!(out, "{}", super::drift_line(&summary));
        return out;
    }
    if let Some((message, review)) = gains_access_message(access) {
        let style = if review {
            Style::new().red().bold()
        } else {
            Style::new().bold()
        };
        let _ = writeln!(out, "{}", p.paint(&message, style));
    }
    let _ = writeln!(out, "{}", summary_line(&summary));
    out
}

fn resource(out: &mut String, p: &Painter, c: &ResourceChange) {
    let existing = existing(c);
    let what = match (&existing, c.action) {
        _ if super::is_missing(c) => super::MISSING.to_string(),
        (Some(e), _) => format!("(existing {}) {}", c.address.kind, e.what(c)),
        (None, Action::Create) => "will be created".to_string(),
        (None, Action::Update | Action::Replace) => super::change_verb(c).to_string(),
        (None, Action::Delete) => super::delete_verb(c),
        (None, Action::NoOp) => "is unchanged".to_string(),
    };
    // Releasing an existing resource changes it in place; nothing is destroyed.
    let symbol = match &existing {
        Some(e) if e.released => p.action(Action::Update),
        _ => p.action(c.action),
    };
    let _ = write!(
        out,
        "  {symbol} {} {what}",
        p.paint(&c.address.to_string(), Style::new().bold())
    );
    if let Some(reason) = c.reason.as_ref().filter(|_| !c.lets_go()) {
        let _ = write!(out, " ({reason})");
    }
    out.push('\n');
    if c.action == Action::Delete {
        let _ = writeln!(out, "      physical name = {:?}", c.physical_id);
        return;
    }
    let shown: Vec<&AttributeChange> = c
        .attributes
        .iter()
        .filter(|a| !Existing::is_record(c, &a.name))
        .collect();
    let width = shown.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in shown {
        attribute(out, p, c.action, a, width);
    }
    let taken = Existing::taken_over(c);
    if !taken.is_empty() {
        let _ = writeln!(out, "      now managed by this stack: {}", taken.join(", "));
    }
    let given_up = Existing::given_up(c);
    if !given_up.is_empty() {
        let line = format!(
            "      - removed, no longer in the spec: {}",
            given_up.join(", ")
        );
        let _ = writeln!(out, "{}", p.paint(&line, Style::new().red()));
    }
    let let_go = Existing::let_go(c);
    if !let_go.is_empty() {
        let _ = writeln!(
            out,
            "      no longer managed by this stack, kept as it is: {}",
            let_go.join(", ")
        );
    }
    for kept in super::kept_statements(c) {
        let _ = writeln!(out, "      {}", p.paint(&kept, Style::new().dimmed()));
    }
    findings(out, p, c);
}

fn findings(out: &mut String, p: &Painter, c: &ResourceChange) {
    for f in c.lints.iter().filter(|f| f.severity != Severity::Info) {
        let statement = f
            .statement
            .as_deref()
            .map(|s| format!(" statement {s}"))
            .unwrap_or_default();
        let label = p.paint(
            &format!("! {} {}", f.code, severity(f.severity)),
            Style::new().yellow(),
        );
        let _ = writeln!(
            out,
            "      {label} in {}{statement}: {}",
            f.policy, f.message
        );
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn attribute(out: &mut String, p: &Painter, action: Action, a: &AttributeChange, width: usize) {
    let name = format!("{:width$}", a.name);
    let forces = if a.forces_replacement {
        p.paint(" # forces replacement", Style::new().magenta())
    } else {
        String::new()
    };
    let diffs = a.policy_diffs(p.account);
    if action != Action::Create && !diffs.is_empty() {
        for (label, diff) in diffs {
            policy_diff(out, p, &label, &diff);
        }
        return;
    }
    match (&a.before, &a.after) {
        (None, Some(after)) => {
            let _ = writeln!(
                out,
                "      {} {name} = {}",
                p.action(Action::Create),
                pretty(after, 8)
            );
        }
        (Some(before), None) => {
            let _ = writeln!(
                out,
                "      {} {name} = {}",
                p.action(Action::Delete),
                pretty(before, 8)
            );
        }
        (Some(before), Some(after)) => {
            // A list of entries with ids (CORS rules, notifications): entry by entry.
            if let Some(entries) = super::entry_changes(before, after) {
                let _ = writeln!(
                    out,
                    "      {} {}:{forces}",
                    p.action(Action::Update),
                    a.name
                );
                for e in entries {
                    let what = match (e.action, &e.before, &e.after) {
                        (Action::Update, ..) => e.fields.join(", "),
                        (_, _, Some(v)) | (_, Some(v), None) => v.display(),
                        _ => String::new(),
                    };
                    let _ = writeln!(out, "          {} {}: {what}", p.action(e.action), e.id);
                }
                return;
            }
            let _ = writeln!(
                out,
                "      {} {name} = {} -> {}{forces}",
                p.action(Action::Update),
                before.display(),
                after.display_against(Some(before))
            );
        }
        (None, None) => {}
    }
}

fn policy_diff(out: &mut String, p: &Painter, label: &str, diff: &PolicyDiff) {
    let _ = writeln!(
        out,
        "      {} {label} ({})",
        p.action(Action::Update),
        p.access(&diff.access)
    );
    for st in &diff.statements {
        let _ = writeln!(
            out,
            "          statement {}: {}",
            st.label,
            p.access(&st.access)
        );
        for line in st.unified.lines() {
            let _ = writeln!(out, "            {}", p.diff_line(line));
        }
    }
}
