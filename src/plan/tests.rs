//! The planner on recorded live state, with no AWS: every action, conflicts and protection.

use std::path::Path;

use super::{plan, Action, PlanOptions, Reason};
use crate::model::{Address, Value};
use crate::render::text::{render, TextOptions};
use crate::spec::{self, LoadOptions, Spec};
use crate::state::{LiveResource, LiveSnapshot};

fn fixture(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

fn spec(name: &str) -> Spec {
    let path = fixture("specs").join(name);
    spec::load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn live(name: &str) -> LiveSnapshot {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("live/{name}"))).unwrap())
        .unwrap()
}

/// The planner fixture's account with none of its resources: a first plan creates them all.
fn empty_account() -> LiveSnapshot {
    let mut empty = live("planner.json");
    empty.by_address.clear();
    empty.owned.clear();
    empty
}

/// A live snapshot of account 123456789012 in us-east-1 holding `by_address` (JSON, as
/// snapshots are written), of which `owned` are the stack's.
fn snapshot(by_address: serde_json::Value, owned: Vec<serde_json::Value>) -> LiveSnapshot {
    serde_json::from_value(serde_json::json!({
        "account": { "account_id": "123456789012", "region": "us-east-1", "partition": "aws",
                     "caller_arn": "arn:aws:sts::123456789012:user/moto" },
        "by_address": by_address,
        "owned": owned,
    }))
    .unwrap()
}

fn action(plan: &super::Plan, address: &str) -> Action {
    let address = Address::try_from(address.to_string()).unwrap();
    plan.change(&address)
        .unwrap_or_else(|| panic!("no change for {address}"))
        .action
}

#[test]
fn every_action_on_recorded_live_state() {
    let plan = plan(
        &spec("planner.toml"),
        &live("planner.json"),
        PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(action(&plan, "role.unchanged"), Action::NoOp);
    assert_eq!(action(&plan, "role.drifted"), Action::Update);
    assert_eq!(action(&plan, "role.new"), Action::Create);
    assert_eq!(action(&plan, "role.moved"), Action::Replace);
    assert_eq!(action(&plan, "role.renamed"), Action::Replace);
    assert_eq!(action(&plan, "role.adopted"), Action::Update);
    assert_eq!(action(&plan, "role.gone"), Action::Delete);
    let drifted = plan
        .changes
        .iter()
        .find(|c| c.address.name == "drifted")
        .unwrap();
    let names: Vec<&str> = drifted.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["description", "max_session_hours", "policies", "tags"],
        "trust is equivalent, so unchanged"
    );
    let summary = plan.summary();
    assert_eq!(
        (
            summary.add,
            summary.change,
            summary.replace,
            summary.destroy
        ),
        (1, 2, 2, 1)
    );
    assert!(summary.widens_access);
    insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("planner_every_action", render(&plan, TextOptions::default()));
    });
}

/// A change holds the live attributes the snapshot read, not a copy of them: a plan of
/// 10,000 resources made 16 MiB of copies.
#[test]
fn a_changes_live_attributes_are_the_snapshots() {
    let live = live("planner.json");
    let plan = plan(&spec("planner.toml"), &live, PlanOptions::default()).unwrap();
    let mut shared = Vec::new();
    for change in &plan.changes {
        let Some(attributes) = &change.live else {
            continue;
        };
        // A replacement's physical id is the new resource's; it replaces the one read.
        let id = change.replaces.as_ref().unwrap_or(&change.physical_id);
        let read = (live.by_address.values().chain(&live.owned))
            .find(|l| l.kind == change.address.kind && l.physical_id == *id)
            .or_else(|| live.by_address.get(&change.address))
            .unwrap_or_else(|| panic!("{} was read", change.address));
        assert!(
            std::sync::Arc::ptr_eq(attributes, &read.attributes),
            "{} {:?}",
            change.address,
            change.action
        );
        shared.push(change.action);
    }
    for action in [
        Action::NoOp,
        Action::Update,
        Action::Replace,
        Action::Delete,
    ] {
        assert!(shared.contains(&action), "{action:?} in {shared:?}");
    }
}

#[test]
fn the_same_inputs_render_the_same_bytes() {
    let a = render(
        &plan(
            &spec("planner.toml"),
            &live("planner.json"),
            PlanOptions::default(),
        )
        .unwrap(),
        TextOptions::default(),
    );
    let b = render(
        &plan(
            &spec("planner.toml"),
            &live("planner.json"),
            PlanOptions::default(),
        )
        .unwrap(),
        TextOptions::default(),
    );
    assert_eq!(a, b);
}

#[test]
fn a_name_owned_by_no_stack_is_a_conflict_unless_adopted() {
    let mut snapshot = live("planner.json");
    let unchanged = Address::try_from("role.unchanged".to_string()).unwrap();
    snapshot.by_address.get_mut(&unchanged).unwrap().owner = None;
    let errors = plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).unwrap_err();
    let text = errors.render(false);
    assert_eq!(errors.errors(), 1, "{text}");
    assert!(
        text.contains("role `fx-unchanged` already exists and no stack owns it"),
        "{text}"
    );
    assert!(
        text.contains("set `adopt = true` on [role.unchanged]"),
        "{text}"
    );
}

#[test]
fn a_name_owned_by_another_stack_is_a_conflict_even_with_adopt() {
    let mut snapshot = live("planner.json");
    let adopted = Address::try_from("role.adopted".to_string()).unwrap();
    snapshot.by_address.get_mut(&adopted).unwrap().owner = Some("someone-else".into());
    let text = plan(&spec("planner.toml"), &snapshot, PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(text.contains("belongs to stack `someone-else`"), "{text}");
}

#[test]
fn destroy_deletes_only_what_the_stack_owns() {
    let plan = plan(
        &spec("planner.toml"),
        &live("planner.json"),
        PlanOptions {
            destroy: true,
            ..Default::default()
        },
    )
    .unwrap();
    let deleted: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.physical_id.clone())
        .collect();
    assert_eq!(
        deleted,
        [
            "fx-drifted",
            "fx-gone",
            "fx-moved",
            "fx-renamed-v1",
            "fx-unchanged"
        ]
    );
    assert!(
        plan.changes.iter().all(|c| c.action == Action::Delete),
        "an unowned role is not touched by destroy"
    );
}

#[test]
fn prevent_destroy_stops_a_replacing_plan() {
    let spec_text = std::fs::read_to_string(fixture("specs/planner.toml"))
        .unwrap()
        .replace("[role.moved]\n", "[role.moved]\nprevent_destroy = true\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planner.toml");
    std::fs::write(
        &path,
        spec_text.replace(
            "../policies/",
            &format!("{}/", fixture("policies").display()),
        ),
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default()).unwrap();
    let text = plan(&spec, &live("planner.json"), PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(
        text.contains("role.moved has prevent_destroy = true, but this plan would replace it"),
        "{text}"
    );
}

#[test]
fn an_empty_account_creates_everything() {
    let mut snapshot = live("planner.json");
    snapshot.by_address.clear();
    snapshot.owned.clear();
    let plan = plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).unwrap();
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(plan.summary().add, 6);
}

#[test]
fn a_deleted_principal_rewritten_to_a_unique_id_is_its_own_finding() {
    let mut snapshot = live("planner.json");
    let unchanged = Address::try_from("role.unchanged".to_string()).unwrap();
    let trust = crate::policy::PolicyDocument::parse(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "AROADBQP57FF2AEXAMPLE"}, "Action": "sts:AssumeRole"}]}"#,
    )
    .unwrap();
    std::sync::Arc::make_mut(&mut snapshot.by_address.get_mut(&unchanged).unwrap().attributes)
        .insert("trust".into(), crate::model::Value::policy(trust));
    let plan = plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).unwrap();
    let change = plan.change(&unchanged).unwrap();
    assert_eq!(
        change.action,
        Action::Update,
        "writing the spec's trust back is still planned"
    );
    let finding = change
        .lints
        .iter()
        .find(|f| f.code.as_str() == "P012")
        .expect("a P012 finding");
    assert_eq!(finding.policy, "trust");
    assert!(
        finding.message.contains("AROADBQP57FF2AEXAMPLE"),
        "{}",
        finding.message
    );
    let text = render(&plan, TextOptions::default());
    assert!(
        text.contains("! P012 warning in trust: the live trust names AROADBQP57FF2AEXAMPLE"),
        "{text}"
    );
}

#[test]
fn lints_run_on_resolved_policies_and_ride_along_with_the_change() {
    let plan = plan(
        &spec("planner.toml"),
        &live("planner.json"),
        PlanOptions::default(),
    )
    .unwrap();
    let new = plan
        .change(&Address::try_from("role.new".to_string()).unwrap())
        .unwrap();
    // The vendor account is named by a variable, so its principal is not an unknown account;
    // without the variable it would be.
    assert!(
        new.lints.iter().all(|f| f.code.as_str() != "P007"),
        "{:?}",
        new.lints
    );
    let doc = crate::plan::attribute_at(new.desired.as_ref().unwrap(), "trust")
        .and_then(crate::model::Value::as_policy)
        .unwrap();
    let unknown = crate::policy::lint(
        doc,
        &crate::policy::LintContext::new(crate::policy::DocumentKind::Trust),
    );
    assert!(
        unknown.iter().any(|l| l.code.as_str() == "P007"),
        "{unknown:?}"
    );
}

#[test]
fn json_and_markdown_views_of_every_action() {
    let plan = plan(
        &spec("planner.toml"),
        &live("planner.json"),
        PlanOptions::default(),
    )
    .unwrap();
    let json = crate::render::json::render(&plan);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        parsed["format_version"],
        crate::render::json::JSON_FORMAT_VERSION
    );
    assert_eq!(parsed["summary"]["widens_access"], true);
    let drifted = parsed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "role.drifted")
        .unwrap();
    assert_eq!(drifted["action"], "update");
    let access = drifted["policy_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "policies.access")
        .unwrap();
    assert_eq!(access["access"], "widens");
    let markdown = crate::render::markdown::render(&plan, Default::default());
    assert!(markdown.contains("#### Risks"), "{markdown}");
    assert!(markdown.contains("**destroys** `role.gone`"), "{markdown}");
    // Risks name who gains what, from the access model, riskiest first.
    assert!(
        markdown.contains("- **external**: `210987654321` gains sts:AssumeRole on role.new"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- **data**: `role.drifted` gains sqs:DeleteMessage"),
        "{markdown}"
    );
    let gained = parsed["access_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["principal"] == "210987654321")
        .unwrap();
    assert_eq!(
        (&gained["change"], &gained["risk"], &gained["resource"]),
        (&"gained".into(), &"external".into(), &"role.new".into())
    );
    insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("planner_every_action_json", json);
        insta::assert_snapshot!("planner_every_action_markdown", markdown);
    });
}

#[test]
fn markdown_over_budget_collapses_detail_but_keeps_every_risk_line() {
    let plan = plan(
        &spec("planner.toml"),
        &live("planner.json"),
        PlanOptions::default(),
    )
    .unwrap();
    let full = crate::render::markdown::render(&plan, Default::default());
    let budget = full.len() / 2;
    let short =
        crate::render::markdown::render(&plan, crate::render::markdown::MarkdownOptions { budget });
    assert!(short.len() <= budget, "{} > {budget}\n{short}", short.len());
    let risk_lines: Vec<&str> = full.lines().filter(|l| l.starts_with("- **")).collect();
    assert!(risk_lines.len() >= 4, "{full}");
    for line in risk_lines {
        assert!(short.contains(line), "lost risk line {line}\n{short}");
    }
    assert!(short.contains("left out: the diffs of"), "{short}");
    // Every resource is still named.
    for c in plan.changes.iter().filter(|c| c.is_change()) {
        assert!(short.contains(&format!("{}", c.address)), "{short}");
    }
    // A budget that the access table alone would exceed: the table keeps the rows that fit
    // and says how many it leaves out, and the comment stays within the budget.
    let access = crate::access::changes(&plan);
    let table = crate::render::access::markdown_section(&access);
    let tight = full.len() - table.len() / 2 - full.len() / 4;
    let shorter = crate::render::markdown::render(
        &plan,
        crate::render::markdown::MarkdownOptions { budget: tight },
    );
    assert!(
        shorter.len() <= tight,
        "{} > {tight}\n{shorter}",
        shorter.len()
    );
    let room = table.len() - 1;
    let within = crate::render::access::markdown_section_within(&access, room);
    assert!(within.len() <= room, "{within}");
    assert!(within.contains("more rows are left out"), "{within}");
}

/// Whatever the plan, the comment fits the budget: a plan of many resources lists as many as
/// fit, a principal gaining many rows names the first and counts the rest, risks beyond half
/// the budget are counted, and a budget too small for the head keeps what fits of it.
#[test]
fn markdown_stays_within_any_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    // 60 roles, each of which 40 vendor accounts may assume: 40 risk lines of 60 rows each.
    let accounts: Vec<String> = (0..40).map(|i| format!("\"2109876543{i:02}\"")).collect();
    let mut text = String::from("[stack]\nname = \"many\"\n");
    for i in 0..60 {
        text.push_str(&format!(
            "[role.r{i}]\nname = \"vendor-role-{i}\"\ntrust = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Principal\": {{\"AWS\": [{}]}}, \"Action\": \"sts:AssumeRole\"}}]}}'''\n",
            accounts.join(", ")
        ));
    }
    std::fs::write(&path, text).unwrap();
    let spec = crate::spec::load(&path, &crate::spec::LoadOptions::default()).unwrap();
    let plan = plan(&spec, &empty_account(), PlanOptions::default()).unwrap();
    let markdown = |budget: usize| {
        crate::render::markdown::render(&plan, crate::render::markdown::MarkdownOptions { budget })
    };
    let full = markdown(usize::MAX);
    assert!(full.len() > 100_000, "{}", full.len());
    let default = markdown(crate::render::markdown::DEFAULT_BUDGET);
    assert!(
        default.len() <= crate::render::markdown::DEFAULT_BUDGET,
        "{}",
        default.len()
    );
    assert!(
        default.contains("more"),
        "a long risk line counts what it leaves out"
    );
    assert!(default.contains("more risks"), "{default}");
    assert!(
        default.contains("**external**: `210987654300` gains sts:AssumeRole on role.r0"),
        "{default}"
    );
    for budget in [600, 1_500, 5_000, 20_000] {
        let short = markdown(budget);
        assert!(short.len() <= budget, "{} > {budget}\n{short}", short.len());
        assert!(short.contains("; left out: "), "{short}");
    }
    assert!(markdown(1_500).contains("more resources"));
}

#[test]
fn refresh_only_reports_drift_of_owned_resources_and_nothing_else() {
    let options = PlanOptions {
        refresh_only: true,
        ..Default::default()
    };
    let plan = plan(&spec("planner.toml"), &live("planner.json"), options).unwrap();
    let changed: Vec<(String, Action)> = plan
        .changes
        .iter()
        .filter(|c| c.is_change())
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(
        changed,
        [
            ("role.drifted".to_string(), Action::Update),
            ("role.moved".to_string(), Action::Replace),
            ("role.new".to_string(), Action::Delete)
        ]
    );
    let text = render(&plan, TextOptions::default());
    assert!(
        text.starts_with("Stack `fixture` in account 123456789012 (us-east-1):\n\n"),
        "{text}"
    );
    assert!(text.contains("\n\nDrift report: "), "{text}");
    assert!(
        text.contains("Drift: 3 resources differ from the spec."),
        "{text}"
    );
    assert!(!text.contains("Plan:"), "{text}");
    assert!(!text.contains("will be updated"), "{text}");
    assert!(
        text.contains(" has drifted (the live resource differs from the spec"),
        "{text}"
    );
    // The Markdown report says the same: a drift report, in which nothing will be changed.
    let markdown = crate::render::markdown::render(&plan, Default::default());
    assert!(
        markdown.starts_with("### plinth drift report: stack `fixture`"),
        "{markdown}"
    );
    assert!(
        markdown.contains("**Drift: 3 resources differ from the spec.** Nothing will be changed"),
        "{markdown}"
    );
    assert!(
        !markdown.contains("Plan:") && !markdown.contains("This plan gives"),
        "{markdown}"
    );
    assert!(!markdown.contains("will be updated"), "{markdown}");
    // A resource of the spec found under no name is missing from the account: deleted by
    // hand, or never applied. It is drift, counted as such, and its rows are lost.
}

#[test]
fn refresh_only_reports_a_resource_missing_from_the_account() {
    let options = PlanOptions {
        refresh_only: true,
        ..Default::default()
    };
    let plan = plan(&spec("planner.toml"), &live("planner.json"), options).unwrap();
    let missing: Vec<&super::ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.address.to_string() == "role.new")
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].action, Action::Delete);
    let text = render(&plan, TextOptions::default());
    assert!(
        text.contains("- role.new is missing from the account (deleted by hand, or never applied)"),
        "{text}"
    );
    assert!(
        text.contains("Drift: 3 resources differ from the spec."),
        "{text}"
    );
    let markdown = crate::render::markdown::render(&plan, Default::default());
    assert!(
        markdown.contains("<code>- role.new</code> is missing from the account")
            && markdown.contains("**missing** `role.new`")
            && !markdown.contains("**destroys**"),
        "{markdown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&crate::render::json::render(&plan)).unwrap();
    let entry = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "role.new")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(entry["action"], "delete");
    assert_eq!(entry["action_reason"], "deleted by hand, or never applied");
    // What the missing role could do is access the account no longer has.
    let lost = crate::access::changes(&plan);
    assert!(
        lost.iter()
            .all(|c| c.change == crate::access::Change::Lost || c.grant.principal != "role.new"),
        "{lost:#?}"
    );
}

/// A resource the stack owns but the spec no longer declares, as discovery finds it.
fn orphan(
    kind: &str,
    physical_id: &str,
    arn: &str,
    attributes: serde_json::Value,
) -> crate::state::LiveResource {
    // Tagged with an address, as everything plinth makes is: one of a block since removed.
    let name: String = physical_id
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(physical_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "kind": kind,
        "physical_id": physical_id,
        "owner": "fixture",
        "address_tag": format!("{kind}.left-{name}"),
        "attributes": attributes,
        "exports": { "arn": arn },
    }))
    .unwrap()
}

fn depends_on(plan: &super::Plan, address: &str) -> Vec<String> {
    let address = Address::try_from(address.to_string()).unwrap();
    plan.change(&address)
        .unwrap()
        .depends_on
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A resource of the stack another stack shares (its record is on it) is not deleted from
/// under it: the plan is refused, naming that stack, as `prevent_destroy` refuses.
#[test]
fn a_resource_other_stacks_share_is_not_deleted_from_under_them() {
    let mut snapshot = live("planner.json");
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:fx-shared";
    snapshot.owned.push(orphan(
        "queue",
        "fx-shared",
        queue_arn,
        serde_json::json!({ "shares": { "map": { "fixture-staging": { "list": [
            { "str": "queue.work" }, { "str": "policy/StagingSend" }
        ] } } } }),
    ));
    let text = plan(&spec("planner.toml"), &snapshot, PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(text.contains("plan::shared-by-others"), "{text}");
    assert!(
        text.contains("is shared by stack `fixture-staging`, but this plan would"),
        "{text}"
    );
    // Without another stack's record, it is deleted as any resource that left the spec.
    std::sync::Arc::make_mut(&mut snapshot.owned.last_mut().unwrap().attributes).clear();
    assert!(plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).is_ok());
}

/// A name another environment of the spec already holds is two environments naming one
/// resource: the hint says to name them apart, not to hand the resource over.
#[test]
fn a_resource_another_environment_owns_is_a_name_to_give_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        "[stack]\nname = \"st-${var.env}\"\n\n[vars]\nenv = \"dev\"\n\n[env.dev]\naccount_id = \"123456789012\"\n\n[env.staging]\naccount_id = \"123456789012\"\nvars = { env = \"staging\" }\n\n[queue.q]\nname = \"shared-q\"\n",
    )
    .unwrap();
    let options = LoadOptions {
        env: Some("staging".into()),
        ..LoadOptions::default()
    };
    let spec = spec::load(&path, &options).unwrap_or_else(|d| panic!("{}", d.render(false)));
    let live = snapshot(
        serde_json::json!({ "queue.q": {
            "kind": "queue", "physical_id": "shared-q", "owner": "st-dev",
            "address_tag": "queue.q", "attributes": { "name": { "str": "shared-q" } },
            "exports": { "arn": "arn:aws:sqs:us-east-1:123456789012:shared-q" },
        } }),
        vec![],
    );
    let text = plan(&spec, &live, PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(text.contains("another environment of this"), "{text}");
    assert!(
        text.contains("give each environment its own names"),
        "{text}"
    );
    assert!(!text.contains("adopt = true` here"), "{text}");
}

#[test]
fn deletes_go_before_what_they_refer_to() {
    let mut snapshot = live("planner.json");
    let policy_arn = "arn:aws:iam::123456789012:policy/fx-shared";
    snapshot.owned.push(orphan(
        "policy",
        policy_arn,
        policy_arn,
        serde_json::json!({}),
    ));
    // The function names the role that is deleted too (`role.gone`), and a queue by its ARN.
    snapshot.owned.push(orphan(
        "function",
        "fx-worker",
        "arn:aws:lambda:us-east-1:123456789012:function:fx-worker",
        serde_json::json!({ "role": { "str": "arn:aws:iam::123456789012:role/fx-gone" },
                            "triggers": { "list": [{ "map": { "queue": { "str": "arn:aws:sqs:us-east-1:123456789012:fx-work" } } }] } }),
    ));
    snapshot.owned.push(orphan(
        "queue",
        "fx-work",
        "arn:aws:sqs:us-east-1:123456789012:fx-work",
        serde_json::json!({}),
    ));
    // A profile holds its role by name, which orders nothing by itself.
    let profile_arn = "arn:aws:iam::123456789012:instance-profile/fx-gone";
    snapshot.owned.push(orphan(
        "instance_profile",
        "fx-gone",
        profile_arn,
        serde_json::json!({ "role": { "str": "fx-gone" } }),
    ));
    let plan = plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).unwrap();
    assert_eq!(
        depends_on(&plan, "function.left-fx-worker"),
        ["role.gone", "queue.left-fx-work"]
    );
    // Holders go before what they may hold: discovery does not read what a role holds.
    assert_eq!(depends_on(&plan, "role.gone"), ["policy.left-fx-shared"]);
    assert_eq!(
        depends_on(&plan, "instance_profile.left-fx-gone"),
        ["role.gone"]
    );
    assert!(depends_on(&plan, "queue.left-fx-work").is_empty());

    // Destroying the stack orders what the spec declares the same way; a cycle of references
    // orders nothing on it and keeps the rest.
    let loop_arn = "arn:aws:lambda:us-east-1:123456789012:function:fx-worker";
    let gone = snapshot
        .owned
        .iter_mut()
        .find(|o| o.physical_id == "fx-gone")
        .unwrap();
    std::sync::Arc::make_mut(&mut gone.attributes)
        .insert("note".into(), crate::model::Value::Str(loop_arn.into()));
    let plan = super::plan(
        &spec("planner.toml"),
        &snapshot,
        PlanOptions {
            destroy: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        depends_on(&plan, "function.left-fx-worker"),
        ["queue.left-fx-work"]
    );
    assert_eq!(depends_on(&plan, "role.gone"), ["policy.left-fx-shared"]);
}

/// A resource with the stack's tag but no address tag (a tag copied by hand) was not made
/// by plinth, which tags everything it makes with both: it is left alone, and said so.
#[test]
fn a_resource_with_only_the_stack_tag_is_left_alone() {
    let mut snapshot = live("planner.json");
    let mut handmade = orphan(
        "queue",
        "fx-handmade",
        "arn:aws:sqs:us-east-1:123456789012:fx-handmade",
        serde_json::json!({}),
    );
    handmade.address_tag = None;
    snapshot.owned.push(handmade);
    let plan = plan(&spec("planner.toml"), &snapshot, PlanOptions::default()).unwrap();
    assert!(
        !plan.changes.iter().any(|c| c.physical_id == "fx-handmade"),
        "not deleted"
    );
    assert!(plan.warnings.iter().any(
        |w| w.code == crate::diag::WarningCode::StackTagOnly && w.text.contains("fx-handmade")
    ));
}

/// A value validate cannot know (it holds the account id) is checked against AWS's rules once
/// it is filled in: an instance profile's role written as an ARN is refused by the plan, before
/// IAM refuses it at apply, and the plan names the resource's name reference where one fits.
#[test]
fn values_made_from_the_account_or_other_resources_are_checked_once_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    let trust = r#"'{"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'"#;
    std::fs::write(
        &path,
        format!(
            "[stack]\nname = \"shapes\"\n\n[role.r]\nname = \"r\"\ntrust = {trust}\n\n\
             [instance_profile.x]\nname = \"x\"\nrole = \"arn:aws:iam::${{aws.account_id}}:role/r\"\n"
        ),
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default()).expect("validate cannot tell");
    let mut snapshot = live("planner.json");
    snapshot.by_address.clear();
    snapshot.owned.clear();
    let text = plan(&spec, &snapshot, PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(
        text.contains("which IAM does not allow in a name"),
        "{text}"
    );
    assert!(text.contains("plinth.toml:10:8"), "located: {text}");
}

/// KMS offers SM2 keys in the China Regions only: validate cannot tell the region, the plan can.
#[test]
fn an_sm2_key_is_refused_outside_china_once_the_region_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        "[stack]\nname = \"keys\"\n\n[key.k]\nkey_spec = \"SM2\"\nkey_usage = \"SIGN_VERIFY\"\naliases = [\"alias/sm2\"]\n",
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default()).expect("validate cannot tell");
    let text = plan(&spec, &empty_account(), PlanOptions::default())
        .unwrap_err()
        .render(false);
    assert!(
        text.contains(
            "KMS offers SM2 keys only in the China Regions, and this stack is in us-east-1"
        ),
        "{text}"
    );
    let mut china = empty_account();
    if let Some(account) = china.account.as_mut() {
        account.region = "cn-north-1".into();
        account.partition = "aws-cn".into();
    }
    assert!(plan(&spec, &china, PlanOptions::default()).is_ok());
}

/// Reviewers read the spec's own spelling: actions, condition keys and an account principal as
/// the author wrote them, though IAM returns them lowercased or as an ARN and comparison is
/// canonical; a create shows its policies whole, in Markdown as in text.
#[test]
fn plans_show_policies_as_the_spec_spells_them() {
    let plan = plan(
        &spec("spelling.toml"),
        &live("spelling.json"),
        PlanOptions::default(),
    )
    .unwrap();
    let text = render(&plan, TextOptions::default());
    let markdown = crate::render::markdown::render(&plan, Default::default());
    for view in [&text, &markdown] {
        for spelled in [
            "\"s3:GetObject\"",
            "\"s3:PutObject\"",
            "\"sts:AssumeRole\"",
            "\"iam:GetRolePolicy\"",
            "\"aws:ResourceAccount\"",
            "\"sts:ExternalId\"",
            "\"210987654321\"",
        ] {
            assert!(view.contains(spelled), "{spelled} in\n{view}");
        }
        // Access lost is shown as the live document spells it (here, lowercased).
        let shown: String = view
            .lines()
            .filter(|l| !l.starts_with("    - ") && !l.starts_with("| - |"))
            .collect::<Vec<_>>()
            .join("\n");
        for canonical in ["s3:getobject", "aws:resourceaccount", "sts:externalid"] {
            assert!(!shown.contains(canonical), "{canonical} in\n{view}");
        }
    }
    assert!(
        text.contains("EXAMPLED539D4633E53DE1B716D3041E:sub"),
        "{text}"
    );
    // Only the subject changed in the trust policy: IAM's spelling of the rest is no line of
    // the diff.
    let worker = plan
        .change(&crate::model::Address::try_from("role.worker".to_string()).unwrap())
        .unwrap();
    let trust = &worker
        .policy_diffs(&plan.account.account_id)
        .into_iter()
        .find(|(name, _)| name == "trust")
        .unwrap()
        .1;
    let changed: Vec<&str> = trust.statements[0]
        .unified
        .lines()
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(
        changed,
        [
            "-        \"system:serviceaccount:jobs:old-worker\"",
            "+        \"system:serviceaccount:jobs:worker\""
        ]
    );
    insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("planner_spelling_text", text);
        insta::assert_snapshot!("planner_spelling_markdown", markdown);
    });
}

/// A live bucket named `ex-lab-data`: someone else's, without (or with) the stack's record of
/// its parts in its tags.
fn existing_bucket(taken_over: bool) -> LiveSnapshot {
    let (owner, address, manages) = (serde_json::Value::Null, serde_json::Value::Null, taken_over);
    let mut attributes = serde_json::json!({
        "name": { "str": "ex-lab-data" },
        "existing": { "bool": false },
        "force_destroy": { "bool": false },
        "cors": { "list": [] },
        "tags": { "map": { "lab": { "str": "yes" } } },
    });
    if manages {
        attributes["shares"] = serde_json::json!({ "map": { "existing": { "list": [
            { "str": "bucket.data" }, { "str": "cors/plinth-existing-data-cors-1" }
        ] } } });
    }
    let bucket = serde_json::json!({
        "kind": "bucket", "physical_id": "ex-lab-data", "owner": owner,
        "address_tag": address, "attributes": attributes,
        "exports": { "arn": "arn:aws:s3:::ex-lab-data", "name": "ex-lab-data" },
    });
    let owned = if taken_over {
        vec![bucket.clone()]
    } else {
        vec![]
    };
    snapshot(serde_json::json!({ "bucket.data": bucket }), owned)
}

/// An existing bucket reads as what it is: taking it over shows the settings plinth will
/// manage, not its own records; destroying the stack releases it, and nothing says destroyed.
#[test]
fn an_existing_bucket_is_taken_over_and_released_not_created_or_destroyed() {
    let spec = spec("existing-bucket.toml");
    let take_over = plan(&spec, &existing_bucket(false), PlanOptions::default()).unwrap();
    let text = render(&take_over, TextOptions::default());
    assert!(
        text.contains("~ bucket.data (existing bucket) will be updated in place"),
        "{text}"
    );
    assert!(
        text.contains(
            "~ cors:\n          + plinth-existing-data-cors-1: { allowed_methods = [\"GET\"]"
        ),
        "entry by entry: {text}"
    );
    assert!(!text.contains("existing ="), "no bookkeeping line: {text}");
    assert!(!text.contains("manages"), "no bookkeeping line: {text}");
    let taken = "now managed by this stack: CORS rule plinth-existing-data-cors-1";
    assert!(text.contains(taken), "{text}");

    // A rule already in AWS as declared (what an import writes) changes no setting; the plan
    // still says the stack takes it over, in text and Markdown.
    let mut live = existing_bucket(false);
    let cors = take_over.changes[0].desired.as_ref().unwrap()["cors"].clone();
    let bucket = live.by_address.values_mut().next().unwrap();
    std::sync::Arc::make_mut(&mut bucket.attributes).insert("cors".into(), cors);
    let adopt = plan(&spec, &live, PlanOptions::default()).unwrap();
    assert_eq!(adopt.changes[0].action, Action::Update);
    let text = render(&adopt, TextOptions::default());
    assert!(!text.contains("~ cors"), "{text}");
    assert!(text.contains(taken), "{text}");
    let markdown = crate::render::markdown::render(&adopt, Default::default());
    assert!(markdown.contains(&format!("# {taken}")), "{markdown}");

    // The stack's rule changed beside the owner's own: only the stack's rule is shown, field
    // by field; the owner's rule is not repeated.
    let mut live = existing_bucket(true);
    let rule = |id: &str, method: &str| {
        Value::Map(
            [
                ("id".to_string(), Value::str(id)),
                (
                    "allowed_origins".to_string(),
                    Value::List(vec![Value::str("https://app.example.com")]),
                ),
                (
                    "allowed_methods".to_string(),
                    Value::List(vec![Value::str(method)]),
                ),
            ]
            .into(),
        )
    };
    let bucket = live.by_address.values_mut().next().unwrap();
    std::sync::Arc::make_mut(&mut bucket.attributes).insert(
        "cors".into(),
        Value::List(vec![
            rule("customer-app", "DELETE"),
            rule("plinth-existing-data-cors-1", "PUT"),
        ]),
    );
    let changed = plan(&spec, &live, PlanOptions::default()).unwrap();
    let text = render(&changed, TextOptions::default());
    assert!(
        text.contains("~ plinth-existing-data-cors-1: allowed_methods = [\"PUT\"] -> [\"GET\"]"),
        "{text}"
    );
    assert!(
        !text.contains("customer-app") && !text.contains("DELETE"),
        "{text}"
    );
    let markdown = crate::render::markdown::render(&changed, Default::default());
    assert!(
        markdown.contains("# cors:\n- plinth-existing-data-cors-1 = "),
        "{markdown}"
    );
    assert!(!markdown.contains("customer-app"), "{markdown}");

    let destroy = plan(
        &spec,
        &existing_bucket(true),
        PlanOptions {
            destroy: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        destroy.changes[0].action,
        Action::Delete,
        "apply releases it"
    );
    let text = render(&destroy, TextOptions::default());
    let markdown = crate::render::markdown::render(&destroy, Default::default());
    for view in [&text, &markdown] {
        assert!(!view.contains("destroyed"), "{view}");
        assert!(
            view.contains("plinth removes the parts it manages (CORS rule plinth-existing-data-cors-1) and its own tags, and leaves the bucket"),
            "{view}"
        );
        assert!(
            view.contains("Plan: 0 to add, 0 to change, 0 to replace, 0 to destroy, 1 to release."),
            "{view}"
        );
    }
    assert!(
        text.contains("  ~ bucket.data (existing bucket) will be released"),
        "{text}"
    );
    assert!(
        markdown.contains("- **releases** `bucket.data`"),
        "{markdown}"
    );
    assert!(!markdown.contains("**destroys**"), "{markdown}");
}

#[test]
fn warnings_travel_in_the_plan_with_their_codes() {
    let spec_text = std::fs::read_to_string(fixture("specs/planner.toml"))
        .unwrap()
        .replace(
            "[role.new]\n",
            "[role.new]\ndescription = \"for <team name>\"\n",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planner.toml");
    std::fs::write(
        &path,
        spec_text.replace(
            "../policies/",
            &format!("{}/", fixture("policies").display()),
        ),
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default()).unwrap();
    let plan = plan(&spec, &live("planner.json"), PlanOptions::default()).unwrap();
    let codes: Vec<_> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [crate::diag::WarningCode::Placeholder]);
    assert!(plan.warnings[0]
        .text
        .contains("`<team name>` looks like a placeholder"));
    let saved: super::Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved.warnings, plan.warnings);
    let json = crate::render::json::render(&plan);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["warnings"][0].as_str(),
        Some(plan.warnings[0].text.as_str())
    );
}

/// Another stack's record on a shared bucket holds the CORS rule this stack's block would
/// write: a conflict naming that stack, and no plan.
#[test]
fn a_part_another_stack_manages_on_a_shared_resource_is_a_conflict_naming_that_stack() {
    let spec = spec("existing-bucket.toml");
    let mut live = existing_bucket(false);
    let bucket = live.by_address.values_mut().next().unwrap();
    std::sync::Arc::make_mut(&mut bucket.attributes).insert(
        crate::model::shared::SHARES_ATTRIBUTE.into(),
        serde_json::from_value(serde_json::json!({ "map": { "lab-tools": { "list": [
            { "str": "bucket.lab" }, { "str": "cors/plinth-existing-data-cors-1" }
        ] } } }))
        .unwrap(),
    );
    let diags = plan(&spec, &live, PlanOptions::default()).unwrap_err();
    let conflict = &diags.0[0];
    assert_eq!(conflict.code, crate::diag::Code::PlanSharedConflict);
    assert_eq!(
        conflict.message,
        "bucket `ex-lab-data`: CORS rule plinth-existing-data-cors-1 is already managed by stack `lab-tools`"
    );
    assert!(conflict.location.is_some(), "located at the block");

    // Another stack's other parts are no conflict, and are kept.
    let bucket = live.by_address.values_mut().next().unwrap();
    std::sync::Arc::make_mut(&mut bucket.attributes).insert(
        crate::model::shared::SHARES_ATTRIBUTE.into(),
        serde_json::from_value(serde_json::json!({ "map": { "lab-tools": { "list": [
            { "str": "bucket.lab" }, { "str": "cors/lab-tools-app" }
        ] } } }))
        .unwrap(),
    );
    let planned = plan(&spec, &live, PlanOptions::default()).unwrap();
    assert_eq!(planned.changes[0].action, Action::Update);
}

/// A key named by its alias in one block and by its id in another is one key once read: a
/// located error naming both blocks, and no plan.
#[test]
fn a_key_named_by_alias_in_one_block_and_by_id_in_another_is_a_conflict() {
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        format!(
            "[stack]\nname = \"twice\"\n\n[key.by_alias]\nexisting = true\nkey_id = \"alias/customer\"\n\n[key.by_id]\nexisting = true\nkey_id = \"{id}\"\n"
        ),
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let key = serde_json::json!({
        "kind": "key", "physical_id": id, "owner": null, "address_tag": null,
        "attributes": { "key_id": { "str": id } },
        "exports": { "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{id}"), "key_id": id },
    });
    let live = snapshot(
        serde_json::json!({ "key.by_alias": key.clone(), "key.by_id": key }),
        vec![],
    );
    let diags = plan(&spec, &live, PlanOptions::default()).unwrap_err();
    let twice: Vec<_> = diags
        .0
        .iter()
        .filter(|d| d.code == "plan::duplicate-name")
        .collect();
    assert_eq!(twice.len(), 1, "{}", diags.render(false));
    assert_eq!(
        twice[0].message,
        format!("key.by_alias and key.by_id name one key: `alias/customer` and `{id}` are both key `{id}`")
    );
    assert!(twice[0].location.is_some(), "located at the second block");

    // Two keys are no conflict.
    let mut other = live.clone();
    other
        .by_address
        .get_mut(&Address::try_from("key.by_id".to_string()).unwrap())
        .unwrap()
        .physical_id = "another".into();
    if let Err(d) = plan(&spec, &other, PlanOptions::default()) {
        assert!(
            !d.0.iter().any(|d| d.code == "plan::duplicate-name"),
            "{}",
            d.render(false)
        );
    }
}

/// On a shared key the planner lints the merged policy, but only the block's statements are
/// the stack's: the owner's, sent back as AWS returned them, give no finding, not even an
/// error that would otherwise stop the plan.
#[test]
fn only_the_blocks_statements_of_a_shared_policy_are_linted() {
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        r#"[stack]
name = "vendor"

[key.customer]
existing = true
key_id = "alias/customer"
policy = { Version = "2012-10-17", Statement = [{ Sid = "VendorDecrypt", Effect = "Allow", Principal = { AWS = "arn:aws:iam::111122223333:root" }, Action = ["kms:Decrypt", "kms:DescribeKey"], Resource = "*" }] }
"#,
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let owners = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "Enable IAM User Permissions", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*" },
        { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
          "Action": "kms:Decryptt", "Resource": "*" },
    ]});
    let live = snapshot(
        serde_json::json!({ "key.customer": {
            "kind": "key", "physical_id": id, "owner": null, "address_tag": null,
            "attributes": { "key_id": { "str": id }, "policy": { "policy": owners } },
            "exports": { "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{id}"), "key_id": id },
        } }),
        vec![],
    );
    let planned = plan(&spec, &live, PlanOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let change = planned
        .change(&Address::try_from("key.customer".to_string()).unwrap())
        .unwrap();
    assert_eq!(change.action, Action::Update);
    let findings: Vec<(&str, Option<&str>)> = change
        .lints
        .iter()
        .map(|f| (f.code.as_str(), f.statement.as_deref()))
        .collect();
    assert_eq!(findings, [("P007", Some("VendorDecrypt"))]);

    // The same statements in a key the stack owns are all its own: each is linted.
    let policy = r#"{ Version = "2012-10-17", Statement = [{ Sid = "Root", Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:root" }, Action = "kms:*", Resource = "*" }, { Sid = "Admin", Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:role/admin" }, Action = "kms:*", Resource = "*" }] }"#;
    std::fs::write(
        &path,
        format!("[stack]\nname = \"vendor\"\n\n[key.own]\npolicy = {policy}\n"),
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let planned = plan(&spec, &empty_account(), PlanOptions::default()).unwrap();
    let codes: Vec<&str> = planned.changes[0]
        .lints
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    // KMS's default statement (the account's root allowed kms:*) is no finding.
    let findings: Vec<(&str, Option<&str>)> = planned.changes[0]
        .lints
        .iter()
        .map(|f| (f.code.as_str(), f.statement.as_deref()))
        .collect();
    assert_eq!(findings, [("P003", Some("Admin"))], "{codes:?}");
}

const SHARED_KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const SHARED_STATEMENT: &str = r#"{ Sid = "Shared", Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:role/app" }, Action = "kms:Decrypt", Resource = "*" }"#;

/// A spec whose shared key block declares `statement`, written in `dir`.
fn shared_key_spec(dir: &tempfile::TempDir, statement: &str) -> Spec {
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        format!("[stack]\nname = \"vendor\"\n\n[key.customer]\nexisting = true\nkey_id = \"alias/customer\"\npolicy = {{ Version = \"2012-10-17\", Statement = [{statement}] }}\n"),
    )
    .unwrap();
    spec::load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// The customer's key: the owner's root statement and a `Shared` statement allowing
/// `kms:Decrypt` to role/app, recorded as stack `vendor`'s when `recorded`.
fn shared_key_live(recorded: bool) -> LiveSnapshot {
    shared_key_live_recording(recorded.then_some("Shared"))
}

/// [`shared_key_live`], with stack `vendor`'s record holding the statement `sid`, if any.
fn shared_key_live_recording(sid: Option<&str>) -> LiveSnapshot {
    let id = SHARED_KEY_ID;
    let owners = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "Root", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*" },
        { "Sid": "Shared", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:role/app" }, "Action": "kms:Decrypt", "Resource": "*" },
    ]});
    let mut attributes =
        serde_json::json!({ "key_id": { "str": id }, "policy": { "policy": owners } });
    if let Some(sid) = sid {
        attributes["shares"] = serde_json::json!({ "map": { "vendor": { "list": [
            { "str": "key.customer" }, { "str": format!("policy/{sid}") }
        ] } } });
    }
    snapshot(
        serde_json::json!({ "key.customer": {
            "kind": "key", "physical_id": id, "owner": null, "address_tag": null,
            "attributes": attributes,
            "exports": { "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{id}"), "key_id": id },
        } }),
        vec![],
    )
}

/// A shared key whose only statement is the stack's (as after importing a key whose
/// statements all had Sids): destroying the stack would leave KMS an empty key policy, which
/// it refuses. The plan says so, and how to let go of the key instead.
#[test]
fn leaving_a_shared_key_with_no_statement_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let spec = shared_key_spec(&dir, SHARED_STATEMENT);
    let id = SHARED_KEY_ID;
    let only_ours = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "Shared", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:role/app" }, "Action": "kms:Decrypt", "Resource": "*" },
    ]});
    let live = snapshot(
        serde_json::json!({ "key.customer": {
            "kind": "key", "physical_id": id, "owner": null, "address_tag": null,
            "attributes": { "key_id": { "str": id }, "policy": { "policy": only_ours },
                "shares": { "map": { "vendor": { "list": [{ "str": "key.customer" }, { "str": "policy/Shared" }] } } } },
            "exports": { "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{id}"), "key_id": id },
        } }),
        vec![],
    );
    let options = PlanOptions {
        destroy: true,
        ..Default::default()
    };
    let refused = plan(&spec, &live, options)
        .map(|_| ())
        .unwrap_err()
        .render(false);
    assert!(
        refused.contains("KMS refuses an empty key policy"),
        "{refused}"
    );
    assert!(refused.contains("release = true"), "{refused}");
}

/// A block that declares a Sid its owner's key policy already holds, written differently,
/// takes the owner's statement over: a warning says so; the same statement, or a Sid of the
/// stack's own record, gives none.
#[test]
fn claiming_an_owners_statement_that_differs_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let codes = |statement: &str, recorded: bool| {
        let spec = shared_key_spec(&dir, statement);
        let planned = plan(&spec, &shared_key_live(recorded), PlanOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        planned
            .warnings
            .iter()
            .filter(|w| w.code != crate::diag::WarningCode::PolicyLint)
            .map(|w| (w.code, w.text.clone()))
            .collect::<Vec<_>>()
    };
    let widened = SHARED_STATEMENT.replace("\"kms:Decrypt\"", "[\"kms:Decrypt\", \"kms:Encrypt\"]");
    let warned = codes(&widened, false);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, crate::diag::WarningCode::SharedTakeover);
    assert!(
        warned[0]
            .1
            .contains("policy statement Shared is already there"),
        "{warned:?}"
    );
    assert_eq!(codes(SHARED_STATEMENT, false), [], "the same statement");
    assert_eq!(codes(&widened, true), [], "already the stack's own");
}

/// A CORS rule the bucket already holds under the id the block's rule gets, written
/// differently, is taken over: a warning; the same rule (as after an import) is none.
#[test]
fn claiming_an_owners_cors_rule_that_differs_is_a_warning() {
    let spec = spec("existing-bucket.toml");
    let first = plan(&spec, &existing_bucket(false), PlanOptions::default()).unwrap();
    let Some(crate::model::Value::List(ours)) = first.changes[0]
        .desired
        .as_ref()
        .and_then(|d| d.get("cors"))
        .cloned()
    else {
        panic!("the block's CORS rules: {:?}", first.changes[0].desired)
    };
    let takeovers = |cors: Vec<crate::model::Value>| {
        let mut live = existing_bucket(false);
        let bucket = live.by_address.values_mut().next().unwrap();
        std::sync::Arc::make_mut(&mut bucket.attributes)
            .insert("cors".into(), crate::model::Value::List(cors));
        plan(&spec, &live, PlanOptions::default())
            .unwrap()
            .warnings
            .into_iter()
            .filter(|w| w.code == crate::diag::WarningCode::SharedTakeover)
            .map(|w| w.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        takeovers(ours.clone()),
        Vec::<String>::new(),
        "the same rule"
    );
    let mut theirs = ours.clone();
    if let crate::model::Value::Map(rule) = &mut theirs[0] {
        rule.insert(
            "allowed_origins".into(),
            crate::model::Value::List(vec![crate::model::Value::str("https://their.example.com")]),
        );
    }
    let warned = takeovers(theirs);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("the CORS rule plinth-existing-data-cors-1 is already there"),
        "{warned:?}"
    );
}

/// A key whose policy holds nothing but the stack's statement cannot be let go of: KMS
/// refuses an empty key policy, so the plan says so instead of the apply failing half-way.
#[test]
fn letting_go_of_a_key_whose_policy_would_be_left_empty_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = shared_key_spec(&dir, SHARED_STATEMENT);
    let mut live = shared_key_live(true);
    let key = live.by_address.values_mut().next().unwrap();
    let only_ours = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "Shared", "Effect": "Allow",
          "Principal": { "AWS": "arn:aws:iam::123456789012:role/app" }, "Action": "kms:Decrypt", "Resource": "*" },
    ]});
    std::sync::Arc::make_mut(&mut key.attributes).insert(
        "policy".into(),
        serde_json::from_value(serde_json::json!({ "policy": only_ours })).unwrap(),
    );
    let destroy = PlanOptions {
        destroy: true,
        ..Default::default()
    };
    let refused = plan(&spec, &live, destroy).unwrap_err();
    assert_eq!(
        refused.0[0].code,
        crate::diag::Code::PlanEmptyKeyPolicy,
        "{}",
        refused.render(false)
    );
    // With the owner's statement beside it, the release goes ahead.
    assert!(plan(&spec, &shared_key_live(true), destroy).is_ok());
}

/// `release = true` on a shared key keeps the stack's statements (only its record goes), so no
/// access is lost; removing the block takes them out, and their access with them.
#[test]
fn release_keeps_the_stacks_statements_and_their_access_while_removing_the_block_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    let write = |text: &str| {
        std::fs::write(&path, text).unwrap();
        spec::load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)))
    };
    let lost = |spec: &Spec| {
        let planned = plan(spec, &shared_key_live(true), PlanOptions::default()).unwrap();
        crate::access::changes(&planned)
            .iter()
            .filter(|c| c.change == crate::access::Change::Lost)
            .map(|c| c.grant.principal.clone())
            .collect::<Vec<_>>()
    };
    let released = write(&format!(
        "[stack]\nname = \"vendor\"\n\n[key.customer]\nexisting = true\nrelease = true\nkey_id = \"alias/customer\"\npolicy = {{ Version = \"2012-10-17\", Statement = [{SHARED_STATEMENT}] }}\n"
    ));
    assert_eq!(lost(&released), Vec::<String>::new());
    let removed = write("[stack]\nname = \"vendor\"\n");
    assert_eq!(lost(&removed), ["arn:aws:iam::123456789012:role/app"]);
}

/// `--refresh-only` reports drift in the statements a stack has written into a shared
/// resource, and says nothing of a shared resource it has written nothing into.
#[test]
fn refresh_only_reports_drift_of_the_stacks_parts_of_a_shared_resource() {
    let dir = tempfile::tempdir().unwrap();
    let options = PlanOptions {
        refresh_only: true,
        ..Default::default()
    };
    let widened = SHARED_STATEMENT.replace("\"kms:Decrypt\"", "[\"kms:Decrypt\", \"kms:Encrypt\"]");
    let spec = shared_key_spec(&dir, &widened);
    let drifted = plan(&spec, &shared_key_live(true), options).unwrap();
    let changed: Vec<_> = drifted.changes.iter().filter(|c| c.is_change()).collect();
    assert_eq!(changed.len(), 1, "{:?}", drifted.changes);
    assert!(matches!(changed[0].reason, Some(Reason::Drift { .. })));
    let not_ours = plan(&spec, &shared_key_live(false), options).unwrap();
    assert!(not_ours.is_empty(), "{:?}", not_ours.changes);
}

/// Roles that name one trust policy file share its parsed document, and the planner lints it
/// once: each role still carries the findings, and a role that silences one does not.
#[test]
fn roles_sharing_a_trust_file_each_carry_its_findings_unless_they_silence_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trust.json"),
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x-1"}}}]}"#,
    )
    .unwrap();
    let role = |name: &str| {
        format!("\n[role.{name}]\nname = \"shared-{name}\"\ntrust = {{ file = \"trust.json\" }}\n")
    };
    let text = "[stack]\nname = \"shared-trust\"\n".to_string()
        + &role("a")
        + "\n[[role.a.silence]]\nlint = \"P007\"\npolicy = \"trust\"\nreason = \"the vendor's account\"\n"
        + &role("b")
        + &role("c");
    let path = dir.path().join("plinth.toml");
    std::fs::write(&path, text).unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let plan = plan(&spec, &live("planner.json"), PlanOptions::default()).unwrap();
    let change = |name: &str| {
        plan.change(&Address::try_from(format!("role.{name}")).unwrap())
            .unwrap()
    };
    let codes =
        |name: &str| -> Vec<&str> { change(name).lints.iter().map(|f| f.code.as_str()).collect() };
    assert!(!codes("a").contains(&"P007"), "{:?}", codes("a"));
    assert!(codes("b").contains(&"P007"), "{:?}", codes("b"));
    assert_eq!(codes("b"), codes("c"));
    let trust = |name: &str| {
        crate::plan::attribute_at(change(name).desired.as_ref().unwrap(), "trust")
            .and_then(crate::model::Value::as_shared_policy)
            .cloned()
            .unwrap()
    };
    assert!(std::sync::Arc::ptr_eq(&trust("b"), &trust("c")));
}

#[test]
fn a_policy_written_as_a_table_waits_for_a_value_in_the_order_it_was_written() {
    let (_dir, spec) = spec::load_text(
        r#"[stack]
name = "written-order"

[key.k]
description = "written-order key"

[role.r]
name = "written-order-r"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
policies.decrypt = { Version = "2012-10-17", Statement = [{ Sid = "Decrypt", Effect = "Allow", Action = "kms:Decrypt", Resource = "${key.k.arn}" }] }
"#,
    );
    let mut snapshot = live("planner.json");
    snapshot.by_address.clear();
    snapshot.owned.clear();
    let plan = plan(&spec, &snapshot, PlanOptions::default()).unwrap();
    // The key's ARN is known only once the key exists: the policy is shown as written, with
    // the reference in it, and its keys in the order the spec wrote them.
    let json: serde_json::Value =
        serde_json::from_str(&crate::render::json::render(&plan)).unwrap();
    let mut pending = Vec::new();
    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(t)) = m.get("known_after_apply") {
                    out.push(t.clone());
                }
                m.values().for_each(|v| collect(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&json, &mut pending);
    let policy = pending
        .iter()
        .find(|t| t.contains("${key.k.arn}"))
        .unwrap_or_else(|| panic!("no pending policy in {pending:?}"));
    assert_eq!(
        policy,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Decrypt","Effect":"Allow","Action":"kms:Decrypt","Resource":"${key.k.arn}"}]}"#
    );
}

/// A large spec's resources are planned on two threads, each half with a resolver and lint memo
/// of its own: the plan is the one a single thread makes, in every view, with references from
/// each half to the other, creates into an empty account, and updates against what they made.
#[test]
fn two_threads_plan_what_one_thread_plans() {
    let units = |narrowed: usize, functions: bool| {
        let mut text = String::from("[stack]\nname = \"halves\"\n");
        let n = 30;
        for i in 0..n {
            // A unit of the other half, so that each thread resolves the other's exports.
            let other = (i + n / 2) % n;
            let action = if i % 3 == narrowed {
                "sqs:ReceiveMessage"
            } else {
                "sqs:*"
            };
            text += &format!(
                r#"
[queue.q{i}]
name = "halves-q{i}"

[role.r{i}]
name = "halves-r{i}"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}
policies.work = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["{action}", "sqs:GetQueueUrl"], Resource = ["${{queue.q{other}.arn}}", "${{queue.q{i}.arn}}"] }}] }}
"#
            );
            if !functions {
                continue;
            }
            text += &format!(
                r#"
[function.f{i}]
name = "halves-f{i}"
role = "${{role.r{i}.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ s3_bucket = "code", s3_key = "f.zip" }}

[[function.f{i}.trigger]]
queue = "${{queue.q{other}.arn}}"
"#
            );
        }
        text
    };
    let same = |spec: &Spec, live: &LiveSnapshot| {
        let one = super::planner::plan_on(spec, live, PlanOptions::default(), false).unwrap();
        let two = super::planner::plan_on(spec, live, PlanOptions::default(), true).unwrap();
        assert_eq!(
            crate::render::json::render(&one),
            crate::render::json::render(&two)
        );
        assert_eq!(
            render(&one, TextOptions::default()),
            render(&two, TextOptions::default())
        );
        // Its text, every other resource written on a second thread, is the text one thread
        // writes.
        let access = crate::access::changes(&two);
        let text =
            |from| crate::render::text::render_on(&two, &access, TextOptions::default(), from);
        assert_eq!(text(1), text(usize::MAX));
        one
    };
    let empty = empty_account();
    let (_dir, first) = spec::load_text(&units(3, false));
    let created = same(&first, &empty);
    assert_eq!(created.summary().add, 60);
    // The account as the first plan leaves it, and a spec that narrows a third of the roles.
    let mut after = empty.clone();
    for change in &created.changes {
        after
            .by_address
            .insert(change.address.clone(), change.as_created(&created.stack));
    }
    let (_dir, second) = spec::load_text(&units(0, false));
    let updated = same(&second, &after);
    assert_eq!(
        updated.summary().change,
        10,
        "{}",
        render(&updated, TextOptions::default())
    );

    // The checks across resources run on both threads too: functions whose roles may only
    // receive from their trigger's queue (a third of them, in both halves) stop the plan,
    // each named.
    let (_dir, third) = spec::load_text(&units(0, true));
    let refused = |two_threads| {
        super::planner::plan_on(&third, &after, PlanOptions::default(), two_threads).unwrap_err()
    };
    let (one, two) = (refused(false), refused(true));
    assert_eq!(one.render(false), two.render(false));
    let mut named: Vec<&str> = (two.0.iter())
        .filter(|d| d.code == crate::diag::Code::CheckFunctionQueueAccess)
        .filter_map(|d| d.message.split(' ').next())
        .collect();
    named.sort();
    let mut narrowed: Vec<String> = (0..30)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("function.f{i}"))
        .collect();
    narrowed.sort();
    assert_eq!(named, narrowed);

    // Two blocks whose resources, as read, are one queue are found by the second thread (after
    // its checks) as by the first.
    let address = |a: &str| Address::try_from(a.to_string()).unwrap();
    let mut twice = after.clone();
    let q5 = twice.by_address[&address("queue.q5")].clone();
    twice.by_address.insert(address("queue.again"), q5);
    let (_dir, fourth) =
        spec::load_text(&(units(0, false) + "\n[queue.again]\nname = \"halves-again\"\n"));
    let refused = |two_threads| {
        super::planner::plan_on(&fourth, &twice, PlanOptions::default(), two_threads).unwrap_err()
    };
    let (one, two) = (refused(false), refused(true));
    assert_eq!(one.render(false), two.render(false));
    let duplicate: Vec<&str> = (two.0.iter())
        .filter(|d| d.code == crate::diag::Code::PlanDuplicateName)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(duplicate.len(), 1, "{}", two.render(false));
    assert!(duplicate[0].contains("queue.again"), "{duplicate:?}");
}

/// A policy lint that loading the spec reported is shown once in the plan, beside its
/// resource, not again among the plan's warnings; a warning of another kind stays there.
#[test]
fn a_lint_on_a_resource_is_not_repeated_among_the_plans_warnings() {
    let (_dir, spec) = spec::load_text(
        r#"[stack]
name = "once"
account_id = "123456789012"

[role.vendor]
name = "once-vendor"
description = "<team name>"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::111122223333:root" }, Action = "sts:AssumeRole" }] }
"#,
    );
    let lint =
        |w: &crate::diag::Diagnostic| w.warning_code == Some(crate::diag::WarningCode::PolicyLint);
    assert!(
        spec.warnings
            .0
            .iter()
            .any(|w| lint(w) && w.message.contains("[P007]")),
        "loading reports the lint: {:?}",
        spec.warnings
    );
    let empty = empty_account();
    let created = plan(&spec, &empty, PlanOptions::default()).unwrap();
    let vendor = created
        .change(&Address::try_from("role.vendor".to_string()).unwrap())
        .unwrap();
    assert!(vendor
        .lints
        .iter()
        .any(|l| l.code.to_string() == "P007" && l.policy == "trust"));
    let codes: Vec<_> = created.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [crate::diag::WarningCode::Placeholder]);
    let text = render(&created, TextOptions::default());
    assert_eq!(
        text.matches("[P007]").count() + text.matches("P007 warning").count(),
        1,
        "{text}"
    );
    // A destroy plan sends no policy: what the spec's policies would grant is not its concern,
    // and the warning is not among the plan's.
    let destroy = plan(
        &spec,
        &empty,
        PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    assert!(!destroy
        .warnings
        .iter()
        .any(|w| w.code == crate::diag::WarningCode::PolicyLint));
}

/// On a shared bucket, a notification of the stack that overlaps one of the owner's would make
/// S3 refuse the whole notification document: the plan stops there, naming both. One that
/// does not overlap (another prefix) plans.
#[test]
fn a_shared_buckets_notification_may_not_overlap_the_owners() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    let spec_with = |prefix: &str| {
        std::fs::write(
            &path,
            format!(
                r#"[stack]
name = "existing"

[bucket.data]
name = "ex-lab-data"
existing = true

[[bucket.data.notification]]
queue = "arn:aws:sqs:us-east-1:123456789012:vendor-events"
events = ["s3:ObjectCreated:*"]
prefix = "{prefix}"
"#
            ),
        )
        .unwrap();
        crate::spec::load(&path, &crate::spec::LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)))
    };
    let mut live = existing_bucket(false);
    let owners = crate::model::bucket::notification(
        "queue",
        crate::model::Value::str("arn:aws:sqs:us-east-1:123456789012:owner-csv"),
        ["s3:ObjectCreated:Put".to_string()],
        None,
        Some(".csv".to_string()),
    );
    let owners = crate::model::bucket::with_id(owners, "custnote");
    let bucket = live.by_address.values_mut().next().unwrap();
    std::sync::Arc::make_mut(&mut bucket.attributes).insert(
        "notifications".into(),
        crate::model::Value::List(vec![owners]),
    );

    let refused = plan(&spec_with("vendor/"), &live, PlanOptions::default()).unwrap_err();
    let text = refused.render(false);
    assert!(text.contains("plan::notification-overlap"), "{text}");
    assert!(text.contains("own `custnote`"), "{text}");

    // A suffix the owner's cannot share: no object matches both.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("prefix = \"vendor/\"", "suffix = \".json\""),
    )
    .unwrap();
    let apart = crate::spec::load(&path, &crate::spec::LoadOptions::default()).unwrap();
    plan(&apart, &live, PlanOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)));
}

/// Adds `part` to the stack's record on the existing bucket of [`existing_bucket`].
fn record_part(live: &mut LiveSnapshot, part: &str) {
    let bucket = live.by_address.values_mut().next().unwrap();
    let mut shares: serde_json::Value = serde_json::to_value(&bucket.attributes["shares"]).unwrap();
    shares["map"]["existing"]["list"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "str": part }));
    std::sync::Arc::make_mut(&mut bucket.attributes)
        .insert("shares".into(), serde_json::from_value(shares).unwrap());
    live.owned = live.by_address.values().cloned().collect();
}

/// A setting of an existing bucket the stack managed and the spec no longer declares is
/// removed by apply: the plan says so, in text and Markdown, though no attribute shows it.
#[test]
fn a_setting_left_out_of_the_spec_is_shown_as_removed() {
    let spec = spec("existing-bucket.toml");
    let mut live = existing_bucket(true);
    record_part(&mut live, "setting/public_access_block");
    let plan = plan(&spec, &live, PlanOptions::default()).unwrap();
    let text = render(&plan, TextOptions::default());
    assert!(
        text.contains("- removed, no longer in the spec: public access block"),
        "{text}"
    );
    let markdown = crate::render::markdown::render(&plan, Default::default());
    assert!(
        markdown.contains("- removed, no longer in the spec: public access block"),
        "{markdown}"
    );
    assert!(!markdown.contains("No attribute changes"), "{markdown}");

    // A setting the bucket had as declared when the stack took it on is kept, and the plans
    // that let go of it say so.
    record_part(&mut live, "found/public_access_block");
    let kept = render(
        &super::plan(&spec, &live, PlanOptions::default()).unwrap(),
        TextOptions::default(),
    );
    assert!(
        !kept.contains("- removed")
            && kept.contains("no longer managed by this stack, kept as it is: public access block"),
        "{kept}"
    );
    let destroy = PlanOptions {
        destroy: true,
        ..PlanOptions::default()
    };
    let released = render(
        &super::plan(&spec, &live, destroy).unwrap(),
        TextOptions::default(),
    );
    assert!(
        released.contains("(CORS rule plinth-existing-data-cors-1) and its own tags, and leaves the bucket, with the public access block it had before this stack"),
        "{released}"
    );
    // Still managed: nothing said.
    let text = render(
        &super::plan(&spec, &existing_bucket(true), PlanOptions::default()).unwrap(),
        TextOptions::default(),
    );
    assert!(!text.contains("removed, no longer"), "{text}");
}

/// A shared key whose statement that lets the account manage it is the stack's (an import
/// took it over): letting go of it, or no longer declaring it, would leave a key no one can
/// manage. KMS refuses such a policy (moto does not): the plan does first.
#[test]
fn letting_go_of_the_statement_that_manages_a_shared_key_is_refused() {
    const ROOT: &str = r#"{ Sid = "Root", Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:root" }, Action = "kms:*", Resource = "*" }"#;
    let dir = tempfile::tempdir().unwrap();
    let spec = shared_key_spec(&dir, ROOT);
    let live = shared_key_live_recording(Some("Root"));
    let destroy = PlanOptions {
        destroy: true,
        ..Default::default()
    };
    let refused = plan(&spec, &live, destroy).unwrap_err();
    assert_eq!(
        refused.0[0].code,
        crate::diag::Code::CheckKeyLockout,
        "{}",
        refused.render(false)
    );
    // Declaring another statement instead of it is refused too.
    let other = tempfile::tempdir().unwrap();
    let refused = plan(
        &shared_key_spec(&other, SHARED_STATEMENT),
        &live,
        PlanOptions::default(),
    )
    .unwrap_err();
    assert_eq!(refused.0[0].code, crate::diag::Code::CheckKeyLockout);
    // Keeping it goes ahead; so does letting go of a statement that does not manage the key.
    assert!(plan(&spec, &live, PlanOptions::default()).is_ok());
    let shared = shared_key_spec(&other, SHARED_STATEMENT);
    assert!(plan(&shared, &shared_key_live(true), destroy).is_ok());
}

/// A key replacement that stopped part way leaves two keys tagged with one address, the new
/// one naming the old in its `replaces` export. Whichever the spec's alias finds, the plan
/// deletes the other with its reason: the old one once the new holds the alias, the new one
/// when the alias is still on the old key and the spec no longer asks for a replacement.
#[test]
fn a_stopped_key_replacement_leaves_one_key_to_delete_whichever_holds_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        "[stack]\nname = \"rekey\"\n\n[key.data]\ndescription = \"data\"\naliases = [\"alias/data\"]\n",
    )
    .unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let created = plan(
        &spec,
        &snapshot(serde_json::json!({}), vec![]),
        PlanOptions::default(),
    )
    .unwrap();
    let address = Address::try_from("key.data".to_string()).unwrap();
    let mut old = created.change(&address).unwrap().as_created("rekey");
    old.physical_id = "old-key".into();
    let mut new = old.clone();
    new.physical_id = "new-key".into();
    new.exports
        .insert(crate::state::REPLACED_EXPORT.into(), "old-key".into());
    // Two keys owned, `held` the one the alias finds.
    let at = |held: &LiveResource, owned: [&LiveResource; 2]| {
        let json = |r: &LiveResource| serde_json::to_value(r).unwrap();
        snapshot(
            serde_json::json!({ "key.data": json(held) }),
            owned.map(json).to_vec(),
        )
    };
    // The key the plan deletes at `address`, and why.
    let deleted = |plan: &super::Plan, address: &str| {
        let address = Address::try_from(address.to_string()).unwrap();
        plan.change(&address)
            .filter(|c| c.action == Action::Delete)
            .and_then(|c| c.reason.clone())
    };
    let abandoned_of_old = Some(Reason::ReplacementAbandoned {
        of: "old-key".into(),
    });

    let abandoned = plan(&spec, &at(&old, [&old, &new]), PlanOptions::default()).unwrap();
    assert_eq!(action(&abandoned, "key.data"), Action::NoOp);
    assert_eq!(deleted(&abandoned, "key.data#new-key"), abandoned_of_old);
    assert_eq!(abandoned.summary().destroy, 1);

    let replaced = plan(&spec, &at(&new, [&old, &new]), PlanOptions::default()).unwrap();
    assert_eq!(action(&replaced, "key.data"), Action::NoOp);
    assert_eq!(
        deleted(&replaced, "key.data#old-key"),
        Some(Reason::Replaced {
            by: "new-key".into()
        })
    );

    // The spec asks for a key unlike the old one: the replacement takes over a key left by an
    // earlier one only if it is what the spec asks for, and deletes one that is not.
    let signing = |key: &LiveResource, spec: &str| {
        let mut key = key.clone();
        std::sync::Arc::make_mut(&mut key.attributes)
            .insert("key_spec".into(), crate::model::Value::str(spec));
        std::sync::Arc::make_mut(&mut key.attributes)
            .insert("key_usage".into(), crate::model::Value::str("SIGN_VERIFY"));
        key
    };
    let (old_signing, new_signing) = (signing(&old, "ECC_NIST_P256"), signing(&new, "RSA_2048"));
    let live = at(&old_signing, [&old_signing, &new_signing]);
    let again = plan(&spec, &live, PlanOptions::default()).unwrap();
    assert_eq!(action(&again, "key.data"), Action::Replace);
    assert_eq!(deleted(&again, "key.data#new-key"), abandoned_of_old);
    let live = at(&old_signing, [&old_signing, &new]);
    let resumed = plan(&spec, &live, PlanOptions::default()).unwrap();
    assert_eq!(action(&resumed, "key.data"), Action::Replace);
    assert_eq!(
        resumed.summary().destroy,
        0,
        "the apply takes the new key over"
    );

    // The alias has moved to the new key, and the spec has gone back to the old one: the plan
    // makes the old key the stack's again (its alias moves back) and deletes the new one.
    let back = plan(
        &spec,
        &at(&new_signing, [&old, &new_signing]),
        PlanOptions::default(),
    )
    .unwrap();
    let key = back.change(&address).unwrap();
    assert_ne!(key.action, Action::Replace, "no key is made");
    assert_eq!(key.physical_id, "old-key");
    assert_eq!(deleted(&back, "key.data#new-key"), abandoned_of_old);

    // Destroyed, both keys go, the one not at the address named after it all the same.
    let destroy = PlanOptions {
        destroy: true,
        ..PlanOptions::default()
    };
    let destroyed = plan(&spec, &at(&old, [&old, &new]), destroy).unwrap();
    let addresses: Vec<String> = destroyed
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(addresses, ["key.data", "key.data#new-key"]);

    // Without the export, two keys at one address are duplicates the plan cannot choose from.
    new.exports.remove(crate::state::REPLACED_EXPORT);
    let duplicate = plan(&spec, &at(&old, [&old, &new]), PlanOptions::default()).unwrap_err();
    assert!(
        duplicate.0.iter().any(|d| d.code == "plan::duplicate"),
        "{}",
        duplicate.render(false)
    );
}

/// Load measures a policy as written, with its references as `${...}`; the plan measures it
/// again once they are filled in, and a variable standing for a long value can take it past
/// IAM's limit.
#[test]
fn a_policy_is_measured_again_once_its_references_are_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    let spec_with = |subjects: usize| {
        let list = (0..subjects)
            .map(|i| format!("repo:example-org/service-{i:04}:ref:refs/heads/main"))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#"[stack]
name = "sizes"

[vars]
subjects = "{list}"

[role.ci]
name = "ci"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Federated = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }}, Action = "sts:AssumeRoleWithWebIdentity", Condition = {{ StringEquals = {{ "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com" }}, StringLike = {{ "token.actions.githubusercontent.com:sub" = "${{var.subjects}}" }} }} }}] }}
"#
        )
    };
    let mut snapshot = live("planner.json");
    snapshot.by_address.clear();
    snapshot.owned.clear();
    let plan_of = |subjects: usize| {
        std::fs::write(&path, spec_with(subjects)).unwrap();
        let spec = spec::load(&path, &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        plan(&spec, &snapshot, PlanOptions::default())
    };
    // Short: nothing to say.
    let small = plan_of(3).expect("a small trust policy plans");
    assert!(
        !small.warnings.iter().any(|w| w.text.contains("characters")),
        "{:?}",
        small.warnings
    );
    // Over IAM's default quota for trust policies (2,048), within the raised one (4,096).
    let raised = plan_of(50).expect("a warning, not an error");
    assert!(
        raised
            .warnings
            .iter()
            .any(|w| w.text.contains("role.ci trust policy is")
                && w.text.contains("IAM's default quota is 2048")),
        "{:?}",
        raised.warnings
    );
    // Over any quota: refused.
    let refused = plan_of(120).unwrap_err().render(false);
    assert!(refused.contains("AWS accepts at most 4096"), "{refused}");
}

/// SQS keeps a dead-letter queue in its queue's account and region, Lambda reads queues (and
/// runs images) of its function's region and S3 notifies targets of its bucket's: an ARN or
/// image elsewhere is refused once the plan knows where the stack is, and the same ARNs in the
/// stack's region plan.
#[test]
fn queues_named_in_another_region_or_account_are_refused_at_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    let spec_with = |dead_letter: &str, source: &str, target: &str, region: &str| {
        format!(
            r#"[stack]
name = "places"

[queue.work]
name = "work"
visibility_timeout = 60
redrive = {{ queue = "{dead_letter}", max_receive_count = 3 }}

[role.fn]
name = "fn"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}
policies.queues = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = "*" }}] }}

[function.worker]
name = "worker"
role = "${{role.fn.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ s3_bucket = "code", s3_key = "worker.zip" }}

[[function.worker.trigger]]
queue = "{source}"

[function.packaged]
name = "packaged"
role = "${{role.fn.arn}}"
code = {{ image = "111122223333.dkr.ecr.{region}.amazonaws.com/worker:1" }}

[bucket.data]
name = "places-data"

[[bucket.data.notification]]
queue = "{target}"
events = ["s3:ObjectCreated:*"]
"#
        )
    };
    let planned = |dead_letter: &str, source: &str, target: &str, region: &str| {
        std::fs::write(&path, spec_with(dead_letter, source, target, region)).unwrap();
        let spec = spec::load(&path, &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        plan(&spec, &empty_account(), PlanOptions::default())
    };
    let here = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:{name}");
    let refused = planned(
        "arn:aws:sqs:us-east-1:111122223333:dlq",
        "arn:aws:sqs:eu-west-1:123456789012:jobs",
        "arn:aws:sqs:eu-west-1:123456789012:events",
        "eu-west-1",
    )
    .unwrap_err()
    .render(false);
    for expected in [
        "the dead-letter queue is in account 111122223333",
        "the trigger's queue is in region eu-west-1",
        "the notification's target is in region eu-west-1",
        "the image is in Amazon ECR in eu-west-1",
    ] {
        assert!(refused.contains(expected), "{expected}: {refused}");
    }
    // The same queues in the stack's region and account: nothing of the kind is said.
    let text = match planned(&here("dlq"), &here("jobs"), &here("events"), "us-east-1") {
        Ok(_) => String::new(),
        Err(d) => d.render(false),
    };
    assert!(
        !text.contains("is in region")
            && !text.contains("is in account")
            && !text.contains("in Amazon ECR in"),
        "{text}"
    );
}

/// S3 turns Block Public Access on for every new bucket and then refuses a public bucket
/// policy (moto accepts it): a bucket the plan creates with one is refused unless the spec
/// turns block_public_policy off; a statement narrowed to the organization is not public.
#[test]
fn a_public_policy_on_a_new_bucket_needs_block_public_access_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    // A diagnostic as one line of words, however it wraps.
    let flat = |text: String| {
        let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "│").collect();
        words.join(" ")
    };
    let planned_doing = |action: &str, block: &str, condition: &str| -> Result<(), String> {
        std::fs::write(
            &path,
            format!(
                r#"[stack]
name = "site"

[bucket.site]
name = "site-public-data"
{block}
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "{action}", "Resource": "arn:aws:s3:::site-public-data/*"{condition}}}]}}'''

[[bucket.site.silence]]
lint = "P002"
policy = "policy"
reason = "a public site"
"#
            ),
        )
        .unwrap();
        let spec = spec::load(&path, &LoadOptions::default()).map_err(|d| flat(d.render(false)))?;
        plan(&spec, &empty_account(), PlanOptions::default())
            .map(|_| ())
            .map_err(|d| flat(d.render(false)))
    };
    let planned = |block: &str, condition: &str| planned_doing("s3:GetObject", block, condition);
    let refused = planned("", "").unwrap_err();
    assert!(
        refused.contains("S3 refuses a public policy while the bucket's block_public_policy is on, which S3 turns on for every new bucket"),
        "{refused}"
    );
    assert!(refused.contains("block_public_policy = false"), "{refused}");
    // Turned on in the spec: refused at validate already.
    let explicit = planned("public_access_block = { block_public_policy = true }", "").unwrap_err();
    assert!(explicit.contains("which the spec turns on"), "{explicit}");
    planned("public_access_block = { block_public_policy = false }", "").unwrap();
    let org = r#", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}"#;
    planned("", org).unwrap();
    // S3's list of fixed values that keep a policy from being public.
    let key_id = r#", "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}"#;
    planned_doing("s3:PutObject", "", key_id).unwrap();
    planned(
        "",
        r#", "Condition": {"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}}"#,
    )
    .unwrap();
    // A wildcard, or an operator that holds for a request without the key (an anonymous
    // one), fixes nothing.
    for open in [
        r#"{"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}"#,
        r#"{"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}"#,
        r#"{"StringLike": {"aws:PrincipalOrgID": "o-*"}}"#,
        r#"{"StringLike": {"aws:userid": "AIDA*"}}"#,
    ] {
        assert!(
            planned("", &format!(r#", "Condition": {open}"#)).is_err(),
            "{open}"
        );
    }
}

/// A key without an alias deleted beside one created: the block may have been renamed, which
/// replaces the key. The plan warns; a key with an alias on either side is no such case.
#[test]
fn a_key_without_an_alias_deleted_beside_one_created_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let planned = |new_key: &str, old_aliases: serde_json::Value| {
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, format!("[stack]\nname = \"fixture\"\n\n{new_key}\n")).unwrap();
        let spec = spec::load(&path, &LoadOptions::default()).unwrap();
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let old = serde_json::json!({
            "kind": "key", "physical_id": id, "owner": "fixture", "address_tag": "key.old",
            "attributes": { "key_id": { "str": id }, "aliases": old_aliases },
            "exports": { "arn": format!("arn:aws:kms:us-east-1:123456789012:key/{id}"), "key_id": id },
        });
        let plan = plan(
            &spec,
            &snapshot(serde_json::json!({}), vec![old]),
            PlanOptions::default(),
        )
        .unwrap();
        (plan.warnings.iter())
            .filter(|w| w.code == crate::diag::WarningCode::KeyRecreated)
            .map(|w| w.text.clone())
            .collect::<Vec<_>>()
    };
    let warned = planned(
        "[key.new]\nrotation = true",
        serde_json::json!({ "set": [] }),
    );
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("key.old will be scheduled for deletion and key.new created"),
        "{warned:?}"
    );
    assert!(planned(
        "[key.new]\naliases = [\"alias/fx-new\"]",
        serde_json::json!({ "set": [] })
    )
    .is_empty());
    assert!(planned(
        "[key.new]\nrotation = true",
        serde_json::json!({ "set": ["alias/fx-old"] })
    )
    .is_empty());
}
