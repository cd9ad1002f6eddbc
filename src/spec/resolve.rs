//! Turning spec templates into values: variables, account facts and other resources'
//! attributes. Deterministic attributes (an ARN built from a name) are known before anything
//! exists; the rest come from live state or are "known after apply".

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::hash::FastMap;
use crate::model::{Address, Pending, Value};
use crate::policy::PolicyDocument;
use crate::spec::template::{self, AwsFact, Reference};
use crate::spec::{PolicyTemplate, Spec, Text};
use crate::state::Account;
use crate::state::LiveSnapshot;

/// An attribute of a resource and its value, `None` when known only after apply.
type Export = (String, Option<String>);

pub struct Resolver<'a> {
    spec: &'a Spec,
    account: &'a Account,
    live: Option<&'a LiveSnapshot>,
    /// Exports computed so far. The loader refuses cycles, but the resolver does not rely on
    /// it: an export asked for while it is being computed is a cycle, answered as unknown and
    /// recorded in `cycles`, never a recursion without end.
    /// By address, then by attribute: a resource has a few exports, found by a short search.
    /// Hashed, not sorted: nothing walks it in order, and a 10,000-resource plan looks up
    /// tens of thousands of references.
    exports: RefCell<FastMap<Address, Vec<Export>>>,
    computing: RefCell<BTreeSet<(Address, String)>>,
    cycles: RefCell<Vec<(Address, String)>>,
}

/// The document of a stand-in for a policy that failed to load.
static NO_DOCUMENT: serde_json::Value = serde_json::Value::Null;

impl<'a> Resolver<'a> {
    pub fn new(spec: &'a Spec, account: &'a Account, live: Option<&'a LiveSnapshot>) -> Self {
        Self {
            spec,
            account,
            live,
            exports: RefCell::default(),
            computing: RefCell::default(),
            cycles: RefCell::default(),
        }
    }

    /// The exports found to depend on themselves so far (`role.r`'s `name` made of
    /// `${role.r.name}`), in the order they were found.
    pub fn cycles(&self) -> Vec<(Address, String)> {
        self.cycles.borrow().clone()
    }

    /// The value of one reference, or `None` when it is known only after apply.
    pub fn lookup(&self, reference: &Reference) -> Option<String> {
        match reference {
            Reference::Var(name) => {
                let var = self.spec.vars.get(name)?;
                match AwsFact::of_var(&var.value) {
                    Some(fact) => self.lookup(&Reference::Aws(fact)),
                    None => Some(var.value.clone()),
                }
            }
            Reference::Aws(AwsFact::CallerArn) => Some(self.account.caller_principal()),
            Reference::Aws(AwsFact::AccountId) => Some(self.account.account_id.clone()),
            Reference::Aws(AwsFact::Region) => Some(self.account.region.clone()),
            Reference::Aws(AwsFact::Partition) => Some(self.account.partition.clone()),
            Reference::Resource { address, attribute } => self.export(address, attribute),
        }
    }

    fn export(&self, address: &Address, attribute: &str) -> Option<String> {
        // Looked up without building a key: most lookups find an export computed before.
        if let Some((_, v)) = self
            .exports
            .borrow()
            .get(address)
            .and_then(|of| of.iter().find(|(a, _)| a == attribute))
        {
            return v.clone();
        }
        let key = (address.clone(), attribute.to_string());
        if !self.computing.borrow_mut().insert(key.clone()) {
            self.cycles.borrow_mut().push(key);
            return None;
        }
        let value = self.compute_export(address, attribute);
        self.computing.borrow_mut().remove(&key);
        let (address, attribute) = key;
        self.exports
            .borrow_mut()
            .entry(address)
            .or_default()
            .push((attribute, value.clone()));
        value
    }

    fn compute_export(&self, address: &Address, attribute: &str) -> Option<String> {
        let resource = self.spec.resources.get(address)?;
        let live = self.live.and_then(|l| l.by_address.get(address));
        resource.body.export(attribute, self, live)
    }

    pub fn account(&self) -> &Account {
        self.account
    }

    /// A template's text, if every reference in it is known.
    pub fn text(&self, text: &Text) -> Option<String> {
        template::render(&text.pieces, |r| self.lookup(r))
    }

    /// A template as a plan value: a string, or pending until apply.
    pub fn value(&self, text: &Text) -> Value {
        // Most values are known: rendered once, with the template for the pending ones only.
        if let Some(known) = self.text(text) {
            return Value::Str(known);
        }
        Value::Unknown(Pending {
            template: template::render_partial(&text.pieces, |r| self.lookup(r)).0,
            policy: false,
        })
    }

    /// A policy with its references filled in and parsed. A document whose substituted values
    /// break the policy grammar is an error that points at the policy.
    pub fn policy(&self, policy: &PolicyTemplate) -> Result<Value, Diagnostic> {
        if let Some(held) = policy.held_once() {
            return Ok(Value::Policy(std::sync::Arc::clone(held)));
        }
        if let Some(parsed) = &policy.parsed {
            let rendered: Option<Vec<(&str, String)>> = policy
                .templated
                .iter()
                .map(|(raw, pieces)| {
                    Some((raw.as_str(), template::render(pieces, |r| self.lookup(r))?))
                })
                .collect();
            // A reference not known yet, or a value the grammar refuses: the general path
            // below says which.
            let filled = rendered.and_then(|rendered| {
                parsed.map_values(|s| {
                    rendered
                        .iter()
                        .find(|(raw, _)| *raw == s)
                        .map_or_else(|| s.to_string(), |(_, v)| v.clone())
                })
            });
            if let Some(doc) = filled {
                return Ok(Value::policy(doc));
            }
        }
        // Usually every reference is known: one pass fills them in. Otherwise a second pass
        // writes the pending form, with the known ones filled in and the others kept.
        let mut complete = true;
        // Kept as written whenever it gets here: only a parsed document with no reference is
        // not, and it was answered above. A stand-in for one that failed to load has neither.
        let written = policy.json.as_ref().unwrap_or(&NO_DOCUMENT);
        let json = substitute(written, &mut |s: &str| match policy
            .templated
            .iter()
            .find(|(raw, _)| raw == s)
        {
            None => s.to_string(),
            Some((_, pieces)) => {
                template::render(pieces, |r| self.lookup(r)).unwrap_or_else(|| {
                    complete = false;
                    String::new()
                })
            }
        });
        if !complete {
            let partial_json = substitute(written, &mut |s: &str| match policy
                .templated
                .iter()
                .find(|(raw, _)| raw == s)
            {
                None => s.replace("${", "$${"),
                Some((_, pieces)) => template::render_partial(pieces, |r| self.lookup(r)).0,
            });
            let template = serde_json::to_string(&partial_json).unwrap_or_default();
            return Ok(Value::Unknown(Pending {
                template,
                policy: true,
            }));
        }
        policy_value(&json).map(Value::policy).map_err(|e| {
            Diagnostic::error(
                Code::PolicyInvalid,
                format!(
                    "after substituting references, the policy is invalid: {}",
                    e.message
                ),
            )
            .at_location(Some(policy.location.clone()))
            .hint("check the values of the variables and references used in this policy")
        })
    }
}

impl Resolver<'_> {
    /// A policy value; a policy that resolves to something invalid is reported in `diags`.
    pub fn policy_or_report(&self, policy: &PolicyTemplate, diags: &mut Diagnostics) -> Value {
        self.policy(policy).unwrap_or_else(|d| {
            diags.push(d);
            Value::Unknown(Pending {
                template: String::new(),
                policy: true,
            })
        })
    }

    /// A list of templates as an unordered set; pending if any member is.
    pub fn set(&self, items: &[Text]) -> Value {
        match items
            .iter()
            .map(|t| self.text(t))
            .collect::<Option<Vec<String>>>()
        {
            Some(values) => Value::set(values),
            None => Value::Unknown(Pending {
                template: items
                    .iter()
                    .map(|t| t.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                policy: false,
            }),
        }
    }

    /// A map of templates (tags, environment variables).
    pub fn map(&self, items: &BTreeMap<String, Text>) -> Value {
        Value::Map(
            items
                .iter()
                .map(|(k, v)| (k.clone(), self.value(v)))
                .collect(),
        )
    }
}

fn policy_value(json: &serde_json::Value) -> Result<PolicyDocument, crate::policy::PolicyError> {
    PolicyDocument::from_value(json)
}

/// Fills a pending value in once the resources it refers to exist; `lookup` answers for
/// resource attributes (everything else was filled in at plan time).
pub fn fill_pending(
    pending: &Pending,
    lookup: impl Fn(&Reference) -> Option<String>,
) -> Result<Value, String> {
    let render = |s: &str| -> Result<String, String> {
        let pieces = template::parse(s).map_err(|e| e.message)?;
        template::render(&pieces, &lookup).ok_or_else(|| format!("`{s}` is still not known"))
    };
    if !pending.policy {
        return render(&pending.template).map(Value::Str);
    }
    let json: serde_json::Value =
        serde_json::from_str(&pending.template).map_err(|e| e.to_string())?;
    let mut failure = None;
    let filled = substitute(&json, &mut |s: &str| {
        render(s).unwrap_or_else(|e| {
            failure.get_or_insert(e);
            s.to_string()
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    policy_value(&filled)
        .map(Value::policy)
        .map_err(|e| e.message)
}

/// Rebuilds a JSON value with every string (keys included) passed through `f`.
fn substitute(json: &serde_json::Value, f: &mut impl FnMut(&str) -> String) -> serde_json::Value {
    use serde_json::Value as J;
    match json {
        J::String(s) => J::String(f(s)),
        J::Array(items) => J::Array(items.iter().map(|i| substitute(i, f)).collect()),
        J::Object(m) => J::Object(m.iter().map(|(k, v)| (f(k), substitute(v, f))).collect()),
        other => other.clone(),
    }
}
