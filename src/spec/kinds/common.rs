//! The fields every kind takes besides its own: the user's `tags`, `adopt` and
//! `prevent_destroy`. Each kind's table struct declares them (so they are its part of the
//! JSON Schema, in its order); reading, checking and desiring them is written here once.

use std::collections::BTreeMap;
use std::ops::Range;

use super::Lifecycle;
use crate::diag::Diagnostics;
use crate::model::{Attributes, Kind};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::{Loader, Located, Text};

/// `tags = { KEY = "VALUE" }` as a kind's table holds it.
pub(crate) type RawTags = Option<BTreeMap<Located<String>, Located<String>>>;

/// The user's tags; `None` leaves them unmanaged (plinth's own tags are always set).
#[derive(Debug, Default)]
pub struct Tags(pub Option<BTreeMap<String, Text>>);

impl Tags {
    /// Reads the tags of a resource of `kind`, refusing keys AWS does not accept.
    pub(super) fn load(loader: &mut Loader, kind: Kind, raw: &RawTags) -> Tags {
        Tags(raw.as_ref().map(|t| loader.tags(kind, t)))
    }

    /// Whether the block declares its tags.
    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }

    /// The values, which may hold references.
    pub(super) fn texts(&self) -> impl Iterator<Item = &Text> {
        self.0.iter().flat_map(|t| t.values())
    }

    /// AWS's rules for the tag values of a resource of `kind`: IAM, S3 and Lambda also check
    /// their characters.
    pub(super) fn check(&self, kind: Kind, c: &Checker<'_>, diags: &mut Diagnostics) {
        let checked = matches!(kind.arn_format().service, "iam" | "s3" | "lambda");
        let hint = format!(
            "a tag value is at most 256 {}",
            if checked {
                rules::TAG_CHARACTERS
            } else {
                "characters"
            }
        );
        for value in self.texts() {
            if checked {
                c.text(value, rules::tag_value_checked, &hint, diags);
            } else if kind.arn_format().service == "sqs" {
                c.text(
                    value,
                    rules::sqs_tag_value,
                    "SQS takes a tag value of 1 to 256 characters",
                    diags,
                );
            } else {
                c.text(value, rules::tag_value, &hint, diags);
            }
        }
    }

    /// The `tags` attribute, when the block declares its tags.
    pub(super) fn desire(&self, r: &Resolver<'_>, attrs: &mut Attributes) {
        if let Some(tags) = &self.0 {
            attrs.insert("tags".into(), r.map(tags));
        }
    }
}

/// Where the first tag is written, for a block that may not set tags.
pub(super) fn first_tag(raw: &RawTags) -> Option<Range<usize>> {
    raw.as_ref().and_then(|t| t.keys().next()).map(|k| k.span())
}

impl Lifecycle {
    /// From the block's `adopt` and `prevent_destroy`.
    pub(super) fn new(adopt: bool, prevent_destroy: bool) -> Lifecycle {
        Lifecycle {
            adopt,
            prevent_destroy,
        }
    }
}
