//! A named profile, as the AWS CLI takes one: it must exist, and its credentials are used even
//! when the environment holds others (`AWS_ACCESS_KEY_ID`), which the SDK's default chain would
//! try first. aws-config reads the files and provides the credentials; plinth only checks that
//! the profile is there and picks its provider.

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::os_shim_internal::{Env, Fs};

use super::AwsError;

/// Fails, naming the profile and the files searched, when no config or credentials file
/// defines `profile`.
pub async fn check_exists(profile: &str) -> Result<(), AwsError> {
    let set = aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None).await;
    if let Ok(set) = &set {
        if set.get_profile(profile).is_some() {
            return Ok(());
        }
    }
    let files = searched_files();
    let why = match set {
        Err(e) => format!(": the files could not be read ({e})"),
        Ok(_) => String::new(),
    };
    Err(AwsError::config(
        &format!(
            "the profile `{profile}` is not defined in {}{why}",
            files.join(" or ")
        ),
        "check the profile's name (`aws configure list-profiles` lists them), or set AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE to the files that define it",
    ))
}

/// The config and credentials files the SDK (and the AWS CLI) read, as they are named here.
fn searched_files() -> Vec<String> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "~".into());
    let file = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("{home}/.aws/{default}"))
    };
    vec![
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
}

/// `config` with its credentials from `profile` alone, as the AWS CLI does for `--profile`:
/// the profile's keys, its SSO session, its `role_arn` and `source_profile`, its
/// `credential_process`, all through aws-config's profile provider.
pub fn credentials_of(config: SdkConfig, profile: &str) -> SdkConfig {
    let mut provider_config = ProviderConfig::default().with_region(config.region().cloned());
    if let Some(client) = config.http_client() {
        provider_config = provider_config.with_http_client(client);
    }
    let provider = ProfileFileCredentialsProvider::builder()
        .profile_name(profile)
        .configure(&provider_config)
        .build();
    config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}
