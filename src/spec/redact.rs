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

/// The byte ranges of secret values in a spec: the strings of `{ secret = "..." }` tables, and
/// the `[vars]` values they refer to.
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let root = root.into_inner();
    let mut secrets = Vec::new();
    let mut vars_used = Vec::new();
    for (_, value) in root.iter() {
        collect(value, text, &mut secrets, &mut vars_used);
    }
    if let Some(DeValue::Table(vars)) = root.get("vars").map(|v| v.get_ref()) {
        for (name, value) in vars.iter() {
            if vars_used.iter().any(|v| v == name.get_ref().as_ref()) {
                secrets.push(content(text, value.span()));
            }
        }
    }
    secrets
}

fn collect(
    value: &toml::Spanned<DeValue<'_>>,
    text: &str,
    secrets: &mut Vec<Range<usize>>,
    vars_used: &mut Vec<String>,
) {
    match value.get_ref() {
        DeValue::Table(table) => {
            if table.len() == 1 {
                if let Some(secret) = table.get("secret") {
                    if let DeValue::String(s) = secret.get_ref() {
                        secrets.push(content(text, secret.span()));
                        for piece in template::parse(s).unwrap_or_default() {
                            if let Piece::Ref(Reference::Var(name), _) = piece {
                                vars_used.push(name);
                            }
                        }
                    }
                    return;
                }
            }
            for (_, v) in table.iter() {
                collect(v, text, secrets, vars_used);
            }
        }
        DeValue::Array(array) => {
            for v in array.iter() {
                collect(v, text, secrets, vars_used);
            }
        }
        _ => {}
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
    }
}
