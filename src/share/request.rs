//! The mint request body (DESIGN §1), parsed strictly with clear errors.

use serde_json::{Map, Value};

use super::scope::{Scope, ScopeError, ShareType};

/// Shortest and longest share life accepted, in minutes.
pub const MIN_TIMEOUT_MINUTES: u64 = 1;
pub const MAX_TIMEOUT_MINUTES: u64 = 1440;

/// A validated mint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    pub scope: Scope,
    pub timeout_minutes: u64,
}

/// Why a mint body was refused; every variant is the client's mistake (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintRequestError {
    #[error("the body is not valid JSON")]
    NotJson,
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("'{0}' is required")]
    Missing(&'static str),
    #[error("'{field}' must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("'shareType' must be 0 (file), 1 (directory) or 2 (files)")]
    UnknownShareType,
    #[error(
        "'timeoutInMinutes' must be an integer from {MIN_TIMEOUT_MINUTES} to {MAX_TIMEOUT_MINUTES}"
    )]
    TimeoutOutOfRange,
    #[error("{0}")]
    DuplicateField(String),
    #[error("{0}")]
    Scope(#[from] ScopeError),
}

/// A JSON object whose keys must be unique.
struct UniqueFields(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = UniqueFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueFields, A::Error> {
                let mut fields = Map::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if fields.contains_key(&name) {
                        // The message names the field and nothing else.
                        let name: String = name.chars().take(64).collect();
                        return Err(serde::de::Error::custom(format!(
                            "'{name}' is given more than once"
                        )));
                    }
                    fields.insert(name, value);
                }
                Ok(UniqueFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl MintRequest {
    /// Parses and validates a mint body.
    pub fn from_json(body: &[u8]) -> Result<Self, MintRequestError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| MintRequestError::NotJson)?;
        if !value.is_object() {
            return Err(MintRequestError::NotAnObject);
        }
        // A field given twice is refused: a proxy that read the first value
        // must not be overruled by the last.
        let fields = serde_json::from_slice::<UniqueFields>(body)
            .map_err(|e| MintRequestError::DuplicateField(e.to_string()))?
            .0;
        let share_type = share_type(&fields)?;
        let timeout_minutes = timeout_minutes(&fields)?;
        let mut keys = Vec::new();
        if let Some(key) = present(&fields, "key") {
            let Value::String(key) = key else {
                return Err(wrong_type("key", "a string"));
            };
            keys.push(key.clone());
        }
        if let Some(list) = present(&fields, "keys") {
            keys.extend(key_list(list)?);
        }
        let scope = Scope::new(share_type, keys)?;
        Ok(Self {
            scope,
            timeout_minutes,
        })
    }
}

/// A field, treating an explicit `null` as absent.
fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|v| !v.is_null())
}

fn wrong_type(field: &'static str, expected: &'static str) -> MintRequestError {
    MintRequestError::WrongType { field, expected }
}

fn share_type(fields: &Map<String, Value>) -> Result<ShareType, MintRequestError> {
    let value = present(fields, "shareType").ok_or(MintRequestError::Missing("shareType"))?;
    let code = value.as_u64().ok_or_else(|| {
        if value.is_number() {
            MintRequestError::UnknownShareType
        } else {
            wrong_type("shareType", "an integer")
        }
    })?;
    u8::try_from(code)
        .ok()
        .and_then(|c| ShareType::try_from(c).ok())
        .ok_or(MintRequestError::UnknownShareType)
}

fn timeout_minutes(fields: &Map<String, Value>) -> Result<u64, MintRequestError> {
    let value =
        present(fields, "timeoutInMinutes").ok_or(MintRequestError::Missing("timeoutInMinutes"))?;
    // `as_u64` is None for floats (1.5, 1.0), negatives and strings ("60").
    match value.as_u64() {
        Some(m) if (MIN_TIMEOUT_MINUTES..=MAX_TIMEOUT_MINUTES).contains(&m) => Ok(m),
        _ => Err(MintRequestError::TimeoutOutOfRange),
    }
}

/// `keys` is typed "String" by the seed but shown as an array: accept an
/// array of strings, or a string holding one key or a JSON array of keys.
fn key_list(value: &Value) -> Result<Vec<String>, MintRequestError> {
    const EXPECTED: &str = "an array of strings, or a string";
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(wrong_type("keys", EXPECTED)),
            })
            .collect(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<String>>(s) {
                Ok(list) => Ok(list),
                // A key that merely starts with '[' is still one key.
                Err(_) => Ok(vec![s.clone()]),
            }
        }
        Value::String(s) => Ok(vec![s.clone()]),
        _ => Err(wrong_type("keys", EXPECTED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<MintRequest, MintRequestError> {
        MintRequest::from_json(body.as_bytes())
    }

    #[test]
    fn the_seed_example_shares_key_and_keys_together() {
        let req = parse(
            r#"{"shareType":0,"key":"share/a.txt","keys":["share/b.txt"],"timeoutInMinutes":60}"#,
        )
        .unwrap();
        assert_eq!(req.scope.entries(), ["share/a.txt", "share/b.txt"]);
        assert_eq!(req.scope.share_type(), ShareType::File);
        assert_eq!(req.timeout_minutes, 60);
    }

    #[test]
    fn keys_may_be_a_string_with_one_key_or_a_json_array() {
        let one = parse(r#"{"shareType":2,"keys":"a/b","timeoutInMinutes":1}"#).unwrap();
        assert_eq!(one.scope.entries(), ["a/b"]);
        let many = parse(r#"{"shareType":2,"keys":"[\"x\",\"y\"]","timeoutInMinutes":1}"#).unwrap();
        assert_eq!(many.scope.entries(), ["x", "y"]);
        let bracket =
            parse(r#"{"shareType":2,"keys":"[draft].txt","timeoutInMinutes":1}"#).unwrap();
        assert_eq!(bracket.scope.entries(), ["[draft].txt"]);
    }

    #[test]
    fn e3_timeouts_outside_1_to_1440_integers_are_refused() {
        for t in [
            "0",
            "-1",
            "1441",
            "9223372036854775808",
            "1.5",
            "1.0",
            "\"60\"",
            "\"60m\"",
            "null",
            "true",
        ] {
            let body = format!(r#"{{"shareType":0,"key":"a","timeoutInMinutes":{t}}}"#);
            let err = parse(&body).unwrap_err();
            assert!(
                matches!(
                    err,
                    MintRequestError::TimeoutOutOfRange
                        | MintRequestError::Missing("timeoutInMinutes")
                ),
                "{t}: {err:?}"
            );
        }
        assert_eq!(
            parse(r#"{"shareType":0,"key":"a"}"#),
            Err(MintRequestError::Missing("timeoutInMinutes"))
        );
        assert_eq!(
            parse(r#"{"shareType":0,"key":"a","timeoutInMinutes":1440}"#)
                .unwrap()
                .timeout_minutes,
            1440
        );
    }

    #[test]
    fn share_type_is_required_and_known() {
        assert_eq!(
            parse(r#"{"key":"a","timeoutInMinutes":1}"#),
            Err(MintRequestError::Missing("shareType"))
        );
        assert_eq!(
            parse(r#"{"shareType":3,"key":"a","timeoutInMinutes":1}"#),
            Err(MintRequestError::UnknownShareType)
        );
        assert_eq!(
            parse(r#"{"shareType":-1,"key":"a","timeoutInMinutes":1}"#),
            Err(MintRequestError::UnknownShareType)
        );
        assert_eq!(
            parse(r#"{"shareType":"0","key":"a","timeoutInMinutes":1}"#),
            Err(MintRequestError::WrongType {
                field: "shareType",
                expected: "an integer"
            })
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        assert_eq!(parse("not json"), Err(MintRequestError::NotJson));
        assert_eq!(parse("[1]"), Err(MintRequestError::NotAnObject));
        assert_eq!(parse(""), Err(MintRequestError::NotJson));
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let err =
            parse(r#"{"shareType":0,"key":"a","timeoutInMinutes":5000,"timeoutInMinutes":6}"#)
                .unwrap_err();
        assert!(
            matches!(&err, MintRequestError::DuplicateField(m) if m.starts_with("'timeoutInMinutes' is given more than once")),
            "{err:?}"
        );
    }

    #[test]
    fn wrongly_typed_keys_are_refused() {
        assert!(matches!(
            parse(r#"{"shareType":0,"key":5,"timeoutInMinutes":1}"#),
            Err(MintRequestError::WrongType { field: "key", .. })
        ));
        assert!(matches!(
            parse(r#"{"shareType":0,"keys":[5],"timeoutInMinutes":1}"#),
            Err(MintRequestError::WrongType { field: "keys", .. })
        ));
        assert_eq!(
            parse(r#"{"shareType":0,"timeoutInMinutes":1}"#),
            Err(MintRequestError::Scope(ScopeError::NoKeys))
        );
    }

    #[test]
    fn directory_shares_need_trailing_slashes() {
        assert!(parse(r#"{"shareType":1,"key":"food/salad/","timeoutInMinutes":1}"#).is_ok());
        assert_eq!(
            parse(r#"{"shareType":1,"key":"food/salad","timeoutInMinutes":1}"#),
            Err(MintRequestError::Scope(ScopeError::DirectoryWithoutSlash(
                "food/salad".into()
            )))
        );
    }
}
