//! The `sharetoken` command line.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::bootstrap;
use crate::settings::Settings;
use crate::startup::Application;
use crate::token::KeyRing;

/// Temporary share links for files in object storage (Astro Zero Sharing Token API).
#[derive(Debug, Parser)]
#[command(name = "sharetoken", version)]
pub struct Cli {
    /// TOML configuration file; the environment (SHARETOKEN__SECTION__KEY) overrides it.
    #[arg(long, global = true, env = "SHARETOKEN_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Check the configuration (file and environment) and report every
    /// problem at once; exits 1 if there is any. Starts nothing.
    CheckConfig,
    /// Print a new random token key (PASERK k4.local) for `tokens.keys`.
    Keygen,
    /// Read a client secret from standard input and print its argon2 hash
    /// for `clients[].secret_hash`.
    HashSecret,
    /// Revoke one share token by id, or in bulk, through a running server's
    /// admin API.
    Revoke {
        /// The token id (`tokenId` in the mint answer).
        #[arg(required_unless_present_any = ["connector", "client", "issued_before"])]
        token_id: Option<String>,
        /// Revoke every token of this connector (`type/name`).
        #[arg(long, conflicts_with_all = ["token_id", "client"])]
        connector: Option<String>,
        /// Revoke every token of this client.
        #[arg(long, conflicts_with = "token_id")]
        client: Option<String>,
        /// Only tokens issued before this time (RFC 3339); alone: every token.
        #[arg(long, conflicts_with = "token_id")]
        issued_before: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List issued tokens, or show one token with its audit trail.
    Tokens {
        /// Show this token (with its audit trail) instead of a list.
        token_id: Option<String>,
        /// Only this connector (`type/name`).
        #[arg(long)]
        connector: Option<String>,
        /// Only this client.
        #[arg(long)]
        client: Option<String>,
        /// Only tokens in this state: active, revoked or expired.
        #[arg(long)]
        state: Option<String>,
        /// Page size (at most 1000).
        #[arg(long)]
        limit: Option<usize>,
        /// The `next` of the previous page.
        #[arg(long)]
        after: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Read the audit log.
    Audit {
        /// Events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// At most this many events (at most 1000).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// How the admin commands reach a running server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the server; defaults to http://<server.listen>.
    #[arg(long, env = "SHARETOKEN_URL")]
    pub url: Option<String>,
    /// Admin client id; defaults to the demo client of the data directory.
    #[arg(long, env = "SHARETOKEN_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Admin client secret (prefer the environment variable to the flag).
    #[arg(long, env = "SHARETOKEN_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
}

pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sharetoken: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Keygen => {
            println!("{}", KeyRing::generate_paserk());
            Ok(())
        }
        Command::HashSecret => hash_secret(),
        Command::CheckConfig => check_config(cli.config),
        Command::Serve => serve(cli.config).await,
        Command::Revoke {
            token_id,
            connector,
            client,
            issued_before,
            server,
        } => {
            let admin = AdminClient::connect(cli.config, server).await;
            match token_id {
                Some(jti) => {
                    admin?
                        .post(&format!("/admin/v1/tokens/{}/revoke", segment(&jti)), None)
                        .await
                }
                None => {
                    let body = serde_json::json!({
                        "connector": connector, "client": client, "issuedBefore": issued_before,
                    });
                    let body = without_nulls(body);
                    admin?.post("/admin/v1/revocations", Some(body)).await
                }
            }
        }
        Command::Tokens {
            token_id,
            connector,
            client,
            state,
            limit,
            after,
            server,
        } => {
            let admin = AdminClient::connect(cli.config, server).await;
            match token_id {
                Some(jti) => {
                    admin?
                        .get(&format!("/admin/v1/tokens/{}", segment(&jti)), &[])
                        .await
                }
                None => {
                    let limit = limit.map(|l| l.to_string());
                    let query = [
                        ("connector", connector),
                        ("client", client),
                        ("state", state),
                        ("limit", limit),
                        ("after", after),
                    ];
                    admin?.get("/admin/v1/tokens", &query).await
                }
            }
        }
        Command::Audit {
            since,
            limit,
            server,
        } => {
            let limit = limit.map(|l| l.to_string());
            let admin = AdminClient::connect(cli.config, server).await;
            admin?
                .get("/admin/v1/audit", &[("since", since), ("limit", limit)])
                .await
        }
    }
}

fn load_settings(config: Option<PathBuf>) -> Result<Settings, String> {
    Settings::load(config.as_deref()).map_err(|e| format!("configuration: {e}"))
}

fn check_config(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load_settings(config)?;
    let problems = crate::check::problems(&settings);
    if problems.is_empty() {
        println!(
            "configuration OK: store {}, {} connector(s), {} client(s)",
            settings.store.kind,
            settings.connectors.len().max(1),
            settings.clients.len()
        );
        return Ok(());
    }
    for problem in &problems {
        println!("- {problem}");
    }
    Err(format!(
        "{} problem(s) in the configuration",
        problems.len()
    ))
}

fn hash_secret() -> Result<(), String> {
    if std::io::stdin().is_terminal() {
        eprintln!("Type the client secret, then Enter:");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the secret: {e}"))?;
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err("the secret is empty".into());
    }
    println!("{}", crate::auth::hash_secret(secret));
    Ok(())
}

async fn serve(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load_settings(config)?;
    crate::logging::init(crate::logging::LogFormat::from_setting(
        &settings.log.format,
    )?);
    let data_dir = settings.server.data_dir.clone();
    let listen_host = settings
        .server
        .listen
        .rsplit_once(':')
        .map(|(host, _)| host.to_owned())
        .unwrap_or_default();
    let app = Application::build(settings).await?;
    let base = format!("http://{listen_host}:{}", app.port());
    println!(
        "sharetoken listening on {base} (data directory {})",
        data_dir.display()
    );
    for id in app.connectors() {
        println!("  connector {id}");
    }
    if let Some(demo) = app.demo_client() {
        // Printed once to the terminal on purpose: it is the demo's only
        // credential. It never goes through the logger.
        println!(
            "  demo client: client_id={} client_secret={}  (from {})",
            demo.id,
            demo.secret.expose_secret(),
            data_dir.join(bootstrap::DEMO_SECRET_FILE).display()
        );
        println!("  sample object: {}", bootstrap::SAMPLE_KEY);
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

fn without_nulls(mut body: serde_json::Value) -> serde_json::Value {
    if let Some(map) = body.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    body
}

/// A client of a running server's admin API, authenticated once.
struct AdminClient {
    url: String,
    access_token: String,
    http: reqwest::Client,
}

impl AdminClient {
    async fn connect(config: Option<PathBuf>, server: ServerArgs) -> Result<Self, String> {
        let settings = load_settings(config)?;
        let url = server
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{}", settings.server.listen));
        let (client_id, secret) = admin_credentials(&settings, server)?;
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!("{url}/baas/auth/v1.0/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("unexpected answer from {url}: {e}"))?;
        let Some(access_token) = token["access_token"].as_str() else {
            return Err(format!(
                "could not authenticate as {client_id}: {}",
                token["resMsg"].as_str().unwrap_or("no access token")
            ));
        };
        Ok(Self {
            url,
            access_token: access_token.to_owned(),
            http,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, Option<String>)]) -> Result<(), String> {
        let query: Vec<(&str, &String)> = query
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| (*name, v)))
            .collect();
        let request = self.http.get(format!("{}{path}", self.url)).query(&query);
        self.send(request).await
    }

    async fn post(&self, path: &str, body: Option<serde_json::Value>) -> Result<(), String> {
        let mut request = self.http.post(format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends, prints the answer's `result` as JSON, or fails with its message.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(), String> {
        let answer = request
            .header("access-token", &self.access_token)
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.url))?;
        let status = answer.status();
        let body: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| format!("unexpected answer from {}: {e}", self.url))?;
        if !status.is_success() {
            return Err(format!(
                "{status}: {}",
                body["resMsg"].as_str().unwrap_or("")
            ));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&body["result"]).unwrap_or_default()
        );
        Ok(())
    }
}

/// The admin client's id and secret: both given, or the data directory's
/// demo client.
fn admin_credentials(settings: &Settings, server: ServerArgs) -> Result<(String, String), String> {
    match (server.client_id, server.client_secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        (Some(id), None) => Err(format!(
            "--client-id {id} needs its secret: set SHARETOKEN_CLIENT_SECRET (or --client-secret)"
        )),
        (None, Some(_)) => Err("--client-secret needs --client-id".into()),
        (None, None) => {
            let file = settings.in_data_dir(bootstrap::DEMO_SECRET_FILE);
            let secret = std::fs::read_to_string(&file).map_err(|_| {
                format!(
                    "no admin credentials: pass --client-id and SHARETOKEN_CLIENT_SECRET (no demo client in {})",
                    file.display()
                )
            })?;
            Ok((bootstrap::DEMO_CLIENT_ID.into(), secret.trim().to_owned()))
        }
    }
}

/// A token id as one URL path segment, whatever it holds.
fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}
