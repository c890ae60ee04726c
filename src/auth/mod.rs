//! Who may mint and administer: OAuth clients with argon2-hashed secrets
//! (DESIGN §2).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::settings::ClientSettings;
use crate::storage::ConnectorId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// May mint share tokens.
    Share,
    /// May revoke, list and audit.
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "share" => Some(Role::Share),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Which connectors a client may share from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorGrant {
    All,
    Only(BTreeSet<ConnectorId>),
}

pub struct Client {
    pub id: String,
    secret_hash: String,
    pub roles: BTreeSet<Role>,
    pub connectors: ConnectorGrant,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn may_share_from(&self, connector: &ConnectorId) -> bool {
        match &self.connectors {
            ConnectorGrant::All => true,
            ConnectorGrant::Only(set) => set.contains(connector),
        }
    }
}

/// The configured clients.
#[derive(Debug)]
pub struct Clients {
    by_id: HashMap<String, Client>,
    /// Verified against when the client is unknown, so that an unknown client
    /// costs the same time as a wrong secret.
    decoy_hash: String,
}

impl Clients {
    pub fn from_settings(settings: &[ClientSettings]) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        for s in settings {
            let client = client_from_settings(s)?;
            if by_id.insert(client.id.clone(), client).is_some() {
                return Err(format!("client '{}' is configured twice", s.id));
            }
        }
        Ok(Self {
            by_id,
            decoy_hash: hash_secret("decoy secret that matches nothing"),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Client> {
        self.by_id.get(id)
    }

    /// The client, if `secret` is its secret. CPU-heavy by design (argon2):
    /// call it off the async workers.
    pub fn authenticate(&self, id: &str, secret: &str) -> Option<&Client> {
        match self.by_id.get(id) {
            Some(client) if verify_secret(secret, &client.secret_hash) => Some(client),
            Some(_) => None,
            None => {
                verify_secret(secret, &self.decoy_hash);
                None
            }
        }
    }
}

fn client_from_settings(s: &ClientSettings) -> Result<Client, String> {
    if s.id.is_empty() {
        return Err("a client has an empty id".into());
    }
    PasswordHash::new(&s.secret_hash)
        .map_err(|_| format!("client '{}': secret_hash is not an argon2 PHC string (make one with `sharetoken hash-secret`)", s.id))?;
    let roles = s
        .roles
        .iter()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                format!("client '{}': unknown role '{r}' (use share or admin)", s.id)
            })
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    let connectors = if s.connectors.iter().any(|c| c == "*") {
        ConnectorGrant::All
    } else {
        let set = s
            .connectors
            .iter()
            .map(|c| {
                c.split_once('/')
                    .and_then(|(kind, name)| ConnectorId::parse(kind, name))
                    .ok_or_else(|| {
                        format!(
                            "client '{}': connector '{c}' is not 'type/name' or '*'",
                            s.id
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        ConnectorGrant::Only(set)
    };
    Ok(Client {
        id: s.id.clone(),
        secret_hash: s.secret_hash.clone(),
        roles,
        connectors,
    })
}

/// An argon2id PHC hash of `secret` with a random salt (`sharetoken hash-secret`).
pub fn hash_secret(secret: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(id: &str, secret: &str, roles: &[&str], connectors: &[&str]) -> ClientSettings {
        ClientSettings {
            id: id.into(),
            secret_hash: hash_secret(secret),
            secret_hash_file: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            connectors: connectors.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_client_authenticates_only_with_its_secret() {
        let clients =
            Clients::from_settings(&[settings("app", "s3cret", &["share"], &["*"])]).unwrap();
        assert_eq!(
            clients.authenticate("app", "s3cret").map(|c| c.id.as_str()),
            Some("app")
        );
        assert!(clients.authenticate("app", "wrong").is_none());
        assert!(clients.authenticate("nobody", "s3cret").is_none());
    }

    #[test]
    fn grants_and_roles_come_from_the_configuration() {
        let clients = Clients::from_settings(&[settings(
            "app",
            "x",
            &["share"],
            &["obs/Namespace __TestOBS"],
        )])
        .unwrap();
        let app = clients.get("app").unwrap();
        assert!(app.has_role(Role::Share) && !app.has_role(Role::Admin));
        assert!(app.may_share_from(&ConnectorId::parse("obs", "Namespace __TestOBS").unwrap()));
        assert!(!app.may_share_from(&ConnectorId::parse("minio", "Namespace __TestOBS").unwrap()));
    }

    #[test]
    fn bad_client_settings_are_explained() {
        let mut bad = settings("app", "x", &["root"], &[]);
        assert!(Clients::from_settings(&[bad.clone()])
            .unwrap_err()
            .contains("unknown role 'root'"));
        bad.roles = vec!["share".into()];
        bad.connectors = vec!["s3-bucket".into()];
        assert!(Clients::from_settings(&[bad.clone()])
            .unwrap_err()
            .contains("not 'type/name'"));
        bad.secret_hash = "plain".into();
        assert!(Clients::from_settings(&[bad])
            .unwrap_err()
            .contains("not an argon2 PHC string"));
    }
}
