//! Whether several statements' conditions together admit every request one statement's
//! conditions admit.
//!
//! [`condition::implies`] compares one condition with another, which decides most edits. A
//! set of requests split across statements needs more: `team = a` in one statement and
//! `team = b` in another together admit `team ∈ {a, b}`; `Null true` and `Null false` together
//! admit every request; `StringEqualsIfExists` is `StringEquals` or `Null true`. So the
//! requests are split into cases, per context key: the key absent, the key equal to each
//! exact value some condition compares it with, or the key holding any other value. Each case
//! decides most conditions ([`condition::truth`]); the conditions a case leaves open are
//! compared with `implies`. A comparison that would need more than [`MAX_CASES`] cases
//! answers "not covered", which callers read as "may widen": the safe answer for a reviewer.

use std::collections::{BTreeMap, BTreeSet};

use super::condition::{self, KeyCase, Truth};
use super::model::Condition;

/// The most cases one comparison enumerates.
const MAX_CASES: usize = 256;

/// The most alternatives [`alternatives`] splits one statement's conditions into.
const MAX_ALTERNATIVES: usize = 64;

/// `conditions` as alternatives that together admit the same requests: a condition whose
/// values are ORed ([`condition::is_disjunction`]) becomes one condition per value, so each
/// value can be covered by a different statement. The conditions as they are when they hold
/// no such list, or when the alternatives would be too many.
pub(super) fn alternatives(conditions: &[Condition]) -> Vec<Vec<Condition>> {
    let mut result: Vec<Vec<Condition>> = vec![Vec::new()];
    for condition in conditions {
        let split = condition.values.len() > 1 && condition::is_disjunction(condition);
        if !split {
            result.iter_mut().for_each(|a| a.push(condition.clone()));
            continue;
        }
        if result.len() * condition.values.len() > MAX_ALTERNATIVES {
            return vec![conditions.to_vec()];
        }
        result = result
            .iter()
            .flat_map(|alternative| {
                condition.values.iter().map(move |value| {
                    let mut next = alternative.clone();
                    next.push(Condition {
                        operator: condition.operator.clone(),
                        key: condition.key.clone(),
                        values: vec![value.clone()],
                    });
                    next
                })
            })
            .collect();
    }
    result
}

/// Does every request `inner` admits meet all of one of `outers`' condition lists, each of
/// `inner`'s [`alternatives`] on its own? One list that follows from `inner` as a whole
/// ([`implied`]: each of its tests implied by one of `inner`'s) decides it without splitting.
pub(crate) fn union_covers(inner: &[Condition], outers: &[&[Condition]]) -> bool {
    if outers.iter().any(|outer| implied(inner, outer)) {
        return true;
    }
    let joined = joined(outers);
    let all: Vec<&[Condition]> = (outers.iter().copied())
        .chain(joined.iter().map(Vec::as_slice))
        .collect();
    if joined.iter().any(|outer| implied(inner, outer)) {
        return true;
    }
    alternatives(inner)
        .iter()
        .all(|alternative| covered(alternative, &all))
}

/// Condition lists of `outers` that are alike but for the values of one condition whose
/// values are ORed (the same key and operator), as one list with both's values: together
/// they admit what it does. `IpAddress 10.0.0.0/9` in one statement and `10.128.0.0/9` in
/// another are `IpAddress [10.0.0.0/9, 10.128.0.0/9]`, which [`condition::implies`] compares
/// as ranges, so together they cover `10.0.0.0/8`. At most [`MAX_ALTERNATIVES`] are made.
fn joined(outers: &[&[Condition]]) -> Vec<Vec<Condition>> {
    let mut lists: Vec<Vec<Condition>> = outers.iter().map(|o| o.to_vec()).collect();
    let mut made = Vec::new();
    let mut start = 0;
    while start < lists.len() && made.len() < MAX_ALTERNATIVES {
        let end = lists.len();
        for i in 0..end {
            for j in start.max(i + 1)..end {
                let Some(list) = join(&lists[i], &lists[j]) else {
                    continue;
                };
                if !lists.contains(&list) && made.len() < MAX_ALTERNATIVES {
                    lists.push(list.clone());
                    made.push(list);
                }
            }
        }
        start = end;
    }
    made
}

/// `a` and `b` as one list, when they differ only in the values of one ORed condition.
fn join(a: &[Condition], b: &[Condition]) -> Option<Vec<Condition>> {
    if a.len() != b.len() {
        return None;
    }
    let differing: Vec<usize> = (0..a.len()).filter(|&k| a[k] != b[k]).collect();
    let [k] = differing[..] else {
        return None;
    };
    let (x, y) = (&a[k], &b[k]);
    if x.key != y.key || x.operator != y.operator || !condition::is_disjunction(x) {
        return None;
    }
    let mut values = x.values.clone();
    values.extend(y.values.iter().filter(|v| !x.values.contains(v)).cloned());
    let mut list = a.to_vec();
    list[k].values = values;
    Some(list)
}

/// Does every request `inner` admits meet all of one of `outers`' condition lists?
pub(super) fn covered(inner: &[Condition], outers: &[&[Condition]]) -> bool {
    if outers.iter().any(|outer| implied(inner, outer)) {
        return true;
    }
    let lists = std::iter::once(inner).chain(outers.iter().copied());
    let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for condition in lists.flatten() {
        let listed = values.entry(condition.key.as_str()).or_default();
        listed.extend(condition::case_values(condition));
    }
    // Per key: absent, each listed value, any other value.
    let mut keys: Vec<(&str, Vec<KeyCase>)> = Vec::new();
    let mut count = 1usize;
    for (key, listed) in &mut values {
        listed.sort();
        listed.dedup();
        let mut cases = vec![KeyCase::Absent, KeyCase::Other];
        cases.extend(listed.iter().map(|value| KeyCase::Is(value)));
        count = count.saturating_mul(cases.len());
        keys.push((key, cases));
    }
    if count > MAX_CASES {
        return false;
    }
    let mut chosen = vec![0usize; keys.len()];
    loop {
        let case = |key: &str| {
            let at = keys.iter().position(|(k, _)| *k == key);
            at.map_or(KeyCase::Other, |at| keys[at].1[chosen[at]])
        };
        if let Some(inner_open) = open_in_case(inner, &case, true) {
            let covered = outers.iter().any(|outer| {
                open_in_case(outer, &case, false).is_some_and(|open| implied(&inner_open, &open))
            });
            if !covered {
                return false;
            }
        }
        // The next case, odometer-wise.
        let mut digit = 0;
        loop {
            if digit == keys.len() {
                return true;
            }
            chosen[digit] += 1;
            if chosen[digit] < keys[digit].1.len() {
                break;
            }
            chosen[digit] = 0;
            digit += 1;
        }
    }
}

/// Does each of `outer`'s conditions follow from one of `inner`'s ([`condition::implies`]:
/// values that admit no more, compared as IAM compares them)? Any other difference counts as
/// "may not hold".
fn implied(inner: &[Condition], outer: &[Condition]) -> bool {
    outer
        .iter()
        .all(|o| inner.iter().any(|i| condition::implies(i, o)))
}

/// The conditions a case leaves open, or `None` when one of them surely fails, so the
/// statement admits no request of the case. In a case where a key is present, `...IfExists`
/// is the plain operator; for the inner side, the case's own value is kept as a condition, so
/// that `implies` can compare it with what stays open on the outer side (an ARN pattern).
fn open_in_case<'a>(
    conditions: &[Condition],
    case: &dyn Fn(&str) -> KeyCase<'a>,
    inner: bool,
) -> Option<Vec<Condition>> {
    let mut open = Vec::new();
    for condition in conditions {
        let key_case = case(&condition.key);
        match condition::truth(condition, key_case) {
            Truth::Holds => {}
            Truth::Fails => return None,
            Truth::Open if key_case == KeyCase::Absent => open.push(condition.clone()),
            Truth::Open => open.push(Condition {
                operator: condition
                    .operator
                    .strip_suffix("IfExists")
                    .unwrap_or(&condition.operator)
                    .to_string(),
                key: condition.key.clone(),
                values: condition.values.clone(),
            }),
        }
    }
    if inner {
        let keys: BTreeSet<&str> = conditions.iter().map(|c| c.key.as_str()).collect();
        for key in keys {
            if let KeyCase::Is(value) = case(key) {
                open.push(Condition {
                    operator: "StringEquals".to_string(),
                    key: key.to_string(),
                    values: vec![value.to_string()],
                });
            }
        }
    }
    Some(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Conditions from JSON condition blocks, normalized as statements' are.
    fn conditions(block: &str) -> Vec<Condition> {
        let json = format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {block}}}}}"#
        );
        let doc = super::super::PolicyDocument::parse(&json)
            .unwrap_or_else(|e| panic!("{block}: {e}"))
            .normalized();
        doc.statements()[0].condition.clone()
    }

    /// `(inner, outers, covered)`: whether the outers' blocks together admit what `inner`
    /// admits, each value of `inner` taken on its own as `access` does.
    #[test]
    #[rustfmt::skip]
    fn unions_of_conditions() {
        let cases: &[(&str, &[&str], bool)] = &[
            (r#"{"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}}"#, &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, r#"{"StringEquals": {"aws:PrincipalTag/team": "b"}}"#], true),
            (r#"{"StringEquals": {"aws:PrincipalTag/team": ["a", "b", "c"]}}"#, &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, r#"{"StringEquals": {"aws:PrincipalTag/team": "b"}}"#], false),
            // Absent or present: every request.
            ("{}", &[r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#, r#"{"Null": {"aws:PrincipalTag/team": "false"}}"#], true),
            ("{}", &[r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#, r#"{"Null": {"aws:PrincipalTag/env": "false"}}"#], false),
            // IfExists is the operator or the key's absence.
            (r#"{"StringEqualsIfExists": {"aws:PrincipalTag/team": "a"}}"#, &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#], true),
            (r#"{"StringEqualsIfExists": {"aws:PrincipalTag/team": "a"}}"#, &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#], false),
            // A negated operator holds for an absent key.
            (r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#, &[r#"{"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "a"}}"#], true),
            (r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#, &[r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#], false),
            (r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#, &[r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#], true),
            // One value, or any other.
            ("{}", &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#], true),
            ("{}", &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, r#"{"StringNotEquals": {"aws:PrincipalTag/team": "b"}}"#], false),
            (r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#, &[r#"{"StringLike": {"aws:PrincipalTag/team": "a*"}, "Null": {"aws:PrincipalTag/team": "false"}}"#], true),
            // Conditions that cannot hold together admit nothing, so anything covers them.
            (r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}, "Null": {"aws:PrincipalTag/team": "true"}}"#, &[], true),
            (r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}, "Null": {"aws:PrincipalTag/team": "false"}}"#, &[r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#], true),
            // A condition that always holds.
            ("{}", &[r#"{"StringLikeIfExists": {"aws:PrincipalTag/team": "*"}}"#], true),
            ("{}", &[r#"{"StringLike": {"aws:PrincipalTag/team": "*"}}"#], false),
            // What a case leaves open is compared with `implies`: the case's value against an
            // ARN pattern, address ranges against address ranges.
            (r#"{"StringEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"}}"#, &[r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}}"#], true),
            (r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#, &[r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#, r#"{"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}"#], true),
            (r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#, &[r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#], false),
            // Set operators: ForAnyValue's values are alternatives, ForAllValues' are not (a
            // request with both tags meets neither single-value statement).
            (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#, &[r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}"#, r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": "b"}}"#], true),
            (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#, &[r#"{"ForAllValues:StringEquals": {"aws:TagKeys": "a"}}"#, r#"{"ForAllValues:StringEquals": {"aws:TagKeys": "b"}}"#], false),
            // Values only known when a request is made are never decided.
            ("{}", &[r#"{"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}"#, r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#], false),
        ];
        for (inner, outers, expected) in cases {
            let outers: Vec<Vec<Condition>> = outers.iter().map(|o| conditions(o)).collect();
            let outers: Vec<&[Condition]> = outers.iter().map(Vec::as_slice).collect();
            let actual = alternatives(&conditions(inner))
                .iter()
                .all(|alternative| covered(alternative, &outers));
            assert_eq!(actual, *expected, "{inner} by {outers:?}");
        }
    }

    #[test]
    fn too_many_cases_are_not_covered() {
        let many: Vec<String> = (0..300).map(|i| format!("\"v{i}\"")).collect();
        let block = format!(
            r#"{{"StringNotEquals": {{"aws:PrincipalTag/team": [{}]}}}}"#,
            many.join(", ")
        );
        let inner = conditions(&block);
        // The same list covers itself by implication, without cases.
        assert!(covered(&inner, &[&inner]));
        let null = conditions(r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#);
        let present = conditions(r#"{"Null": {"aws:PrincipalTag/team": "false"}}"#);
        // Covered in truth, but past the limit on cases.
        assert!(!covered(&inner, &[&null, &present]));
    }
}
