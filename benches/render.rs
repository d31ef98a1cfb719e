//! `cargo bench`: how long validate → render take on large specs (what `check` does before diffing).
//!
//! Target: a spec of 200 federations validates and renders in under 200 ms, so `crossfed check`
//! is fast enough for a pre-commit hook. Prints the median of several runs and fails (exit 1)
//! when the target is missed.

// A benchmark reports on the terminal; clippy.toml bans printing in library code only.
#![allow(clippy::disallowed_macros)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crossfed::pipeline::{SpecText, render_files};

/// A spec with `n` federations spread over every method.
fn spec(n: usize) -> String {
    let mut s = String::from(
        "version: 1\ngcp:\n  projects: [{id: acme-prod, number: \"123456789012\"}]\n  serviceAccounts:\n",
    );
    for i in 0..n {
        let _ = writeln!(
            s,
            "    - {{email: sa-{i:04}@acme-prod.iam.gserviceaccount.com, uniqueId: \"1{i:020}\"}}"
        );
    }
    s.push_str("  gkeClusters: [{name: prod, project: acme-prod, location: us-central1}]\n");
    s.push_str("  workloadIdentityPools: [{id: aws-pool, project: acme-prod}]\n");
    s.push_str("aws:\n  accounts: [{id: \"281031839323\"}]\n  roles:\n");
    for i in 0..n {
        let _ = writeln!(
            s,
            "    - {{arn: \"arn:aws:iam::281031839323:role/role-{i:04}\"}}"
        );
    }
    s.push_str("  eksClusters:\n    - {name: data, account: \"281031839323\", region: us-east-1, oidcIssuer: \"https://oidc.eks.us-east-1.amazonaws.com/id/AAAA0000AAAA0000AAAA0000AAAA0000\"}\n");
    s.push_str("federations:\n");
    for i in 0..n {
        let body = match i % 3 {
            0 => format!(
                "from: {{gke: prod, namespace: ns-{i:04}, serviceAccount: app}}\n    to: {{awsRole: role-{i:04}}}\n    via: {{googleServiceAccount: sa-{i:04}@acme-prod.iam.gserviceaccount.com}}"
            ),
            1 => format!(
                "from: {{gke: prod, namespace: ns-{i:04}, serviceAccount: app}}\n    to: {{awsRole: role-{i:04}}}\n    via: {{awsOidcProvider: {{}}}}"
            ),
            _ => format!(
                "from: {{eks: data, namespace: ns-{i:04}, serviceAccount: app}}\n    to: {{gcpServiceAccount: sa-{i:04}@acme-prod.iam.gserviceaccount.com}}"
            ),
        };
        let _ = writeln!(s, "  - name: f-{i:04}\n    {body}");
    }
    s
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let target = Duration::from_millis(200);
    let mut missed = false;
    for n in [10, 50, 200] {
        let text = spec(n);
        let mut samples = Vec::new();
        let mut files = 0;
        for _ in 0..7 {
            let start = Instant::now();
            let plan = render_files(SpecText {
                file: "bench.yaml",
                name: "bench.yaml",
                source: &text,
            })
            .unwrap_or_else(|e| panic!("{e:?}"));
            files = plan.len();
            samples.push(start.elapsed());
        }
        let took = median(samples);
        println!("validate+render {n:>4} federations ({files:>4} files): {took:?}");
        if n == 200 && took > target {
            missed = true;
        }
    }
    if missed {
        eprintln!("missed the target: 200 federations in under {target:?}");
        std::process::exit(1);
    }
}
