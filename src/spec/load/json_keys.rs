//! A policy's JSON text read into a value while noting a key written twice in one object.
//! JSON parsers keep the last of the two: a policy with two `"Condition"` blocks in one
//! statement would lose the first block's conditions without a word.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A key found twice in one object: the key and the path of the object (`Statement[0]`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    pub key: String,
    pub path: String,
}

/// `text` as a JSON value, and the first key written twice in one object, if any.
pub(crate) fn parse(text: &str) -> Result<(Value, Option<DuplicateKey>), serde_json::Error> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed {
        parent: None,
        found: &found,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, found.into_inner()))
}

/// Where a value is, as links up to the document's root; written out only for a finding.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

struct Path<'a> {
    step: Step<'a>,
    parent: Option<&'a Path<'a>>,
}

fn written(path: Option<&Path<'_>>) -> String {
    let mut steps = Vec::new();
    let mut at = path;
    while let Some(p) = at {
        steps.push(&p.step);
        at = p.parent;
    }
    let mut out = String::new();
    for step in steps.into_iter().rev() {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

struct Seed<'p, 'f> {
    parent: Option<&'p Path<'p>>,
    found: &'f RefCell<Option<DuplicateKey>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let here = Path {
                step: Step::Index(items.len()),
                parent: self.parent,
            };
            let seed = Seed {
                parent: Some(&here),
                found: self.found,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let here = Path {
                step: Step::Key(&key),
                parent: self.parent,
            };
            let value = map.next_value_seed(Seed {
                parent: Some(&here),
                found: self.found,
            })?;
            if object.contains_key(&key) {
                let mut found = self.found.borrow_mut();
                if found.is_none() {
                    *found = Some(DuplicateKey {
                        path: written(self.parent),
                        key: key.clone(),
                    });
                }
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_twice_is_found_with_where_it_is() {
        let (value, found) = parse(
            r#"{"Statement": [{"Effect": "Allow"}, {"Condition": {"StringEquals": {"a": "1"}, "StringEquals": {"b": "2"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            found,
            Some(DuplicateKey {
                key: "StringEquals".into(),
                path: "Statement[1].Condition".into(),
            })
        );
        // The value is what serde_json would read: the last of the two.
        assert_eq!(value["Statement"][1]["Condition"]["StringEquals"]["b"], "2");
        let (_, top) = parse(r#"{"Version": "2012-10-17", "Version": "2008-10-17"}"#).unwrap();
        assert_eq!(
            top.map(|d| (d.key, d.path)),
            Some(("Version".into(), String::new()))
        );
    }

    #[test]
    fn a_document_without_one_reads_as_serde_json_reads_it() {
        let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 10.5}, "Bool": {"aws:SecureTransport": true}}}], "n": null, "i": -3}"#;
        let (value, found) = parse(text).unwrap();
        assert_eq!(found, None);
        assert_eq!(value, serde_json::from_str::<Value>(text).unwrap());
        assert!(parse(r#"{"a": 1} x"#).is_err());
        assert!(parse(r#"{"a": 1,}"#).is_err());
    }
}
