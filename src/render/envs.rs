//! Views of the plans of several environments made in one run: text grouped by environment
//! with a summary table, one JSON document with an `environments` array, and one pull-request
//! comment with the per-environment risk table first and identical changes shown once.

use std::fmt::Write as _;

use serde::Serialize;

use super::json::{JsonPlan, JSON_FORMAT_VERSION};
use super::markdown::{self, MarkdownOptions};
use super::text::{self, TextOptions};
use crate::access::GrantChange;
use crate::plan::Plan;

/// One environment's plan, by the environment's name (`None`: the spec has no environments),
/// with its access changes, computed once for every view of it and its exit code.
#[derive(Debug, Clone, Copy)]
pub struct EnvPlan<'a> {
    pub name: Option<&'a str>,
    pub plan: &'a Plan,
    pub access: &'a [GrantChange],
}

/// An environment that could not be planned: listed with the others, so that a document
/// read by a script or a reviewer does not look like a plan of fewer environments.
#[derive(Debug, Clone)]
pub struct EnvFailure {
    pub name: String,
    /// The account the environment must be in.
    pub account_id: String,
    pub region: String,
    /// Why, in one line, without secrets.
    pub error: String,
}

impl EnvPlan<'_> {
    /// The environment's name, or its stack's for a spec without environments.
    pub fn label(&self) -> &str {
        self.name.unwrap_or(&self.plan.stack)
    }
}

/// The plans one after the other, each under its environment's heading, then the table.
pub fn text(plans: &[EnvPlan<'_>], failed: &[EnvFailure], options: TextOptions) -> String {
    let mut out = String::new();
    for p in plans {
        let _ = writeln!(out, "=== environment {} ===\n", p.label());
        out.push_str(&text::render_with(p.plan, p.access, options));
        out.push('\n');
    }
    for f in failed {
        let _ = writeln!(
            out,
            "=== environment {} ===\n\nNot planned: {}\n",
            f.name, f.error
        );
    }
    out.push_str(&summary_table(plans, failed, false));
    out
}

/// `environment | account | region | add | change | replace | destroy | release | widens
/// access`, and in Markdown the riskiest access each environment gains and what it destroys or
/// replaces: the risks of every environment, before any detail.
pub fn summary_table(plans: &[EnvPlan<'_>], failed: &[EnvFailure], markdown: bool) -> String {
    let mut header = vec![
        "environment",
        "account",
        "region",
        "add",
        "change",
        "replace",
        "destroy",
        "release",
        "widens access",
    ];
    if markdown {
        header.extend(["riskiest access gained", "destroys or replaces"]);
    }
    let rows: Vec<Vec<String>> = plans
        .iter()
        .map(|p| {
            let s = p.plan.summary();
            let mut row = vec![
                p.label().to_string(),
                p.plan.account.account_id.clone(),
                p.plan.account.region.clone(),
                s.add.to_string(),
                s.change.to_string(),
                s.replace.to_string(),
                s.destroy.to_string(),
                s.release.to_string(),
                if s.widens_access { "yes" } else { "no" }.to_string(),
            ];
            if markdown {
                row.extend(risks(p.plan, p.access));
            }
            row
        })
        .chain(failed.iter().map(|f| {
            let mut row = vec![f.name.clone(), f.account_id.clone(), f.region.clone()];
            row.extend(std::iter::repeat_n("-".to_string(), 5));
            row.push("not planned".to_string());
            if markdown {
                row.extend(["**not planned**".to_string(), "-".to_string()]);
            }
            row
        }))
        .collect();
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        for r in &rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        return out;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(header.clone()));
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// The riskiest class of access the plan gains (`**external**`), and the resources it destroys
/// or replaces, for the Markdown table.
fn risks(plan: &Plan, access: &[GrantChange]) -> [String; 2] {
    use crate::access::Change;
    use crate::plan::Action;
    let riskiest = access
        .iter()
        .filter(|c| c.change == Change::Gained)
        .map(|c| c.grant.risk)
        .min();
    let gone: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace) && !c.releases())
        .map(|c| format!("`{}`", c.address))
        .collect();
    let shown = 5;
    let gone = match gone.len() {
        0 => "none".to_string(),
        n if n <= shown => gone.join(", "),
        n => format!("{} and {} more", gone[..shown].join(", "), n - shown),
    };
    let riskiest = riskiest.map_or("none".to_string(), |r| match r {
        crate::access::Risk::Internal => r.as_str().to_string(),
        _ => format!("**{}**", r.as_str()),
    });
    [riskiest, gone]
}

/// The documented JSON of several environments (docs/plan-format.md, "Several environments").
#[derive(Debug, Serialize)]
pub struct JsonEnvironments<'a> {
    pub format_version: u32,
    pub plinth_version: &'static str,
    pub environments: Vec<JsonEnvironment<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonEnvironment<'a> {
    /// `null` for a spec without environments.
    pub name: Option<&'a str>,
    pub account_id: &'a str,
    pub region: &'a str,
    /// The environment's plan, as `plinth plan --format json` prints one; `null` for one that
    /// could not be planned.
    pub plan: Option<JsonPlan<'a>>,
    /// Why the environment could not be planned; absent for one that was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

pub fn json(plans: &[EnvPlan<'_>], failed: &[EnvFailure]) -> String {
    let document = JsonEnvironments {
        format_version: JSON_FORMAT_VERSION,
        plinth_version: env!("CARGO_PKG_VERSION"),
        environments: plans
            .iter()
            .map(|p| JsonEnvironment {
                name: p.name,
                account_id: &p.plan.account.account_id,
                region: &p.plan.account.region,
                plan: Some(JsonPlan::with_access(p.plan, p.access)),
                error: None,
            })
            .chain(failed.iter().map(|f| JsonEnvironment {
                name: Some(&f.name),
                account_id: &f.account_id,
                region: &f.region,
                plan: None,
                error: Some(&f.error),
            }))
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}

/// One comment: the table of every environment first (its counts and whether it widens
/// access), then each distinct set of changes once, under the environments that plan it. The
/// size budget is shared out among the distinct sets, each of which collapses its own diffs
/// first, as a single plan's comment does.
pub fn markdown(plans: &[EnvPlan<'_>], failed: &[EnvFailure], options: MarkdownOptions) -> String {
    let mut head = String::new();
    let all = plans.len() + failed.len();
    let _ = writeln!(
        head,
        "### plinth plan: {all} environment{}{}\n",
        if all == 1 { "" } else { "s" },
        match failed.len() {
            0 => String::new(),
            n => format!(", {n} not planned"),
        }
    );
    head.push_str(&summary_table(plans, failed, true));
    head.push('\n');
    for f in failed {
        let _ = writeln!(head, "#### `{}`: not planned\n\n{}\n", f.name, f.error);
    }
    // The same changes: equal comments once their first line (stack, account) is left out.
    let unlimited = MarkdownOptions { budget: usize::MAX };
    let mut groups: Vec<(String, Vec<EnvPlan<'_>>)> = Vec::new();
    for p in plans {
        let body = without_title(&markdown::render_with(p.plan, p.access, unlimited));
        match groups.iter_mut().find(|(b, _)| *b == body) {
            Some((_, members)) => members.push(*p),
            None => groups.push((body, vec![*p])),
        }
    }
    let share = options.budget.saturating_sub(head.len()) / groups.len().max(1);
    let mut out = head;
    for (_, members) in &groups {
        let names: Vec<String> = members.iter().map(|m| format!("`{}`", m.label())).collect();
        let first = members[0];
        let changes = first.plan.changes.iter().filter(|c| c.is_change()).count();
        let title = match (members.len(), changes) {
            (1, _) => format!("#### {}", names[0]),
            (n, 0) => format!("#### no changes in {n} environments: {}", names.join(", ")),
            (n, c) => format!(
                "#### the same {c} change{} in {n} environments: {}",
                if c == 1 { "" } else { "s" },
                names.join(", ")
            ),
        };
        let budget = share.saturating_sub(title.len() + 2);
        let body = without_title(&markdown::render_with(
            first.plan,
            first.access,
            MarkdownOptions { budget },
        ));
        let _ = write!(out, "{title}\n\n{body}\n");
    }
    out
}

fn without_title(comment: &str) -> String {
    comment
        .split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.trim_start().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan, PlanOptions};
    use crate::state::{Account, LiveSnapshot};

    fn fixture(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    /// A plan with its access changes, as the command line holds them.
    struct Planned {
        plan: Plan,
        access: Vec<GrantChange>,
    }

    impl Planned {
        fn env<'a>(&'a self, name: &'a str) -> EnvPlan<'a> {
            EnvPlan {
                name: Some(name),
                plan: &self.plan,
                access: &self.access,
            }
        }
    }

    /// The planner fixture planned into an empty account `account`.
    fn plan_in(account: &str, spec: &crate::spec::Spec) -> Planned {
        let live = LiveSnapshot {
            account: Some(Account {
                account_id: account.into(),
                region: "us-east-1".into(),
                partition: "aws".into(),
                caller_arn: format!("arn:aws:iam::{account}:user/ci"),
                caller_role_arn: None,
            }),
            ..LiveSnapshot::default()
        };
        let plan = plan(spec, &live, PlanOptions::default()).unwrap();
        let access = crate::access::changes(&plan);
        Planned { plan, access }
    }

    #[test]
    fn identical_changes_are_shown_once_under_every_environment_that_plans_them() {
        let spec = crate::spec::load(&fixture("fixtures/specs/envs.toml"), &Default::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let (a, b, c) = (
            plan_in("111111111111", &spec),
            plan_in("111111111111", &spec),
            plan_in("222222222222", &spec),
        );
        let plans = [a.env("dev"), b.env("qa"), c.env("prod")];
        let comment = markdown(&plans, &[], MarkdownOptions::default());
        insta::with_settings!({ snapshot_path => fixture("fixtures/snapshots") }, {
            insta::assert_snapshot!("envs_markdown_collapsed", comment);
        });
        assert!(comment.contains("the same 2 changes in 2 environments: `dev`, `qa`"));
    }

    #[test]
    fn a_small_budget_is_shared_among_the_distinct_changes() {
        let spec = crate::spec::load(&fixture("fixtures/specs/envs.toml"), &Default::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let (a, c) = (
            plan_in("111111111111", &spec),
            plan_in("222222222222", &spec),
        );
        let plans = [a.env("dev"), c.env("prod")];
        let full = markdown(&plans, &[], MarkdownOptions::default());
        let budget = full.len() * 2 / 3;
        let small = markdown(&plans, &[], MarkdownOptions { budget });
        assert!(small.len() < full.len(), "{}", small.len());
        assert!(small.contains("| `dev` |") || small.contains("| dev |"));
        assert!(small.contains("prod"));
    }

    #[test]
    fn the_json_of_several_environments_holds_each_plan_whole() {
        let spec =
            crate::spec::load(&fixture("fixtures/specs/envs.toml"), &Default::default()).unwrap();
        let (a, c) = (
            plan_in("111111111111", &spec),
            plan_in("222222222222", &spec),
        );
        let plans = [a.env("dev"), c.env("prod")];
        let json: serde_json::Value = serde_json::from_str(&json(&plans, &[])).unwrap();
        assert_eq!(json["format_version"], JSON_FORMAT_VERSION);
        let envs = json["environments"].as_array().unwrap();
        assert_eq!(envs.len(), 2);
        assert_eq!(envs[1]["name"], "prod");
        assert_eq!(envs[1]["account_id"], "222222222222");
        assert!(envs[1].get("error").is_none());
        let single: serde_json::Value =
            serde_json::from_str(&super::super::json::render(&c.plan)).unwrap();
        assert_eq!(envs[1]["plan"], single);
    }

    /// An environment that could not be planned is in every view, as not planned, with why:
    /// a document of the others alone would read as a plan of fewer environments.
    #[test]
    fn an_environment_not_planned_is_listed_with_why() {
        let spec =
            crate::spec::load(&fixture("fixtures/specs/envs.toml"), &Default::default()).unwrap();
        let dev = plan_in("111111111111", &spec);
        let plans = [dev.env("dev")];
        let failed = [EnvFailure {
            name: "prod".into(),
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
            error: "environment `prod` must be in account 222222222222".into(),
        }];
        let json: serde_json::Value = serde_json::from_str(&json(&plans, &failed)).unwrap();
        let envs = json["environments"].as_array().unwrap();
        assert_eq!(envs.len(), 2);
        assert_eq!(envs[1]["name"], "prod");
        assert!(envs[1]["plan"].is_null());
        assert_eq!(envs[1]["error"], failed[0].error);
        let table = text(&plans, &failed, TextOptions::default());
        let row = table
            .lines()
            .find(|l| l.starts_with("prod "))
            .expect(&table);
        assert!(
            row.contains("222222222222") && row.ends_with("not planned"),
            "{table}"
        );
        assert!(
            table.contains("Not planned: environment `prod` must be"),
            "{table}"
        );
        let comment = markdown(&plans, &failed, MarkdownOptions::default());
        assert!(
            comment.starts_with("### plinth plan: 2 environments, 1 not planned"),
            "{comment}"
        );
        assert!(comment.contains("#### `prod`: not planned"), "{comment}");
    }
}
