//! Views of a plan. Computing a plan and showing it are separate: every view renders the same
//! [`Plan`] value, and the same plan always renders to the same bytes.

pub mod access;
pub mod envs;
pub mod json;
pub mod markdown;
pub mod text;

use std::fmt::Write as _;

use crate::model::Value;
use crate::plan::{Action, Plan, ResourceChange, Summary};

/// `Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.`, and how many of the deletions
/// only release an existing resource (`, 1 to release`), which are not counted as destroyed.
pub fn summary_line(s: &Summary) -> String {
    let release = if s.release > 0 {
        format!(", {} to release", s.release)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy{release}.",
        s.add, s.change, s.replace, s.destroy
    )
}

/// What `release = true` does, for the line that names the resource.
const LETS_GO: &str =
    "will be released: no longer managed by this stack, its tags are removed and it stays";

/// What an update or a replacement does, for the line that names the resource: in a drift
/// report (`--refresh-only`) nothing is done, the resource has drifted.
pub fn change_verb(c: &crate::plan::ResourceChange) -> &'static str {
    use crate::plan::{Action, Reason};
    match c.action {
        _ if matches!(c.reason, Some(Reason::Drift { .. })) => "has drifted",
        Action::Update if c.lets_go() => LETS_GO,
        Action::Update => "will be updated in place",
        _ => "must be replaced",
    }
}

/// One entry of a list whose entries have ids (a bucket's CORS rules and notifications) that
/// a change adds, removes or changes.
pub struct EntryChange {
    pub action: Action,
    pub id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// For a changed entry, each field that changes: `allowed_methods = ["GET"] -> ["GET", "HEAD"]`.
    pub fields: Vec<String>,
}

/// The entries of two lists of tables that have ids, matched by id (one without an id, by
/// its content): those added, removed or changed, in the new list's order then the removed
/// ones. `None` when the lists are not such lists, or no entry has an id (they are then shown
/// whole).
pub fn entry_changes(before: &Value, after: &Value) -> Option<Vec<EntryChange>> {
    use crate::model::kinds::bucket::entry_id;
    let (Value::List(before), Value::List(after)) = (before, after) else {
        return None;
    };
    let entries = before.iter().chain(after);
    if entries.clone().any(|e| !matches!(e, Value::Map(_)))
        || !entries.clone().any(|e| entry_id(e).is_some())
    {
        return None;
    }
    const NO_ID: &str = "(no id)";
    // An entry's counterpart on the other side: by id, or (without one) an equal entry.
    let counterpart = |list: &[Value], entry: &Value| -> Option<Value> {
        match entry_id(entry) {
            Some(id) => list.iter().find(|e| entry_id(e) == Some(id)).cloned(),
            None => list
                .iter()
                .find(|e| entry_id(e).is_none() && e.equivalent(entry))
                .cloned(),
        }
    };
    let mut out = Vec::new();
    for entry in after {
        let id = entry_id(entry).unwrap_or(NO_ID).to_string();
        match counterpart(before, entry) {
            None => out.push(EntryChange {
                action: Action::Create,
                id,
                before: None,
                after: Some(entry.clone()),
                fields: Vec::new(),
            }),
            Some(old) if old.equivalent(entry) => {}
            Some(old) => {
                let fields = match (&old, entry) {
                    (Value::Map(a), Value::Map(b)) => a
                        .keys()
                        .chain(b.keys().filter(|k| !a.contains_key(*k)))
                        .filter(|k| a.get(*k) != b.get(*k))
                        .map(|k| {
                            let shown =
                                |v: Option<&Value>| v.map_or("(none)".to_string(), Value::display);
                            format!("{k} = {} -> {}", shown(a.get(k)), shown(b.get(k)))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                out.push(EntryChange {
                    action: Action::Update,
                    id,
                    before: Some(old),
                    after: Some(entry.clone()),
                    fields,
                });
            }
        }
    }
    for entry in before {
        if counterpart(after, entry).is_none() {
            out.push(EntryChange {
                action: Action::Delete,
                id: entry_id(entry).unwrap_or(NO_ID).to_string(),
                before: Some(entry.clone()),
                after: None,
                fields: Vec::new(),
            });
        }
    }
    Some(out)
}

/// What a drift report says of a resource the spec declares that is not in the account.
pub const MISSING: &str = "is missing from the account";

/// Whether a change of a drift report is a resource missing from the account.
pub fn is_missing(c: &ResourceChange) -> bool {
    c.action == Action::Delete && matches!(c.reason, Some(crate::plan::Reason::Drift { .. }))
}

/// The closing line of a drift report.
pub fn drift_line(s: &Summary) -> String {
    let n = s.change + s.replace + s.destroy;
    format!(
        "Drift: {n} resource{} differ{} from the spec.",
        if n == 1 { "" } else { "s" },
        if n == 1 { "s" } else { "" }
    )
}

/// What a delete does, for the line that names the resource: a KMS key is never deleted at
/// once, only scheduled for deletion after its window (`deletion_window_days`, read from the
/// key's tag; KMS's 30 days without one).
pub fn delete_verb(c: &crate::plan::ResourceChange) -> String {
    if c.address.kind != crate::model::Kind::Key {
        return "will be destroyed".to_string();
    }
    let days = match c.live.as_ref().and_then(|l| l.get("deletion_window_days")) {
        Some(Value::Int(days)) => *days,
        _ => crate::model::key::DEFAULT_DELETION_WINDOW_DAYS,
    };
    format!("will be scheduled for deletion in {days} days")
}

pub fn is_empty_message(plan: &Plan) -> Option<&'static str> {
    match (plan.is_empty(), plan.refresh_only, plan.destroy) {
        (false, _, _) => None,
        (true, true, _) => Some("No drift. The resources the stack owns match the spec."),
        (true, false, true) => {
            Some("No changes. The stack owns nothing in this account to destroy.")
        }
        (true, false, false) => Some("No changes. The live account matches the spec."),
    }
}

/// The line under a plan's access changes: how many rows it gains, whether any reaches outside
/// the account, and the riskiest class; `None` when it gains no access. The flag asks for the
/// reviewer's attention (red in a terminal): access outside the account, or escalation.
pub fn gains_access_message(changes: &[crate::access::GrantChange]) -> Option<(String, bool)> {
    use crate::access::{Change, Risk};
    let gained: Vec<_> = changes
        .iter()
        .filter(|c| c.change == Change::Gained)
        .collect();
    let riskiest = gained.iter().map(|c| c.grant.risk).min()?;
    let at_riskiest = gained.iter().filter(|c| c.grant.risk == riskiest).count();
    let rows = |n: usize| if n == 1 { "row" } else { "rows" };
    let reach = if riskiest <= Risk::External {
        "outside the account"
    } else {
        "inside the account"
    };
    let message = if riskiest == Risk::Internal {
        format!(
            "This plan gives new access inside the account, all of it internal ({} {}).",
            gained.len(),
            rows(gained.len())
        )
    } else {
        format!(
            "This plan gives new access {reach}, the riskiest {}: {at_riskiest} {} of {} gained; review \"Access changes\".",
            riskiest.as_str(),
            rows(at_riskiest),
            gained.len()
        )
    };
    Some((message, riskiest <= Risk::Escalation))
}

/// An `existing = true` resource: plinth manages settings on it but never creates or deletes
/// it, so its changes read differently.
pub struct Existing {
    /// The plan removes the settings plinth manages and its tags, and leaves the resource.
    pub released: bool,
    /// The settings plinth manages on it (after the change; before it, for a release).
    pub settings: Vec<String>,
}

pub fn existing(c: &ResourceChange) -> Option<Existing> {
    let side = if c.action == Action::Delete {
        c.live.as_deref()
    } else {
        c.desired.as_ref()
    }?;
    if !matches!(side.get("existing"), Some(Value::Bool(true))) {
        return None;
    }
    let settings = match side.get("manages") {
        Some(Value::Set(s)) => s.clone(),
        _ => Vec::new(),
    };
    Some(Existing {
        released: c.action == Action::Delete,
        settings,
    })
}

impl Existing {
    /// What happens to the resource, after its address: in a drift report it has drifted;
    /// `release = true` lets go of it and leaves its parts; leaving the spec removes them.
    pub fn what(&self, c: &ResourceChange) -> String {
        let kind = c.address.kind;
        if matches!(c.reason, Some(crate::plan::Reason::Drift { .. })) {
            "has drifted".to_string()
        } else if c.lets_go() {
            let parts = self.parts();
            let left = if parts.is_empty() {
                format!("the {kind} as it is")
            } else {
                format!("{} as they are", parts.join(", "))
            };
            format!(
                "will be released: no longer managed by this stack; plinth removes its own tags and leaves {left}"
            )
        } else if self.released {
            format!("will be released: plinth removes {}", self.removed(kind))
        } else {
            "will be updated in place".to_string()
        }
    }

    /// The parts plinth manages on the resource that are its own (not settings it found
    /// there), for people (`policy statement VendorDecrypt`).
    fn parts(&self) -> Vec<String> {
        let found = crate::plan::shared_bucket::found_settings(&self.settings);
        self.settings
            .iter()
            .filter(|p| {
                !crate::plan::shared_bucket::is_found(p)
                    && !crate::plan::shared_bucket::is_kept(p, &found)
            })
            .map(|p| crate::plan::shared::describe(p))
            .collect()
    }

    /// What releasing it removes, and what it leaves.
    pub fn removed(&self, kind: impl std::fmt::Display) -> String {
        let found = crate::plan::shared_bucket::found_settings(&self.settings);
        let parts = self.parts();
        let kept = if found.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = found.iter().map(|s| s.replace('_', " ")).collect();
            format!(
                ", with the {} it had before this stack",
                names.join(" and ")
            )
        };
        if parts.is_empty() {
            format!("its own tags, and leaves the {kind}{kept}")
        } else {
            format!(
                "the parts it manages ({}) and its own tags, and leaves the {kind}{kept}",
                parts.join(", ")
            )
        }
    }

    /// The parts this change starts managing (`CORS rule theirs`): a part that is already in
    /// AWS as declared, which an import writes, changes no setting and would otherwise not
    /// show in the plan at all.
    /// Empty for a resource that is not someone else's.
    pub fn taken_over(c: &ResourceChange) -> Vec<String> {
        let (before, after) = managed_parts(c);
        after
            .iter()
            .filter(|part| !before.contains(part) && !crate::plan::shared_bucket::is_found(part))
            .map(|part| crate::plan::shared::describe(part))
            .collect()
    }

    /// The settings this change stops managing, which apply removes from the resource
    /// (`public access block`): a setting left out of the spec has no attribute to show its
    /// removal, unlike a statement, CORS rule or notification, whose list shows it.
    /// Empty for a resource that is not someone else's.
    pub fn given_up(c: &ResourceChange) -> Vec<String> {
        dropped_settings(c, false)
    }

    /// Settings the stack no longer declares that it found on the resource when it took
    /// them over: letting go of them leaves them as they are now.
    pub fn let_go(c: &ResourceChange) -> Vec<String> {
        dropped_settings(c, true)
    }

    /// Attributes that are plinth's own records about the resource, kept in its tags, rather
    /// than settings: they are not shown as changes. `existing` is one while plinth takes the
    /// resource over (the live side has no record yet); once the stack owns it, a change of
    /// `existing` means plinth will no longer delete it, and is shown.
    pub fn is_record(c: &ResourceChange, attribute: &str) -> bool {
        existing(c).is_some()
            && (attribute == "manages" || (attribute == "existing" && c.take_ownership))
    }
}

/// The settings a change stops managing on someone else's resource: those it found there
/// (`kept`, which letting go leaves as they are), or the others (which apply removes).
fn dropped_settings(c: &ResourceChange, kept: bool) -> Vec<String> {
    let (before, after) = managed_parts(c);
    let found = crate::plan::shared_bucket::found_settings(&before);
    before
        .iter()
        .filter(|part| {
            part.starts_with("setting/")
                && !after.contains(part)
                && crate::plan::shared_bucket::is_kept(part, &found) == kept
        })
        .map(|part| crate::plan::shared::describe(part))
        .collect()
}

/// The parts of someone else's resource the stack manages before and after a change (its
/// `manages` record); both empty for a resource that is not someone else's.
fn managed_parts(c: &ResourceChange) -> (Vec<String>, Vec<String>) {
    let set = |v: &Option<Value>| match v {
        Some(Value::Set(parts)) => parts.clone(),
        _ => Vec::new(),
    };
    c.attributes
        .iter()
        .find(|a| a.name == crate::plan::shared::MANAGES)
        .filter(|_| existing(c).is_some())
        .map_or_else(Default::default, |m| (set(&m.before), set(&m.after)))
}

/// On a resource the stack shares: for each shared document, how many of its statements are
/// someone else's, kept as they are (`policy: 2 statements kept (not managed by this stack)`),
/// and on a bucket, how many of its CORS rules and notifications.
pub fn kept_statements(c: &ResourceChange) -> Vec<String> {
    if c.action == Action::Delete {
        return Vec::new();
    }
    if existing(c).is_none() {
        return kept_for_sharers(c);
    }
    let Some(desired) = c.desired.as_ref() else {
        return Vec::new();
    };
    let manages: Vec<String> = match desired.get("manages") {
        Some(Value::Set(s)) => s.clone(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for document in ["policy", "trust"] {
        let Some(doc) = desired.get(document).and_then(Value::as_policy) else {
            continue;
        };
        let ours: std::collections::BTreeSet<String> = manages
            .iter()
            .filter_map(|p| p.strip_prefix(document)?.strip_prefix('/'))
            .map(str::to_string)
            .collect();
        if ours.is_empty() && !manages.iter().any(|m| m.contains('/')) {
            // An existing bucket's whole settings, not statements.
            continue;
        }
        let n = crate::policy::merge::kept_statements(doc, &ours);
        if n > 0 {
            out.push(format!(
                "{document}: {n} statement{} kept (not managed by this stack)",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    for &(attribute, prefix) in crate::plan::shared_bucket::ENTRIES {
        let Some(entries) = desired.get(attribute) else {
            continue;
        };
        let n = crate::plan::shared_bucket::kept_entries(entries, prefix, &manages);
        if n > 0 {
            out.push(format!(
                "{attribute}: {n} {} kept (not managed by this stack)",
                entry_noun(attribute, n)
            ));
        }
    }
    out
}

/// On a resource the stack owns and other stacks share: the statements of its documents
/// that another stack's record holds, which the owner keeps (`policy: 1 statement kept
/// (managed by stack `tonic`)`).
fn kept_for_sharers(c: &ResourceChange) -> Vec<String> {
    let (Some(desired), Some(live)) = (c.desired.as_ref(), c.live.as_ref()) else {
        return Vec::new();
    };
    let shares = crate::model::shared::all_shares(live.get(crate::model::shared::SHARES_ATTRIBUTE));
    let mut out = Vec::new();
    for document in ["policy", "trust"] {
        let Some(doc) = desired.get(document).and_then(Value::as_policy) else {
            continue;
        };
        let sids = crate::policy::merge::sids(doc);
        for (stack, share) in &shares {
            let n = share.sids(document).filter(|s| sids.contains(*s)).count();
            if n > 0 {
                out.push(format!(
                    "{document}: {n} statement{} kept (managed by stack `{stack}`)",
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
    }
    for &(attribute, prefix) in crate::plan::shared_bucket::ENTRIES {
        let Some(Value::List(entries)) = desired.get(attribute) else {
            continue;
        };
        for (stack, share) in &shares {
            let theirs: std::collections::BTreeSet<&str> = share.with_prefix(prefix).collect();
            let n = entries
                .iter()
                .filter_map(crate::model::bucket::entry_id)
                .filter(|id| theirs.contains(id))
                .count();
            if n > 0 {
                out.push(format!(
                    "{attribute}: {n} {} kept (managed by stack `{stack}`)",
                    entry_noun(attribute, n)
                ));
            }
        }
    }
    out
}

/// A bucket's CORS rules or notifications, counted.
fn entry_noun(attribute: &str, n: usize) -> &'static str {
    match (attribute, n) {
        ("cors", 1) => "CORS rule",
        ("cors", _) => "CORS rules",
        (_, 1) => "notification",
        _ => "notifications",
    }
}

/// Policies and maps of policies as pretty JSON in their authors' spelling, continuation lines
/// indented by `indent`; everything else inline.
pub fn pretty(v: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match v {
        Value::Policy(doc) => doc
            .to_pretty()
            .trim_end()
            .replace('\n', &format!("\n{pad}")),
        Value::Map(m) if m.values().any(|v| matches!(v, Value::Policy(_))) => {
            let mut s = String::from("{");
            for (k, v) in m {
                let _ = write!(s, "\n{pad}  {k} = {}", pretty(v, indent + 4));
            }
            let _ = write!(s, "\n{pad}}}");
            s
        }
        other => other.display(),
    }
}
