//! Buckets through the generic apply.

use std::collections::BTreeSet;

use super::{BucketConfig, ACTIONS, S3};
use crate::aws::adapter::{Adapter, Change, Side};
use crate::aws::shared::SharedChange;
use crate::aws::{Aws, AwsError, Exports, KindActions};
use crate::model::Attributes;
use crate::plan::ResourceChange;
use crate::state::{LiveResource, ReadRequest};

pub(crate) struct BucketAdapter;

impl Adapter for BucketAdapter {
    type Client = S3;
    type Config = BucketConfig;
    const SHARED: bool = true;
    const ACTIONS: &'static KindActions = &ACTIONS;
    const FIRST_READ: &'static str = "s3:GetBucketTagging";
    const DOCUMENTS: &'static [(&'static str, &'static str)] = &[("policy", "s3:GetBucketPolicy")];

    fn client(aws: &Aws) -> &S3 {
        &aws.s3
    }

    async fn read(s3: &S3, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        s3.read_bucket(request).await
    }

    async fn owned(
        s3: &S3,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        s3.owned_buckets(stack, named).await
    }

    async fn release(s3: &S3, stack: &str, planned: &ResourceChange) -> Result<(), AwsError> {
        s3.release_bucket(stack, &planned.physical_id).await
    }

    fn config(
        change: &Change<'_>,
        attributes: &Attributes,
        side: Side,
    ) -> Result<BucketConfig, String> {
        BucketConfig::from_attributes(attributes, &change.ownership_of(side))
    }

    async fn create(s3: &S3, _: &Change<'_>, desired: &BucketConfig) -> Result<Exports, AwsError> {
        s3.create_bucket(desired).await
    }

    async fn update(
        s3: &S3,
        _: &Change<'_>,
        live: &BucketConfig,
        desired: &BucketConfig,
    ) -> Result<(), AwsError> {
        s3.update_bucket(live, desired).await
    }

    async fn delete(s3: &S3, change: &Change<'_>, _: &str) -> Result<(), AwsError> {
        let live = change.config::<Self>(Side::Live)?;
        s3.delete_bucket(&live, live.force_destroy).await
    }

    /// An existing bucket's settings and shared parts (`existing = true`).
    async fn shared(s3: &S3, change: &Change<'_>, shared: &SharedChange) -> Result<(), AwsError> {
        s3.apply_shared_bucket(change.stack, change.planned, shared)
            .await
    }

    /// The old bucket goes first, emptied when either side says `force_destroy`.
    async fn replace(s3: &S3, change: &Change<'_>, old_name: &str) -> Result<Exports, AwsError> {
        let live = change.config::<Self>(Side::Live)?;
        let desired = change.config::<Self>(Side::Desired)?;
        let old = BucketConfig {
            name: old_name.to_string(),
            ..live.clone()
        };
        s3.delete_bucket(&old, live.force_destroy || desired.force_destroy)
            .await?;
        s3.create_bucket(&desired).await
    }
}
