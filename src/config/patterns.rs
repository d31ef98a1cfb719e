//! The string formats of the spec, as regular expressions plus the sentence users read when a
//! value does not match.
//!
//! Each pattern lands in the JSON Schema (so editors underline a bad value) and in the schema
//! check (so `validate` says the same thing). The explanation is looked up by pattern text when a
//! schema error is turned into a diagnostic; keep the two in one table so they cannot drift.

/// A 12-digit AWS account id.
pub const AWS_ACCOUNT_ID: &str = r"^[0-9]{12}$";
/// An IAM role ARN in one of the supported partitions.
pub const AWS_ROLE_ARN: &str =
    r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\x21-\x7E]*/)?[A-Za-z0-9_+=,.@-]{1,64}$";
/// An IAM role name.
pub const AWS_ROLE_NAME: &str = r"^[A-Za-z0-9_+=,.@-]{1,64}$";
/// A role reference: an IAM role ARN or a role name.
pub const AWS_ROLE_REF: &str =
    r"^(arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\x21-\x7E]*/)?)?[A-Za-z0-9_+=,.@-]{1,64}$";
/// An IAM path (`/` or `/a/b/`).
pub const AWS_IAM_PATH: &str = r"^/([\x21-\x2E\x30-\x7E]+/)*$";
/// A managed policy ARN (customer or AWS managed).
pub const AWS_POLICY_ARN: &str = r"^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/([\x21-\x7E]*/)?[A-Za-z0-9_+=,.@-]{1,128}$";
/// An AWS region name.
pub const AWS_REGION: &str = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$";
/// An EKS cluster name.
pub const EKS_CLUSTER_NAME: &str = r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$";
/// An EKS OIDC issuer URL.
pub const EKS_OIDC_ISSUER: &str = r"^https://oidc\.eks\.[a-z]{2}(-gov)?-[a-z]+-[0-9]\.amazonaws\.com(\.cn)?/id/[0-9A-Za-z]{1,64}$";
/// An STS role session name.
pub const AWS_SESSION_NAME: &str = r"^[A-Za-z0-9_+=,.@-]{2,64}$";
/// A GCP project id.
pub const GCP_PROJECT_ID: &str = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$";
/// A GCP project number.
pub const GCP_PROJECT_NUMBER: &str = r"^[1-9][0-9]{0,18}$";
/// A Google service-account email.
pub const GCP_SA_EMAIL: &str = r"^[a-z0-9][a-z0-9-]*@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$";
/// A Google service account's numeric unique id.
pub const GCP_SA_UNIQUE_ID: &str = r"^[0-9]{21}$";
/// A GKE cluster name.
pub const GKE_CLUSTER_NAME: &str = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$";
/// A GCP location (region or zone).
pub const GCP_LOCATION: &str = r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$";
/// A workload-identity pool or provider id.
pub const WIF_ID: &str = r"^[a-z0-9-]{4,32}$";
/// A predefined or custom IAM role name.
pub const GCP_ROLE: &str = r"^(roles/[a-zA-Z0-9_.]+|projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[a-zA-Z0-9_.]+|organizations/[0-9]+/roles/[a-zA-Z0-9_.]+)$";
/// A DNS-1123 label (Kubernetes namespace, federation name).
pub const DNS1123_LABEL: &str = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
/// A DNS-1123 subdomain (Kubernetes `ServiceAccount` name).
pub const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A container image reference pinned by digest or tag.
pub const CONTAINER_IMAGE: &str =
    r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$";
/// An IAM action (`service:Action`, wildcards allowed) or `*`.
pub const AWS_ACTION: &str = r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$";
/// An AWS resource ARN (wildcards allowed) or `*`.
pub const AWS_RESOURCE: &str =
    r"^(\*|arn:aws(-cn|-us-gov)?:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:[\x21-\x7E]+)$";
/// An inline policy name.
pub const AWS_POLICY_NAME: &str = r"^[A-Za-z0-9_+=,.@-]{1,128}$";
/// A Cloud Storage bucket name.
pub const GCS_BUCKET: &str = r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$";
/// A Pub/Sub topic, by full name.
pub const PUBSUB_TOPIC: &str =
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$";
/// A token audience: printable ASCII without spaces.
pub const AUDIENCE: &str = r"^[\x21-\x2B\x2D-\x7E]{1,256}$";
/// The reason a federation accepts a security rule: one line of prose, shown in the rendered
/// README. The alphabet leaves out what Markdown or HTML would interpret (`|`, `` ` ``, `*`, `_`,
/// `[`, `]`, `<`, `>`, `&`, `\`, `~`, line breaks), so the text needs no escaping there; it
/// starts with a letter or digit, so it cannot be blank or start a list or heading.
pub const ACCEPT_REASON: &str = r#"^[A-Za-z0-9][A-Za-z0-9 .,;:'"()/+=@%?!#-]{0,299}$"#;

/// What each pattern means, in the words a user needs to fix the value.
pub const EXPLANATIONS: &[(&str, &str, &str)] = &[
    (
        AWS_ACTION,
        "IAM action",
        "write an action as `service:Action` (e.g. `s3:GetObject`); `*` may stand for part of the action",
    ),
    (
        AWS_RESOURCE,
        "AWS resource ARN",
        "write a resource as its ARN (e.g. `arn:aws:s3:::my-bucket/*`)",
    ),
    (
        AWS_POLICY_NAME,
        "inline policy name",
        "a policy name is 1-128 characters of letters, digits and `+=,.@_-`",
    ),
    (
        GCS_BUCKET,
        "Cloud Storage bucket name",
        "a bucket name is 3-222 lowercase letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (without `gs://`)",
    ),
    (
        PUBSUB_TOPIC,
        "Pub/Sub topic",
        "write the topic's full name, `projects/PROJECT/topics/TOPIC`",
    ),
    (
        AWS_ACCOUNT_ID,
        "AWS account id",
        "an AWS account id is exactly 12 digits; quote it so YAML keeps leading zeros, e.g. \"012345678901\"",
    ),
    (
        AWS_ROLE_ARN,
        "IAM role ARN",
        "write the role as `arn:aws:iam::<12-digit account>:role/<name>` (partition `aws`, `aws-cn` or `aws-us-gov`)",
    ),
    (
        AWS_ROLE_NAME,
        "IAM role name",
        "an IAM role name is 1-64 characters of letters, digits and `+=,.@_-`",
    ),
    (
        AWS_ROLE_REF,
        "IAM role reference",
        "name a role from `aws.roles` by its ARN (`arn:aws:iam::<account>:role/<name>`) or by its name",
    ),
    (
        AWS_IAM_PATH,
        "IAM path",
        "an IAM path starts and ends with `/`, e.g. `/` or `/federated/`",
    ),
    (
        AWS_POLICY_ARN,
        "managed policy ARN",
        "write a managed policy as `arn:aws:iam::aws:policy/<name>` or `arn:aws:iam::<account>:policy/<name>`",
    ),
    (
        AWS_REGION,
        "AWS region",
        "use an AWS region name such as `us-east-1` or `eu-west-2`",
    ),
    (
        EKS_CLUSTER_NAME,
        "EKS cluster name",
        "an EKS cluster name starts with a letter or digit and has up to 100 letters, digits, `-` and `_`",
    ),
    (
        EKS_OIDC_ISSUER,
        "EKS OIDC issuer URL",
        "copy the issuer from `aws eks describe-cluster --query cluster.identity.oidc.issuer`; it looks like `https://oidc.eks.<region>.amazonaws.com/id/<ID>`",
    ),
    (
        AWS_SESSION_NAME,
        "role session name",
        "a role session name is 2-64 characters of letters, digits and `+=,.@_-`",
    ),
    (
        GCP_PROJECT_ID,
        "GCP project id",
        "a project id is 6-30 characters: lowercase letters, digits and `-`, starting with a letter and not ending with `-`",
    ),
    (
        GCP_PROJECT_NUMBER,
        "GCP project number",
        "the project number is all digits (see `gcloud projects describe <id> --format='value(projectNumber)'`); quote it",
    ),
    (
        GCP_SA_EMAIL,
        "service-account email",
        "write the service account as its email, e.g. `name@project.iam.gserviceaccount.com`",
    ),
    (
        GCP_SA_UNIQUE_ID,
        "service-account unique id",
        "the unique id is 21 digits (see `gcloud iam service-accounts describe <email> --format='value(uniqueId)'`); quote it",
    ),
    (
        GKE_CLUSTER_NAME,
        "GKE cluster name",
        "a GKE cluster name is 1-40 lowercase letters, digits and `-`, starting with a letter",
    ),
    (
        GCP_LOCATION,
        "GCP location",
        "use a region such as `us-central1` or a zone such as `us-central1-a`",
    ),
    (
        WIF_ID,
        "workload-identity pool or provider id",
        "pool and provider ids are 4-32 characters of lowercase letters, digits and `-`",
    ),
    (
        GCP_ROLE,
        "IAM role",
        "name a role as `roles/<name>`, `projects/<project>/roles/<name>` or `organizations/<id>/roles/<name>`",
    ),
    (
        DNS1123_LABEL,
        "DNS-1123 label",
        "use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
    ),
    (
        DNS1123_SUBDOMAIN,
        "DNS-1123 subdomain",
        "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
    ),
    (
        CONTAINER_IMAGE,
        "container image",
        "pin the image with a tag or, better, a digest: `registry/name:tag` or `registry/name@sha256:<64 hex>`",
    ),
    (
        AUDIENCE,
        "audience",
        "an audience is 1-256 printable ASCII characters without spaces or commas (gcloud separates audiences with commas)",
    ),
    (
        ACCEPT_REASON,
        "reason",
        "write the reason as one line of up to 300 characters, starting with a letter or digit, of letters, digits, spaces and `.,;:'\"()/+=@%?!#-` (it is shown in the rendered README)",
    ),
];

/// The name and fix for a pattern, if it is one of ours.
#[must_use]
pub fn explain(pattern: &str) -> Option<(&'static str, &'static str)> {
    EXPLANATIONS
        .iter()
        .find(|(p, _, _)| *p == pattern)
        .map(|(_, name, help)| (*name, *help))
}

/// For a value that fails `pattern` only by its length, what the limit is: the help a user needs
/// more than the format (a 65-character role name is well formed but for one character).
#[must_use]
pub fn length_help(pattern: &str, value: &str) -> Option<String> {
    let (part, what, min, max) = match pattern {
        AWS_ROLE_ARN | AWS_ROLE_REF | AWS_ROLE_NAME => (
            value.rsplit('/').next().unwrap_or(value),
            "an IAM role name",
            1,
            64,
        ),
        GKE_CLUSTER_NAME => (value, "a GKE cluster name", 1, 40),
        DNS1123_LABEL => (
            value,
            "a Kubernetes name of this kind (a DNS-1123 label)",
            1,
            63,
        ),
        DNS1123_SUBDOMAIN => (value, "a Kubernetes name (a DNS-1123 subdomain)", 1, 253),
        WIF_ID => (value, "a workload identity pool or provider id", 4, 32),
        GCP_PROJECT_ID => (value, "a GCP project id", 6, 30),
        _ => return None,
    };
    let length = part.chars().count();
    if (min..=max).contains(&length) {
        return None;
    }
    let shown = if part == value {
        String::new()
    } else {
        format!(" (`{part}`)")
    };
    let fix = if length > max { "shorten" } else { "lengthen" };
    Some(format!(
        "it is {length} characters{shown}, and {what} is {min} to {max}; {fix} it, keeping the cloud's other naming rules"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_wrong_only_by_its_length_is_told_the_limit() {
        let long_role = format!("arn:aws:iam::281031839323:role/{}", "r".repeat(65));
        let help = length_help(AWS_ROLE_ARN, &long_role).unwrap();
        assert!(help.starts_with("it is 65 characters (`rrr"), "{help}");
        assert!(help.contains("an IAM role name is 1 to 64"), "{help}");
        assert_eq!(
            length_help(GKE_CLUSTER_NAME, &"a".repeat(41)).unwrap(),
            "it is 41 characters, and a GKE cluster name is 1 to 40; shorten it, keeping the cloud's other naming rules"
        );
        assert!(
            length_help(WIF_ID, "aws")
                .unwrap()
                .ends_with("is 4 to 32; lengthen it, keeping the cloud's other naming rules")
        );
        // Within the limits the format is what is wrong: no length help.
        assert_eq!(length_help(AWS_ROLE_NAME, "Bad Name"), None);
        assert_eq!(length_help(AWS_REGION, "us-east1"), None);
    }
}
