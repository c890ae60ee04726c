//! What one share token lets its holder read.

use serde::{Deserialize, Serialize};

use super::key::{KeyError, ObjectKey};

/// The Astro Zero `shareType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum ShareType {
    /// 0: one file (the seed also sends several, through `key` and `keys`).
    File,
    /// 1: every object under one or more directory prefixes.
    Directory,
    /// 2: a list of files.
    Files,
}

impl ShareType {
    pub fn code(self) -> u8 {
        match self {
            ShareType::File => 0,
            ShareType::Directory => 1,
            ShareType::Files => 2,
        }
    }
}

impl TryFrom<u8> for ShareType {
    type Error = String;
    fn try_from(code: u8) -> Result<Self, Self::Error> {
        match code {
            0 => Ok(ShareType::File),
            1 => Ok(ShareType::Directory),
            2 => Ok(ShareType::Files),
            other => Err(format!("unknown share type {other}")),
        }
    }
}

impl From<ShareType> for u8 {
    fn from(t: ShareType) -> u8 {
        t.code()
    }
}

/// The allowed-object set carried inside a share token.
///
/// Entries are sorted and unique. For file shares they are keys; for
/// directory shares they are prefixes ending in `/`, or `/` alone for the
/// whole bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(rename = "t")]
    share_type: ShareType,
    #[serde(rename = "k")]
    entries: Vec<String>,
}

/// Why a requested scope cannot be shared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("at least one key is required")]
    NoKeys,
    #[error("directory '{0}' must end with '/'")]
    DirectoryWithoutSlash(String),
    #[error("key '{key}' cannot be shared: {reason}")]
    BadKey { key: String, reason: KeyError },
}

impl Scope {
    /// Builds a scope from the keys of a mint request, validating each.
    pub fn new<I, S>(share_type: ShareType, keys: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut entries = Vec::new();
        for key in keys {
            let key = key.into();
            match share_type {
                ShareType::File | ShareType::Files => {
                    ObjectKey::parse(&key).map_err(|reason| bad_key(&key, reason))?;
                }
                ShareType::Directory => validate_directory(&key)?,
            }
            entries.push(key);
        }
        if entries.is_empty() {
            return Err(ScopeError::NoKeys);
        }
        entries.sort_unstable();
        entries.dedup();
        Ok(Self {
            share_type,
            entries,
        })
    }

    pub fn share_type(&self) -> ShareType {
        self.share_type
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether `key` lies inside this scope. File scopes match exactly;
    /// directory scope `p/` matches keys that start with `p/` and are longer.
    pub fn allows(&self, key: &ObjectKey) -> bool {
        let key = key.as_str();
        match self.share_type {
            ShareType::File | ShareType::Files => self
                .entries
                .binary_search_by(|e| e.as_str().cmp(key))
                .is_ok(),
            ShareType::Directory => self
                .entries
                .iter()
                .any(|dir| dir == "/" || (key.len() > dir.len() && key.starts_with(dir.as_str()))),
        }
    }

    /// A short human summary for the store and the admin API.
    pub fn summary(&self) -> String {
        const SHOWN: usize = 3;
        let kind = match self.share_type {
            ShareType::File => "file",
            ShareType::Directory => "directory",
            ShareType::Files => "files",
        };
        let mut shown: Vec<&str> = self
            .entries
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        if self.entries.len() > SHOWN {
            shown.push("…");
        }
        format!("{kind}: {}", shown.join(", "))
    }
}

fn validate_directory(dir: &str) -> Result<(), ScopeError> {
    if dir == "/" {
        return Ok(());
    }
    let Some(prefix) = dir.strip_suffix('/') else {
        return Err(ScopeError::DirectoryWithoutSlash(dir.to_owned()));
    };
    ObjectKey::parse(prefix).map_err(|reason| bad_key(dir, reason))?;
    Ok(())
}

fn bad_key(key: &str, reason: KeyError) -> ScopeError {
    ScopeError::BadKey {
        key: key.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> ObjectKey {
        ObjectKey::parse(raw).unwrap()
    }

    #[test]
    fn s1_a_directory_scope_never_matches_a_sibling_prefix_or_itself() {
        let scope = Scope::new(ShareType::Directory, ["food/salad/"]).unwrap();
        assert!(scope.allows(&key("food/salad/lettuce")));
        assert!(scope.allows(&key("food/salad/deep/er")));
        assert!(!scope.allows(&key("food/saladdressing/dijon")));
        assert!(!scope.allows(&key("food/salad")));
        assert!(!scope.allows(&key("food")));
    }

    #[test]
    fn s2_a_file_scope_matches_only_itself() {
        let scope = Scope::new(ShareType::Files, ["a/b"]).unwrap();
        assert!(scope.allows(&key("a/b")));
        assert!(!scope.allows(&key("a/bc")));
        assert!(!scope.allows(&key("a/b/c")));
        assert!(!scope.allows(&key("A/b")));
    }

    #[test]
    fn the_root_directory_scope_matches_every_key() {
        let scope = Scope::new(ShareType::Directory, ["/"]).unwrap();
        assert!(scope.allows(&key("x")));
        assert!(scope.allows(&key("deep/down/x")));
    }

    #[test]
    fn directories_must_end_with_a_slash_and_be_valid_prefixes() {
        assert_eq!(
            Scope::new(ShareType::Directory, ["food"]),
            Err(ScopeError::DirectoryWithoutSlash("food".into()))
        );
        assert!(matches!(
            Scope::new(ShareType::Directory, ["a//"]),
            Err(ScopeError::BadKey {
                reason: KeyError::EmptySegment,
                ..
            })
        ));
        assert!(matches!(
            Scope::new(ShareType::Directory, ["../"]),
            Err(ScopeError::BadKey {
                reason: KeyError::DotSegment,
                ..
            })
        ));
        assert!(matches!(
            Scope::new(ShareType::Directory, ["//"]),
            Err(ScopeError::BadKey {
                reason: KeyError::LeadingSlash,
                ..
            })
        ));
    }

    #[test]
    fn file_scopes_refuse_directory_shaped_keys() {
        assert!(matches!(
            Scope::new(ShareType::File, ["dir/"]),
            Err(ScopeError::BadKey {
                reason: KeyError::EmptySegment,
                ..
            })
        ));
    }

    #[test]
    fn entries_are_sorted_and_unique() {
        let scope = Scope::new(ShareType::Files, ["b", "a", "b"]).unwrap();
        assert_eq!(scope.entries(), ["a", "b"]);
        assert_eq!(
            Scope::new(ShareType::Files, Vec::<String>::new()),
            Err(ScopeError::NoKeys)
        );
    }

    #[test]
    fn the_summary_is_short() {
        let scope = Scope::new(ShareType::Files, ["a", "b", "c", "d"]).unwrap();
        assert_eq!(scope.summary(), "files: a, b, c, …");
    }
}
