//! The plan as documented JSON (docs/plan-format.md). Its shape is a public interface, written
//! down here as types: any change to it bumps [`JSON_FORMAT_VERSION`], and a test holds these
//! types and the documentation to each other.

use serde::Serialize;
use serde_json::Value as J;

use crate::access::GrantChange;
use crate::model::Value;
use crate::plan::{Plan, PolicyFinding, ResourceChange, Summary};
use crate::policy::{AccessChange, ChangeKind, PolicyDiff};

/// 2: several environments planned together print one document with an `environments` array
/// (docs/plan-format.md, "Several environments"); a single plan's shape is unchanged.
pub const JSON_FORMAT_VERSION: u32 = 2;

pub fn render(plan: &Plan) -> String {
    render_with(plan, &crate::access::changes(plan))
}

/// `render`, with the plan's access changes already computed.
pub fn render_with(plan: &Plan, access: &[GrantChange]) -> String {
    let mut out =
        serde_json::to_string_pretty(&JsonPlan::with_access(plan, access)).unwrap_or_default();
    out.push('\n');
    out
}

/// The whole document.
#[derive(Debug, Serialize)]
pub struct JsonPlan<'a> {
    pub format_version: u32,
    pub plinth_version: &'static str,
    pub stack: &'a str,
    pub mode: Mode,
    pub account: JsonAccount<'a>,
    pub summary: Summary,
    pub resources: Vec<JsonResource<'a>>,
    /// In the spec's order.
    pub outputs: serde_json::Map<String, J>,
    /// Each warning's rendered text.
    pub warnings: Vec<&'a str>,
    /// Access gained and lost, from every policy together (crate::access).
    pub access_changes: &'a [GrantChange],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Normal,
    Destroy,
    RefreshOnly,
}

#[derive(Debug, Serialize)]
pub struct JsonAccount<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
}

/// One resource of the plan, no-ops included.
#[derive(Debug, Serialize)]
pub struct JsonResource<'a> {
    pub address: String,
    pub kind: &'static str,
    pub name: &'a str,
    pub physical_id: &'a str,
    /// The action's name; a delete that only lets go of someone else's resource is `release`.
    pub action: &'static str,
    pub action_reason: Option<String>,
    pub replaces: Option<&'a str>,
    pub changes: Vec<JsonAttributeChange<'a>>,
    pub policy_changes: Vec<JsonPolicyChange>,
    pub lints: &'a [PolicyFinding],
    pub depends_on: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonAttributeChange<'a> {
    pub attribute: &'a str,
    pub before: Option<J>,
    pub after: Option<J>,
    pub forces_replacement: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonPolicyChange {
    pub policy: String,
    pub access: AccessChange,
    pub widens_access: bool,
    pub statements: Vec<JsonStatementChange>,
    pub fields: Vec<JsonFieldChange>,
}

#[derive(Debug, Serialize)]
pub struct JsonStatementChange {
    pub statement: String,
    pub change: ChangeKind,
    pub access: AccessChange,
    pub before: Option<String>,
    pub after: Option<String>,
    pub diff: String,
}

#[derive(Debug, Serialize)]
pub struct JsonFieldChange {
    pub field: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl<'a> JsonPlan<'a> {
    pub fn with_access(plan: &'a Plan, access_changes: &'a [GrantChange]) -> Self {
        let mode = if plan.refresh_only {
            Mode::RefreshOnly
        } else if plan.destroy {
            Mode::Destroy
        } else {
            Mode::Normal
        };
        JsonPlan {
            format_version: JSON_FORMAT_VERSION,
            plinth_version: env!("CARGO_PKG_VERSION"),
            stack: &plan.stack,
            mode,
            account: JsonAccount {
                account_id: &plan.account.account_id,
                region: &plan.account.region,
            },
            summary: plan.summary(),
            resources: plan
                .changes
                .iter()
                .map(|c| JsonResource::of(c, &plan.account.account_id))
                .collect(),
            outputs: plan
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            warnings: plan.warnings.iter().map(|w| w.text.as_str()).collect(),
            access_changes,
        }
    }
}

fn value(v: &Option<Value>) -> Option<J> {
    v.as_ref().map(Value::to_json)
}

impl<'a> JsonResource<'a> {
    fn of(c: &'a ResourceChange, account: &str) -> Self {
        let changes = if c.is_change() {
            c.attributes
                .iter()
                .map(|a| JsonAttributeChange {
                    attribute: &a.name,
                    before: value(&a.before),
                    after: a
                        .after
                        .as_ref()
                        .map(|after| after.to_json_against(a.before.as_ref())),
                    forces_replacement: a.forces_replacement,
                })
                .collect()
        } else {
            Vec::new()
        };
        JsonResource {
            address: c.address.to_string(),
            kind: c.address.kind.as_str(),
            name: &c.address.name,
            physical_id: &c.physical_id,
            action: if c.releases() || c.lets_go() {
                "release"
            } else {
                c.action.as_str()
            },
            action_reason: c.reason.as_ref().map(ToString::to_string),
            replaces: c.replaces.as_deref(),
            changes,
            policy_changes: c
                .policy_diffs(account)
                .iter()
                .map(|(name, d)| JsonPolicyChange::of(name, d))
                .collect(),
            lints: &c.lints,
            depends_on: c.depends_on.iter().map(ToString::to_string).collect(),
        }
    }
}

impl JsonPolicyChange {
    fn of(name: &str, d: &PolicyDiff) -> Self {
        JsonPolicyChange {
            policy: name.to_string(),
            access: d.access,
            widens_access: matches!(d.access, AccessChange::Widens | AccessChange::Mixed),
            statements: d
                .statements
                .iter()
                .map(|s| JsonStatementChange {
                    statement: s.label.clone(),
                    change: s.kind,
                    access: s.access,
                    before: s.before.clone(),
                    after: s.after.clone(),
                    diff: s.unified.clone(),
                })
                .collect(),
            fields: d
                .fields
                .iter()
                .map(|f| JsonFieldChange {
                    field: f.field,
                    before: f.before.clone(),
                    after: f.after.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::plan::{plan, PlanOptions};

    fn fixture(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    /// The field names in the first column of the table under `heading` in docs/plan-format.md
    /// (`kind`, `name` in one cell are two fields).
    fn documented_fields(doc: &str, heading: &str) -> BTreeSet<String> {
        let section = doc
            .split_once(heading)
            .unwrap_or_else(|| panic!("docs/plan-format.md has no `{heading}`"))
            .1;
        section
            .lines()
            .skip_while(|l| !l.starts_with("| field"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .flat_map(|l| {
                let cell = l.split('|').nth(1).unwrap_or_default();
                cell.split(',')
                    .map(|f| f.trim().trim_matches('`').to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn keys(v: &J) -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    }

    /// The JSON plan has exactly the fields docs/plan-format.md documents, at every level, and
    /// the example document there has the same top-level fields and format version.
    #[test]
    fn the_json_plan_is_the_documented_format() {
        let doc = std::fs::read_to_string(fixture("docs/plan-format.md")).unwrap();
        let spec = crate::spec::load(&fixture("fixtures/specs/planner.toml"), &Default::default())
            .unwrap();
        let live: crate::state::LiveSnapshot = serde_json::from_str(
            &std::fs::read_to_string(fixture("fixtures/live/planner.json")).unwrap(),
        )
        .unwrap();
        let plan = plan(&spec, &live, PlanOptions::default()).unwrap();
        let json: J = serde_json::from_str(&render(&plan)).unwrap();

        assert_eq!(
            keys(&json),
            documented_fields(&doc, "Current `format_version`")
        );
        let example = doc
            .split_once("```json\n")
            .and_then(|(_, rest)| rest.split_once("```"))
            .map(|(example, _)| example.replace("[ ... ]", "[]"))
            .expect("docs/plan-format.md has an example");
        let example: J = serde_json::from_str(&example).expect("the example is JSON");
        assert_eq!(keys(&example), keys(&json));
        assert_eq!(example["format_version"], JSON_FORMAT_VERSION);
        assert!(doc.contains(&format!(
            "Current `format_version`: **{JSON_FORMAT_VERSION}**"
        )));
        assert_eq!(keys(&example["summary"]), keys(&json["summary"]));

        let resources = json["resources"].as_array().unwrap();
        let resource_fields = documented_fields(&doc, "## A resource");
        let policy_fields = documented_fields(&doc, "### A policy change");
        let mut policy_changes = 0;
        for resource in resources {
            assert_eq!(keys(resource), resource_fields, "{resource}");
            for change in resource["policy_changes"].as_array().unwrap() {
                policy_changes += 1;
                assert_eq!(keys(change), policy_fields);
            }
        }
        assert!(
            resources.iter().any(|r| r["action"] != "no-op") && policy_changes > 0,
            "the fixture must exercise changes and policy changes"
        );
        let access_fields = documented_fields(&doc, "## An access change");
        let access_changes = json["access_changes"].as_array().unwrap();
        assert!(!access_changes.is_empty(), "the fixture must change access");
        for change in access_changes {
            assert_eq!(keys(change), access_fields, "{change}");
        }
    }
}
