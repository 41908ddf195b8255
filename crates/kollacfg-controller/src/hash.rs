//! Hashes of rendered files: the output object's content hash and the workloads' rollout hash.
//! Pure: bytes in, lowercase hex SHA-256 out. Only hashes leave this module, never contents.

use std::collections::BTreeMap;

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
/// restart. For now that is every file.
pub fn rollout_hash(files: &BTreeMap<String, Vec<u8>>) -> String {
    files_hash(files)
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
}
