//! Names that become file and directory names in the output: safe on every system the output is
//! checked out on (Linux, macOS, Windows).
//!
//! The output is reviewed in pull requests and checked out everywhere, so a name the schema
//! admits must also be a path segment that means itself: not `.` or `..`, no separator or control
//! character, no name Windows reserves or silently changes, and no two directories in one place
//! whose names differ only in case (macOS and Windows would merge them). The schema's patterns
//! rule out most of this already; what they admit (IAM role names with dots, EKS cluster names in
//! upper case, DNS labels such as `aux`) is checked here, with a located error.

use std::collections::BTreeMap;

use crate::config::RawSpec;
use crate::diag::{Code, Diagnostic};
use crate::validate::semantic::{Checker, Pointer};

/// Names Windows reserves for devices, whatever the extension (`nul.txt` too).
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Why `name` is not a safe path segment, if it is not.
#[must_use]
pub fn unsafe_segment(name: &str) -> Option<&'static str> {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        Some("is empty")
    } else if name == "." {
        Some("is `.`, which as a path means the directory that holds it")
    } else if name == ".." {
        Some("is `..`, which as a path means the parent directory")
    } else if name.contains(['/', '\\']) {
        Some("holds a path separator")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else if name.contains(['<', '>', ':', '"', '|', '?', '*']) {
        Some("holds a character Windows does not allow in file names (`<>:\"|?*`)")
    } else if WINDOWS_RESERVED.contains(&stem.as_str()) {
        Some("is a device name Windows reserves (CON, PRN, AUX, NUL, COM1–9, LPT1–9)")
    } else if name.ends_with(['.', ' ']) {
        Some("ends with a dot or a space, which Windows drops")
    } else {
        None
    }
}

/// Checks every name of `raw` that becomes a path segment of the output.
pub(super) fn check(c: &mut Checker<'_>, raw: &RawSpec) {
    let mut segments: Vec<(Pointer, &str, &str)> = Vec::new();
    for (i, role) in raw.aws.roles.iter().enumerate() {
        let at = Pointer::item("aws/roles", i);
        if let Some(name) = &role.name {
            segments.push((at.field("name"), name, "role name"));
        } else if let Some(arn) = &role.arn {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            segments.push((at.field("arn"), name, "role name"));
        }
    }
    let clusters: Vec<(Pointer, &str)> = raw
        .gcp
        .gke_clusters
        .iter()
        .enumerate()
        .map(|(i, k)| (Pointer::item("gcp/gkeClusters", i).field("name"), &*k.name))
        .chain(
            raw.aws
                .eks_clusters
                .iter()
                .enumerate()
                .map(|(i, k)| (Pointer::item("aws/eksClusters", i).field("name"), &*k.name)),
        )
        .collect();
    segments.extend(
        clusters
            .iter()
            .map(|(at, name)| (at.clone(), *name, "cluster name")),
    );
    for (i, pool) in raw.gcp.workload_identity_pools.iter().enumerate() {
        let at = Pointer::item("gcp/workloadIdentityPools", i).field("id");
        segments.push((at, &pool.id, "pool id"));
    }
    for (i, f) in raw.federations.iter().enumerate() {
        let at = Pointer::item("federations", i);
        segments.push((at.field("name"), &f.name, "federation name"));
        if let Some(namespace) = &f.from.namespace {
            segments.push((at.field("from/namespace"), namespace, "namespace"));
        }
    }
    for (at, name, what) in segments {
        if let Some(why) = unsafe_segment(name) {
            c.push(
                Diagnostic::error(
                    Code::InvalidFormat,
                    at,
                    format!("the {what} `{name}` {why}; it names a directory of the output"),
                )
                .help(format!("rename it: every {what} becomes a file or directory name in the output, which must mean the same on Linux, macOS and Windows")),
            );
        }
    }
    // Clusters are directories side by side (`kubernetes/<cluster>/`).
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (at, name) in clusters {
        match seen.get(&name.to_lowercase()) {
            Some(first) if *first != name => c.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    at,
                    format!("the cluster names `{first}` and `{name}` differ only in case"),
                )
                .help("rename one: each cluster is a directory of the output, and macOS and Windows would merge the two"),
            ),
            Some(_) => {}
            None => {
                seen.insert(name.to_lowercase(), name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_that_mean_something_else_are_refused() {
        for name in [
            "", ".", "..", "a/b", "a\\b", "a\u{7}", "a:b", "CON", "nul.txt", "Com1", "lpt9", "x.",
            "x ",
        ] {
            assert!(unsafe_segment(name).is_some(), "{name:?}");
        }
        for name in [
            "data",
            "data.reader",
            "console",
            "com10",
            "nullable",
            "a-b_c",
        ] {
            assert_eq!(unsafe_segment(name), None, "{name:?}");
        }
    }
}
