//! IAM's tagging calls, one pair per entity, behind the one [`Tagging`] trait.

use std::collections::BTreeMap;

use super::{tags_of, Iam};
use crate::aws::tagging::Tagging;
use crate::aws::AwsError;

/// The IAM entities plinth tags; IAM has a pair of tagging calls for each.
#[derive(Debug, Clone, Copy)]
pub(super) enum Entity {
    Role,
    Policy,
    InstanceProfile,
    OidcProvider,
}

/// One IAM entity's tagging calls: `id` is a role's or instance profile's name, a managed
/// policy's or OIDC provider's ARN, as each pair of calls takes it.
pub(super) struct IamTags<'a> {
    pub(super) iam: &'a Iam,
    pub(super) entity: Entity,
    pub(super) id: &'a str,
}

impl Iam {
    /// The tagging calls of the entity `id`.
    pub(super) fn tagging<'a>(&'a self, entity: Entity, id: &'a str) -> IamTags<'a> {
        IamTags {
            iam: self,
            entity,
            id,
        }
    }
}

impl Tagging for IamTags<'_> {
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        let (client, id, tags) = (&self.iam.client, self.id, Some(tags_of(&tags)));
        match self.entity {
            Entity::Role => (client.tag_role().role_name(id).set_tags(tags).send().await)
                .map_err(|e| AwsError::from_sdk("iam:TagRole", &e))
                .map(|_| ()),
            Entity::Policy => (client
                .tag_policy()
                .policy_arn(id)
                .set_tags(tags)
                .send()
                .await)
                .map_err(|e| AwsError::from_sdk("iam:TagPolicy", &e))
                .map(|_| ()),
            Entity::InstanceProfile => (client.tag_instance_profile())
                .instance_profile_name(id)
                .set_tags(tags)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagInstanceProfile", &e))
                .map(|_| ()),
            Entity::OidcProvider => (client.tag_open_id_connect_provider())
                .open_id_connect_provider_arn(id)
                .set_tags(tags)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagOpenIDConnectProvider", &e))
                .map(|_| ()),
        }
    }

    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        let (client, id, keys) = (&self.iam.client, self.id, Some(keys));
        match self.entity {
            Entity::Role => (client
                .untag_role()
                .role_name(id)
                .set_tag_keys(keys)
                .send()
                .await)
                .map_err(|e| AwsError::from_sdk("iam:UntagRole", &e))
                .map(|_| ()),
            Entity::Policy => (client.untag_policy())
                .policy_arn(id)
                .set_tag_keys(keys)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagPolicy", &e))
                .map(|_| ()),
            Entity::InstanceProfile => (client.untag_instance_profile())
                .instance_profile_name(id)
                .set_tag_keys(keys)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagInstanceProfile", &e))
                .map(|_| ()),
            Entity::OidcProvider => (client.untag_open_id_connect_provider())
                .open_id_connect_provider_arn(id)
                .set_tag_keys(keys)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagOpenIDConnectProvider", &e))
                .map(|_| ()),
        }
    }
}
