//! A function's deployment package, downloaded for `plinth import` so that the spec it writes
//! plans no code change.

use aws_sdk_lambda::types::PackageType;

use super::{Lambda, NOT_FOUND};
use crate::archive;
use crate::aws::download::{self, Expected};
use crate::aws::{not_found_as_none, AwsError};

impl Lambda {
    /// The zip of function `name`: GetFunction names where it is (a presigned location, asked
    /// for afresh since it is valid for minutes) and its `CodeSha256`, which the download must
    /// match. `None` for a function that runs a container image or no longer exists.
    pub async fn code_package(&self, name: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let got = not_found_as_none(
            self.client.get_function().function_name(name).send().await,
            "lambda:GetFunction",
            NOT_FOUND,
        )
        .map_err(|e| e.about(format!("function `{name}`")))?;
        let Some(out) = got else { return Ok(None) };
        let Some(config) = out.configuration() else {
            return Ok(None);
        };
        if config.package_type() == Some(&PackageType::Image) {
            return Ok(None);
        }
        let what = format!("the code of function `{name}`");
        let refuse = |message: String, hint: &str| AwsError {
            operation: format!("download {what}"),
            code: None,
            message,
            hint: Some(hint.into()),
        };
        let size = usize::try_from(config.code_size()).unwrap_or(usize::MAX);
        if size > archive::MAX_INLINE_ZIP_BYTES {
            return Err(refuse(
                format!(
                    "its package is {} MiB, more than the {} MiB plinth uploads itself; nothing was written",
                    size >> 20,
                    archive::MAX_INLINE_ZIP_BYTES >> 20
                ),
                "put the package in S3 and declare `code = { s3_bucket = ..., s3_key = ... }`",
            ));
        }
        let (Some(location), Some(sha256)) =
            (out.code().and_then(|c| c.location()), config.code_sha256())
        else {
            return Err(refuse(
                "GetFunction named no location or no SHA-256 for the code".into(),
                "download the package from Lambda's console (Actions, Export function) into the --out directory",
            ));
        };
        let expected = Expected::package(what, sha256.to_string(), size);
        download::fetch_verified(location, &expected)
            .await
            .map(Some)
    }
}
