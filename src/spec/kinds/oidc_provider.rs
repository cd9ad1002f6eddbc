//! `[oidc_provider.NAME]`: an IAM OpenID Connect identity provider, which web-identity trust
//! policies name as their federated principal (GitHub Actions, EKS, a data platform's issuer).

use crate::spec::Located;
use serde::Deserialize;
use toml_edit::value;

use super::block::{is_empty, BlockWriter, Found};
use super::common::{RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::{Code, Diagnostic, Diagnostics, Location};
use crate::model::{oidc_provider_id, ArnScope, Attributes, Kind, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Charset, Checker};
use crate::spec::{BlockValue, Loader, Text};
use crate::state::LiveResource;

/// IAM's limits on one provider.
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;

#[derive(Debug)]
pub struct OidcProviderSpec {
    /// The issuer, `https://HOST[/PATH]`; it determines the provider's ARN.
    pub url: Text,
    /// The audiences (`aud` claims) it accepts; `None` leaves them unmanaged.
    pub client_ids: Option<(Vec<Text>, Location)>,
    /// SHA-1 thumbprints of the issuer's certificate; `None` leaves them to IAM.
    pub thumbprints: Option<(Vec<Text>, Location)>,
    pub tags: Tags,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OidcProvider")]
pub(crate) struct RawOidcProvider {
    url: Located<String>,
    #[schemars(length(max = MAX_CLIENT_IDS))]
    client_ids: Option<Located<Vec<Located<String>>>>,
    #[schemars(
        length(max = MAX_THUMBPRINTS),
        inner(pattern(THUMBPRINT_CHARS.pattern(THUMBPRINT_LENGTH, THUMBPRINT_LENGTH)))
    )]
    thumbprints: Option<Located<Vec<Located<String>>>>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(OidcProviderSpec, Lifecycle)> {
    let raw: RawOidcProvider = loader.deserialize_block(block)?;
    let mut list = |items: &Option<Located<Vec<Located<String>>>>| {
        items.as_ref().map(|l| {
            (
                l.get_ref()
                    .iter()
                    .map(|t| loader.text_or_stand_in(t))
                    .collect(),
                loader.location(l.span()),
            )
        })
    };
    let client_ids = list(&raw.client_ids);
    let thumbprints = list(&raw.thumbprints);
    let spec = OidcProviderSpec {
        url: loader.text_or_stand_in(&raw.url),
        client_ids,
        thumbprints,
        tags: Tags::load(loader, Kind::OidcProvider, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

/// What IAM accepts as a provider URL.
fn issuer_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("`{url}` does not begin with `https://`"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("`{url}` has no host"));
    }
    if let Some(c) = rest.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{}` holds {c:?}; a URL has no spaces or control characters",
            url.escape_debug()
        ));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "`{url}` has a query or fragment; IAM takes only a host and a path"
        ));
    }
    if url.chars().count() > 255 {
        return Err("a provider URL is at most 255 characters".into());
    }
    Ok(())
}

/// A SHA-1 thumbprint: 40 hexadecimal digits, in either case.
const THUMBPRINT_CHARS: Charset = Charset("0-9A-Fa-f");
const THUMBPRINT_LENGTH: usize = 40;

fn thumbprint(value: &str) -> Result<(), String> {
    if value.len() != THUMBPRINT_LENGTH || THUMBPRINT_CHARS.first_outside(value).is_some() {
        return Err(format!(
            "`{value}` is not a SHA-1 thumbprint (40 hexadecimal digits)"
        ));
    }
    Ok(())
}

impl OidcProviderSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "OIDC provider",
        optional_parts: &[],
        write_rank: 7,
        name_part: import_name_part,
        write_block: import_block,
    };
}

/// The part of a physical id an imported OIDC provider's logical name is made from: its issuer's host.
fn import_name_part(id: &str) -> &str {
    id.trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or(id)
}

/// An imported OIDC provider's block: its issuer, audiences and any thumbprints.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    w.literal("url");
    if let Some(v) = a.get("client_ids") {
        let item = w.item(v);
        w.put("client_ids", item);
    }
    if let Some(v) = a.get("thumbprints").filter(|v| !is_empty(v)) {
        let item = w.item(v);
        w.put("thumbprints", item);
    }
    w.tags();
    w.put("adopt", value(true));
}

impl KindSpec for OidcProviderSpec {
    fn arn_id(&self) -> Option<&Text> {
        Some(&self.url)
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.url]
            .into_iter()
            .chain(self.client_ids.iter().flat_map(|(l, _)| l))
            .chain(self.thumbprints.iter().flat_map(|(l, _)| l))
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.url,
            issuer_url,
            "write the issuer URL, e.g. `https://token.actions.githubusercontent.com`",
            diags,
        );
        let too_many =
            |what: &str, count: usize, max: usize, at: &Location, diags: &mut Diagnostics| {
                if count > max {
                    diags.push(
                        Diagnostic::error(
                            Code::SpecInvalidValue,
                            format!("{count} {what}; IAM allows at most {max}"),
                        )
                        .at_location(Some(at.clone()))
                        .hint(format!("keep at most {max} {what}")),
                    );
                }
            };
        if let Some((ids, at)) = &self.client_ids {
            too_many("client ids", ids.len(), MAX_CLIENT_IDS, at, diags);
            for id in ids {
                c.text(
                    id,
                    |v| match v.chars().count() {
                        0 => Err("a client id is empty; IAM takes 1 to 255 characters".into()),
                        _ => rules::max_chars("a client id", 255)(v),
                    },
                    "write the audience the provider's tokens carry (`aud`), e.g. `sts.amazonaws.com`",
                    diags,
                );
            }
        }
        if let Some((prints, at)) = &self.thumbprints {
            too_many("thumbprints", prints.len(), MAX_THUMBPRINTS, at, diags);
            for print in prints {
                c.text(
                    print,
                    thumbprint,
                    "a thumbprint is the hex SHA-1 of the issuer's top certificate, without colons",
                    diags,
                );
            }
        }
        self.tags.check(Kind::OidcProvider, c, diags);
    }

    fn desired(&self, r: &Resolver<'_>, _diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("url".into(), r.value(&self.url));
        if let Some((ids, _)) = &self.client_ids {
            attrs.insert("client_ids".into(), r.set(ids));
        }
        if let Some((prints, _)) = &self.thumbprints {
            // Hex case carries no meaning; IAM keeps what it is given.
            let lower = |v: Value| match v {
                Value::Str(s) => Value::Str(s.to_ascii_lowercase()),
                other => other,
            };
            attrs.insert(
                "thumbprints".into(),
                Value::List(prints.iter().map(|t| lower(r.value(t))).collect()),
            );
        }
        self.tags.desire(r, &mut attrs);
        attrs
    }

    /// IAM names a provider by an ARN made of its URL's host and path.
    fn physical_id(&self, r: &Resolver<'_>) -> Result<Option<String>, &Text> {
        let url = r.text(&self.url).ok_or(&self.url)?;
        let account = r.account();
        Ok(Some(provider_arn(
            &account.partition,
            &account.account_id,
            &url,
        )))
    }

    fn export(
        &self,
        attribute: &str,
        r: &Resolver<'_>,
        _live: Option<&LiveResource>,
    ) -> Option<String> {
        match attribute {
            "arn" => self.physical_id(r).ok().flatten(),
            _ => None,
        }
    }
}

fn provider_arn(partition: &str, account_id: &str, url: &str) -> String {
    let at = ArnScope {
        partition,
        region: "",
        account_id,
    };
    Kind::OidcProvider.arn(at, oidc_provider_id(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls() {
        assert!(issuer_url("https://token.actions.githubusercontent.com").is_ok());
        assert!(issuer_url("https://oidc.eks.us-east-1.amazonaws.com/id/ABC").is_ok());
        assert!(issuer_url("http://example.com")
            .unwrap_err()
            .contains("https://"));
        assert!(issuer_url("https://").unwrap_err().contains("no host"));
        assert!(issuer_url("https://exa mple.com/")
            .unwrap_err()
            .contains("no spaces"));
        assert!(issuer_url("https://example.com/?a=b")
            .unwrap_err()
            .contains("query"));
    }

    #[test]
    fn thumbprints() {
        assert!(thumbprint("6938fd4d98bab03faadb97b34396831e3780aea1").is_ok());
        assert!(thumbprint("6938FD4D98BAB03FAADB97B34396831E3780AEA1").is_ok());
        assert!(thumbprint("69:38:FD").is_err());
    }

    #[test]
    fn the_arn_is_the_url_without_its_scheme() {
        assert_eq!(
            provider_arn(
                "aws",
                "123456789012",
                "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
            ),
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
    }
}
