//! A spec's policies: read from JSON, TOML or a file, linted, and held to IAM's size quotas.

use super::*;
use crate::hash::FastMap;
use crate::model::SizeLimit;
use crate::policy::DocumentKind;

impl Loader {
    /// Lints every policy with what is known before AWS is read: variables are filled in,
    /// other references stay as `${...}`, which the lints treat as unknown values. The
    /// resources come in runs (several threads may take runs of one list); what each run's
    /// resources found comes back with the run's place, for [`crate::parallel::in_order`].
    pub(super) fn lint_runs(
        spec: &Spec,
        runs: crate::parallel::Runs<'_, &Resource>,
    ) -> Vec<(usize, Vec<Diagnostic>)> {
        let own_account = spec.stack.account.as_ref().map(|a| a.account_id.clone());
        let known_accounts: Vec<String> = spec
            .vars
            .values()
            .map(|v| v.value.clone())
            .filter(|v| is_account_id(v))
            .chain(own_account.clone())
            .collect();
        // Before AWS is read, the stack's own account is known only when the spec names it:
        // otherwise a principal of that account would be reported as unknown, which the plan,
        // knowing the account, does not do.
        let own_account_known = own_account.is_some();
        // A document with no reference is held once however many blocks name it (a trust
        // policy file every role shares): it is linted once for all of them that silence
        // nothing.
        let mut shared: FastMap<(usize, DocumentKind), Vec<crate::policy::Lint>> =
            FastMap::default();
        let mut lint_resource = |resource: &Resource, diags: &mut Vec<Diagnostic>| {
            for (name, template, kind) in resource.body.policy_documents() {
                let Some(doc) = template.with(|r| match r {
                    Reference::Var(v) => spec.vars.get(v).and_then(Var::known),
                    _ => None,
                }) else {
                    continue;
                };
                let silenced = resource.silenced_for(&name);
                let lint = |silenced| {
                    let context = crate::policy::LintContext {
                        kind,
                        known_accounts: known_accounts.clone(),
                        own_account: own_account.clone(),
                        silenced,
                    };
                    crate::policy::lint(&doc, &context)
                };
                // Only a document held by the spec is the same document wherever its address
                // is: one made for this block is freed after it, and its address reused.
                let lints = if template.held_once().is_some() && silenced.is_empty() {
                    let key = (std::sync::Arc::as_ptr(&doc) as usize, kind);
                    shared.entry(key).or_insert_with(|| lint(silenced)).clone()
                } else {
                    lint(silenced)
                };
                for lint in lints.into_iter().filter(|l| {
                    own_account_known || l.code != crate::policy::LintCode::UnknownAccount
                }) {
                    if let Some(d) =
                        lint_diagnostic(&resource.address, &name, &lint, &template.location)
                    {
                        diags.push(d);
                    }
                }
            }
        };
        runs.map(|(start, run)| {
            let mut diags = Vec::new();
            for resource in run {
                lint_resource(resource, &mut diags);
            }
            (start, diags)
        })
        .collect()
    }

    /// AWS refuses policy documents over its size limits, so a spec that would hit one fails
    /// here rather than half way through an apply. References are counted as written; the
    /// plan measures a document again once they are filled in, when they may have made it
    /// reach a limit ([`policy_size_findings`]).
    pub(super) fn check_policy_sizes(&mut self, resource: &Resource) {
        policy_size_findings(resource, |t| t.size, &mut self.diags);
        self.check_policy_chars(resource);
        if resource.kind() == crate::model::Kind::Queue {
            self.check_queue_policy_quotas(resource);
        }
    }

    /// SQS's quotas on a queue policy beside its size ("Amazon SQS policy quotas"): 20
    /// statements, 7 actions in a statement, 50 principals and 10 conditions in all.
    fn check_queue_policy_quotas(&mut self, resource: &Resource) {
        use crate::policy::{Clause, PolicyDocument, Principals};
        for (_, name, template) in resource.body.documents() {
            let doc = match (&template.parsed, &template.json) {
                (Some(doc), _) => std::sync::Arc::clone(doc),
                (None, Some(json)) => match PolicyDocument::from_value(json) {
                    Ok(doc) => std::sync::Arc::new(doc),
                    Err(_) => continue,
                },
                (None, None) => continue,
            };
            let statements = doc.statements();
            let principals: usize = statements
                .iter()
                .map(|s| match &s.principal {
                    Some(
                        Clause::Is(Principals::Listed(l)) | Clause::Not(Principals::Listed(l)),
                    ) => l.len(),
                    Some(_) => 1,
                    None => 0,
                })
                .sum();
            let conditions: usize = statements.iter().map(|s| s.condition.len()).sum();
            let most_actions = statements
                .iter()
                .map(|s| match &s.action {
                    Clause::Is(a) | Clause::Not(a) => a.len(),
                })
                .max()
                .unwrap_or(0);
            let over = [
                (statements.len(), 20, "statements"),
                (most_actions, 7, "actions in one statement"),
                (principals, 50, "principals"),
                (conditions, 10, "conditions"),
            ];
            for (count, limit, what) in over {
                if count > limit {
                    let at = &template.location;
                    self.diags.push(
                        Diagnostic::error(
                            Code::SpecPolicySize,
                            format!("{} {name} has {count} {what}; SQS accepts at most {limit}", resource.address),
                        )
                        .at_location(Some(Location::new(&at.file, at.span.start..at.span.start + 1)))
                        .hint("SQS's policy quotas: 20 statements, 7 actions in a statement (a wildcard such as `sqs:Send*` counts once), 50 principals, 10 conditions"),
                    );
                }
            }
        }
    }

    /// IAM and KMS take policy text in Latin-1 only (the API's pattern
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`), and refuse the whole document otherwise.
    fn check_policy_chars(&mut self, resource: &Resource) {
        for (attribute, name, template) in resource.body.documents() {
            let Some(c) = template.outside_latin1 else {
                continue;
            };
            let service = match resource
                .kind()
                .policy_document(attribute)
                .map(|p| p.document)
            {
                Some(DocumentKind::Identity | DocumentKind::Trust) => "IAM",
                Some(DocumentKind::Resource(what)) if what.contains("KMS") => "KMS",
                _ => continue,
            };
            let span = &template.location.span;
            let file = &template.location.file;
            // A table's span is its header; its keys follow it.
            let at = file.text[span.clone()]
                .find(c)
                .or_else(|| file.text[span.start..].find(c))
                .map_or(span.start..span.start + 1, |i| {
                    span.start + i..span.start + i + c.len_utf8()
                });
            self.diags.push(
                Diagnostic::error(
                    Code::SpecPolicyChars,
                    format!(
                        "{} {name} holds `{c}` (U+{:04X}); {service} accepts policy text in Latin-1 only (U+0020 to U+00FF, tab and line breaks)",
                        resource.address, c as u32
                    ),
                )
                .at(file, at)
                .label("here")
                .hint("replace it with Latin-1 text; in a condition on a pattern (StringLike), `?` can stand for it"),
            );
        }
    }

    /// A policy written as a JSON string, a TOML table in IAM's shape, or `{ file = "..." }`.
    pub(super) fn policy(&mut self, value: Located<PolicyValue>) -> Option<PolicyTemplate> {
        let span = value.span();
        let PolicyValue { json, toml_type } = value.into_inner();
        match json {
            serde_json::Value::String(text) if toml_type == "string" => {
                let content = string_content_start(&self.file.text, span.clone());
                let file = Arc::clone(&self.file);
                self.policy_text(&file, &text, content, span)
            }
            serde_json::Value::Object(t) if t.len() == 1 && t.contains_key("file") => {
                let Some(rel) = t["file"].as_str() else {
                    self.err(Code::SpecType, "`file` must be a path string", span)
                        .set_hint("write { file = \"policies/NAME.json\" }, relative to the spec");
                    return None;
                };
                let path = self.dir.join(rel);
                if let Some(read) = self.policy_files.get(&path) {
                    return read.clone();
                }
                let name = path.display().to_string();
                let cited = Location::new(&self.file, span.clone());
                match read_source(&path, &name, Some(cited.clone())) {
                    Ok(file) if !looks_like_policy(&file.text) => {
                        // Any file can be named here (`/etc/passwd`, a key file): a diagnostic
                        // inside it would print its lines, so the spec's line is shown instead.
                        self.diags.push(
                            Diagnostic::error(
                                Code::PolicyNotAPolicy,
                                format!("`{name}` is not a policy document (its content is not shown)"),
                            )
                            .at_location(Some(cited))
                            .hint("a policy file holds one JSON object with a \"Statement\"; check the path"),
                        );
                        None
                    }
                    Ok(file) => {
                        self.record_input(&path, file.text.as_bytes());
                        let whole = 0..file.text.len();
                        let read = self.policy_text(&file, &file.text.clone(), Some(0), whole);
                        self.policy_files.insert(path, read.clone());
                        read
                    }
                    Err(d) => {
                        self.diags.extend(d);
                        None
                    }
                }
            }
            json @ serde_json::Value::Object(_) => {
                let file = Arc::clone(&self.file);
                self.policy_json(&file, json, span, None)
            }
            _ => {
                self.err(Code::SpecType, format!("a policy cannot be {}", with_article(toml_type)), span)
                    .set_hint("write the policy as a JSON string ('''{ ... }'''), a table, or { file = \"policy.json\" }");
                None
            }
        }
    }

    pub(super) fn policy_text(
        &mut self,
        file: &Arc<SourceFile>,
        text: &str,
        content: Option<usize>,
        span: Range<usize>,
    ) -> Option<PolicyTemplate> {
        match super::json_keys::parse(text) {
            Ok((json, duplicate)) => {
                if let Some(duplicate) = duplicate {
                    self.duplicate_key(file, text, content, span.clone(), &duplicate);
                }
                self.policy_json(file, json, span, content.map(|c| (c, text)))
            }
            Err(e) => {
                let at = content
                    .map(|c| c + json_offset(text, e.line(), e.column()))
                    .map_or(span, |o| o..o + 1);
                self.diags.push(
                    Diagnostic::error(Code::PolicyJson, format!("policy is not valid JSON: {e}"))
                        .at(file, at)
                        .label("here")
                        .hint("IAM policies are JSON documents; check quotes, commas and brackets (placeholders like <ARN> must be replaced with quoted values)"),
                );
                None
            }
        }
    }

    /// A policy with a key written twice in one object: JSON keeps the last, so what the
    /// first says would be dropped without a word.
    fn duplicate_key(
        &mut self,
        file: &Arc<SourceFile>,
        text: &str,
        content: Option<usize>,
        span: Range<usize>,
        duplicate: &super::json_keys::DuplicateKey,
    ) {
        let quoted = format!("\"{}\"", duplicate.key);
        // The second time the key is written, after the object that holds it starts.
        let at = content.and_then(|c| {
            let from = locate_json_path(text, &duplicate.path).unwrap_or(0);
            let first = from + text[from..].find(&quoted)?;
            let second = first + 1 + text[first + 1..].find(&quoted)?;
            Some(c + second..c + second + quoted.len())
        });
        let within = if duplicate.path.is_empty() {
            "the document".to_string()
        } else {
            format!("`{}`", duplicate.path)
        };
        self.diags.push(
            Diagnostic::error(
                Code::PolicyInvalid,
                format!(
                    "invalid policy: `{}` is written twice in {within}; JSON keeps only the last, and what the first says would be lost",
                    duplicate.key
                ),
            )
            .at(file, at.unwrap_or(span))
            .label("written again here")
            .hint(if duplicate.path.ends_with("Condition") {
                "write the operator once, with the keys of both blocks in it"
            } else {
                "write the key once, with what both say (several values go in one list)"
            }),
        );
    }

    /// Checks a policy's grammar and the references in its strings. `raw` is the JSON text and
    /// its offset in `file`, when the policy was written as text.
    pub(super) fn policy_json(
        &mut self,
        file: &Arc<SourceFile>,
        json: serde_json::Value,
        span: Range<usize>,
        raw: Option<(usize, &str)>,
    ) -> Option<PolicyTemplate> {
        let location = Location::new(file, span.clone());
        let mut ok = true;
        let parsed = PolicyDocument::from_value(&json);
        if let Err(e) = &parsed {
            let at = raw
                .and_then(|(c, text)| locate_json_path(text, &e.path).map(|o| c + o..c + o + 1))
                .unwrap_or(span.clone());
            let path = if e.path.is_empty() {
                String::new()
            } else {
                format!(" at {}", e.path)
            };
            // `policy = '''{...}'''` inside a policy's own table, as Terraform's
            // `aws_iam_role_policy` writes it: the table is the document, not a holder of one.
            let text_in_a_key = raw.is_none()
                && json.get(&e.path).is_some_and(|v| {
                    v.is_string() && json.as_object().is_some_and(|o| o.len() == 1)
                });
            let hint = if text_in_a_key {
                format!(
                    "this table is the policy document itself; write its text as the value of \
                     the policy's name instead (`NAME = '''{{ ... }}'''` in the table above), \
                     or its fields here (Version, Statement), or `file = \"PATH\"`; \
                     `{}` is not a policy field",
                    e.path
                )
            } else {
                "see the IAM JSON policy grammar: Version, Statement[{ Sid, Effect, Principal, Action, Resource, Condition }]".to_string()
            };
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyInvalid,
                    format!("invalid policy{path}: {}", e.message),
                )
                .at(file, at)
                .hint(hint),
            );
            ok = false;
        }
        let mut templated = Vec::new();
        let mut strings = Vec::new();
        collect_strings(&json, &mut strings);
        // Where a string is written, for a diagnostic about it: searched only when one is made,
        // since a string that is not there verbatim (it has escapes) is searched to the end of
        // the file.
        let found = |s: &str| {
            let search_from = raw.map_or(span.start, |(c, _)| c);
            file.text[search_from.min(file.text.len())..]
                .find(s)
                .map(|i| search_from + i)
        };
        let latin1 = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{FF}');
        let outside_latin1 = strings.iter().find_map(|s| s.chars().find(|c| !latin1(*c)));
        for s in strings {
            if crate::policy::pattern::find_open(s).is_some() {
                match template::parse(s) {
                    Ok(pieces) => templated.push((s.to_string(), pieces)),
                    Err(e) => {
                        let at =
                            found(s).map_or(span.clone(), |o| o + e.span.start..o + e.span.end);
                        let mut d = Diagnostic::error(Code::SpecReference, e.message).at(file, at);
                        d.hint = e.hint;
                        self.diags.push(d);
                        ok = false;
                    }
                }
            }
            if s.contains('<') {
                let file_is_spec = Arc::ptr_eq(file, &self.file);
                if file_is_spec {
                    self.warn_placeholder(s, found(s), span.clone());
                }
            }
        }
        let in_values_only = crate::policy::strings_outside_values(&json)
            .iter()
            .all(|s| crate::policy::pattern::find_open(s).is_none());
        let parsed = parsed
            .ok()
            .filter(|_| in_values_only)
            .map(std::sync::Arc::new);
        let size = crate::spec::rules::policy_size::of(&json);
        let json = (parsed.is_none() || !templated.is_empty()).then_some(json);
        ok.then_some(PolicyTemplate {
            json,
            size,
            templated,
            location,
            parsed,
            outside_latin1,
        })
    }
}

/// AWS's size limits on `resource`'s policies, each document's size given by `size`.
pub(crate) fn policy_size_findings(
    resource: &Resource,
    size: impl Fn(&PolicyTemplate) -> usize,
    diags: &mut Diagnostics,
) {
    let present = PolicyTemplate::present;
    // The start of the document: a whole policy underlined says nothing more.
    let start = |p: &PolicyTemplate| {
        Location::new(
            &p.location.file,
            p.location.span.start..p.location.span.start + 1,
        )
    };
    let mut inline_total = 0;
    let mut inline_first = None;
    let mut together_limit = 0;
    for (attribute, name, template) in resource.body.documents() {
        if !present(template) {
            continue;
        }
        let chars = size(template);
        let Some(column) = resource.kind().policy_document(attribute) else {
            continue;
        };
        let limit = match column.limit {
            SizeLimit::Each(limit) => limit,
            SizeLimit::Raisable { default, max } => {
                if chars > default && chars <= max {
                    diags.push(
                        Diagnostic::warning(
                            WarningCode::PolicySize,
                            format!("{} {name} policy is {chars} characters; IAM's default quota is {default}", resource.address),
                        )
                        .at_location(Some(start(template)))
                        .hint(format!("fine if the account's quota was raised (up to {max}); otherwise shorten the policy")),
                    );
                }
                max
            }
            SizeLimit::Together(limit) => {
                inline_total += chars;
                together_limit = limit;
                inline_first.get_or_insert_with(|| start(template));
                continue;
            }
        };
        if chars > limit {
            diags.push(
                Diagnostic::error(
                    Code::SpecPolicySize,
                    format!("{} {name} is {chars} characters; AWS accepts at most {limit} (white space not counted)", resource.address),
                )
                .at_location(Some(start(template)))
                .hint(match column.document {
                    DocumentKind::Identity => "shorten the policy: merge statements, use wildcards, or split it into managed policies",
                    // A role has one trust policy, a resource one policy: neither can be split.
                    DocumentKind::Trust => "shorten the policy: list the principals of one action in one statement, and use conditions with several values instead of a statement each",
                    DocumentKind::Resource(_) => "shorten the policy: merge statements that share principals and actions, and use wildcards in Resource",
                }),
            );
        }
    }
    if let Some(at) = inline_first.filter(|_| inline_total > together_limit) {
        diags.push(
            Diagnostic::error(
                Code::SpecPolicySize,
                format!(
                    "{}'s inline policies are {inline_total} characters together; IAM accepts at most {together_limit} per role (white space not counted)",
                    resource.address,
                ),
            )
            .at_location(Some(at))
            .hint("move some statements into a managed policy ([policy.NAME]) and attach it with managed_policies"),
        );
    }
}
