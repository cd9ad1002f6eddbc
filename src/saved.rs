//! Saved plans: `plinth plan --out FILE` writes one, `plinth apply FILE` applies exactly it.
//!
//! A saved plan is bound to the account, region, the hashes of every file of the spec and the
//! plinth version. Before applying, plinth plans again from the spec and the live account: the
//! plan is deterministic, so the new plan equals the saved one unless something moved. Any
//! difference refuses the whole plan before anything is changed. A checksum over the file
//! catches hand edits with a clearer message.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::aws::sts::Account;
use crate::plan::Plan;
use crate::spec::{self, InputFile, Spec};

pub const SAVED_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub plinth_version: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// The spec file as it was named when planning; apply loads it from the same place.
    pub spec: String,
    /// Every file the spec is made of, with its SHA-256.
    pub inputs: Vec<InputFile>,
    /// `--var` overrides given when planning; apply uses the same ones.
    pub var_overrides: Vec<(String, String)>,
    pub plan: Plan,
    /// SHA-256 of the document without this field.
    #[serde(default)]
    pub checksum: String,
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
    pub fn new(spec: &Spec, var_overrides: &[(String, String)], plan: &Plan) -> SavedPlan {
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut saved = SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            plinth_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            spec: spec.file.name.clone(),
            inputs: spec.inputs.clone(),
            var_overrides: var_overrides.to_vec(),
            plan: plan.clone(),
            checksum: String::new(),
        };
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
        let unreadable = |reason: String| SavedPlanError::Unreadable { path: name.clone(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let found = raw.get("format_version").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
        if found != SAVED_FORMAT_VERSION {
            return Err(SavedPlanError::Version { path: name, found });
        }
        let saved: SavedPlan = serde_json::from_value(raw).map_err(|_| SavedPlanError::Tampered(name.clone()))?;
        if saved.checksum != saved.compute_checksum() {
            return Err(SavedPlanError::Tampered(name));
        }
        Ok(saved)
    }

    /// Spec files whose content is not what it was when planning.
    pub fn changed_inputs(&self) -> Vec<String> {
        self.inputs
            .iter()
            .filter(|input| match std::fs::read(&input.path) {
                Ok(bytes) => spec::sha256_hex(&bytes) != input.sha256,
                Err(_) => true,
            })
            .map(|input| input.path.clone())
            .collect()
    }

    /// Why `now` (a plan made just before applying) is not the saved plan, resource by resource.
    pub fn differences(&self, account: &Account, now: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        let saved = &self.plan;
        if saved.account.account_id != account.account_id || saved.account.region != account.region {
            out.push(format!(
                "the plan is for account {} in {}, but plinth is connected to account {} in {}",
                saved.account.account_id, saved.account.region, account.account_id, account.region
            ));
            return out;
        }
        let as_json = |c: &crate::plan::ResourceChange| serde_json::to_value(c).unwrap_or_default();
        for change in &saved.changes {
            match now.change(&change.address) {
                None => out.push(format!("{}: no longer part of the plan", change.address)),
                Some(current) if as_json(current) != as_json(change) => {
                    let what = if current.action != change.action {
                        format!("was planned as {}, now needs {}", change.action.as_str(), current.action.as_str())
                    } else {
                        "its live state changed since the plan".to_string()
                    };
                    out.push(format!("{}: {what}", change.address));
                }
                Some(_) => {}
            }
        }
        for change in &now.changes {
            if saved.change(&change.address).is_none() {
                out.push(format!("{}: appeared since the plan ({})", change.address, change.action.as_str()));
            }
        }
        out
    }
}
