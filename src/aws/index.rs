//! The stack index's object in S3, beside the stack's lock (`state::StackIndex` is the data).

use crate::aws::{Aws, AwsError};
use crate::spec::LockConfig;
use crate::state::{StackIndex, INDEX_VERSION};

/// Where a stack with `lock` keeps its index: beside the lock object, `NAME.lock` →
/// `NAME.index.json`.
pub fn key_for(lock: &LockConfig) -> String {
    format!(
        "{}.index.json",
        lock.key.strip_suffix(".lock").unwrap_or(&lock.key)
    )
}

/// The stack's index, or `None` when there is none to trust (missing, unreadable, of another
/// stack or format): the plan then lists the account, which is always right.
pub async fn read(aws: &Aws, lock: &LockConfig, stack: &str) -> Option<StackIndex> {
    let key = key_for(lock);
    let text = match aws.s3.get_text(&lock.bucket, &key).await {
        Ok(text) => text?,
        Err(e) => {
            tracing::warn!("the stack index s3://{}/{key} could not be read ({e}); listing the account instead", lock.bucket);
            return None;
        }
    };
    match serde_json::from_str::<StackIndex>(&text) {
        Ok(index) if index.version == INDEX_VERSION && index.stack == stack => Some(index),
        Ok(_) => {
            tracing::warn!(
                "s3://{}/{key} is not an index of stack `{stack}`; listing the account instead",
                lock.bucket
            );
            None
        }
        Err(e) => {
            tracing::warn!(
                "s3://{}/{key} is not a stack index ({e}); listing the account instead",
                lock.bucket
            );
            None
        }
    }
}

pub async fn write(aws: &Aws, lock: &LockConfig, index: &StackIndex) -> Result<(), AwsError> {
    let body = serde_json::to_vec_pretty(index).expect("an index serializes");
    let key = key_for(lock);
    aws.s3
        .put_text(&lock.bucket, &key, body)
        .await
        .map_err(|mut e| {
            // Where the index lives comes first: an error's own hint (a missing permission) does
            // not say which object plinth was writing, or why.
            let place = format!(
                "the stack keeps its index in s3://{}/{key}, beside its lock",
                lock.bucket
            );
            e.hint = Some(match e.hint.take() {
                Some(hint) => format!("{place}; {hint}"),
                None => format!("{place}; `plinth permissions` prints the grants it needs"),
            });
            e
        })
}

pub async fn delete(aws: &Aws, lock: &LockConfig) -> Result<(), AwsError> {
    aws.s3.delete_key(&lock.bucket, &key_for(lock)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_lives_beside_the_lock() {
        let lock = |key: &str| LockConfig {
            bucket: "state".into(),
            key: key.into(),
        };
        assert_eq!(
            key_for(&lock("plinth/locks/tonic.lock")),
            "plinth/locks/tonic.index.json"
        );
        assert_eq!(key_for(&lock("locks/tonic")), "locks/tonic.index.json");
    }
}
