//! Organisation scale: one EKS cluster with 200 federated service accounts and one AWS account
//! with 150 EC2 roles, into one pool, with no hand-written provider ids. The derived providers
//! are split into shards whose attribute conditions fit GCP's limit, and every federation's
//! audience names its own shard.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crossfed::model::{Method, ProviderKind};
use crossfed::plan::Plan;
use crossfed::plan::gcp::MAX_CONDITION_CHARS;

/// The organisation spec: `clusters` service accounts of one EKS cluster and `roles` EC2 roles
/// of one account, each federated into one pool with direct access.
fn org_spec(service_accounts: usize, roles: usize) -> String {
    let mut out = String::from(
        "version: 1\n\
         gcp:\n  projects: [{id: acme-data, number: \"731942065810\"}]\n  workloadIdentityPools: [{id: org-pool, project: acme-data}]\n\
         aws:\n  accounts: [{id: \"281031839323\", region: us-east-1}]\n  eksClusters:\n    - {name: data, account: \"281031839323\", region: us-east-1, oidcIssuer: \"https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE\"}\n",
    );
    out.push_str(if roles == 0 {
        "  roles: []\n"
    } else {
        "  roles:\n"
    });
    for i in 0..roles {
        let _ = writeln!(
            out,
            "    - {{arn: \"arn:aws:iam::281031839323:role/batch-worker-{i:03}\"}}"
        );
    }
    out.push_str("federations:\n");
    for i in 0..service_accounts {
        let _ = writeln!(
            out,
            "  - {{name: eks-{i:03}, from: {{eks: data, namespace: team-{:02}, serviceAccount: app-{i:03}}}, to: {{gcpRoles: [roles/storage.objectViewer]}}}}",
            i % 20
        );
    }
    for i in 0..roles {
        let _ = writeln!(
            out,
            "  - {{name: ec2-{i:03}, from: {{ec2: \"arn:aws:iam::281031839323:role/batch-worker-{i:03}\"}}, to: {{gcpRoles: [roles/storage.objectViewer]}}}}"
        );
    }
    out
}

fn plan_of(source: &str) -> Plan {
    crossfed::validate::validate("org.yaml", source).unwrap_or_else(|r| panic!("{}", r.to_text()))
}

/// Each provider's attribute condition, by id.
fn conditions(plan: &Plan) -> BTreeMap<String, String> {
    plan.gcp.pools["org-pool"]
        .providers
        .values()
        .map(|p| (p.id.clone(), p.attribute_condition()))
        .collect()
}

#[test]
fn derived_providers_are_sharded_within_the_condition_limit() {
    let plan = plan_of(&org_spec(200, 150));
    let conditions = conditions(&plan);
    let eks = conditions
        .keys()
        .filter(|id| id.starts_with("eks-data-"))
        .count();
    let aws = conditions
        .keys()
        .filter(|id| id.starts_with("aws-281031839323-"))
        .count();
    assert!(eks >= 4 && aws >= 4, "{:?}", conditions.keys());
    assert_eq!(conditions.len(), eks + aws);
    for (id, condition) in &conditions {
        assert!(
            condition.len() <= MAX_CONDITION_CHARS,
            "{id}: {} characters",
            condition.len()
        );
        assert!(id.len() <= 32, "{id}");
    }
    // Every federation is admitted by exactly the provider its method names, and an OIDC
    // federation's projected-token audience is that provider's URL.
    let pool = &plan.spec.pools["org-pool"];
    for f in &plan.spec.federations {
        let Method::WorkloadIdentityPool {
            provider,
            provider_kind,
            ..
        } = &f.method
        else {
            panic!("{}", f.name);
        };
        let number = &f.name[4..];
        let needle = if f.name.starts_with("eks-") {
            format!("'system:serviceaccount:{}:app-{number}'", team_of(&f.name))
        } else {
            format!("/batch-worker-{number}/'")
        };
        let admitted: Vec<&String> = conditions
            .iter()
            .filter(|(_, c)| c.contains(&needle))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(admitted, [provider], "{}", f.name);
        if let ProviderKind::Oidc { audience, .. } = provider_kind {
            assert_eq!(*audience, pool.provider_url(provider), "{}", f.name);
        }
    }
    // Explained where a reviewer looks.
    let explained = crossfed::render::summary::explain(&plan, "eks-007").unwrap();
    assert!(explained.contains("shard"), "{explained}");
}

fn team_of(name: &str) -> String {
    let i: usize = name[4..].parse().unwrap_or_default();
    format!("team-{:02}", i % 20)
}

#[test]
fn adding_a_federation_changes_one_provider() {
    let before = conditions(&plan_of(&org_spec(200, 150)));
    let after = conditions(&plan_of(&org_spec(201, 150)));
    assert_eq!(
        before.keys().collect::<BTreeSet<_>>(),
        after.keys().collect::<BTreeSet<_>>()
    );
    let changed: Vec<&String> = before
        .iter()
        .filter(|(id, c)| after[*id] != **c)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
}

#[test]
fn small_providers_and_declared_ids_are_never_split() {
    let plan = plan_of(&org_spec(20, 10));
    assert_eq!(
        conditions(&plan).keys().collect::<Vec<_>>(),
        ["aws-281031839323", "eks-data"]
    );
    assert!(plan.spec.provider_shards.is_empty());
    // A declared provider id is the user's: too long a condition stays an error.
    let declared = org_spec(200, 0).replace(
        "to: {gcpRoles: [roles/storage.objectViewer]}}",
        "to: {gcpRoles: [roles/storage.objectViewer]}, via: {provider: eks-all}}",
    );
    let report = crossfed::validate::validate("org.yaml", &declared).unwrap_err();
    assert!(
        report
            .to_text()
            .contains("attribute condition of provider `eks-all`"),
        "{}",
        report.to_text()
    );
}

#[test]
fn a_large_tree_gets_an_index_and_a_page_per_account_project_and_cluster() {
    let source = org_spec(200, 150);
    let files = crossfed::pipeline::render_files(crossfed::pipeline::SpecText {
        file: "org.yaml",
        name: "org.yaml",
        source: &source,
    })
    .unwrap();
    let pages: Vec<&String> = files.keys().filter(|p| p.ends_with("/README.md")).collect();
    assert_eq!(
        pages,
        // Every federation goes into GCP: no AWS account page.
        ["gcp/acme-data/README.md", "kubernetes/data/README.md"]
    );
    let index = &files["README.md"].content;
    assert!(index.contains("350 federations"), "{index}");
    for page in &pages {
        assert!(index.contains(&format!("]({page})")), "{page}");
        let text = &files[*page].content;
        assert!(text.starts_with("<!-- Generated by crossfed"));
        assert!(text.contains("](../../README.md)"));
        assert!(text.len() < 500_000);
    }
    // Every file that serves a federation is linked from exactly one page, relative to it.
    let mut linked: BTreeMap<String, usize> = BTreeMap::new();
    for page in &pages {
        let targets: BTreeSet<&str> = files[*page]
            .content
            .split("](../../")
            .skip(1)
            .map(|link| &link[..link.find(')').unwrap()])
            .collect();
        for target in targets {
            *linked.entry(target.to_owned()).or_default() += 1;
        }
    }
    linked.remove("README.md");
    for (path, file) in &files {
        if !file.federations.is_empty() {
            assert_eq!(linked.get(path), Some(&1), "{path}");
        }
    }
    assert!(
        linked.keys().all(|p| files.contains_key(p)),
        "a link to nowhere"
    );
    // Every federation is on its cluster's page or its target's page.
    for i in 0..200 {
        assert!(
            files["kubernetes/data/README.md"]
                .content
                .contains(&format!("| `eks-{i:03}` |"))
        );
        assert!(
            files["gcp/acme-data/README.md"]
                .content
                .contains(&format!("| `eks-{i:03}` |"))
        );
    }
}
