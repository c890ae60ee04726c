//! Integration tests against the real server, started on port 0.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod admin;
mod bad_input;
mod browser;
mod errors;
mod http_semantics;
mod keys;
mod mint;
mod oauth;
mod operability;
mod revocation;
mod scope;
mod time;
mod tokens;
