//! The "Access changes" section every plan view shows, and the grants `plinth access` prints:
//! rows grouped by principal, the principal with the riskiest row first.

use std::fmt::Write as _;

use crate::access::{describe_actions, Change, Grant, GrantChange, Risk};

/// Rows grouped by principal, groups ordered by their riskiest row, rows within a group in
/// the order given.
fn by_principal<T>(rows: &[T], grant: impl Fn(&T) -> &Grant) -> Vec<(&str, Risk, Vec<&T>)> {
    let mut groups: Vec<(&str, Risk, Vec<&T>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for row in rows {
        let g = grant(row);
        match index.get(g.principal.as_str()) {
            Some(&at) => {
                let (_, risk, members) = &mut groups[at];
                *risk = (*risk).min(g.risk);
                members.push(row);
            }
            None => {
                index.insert(g.principal.as_str(), groups.len());
                groups.push((g.principal.as_str(), g.risk, vec![row]));
            }
        }
    }
    groups.sort_by_key(|(_, risk, _)| *risk);
    groups
}

/// [`describe_actions`] of each distinct list of actions, once: a large plan's rows repeat a
/// few lists thousands of times.
#[derive(Default)]
struct Described<'g>(std::collections::HashMap<&'g [String], String>);

impl<'g> Described<'g> {
    fn of(&mut self, actions: &'g [String]) -> &str {
        self.0
            .entry(actions)
            .or_insert_with(|| describe_actions(actions))
    }
}

/// `sts:AssumeRole on role.x`, with the path when it runs through assumed roles, the
/// conditions and whether it is conditional.
fn row_text<'g>(grant: &'g Grant, described: &mut Described<'g>) -> String {
    let mut line = String::new();
    if grant.via.len() > 1 {
        // The roles on the way, each named by its trust policy.
        let through: Vec<&str> = grant.via[..grant.via.len() - 1]
            .iter()
            .filter_map(|v| v.strip_suffix(" trust"))
            .collect();
        if !through.is_empty() {
            let _ = write!(line, "through {}: ", through.join(" then "));
        }
    }
    let _ = write!(
        line,
        "{} on {}",
        described.of(&grant.actions),
        grant.resource
    );
    if !grant.conditions.is_empty() {
        let _ = write!(line, " if {}", grant.conditions.join(" and "));
    }
    if grant.conditional {
        line.push_str(" (conditional)");
    }
    // The policy that grants it, without the principal it belongs to.
    if let Some(last) = grant.via.last() {
        let policy = last.split_once(' ').map_or(last.as_str(), |(_, p)| p);
        if policy != "trust" {
            let _ = write!(line, " [{policy}]");
        }
    }
    line
}

/// `text` as Markdown shows it letter for letter: a wildcard ARN (`arn:aws:sqs:*:1:tonic-*`)
/// is not emphasis, an `_` is not either, and a `|` does not end a table cell.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '<' | '>' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn sign(change: Change) -> &'static str {
    match change {
        Change::Gained => "+",
        Change::Lost => "-",
    }
}

/// The text plan's section; empty when no row changes.
pub fn text_section(changes: &[GrantChange]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out = String::from("Access changes (riskiest first):\n");
    let mut described = Described::default();
    for (principal, _, rows) in by_principal(changes, |c| &c.grant) {
        let _ = writeln!(out, "  {principal}");
        for row in rows {
            let _ = writeln!(
                out,
                "    {} {:<10} {}",
                sign(row.change),
                row.grant.risk.as_str(),
                row_text(&row.grant, &mut described)
            );
        }
    }
    out.push('\n');
    out
}

/// The Markdown plan's Risks bullets: one per principal that gains something above
/// `internal`, riskiest first, naming what it gains.
pub fn markdown_risks(changes: &[GrantChange]) -> Vec<String> {
    markdown_risks_within(changes, usize::MAX)
}

/// [`markdown_risks`], each bullet naming what its principal gains in about `line_budget`
/// characters at most (at least one row), and how many rows more.
pub fn markdown_risks_within(changes: &[GrantChange], line_budget: usize) -> Vec<String> {
    let gained: Vec<&GrantChange> = changes
        .iter()
        .filter(|c| c.change == Change::Gained && c.grant.risk < Risk::Internal)
        .collect();
    let mut described = Described::default();
    by_principal(&gained, |c| &c.grant)
        .into_iter()
        .map(|(principal, risk, rows)| {
            let mut line = format!("**{}**: `{principal}` gains ", risk.as_str());
            for (shown, row) in rows.iter().enumerate() {
                let what = markdown_text(&row_text(&row.grant, &mut described));
                let more = rows.len() - shown;
                if shown > 0 && line.len() + what.len() + 2 > line_budget {
                    let _ = write!(line, "; and {more} more");
                    break;
                }
                if shown > 0 {
                    line.push_str("; ");
                }
                line.push_str(&what);
            }
            line
        })
        .collect()
}

/// The Markdown plan's section, as a table.
pub fn markdown_section(changes: &[GrantChange]) -> String {
    markdown_section_within(changes, usize::MAX)
}

/// [`markdown_section`] in at most about `budget` characters: the rows that fit (riskiest
/// first, as they are sorted), then how many are left out.
pub fn markdown_section_within(changes: &[GrantChange], budget: usize) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("#### Access changes\n\n| | risk | principal | access |\n|---|---|---|---|\n");
    // Room for the closing note.
    let budget = budget.saturating_sub(120);
    let (mut total, mut shown) = (0, 0);
    let mut described = Described::default();
    for (principal, _, rows) in by_principal(changes, |c| &c.grant) {
        for row in rows {
            total += 1;
            if shown >= MARKDOWN_ROWS || out.len() >= budget {
                continue;
            }
            let line = format!(
                "| {} | {} | `{principal}` | {} |\n",
                sign(row.change),
                row.grant.risk.as_str(),
                markdown_text(&row_text(&row.grant, &mut described))
            );
            if out.len() + line.len() > budget {
                continue;
            }
            out.push_str(&line);
            shown += 1;
        }
    }
    if total > shown {
        let _ = writeln!(
            out,
            "\n_{} more rows are left out: the JSON plan's `access_changes` has them all._",
            total - shown
        );
    }
    out.push('\n');
    out
}

/// The most edges the Markdown comment's graph may have; a bigger graph helps no one and is
/// left out (the Risks list and the table say the same).
const GRAPH_EDGES: usize = 12;

/// A small graph of the access gained above `internal`, for GitHub to draw: principals, the
/// roles they reach, and what they reach through them. `None` when nothing is gained above
/// `internal` or the graph would be too big to read.
pub fn mermaid(changes: &[GrantChange]) -> Option<String> {
    let mut edges: Vec<(String, String, String)> = Vec::new();
    // One edge between two nodes: the first row's words for it (rows come riskiest first,
    // and a role's own trust row before the rows through it).
    let edge = |edges: &mut Vec<(String, String, String)>, from: &str, to: &str, label: String| {
        if !edges.iter().any(|(f, t, _)| f == from && t == to) {
            edges.push((from.to_string(), to.to_string(), label));
        }
    };
    for c in changes
        .iter()
        .filter(|c| c.change == Change::Gained && c.grant.risk < Risk::Internal)
    {
        if edges.len() > GRAPH_EDGES {
            return None;
        }
        let g = &c.grant;
        let actions = describe_actions(&g.actions);
        // The roles a row goes through, from its trust policies.
        let roles: Vec<&str> = g
            .via
            .iter()
            .filter_map(|v| v.strip_suffix(" trust"))
            .collect();
        match roles.split_first() {
            Some((first, rest)) if !(rest.is_empty() && *first == g.resource) => {
                edge(&mut edges, &g.principal, first, "assumes".into());
                let mut at = *first;
                for role in rest {
                    if *role != g.resource {
                        edge(&mut edges, at, role, "assumes".into());
                        at = role;
                    }
                }
                edge(&mut edges, at, &g.resource, actions);
            }
            _ => edge(&mut edges, &g.principal, &g.resource, actions),
        }
    }
    if edges.is_empty() || edges.len() > GRAPH_EDGES {
        return None;
    }
    let mut ids: Vec<String> = Vec::new();
    let mut id = |name: &str| -> usize {
        match ids.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                ids.push(name.to_string());
                ids.len() - 1
            }
        }
    };
    let quote = |s: &str| s.replace('"', "#quot;");
    let mut lines = Vec::new();
    for (from, to, label) in &edges {
        let (a, b) = (id(from), id(to));
        lines.push(format!("  n{a} -->|\"{}\"| n{b}", quote(label)));
    }
    let mut out = String::from("```mermaid\nflowchart LR\n");
    for (i, name) in ids.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}\"]", quote(name));
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out.push_str("```\n\n");
    Some(out)
}

/// The most rows the Markdown section lists: the comment's head is never cut, so it stays
/// short; the Risks bullets above it already name every principal that gains something.
const MARKDOWN_ROWS: usize = 40;

/// `plinth access` as text.
pub fn grants_text(grants: &[Grant]) -> String {
    if grants.is_empty() {
        return "No grants: the stack's policies allow nothing.\n".to_string();
    }
    let mut out = String::new();
    let mut described = Described::default();
    for (principal, _, rows) in by_principal(grants, |g| g) {
        let _ = writeln!(out, "{principal}");
        for grant in rows {
            let text = row_text(grant, &mut described);
            let _ = writeln!(out, "  {:<10} {text}", grant.risk.as_str());
        }
    }
    out
}

/// `plinth access` as Markdown.
pub fn grants_markdown(stack: &str, grants: &[Grant]) -> String {
    let mut out = format!(
        "### plinth access: stack `{stack}`\n\n| risk | principal | access |\n|---|---|---|\n"
    );
    let mut described = Described::default();
    for (principal, _, rows) in by_principal(grants, |g| g) {
        for grant in rows {
            let _ = writeln!(
                out,
                "| {} | `{principal}` | {} |",
                grant.risk.as_str(),
                markdown_text(&row_text(grant, &mut described))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markdown shows a wildcard ARN as written: each `*` and `_` escaped, in the table and in
    /// the Risks bullets, where CommonMark would read `*:123:tonic-*` as emphasis.
    #[test]
    fn markdown_shows_wildcards_and_underscores_as_written() {
        let changes = [GrantChange {
            change: Change::Gained,
            grant: Grant {
                risk: Risk::External,
                principal: "111122223333".into(),
                actions: vec!["sqs:sendmessage".into()],
                resource: "arn:aws:sqs:*:123456789012:tonic_*".into(),
                target: String::new(),
                conditions: Vec::new(),
                via: vec!["role.server policies.structural".into()],
                conditional: false,
            },
        }];
        let escaped = r"arn:aws:sqs:\*:123456789012:tonic\_\*";
        let table = markdown_section(&changes);
        assert!(table.contains(escaped), "{table}");
        assert!(table.contains("[policies.structural]"), "{table}");
        let risks = markdown_risks(&changes).join("\n");
        assert!(risks.contains(escaped), "{risks}");
        let grants = grants_markdown("s", &[changes[0].grant.clone()]);
        assert!(grants.contains(escaped), "{grants}");
        // The text plan shows them as they are.
        assert!(text_section(&changes).contains("tonic_*"));
    }
}
