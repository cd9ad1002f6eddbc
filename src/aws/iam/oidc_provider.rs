//! IAM OpenID Connect providers: audiences, thumbprints and tags.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt, TryStreamExt};

use super::tags::Entity;
use super::{split_iam_tags, tags_of, Iam};
use crate::aws::adapter::{Adapter, Change, Side};
use crate::aws::planned::{all_tags, Planned};
use crate::aws::tagging::Tagging;
use crate::aws::{not_found_as_none, AwsError, Exports};
use crate::aws::{Aws, KindActions};
use crate::model::{Attributes, Kind, Value};
use crate::state::{LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`crate::aws::KindActions`].
pub const OIDC_PROVIDER_ACTIONS: crate::aws::KindActions = crate::aws::KindActions {
    on_resource: &[
        "iam:CreateOpenIDConnectProvider",
        "iam:AddClientIDToOpenIDConnectProvider",
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint",
        "iam:TagOpenIDConnectProvider",
        "iam:UntagOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
    ],
    account_wide: &[
        "iam:ListOpenIDConnectProviders",
        "iam:GetOpenIDConnectProvider",
    ],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &[],
};

/// An OIDC provider as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcProviderConfig {
    pub url: String,
    /// `None` leaves the audiences unmanaged.
    pub client_ids: Option<BTreeSet<String>>,
    /// `None` leaves the thumbprints to IAM.
    pub thumbprints: Option<Vec<String>>,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
}

impl OidcProviderConfig {
    pub fn from_attributes(attrs: &Planned<'_>) -> Result<OidcProviderConfig, String> {
        Ok(OidcProviderConfig {
            url: attrs.required_str("url")?,
            client_ids: attrs.set("client_ids")?,
            thumbprints: attrs.strings("thumbprints")?,
            tags: attrs.tags()?,
        })
    }
}

impl Iam {
    /// GetOpenIDConnectProvider by ARN. IAM returns the URL without its scheme; plinth shows it
    /// as written in specs, with `https://`.
    pub async fn read_oidc_provider(
        &self,
        req: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError> {
        self.oidc_provider(&req.physical_id).await
    }

    async fn oidc_provider(&self, arn: &str) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
            "iam:GetOpenIDConnectProvider",
            &["NoSuchEntity"],
        )?;
        let Some(provider) = got else { return Ok(None) };
        let (owner, address_tag, user_tags) = split_iam_tags(provider.tags());
        let mut attributes = Attributes::new();
        attributes.insert(
            "url".into(),
            Value::Str(format!("https://{}", provider.url().unwrap_or_default())),
        );
        attributes.insert(
            "client_ids".into(),
            Value::set(provider.client_id_list().iter().cloned()),
        );
        attributes.insert(
            "thumbprints".into(),
            Value::List(
                provider
                    .thumbprint_list()
                    .iter()
                    .map(|t| Value::Str(t.to_ascii_lowercase()))
                    .collect(),
            ),
        );
        attributes.insert("tags".into(), user_tags);
        Ok(Some(LiveResource {
            kind: Kind::OidcProvider,
            physical_id: arn.to_string(),
            owner,
            address_tag,
            attributes: attributes.into(),
            exports: BTreeMap::from([("arn".to_string(), arn.to_string())]),
            deletion_date: None,
        }))
    }

    /// Every OIDC provider tagged as owned by `stack`; each is read for its tags.
    pub async fn owned_oidc_providers(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let listed = self
            .client
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListOpenIDConnectProviders", &e))?;
        let arns: Vec<String> = listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_string))
            .filter(|arn| !named.contains(arn))
            .collect();
        let read: Vec<Option<LiveResource>> = stream::iter(arns)
            .map(|arn| async move { self.oidc_provider(&arn).await })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut owned: Vec<LiveResource> = read
            .into_iter()
            .flatten()
            .filter(|p| p.is_owned_by(stack))
            .collect();
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }

    async fn create_oidc_provider(
        &self,
        provider: &OidcProviderConfig,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        let out = self
            .client
            .create_open_id_connect_provider()
            .url(&provider.url)
            .set_client_id_list(
                provider
                    .client_ids
                    .as_ref()
                    .map(|ids| ids.iter().cloned().collect()),
            )
            .set_thumbprint_list(provider.thumbprints.clone())
            .set_tags(Some(tags_of(&all_tags(
                provider.tags.as_ref(),
                None,
                ownership,
            ))))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:CreateOpenIDConnectProvider", &e))?;
        Ok(out
            .open_id_connect_provider_arn
            .map(|arn| BTreeMap::from([("arn".to_string(), arn)]))
            .unwrap_or_default())
    }

    async fn update_oidc_provider(
        &self,
        arn: &str,
        (before, before_ownership): (&OidcProviderConfig, &BTreeMap<String, String>),
        (after, ownership): (&OidcProviderConfig, &BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        if let Some(wanted) = &after.client_ids {
            let current = before.client_ids.clone().unwrap_or_default();
            for id in wanted.difference(&current) {
                self.client
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("iam:AddClientIDToOpenIDConnectProvider", &e)
                    })?;
            }
            for id in current.difference(wanted) {
                self.client
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("iam:RemoveClientIDFromOpenIDConnectProvider", &e)
                    })?;
            }
        }
        if after.thumbprints.is_some() && after.thumbprints != before.thumbprints {
            self.client
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(after.thumbprints.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UpdateOpenIDConnectProviderThumbprint", &e))?;
        }
        let current = all_tags(before.tags.as_ref(), None, before_ownership);
        let wanted = all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership);
        (self.tagging(Entity::OidcProvider, arn))
            .retag(&current, &wanted)
            .await
    }

    async fn delete_oidc_provider(&self, arn: &str) -> Result<(), AwsError> {
        not_found_as_none(
            self.client
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
            "iam:DeleteOpenIDConnectProvider",
            &["NoSuchEntity"],
        )?;
        Ok(())
    }
}

/// OIDC providers through the generic apply.
pub(crate) struct OidcProviderAdapter;

impl Adapter for OidcProviderAdapter {
    type Client = Iam;
    type Config = OidcProviderConfig;
    const ACTIONS: &'static KindActions = &OIDC_PROVIDER_ACTIONS;
    const FIRST_READ: &'static str = "iam:GetOpenIDConnectProvider";

    fn client(aws: &Aws) -> &Iam {
        &aws.iam
    }

    async fn read(iam: &Iam, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        iam.read_oidc_provider(request).await
    }

    async fn owned(
        iam: &Iam,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        iam.owned_oidc_providers(stack, named).await
    }

    fn config(
        _: &Change<'_>,
        attributes: &Attributes,
        _: Side,
    ) -> Result<OidcProviderConfig, String> {
        OidcProviderConfig::from_attributes(&Planned(attributes))
    }

    async fn create(
        iam: &Iam,
        change: &Change<'_>,
        desired: &OidcProviderConfig,
    ) -> Result<Exports, AwsError> {
        iam.adopt_own_create(
            iam.create_oidc_provider(desired, &change.ownership).await,
            iam.oidc_provider(&change.planned.physical_id),
            &change.ownership,
        )
        .await
    }

    async fn update(
        iam: &Iam,
        change: &Change<'_>,
        live: &OidcProviderConfig,
        desired: &OidcProviderConfig,
    ) -> Result<(), AwsError> {
        iam.update_oidc_provider(
            &change.planned.physical_id,
            (live, &change.ownership_of(Side::Live)),
            (desired, &change.ownership),
        )
        .await
    }

    async fn delete(iam: &Iam, _: &Change<'_>, arn: &str) -> Result<(), AwsError> {
        iam.delete_oidc_provider(arn).await
    }
}
