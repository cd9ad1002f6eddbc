//! What AWS accepts: names, paths and limits, checked before anything is sent.
//!
//! Values that still hold references (other than variables, which are known) are checked once
//! they are resolved, at plan time.

use std::collections::BTreeMap;

use super::{Text, Var};
use crate::diag::{Diagnostic, Diagnostics, Location};
const PLINTH_TAG_PREFIX: &str = "plinth:";

pub fn stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("stack name `{name}` must be 1 to 64 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("stack name `{name}` may hold only letters, digits, `-` and `_`"));
    }
    Ok(())
}

pub fn logical_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("`{name}` is not a valid logical name"));
    }
    Ok(())
}

/// IAM role (and user, policy, instance profile) names: `[\w+=,.@-]{1,64}`.
pub fn iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > max {
        return Err(format!("`{name}` is {} characters; IAM allows 1 to {max}", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))) {
        return Err(format!("`{name}` contains `{c}`, which IAM does not allow in a name"));
    }
    Ok(())
}

/// IAM paths: `/` or `/segment/.../`, printable ASCII, at most 512 characters.
pub fn iam_path(path: &str) -> Result<(), String> {
    if path.len() > 512 {
        return Err("an IAM path is at most 512 characters".into());
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!("IAM path `{path}` must begin and end with `/`"));
    }
    if path.contains("//") {
        return Err(format!("IAM path `{path}` has an empty segment"));
    }
    if let Some(c) = path.chars().find(|c| !('\u{21}'..='\u{7e}').contains(c)) {
        return Err(format!("IAM path `{path}` contains {c:?}; only printable ASCII without spaces is allowed"));
    }
    Ok(())
}

pub fn tag_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(format!("tag key `{key}` must be 1 to 128 characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("tag key `{key}` uses the reserved `aws:` prefix"));
    }
    // plinth keeps its own records in tags (`plinth:stack`, `plinth:address`, a key's deletion
    // window); a user tag among them would be overwritten or read as one of plinth's.
    if key.starts_with(PLINTH_TAG_PREFIX) {
        return Err(format!("tag key `{key}` uses the `{PLINTH_TAG_PREFIX}` prefix, which plinth keeps for its own tags"));
    }
    if let Some(c) = key.chars().find(|c| !(c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(*c))) {
        return Err(format!("tag key `{key}` contains `{c}`, which AWS does not allow"));
    }
    Ok(())
}

pub fn tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > 256 {
        return Err("a tag value is at most 256 characters".into());
    }
    Ok(())
}

/// Checks spec values against AWS's rules, once variables (the only references known before
/// AWS is read) are substituted; a value that still depends on AWS or another resource is
/// checked at plan time instead.
pub struct Checker<'a> {
    vars: &'a BTreeMap<String, Var>,
}

impl<'a> Checker<'a> {
    pub fn new(vars: &'a BTreeMap<String, Var>) -> Self {
        Self { vars }
    }

    /// A text's value when it holds no references other than variables.
    pub fn resolve(&self, text: &Text) -> Option<String> {
        self.with_vars(text)
    }

    fn with_vars(&self, text: &Text) -> Option<String> {
        if text.is_broken() {
            return None;
        }
        super::template::render(&text.pieces, |r| match r {
            super::template::Reference::Var(n) => self.vars.get(n).map(|v| v.value.clone()),
            _ => None,
        })
    }

    /// Applies `rule` to a text's value; a violation points at the text, with `hint`.
    pub fn text(&self, text: &Text, rule: impl Fn(&str) -> Result<(), String>, hint: &str, diags: &mut Diagnostics) {
        if let Some(value) = self.with_vars(text) {
            if let Err(message) = rule(&value) {
                diags.push(Diagnostic::error("spec::invalid-value", message).at_location(Some(text.location.clone())).hint(hint));
            }
        }
    }

    /// Checks a whole number against an inclusive range.
    pub fn range(&self, what: &str, value: &(i64, Location), range: std::ops::RangeInclusive<i64>, diags: &mut Diagnostics) {
        if !range.contains(&value.0) {
            diags.push(
                Diagnostic::error(
                    "spec::invalid-value",
                    format!("{what} is {}; AWS allows {} to {}", value.0, range.start(), range.end()),
                )
                .at_location(Some(value.1.clone()))
                .hint(format!("set {what} to a whole number from {} to {}", range.start(), range.end())),
            );
        }
    }
}

/// A length limit, in characters.
pub fn max_chars(what: &'static str, max: usize) -> impl Fn(&str) -> Result<(), String> {
    move |v: &str| {
        if v.chars().count() > max {
            Err(format!("{what} is at most {max} characters"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STACK_TAG;

    #[test]
    fn iam_names() {
        assert!(iam_name("tonic-lambda-role", 64).is_ok());
        assert!(iam_name("a+b=c,d.e@f_g", 64).is_ok());
        assert!(iam_name(&"x".repeat(64), 64).is_ok());
        assert!(iam_name(&"x".repeat(65), 64).unwrap_err().contains("65 characters"));
        assert!(iam_name("has space", 64).unwrap_err().contains("` `"));
        assert!(iam_name("", 64).is_err());
    }

    #[test]
    fn iam_paths() {
        assert!(iam_path("/").is_ok());
        assert!(iam_path("/tonic/workers/").is_ok());
        assert!(iam_path("tonic/").is_err());
        assert!(iam_path("/tonic").is_err());
        assert!(iam_path("/a//b/").is_err());
        assert!(iam_path("/a b/").is_err());
    }

    #[test]
    fn tag_keys() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("aws:foo").is_err());
        assert!(tag_key(STACK_TAG).is_err());
        assert!(tag_key("plinth:deletion-window-days").is_err());
        assert!(tag_key("a*b").is_err());
    }
}
