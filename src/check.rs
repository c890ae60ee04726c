//! `sharetoken check-config`: every problem of a configuration at once,
//! without starting anything or reaching any server.

use std::collections::BTreeSet;
use std::net::ToSocketAddrs;

use secrecy::ExposeSecret;

use crate::settings::{BackendSettings, Settings};
use crate::storage::{ConnectorId, Connectors};
use crate::token::KeyRing;

/// Every problem found, each naming the setting it is about.
pub fn problems(settings: &Settings) -> Vec<String> {
    let mut found = Vec::new();
    let server = &settings.server;
    if server.listen.to_socket_addrs().is_err() {
        found.push(format!(
            "server.listen: '{}' is not an address to listen on",
            server.listen
        ));
    }
    for (name, value) in [
        ("server.max_body_bytes", server.max_body_bytes as u64),
        (
            "server.client_request_timeout_ms",
            server.client_request_timeout_ms,
        ),
        (
            "store.prune_interval_seconds",
            settings.store.prune_interval_seconds,
        ),
        ("store.audit_max_events", settings.store.audit_max_events),
        (
            "tokens.access_token_ttl_seconds",
            settings.tokens.access_token_ttl_seconds.max(0) as u64,
        ),
    ] {
        if value == 0 {
            found.push(format!("{name}: must be greater than 0"));
        }
    }
    if let Err(problem) = crate::logging::LogFormat::from_setting(&settings.log.format) {
        found.push(problem);
    }
    token_key_problems(settings, &mut found);
    store_problems(settings, &mut found);
    connector_problems(settings, &mut found);
    client_problems(settings, &mut found);
    found
}

fn token_key_problems(settings: &Settings, found: &mut Vec<String>) {
    let tokens = &settings.tokens;
    for (i, key) in tokens.keys.iter().enumerate() {
        if KeyRing::from_paserk(&[key.expose_secret()]).is_err() {
            found.push(format!(
                "tokens.keys[{i}]: not a PASERK k4.local key (make one with `sharetoken keygen`)"
            ));
        }
    }
    if let Some(file) = &tokens.key_file {
        match std::fs::read_to_string(file) {
            Err(e) => found.push(format!(
                "tokens.key_file: cannot read {}: {e}",
                file.display()
            )),
            Ok(text) => {
                for (n, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    if KeyRing::from_paserk(&[line]).is_err() {
                        found.push(format!(
                            "tokens.key_file: line {} is not a PASERK k4.local key",
                            n + 1
                        ));
                    }
                }
            }
        }
    }
}

fn store_problems(settings: &Settings, found: &mut Vec<String>) {
    let store = &settings.store;
    match store.kind.as_str() {
        "embedded" => {}
        "redis" => {
            let redis = &store.redis;
            let urls: Vec<&String> = if redis.cluster_nodes.is_empty() {
                vec![&redis.url]
            } else {
                redis.cluster_nodes.iter().collect()
            };
            for url in urls {
                if redis::Client::open(url.as_str()).is_err() {
                    found.push(format!("store.redis: '{url}' is not a Redis URL"));
                }
            }
            if redis.command_timeout_ms == 0 || redis.connect_timeout_ms == 0 {
                found.push("store.redis: timeouts must be greater than 0".into());
            }
            if redis.revocation_lease_ms > 10_000 {
                found.push(format!(
                    "store.redis.revocation_lease_ms: {} is over 10000 (every revoke waits this long)",
                    redis.revocation_lease_ms
                ));
            }
        }
        other => found.push(format!(
            "store.kind: '{other}' is not a store (use embedded or redis)"
        )),
    }
}

fn connector_problems(settings: &Settings, found: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for (i, c) in settings.connectors.iter().enumerate() {
        let at = format!("connectors[{i}] ({}/{})", c.kind, c.name);
        if ConnectorId::parse(&c.kind, &c.name).is_none() {
            found.push(format!(
                "{at}: type must be obs, minio or objectstorageproxy"
            ));
        }
        if c.name.is_empty() {
            found.push(format!("{at}: the name is empty"));
        }
        if !seen.insert((c.kind.clone(), c.name.clone())) {
            found.push(format!("{at}: configured twice"));
        }
        match &c.backend {
            BackendSettings::Local { root } if !root.is_dir() => found.push(format!(
                "{at}: root {} is not a directory (the connector would answer 502)",
                root.display()
            )),
            BackendSettings::S3(s3) => {
                if s3.bucket.is_empty() {
                    found.push(format!("{at}: bucket is empty"));
                }
                if let Some(endpoint) = &s3.endpoint {
                    if reqwest::Url::parse(endpoint).is_err() {
                        found.push(format!("{at}: endpoint '{endpoint}' is not a URL"));
                    } else if s3.plain_http_refused() {
                        found.push(format!(
                            "{at}: endpoint '{endpoint}' is plain http:// and allow_http is false (the connector would answer 502)"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    // What only the whole set can tell (proxy targets, backends that build).
    if let Err(e) = Connectors::from_settings(&settings.connectors) {
        if !found.iter().any(|p| p.starts_with("connectors[")) {
            found.push(format!("connectors: {e}"));
        }
    }
}

fn client_problems(settings: &Settings, found: &mut Vec<String>) {
    let configured: BTreeSet<String> = settings
        .connectors
        .iter()
        .map(|c| format!("{}/{}", c.kind, c.name))
        .collect();
    let mut seen = BTreeSet::new();
    for (i, client) in settings.clients.iter().enumerate() {
        let at = format!("clients[{i}] ({})", client.id);
        if client.id.is_empty() {
            found.push(format!("{at}: the id is empty"));
        }
        if argon2::password_hash::PasswordHash::new(&client.secret_hash).is_err() {
            found.push(format!(
                "{at}: secret_hash is not an argon2 PHC string (make one with `sharetoken hash-secret`)"
            ));
        }
        for role in &client.roles {
            if role != "share" && role != "admin" {
                found.push(format!("{at}: unknown role '{role}' (use share or admin)"));
            }
        }
        if !seen.insert(client.id.clone()) {
            found.push(format!("{at}: the id is configured twice"));
        }
        for connector in &client.connectors {
            // With no connector configured, the embedded default is there.
            let known = connector == "*"
                || configured.contains(connector)
                || (configured.is_empty() && connector == "objectstorageproxy/local");
            if !known {
                found.push(format!("{at}: connector '{connector}' is not configured"));
            }
        }
    }
}
