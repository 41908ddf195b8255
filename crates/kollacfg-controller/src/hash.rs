//! Hashes of rendered files: the output object's content hash and the workloads' rollout hash.
//! Pure: bytes in, lowercase hex SHA-256 out. Only hashes leave this module, never contents.

use std::collections::BTreeMap;

use kollacfg_render::items::DEFINITIONS_JSON;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The hash of a set of files: SHA-256 over every file in name order, each written as the
/// name's length (8 bytes, big endian), the name, the content's length and the content. The
/// lengths make the encoding unambiguous (`a`+`bc` and `ab`+`c` differ).
pub fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = files.into_iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for (name, content) in sorted {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update((content.len() as u64).to_be_bytes());
        hasher.update(content);
    }
    hex(&hasher.finalize())
}

/// [`content_hash`] of a rendered file map.
pub fn files_hash(files: &BTreeMap<String, Vec<u8>>) -> String {
    content_hash(files.iter().map(|(n, c)| (n.as_str(), c.as_slice())))
}

/// The hash put on the rollout workloads' pod templates: over the files whose change needs a
/// restart. With `live_policies` (the KollaConfig has `spec.rabbitmq.management`, so the
/// controller applies policies to the running broker), `definitions.json` is hashed with its
/// `policies` taken out: a change of policies alone restarts nothing, while users, vhosts,
/// permissions and every other file still do. Otherwise every byte of every file counts.
pub fn rollout_hash(files: &BTreeMap<String, Vec<u8>>, live_policies: bool) -> String {
    if !live_policies {
        return files_hash(files);
    }
    let normalised = files.get(DEFINITIONS_JSON).map(|d| without_policies(d));
    content_hash(files.iter().map(|(name, content)| {
        let content = match (&normalised, name.as_str()) {
            (Some(n), DEFINITIONS_JSON) => n.as_slice(),
            _ => content.as_slice(),
        };
        (name.as_str(), content)
    }))
}

/// `definitions.json` without its top-level `policies` member, as compact JSON in the file's
/// own key order; the bytes themselves when they are not a JSON object (a rendered file always
/// is one).
fn without_policies(definitions: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(definitions) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.remove("policies");
            serde_json::to_vec(&map).unwrap_or_else(|_| definitions.to_vec())
        }
        _ => definitions.to_vec(),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn content_hash_ignores_order_and_separates_names_from_contents() {
        let ab = content_hash([("a", b"1".as_slice()), ("b", b"2".as_slice())]);
        let ba = content_hash([("b", b"2".as_slice()), ("a", b"1".as_slice())]);
        assert_eq!(ab, ba);
        let shifted = content_hash([("a1", b"".as_slice()), ("b", b"2".as_slice())]);
        assert_ne!(ab, shifted);
        assert_ne!(ab, content_hash([("a", b"1".as_slice())]));
        assert_eq!(ab.len(), 64);
    }

    fn rabbit_files(definitions: &str) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            (
                "definitions.json".to_string(),
                definitions.as_bytes().to_vec(),
            ),
            ("rabbitmq.conf".to_string(), b"heartbeat = 60\n".to_vec()),
        ])
    }

    #[test]
    fn with_live_policies_a_policy_change_keeps_the_rollout_hash() {
        let before = rabbit_files(
            "{\"users\": [{\"name\": \"openstack\"}],\n \"policies\": [{\"vhost\": \"/\", \"name\": \"ha-all\"}]}\n",
        );
        let after = rabbit_files(
            "{\"users\": [{\"name\": \"openstack\"}],\n \"policies\": [\n  {\"vhost\": \"/\", \"name\": \"ha-two\"}\n]}\n",
        );
        let none = rabbit_files("{\"users\": [{\"name\": \"openstack\"}]}\n");
        assert_eq!(rollout_hash(&before, true), rollout_hash(&after, true));
        assert_eq!(rollout_hash(&before, true), rollout_hash(&none, true));
        // Without live policies every byte counts.
        assert_ne!(rollout_hash(&before, false), rollout_hash(&after, false));
        assert_eq!(rollout_hash(&before, false), files_hash(&before));
    }

    #[test]
    fn with_live_policies_users_and_other_files_still_change_the_rollout_hash() {
        let base = rabbit_files("{\"users\": [{\"name\": \"openstack\"}], \"policies\": []}");
        let users = rabbit_files("{\"users\": [{\"name\": \"admin\"}], \"policies\": []}");
        assert_ne!(rollout_hash(&base, true), rollout_hash(&users, true));
        let mut conf = base.clone();
        conf.insert("rabbitmq.conf".to_string(), b"heartbeat = 30\n".to_vec());
        assert_ne!(rollout_hash(&base, true), rollout_hash(&conf, true));
        let mut env = base.clone();
        env.insert("rabbitmq-env.conf".to_string(), b"X=1\n".to_vec());
        assert_ne!(rollout_hash(&base, true), rollout_hash(&env, true));
    }
}
