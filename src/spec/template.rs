//! `${...}` interpolation in spec strings.
//!
//! A template is a string that may name variables (`${var.NAME}`), facts about the account
//! (`${aws.account_id}`, `${aws.region}`, `${aws.partition}`, `${aws.caller_arn}`) and attributes of other resources
//! (`${role.lambda.arn}`). `$${` writes a literal `${`. IAM's own policy variables
//! (`${aws:username}`: they always hold a `:`) are left as they are.

use std::ops::Range;

use crate::model::{Address, Kind};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    Var(String),
    Aws(AwsFact),
    Resource { address: Address, attribute: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AwsFact {
    AccountId,
    Region,
    Partition,
    /// The identity running plinth, as a principal a policy can name: an assumed role's
    /// session is its role.
    CallerArn,
}

impl AwsFact {
    pub const NAMES: &'static [&'static str] = &["account_id", "region", "partition", "caller_arn"];

    /// The fact a variable's whole value refers to (`deployer = "${aws.caller_arn}"`): such a
    /// variable is known when the account is.
    pub fn of_var(value: &str) -> Option<AwsFact> {
        // Asked at every lookup of a variable: most values hold no reference at all.
        crate::policy::pattern::find_open(value)?;
        match parse(value).ok()?.as_slice() {
            [Piece::Ref(Reference::Aws(fact), _)] => Some(*fact),
            _ => None,
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// A reference and its byte range (including `${` and `}`) in the template.
    Ref(Reference, Range<usize>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub hint: Option<String>,
    /// Byte range in the template.
    pub span: Range<usize>,
}

/// Splits a template into text and references, checking each reference's grammar.
pub fn parse(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(i) = crate::policy::pattern::find_open(rest) {
        if rest[..i].ends_with('$') {
            // `$${` is an escaped, literal `${`.
            text.push_str(&rest[..i - 1]);
            text.push_str("${");
            rest = &rest[i + 2..];
            offset += i + 2;
            continue;
        }
        text.push_str(&rest[..i]);
        let start = offset + i;
        let after = &rest[i + 2..];
        let Some(close) = after.find('}') else {
            return Err(TemplateError {
                message: "unterminated `${`".into(),
                hint: Some(
                    "close the reference with `}`, or write `$${` for a literal `${`".into(),
                ),
                span: start..template.len(),
            });
        };
        let expr = &after[..close];
        let end = start + 2 + close + 1;
        if expr.contains(':') || matches!(expr, "*" | "?" | "$") {
            // An IAM policy variable (`${aws:username}`, `${s3:prefix}`), or one of IAM's
            // special characters (`${*}`, `${?}`, `${$}`: a literal `*`, `?` or `$`): IAM's,
            // not plinth's.
            text.push_str(&rest[i..i + 2 + close + 1]);
            rest = &after[close + 1..];
            offset = end;
            continue;
        }
        let reference = parse_reference(expr).map_err(|(message, hint)| TemplateError {
            message,
            hint,
            span: start..end,
        })?;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Ref(reference, start..end));
        rest = &after[close + 1..];
        offset = end;
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn parse_reference(expr: &str) -> Result<Reference, (String, Option<String>)> {
    let expr = expr.trim();
    let parts: Vec<&str> = expr.split('.').collect();
    let valid_ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match parts.as_slice() {
        ["var", name] if valid_ident(name) => Ok(Reference::Var((*name).to_string())),
        ["aws", fact] => match *fact {
            "account_id" => Ok(Reference::Aws(AwsFact::AccountId)),
            "region" => Ok(Reference::Aws(AwsFact::Region)),
            "partition" => Ok(Reference::Aws(AwsFact::Partition)),
            "caller_arn" => Ok(Reference::Aws(AwsFact::CallerArn)),
            other => Err((
                format!("`aws.{other}` is not a known fact about the account"),
                Some(format!("use one of: {}", AwsFact::NAMES.map_join("aws."))),
            )),
        },
        [kind, name, attribute] if valid_ident(name) && valid_ident(attribute) => {
            let Some(kind) = Kind::parse(kind) else {
                return Err((
                    format!("`{kind}` is not a resource kind"),
                    Some(format!(
                        "a reference is `${{var.NAME}}`, `${{aws.account_id}}` or `${{KIND.NAME.ATTRIBUTE}}` with KIND one of: {}",
                        Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                ));
            };
            Ok(Reference::Resource {
                address: Address::new(kind, *name),
                attribute: (*attribute).to_string(),
            })
        }
        _ => Err((
            format!("`${{{expr}}}` is not a valid reference"),
            Some("a reference is `${var.NAME}`, `${aws.account_id}`, `${aws.region}` or `${KIND.NAME.ATTRIBUTE}`".into()),
        )),
    }
}

trait MapJoin {
    fn map_join(&self, prefix: &str) -> String;
}

impl MapJoin for [&str] {
    fn map_join(&self, prefix: &str) -> String {
        self.iter()
            .map(|s| format!("{prefix}{s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Renders a parsed template, asking `lookup` for each reference's value; `None` means the
/// value is not known yet (it is created by this apply).
pub fn render(
    pieces: &[Piece],
    mut lookup: impl FnMut(&Reference) -> Option<String>,
) -> Option<String> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r, _) => out.push_str(&lookup(r)?),
        }
    }
    Some(out)
}

/// `text` onto `out` with each literal `${` escaped as `$${`.
fn push_escaped(out: &mut String, text: &str) {
    if crate::policy::pattern::find_open(text).is_some() {
        out.push_str(&text.replace("${", "$${"));
    } else {
        out.push_str(text);
    }
}

/// Renders what is known and leaves the rest as `${...}` (literal `${` escaped as `$${`), so
/// the result is again a template. The flag says whether everything was known.
pub fn render_partial(
    pieces: &[Piece],
    mut lookup: impl FnMut(&Reference) -> Option<String>,
) -> (String, bool) {
    let mut out = String::new();
    let mut complete = true;
    for piece in pieces {
        match piece {
            Piece::Text(t) => push_escaped(&mut out, t),
            Piece::Ref(r, _) => match lookup(r) {
                Some(v) => push_escaped(&mut out, &v),
                None => {
                    complete = false;
                    push_reference(&mut out, r);
                }
            },
        }
    }
    (out, complete)
}

/// Renders what is known and writes the rest as the reference it is (`${role.x.arn}`), for
/// checks that treat unknown values as opaque; unlike [`render_partial`], the result is text,
/// not a template.
pub fn render_lenient(
    pieces: &[Piece],
    mut lookup: impl FnMut(&Reference) -> Option<String>,
) -> String {
    // Written into one string: the load's lints fill every templated policy of a large spec
    // this way, and a string for each piece (each reference formatted) was a sixth of it.
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r, _) => match lookup(r) {
                Some(value) => out.push_str(&value),
                None => push_reference(&mut out, r),
            },
        }
    }
    out
}

/// A reference as it is written in a spec.
pub fn reference_text(r: &Reference) -> String {
    let mut out = String::new();
    push_reference(&mut out, r);
    out
}

/// Writes a reference as it is written in a spec (`${role.app.arn}`).
fn push_reference(out: &mut String, r: &Reference) {
    out.push_str("${");
    match r {
        Reference::Var(n) => {
            out.push_str("var.");
            out.push_str(n);
        }
        Reference::Aws(f) => {
            out.push_str("aws.");
            out.push_str(AwsFact::NAMES[*f as usize]);
        }
        Reference::Resource { address, attribute } => {
            // Writing into a string cannot fail.
            let _ = address.write_into(out);
            out.push('.');
            out.push_str(attribute);
        }
    }
    out.push('}');
}

/// The references a template makes, in order.
pub fn references(pieces: &[Piece]) -> impl Iterator<Item = (&Reference, &Range<usize>)> {
    pieces.iter().filter_map(|p| match p {
        Piece::Ref(r, span) => Some((r, span)),
        Piece::Text(_) => None,
    })
}

/// A literal `${` written so that plinth reads it as text; IAM's own policy variables
/// (`${aws:username}`, with a `:`) are left as they are, as plinth leaves them.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = crate::policy::pattern::find_open(rest) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let is_iam_variable = after
            .find('}')
            .is_some_and(|end| after[..end].contains(':'));
        out.push_str(if is_iam_variable { "${" } else { "$${" });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references() {
        let pieces = parse("arn:aws:sqs:${aws.region}:${var.account}:tonic-*").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("arn:aws:sqs:".into()),
                Piece::Ref(Reference::Aws(AwsFact::Region), 12..25),
                Piece::Text(":".into()),
                Piece::Ref(Reference::Var("account".into()), 26..40),
                Piece::Text(":tonic-*".into()),
            ]
        );
    }

    #[test]
    fn resource_references_name_kind_name_and_attribute() {
        let pieces = parse("${role.lambda.arn}").unwrap();
        assert_eq!(
            pieces,
            vec![Piece::Ref(
                Reference::Resource {
                    address: Address::new(Kind::Role, "lambda"),
                    attribute: "arn".into()
                },
                0..18
            )]
        );
    }

    #[test]
    fn iam_policy_variables_are_left_alone() {
        let pieces = parse("arn:aws:s3:::b/${aws:username}/*").unwrap();
        assert_eq!(
            pieces,
            vec![Piece::Text("arn:aws:s3:::b/${aws:username}/*".into())]
        );
        let (text, complete) = render_partial(&pieces, |_| None);
        assert!(complete);
        assert_eq!(
            render(&parse(&text).unwrap(), |_| None).unwrap(),
            "arn:aws:s3:::b/${aws:username}/*"
        );
    }

    #[test]
    fn iam_special_characters_are_left_alone() {
        let written = "arn:aws:s3:::b/a${*}b${?}c${$}d";
        let pieces = parse(written).unwrap();
        assert_eq!(pieces, vec![Piece::Text(written.into())]);
        assert_eq!(render(&pieces, |_| None).unwrap(), written);
    }

    #[test]
    fn double_dollar_escapes() {
        let pieces = parse("a $${not.a.ref} b").unwrap();
        assert_eq!(pieces, vec![Piece::Text("a ${not.a.ref} b".into())]);
    }

    #[test]
    fn bad_references_are_errors_with_spans() {
        let e = parse("x ${aws.acount_id} y").unwrap_err();
        assert_eq!(e.span, 2..18);
        assert!(e.message.contains("aws.acount_id"));
        let e = parse("${bucket}").unwrap_err();
        assert!(e.message.contains("not a valid reference"), "{e:?}");
        let e = parse("${widget.q.arn}").unwrap_err();
        assert!(
            e.message.contains("`widget` is not a resource kind"),
            "{e:?}"
        );
        let e = parse("abc ${var.x").unwrap_err();
        assert_eq!(e.span, 4..11);
    }

    #[test]
    fn partial_rendering_leaves_a_template() {
        let pieces = parse("$${x} ${var.a}:${role.r.unique_id}").unwrap();
        let (text, complete) = render_partial(&pieces, |r| match r {
            Reference::Var(_) => Some("A".into()),
            _ => None,
        });
        assert!(!complete);
        assert_eq!(text, "$${x} A:${role.r.unique_id}");
        let again = parse(&text).unwrap();
        let (full, complete) = render_partial(&again, |_| Some("ID".into()));
        assert!(complete);
        assert_eq!(render(&again, |_| Some("ID".into())).unwrap(), "${x} A:ID");
        assert_eq!(full, "$${x} A:ID");
    }

    #[test]
    fn lenient_rendering_writes_unknown_references_as_written() {
        let written = "$${x} ${var.a}/${aws.account_id}:${role.r.unique_id} ${var.b}";
        let pieces = parse(written).unwrap();
        let text = render_lenient(&pieces, |r| match r {
            Reference::Var(n) if n == "a" => Some("A".into()),
            _ => None,
        });
        assert_eq!(
            text,
            "${x} A/${aws.account_id}:${role.r.unique_id} ${var.b}"
        );
        let texts: Vec<String> = references(&pieces)
            .map(|(r, _)| reference_text(r))
            .collect();
        assert_eq!(
            texts,
            [
                "${var.a}",
                "${aws.account_id}",
                "${role.r.unique_id}",
                "${var.b}"
            ]
        );
    }

    #[test]
    fn render_stops_at_unknown_values() {
        let pieces = parse("${var.a}-${var.b}").unwrap();
        let full = render(&pieces, |r| match r {
            Reference::Var(n) => Some(n.to_uppercase()),
            _ => None,
        });
        assert_eq!(full.as_deref(), Some("A-B"));
        let partial = render(&pieces, |r| match r {
            Reference::Var(n) if n == "a" => Some("A".into()),
            _ => None,
        });
        assert_eq!(partial, None);
    }
}
