use super::*;

#[test]
fn a_queue_arn_follows_from_its_url_and_region() {
    let cases = [
        (
            "https://sqs.us-east-1.amazonaws.com/123456789012/tonic-q",
            "us-east-1",
            Some("arn:aws:sqs:us-east-1:123456789012:tonic-q"),
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo",
            "cn-north-1",
            Some("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"),
        ),
        (
            "http://127.0.0.1:5000/123456789012/q",
            "us-gov-west-1",
            Some("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"),
        ),
        // Shapes that do not name the account ask SQS instead.
        ("https://sqs.us-east-1.amazonaws.com/q", "us-east-1", None),
        (
            "https://example.com/queue/123456789012/q",
            "us-east-1",
            None,
        ),
        ("not a url", "us-east-1", None),
    ];
    for (url, region, arn) in cases {
        assert_eq!(queue_arn(url, region).as_deref(), arn, "{url}");
    }
}

#[test]
fn a_read_shows_what_was_written_whatever_its_spacing_and_number_form() {
    let written =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":5}"#;
    let live = r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq", "maxReceiveCount": "5"}"#;
    assert!(same_attribute(Some(&live.to_string()), written));
    assert!(same_attribute(None, ""));
    assert!(!same_attribute(Some(&"30".to_string()), "180"));
}

#[test]
fn redrive_counts_parse_as_numbers_or_strings() {
    let expected = Value::Map(BTreeMap::from([
        (
            "queue".to_string(),
            Value::str("arn:aws:sqs:us-east-1:123456789012:dlq"),
        ),
        ("max_receive_count".to_string(), Value::Int(5)),
    ]));
    let arn = "arn:aws:sqs:us-east-1:123456789012:dlq";
    assert_eq!(
        parse_redrive(&format!(
            r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}"#
        )),
        Some(expected.clone())
    );
    assert_eq!(
        parse_redrive(&format!(
            r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"5"}}"#
        )),
        Some(expected)
    );
    assert_eq!(parse_redrive("{}"), None);
}

#[test]
fn an_update_sends_only_what_differs_and_the_policy_with_it() {
    let policy = PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}"#).unwrap();
    let base = QueueConfig {
        name: "q".into(),
        scalars: BTreeMap::from([
            ("visibility_timeout", "30".to_string()),
            ("delay", "0".to_string()),
        ]),
        kms_key: None,
        policy: Some(policy),
        redrive: None,
        tags: None,
        ownership: BTreeMap::new(),
    };
    assert!(
        base.wire_attributes(Some(&base)).is_empty(),
        "nothing differs, nothing is sent"
    );
    let mut after = base.clone();
    after.scalars.insert("visibility_timeout", "60".into());
    let sent = after.wire_attributes(Some(&base));
    assert_eq!(
        sent.get(&A::VisibilityTimeout).map(String::as_str),
        Some("60")
    );
    assert!(sent.contains_key(&A::Policy));
    assert!(!sent.contains_key(&A::DelaySeconds));
}
