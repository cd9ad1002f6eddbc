//! Secrets written in a spec never reach a diagnostic's snippet.
//!
//! A diagnostic shows the lines around what it points at, and a spec may hold a secret
//! literally (`API_TOKEN = { secret = "..." }`) or in a variable a secret refers to
//! (`{ secret = "${var.api_token}" }` with the value in `[vars]`). Before diagnostics leave the
//! loader, each one that shows the spec is given a copy of the spec with those values'
//! characters replaced by `*`, byte for byte, so every span still points where it did.

use std::ops::Range;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::template::{self, Piece, Reference};
use crate::diag::{Diagnostics, SourceFile};

/// Replaces, in every diagnostic located in `file`, the spec by a copy without its secrets.
pub fn redact_secrets(file: &Arc<SourceFile>, diags: &mut Diagnostics) {
    if diags.0.is_empty() {
        return;
    }
    let spans = secret_spans(&file.text);
    if spans.is_empty() {
        return;
    }
    let mut bytes = file.text.clone().into_bytes();
    for span in spans {
        for b in &mut bytes[span] {
            *b = b'*';
        }
    }
    // Whole characters are replaced (spans are those of string contents), so the text stays
    // UTF-8; should it not, the diagnostics keep no snippet rather than a secret.
    let text = String::from_utf8(bytes).unwrap_or_default();
    let redacted = SourceFile::new(file.name.clone(), text);
    for d in &mut diags.0 {
        if let Some(location) = &mut d.location {
            if Arc::ptr_eq(&location.file, file) {
                location.file = Arc::clone(&redacted);
                if location.span.end > location.file.text.len() {
                    location.span = 0..0;
                }
            }
        }
    }
}

/// The spec's text with each secret value's characters replaced by `*` (same length, so
/// positions stay), for anything that shows the text itself: `fmt`'s errors and diffs.
pub fn mask_secrets(text: &str) -> String {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut bytes = text.as_bytes().to_vec();
    for span in spans {
        for b in &mut bytes[span] {
            *b = b'*';
        }
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// The byte ranges of secret values in a spec: the strings of `{ secret = "..." }` tables, and
/// the `[vars]` values they refer to. A table is taken as a secret when any of its keys looks
/// like `secret` (a misspelt `secert`, or `secret` beside a stray key), since the diagnostic it
/// draws is the one that would otherwise show the value. A spec that is not valid TOML is
/// read as far as it parses, and its text is also scanned for `secret = "..."` lines.
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    let root = root.into_inner();
    let mut secrets = Vec::new();
    let mut vars_used = Vec::new();
    for (_, value) in root.iter() {
        collect(value, text, false, &mut secrets, &mut vars_used);
    }
    if !errors.is_empty() {
        scan(text, &mut secrets, &mut vars_used);
    }
    // The values of those variables: in `[vars]`, and in each environment's `vars`.
    let mut tables = Vec::new();
    if let Some(DeValue::Table(vars)) = root.get("vars").map(|v| v.get_ref()) {
        tables.push(vars);
    }
    if let Some(DeValue::Table(envs)) = root.get("env").map(|v| v.get_ref()) {
        for (_, env) in envs.iter() {
            if let DeValue::Table(env) = env.get_ref() {
                if let Some(DeValue::Table(vars)) = env.get("vars").map(|v| v.get_ref()) {
                    tables.push(vars);
                }
            }
        }
    }
    for vars in tables {
        for (name, value) in vars.iter() {
            if vars_used.iter().any(|v| v == name.get_ref().as_ref()) {
                secrets.push(content(text, value.span()));
            }
        }
    }
    if !errors.is_empty() {
        for name in &vars_used {
            assignments(text, name, &mut secrets);
        }
    }
    secrets
}

/// Where a spec that parses uses a variable a secret is made of outside a secret (a tag, a
/// description, a plain variable, an output), where plans and outputs show it: each such
/// variable's name and the span of the string that uses it, in the spec's order.
pub fn secret_vars_shown(text: &str) -> Vec<(String, Range<usize>)> {
    // Most specs hold no secret made of a variable: they are not parsed again.
    if !text.contains("${var.") || !mentions_secret(text) {
        return Vec::new();
    }
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Vec::new();
    }
    let root = root.into_inner();
    let (mut secrets, mut vars_used) = (Vec::new(), Vec::new());
    for (_, value) in root.iter() {
        collect(value, text, false, &mut secrets, &mut vars_used);
    }
    if vars_used.is_empty() {
        return Vec::new();
    }
    let mut shown = Vec::new();
    for (key, value) in root.iter() {
        // Variables are set, not shown, in `[vars]` and in environments' `vars`.
        if !matches!(key.get_ref().as_ref(), "vars" | "env") {
            plain_uses(value, &vars_used, &mut shown);
        }
    }
    shown
}

/// Whether `text` holds the word `secret` in any case. Only the places where an `s` is are
/// compared: a 10,000-resource spec without the word is read in a fifth of a millisecond,
/// where comparing at every byte took more than one, before any other work could start.
fn mentions_secret(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr2_iter(b's', b'S', bytes).any(|at| {
        bytes
            .get(at..at + 6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"secret"))
    })
}

/// The strings outside secret tables that refer to one of `vars`.
fn plain_uses(
    value: &toml::Spanned<DeValue<'_>>,
    vars: &[String],
    out: &mut Vec<(String, Range<usize>)>,
) {
    match value.get_ref() {
        DeValue::String(s) => {
            for piece in template::parse(s).unwrap_or_default() {
                if let Piece::Ref(Reference::Var(name), _) = piece {
                    if vars.contains(&name)
                        && !out
                            .iter()
                            .any(|(n, span)| *n == name && *span == value.span())
                    {
                        out.push((name, value.span()));
                    }
                }
            }
        }
        DeValue::Table(table) if table.iter().any(|(k, _)| secret_like(k.get_ref())) => {}
        DeValue::Table(table) => table.iter().for_each(|(_, v)| plain_uses(v, vars, out)),
        DeValue::Array(array) => array.iter().for_each(|v| plain_uses(v, vars, out)),
        _ => {}
    }
}

/// Whether a key names a secret, misspelt or not.
fn secret_like(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.len() >= 4 && strsim::damerau_levenshtein(&key, "secret") <= 2
}

fn collect(
    value: &toml::Spanned<DeValue<'_>>,
    text: &str,
    secret: bool,
    secrets: &mut Vec<Range<usize>>,
    vars_used: &mut Vec<String>,
) {
    match value.get_ref() {
        DeValue::String(s) if secret => {
            secrets.push(content(text, value.span()));
            for piece in template::parse(s).unwrap_or_default() {
                if let Piece::Ref(Reference::Var(name), _) = piece {
                    vars_used.push(name);
                }
            }
        }
        DeValue::Table(table) => {
            let secret = secret || table.iter().any(|(k, _)| secret_like(k.get_ref()));
            for (_, v) in table.iter() {
                collect(v, text, secret, secrets, vars_used);
            }
        }
        DeValue::Array(array) => {
            for v in array.iter() {
                collect(v, text, secret, secrets, vars_used);
            }
        }
        _ => {}
    }
}

/// The text of a spec that does not parse, read as lines: the string after each `KEY =` whose
/// key looks like `secret`, and the variables it refers to.
fn scan(text: &str, secrets: &mut Vec<Range<usize>>, vars_used: &mut Vec<String>) {
    let mut at = 0;
    while let Some(found) = next_key(text, at) {
        let (key, after) = found;
        at = after;
        if !secret_like(key) {
            continue;
        }
        let Some(value) = string_after_equals(text, after) else {
            continue;
        };
        let inside = &text[value.clone()];
        for piece in template::parse(inside).unwrap_or_default() {
            if let Piece::Ref(Reference::Var(name), _) = piece {
                vars_used.push(name);
            }
        }
        at = value.end;
        secrets.push(value);
    }
}

/// The next bare key at or after `from` (a run of letters, digits, `_` and `-`) and where it
/// ends.
fn next_key(text: &str, from: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let start = (from..bytes.len()).find(|&i| word(bytes[i]))?;
    let end = (start..bytes.len())
        .find(|&i| !word(bytes[i]))
        .unwrap_or(bytes.len());
    Some((&text[start..end], end))
}

/// The contents of a one-line string after `= ` at `from` (blanks allowed around `=`), to its
/// closing quote or the end of the line.
fn string_after_equals(text: &str, from: usize) -> Option<Range<usize>> {
    let rest = &text[from..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let trimmed = trimmed.strip_prefix('=')?;
    let value = trimmed.trim_start_matches([' ', '\t']);
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let at = text.len() - value.len();
    for triple in ["\"\"\"", "'''"] {
        if value.starts_with(triple) {
            let start = at + 3;
            let end = text[start..].find(triple).map_or(text.len(), |i| start + i);
            return Some(start..end);
        }
    }
    let start = at + 1;
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let end = text[start..line_end]
        .find(quote)
        .map_or(line_end, |i| start + i);
    Some(start..end)
}

/// In a spec that does not parse, the value of every `NAME = "..."` line.
fn assignments(text: &str, name: &str, secrets: &mut Vec<Range<usize>>) {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(name) {
            if rest.trim_start().starts_with('=') {
                if let Some(value) = string_after_equals(text, line_start + indent + name.len()) {
                    secrets.push(value);
                }
            }
        }
        line_start += line.len();
    }
}

/// A string's span without its quotes (a multi-line string's delimiters included), on
/// character boundaries.
fn content(text: &str, span: Range<usize>) -> Range<usize> {
    let raw = text.get(span.clone()).unwrap_or_default();
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| raw.starts_with(q) && raw.len() >= 2 * q.len())
        .map_or(0, str::len);
    (span.start + quote)..(span.end - quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_the_variables_they_use_are_found() {
        let text = "[vars]\ntoken = \"abc\"\nplain = \"x\"\n\n[function.f.environment]\nA = { secret = \"lit€ral\" }\nB = { secret = \"${var.token}\" }\nC = \"${var.plain}\"\n";
        let spans: Vec<&str> = secret_spans(text).into_iter().map(|s| &text[s]).collect();
        assert_eq!(spans, ["lit€ral", "${var.token}", "abc"]);
        // An environment's value of such a variable too.
        let text =
            format!("{text}\n[env.dev]\nvars = {{ token = \"dev-token\", plain = \"y\" }}\n");
        let spans: Vec<&str> = secret_spans(&text).into_iter().map(|s| &text[s]).collect();
        assert_eq!(spans, ["lit€ral", "${var.token}", "abc", "dev-token"]);
    }

    #[test]
    fn a_secrets_variable_used_in_the_open_is_found() {
        let text = "[vars]\ntok = \"abc\"\nplain = \"x\"\n\n[role.r]\ndescription = \"token ${var.tok}\"\ntags = { t = \"${var.tok}\", p = \"${var.plain}\" }\n\n[function.f.environment]\nA = { secret = \"${var.tok}\" }\nB = \"${var.tok}-${var.plain}\"\n\n[outputs]\nt = \"${var.tok}\"\n";
        let shown: Vec<(String, &str)> = secret_vars_shown(text)
            .into_iter()
            .map(|(name, span)| (name, &text[span]))
            .collect();
        let tok = |s: &'static str| ("tok".to_string(), s);
        assert_eq!(
            shown,
            [
                tok("\"token ${var.tok}\""),
                tok("\"${var.tok}\""),
                tok("\"${var.tok}-${var.plain}\""),
                tok("\"${var.tok}\""),
            ]
        );
        assert!(secret_vars_shown(&text.replace("secret", "other")).is_empty());
    }

    #[test]
    fn the_word_secret_is_found_in_any_case_and_anywhere() {
        for text in ["secret", "x = { SeCrEt = 1 }", "ss secret", "tail: Secret"] {
            assert!(mentions_secret(text), "{text:?}");
        }
        for text in [
            "",
            "s",
            "secre",
            "secre t",
            "sssss",
            "x = { secrt = 1 }\nsecre",
        ] {
            assert!(!mentions_secret(text), "{text:?}");
        }
    }

    #[test]
    fn a_misspelt_or_crowded_secret_table_is_still_a_secret() {
        let text = "[f.environment]\nA = { secert = \"one\" }\nB = { secret = \"two\", bogus = 1 }\nC = { Secret = \"three\" }\nD = \"plain\"\n";
        let spans: Vec<&str> = secret_spans(text).into_iter().map(|s| &text[s]).collect();
        assert_eq!(spans, ["one", "two", "three"]);
    }

    #[test]
    fn a_spec_that_does_not_parse_still_hides_its_secrets() {
        let text = "[vars]\ntoken = \"abc\"\n\n[f]\nenvironment = { A = { secret = \"lit\" }, B = { secret = \"${var.token}\" }\nC = { secret = '''multi\nline''' }\n";
        let spans: Vec<&str> = secret_spans(text).into_iter().map(|s| &text[s]).collect();
        for secret in ["lit", "${var.token}", "abc", "multi\nline"] {
            assert!(spans.contains(&secret), "{secret} in {spans:?}");
        }
    }
}
