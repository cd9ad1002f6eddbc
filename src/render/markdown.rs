//! The plan as a pull-request comment: a summary and the risks first, then each resource in a
//! collapsible block with its diff. It fits a size budget (GitHub's comment limit is 65,536
//! characters): detail is collapsed before anything else, and a risk line is never cut.

use std::fmt::Write as _;

use super::{existing, pretty, summary_line, Existing};
use crate::access::GrantChange;
use crate::model::Value;
use crate::plan::{Action, Plan, ResourceChange};
use crate::policy::{AccessChange, Severity};

pub const DEFAULT_BUDGET: usize = 60_000;

#[derive(Debug, Clone, Copy)]
pub struct MarkdownOptions {
    /// The most characters the comment may have.
    pub budget: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        Self {
            budget: DEFAULT_BUDGET,
        }
    }
}

pub fn render(plan: &Plan, options: MarkdownOptions) -> String {
    render_with(plan, &crate::access::changes(plan), options)
}

/// `render`, with the plan's access changes already computed.
pub fn render_with(plan: &Plan, access: &[GrantChange], options: MarkdownOptions) -> String {
    let core = head(plan, access);
    let changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_change()).collect();
    let account = plan.account.account_id.as_str();
    let details: Vec<String> = changes.iter().map(|c| detail(c, account)).collect();
    let access_full = access_within(access, usize::MAX);
    let full: usize =
        core.len() + access_full.len() + details.iter().map(String::len).sum::<usize>();
    if full <= options.budget {
        return core + &access_full + &details.concat();
    }
    // The access section gets what the head and every resource's one-line summary leave.
    let summaries: usize = changes.iter().map(|c| summary_block(c).len()).sum();
    let room = options.budget.saturating_sub(core.len() + summaries + 200);
    let head = if plan.is_empty() {
        core
    } else {
        core + &access_within(access, room)
    };
    // Over budget: keep the head (summary and every risk line), then as many full blocks as
    // fit, risky resources first; the rest become one-line summaries.
    let mut out = head;
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_by_key(|&i| !is_risky(changes[i], account));
    let mut full_detail = vec![false; changes.len()];
    let mut used = out.len()
        + changes
            .iter()
            .map(|c| summary_block(c).len())
            .sum::<usize>()
        + 200;
    for i in order {
        let extra = details[i]
            .len()
            .saturating_sub(summary_block(changes[i]).len());
        if used + extra <= options.budget {
            full_detail[i] = true;
            used += extra;
        }
    }
    let left_out = full_detail.iter().filter(|f| !**f).count();
    for (i, c) in changes.iter().enumerate() {
        out.push_str(if full_detail[i] { &details[i] } else { "" });
        if !full_detail[i] {
            out.push_str(&summary_block(c));
        }
    }
    let _ = writeln!(
        out,
        "\n_The full plan is larger than this comment allows: the diffs of {left_out} resource{} are left out. `plinth show FILE` shows everything of a plan saved with `--out FILE` (or run `plinth plan` for the text)._",
        if left_out == 1 { "" } else { "s" }
    );
    out
}

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

fn is_risky(c: &ResourceChange, account: &str) -> bool {
    matches!(c.action, Action::Delete | Action::Replace)
        || c.policy_diffs(account)
            .iter()
            .any(|(_, d)| matches!(d.access, AccessChange::Widens | AccessChange::Mixed))
        || c.lints.iter().any(|l| l.severity <= Severity::Warning)
}

fn head(plan: &Plan, access: &[GrantChange]) -> String {
    let mut out = String::new();
    let summary = plan.summary();
    let _ = writeln!(
        out,
        "### plinth plan: stack `{}`, account {} ({})\n",
        plan.stack, plan.account.account_id, plan.account.region
    );
    if let Some(message) = super::is_empty_message(plan) {
        let (first, rest) = message.split_once(". ").unwrap_or((message, ""));
        let _ = writeln!(out, "**{first}.** {rest}");
        return out;
    }
    let _ = write!(out, "**{}**", summary_line(&summary));
    if let Some((message, _)) = super::gains_access_message(access) {
        let _ = write!(out, " **{message}**");
    }
    out.push_str("\n\n");
    let risks = risks(plan, access);
    if !risks.is_empty() {
        out.push_str("#### Risks\n\n");
        for r in risks {
            let _ = writeln!(out, "- {r}");
        }
        out.push('\n');
    }
    out
}

/// The access section (a graph when it is small, and the table) in about `budget` characters:
/// the graph goes first when it does not fit, then the table's rows that do not.
fn access_within(access: &[GrantChange], budget: usize) -> String {
    let table = super::access::markdown_section(access);
    match super::access::mermaid(access) {
        Some(graph) if graph.len() + table.len() <= budget => graph + &table,
        _ if table.len() <= budget => table,
        _ => super::access::markdown_section_within(access, budget),
    }
}

/// Access gained (from the access model, one bullet per principal), then destroys, replaces
/// and lints.
fn risks(plan: &Plan, access: &[crate::access::GrantChange]) -> Vec<String> {
    let mut risks = super::access::markdown_risks(access);
    for c in &plan.changes {
        match c.action {
            Action::Delete if existing(c).is_some() => risks.push(format!(
                "**releases** `{}` (`{}`), an existing {}: plinth removes {}",
                c.address,
                c.physical_id,
                c.address.kind,
                existing(c)
                    .map(|e| e.removed(c.address.kind))
                    .unwrap_or_default()
            )),
            Action::Delete => risks.push(format!(
                "**destroys** `{}` (`{}`)",
                c.address, c.physical_id
            )),
            Action::Update if c.reason == Some(crate::plan::Reason::Released) => {
                risks.push(format!(
                    "**released** `{}` (`{}`): no longer managed by this stack",
                    c.address, c.physical_id
                ))
            }
            Action::Replace => risks.push(format!(
                "**replaces** `{}`{}",
                c.address,
                c.reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            _ => {}
        }
        for l in c.lints.iter().filter(|l| l.severity <= Severity::Warning) {
            let statement = l
                .statement
                .as_deref()
                .map(|s| format!(" statement `{s}`"))
                .unwrap_or_default();
            risks.push(format!(
                "**{}** `{}` {}{statement}: {}",
                l.code, c.address, l.policy, l.message
            ));
        }
    }
    risks
}

fn summary_block(c: &ResourceChange) -> String {
    format!("- `{} {}` {}\n", change_symbol(c), c.address, verb(c))
}

/// Releasing an existing resource changes it in place; nothing is destroyed.
fn change_symbol(c: &ResourceChange) -> &'static str {
    match existing(c) {
        Some(e) if e.released => symbol(Action::Update),
        _ => symbol(c.action),
    }
}

fn verb(c: &ResourceChange) -> String {
    if let Some(e) = existing(c) {
        return format!("(existing {}) {}", c.address.kind, e.what(c.address.kind));
    }
    match c.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => "must be replaced".to_string(),
        Action::Delete => super::delete_verb(c),
        Action::NoOp => "is unchanged".to_string(),
    }
}

fn detail(c: &ResourceChange, account: &str) -> String {
    let mut out = String::new();
    let reason = c
        .reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<details><summary><code>{} {}</code> {}{}</summary>\n",
        change_symbol(c),
        c.address,
        html_escape(&verb(c)),
        html_escape(&reason)
    );
    let mut body = String::new();
    diff_body(&mut body, c, account);
    if body.is_empty() {
        out.push_str(
            "No attribute changes: plinth only adds its ownership tags.\n\n</details>\n\n",
        );
    } else {
        let _ = write!(out, "```diff\n{body}```\n\n</details>\n\n");
    }
    out
}

fn diff_body(out: &mut String, c: &ResourceChange, account: &str) {
    if c.action == Action::Delete {
        let _ = writeln!(out, "- physical name = {:?}", c.physical_id);
    } else {
        let policy_diffs = c.policy_diffs(account);
        for a in c
            .attributes
            .iter()
            .filter(|a| !Existing::is_record(c, &a.name))
        {
            let diffs: Vec<_> = policy_diffs
                .iter()
                .filter(|(n, _)| n == &a.name || n.starts_with(&format!("{}.", a.name)))
                .collect();
            if c.action != Action::Create && !diffs.is_empty() {
                for (name, d) in diffs {
                    let _ = writeln!(out, "# {name}: {}", access(&d.access));
                    for s in &d.statements {
                        let _ = writeln!(out, "# statement {}: {}", s.label, access(&s.access));
                        out.push_str(&s.unified);
                        if !s.unified.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                }
                continue;
            }
            let forces = if a.forces_replacement {
                "  # forces replacement"
            } else {
                ""
            };
            if let Some(before) = &a.before {
                let _ = writeln!(out, "- {} = {}{forces}", a.name, lines(before, "- "));
            }
            if let Some(after) = &a.after {
                // A secret that changes says so, as in the text plan; a policy is shown whole.
                let shown = match &a.before {
                    Some(before) if pretty(after, 0) == after.display() => {
                        after.display_against(Some(before))
                    }
                    _ => lines(after, "+ "),
                };
                let _ = writeln!(out, "+ {} = {shown}{forces}", a.name);
            }
        }
        let taken = Existing::taken_over(c);
        if !taken.is_empty() {
            let _ = writeln!(out, "# now managed by this stack: {}", taken.join(", "));
        }
        let given_up = Existing::given_up(c);
        if !given_up.is_empty() {
            let _ = writeln!(
                out,
                "- removed, no longer in the spec: {}",
                given_up.join(", ")
            );
        }
        let let_go = Existing::let_go(c);
        if !let_go.is_empty() {
            let _ = writeln!(
                out,
                "# no longer managed by this stack, kept as it is: {}",
                let_go.join(", ")
            );
        }
        for kept in super::kept_statements(c) {
            let _ = writeln!(out, "# {kept}");
        }
    }
    for l in &c.lints {
        let statement = l
            .statement
            .as_deref()
            .map(|s| format!(" statement {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "! {} in {}{statement}: {}",
            l.code, l.policy, l.message
        );
    }
}

/// Multi-line values (policies) keep their diff marker on every line.
fn lines(v: &Value, marker: &str) -> String {
    pretty(v, 0).replace('\n', &format!("\n{marker}"))
}

fn access(a: &AccessChange) -> &'static str {
    match a {
        AccessChange::Widens => "widens access",
        AccessChange::Narrows => "narrows access",
        AccessChange::NoChange => "no change in access",
        AccessChange::Mixed => "widens and narrows access",
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
