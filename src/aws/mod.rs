//! The AWS adapters: the only code that calls the SDK.
//!
//! One module per service. Each holds its SDK client and knows that service's quirks (IAM's
//! URL-encoded documents, tag listings, not-found codes). Everything above this layer sees
//! plinth's own types: [`crate::live`] values going up, [`crate::plan`] changes coming down.

pub mod iam;
pub mod kms;
mod planned;
pub mod sts;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::live::{LiveResource, ReadRequest, ADDRESS_TAG};
use crate::model::{Address, Kind, STACK_TAG};
use crate::plan::ResourceChange;

/// How to reach AWS: the same options the AWS CLI and most AWS connectors take.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Send every request here instead of to AWS (a local emulator, a proxy).
    pub endpoint_url: Option<String>,
    pub assume_role_arn: Option<String>,
    pub role_session_name: String,
    pub source_identity: Option<String>,
    /// Attempts per request, including the first, for transient errors and throttling.
    pub max_attempts: u32,
}

/// Clients for every service plinth manages, built from one shared configuration.
#[derive(Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub iam: iam::Iam,
    pub kms: kms::Kms,
    pub sts: sts::Sts,
}

impl Aws {
    pub async fn connect(options: &ConnectOptions) -> Result<Aws, AwsError> {
        let retry = RetryConfig::standard().with_max_attempts(options.max_attempts.max(1));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry).timeout_config(timeouts);
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        if base.region().is_none() {
            return Err(AwsError::config(
                "no AWS region is configured",
                "pass --region, set AWS_REGION, or set a region in your AWS profile",
            ));
        }
        let config = match &options.assume_role_arn {
            None => base,
            Some(role) => assume_role(&base, role, options).await?,
        };
        Ok(Aws::from_config(config))
    }

    pub fn from_config(config: SdkConfig) -> Aws {
        Aws { iam: iam::Iam::new(&config), kms: kms::Kms::new(&config), sts: sts::Sts::new(&config), config }
    }
}

/// Values a resource exports to references (`arn`, `unique_id`, `key_id`, ...).
pub type Exports = BTreeMap<String, String>;

/// The one place that routes a kind to its service adapter.
impl Aws {
    /// Reads one resource by its physical name; `None` when it does not exist.
    pub async fn read(&self, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        match request.address.kind {
            Kind::Role => self.iam.read_role(request).await,
            Kind::Policy => self.iam.read_managed_policy(request).await,
            Kind::InstanceProfile => self.iam.read_instance_profile(request).await,
            Kind::OidcProvider => self.iam.read_oidc_provider(request).await,
            Kind::Key => self.kms.read_key(request).await,
        }
    }

    /// Every resource of `kind` tagged as owned by `stack`.
    pub async fn owned(&self, kind: Kind, stack: &str) -> Result<Vec<LiveResource>, AwsError> {
        match kind {
            Kind::Role => self.iam.owned_roles(stack).await,
            Kind::Policy => self.iam.owned_managed_policies(stack).await,
            Kind::InstanceProfile => self.iam.owned_instance_profiles(stack).await,
            Kind::OidcProvider => self.iam.owned_oidc_providers(stack).await,
            Kind::Key => self.kms.owned_keys(stack).await,
        }
    }

    /// Carries out one planned change; returns the resource's exports when it was created.
    pub async fn apply(&self, stack: &str, change: &ResourceChange) -> Result<Exports, AwsError> {
        match change.address.kind {
            Kind::Role => self.iam.apply_role(stack, change).await,
            Kind::Policy => self.iam.apply_managed_policy(stack, change).await,
            Kind::InstanceProfile => self.iam.apply_instance_profile(stack, change).await,
            Kind::OidcProvider => self.iam.apply_oidc_provider(stack, change).await,
            Kind::Key => self.kms.apply_key(stack, change).await,
        }
    }
}

/// The ownership tags plinth puts on every resource it creates or adopts.
pub fn ownership_tags(stack: &str, address: &Address) -> BTreeMap<String, String> {
    BTreeMap::from([(STACK_TAG.to_string(), stack.to_string()), (ADDRESS_TAG.to_string(), address.to_string())])
}

/// Credentials for `--assume-role-arn`. aws-config's assume-role provider does it all, except
/// setting a source identity, for which plinth calls AssumeRole itself and lets the SDK's
/// identity cache refresh the credentials.
async fn assume_role(base: &SdkConfig, role: &str, options: &ConnectOptions) -> Result<SdkConfig, AwsError> {
    use aws_credential_types::provider::SharedCredentialsProvider;
    let provider = match &options.source_identity {
        None => SharedCredentialsProvider::new(
            aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name(&options.role_session_name)
                .configure(base)
                .build()
                .await,
        ),
        Some(identity) => SharedCredentialsProvider::new(sts::SourceIdentityProvider::new(
            base,
            role,
            &options.role_session_name,
            identity,
        )),
    };
    Ok(base.to_builder().credentials_provider(provider).build())
}

/// A failed AWS call, reduced to what a person needs: which call, AWS's error code, its message.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl AwsError {
    pub fn from_sdk<E>(operation: &str, err: &E) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = err.message().map(str::to_string).unwrap_or_else(|| DisplayErrorContext(err).to_string());
        let hint = match code.as_deref() {
            Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
                Some("the identity running plinth lacks this permission; `plinth permissions` prints what it needs".into())
            }
            Some("ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId") => {
                Some("refresh your AWS credentials".into())
            }
            _ => None,
        };
        AwsError { operation: operation.to_string(), code, message, hint }
    }

    pub fn config(message: &str, hint: &str) -> AwsError {
        AwsError { operation: "configure AWS".into(), code: None, message: message.into(), hint: Some(hint.into()) }
    }

    /// A plan that plinth would not make (hand-edited, or from another version).
    pub fn invalid_plan(address: &Address, message: String) -> AwsError {
        AwsError {
            operation: format!("apply {address}"),
            code: None,
            message,
            hint: Some("the plan is not one plinth makes; plan again".into()),
        }
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// `Ok(None)` for the service's not-found error, so a missing resource is a value, not a failure.
pub(crate) fn not_found_as_none<T, E>(result: Result<T, E>, operation: &str, codes: &[&str]) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(operation, &e)),
    }
}
