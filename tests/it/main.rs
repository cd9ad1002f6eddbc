//! plinth's integration tests: the real binary, against a real AWS emulator (moto) where AWS
//! is involved. One test binary, so the AWS SDK is linked once.

mod access;
mod apply;
mod apply_calls;
mod aws_errors;
mod aws_replay;
mod docs;
mod enforce;
mod envs;
mod faults;
mod fmt_graph;
mod fuzz;
mod import;
mod kinds_iam_kms;
mod kinds_sqs_lambda_s3;
mod least_privilege;
mod lock;
mod policies;
mod proxy;
mod reliability;
mod replay;
mod roles;
mod saved;
mod schema;
mod shared;
mod stacks;
mod strict;
mod strict_stacks;
mod support;
mod validate;
