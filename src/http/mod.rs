//! File-serving HTTP semantics as pure functions: the view query, ranges,
//! preconditions and the response headers that describe an object.

pub mod conditional;
pub mod headers;
pub mod query;
pub mod range;
