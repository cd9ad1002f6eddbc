//! STS: who and where plinth is working (`${aws.account_id}`, `${aws.region}`), read once.

use aws_config::SdkConfig;
use aws_credential_types::provider::{self, future, ProvideCredentials};
use aws_credential_types::Credentials;

use super::AwsError;
use crate::state::Account;

#[derive(Clone, Debug)]
pub struct Sts {
    client: aws_sdk_sts::Client,
    region: String,
    /// The answer, once asked: the lock, the read and a saved plan's check all need it.
    known: std::sync::Arc<tokio::sync::OnceCell<Account>>,
}

impl Sts {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            known: Default::default(),
        }
    }

    /// The region every client works in, known without asking.
    pub fn region(&self) -> &str {
        &self.region
    }

    pub async fn account(&self) -> Result<Account, AwsError> {
        self.known
            .get_or_try_init(|| self.caller_identity())
            .await
            .cloned()
    }

    async fn caller_identity(&self) -> Result<Account, AwsError> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", &e))?;
        let caller_arn = out.arn().unwrap_or_default().to_string();
        // arn:PARTITION:sts::ACCOUNT:assumed-role/...
        let partition = caller_arn
            .split(':')
            .nth(1)
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
            .to_string();
        Ok(Account {
            account_id: out.account().unwrap_or_default().to_string(),
            region: self.region.clone(),
            partition,
            caller_arn,
            caller_role_arn: None,
        })
    }
}

/// Assumes a role with a source identity, which aws-config's assume-role provider cannot set.
#[derive(Debug)]
pub struct SourceIdentityProvider {
    client: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    source_identity: String,
}

impl SourceIdentityProvider {
    pub fn new(
        config: &SdkConfig,
        role_arn: &str,
        session_name: &str,
        source_identity: &str,
    ) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(config),
            role_arn: role_arn.into(),
            session_name: session_name.into(),
            source_identity: source_identity.into(),
        }
    }

    async fn assume(&self) -> provider::Result {
        let out = self
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .source_identity(&self.source_identity)
            .send()
            .await
            .map_err(provider::error::CredentialsError::provider_error)?;
        let c = out.credentials().ok_or_else(|| {
            provider::error::CredentialsError::not_loaded("AssumeRole returned no credentials")
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "plinth-assume-role-with-source-identity",
        ))
    }
}

impl ProvideCredentials for SourceIdentityProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}
