//! `plinth import`: a spec for resources made by hand, read from the live account.
//!
//! The resources are read with the adapters' own reads (every attribute declared, so every
//! one is read), then written as a spec (`write.rs`) that plans to no change but the adoption:
//! IAM resources, queues and functions with `adopt = true`, keys and buckets with
//! `existing = true` (plinth never deletes data it did not create). `like.rs` compares what was
//! found with a ready-made stack, statement by statement. Nothing is written unless every
//! resource was found.

pub mod like;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{Aws, AwsError};
use crate::model::{oidc_provider_id, Address, Kind, Value};
use crate::spec::kinds::import_facts;
use crate::state::{Account, ReadRequest};

pub use write::{Found, ImportedSpec};

/// What to import: the stack's name, and each resource by kind and how AWS knows it (a name;
/// a managed policy's ARN; an OIDC provider's URL; a key's id, ARN or alias).
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub stack: String,
    pub resources: Vec<Wanted>,
    /// Leave out what does not exist instead of failing (`--like`: the report says what is
    /// missing).
    pub missing_ok: bool,
}

/// One resource to import, with the logical name it should get (`None`: one made from its
/// physical name).
#[derive(Debug, Clone)]
pub struct Wanted {
    pub kind: Kind,
    pub id: String,
    pub name: Option<String>,
}

/// Why an import stopped. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
    },
}

impl ImportError {
    fn refused(message: impl Into<String>, hint: impl Into<String>) -> ImportError {
        ImportError::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// Reads every wanted resource; fails, naming each, when any does not exist.
pub async fn read(
    aws: &Aws,
    request: &ImportRequest,
) -> Result<(Account, Vec<Found>), ImportError> {
    if request.resources.is_empty() {
        return Err(ImportError::refused(
            "nothing to import",
            "name resources with --role, --policy, --instance-profile, --oidc-provider, --key, --queue, --function or --bucket",
        ));
    }
    if let Err(why) = crate::spec::rules::stack_name(&request.stack) {
        return Err(ImportError::refused(
            format!("--stack: {why}; nothing was sent to AWS"),
            "name the stack with letters, digits, `-` and `_`",
        ));
    }
    let account = aws.sts.account().await?;
    let mut taken = BTreeSet::new();
    let mut requests = Vec::new();
    for wanted in &request.resources {
        let physical = physical_id(wanted, &account);
        let named_by = if wanted.kind == Kind::OidcProvider {
            &wanted.id
        } else {
            &physical
        };
        let name = wanted
            .name
            .clone()
            .unwrap_or_else(|| logical_name(wanted.kind, named_by));
        let name = unique(&mut taken, wanted.kind, name);
        requests.push((
            wanted,
            ReadRequest {
                address: Address::new(wanted.kind, name),
                physical_id: physical,
                declared: every_attribute(wanted.kind),
            },
        ));
    }
    let reads = futures::future::join_all(requests.iter().map(|(_, r)| aws.read(r))).await;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for ((wanted, request), read) in requests.iter().zip(reads) {
        match read? {
            Some(mut live) => {
                // One resource named twice (`--role a --role a`, or a key by two of its
                // aliases) is one block: two would name one resource and refuse to plan.
                if found.iter().any(|f: &Found| {
                    f.live.kind == live.kind && f.live.physical_id == live.physical_id
                }) {
                    continue;
                }
                if wanted.kind == Kind::Bucket {
                    live.exports
                        .insert("arn".into(), account.arn(Kind::Bucket, &live.physical_id));
                }
                found.push(Found {
                    address: request.address.clone(),
                    live,
                    requested: wanted.id.clone(),
                    package: None,
                });
            }
            None => missing.push(format!("{} `{}`", kind_words(wanted.kind), wanted.id)),
        }
    }
    if !missing.is_empty() && !request.missing_ok {
        return Err(ImportError::refused(
            format!(
                "{} {} not exist in account {} ({}); nothing was written",
                missing.join(", "),
                if missing.len() == 1 { "does" } else { "do" },
                account.account_id,
                account.region
            ),
            "check the name (and --region, --profile): import reads existing resources, it creates none",
        ));
    }
    download_packages(aws, &mut found).await?;
    Ok((account, found))
}

/// Downloads the zip of each function whose code is one (not an image, not code plinth
/// recorded as taken from S3), so the spec's `code = { zip = ... }` plans no change.
async fn download_packages(aws: &Aws, found: &mut [Found]) -> Result<(), ImportError> {
    let zips: Vec<&mut Found> = found
        .iter_mut()
        .filter(|f| {
            f.address.kind == Kind::Function
                && matches!(f.live.attributes.get("code"), Some(Value::Str(c)) if c.starts_with("sha256:"))
        })
        .collect();
    let packages = futures::future::try_join_all(
        zips.iter()
            .map(|f| aws.lambda.code_package(&f.live.physical_id)),
    )
    .await?;
    for (f, package) in zips.into_iter().zip(packages) {
        f.package = package.map(Arc::new);
    }
    Ok(())
}

/// Writes the imported spec into `dir`, refusing to overwrite a spec already there.
pub fn write_files(dir: &Path, imported: &ImportedSpec) -> Result<Vec<PathBuf>, ImportError> {
    let spec_path = dir.join("plinth.toml");
    if spec_path.exists() {
        return Err(ImportError::refused(
            format!(
                "`{}` exists already; nothing was written",
                spec_path.display()
            ),
            "pass an --out directory without a plinth.toml",
        ));
    }
    let io = |path: &Path, e: std::io::Error| {
        ImportError::refused(
            format!("cannot write `{}`: {e}", path.display()),
            "check that the --out directory is writable",
        )
    };
    let mut written = Vec::new();
    let texts = imported.files.iter().map(|(p, t)| (p, t.as_bytes()));
    let zips = imported.packages.iter().map(|(p, z)| (p, z.as_slice()));
    for (relative, bytes) in texts.chain(zips) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    std::fs::write(&spec_path, &imported.spec).map_err(|e| io(&spec_path, e))?;
    written.insert(0, spec_path);
    Ok(written)
}

/// The id a read finds the resource by.
fn physical_id(wanted: &Wanted, account: &Account) -> String {
    match wanted.kind {
        Kind::OidcProvider if !wanted.id.starts_with("arn:") => {
            let issuer = oidc_provider_id(&wanted.id).trim_end_matches('/');
            account.arn(Kind::OidcProvider, issuer)
        }
        // Named by ARN (or a queue by URL), as the console and the CLI show them: the name
        // each read asks for is the ARN's last part.
        Kind::Role | Kind::InstanceProfile if wanted.id.starts_with("arn:") => wanted
            .id
            .rsplit('/')
            .next()
            .unwrap_or(&wanted.id)
            .to_string(),
        Kind::Queue if wanted.id.starts_with("arn:") || wanted.id.contains("://") => wanted
            .id
            .rsplit([':', '/'])
            .next()
            .unwrap_or(&wanted.id)
            .to_string(),
        Kind::Bucket if wanted.id.starts_with("arn:") => wanted
            .id
            .rsplit(':')
            .next()
            .unwrap_or(&wanted.id)
            .to_string(),
        // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        Kind::Function if wanted.id.starts_with("arn:") => wanted
            .id
            .split(':')
            .nth(6)
            .unwrap_or(&wanted.id)
            .to_string(),
        _ => wanted.id.clone(),
    }
}

/// Every attribute of a kind, so that each read reads everything it can.
fn every_attribute(kind: Kind) -> BTreeSet<String> {
    let names = import_facts(kind).optional_parts;
    names.iter().map(|s| s.to_string()).collect()
}

/// A logical name from a physical one: its last part, in letters, digits, `-` and `_`.
fn logical_name(kind: Kind, id: &str) -> String {
    let last = (import_facts(kind).name_part)(id);
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        kind.as_str().to_string()
    } else {
        name
    }
}

fn unique(taken: &mut BTreeSet<(Kind, String)>, kind: Kind, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert((kind, candidate.clone())) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

fn kind_words(kind: Kind) -> &'static str {
    import_facts(kind).words
}

/// The resources by address, for the difference report.
pub fn by_address(found: &[Found]) -> BTreeMap<Address, &Found> {
    found.iter().map(|f| (f.address.clone(), f)).collect()
}

#[cfg(test)]
mod tests;
