//! The stack lock: two applies of one stack never run at once.
//!
//! The lock lives in AWS, not on a machine: an S3 object created with a conditional write
//! (`If-None-Match: *`), which S3 performs atomically, so of two applies started together
//! exactly one creates it. The object says who holds the lock and since when; `plinth unlock`
//! removes one left behind by a process that was killed.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};
use crate::spec::LockConfig;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub stack: String,
    /// The identity that took the lock (its ARN).
    pub holder: String,
    pub operation: String,
    pub host: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("stack `{stack}` is locked: {}", describe(.holder))]
    Held {
        stack: String,
        holder: Option<LockInfo>,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

pub fn describe(holder: &Option<LockInfo>) -> String {
    match holder {
        Some(h) => {
            let age = now().saturating_sub(h.since);
            format!(
                "{} by {} (pid {} on {}) for {}",
                h.operation,
                h.holder,
                h.pid,
                h.host,
                duration(age)
            )
        }
        None => "by an apply that left no details".into(),
    }
}

fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A held lock; release it with [`StackLock::release`] (a lock that is never released stays
/// until `plinth unlock`).
#[must_use = "a lock is held until released"]
pub struct StackLock {
    config: LockConfig,
    /// What this process wrote: the lock is released only while it still says so.
    info: LockInfo,
}

/// What releasing a lock found.
#[derive(Debug)]
pub enum Released {
    /// The lock was this process's, and is gone.
    Released,
    /// Someone removed it while this process held it (`plinth unlock`).
    AlreadyGone,
    /// Someone removed it and another process took it: that process's lock is left alone.
    TakenOver(LockInfo),
}

impl StackLock {
    pub async fn acquire(
        aws: &Aws,
        config: &LockConfig,
        stack: &str,
        holder: &str,
        operation: &str,
    ) -> Result<StackLock, LockError> {
        let info = LockInfo {
            stack: stack.to_string(),
            holder: holder.to_string(),
            operation: operation.to_string(),
            host: hostname(),
            pid: std::process::id(),
            since: now(),
        };
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        if aws
            .s3
            .put_if_absent(&config.bucket, &config.key, body)
            .await?
        {
            return Ok(StackLock {
                config: config.clone(),
                info,
            });
        }
        let holder = holder_of(aws, config).await?;
        Err(LockError::Held {
            stack: stack.to_string(),
            holder,
        })
    }

    /// `None` while the lock is still this process's; else who holds it now, if anyone.
    pub async fn lost(&self, aws: &Aws) -> Result<Option<Option<LockInfo>>, AwsError> {
        Ok(match holder_of(aws, &self.config).await? {
            Some(holder) if holder == self.info => None,
            other => Some(other),
        })
    }

    /// Removes the lock if it is still this process's. One that `plinth unlock` removed while
    /// this process ran may since be another process's: deleting it would let a third apply
    /// run beside that one.
    pub async fn release(self, aws: &Aws) -> Result<Released, AwsError> {
        match holder_of(aws, &self.config).await? {
            Some(holder) if holder == self.info => {
                aws.s3
                    .delete_key(&self.config.bucket, &self.config.key)
                    .await?;
                Ok(Released::Released)
            }
            Some(other) => Ok(Released::TakenOver(other)),
            None => Ok(Released::AlreadyGone),
        }
    }
}

/// Whether the process that holds `lock` is still running on this machine: `None` when that
/// cannot be told (another host, or a system without `/proc`).
fn holder_running_here(lock: &LockInfo) -> Option<bool> {
    if lock.host != hostname() || !std::path::Path::new("/proc/self").exists() {
        return None;
    }
    Some(
        lock.pid == std::process::id()
            || std::path::Path::new(&format!("/proc/{}", lock.pid)).exists(),
    )
}

/// Who holds the lock, if anyone.
pub async fn holder_of(aws: &Aws, config: &LockConfig) -> Result<Option<LockInfo>, AwsError> {
    Ok(aws
        .s3
        .get_text(&config.bucket, &config.key)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// What `plinth unlock` did.
#[derive(Debug)]
pub enum Unlocked {
    /// The lock is gone; it was held by this, if its object said (one written by hand, or
    /// left empty, names no holder).
    Removed(Option<LockInfo>),
    /// There was no lock to remove.
    NotLocked,
    /// Left in place: its process still runs on this machine.
    HolderRunning(LockInfo),
}

/// Removes the lock whoever holds it, for a lock left by a process that was killed; one whose
/// process still runs on this machine only when `even_if_running`.
pub async fn force_unlock(
    aws: &Aws,
    config: &LockConfig,
    even_if_running: bool,
) -> Result<Unlocked, AwsError> {
    let Some(text) = aws.s3.get_text(&config.bucket, &config.key).await? else {
        return Ok(Unlocked::NotLocked);
    };
    let holder: Option<LockInfo> = serde_json::from_str(&text).ok();
    match holder {
        Some(running) if !even_if_running && holder_running_here(&running) == Some(true) => {
            return Ok(Unlocked::HolderRunning(running));
        }
        _ => {}
    }
    aws.s3.delete_key(&config.bucket, &config.key).await?;
    Ok(Unlocked::Removed(holder))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}
