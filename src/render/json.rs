//! The plan as documented JSON (docs/plan-format.md). Its shape is a public interface: any
//! change to it bumps [`JSON_FORMAT_VERSION`].

use serde::Serialize;
use serde_json::{json, Value as J};

use crate::model::Value;
use crate::plan::{Plan, ResourceChange};
use crate::policy::{AccessChange, PolicyDiff};

pub const JSON_FORMAT_VERSION: u32 = 1;

pub fn render(plan: &Plan) -> String {
    let mut out = serde_json::to_string_pretty(&document(plan)).unwrap_or_default();
    out.push('\n');
    out
}

pub fn document(plan: &Plan) -> J {
    let summary = plan.summary();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "plinth_version": env!("CARGO_PKG_VERSION"),
        "stack": plan.stack,
        "mode": if plan.refresh_only { "refresh_only" } else if plan.destroy { "destroy" } else { "normal" },
        "account": { "account_id": plan.account.account_id, "region": plan.account.region },
        "summary": summary,
        "resources": plan.changes.iter().map(resource).collect::<Vec<_>>(),
        "outputs": plan.outputs.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<serde_json::Map<_, _>>(),
        "warnings": plan.warnings,
        "access_changes": crate::access::changes(plan),
    })
}

#[derive(Serialize)]
struct AttributeJson<'a> {
    attribute: &'a str,
    before: Option<J>,
    after: Option<J>,
    forces_replacement: bool,
}

fn value(v: &Option<Value>) -> Option<J> {
    v.as_ref().map(Value::to_json)
}

fn resource(c: &ResourceChange) -> J {
    let changes: Vec<AttributeJson<'_>> = if c.is_change() {
        c.attributes
            .iter()
            .map(|a| AttributeJson {
                attribute: &a.name,
                before: value(&a.before),
                after: value(&a.after),
                forces_replacement: a.forces_replacement,
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "address": c.address.to_string(),
        "kind": c.address.kind.as_str(),
        "name": c.address.name,
        "physical_id": c.physical_id,
        "action": c.action.as_str(),
        "action_reason": c.reason,
        "replaces": c.replaces,
        "changes": changes,
        "policy_changes": c.policy_diffs().iter().map(|(name, d)| policy_change(name, d)).collect::<Vec<_>>(),
        "lints": c.lints,
        "depends_on": c.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn policy_change(name: &str, d: &PolicyDiff) -> J {
    json!({
        "policy": name,
        "access": d.access,
        "widens_access": matches!(d.access, AccessChange::Widens | AccessChange::Mixed),
        "statements": d.statements.iter().map(|s| json!({
            "statement": s.label,
            "change": s.kind,
            "access": s.access,
            "before": s.before,
            "after": s.after,
            "diff": s.unified,
        })).collect::<Vec<_>>(),
        "fields": d.fields.iter().map(|f| json!({ "field": f.field, "before": f.before, "after": f.after })).collect::<Vec<_>>(),
    })
}
