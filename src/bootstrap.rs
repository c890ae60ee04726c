//! The embedded default: what a fresh data directory gets on first start so
//! that `make run` needs no other step — a token key, a local connector with
//! a sample file, and a demo client.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::hash_secret;
use crate::settings::{BackendSettings, ClientSettings, ConnectorSettings, Settings};
use crate::token::KeyRing;

/// File names inside the data directory.
pub const KEY_FILE: &str = "token-keys";
pub const STORE_FILE: &str = "sharetoken.redb";
pub const OBJECTS_DIR: &str = "objects";
pub const DEMO_SECRET_FILE: &str = "demo-client-secret";
pub const DEMO_CLIENT_ID: &str = "demo";
pub const SAMPLE_KEY: &str = "samples/hello.txt";
pub const SAMPLE_TEXT: &str =
    "Hello from sharetoken! This file was shared with a temporary link.\n";

/// The demo client made when no client is configured.
pub struct DemoClient {
    pub id: String,
    pub secret: SecretString,
}

/// Settings with the embedded defaults filled in, and the token keys.
pub struct Prepared {
    pub settings: Settings,
    pub keys: Vec<SecretString>,
    pub demo_client: Option<DemoClient>,
}

/// Fills in what the configuration leaves out, creating files in the data
/// directory the first time.
pub fn prepare(mut settings: Settings) -> Result<Prepared, String> {
    let data_dir = settings.server.data_dir.clone();
    fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;

    let keys = token_keys(&settings)?;

    if settings.connectors.is_empty() {
        let root = data_dir.join(OBJECTS_DIR);
        if !root.exists() {
            let sample = root.join(SAMPLE_KEY);
            fs::create_dir_all(sample.parent().expect("the sample has a directory"))
                .and_then(|()| fs::write(&sample, SAMPLE_TEXT))
                .map_err(|e| format!("cannot create {}: {e}", sample.display()))?;
        }
        settings.connectors.push(ConnectorSettings {
            kind: "objectstorageproxy".into(),
            name: "local".into(),
            backend: BackendSettings::Local { root },
        });
    }

    let mut demo_client = None;
    if settings.clients.is_empty() && settings.server.demo_client {
        let secret = read_or_create_secret(&data_dir.join(DEMO_SECRET_FILE), || {
            let mut bytes = [0u8; 18];
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            hex::encode(bytes)
        })?;
        settings.clients.push(ClientSettings {
            id: DEMO_CLIENT_ID.into(),
            secret_hash: hash_secret(secret.expose_secret()),
            secret_hash_file: None,
            roles: vec!["share".into(), "admin".into()],
            connectors: vec!["*".into()],
        });
        demo_client = Some(DemoClient {
            id: DEMO_CLIENT_ID.into(),
            secret,
        });
    }

    Ok(Prepared {
        settings,
        keys,
        demo_client,
    })
}

/// Keys from the configuration, else from `key_file`, else the data
/// directory's own key file, generated on first start.
fn token_keys(settings: &Settings) -> Result<Vec<SecretString>, String> {
    if !settings.tokens.keys.is_empty() {
        return Ok(settings.tokens.keys.clone());
    }
    let text = match &settings.tokens.key_file {
        Some(file) => fs::read_to_string(file)
            .map_err(|e| format!("cannot read token key file {}: {e}", file.display()))?,
        None => read_or_create_secret(&settings.in_data_dir(KEY_FILE), KeyRing::generate_paserk)?
            .expose_secret()
            .to_owned(),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| SecretString::from(l.to_owned()))
        .collect())
}

/// Reads a secret file, or creates it (mode 0600) with `make()`.
fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> String,
) -> Result<SecretString, String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(SecretString::from(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = make();
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            writeln!(file, "{secret}")
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(SecretString::from(secret))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn fresh(dir: &Path) -> Settings {
        let mut settings = Settings::default();
        settings.server.data_dir = dir.to_owned();
        settings
    }

    #[test]
    fn the_embedded_default_keeps_its_key_and_demo_secret_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(fresh(dir.path())).unwrap();
        for file in [KEY_FILE, DEMO_SECRET_FILE] {
            let mode = fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        assert_eq!(first.keys.len(), 1);
        assert!(first.keys[0].expose_secret().starts_with("k4.local."));
        assert_eq!(
            fs::read_to_string(dir.path().join(OBJECTS_DIR).join(SAMPLE_KEY)).unwrap(),
            SAMPLE_TEXT
        );
        let demo = first.demo_client.expect("a demo client");

        // A restart reads the same key and secret: issued tokens stay valid.
        let second = prepare(fresh(dir.path())).unwrap();
        assert_eq!(
            second.keys[0].expose_secret(),
            first.keys[0].expose_secret()
        );
        assert_eq!(
            second.demo_client.unwrap().secret.expose_secret(),
            demo.secret.expose_secret()
        );
        assert_eq!(second.settings.connectors.len(), 1);
        assert_eq!(second.settings.clients[0].roles, ["share", "admin"]);
    }

    #[test]
    fn configured_keys_and_clients_replace_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = fresh(dir.path());
        settings.tokens.keys = vec![SecretString::from(KeyRing::generate_paserk())];
        settings.clients = vec![ClientSettings {
            id: "x".into(),
            secret_hash: hash_secret("y"),
            secret_hash_file: None,
            roles: vec!["share".into()],
            connectors: vec!["*".into()],
        }];
        let prepared = prepare(settings).unwrap();
        assert!(prepared.demo_client.is_none());
        assert!(!dir.path().join(KEY_FILE).exists());
        assert!(!dir.path().join(DEMO_SECRET_FILE).exists());
    }
}
