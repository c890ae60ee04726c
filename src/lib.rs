//! sharetoken: temporary share links for files in object storage, speaking
//! Huawei Cloud Astro Zero's "Sharing Token" API.

pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod check;
pub mod cli;
pub mod clock;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod redact;
pub mod settings;
pub mod share;
pub mod startup;
pub mod storage;
pub mod store;
pub mod token;
