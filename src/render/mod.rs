//! Views of a plan. Computing a plan and showing it are separate: every view renders the same
//! [`Plan`] value, and the same plan always renders to the same bytes.

pub mod access;
pub mod json;
pub mod markdown;
pub mod text;

use crate::plan::{Plan, Summary};

/// `Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.`
pub fn summary_line(s: &Summary) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        s.add, s.change, s.replace, s.destroy
    )
}

pub fn is_empty_message(plan: &Plan) -> Option<&'static str> {
    match (plan.is_empty(), plan.refresh_only) {
        (false, _) => None,
        (true, false) => Some("No changes. The live account matches the spec."),
        (true, true) => Some("No drift. The resources the stack owns match the spec."),
    }
}
