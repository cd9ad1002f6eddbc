//! plinth's integration tests: the real binary, against a real AWS emulator (moto) where AWS
//! is involved. One test binary, so the AWS SDK is linked once.

mod kinds_iam_kms;
mod roles;
mod support;
mod validate;
