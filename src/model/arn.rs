//! How a kind's ARN is made from its format, written once (each kind's format is `ARN` in its
//! file in `kinds/`): the spec's exports, the access model, the caller's principal and
//! `plinth permissions` all make a kind's ARNs here.

use super::{Attributes, Kind, Value};

/// Where an ARN's resource part goes: `arn:PARTITION:SERVICE:REGION:ACCOUNT:PREFIX ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnFormat {
    pub service: &'static str,
    /// The region is part of the ARN (empty for IAM and S3).
    pub regional: bool,
    /// The account is part of the ARN (empty for S3).
    pub in_account: bool,
    /// What comes before the resource's own id: `role` (a path follows), `function:`.
    pub prefix: &'static str,
    /// The id that stands for every resource of the kind: `/*` after an IAM path's place.
    pub every: &'static str,
    /// What the id is made of.
    pub id: ArnId,
}

/// What the id in a kind's ARN is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnId {
    /// Its IAM path and name: `/tonic/` and `lambda`.
    PathAndName,
    /// Its name.
    Name,
    /// Its issuer URL without `https://` (an OIDC provider).
    IssuerUrl,
    /// The id AWS assigns (a KMS key).
    Assigned,
}

/// The partition, region and account an ARN names. An account-wide pattern may hold `*`.
#[derive(Debug, Clone, Copy)]
pub struct ArnScope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
}

/// An IAM entity named by its path and name.
pub(super) const fn iam(prefix: &'static str) -> ArnFormat {
    ArnFormat {
        service: "iam",
        regional: false,
        in_account: true,
        prefix,
        every: "/*",
        id: ArnId::PathAndName,
    }
}

/// A resource of a regional service named by `id`.
pub(super) const fn regional(service: &'static str, prefix: &'static str, id: ArnId) -> ArnFormat {
    ArnFormat {
        service,
        regional: true,
        in_account: true,
        prefix,
        every: "*",
        id,
    }
}

/// The id in an OIDC provider's ARN: its issuer URL without `https://`.
pub fn oidc_provider_id(url: &str) -> &str {
    url.strip_prefix("https://").unwrap_or(url)
}

impl Kind {
    /// The ARN of the resource of this kind with `id` (what follows the kind's prefix: an
    /// IAM path and name, a queue's name, a key's id) in `at`.
    pub fn arn(self, at: ArnScope<'_>, id: &str) -> String {
        self.arn_of_parts(at, &["", id])
    }

    /// [`Self::arn`] with its id written in parts (an IAM path, then a name), in one
    /// allocation: the access model makes the ARN of every resource of a plan, twice.
    fn arn_of_parts(self, at: ArnScope<'_>, id: &[&str; 2]) -> String {
        let format = self.arn_format();
        let region = if format.regional { at.region } else { "" };
        let account = if format.in_account { at.account_id } else { "" };
        let parts = [
            "arn:",
            at.partition,
            ":",
            format.service,
            ":",
            region,
            ":",
            account,
            ":",
            format.prefix,
            id[0],
            id[1],
        ];
        let mut arn = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            arn.push_str(part);
        }
        arn
    }

    /// The ARN of the resource of this kind with `attributes` and `physical_id` in `at`:
    /// [`Self::arn`] of [`Self::arn_id`].
    pub fn resource_arn(
        self,
        at: ArnScope<'_>,
        attributes: &Attributes,
        physical_id: &str,
    ) -> String {
        self.arn_of_parts(at, &self.arn_id_parts(attributes, physical_id))
    }

    /// The id in the ARN of a resource of this kind with `attributes` (planned or read) and
    /// `physical_id`: its name (after its path, for IAM), an OIDC provider's URL without its
    /// scheme, a key's id; `*` for a key whose id is not known yet.
    pub fn arn_id(self, attributes: &Attributes, physical_id: &str) -> String {
        self.arn_id_parts(attributes, physical_id).concat()
    }

    /// [`Self::arn_id`] in two parts: an IAM path (empty for other kinds), then the rest.
    fn arn_id_parts<'v>(self, attributes: &'v Attributes, physical_id: &'v str) -> [&'v str; 2] {
        let text = |name: &str| attributes.get(name).and_then(Value::as_str);
        let name = text("name").unwrap_or(physical_id);
        match self.arn_format().id {
            ArnId::PathAndName => [text("path").unwrap_or("/"), name],
            ArnId::IssuerUrl => ["", oidc_provider_id(text("url").unwrap_or(name))],
            ArnId::Name => ["", name],
            ArnId::Assigned if physical_id.is_empty() || physical_id.contains(['(', ' ', '{']) => {
                ["", "*"]
            }
            ArnId::Assigned => ["", physical_id],
        }
    }

    /// The pattern of every resource of this kind in `at`: `arn:aws:iam::ID:role/*`.
    pub fn type_wide_arn(self, at: ArnScope<'_>) -> String {
        self.arn(at, self.arn_format().every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_writes_the_arn_aws_gives_it() {
        let at = ArnScope {
            partition: "aws",
            region: "us-east-1",
            account_id: "123456789012",
        };
        let cases = [
            (
                Kind::Role,
                "/tonic/lambda",
                "arn:aws:iam::123456789012:role/tonic/lambda",
            ),
            (Kind::Policy, "/p", "arn:aws:iam::123456789012:policy/p"),
            (
                Kind::InstanceProfile,
                "/ip",
                "arn:aws:iam::123456789012:instance-profile/ip",
            ),
            (
                Kind::OidcProvider,
                "token.actions.githubusercontent.com",
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
            ),
            (
                Kind::Key,
                "1234",
                "arn:aws:kms:us-east-1:123456789012:key/1234",
            ),
            (
                Kind::Queue,
                "work",
                "arn:aws:sqs:us-east-1:123456789012:work",
            ),
            (
                Kind::Function,
                "worker",
                "arn:aws:lambda:us-east-1:123456789012:function:worker",
            ),
            (Kind::Bucket, "data", "arn:aws:s3:::data"),
        ];
        for (kind, id, arn) in cases {
            assert_eq!(kind.arn(at, id), arn);
        }
        assert_eq!(
            Kind::Role.type_wide_arn(at),
            "arn:aws:iam::123456789012:role/*"
        );
        assert_eq!(Kind::Bucket.type_wide_arn(at), "arn:aws:s3:::*");
        assert_eq!(
            Kind::Function.type_wide_arn(at),
            "arn:aws:lambda:us-east-1:123456789012:function:*"
        );
    }

    #[test]
    fn the_arn_id_comes_from_the_planned_attributes() {
        let attributes = |pairs: &[(&str, &str)]| -> Attributes {
            (pairs.iter())
                .map(|(k, v)| (k.to_string(), Value::str(*v)))
                .collect()
        };
        let role = attributes(&[("name", "lambda"), ("path", "/tonic/")]);
        assert_eq!(Kind::Role.arn_id(&role, "lambda"), "/tonic/lambda");
        assert_eq!(Kind::Policy.arn_id(&attributes(&[]), "p"), "/p");
        let provider = attributes(&[("url", "https://token.actions.githubusercontent.com")]);
        assert_eq!(
            Kind::OidcProvider.arn_id(&provider, "arn:aws:iam::1:oidc-provider/x"),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(Kind::Queue.arn_id(&attributes(&[]), "work"), "work");
        assert_eq!(Kind::Key.arn_id(&attributes(&[]), "1234"), "1234");
        assert_eq!(Kind::Key.arn_id(&attributes(&[]), ""), "*");
        assert_eq!(
            Kind::Key.arn_id(&attributes(&[]), "(known after apply)"),
            "*"
        );
        // The access model writes the two in one go.
        let at = ArnScope {
            partition: "aws",
            region: "eu-west-1",
            account_id: "123456789012",
        };
        assert_eq!(
            Kind::Role.resource_arn(at, &role, "lambda"),
            "arn:aws:iam::123456789012:role/tonic/lambda"
        );
        assert_eq!(
            Kind::Queue.resource_arn(at, &attributes(&[]), "work"),
            "arn:aws:sqs:eu-west-1:123456789012:work"
        );
        assert_eq!(
            Kind::Key.resource_arn(at, &attributes(&[]), ""),
            "arn:aws:kms:eu-west-1:123456789012:key/*"
        );
    }
}
