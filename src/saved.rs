//! Saved plans: `plinth plan --out FILE` writes one, `plinth apply FILE` applies exactly it.
//! One file holds the plan of every environment planned together, each bound to its account.
//!
//! A saved plan is bound to the account, region, the hashes of every file of the spec and the
//! plinth version. Before applying, plinth plans again from the spec and the live account: the
//! plan is deterministic, so the new plan equals the saved one unless something moved. Any
//! difference refuses the whole plan before anything is changed. A checksum over the file
//! catches hand edits with a clearer message.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Sensitive, Value};
use crate::plan::Plan;
use crate::spec::{self, InputFile, Spec};
use crate::state::Account;

/// 2: a plan per environment (`environments`), and the `--var-file`s planned with. 3: each
/// warning carries its code (`plan::Warning`).
pub const SAVED_FORMAT_VERSION: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub plinth_version: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// The spec file as it was named when planning; apply loads it from the same place.
    pub spec: String,
    /// Every file the spec is made of (var files included), with its SHA-256.
    pub inputs: Vec<InputFile>,
    /// `--var` overrides given when planning, as `(NAME, SALT:HASH)`: a variable may carry a
    /// secret, so apply takes the same `--var`s again and checks them against these.
    pub var_overrides: Vec<(String, String)>,
    /// `PLINTH_VAR_NAME` variables set when planning, as `(NAME, SALT:HASH)`: apply finds
    /// them in its own environment, and one set otherwise (a `PLINTH_VAR_env` left in a
    /// pipeline) would apply the plan as another environment's stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<(String, String)>,
    /// `--var-file`s given when planning: apply reads them again (their hashes are in `inputs`).
    #[serde(default)]
    pub var_files: Vec<String>,
    /// The directory `plinth plan` ran in, which the spec's and var files' paths are relative
    /// to: apply runs there, wherever it is started from. (Absent in files of earlier versions.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// One plan per environment, in the order planned; one entry without a name for a spec
    /// without environments.
    pub environments: Vec<SavedEnvironment>,
    /// SHA-256 of the document without this field.
    #[serde(default)]
    pub checksum: String,
}

/// The plan of one environment, bound to the account and region it was made in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedEnvironment {
    /// The `[env.NAME]`; `None` for a spec without environments.
    pub env: Option<String>,
    pub plan: Plan,
    /// A salted hash of each secret in the plan, by where it is (`ADDRESS ATTRIBUTE KEY`): apply
    /// reads the secret again from its source and checks that it is still the one reviewed.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the plan file `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the plan file `{0}` was modified after plinth wrote it")]
    Tampered(String),
    #[error("the plan file `{path}` has format version {found}; this plinth reads version {SAVED_FORMAT_VERSION}")]
    Version { path: String, found: u32 },
}

impl SavedPlan {
    /// A saved plan of each `(spec, plan)`: the spec loaded for one environment and its plan.
    pub fn new(
        stacks: &[(&Spec, &Plan)],
        var_overrides: &[(String, String)],
        env_vars: &[(String, String)],
        var_files: &[PathBuf],
    ) -> SavedPlan {
        let salted = |vars: &[(String, String)]| -> Vec<(String, String)> {
            vars.iter()
                .filter_map(|(name, value)| {
                    Some((
                        name.clone(),
                        Sensitive::new(value.clone()).salted_hash(&new_salt())?,
                    ))
                })
                .collect()
        };
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut saved = SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            plinth_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            spec: stacks
                .first()
                .map(|(spec, _)| spec.file.name.clone())
                .unwrap_or_default(),
            inputs: stacks.iter().fold(Vec::new(), |mut all, (spec, _)| {
                for input in &spec.inputs {
                    if !all.contains(input) {
                        all.push(input.clone());
                    }
                }
                all
            }),
            var_overrides: salted(var_overrides),
            env_vars: salted(env_vars),
            var_files: var_files.iter().map(|p| p.display().to_string()).collect(),
            directory: std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string()),
            environments: stacks
                .iter()
                .map(|(spec, plan)| SavedEnvironment {
                    env: spec.stack.env.as_ref().map(|e| e.name.clone()),
                    plan: with_secrets_marked((*plan).clone()),
                    secrets: secrets(plan)
                        .into_iter()
                        .filter_map(|(at, s)| Some((at, s.salted_hash(&new_salt())?)))
                        .collect(),
                })
                .collect(),
            checksum: String::new(),
        };
        saved.checksum = saved.compute_checksum();
        saved
    }

    /// The plan of a shard that holds no environment of the spec at `spec`: applying it does
    /// nothing, and `show --merge` takes it beside the other shards' files. Its variables are
    /// not recorded: nothing of it depends on them.
    pub fn new_empty(spec: &Path) -> SavedPlan {
        let mut saved = SavedPlan::new(&[], &[], &[], &[]);
        saved.spec = spec.display().to_string();
        saved.checksum = saved.compute_checksum();
        saved
    }

    fn compute_checksum(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.checksum = String::new();
        let json = serde_json::to_vec(&unsigned).unwrap_or_default();
        crate::spec::sha256_hex(&json)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        json.push('\n');
        std::fs::write(path, json)
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let name = path.display().to_string();
        let unreadable = |reason: String| SavedPlanError::Unreadable {
            path: name.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let found = raw
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as u32;
        if found != SAVED_FORMAT_VERSION {
            return Err(SavedPlanError::Version { path: name, found });
        }
        let saved: SavedPlan =
            serde_json::from_value(raw).map_err(|_| SavedPlanError::Tampered(name.clone()))?;
        if saved.checksum != saved.compute_checksum() {
            return Err(SavedPlanError::Tampered(name));
        }
        Ok(saved)
    }

    /// Why the `--var`s given to apply, and the `PLINTH_VAR_*` variables of its environment
    /// (`env`), are not those the plan was made with.
    pub fn var_differences(
        &self,
        given: &[(String, String)],
        env: &[(String, String)],
    ) -> Vec<String> {
        let mut out = Vec::new();
        // The file of an empty shard applies nothing, whatever the variables.
        let env = if self.environments.is_empty() {
            &[]
        } else {
            env
        };
        for (name, salted) in &self.env_vars {
            match env.iter().find(|(n, _)| n == name) {
                None => out.push(format!(
                    "PLINTH_VAR_{name} was set when the plan was made, and is not now"
                )),
                Some((_, value)) if !Sensitive::new(value.clone()).matches_salted_hash(salted) => {
                    out.push(format!(
                        "PLINTH_VAR_{name} has another value than when the plan was made"
                    ))
                }
                Some(_) => {}
            }
        }
        for (name, _) in env {
            if !self.env_vars.iter().any(|(n, _)| n == name) {
                out.push(format!(
                    "PLINTH_VAR_{name} is set, and was not when the plan was made"
                ));
            }
        }
        for (name, salted) in &self.var_overrides {
            match given.iter().rev().find(|(n, _)| n == name) {
                None => out.push(format!(
                    "the plan was made with --var {name}=...; pass it again"
                )),
                Some((_, value)) if !Sensitive::new(value.clone()).matches_salted_hash(salted) => {
                    out.push(format!(
                        "--var {name} has another value than when the plan was made"
                    ))
                }
                Some(_) => {}
            }
        }
        for (name, _) in given {
            if !self.var_overrides.iter().any(|(n, _)| n == name) {
                out.push(format!("--var {name} was not given when the plan was made"));
            }
        }
        out
    }

    /// Spec files whose content, as loading the spec again found it (`loaded`: the inputs of
    /// each environment's spec applied), is not what it was when planning, or that planning
    /// did not read. A file planning read and loading did not is another environment's (a var
    /// file of one not chosen): which files a load reads follows from the files it read and
    /// the variables, both checked.
    pub fn changed_inputs_of<'a>(
        &self,
        loaded: impl IntoIterator<Item = &'a InputFile>,
    ) -> Vec<String> {
        let mut changed: Vec<String> = loaded
            .into_iter()
            .filter(|l| !self.inputs.contains(l))
            .map(|l| l.path.clone())
            .collect();
        changed.dedup();
        changed
    }

    /// Spec files whose content is not what it was when planning, read from disk: for a spec
    /// that no longer loads.
    pub fn changed_inputs(&self) -> Vec<String> {
        self.inputs
            .iter()
            .filter(|input| {
                // A code directory is recorded as the hash of its deterministic archive.
                let path = Path::new(&input.path);
                let bytes = if path.is_dir() {
                    crate::archive::zip_directory(path)
                } else {
                    std::fs::read(path)
                };
                bytes.map_or(true, |b| spec::sha256_hex(&b) != input.sha256)
            })
            .map(|input| input.path.clone())
            .collect()
    }

    /// The plans, environment by environment.
    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.environments.iter().map(|e| &e.plan)
    }

    /// The saved plan of environment `env` (`None`: the spec without environments).
    pub fn environment(&self, env: Option<&str>) -> Option<&SavedEnvironment> {
        self.environments.iter().find(|e| e.env.as_deref() == env)
    }
}

impl SavedEnvironment {
    /// The secrets of `now` (a plan made just before applying) that are not the ones of the
    /// saved plan (a `PLINTH_VAR_*` or `--var` given differently to apply), by where they are.
    /// Secrets are serialized as `(sensitive)`; each is checked against its salted hash.
    pub fn secret_differences(&self, now: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        let now_secrets = secrets(now);
        for (at, salted) in &self.secrets {
            if !now_secrets
                .get(at)
                .is_some_and(|s| s.matches_salted_hash(salted))
            {
                out.push(format!("{at}: the secret is not the one in the plan"));
            }
        }
        for at in now_secrets
            .keys()
            .filter(|at| !self.secrets.contains_key(*at))
        {
            out.push(format!("{at}: a secret that is not in the plan"));
        }
        out
    }

    /// Why `now` is not the saved plan, resource by resource, secrets aside; or that the
    /// account or region is another.
    pub fn account_differences(&self, account: &Account, now: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        let saved = &self.plan;
        // The stack's name makes its ownership tags, lock and index: the same changes under
        // another name would take another environment's resources.
        if saved.stack != now.stack {
            out.push(format!(
                "the plan is for stack `{}`, but the spec now names stack `{}` (a variable differs)",
                saved.stack, now.stack
            ));
            return out;
        }
        if saved.account.account_id != account.account_id || saved.account.region != account.region
        {
            out.push(format!(
                "the plan is for account {} in {}, but plinth is connected to account {} in {}",
                saved.account.account_id, saved.account.region, account.account_id, account.region
            ));
            return out;
        }
        // What the plan does, not all that AWS held: `live` also holds what the spec leaves
        // unmanaged (a tag an account's auto-tagging adds, a queue's retention), which changes
        // nothing apply does. A change to what is managed shows in the attributes that differ,
        // or in the action.
        let as_json = |c: &crate::plan::ResourceChange| {
            let mut json = serde_json::to_value(c).unwrap_or_default();
            if let Some(fields) = json.as_object_mut() {
                fields.remove("live");
            }
            json
        };
        for change in &saved.changes {
            match now.change(&change.address) {
                None => out.push(format!("{}: no longer part of the plan", change.address)),
                Some(current) if as_json(current) != as_json(change) => {
                    let what = if current.action != change.action {
                        let now = match current.action {
                            crate::plan::Action::NoOp => "needs no change".to_string(),
                            other => format!("needs {}", other.as_str()),
                        };
                        format!("was planned as {}, now {now}", change.action.as_str())
                    } else {
                        match differing_attributes(change, current).as_slice() {
                            [] => "its live state changed since the plan".to_string(),
                            names => format!(
                                "its {} changed since the plan",
                                names
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    };
                    out.push(format!("{}: {what}", change.address));
                }
                Some(_) => {}
            }
        }
        for change in &now.changes {
            if saved.change(&change.address).is_none() {
                out.push(format!(
                    "{}: appeared since the plan ({})",
                    change.address,
                    change.action.as_str()
                ));
            }
        }
        out
    }
}

/// The attributes whose planned change differs between two plans of one resource: in one and
/// not the other, or from or to another value.
fn differing_attributes<'a>(
    saved: &'a crate::plan::ResourceChange,
    now: &'a crate::plan::ResourceChange,
) -> Vec<&'a str> {
    let as_json = |c: &crate::plan::AttributeChange| serde_json::to_value(c).unwrap_or_default();
    let mut names: Vec<&str> = saved
        .attributes
        .iter()
        .chain(&now.attributes)
        .map(|a| a.name.as_str())
        .filter(|name| {
            let find = |c: &'a crate::plan::ResourceChange| {
                c.attributes.iter().find(|a| a.name == *name).map(as_json)
            };
            find(saved) != find(now)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Every secret in a plan's desired attributes, by `ADDRESS ATTRIBUTE[ KEY]`.
fn secrets(plan: &Plan) -> BTreeMap<String, &Sensitive> {
    fn walk<'a>(at: String, value: &'a Value, out: &mut BTreeMap<String, &'a Sensitive>) {
        match value {
            Value::Sensitive(s) => {
                out.insert(at, s);
            }
            Value::Map(m) => m
                .iter()
                .for_each(|(k, v)| walk(format!("{at} {k}"), v, out)),
            Value::List(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(format!("{at} {i}"), v, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for change in &plan.changes {
        for (name, value) in change.desired.iter().flatten() {
            walk(format!("{} {name}", change.address), value, &mut out);
        }
    }
    out
}

/// A fresh random salt, so that equal secrets hash differently and no table of precomputed
/// hashes applies.
fn new_salt() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS's randomness the salt is still unique to this moment and process.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&now.as_nanos().to_le_bytes()[..8]);
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    hex::encode(bytes)
}

/// The plan with each secret on the new side of a change marked with whether it differs from
/// the live one: the saved plan holds neither, and `plinth show` must say what `plan` said.
fn with_secrets_marked(mut plan: Plan) -> Plan {
    for change in &mut plan.changes {
        for attribute in &mut change.attributes {
            if let Some(after) = &mut attribute.after {
                after.mark_secrets_against(attribute.before.as_ref());
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str, sha256: &str) -> InputFile {
        InputFile {
            path: path.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn inputs_are_compared_with_what_loading_recorded() {
        let saved = SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            plinth_version: String::new(),
            created_at: 0,
            spec: "plinth.toml".into(),
            inputs: vec![input("plinth.toml", "1"), input("trust.json", "2")],
            var_overrides: Vec::new(),
            env_vars: Vec::new(),
            var_files: Vec::new(),
            directory: None,
            environments: Vec::new(),
            checksum: String::new(),
        };
        let same = [input("trust.json", "2"), input("plinth.toml", "1")];
        assert!(saved.changed_inputs_of(&same).is_empty());
        let edited = [
            input("plinth.toml", "1"),
            input("trust.json", "3"),
            input("extra.json", "4"),
        ];
        assert_eq!(
            saved.changed_inputs_of(&edited),
            ["trust.json", "extra.json"]
        );
        // The var file of an environment not applied now.
        assert!(saved.changed_inputs_of(&same[1..]).is_empty());
    }
}
