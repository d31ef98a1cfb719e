//! Automatic provider sharding. A workload-identity provider admits its subjects (OIDC) or roles
//! (AWS) through one attribute condition, which GCP limits to 4,096 characters: about 40
//! Kubernetes service accounts or 30 EC2 roles. When the provider id is derived (no
//! `via.provider`) and its condition would be longer, its subjects are spread over `K` providers of
//! the same pool, `<id>-0` … `<id>-(K-1)`, each subject by its SHA-256, so adding one subject
//! changes one provider's condition and leaves the others alone. `K` is the smallest power of two
//! for which every shard fits. Each federation's credential config and projected-token audience
//! then name its own shard. An explicit `via.provider` is never split: too long a condition there
//! stays an error that says so.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::RawFederation;
use crate::model::{AwsRole, Federation, Method, Pool, ProviderKind, Shard, Source};
use crate::plan::gcp::{MAX_CONDITION_CHARS, ProviderPlan, ProviderSource};

/// The most shards one derived provider is split into (a pool holds at most 200 providers).
const MAX_SHARDS: usize = 64;

/// What a provider admits for `f`: its `sub` claim (OIDC) or its `assumed-role` prefix (AWS).
fn admitted(f: &Federation, roles: &BTreeMap<String, AwsRole>) -> Option<String> {
    match &f.source {
        Source::Kubernetes { subject, .. } => Some(subject.clone()),
        Source::Ec2 { role, .. } => Some(crate::plan::gcp::assumed_role_of(roles.get(role)?)),
        Source::Gce { .. } => None,
    }
}

/// The attribute condition's length for `keys`, as the plan will write it.
fn condition_len(oidc: bool, keys: BTreeSet<String>) -> usize {
    let source = if oidc {
        ProviderSource::Oidc {
            issuer: String::new(),
            audiences: BTreeSet::new(),
            subjects: keys,
        }
    } else {
        ProviderSource::Aws {
            account: String::new(),
            roles: keys,
        }
    };
    ProviderPlan {
        id: String::new(),
        source,
        federations: BTreeSet::new(),
        first_index: 0,
    }
    .attribute_condition()
    .len()
}

/// The shard of `key` among `count` (a power of two).
fn shard_of(key: &str, count: usize) -> usize {
    let digest = crate::output::sha256(key.as_bytes());
    let value = u64::from_str_radix(&digest[..16], 16).unwrap_or_default();
    usize::try_from(value % count as u64).unwrap_or_default()
}

/// The fewest shards (a power of two, at most [`MAX_SHARDS`]) whose conditions all fit, or
/// `None` when one fits already.
fn shard_count(oidc: bool, keys: &BTreeSet<String>) -> Option<usize> {
    if condition_len(oidc, keys.clone()) <= MAX_CONDITION_CHARS {
        return None;
    }
    let mut count = 2;
    while count < MAX_SHARDS {
        let mut shards = vec![BTreeSet::new(); count];
        for key in keys {
            shards[shard_of(key, count)].insert(key.clone());
        }
        if shards
            .into_iter()
            .all(|keys| condition_len(oidc, keys) <= MAX_CONDITION_CHARS)
        {
            break;
        }
        count *= 2;
    }
    Some(count)
}

/// Splits every derived provider whose condition would be too long; returns the shards made,
/// by `pool/provider`. `raw` is the spec's federations, to tell derived ids and audiences from
/// declared ones.
pub(super) fn split(
    federations: &mut [Federation],
    raw: &[RawFederation],
    pools: &BTreeMap<String, Pool>,
    roles: &BTreeMap<String, AwsRole>,
) -> BTreeMap<String, Shard> {
    // What the spec itself wrote in `via` for `f`.
    let via_of = |f: &Federation| raw.get(f.index).and_then(|r| r.via.as_ref());
    // Derived providers: (pool, provider) -> their federations, each with what it admits.
    let mut groups: BTreeMap<(String, String), Vec<(usize, String)>> = BTreeMap::new();
    for (position, f) in federations.iter().enumerate() {
        let declared = via_of(f).is_some_and(|via| via.provider.is_some());
        if let Method::WorkloadIdentityPool { pool, provider, .. } = &f.method
            && !declared
            && let Some(key) = admitted(f, roles)
        {
            groups
                .entry((pool.clone(), provider.clone()))
                .or_default()
                .push((position, key));
        }
    }
    let mut made = BTreeMap::new();
    for ((pool_id, base), members) in groups {
        let oidc = members.iter().any(|&(i, _)| {
            matches!(
                federations[i].method,
                Method::WorkloadIdentityPool {
                    provider_kind: ProviderKind::Oidc { .. },
                    ..
                }
            )
        });
        let keys: BTreeSet<String> = members.iter().map(|(_, key)| key.clone()).collect();
        let Some(count) = shard_count(oidc, &keys) else {
            continue;
        };
        let Some(pool) = pools.get(&pool_id) else {
            continue;
        };
        for (i, key) in members {
            let index = shard_of(&key, count);
            let id = Shard::id(&base, index);
            let audience_declared =
                via_of(&federations[i]).is_some_and(|via| via.audience.is_some());
            if let Method::WorkloadIdentityPool {
                provider,
                provider_kind,
                ..
            } = &mut federations[i].method
            {
                provider.clone_from(&id);
                if let ProviderKind::Oidc { audience, .. } = provider_kind
                    && !audience_declared
                {
                    *audience = pool.provider_url(&id);
                }
            }
            made.insert(
                format!("{pool_id}/{id}"),
                Shard {
                    base: base.clone(),
                    index,
                    count,
                },
            );
        }
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(n: usize) -> BTreeSet<String> {
        (0..n)
            .map(|i| format!("system:serviceaccount:team-{i:03}:workload-{i:03}"))
            .collect()
    }

    #[test]
    fn a_condition_that_fits_is_not_split_and_one_that_does_not_is_split_until_each_fits() {
        assert_eq!(shard_count(true, &subjects(20)), None);
        let keys = subjects(200);
        let count = shard_count(true, &keys).unwrap();
        assert!(count.is_power_of_two() && count >= 4, "{count}");
        let mut shards = vec![BTreeSet::new(); count];
        for key in &keys {
            shards[shard_of(key, count)].insert(key.clone());
        }
        for shard in shards {
            assert!(condition_len(true, shard) <= MAX_CONDITION_CHARS);
        }
    }

    #[test]
    fn adding_a_subject_keeps_the_shard_count() {
        let keys = subjects(200);
        let count = shard_count(true, &keys).unwrap();
        let mut more = keys.clone();
        more.insert("system:serviceaccount:new:one".to_owned());
        assert_eq!(shard_count(true, &more), Some(count));
    }

    #[test]
    fn shard_ids_stay_valid_provider_ids() {
        let shard_id = Shard::id;
        assert_eq!(shard_id("eks-prod", 3), "eks-prod-3");
        let long = "eks-a-very-long-cluster-name-here";
        assert_eq!(long.len(), 33);
        for index in [0, 9, 10, 63] {
            let id = shard_id(long, index);
            assert!(id.len() <= 32 && !id.contains("--"), "{id}");
            assert!(id.ends_with(&format!("-{index}")), "{id}");
        }
    }
}
