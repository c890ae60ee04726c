//! The view query, decoded exactly once as `application/x-www-form-urlencoded`.

use percent_encoding::percent_decode;

/// The parameters of a view request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewQuery {
    pub object: String,
    pub share_token: String,
    /// `download` present: serve as an attachment; a non-empty value renames.
    pub download: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query parameter '{0}' is required")]
    Missing(&'static str),
    #[error("query parameter '{0}' is given more than once")]
    Duplicated(&'static str),
    #[error("query parameter '{0}' is not valid UTF-8 once decoded")]
    NotUtf8(&'static str),
    /// A raw `?` in the object: the URL was built without encoding the key,
    /// so the key it names cannot be trusted (case K6).
    #[error("the object key holds an unencoded '?'; percent-encode it as %3F")]
    UnencodedObject,
}

const OBJECT: &str = "object";
const SHARE_TOKEN: &str = "shareToken";
const DOWNLOAD: &str = "download";

impl ViewQuery {
    /// Parses a raw query string. `+` is a space, `%2B` a plus; unknown
    /// parameters are ignored; a missing or repeated `object` or
    /// `shareToken` is an error.
    pub fn parse(raw: &str) -> Result<Self, QueryError> {
        let mut object = None;
        let mut share_token = None;
        let mut download = None;
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, field) = match decode(name).as_deref() {
                Ok(OBJECT) => (&mut object, OBJECT),
                Ok(SHARE_TOKEN) => (&mut share_token, SHARE_TOKEN),
                Ok(DOWNLOAD) => (&mut download, DOWNLOAD),
                _ => continue,
            };
            if slot.is_some() {
                return Err(QueryError::Duplicated(field));
            }
            if field == OBJECT && value.contains('?') {
                return Err(QueryError::UnencodedObject);
            }
            *slot = Some(decode(value).map_err(|_| QueryError::NotUtf8(field))?);
        }
        Ok(Self {
            object: object.ok_or(QueryError::Missing(OBJECT))?,
            share_token: share_token.ok_or(QueryError::Missing(SHARE_TOKEN))?,
            download,
        })
    }
}

fn decode(component: &str) -> Result<String, std::string::FromUtf8Error> {
    let spaced = component.replace('+', " ");
    String::from_utf8(percent_decode(spaced.as_bytes()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k1_k2_plus_is_a_space_and_percent_2b_a_plus() {
        let q = ViewQuery::parse("object=share%2Ftest%2B1.txt&shareToken=t").unwrap();
        assert_eq!(q.object, "share/test+1.txt");
        let q = ViewQuery::parse("object=share/test+1.txt&shareToken=t").unwrap();
        assert_eq!(q.object, "share/test 1.txt");
    }

    #[test]
    fn k3_k4_the_query_is_decoded_exactly_once() {
        let q = ViewQuery::parse("object=ftp%2F3js%25205-report.jpg&shareToken=t").unwrap();
        assert_eq!(q.object, "ftp/3js%205-report.jpg");
        let q = ViewQuery::parse("object=ftp/3js%205-report.jpg&shareToken=t").unwrap();
        assert_eq!(q.object, "ftp/3js 5-report.jpg");
    }

    #[test]
    fn k5_k6_an_encoded_question_mark_is_part_of_the_key() {
        let q = ViewQuery::parse("object=folder%2Fwhat%3F.png&shareToken=t").unwrap();
        assert_eq!(q.object, "folder/what?.png");
    }

    #[test]
    fn k6_a_raw_question_mark_in_the_object_is_refused() {
        assert_eq!(
            ViewQuery::parse("object=folder/what?.png&shareToken=t"),
            Err(QueryError::UnencodedObject)
        );
    }

    #[test]
    fn missing_and_duplicated_parameters_are_errors() {
        assert_eq!(
            ViewQuery::parse("shareToken=t"),
            Err(QueryError::Missing("object"))
        );
        assert_eq!(
            ViewQuery::parse("object=a"),
            Err(QueryError::Missing("shareToken"))
        );
        assert_eq!(
            ViewQuery::parse("object=a&object=b&shareToken=t"),
            Err(QueryError::Duplicated("object"))
        );
        assert_eq!(
            ViewQuery::parse("object=a&shareToken=t&share%54oken=u"),
            Err(QueryError::Duplicated("shareToken"))
        );
        assert_eq!(ViewQuery::parse(""), Err(QueryError::Missing("object")));
    }

    #[test]
    fn unknown_parameters_are_ignored_and_download_is_optional() {
        let q = ViewQuery::parse("x=1&object=a&&shareToken=t&download").unwrap();
        assert_eq!(q.download.as_deref(), Some(""));
        let q = ViewQuery::parse("object=a&shareToken=t&download=r%C3%A9sum%C3%A9.pdf").unwrap();
        assert_eq!(q.download.as_deref(), Some("résumé.pdf"));
        assert_eq!(
            ViewQuery::parse("object=a&shareToken=t").unwrap().download,
            None
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(
            ViewQuery::parse("object=%FF&shareToken=t"),
            Err(QueryError::NotUtf8("object"))
        );
    }
}
