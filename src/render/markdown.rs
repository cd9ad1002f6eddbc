//! The plan as a pull-request comment: a summary and the risks first, then each resource in a
//! collapsible block with its diff. It fits a size budget (GitHub's comment limit is 65,536
//! characters): detail is collapsed first, then long risk lines and the access table are
//! shortened, and what is left out is counted.

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
    let core = head(plan, access, &risks(plan, access, usize::MAX));
    let changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_change()).collect();
    let account = plan.account.account_id.as_str();
    let details: Vec<String> = changes.iter().map(|c| detail(c, account)).collect();
    let access_full = access_within(access, usize::MAX);
    let full: usize =
        core.len() + access_full.len() + details.iter().map(String::len).sum::<usize>();
    if full <= options.budget {
        return core + &access_full + &details.concat();
    }
    over_budget(plan, access, &changes, &details, options.budget)
}

/// Room kept for the closing note of a comment over budget.
const NOTE_ROOM: usize = 400;

/// Most characters of one risk line in a comment over budget: what a principal gains beyond
/// it is counted, not listed.
const RISK_LINE_BUDGET: usize = 1_000;

/// Least room for the access table: its heading and a few rows.
const MIN_TABLE_ROOM: usize = 400;

/// A plan larger than the budget: the head with risk lines of at most [`RISK_LINE_BUDGET`]
/// characters, in at most half the budget; the access table in what the resources' one-line
/// summaries leave; each resource's diff where it fits, risky resources first, and a line for
/// each other resource as long as they fit; then what was left out.
fn over_budget(
    plan: &Plan,
    access: &[GrantChange],
    changes: &[&ResourceChange],
    details: &[String],
    budget: usize,
) -> String {
    let account = plan.account.account_id.as_str();
    let mut out = head(plan, access, &[]);
    let mut risks_left_out = 0;
    let risk_lines = risks(plan, access, RISK_LINE_BUDGET);
    if !risk_lines.is_empty() {
        let room = budget.saturating_sub(out.len() + NOTE_ROOM) / 2;
        let mut section = String::from("#### Risks\n\n");
        for line in &risk_lines {
            let line = format!("- {line}\n");
            if risks_left_out == 0 && section.len() + line.len() < room {
                section.push_str(&line);
            } else {
                risks_left_out += 1;
            }
        }
        if risks_left_out < risk_lines.len() {
            section.push('\n');
            out.push_str(&section);
        }
    }
    let summaries: Vec<String> = changes.iter().map(|c| summary_block(c)).collect();
    let all_summaries: usize = summaries.iter().map(String::len).sum();
    let mut table_left_out = false;
    if !plan.is_empty() && !access.is_empty() {
        let room = budget.saturating_sub(out.len() + all_summaries + NOTE_ROOM);
        // Below a few rows' room the table would be its heading alone.
        if room >= MIN_TABLE_ROOM {
            out.push_str(&access_within(access, room));
        } else {
            table_left_out = true;
        }
    }
    // Risky resources first: each gets its line while lines fit, then its diff while diffs do.
    let mut order: Vec<usize> = (0..changes.len()).collect();
    // Whether a change is risky diffs its policies: once per change, not per comparison.
    order.sort_by_cached_key(|&i| !is_risky(changes[i], account));
    let mut available = budget.saturating_sub(out.len() + NOTE_ROOM);
    let mut listed = vec![false; changes.len()];
    for &i in &order {
        if summaries[i].len() <= available {
            listed[i] = true;
            available -= summaries[i].len();
        }
    }
    let mut full_detail = vec![false; changes.len()];
    for &i in order.iter().filter(|&&i| listed[i]) {
        let extra = details[i].len().saturating_sub(summaries[i].len());
        if extra <= available {
            full_detail[i] = true;
            available -= extra;
        }
    }
    for i in 0..changes.len() {
        if full_detail[i] {
            out.push_str(&details[i]);
        } else if listed[i] {
            out.push_str(&summaries[i]);
        }
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let more = |n: usize, one: &str, many: &str| {
        plural(n, &format!("more {one}"), &format!("more {many}"))
    };
    let collapsed = listed
        .iter()
        .zip(&full_detail)
        .filter(|(l, f)| **l && !**f)
        .count();
    let unlisted = listed.iter().filter(|l| !**l).count();
    let mut left_out = Vec::new();
    if collapsed > 0 {
        left_out.push(format!(
            "the diffs of {}",
            plural(collapsed, "resource", "resources")
        ));
    }
    if unlisted > 0 {
        left_out.push(more(unlisted, "resource", "resources"));
    }
    if risks_left_out > 0 {
        left_out.push(more(risks_left_out, "risk", "risks"));
    }
    if table_left_out {
        left_out.push("the access changes table".to_string());
    }
    let note = format!(
        "\n_The full plan is larger than this comment allows; left out: {}. `plinth show FILE` shows everything of a plan saved with `--out FILE` (or run `plinth plan` for the text)._\n",
        left_out.join(", ")
    );
    // A budget too small for even the head: what fits of it, cut at a line.
    if out.len() + note.len() > budget {
        let mut keep = budget.saturating_sub(note.len()).min(out.len());
        while !out.is_char_boundary(keep) {
            keep -= 1;
        }
        let cut = out[..keep].rfind('\n').map_or(0, |n| n + 1);
        out.truncate(cut);
    }
    out + &note
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

/// The title, the summary and the Risks list of `risks`.
fn head(plan: &Plan, access: &[GrantChange], risks: &[String]) -> String {
    let mut out = String::new();
    let summary = plan.summary();
    let _ = writeln!(
        out,
        "### plinth {}: stack `{}`, account {} ({})\n",
        if plan.refresh_only {
            "drift report"
        } else {
            "plan"
        },
        plan.stack,
        plan.account.account_id,
        plan.account.region
    );
    if let Some(message) = super::is_empty_message(plan) {
        let (first, rest) = message.split_once(". ").unwrap_or((message, ""));
        let _ = writeln!(out, "**{first}.** {rest}");
        return out;
    }
    if plan.refresh_only {
        // What the account holds beyond the spec is in the access table, which reads from
        // the spec to the account.
        let _ = write!(
            out,
            "**{}** Nothing will be changed: the live resources of the stack are compared with the spec, and \"Access changes\" is what the account grants beyond it.",
            super::drift_line(&summary)
        );
    } else {
        let _ = write!(out, "**{}**", summary_line(&summary));
        if let Some((message, _)) = super::gains_access_message(access) {
            let _ = write!(out, " **{message}**");
        }
    }
    out.push_str("\n\n");
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

/// Access gained (from the access model, one bullet per principal, naming what it gains in
/// about `line_budget` characters), then destroys, replaces and lints.
fn risks(plan: &Plan, access: &[crate::access::GrantChange], line_budget: usize) -> Vec<String> {
    let mut risks = super::access::markdown_risks_within(access, line_budget);
    for c in &plan.changes {
        match c.action {
            Action::Delete if super::is_missing(c) => risks.push(format!(
                "**missing** `{}` (`{}`): not in the account, deleted by hand or never applied",
                c.address, c.physical_id
            )),
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
    if super::is_missing(c) {
        return super::MISSING.to_string();
    }
    if let Some(e) = existing(c) {
        return format!("(existing {}) {}", c.address.kind, e.what(c));
    }
    match c.action {
        Action::Create => "will be created".to_string(),
        Action::Update | Action::Replace => super::change_verb(c).to_string(),
        Action::Delete => super::delete_verb(c),
        Action::NoOp => "is unchanged".to_string(),
    }
}

fn detail(c: &ResourceChange, account: &str) -> String {
    let mut out = String::new();
    let reason = c
        .reason
        .as_ref()
        .filter(|_| !c.lets_go())
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
    if body.is_empty() && c.lets_go() {
        out.push_str("No attribute changes: plinth removes this stack's tags (`plinth:stack`, `plinth:address`) and leaves the resource.\n\n</details>\n\n");
    } else if body.is_empty() {
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
            if let (Some(before), Some(after)) = (&a.before, &a.after) {
                // A list of entries with ids (CORS rules, notifications): entry by entry.
                if let Some(entries) = super::entry_changes(before, after) {
                    let _ = writeln!(out, "# {}:{forces}", a.name);
                    for e in entries {
                        if let Some(v) = &e.before {
                            let _ = writeln!(out, "- {} = {}", e.id, v.display());
                        }
                        if let Some(v) = &e.after {
                            let _ = writeln!(out, "+ {} = {}", e.id, v.display());
                        }
                    }
                    continue;
                }
            }
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
