//! The real `sharetoken` binary, run as a subprocess: the key and secret
//! helpers, a served instance used end to end (mint, view, `revoke`), and
//! case L1 of `cases/README.md`: no share token, access token or other
//! `v4.local.` string in any log line or error body.
//!
//! Every test owns its temporary directory and port; a [`Served`] guard
//! kills the server on every path, panics included.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use reqwest::header::{HeaderMap, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sharetoken::bootstrap::{
    DEMO_CLIENT_ID, DEMO_SECRET_FILE, OBJECTS_DIR, SAMPLE_KEY, SAMPLE_TEXT,
};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_sharetoken");
const OAUTH: &str = "/baas/auth/v1.0/oauth2/token";
const MINT: &str = "/u-route/baas/sys/v1.1/connectors/objectstorageproxy/local/sharetoken";
const VIEW: &str = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject";
const PASETO: &str = "v4.local.";
const STARTUP: Duration = Duration::from_secs(30);

/// A `sharetoken` command with an environment of the test's choosing only:
/// nothing `SHARETOKEN*` leaks in from the developer's shell, and the
/// loopback server is never reached through a proxy.
fn command(envs: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name
            .to_string_lossy()
            .to_ascii_uppercase()
            .starts_with("SHARETOKEN")
        {
            cmd.env_remove(name);
        }
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (name, value) in envs {
        cmd.env(name, value);
    }
    cmd
}

/// Runs `sharetoken <args>` with `stdin` as standard input.
fn run(args: &[&str], envs: &[(&str, String)], stdin: &[u8]) -> Output {
    let mut child = command(envs)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sharetoken binary starts");
    let mut input = child.stdin.take().expect("a piped stdin");
    input.write_all(stdin).expect("stdin accepts the input");
    drop(input);
    child.wait_with_output().expect("sharetoken finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// A port nobody listens on right now (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `sharetoken serve` in its own data directory, killed on drop.
struct Served {
    child: Child,
    listen: String,
    base: String,
    data_dir: PathBuf,
    stdout_log: PathBuf,
    stderr_log: PathBuf,
    http: reqwest::Client,
    // Last field: removed after the child is killed.
    dir: TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts the server and waits until `/healthz` answers 200. A port taken
    /// between [`free_port`] and the server's bind is retried with another.
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`start`](Self::start), with more environment for the server.
    async fn start_with(extra: &[(&'static str, String)]) -> Self {
        for _attempt in 0..3 {
            match Self::try_start(extra).await {
                Ok(served) => return served,
                Err(logs) if logs.contains("cannot listen") => continue,
                Err(logs) => panic!("sharetoken serve did not become healthy:\n{logs}"),
            }
        }
        panic!("sharetoken serve found no free port in three attempts");
    }

    async fn try_start(extra: &[(&'static str, String)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = dir.path().join("data");
        let stdout_log = dir.path().join("serve.stdout.log");
        let stderr_log = dir.path().join("serve.stderr.log");
        let listen = format!("127.0.0.1:{}", free_port());
        let mut env = Self::env_for(&listen, &data_dir);
        env.extend_from_slice(extra);
        let child = command(&env)
            .arg("serve")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_log).expect("a stdout log file"))
            .stderr(fs::File::create(&stderr_log).expect("a stderr log file"))
            .spawn()
            .expect("sharetoken serve starts");
        let mut served = Self {
            child,
            base: format!("http://{listen}"),
            listen,
            data_dir,
            stdout_log,
            stderr_log,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            dir,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = served.child.try_wait().expect("the child's status") {
                return Err(format!("exited with {status}:\n{}", served.logs()));
            }
            if let Ok(answer) = served.http.get(served.url("/healthz")).send().await {
                if answer.status() == StatusCode::OK {
                    return Ok(served);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no 200 from /healthz in {STARTUP:?}:\n{}",
                    served.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn env_for(listen: &str, data_dir: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("SHARETOKEN__SERVER__LISTEN", listen.to_owned()),
            (
                "SHARETOKEN__SERVER__DATA_DIR",
                data_dir.display().to_string(),
            ),
            ("RUST_LOG", "debug".to_owned()),
        ]
    }

    /// The environment the server was started with, for the admin commands.
    fn env(&self) -> Vec<(&'static str, String)> {
        Self::env_for(&self.listen, &self.data_dir)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_log).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Everything the server wrote so far, standard output first.
    fn logs(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Kills the server and returns everything it wrote.
    fn stop(&mut self) -> String {
        self.child.kill().expect("the server can be killed");
        self.child.wait().expect("the server is reaped");
        self.logs()
    }

    fn demo_secret(&self) -> String {
        fs::read_to_string(self.data_dir.join(DEMO_SECRET_FILE))
            .expect("the demo client secret file")
            .trim()
            .to_owned()
    }

    /// `sharetoken <args>` against this server, with the server's environment.
    async fn admin(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env = self.env();
        let cwd = self.dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut cmd = command(&env);
            cmd.args(&args).current_dir(cwd).stdin(Stdio::null());
            cmd.output().expect("sharetoken runs")
        })
        .await
        .expect("the admin command's thread")
    }

    async fn access_token(&self) -> String {
        let answer = self
            .http
            .post(self.url(OAUTH))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", self.demo_secret().as_str()),
            ])
            .send()
            .await
            .expect("the token endpoint answers");
        assert_eq!(answer.status(), StatusCode::OK);
        let body: Value = answer.json().await.expect("a JSON answer");
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().expect("an access_token");
        assert!(token.starts_with(PASETO), "{token}");
        token.to_owned()
    }

    /// POST to the mint endpoint with `auth` as the only credential header.
    async fn mint_raw(&self, auth: (&str, String), body: &Value) -> Response {
        self.http
            .post(self.url(MINT))
            .header(auth.0, auth.1)
            .json(body)
            .send()
            .await
            .expect("the mint endpoint answers")
    }

    /// Mints a one-hour file token for `key`: (shareToken, tokenId).
    async fn mint(&self, auth: (&str, String), key: &str) -> (String, String) {
        let answer = self
            .mint_raw(
                auth,
                &json!({"shareType": 0, "key": key, "timeoutInMinutes": 60}),
            )
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "minting {key}");
        let body: Value = answer.json().await.expect("a JSON answer");
        assert_eq!(body["resCode"], "0");
        let token = body["result"]["shareToken"].as_str().expect("a shareToken");
        let id = body["result"]["tokenId"].as_str().expect("a tokenId");
        assert!(token.starts_with(PASETO), "{token}");
        assert!(!id.is_empty());
        assert!(!token.contains(id), "the token id is not the token");
        (token.to_owned(), id.to_owned())
    }

    fn view_url(&self, object: &str, token: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("object", object)
            .append_pair("shareToken", token)
            .finish();
        self.url(&format!("{VIEW}?{query}"))
    }

    async fn view(&self, object: &str, token: &str) -> Response {
        self.view_with(object, token, None).await
    }

    async fn view_with(&self, object: &str, token: &str, range: Option<&str>) -> Response {
        let mut request = self.http.get(self.view_url(object, token));
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        request.send().await.expect("the view endpoint answers")
    }
}

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .map(|v| v.to_str().expect("an ASCII header"))
        .unwrap_or("")
}

#[test]
fn keygen_prints_one_fresh_k4_local_key_per_run() {
    let first = run(&["keygen"], &[], b"");
    let second = run(&["keygen"], &[], b"");
    let mut keys = Vec::new();
    for out in [first, second] {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out.stderr), "");
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{stdout:?}");
        assert!(stdout.ends_with('\n'), "{stdout:?}");
        let key = lines[0];
        let material = key
            .strip_prefix("k4.local.")
            .expect("a PASERK k4.local key");
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(material, None)
            .expect("unpadded base64url key material");
        assert_eq!(bytes.len(), 32, "a v4.local key is 32 bytes");
        keys.push(key.to_owned());
    }
    assert_ne!(keys[0], keys[1], "two runs print two different keys");
}

#[test]
fn hash_secret_prints_an_argon2id_hash_that_verifies_the_secret() {
    let out = run(&["hash-secret"], &[], b"secret\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        "",
        "no prompt when stdin is not a terminal"
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout:?}");
    let phc = lines[0];
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    let hash = PasswordHash::new(phc).expect("a PHC string");
    assert!(Argon2::default().verify_password(b"secret", &hash).is_ok());
    assert!(
        Argon2::default()
            .verify_password(b"secret\n", &hash)
            .is_err(),
        "the line ending is not part of the secret"
    );
    let again = run(&["hash-secret"], &[], b"secret\n");
    assert_ne!(text(&again.stdout), stdout, "each hash has its own salt");
}

#[test]
fn hash_secret_refuses_an_empty_secret_with_a_message_on_stderr() {
    for input in [&b""[..], b"\n", b"\r\n"] {
        let out = run(&["hash-secret"], &[], input);
        assert!(!out.status.success(), "{input:?}: {out:?}");
        assert_eq!(out.status.code(), Some(1), "{input:?}");
        assert_eq!(text(&out.stdout), "", "{input:?}");
        assert_eq!(
            text(&out.stderr),
            "sharetoken: the secret is empty\n",
            "{input:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_mints_views_and_the_revoke_command_ends_a_share_link() {
    let served = Served::start().await;

    let banner = served.stdout();
    assert!(banner.contains("client_id=demo"), "{banner}");
    assert!(
        banner.contains(&format!("sharetoken listening on {}", served.base)),
        "{banner}"
    );
    assert!(
        banner.contains("connector objectstorageproxy/local"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("sample object: {SAMPLE_KEY}")),
        "{banner}"
    );
    assert_eq!(
        fs::read_to_string(served.data_dir.join(OBJECTS_DIR).join(SAMPLE_KEY)).unwrap(),
        SAMPLE_TEXT
    );

    let access = served.access_token().await;
    let (token, token_id) = served.mint(("access-token", access), SAMPLE_KEY).await;

    // The URL carries the token percent-encoded, exactly once.
    let url = served.view_url(SAMPLE_KEY, &token);
    assert!(
        url.contains("object=samples%2Fhello.txt&shareToken=v4.local."),
        "{url}"
    );
    let answer = served.view(SAMPLE_KEY, &token).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        header(answer.headers(), CONTENT_LENGTH),
        SAMPLE_TEXT.len().to_string()
    );
    assert_eq!(header(answer.headers(), ACCEPT_RANGES), "bytes");
    assert!(
        header(answer.headers(), CONTENT_TYPE).starts_with("text/plain"),
        "{:?}",
        answer.headers()
    );
    assert_eq!(&answer.bytes().await.unwrap()[..], SAMPLE_TEXT.as_bytes());

    let out = served.admin(&["revoke", &token_id]).await;
    assert!(out.status.success(), "{out:?}\n{}", served.logs());
    assert_eq!(text(&out.stderr), "");
    let revoked: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(revoked["state"], "revoked", "{revoked}");
    assert_eq!(revoked["tokenId"], token_id.as_str(), "{revoked}");
    assert_eq!(revoked["client"], DEMO_CLIENT_ID, "{revoked}");
    assert!(revoked["revokedAt"].is_string(), "{revoked}");

    let answer = served.view(SAMPLE_KEY, &token).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(answer.headers(), "cache-control"), "no-store");
    let body: Value = answer.json().await.expect("a JSON error body");
    assert_eq!(body["resCode"], "ST.ShareTokenRevoked", "{body}");

    // Revoking again is idempotent; an unknown id is an error on stderr.
    let again = served.admin(&["revoke", &token_id]).await;
    assert!(again.status.success(), "{again:?}");
    let again: Value = serde_json::from_slice(&again.stdout).expect("JSON on stdout");
    assert_eq!(again["state"], "revoked");
    let unknown = served.admin(&["revoke", "no-such-token-id"]).await;
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert_eq!(text(&unknown.stdout), "");
    assert!(
        text(&unknown.stderr).starts_with("sharetoken: 404 Not Found"),
        "{unknown:?}"
    );
}

/// An HTTP/1.1 GET written by hand; reads `keep` bytes of the answer, then
/// drops the connection in the middle of the body.
fn abort_mid_download(listen: &str, path_and_query: &str, keep: usize) -> Vec<u8> {
    let mut socket = TcpStream::connect(listen).expect("the server accepts");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "GET {path_and_query} HTTP/1.1\r\nHost: {listen}\r\nUser-Agent: l1-abort\r\n\r\n"
    )
    .unwrap();
    let mut received = vec![0u8; keep];
    socket.read_exact(&mut received).expect("the first bytes");
    drop(socket);
    received
}

/// The token, and pieces of its encrypted body (the footer, a key id that
/// every token of one key shares, is public and left out).
fn token_fragments(token: &str) -> Vec<String> {
    let rest = token.strip_prefix(PASETO).expect("a v4.local token");
    let body = rest.split('.').next().expect("a token body");
    assert!(body.len() > 64, "a sealed token body: {token}");
    vec![
        token.to_owned(),
        form_urlencoded::byte_serialize(token.as_bytes()).collect(),
        body.to_owned(),
        body[..32].to_owned(),
        body[body.len() - 32..].to_owned(),
    ]
}

/// `token` with one character of its sealed body changed.
fn forge(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let at = PASETO.len() + 40;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Where `text` holds a `v4.local.` string (any case) or a piece of one of
/// `secrets`, one message per leak.
fn leaks(what: &str, text: &str, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    if text.to_ascii_lowercase().contains(PASETO) {
        found.push(format!("{what}: a v4.local. string leaked: {text}"));
    }
    for secret in secrets {
        if let Some(fragment) = token_fragments(secret)
            .into_iter()
            .find(|f| text.contains(f.as_str()))
        {
            found.push(format!("{what}: the token fragment {fragment} leaked"));
        }
    }
    found
}

fn assert_no_token(what: &str, text: &str, secrets: &[String]) {
    let found = leaks(what, text, secrets);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Case L1 (../shared/cases/README.md).
async fn l1_tokens_never_appear_in_logs_or_error_bodies() {
    let mut served = Served::start().await;
    let access = served.access_token().await;
    let big = served.data_dir.join(OBJECTS_DIR).join("big.bin");
    let big_len: usize = 20 * 1024 * 1024;
    fs::write(&big, vec![0x5au8; big_len]).expect("the large object is written");

    // Both ways of presenting the access token, on mint calls.
    let (sample, _) = served
        .mint(("access-token", access.clone()), SAMPLE_KEY)
        .await;
    let (missing, _) = served
        .mint(
            ("Authorization", format!("Bearer {access}")),
            "samples/missing.txt",
        )
        .await;
    let (large, _) = served
        .mint(("access-token", access.clone()), "big.bin")
        .await;
    let (revoked, revoked_id) = served
        .mint(("Authorization", format!("Bearer {access}")), SAMPLE_KEY)
        .await;
    let out = served.admin(&["revoke", &revoked_id]).await;
    assert!(out.status.success(), "{out:?}");

    let mut secrets = vec![
        access.clone(),
        sample.clone(),
        missing.clone(),
        large.clone(),
        revoked.clone(),
    ];
    // A forged token (one character of its sealed body changed), and a
    // string that only looks like a token.
    let forged = forge(&sample);
    secrets.push(forged.clone());
    let garbage = format!("{PASETO}{}", "bm90LWEtdG9rZW4tYXQtYWxs".repeat(4));
    secrets.push(garbage.clone());

    let mut error_bodies: Vec<(String, StatusCode, HeaderMap, String)> = Vec::new();
    let mut views = 0;

    // 200
    let answer = served.view(SAMPLE_KEY, &sample).await;
    views += 1;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(&answer.bytes().await.unwrap()[..], SAMPLE_TEXT.as_bytes());

    // The error answers: (what, answer, status, resCode).
    let cases: Vec<(&str, Response, StatusCode, &str)> = vec![
        (
            "forged token",
            served.view(SAMPLE_KEY, &forged).await,
            StatusCode::UNAUTHORIZED,
            "ST.ShareTokenInvalid",
        ),
        (
            "not a token at all",
            served.view(SAMPLE_KEY, &garbage).await,
            StatusCode::UNAUTHORIZED,
            "ST.ShareTokenInvalid",
        ),
        (
            "revoked token",
            served.view(SAMPLE_KEY, &revoked).await,
            StatusCode::UNAUTHORIZED,
            "ST.ShareTokenRevoked",
        ),
        (
            "access token used as a share token",
            served.view(SAMPLE_KEY, &access).await,
            StatusCode::UNAUTHORIZED,
            "ST.ShareTokenInvalid",
        ),
        (
            "object outside the scope",
            served.view("big.bin", &sample).await,
            StatusCode::FORBIDDEN,
            "ST.ObjectOutOfScope",
        ),
        (
            "missing object",
            served.view("samples/missing.txt", &missing).await,
            StatusCode::NOT_FOUND,
            "ST.ObjectNotFound",
        ),
        (
            "range past the end",
            served
                .view_with(SAMPLE_KEY, &sample, Some("bytes=5000-"))
                .await,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "ST.RangeNotSatisfiable",
        ),
    ];
    views += cases.len();
    for (what, answer, status, code) in cases {
        assert_eq!(answer.status(), status, "{what}");
        let headers = answer.headers().clone();
        let body = answer.text().await.unwrap();
        let json: Value = serde_json::from_str(&body).expect("a JSON error body");
        assert_eq!(json["resCode"], code, "{what}: {body}");
        error_bodies.push((what.to_owned(), status, headers, body));
    }
    let range_answer = &error_bodies.last().unwrap().2;
    assert_eq!(
        header(range_answer, CONTENT_RANGE),
        format!("bytes */{}", SAMPLE_TEXT.len())
    );

    // 401 on mint: a forged access token, in either header.
    let forged_access = forge(&access);
    secrets.push(forged_access.clone());
    let body = json!({"shareType": 0, "key": SAMPLE_KEY, "timeoutInMinutes": 60});
    for (what, auth) in [
        (
            "forged access-token header",
            ("access-token", forged_access.clone()),
        ),
        (
            "forged Authorization: Bearer",
            ("Authorization", format!("Bearer {forged_access}")),
        ),
    ] {
        let answer = served.mint_raw(auth, &body).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        let headers = answer.headers().clone();
        assert_eq!(header(&headers, "www-authenticate"), "Bearer", "{what}");
        let text = answer.text().await.unwrap();
        let json: Value = serde_json::from_str(&text).expect("a JSON error body");
        assert_eq!(json["resCode"], "ST.AccessTokenInvalid", "{what}: {text}");
        error_bodies.push((what.to_owned(), StatusCode::UNAUTHORIZED, headers, text));
    }

    // A client that goes away in the middle of a 20 MiB download.
    let view_path = served.view_url("big.bin", &large);
    let view_path = view_path.strip_prefix(&served.base).unwrap();
    let head = abort_mid_download(&served.listen, view_path, 8 * 1024);
    views += 1;
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {big_len}\r\n")),
        "{head}"
    );

    for (what, status, headers, body) in &error_bodies {
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert_no_token(
                &format!("{what} ({status}): header {name}"),
                &value,
                &secrets,
            );
        }
        assert_no_token(&format!("{what} ({status}): body"), body, &secrets);
    }

    // The server is still well after the abort, and has logged every view
    // (the aborted one when it noticed the client was gone).
    let healthy = served
        .http
        .get(served.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(15);
    while served.stderr().matches("viewshareobject").count() < views {
        assert!(
            Instant::now() < deadline,
            "expected {views} view access-log lines:\n{}",
            served.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let logs = served.stop();
    assert!(!logs.is_empty());
    let access_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("viewshareobject"))
        .collect();
    assert_eq!(access_lines.len(), views, "{logs}");
    for status in ["200", "401", "403", "404", "416"] {
        assert!(
            access_lines
                .iter()
                .any(|l| l.contains(&format!("\" {status} "))),
            "no access-log line with status {status}:\n{logs}"
        );
    }
    assert!(
        access_lines
            .iter()
            .any(|l| l.contains("object=big.bin&shareToken=REDACTED") && l.contains("l1-abort")),
        "no access-log line for the aborted download:\n{logs}"
    );
    assert!(
        access_lines
            .iter()
            .all(|l| l.contains("shareToken=REDACTED")),
        "{logs}"
    );
    assert!(
        logs.contains("/sharetoken"),
        "mint calls are logged too:\n{logs}"
    );
    assert!(
        logs.contains(" DEBUG "),
        "RUST_LOG=debug took effect:\n{logs}"
    );
    assert_no_token("the server log", &logs, &secrets);
}

/// L1 for the whole kind: a token pasted where the server does not expect
/// it (a bare or misnamed query parameter, a path segment, an admin filter)
/// must not come back in the error body nor reach the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Case L1 (../shared/cases/README.md).
async fn l1_tokens_sent_in_unexpected_places_are_neither_echoed_nor_logged() {
    let mut served = Served::start().await;
    let access = served.access_token().await;
    let (token, _) = served
        .mint(("access-token", access.clone()), SAMPLE_KEY)
        .await;
    let secrets = vec![access.clone(), token.clone()];
    let mut found = Vec::new();
    let object = form_urlencoded::byte_serialize(SAMPLE_KEY.as_bytes()).collect::<String>();

    // The token as a user agent: the access log quotes user agents.
    let answer = served
        .http
        .get(served.url("/healthz"))
        .header("user-agent", format!("agent {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    // Anonymous requests: the token as a bare parameter or under another name.
    for (path, status) in [
        (format!("/healthz?{token}"), StatusCode::OK),
        (
            format!("{VIEW}?object={object}&shareToken=x&{token}=1"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            format!("{VIEW}?object={object}&{token}"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("/{token}"), StatusCode::NOT_FOUND),
    ] {
        let answer = served.http.get(served.url(&path)).send().await.unwrap();
        assert_eq!(answer.status(), status, "{path}");
        let body = answer.text().await.unwrap();
        found.extend(leaks(&format!("GET {path}: body"), &body, &secrets));
    }

    // Authenticated requests whose path or query holds the token.
    let mint_body = json!({"shareType": 0, "key": SAMPLE_KEY, "timeoutInMinutes": 60});
    for (method, path, status) in [
        (
            "POST",
            format!("/u-route/baas/sys/v1.1/connectors/objectstorageproxy/{token}/sharetoken"),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            format!("/u-route/baas/sys/v1.1/connectors/{token}/local/sharetoken"),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            format!("/admin/v1/tokens?state={token}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            format!("/admin/v1/tokens?{token}=1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            format!("/admin/v1/tokens/{token}"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let request = if method == "POST" {
            served.http.post(served.url(&path)).json(&mint_body)
        } else {
            served.http.get(served.url(&path))
        };
        let answer = request
            .header("access-token", access.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{method} {path}");
        let body = answer.text().await.unwrap();
        found.extend(leaks(&format!("{method} {path}: body"), &body, &secrets));
    }

    // Client credentials wrongly sent in the token endpoint's URL.
    let client_secret = served.demo_secret();
    let query = format!(
        "{OAUTH}?grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={client_secret}"
    );
    let post = served.http.post(served.url(&query)).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::BAD_REQUEST);
    let get = served.http.get(served.url(&query)).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);

    let logs = served.stop();
    assert!(logs.contains("/admin/v1/tokens"), "{logs}");
    assert!(logs.contains("client_secret=REDACTED"), "{logs}");
    for line in logs.lines() {
        found.extend(leaks("server log line", line, &secrets));
        // The start banner prints the demo secret once; nothing else may.
        if line.contains(&client_secret) && !line.trim_start().starts_with("demo client:") {
            found.push(format!("the client secret leaked: {line}"));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[tokio::test]
async fn the_admin_commands_list_show_audit_and_revoke_in_bulk() {
    let served = Served::start().await;
    let access = served.access_token().await;
    let (token, jti) = served
        .mint(("access-token", access.clone()), SAMPLE_KEY)
        .await;
    assert_eq!(
        served.view(SAMPLE_KEY, &token).await.status(),
        StatusCode::OK
    );

    let listed = served.admin(&["tokens", "--state", "active"]).await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["tokens"][0]["tokenId"], jti.as_str());
    assert_eq!(listed["tokens"][0]["client"], DEMO_CLIENT_ID);

    // The audit writer runs off the request path: wait for mint and view.
    let mut shown = Value::Null;
    for _ in 0..100 {
        let output = served.admin(&["tokens", &jti]).await;
        assert!(output.status.success(), "{}", text(&output.stderr));
        shown = serde_json::from_slice(&output.stdout).unwrap();
        if shown["audit"].as_array().map(Vec::len) == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kinds: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mint", "view"]);

    let audit = served
        .admin(&["audit", "--since", "2000-01-01T00:00:00Z", "--limit", "10"])
        .await;
    assert!(audit.status.success());
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert!(audit["events"].as_array().unwrap().len() >= 2);

    let bulk = served
        .admin(&["revoke", "--connector", "objectstorageproxy/local"])
        .await;
    assert!(bulk.status.success(), "{}", text(&bulk.stderr));
    let bulk: Value = serde_json::from_slice(&bulk.stdout).unwrap();
    assert_eq!(bulk["scope"], "connector objectstorageproxy/local");
    let refused = served.view(SAMPLE_KEY, &token).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let bad = served.admin(&["tokens", "--state", "sleeping"]).await;
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).starts_with("sharetoken: 400 Bad Request"),
        "{}",
        text(&bad.stderr)
    );
    let none = served.admin(&["revoke"]).await;
    assert!(!none.status.success());
}

#[test]
fn check_config_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        r#"
[server]
listen = "nowhere"
max_body_bytes = 0

[tokens]
keys = ["k4.local.nope"]

[store]
kind = "redis"

[store.redis]
url = "http//bad"

[[connectors]]
type = "s4"
name = "x"
backend = "local"
root = "/does/not/exist"

[[connectors]]
type = "minio"
name = "clear"
backend = "s3"
endpoint = "http://minio.internal:9000"
region = "us-east-1"
bucket = "b"

[[clients]]
id = "app"
secret_hash = "plain"
roles = ["share", "god"]
connectors = ["obs/none"]

[[clients]]
id = "app"
secret_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$SGjqP1rY0kgeLOI6Q3aHLhTMdWqCH7Fl5hrIUr8P5bM"
"#,
    )
    .unwrap();
    let output = run(
        &["--config", config.to_str().unwrap(), "check-config"],
        &[],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        "- server.listen: 'nowhere' is not an address to listen on\n\
         - server.max_body_bytes: must be greater than 0\n\
         - tokens.keys[0]: not a PASERK k4.local key (make one with `sharetoken keygen`)\n\
         - store.redis: 'http//bad' is not a Redis URL\n\
         - connectors[0] (s4/x): type must be obs, minio or objectstorageproxy\n\
         - connectors[0] (s4/x): root /does/not/exist is not a directory (the connector would answer 502)\n\
         - connectors[1] (minio/clear): endpoint 'http://minio.internal:9000' is plain http:// and allow_http is false (the connector would answer 502)\n\
         - clients[0] (app): secret_hash is not an argon2 PHC string (make one with `sharetoken hash-secret`)\n\
         - clients[0] (app): unknown role 'god' (use share or admin)\n\
         - clients[0] (app): connector 'obs/none' is not configured\n\
         - clients[1] (app): the id is configured twice\n"
    );
    assert_eq!(
        text(&output.stderr),
        "sharetoken: 11 problem(s) in the configuration\n"
    );

    // A good configuration (the environment overrides the file, as `serve`).
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let output = run(
        &["--config", good.to_str().unwrap(), "check-config"],
        &[("SHARETOKEN__STORE__KIND", "embedded".into())],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert_eq!(
        text(&output.stdout),
        "configuration OK: store embedded, 1 connector(s), 0 client(s)\n"
    );
    let output = run(
        &["check-config"],
        &[("SHARETOKEN__STORE__KIND", "mongo".into())],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        "- store.kind: 'mongo' is not a store (use embedded or redis)\n"
    );
}

#[test]
fn a_client_secret_hash_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let hash_file = dir.path().join("app-secret-hash");
    std::fs::write(
        &hash_file,
        format!("{}\n", sharetoken::auth::hash_secret("s")),
    )
    .unwrap();
    let config = |extra: &str| {
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[[clients]]\nid = \"app\"\nsecret_hash_file = \"{}\"\n{extra}",
                hash_file.display()
            ),
        )
        .unwrap();
        run(
            &["--config", path.to_str().unwrap(), "check-config"],
            &[],
            b"",
        )
    };
    let output = config("");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert_eq!(
        text(&output.stdout),
        "configuration OK: store embedded, 1 connector(s), 1 client(s)\n"
    );

    let output = config("secret_hash = \"$argon2id$v=19$x\"\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "sharetoken: configuration: client 'app': give secret_hash or secret_hash_file, not both\n"
    );

    std::fs::remove_file(&hash_file).unwrap();
    let output = config("");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).starts_with(&format!(
            "sharetoken: configuration: client 'app': cannot read secret_hash_file {}: ",
            hash_file.display()
        )),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn text_access_lines_carry_the_request_id_and_the_token_id() {
    let mut served = Served::start().await;
    let access = served.access_token().await;
    let (token, jti) = served.mint(("access-token", access), SAMPLE_KEY).await;
    let answer = served
        .http
        .get(served.view_url(SAMPLE_KEY, &token))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.stderr().contains("request_id=trace-42") {
        assert!(Instant::now() < deadline, "{}", served.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = served.stop();
    let line = logs
        .lines()
        .find(|l| l.contains("request_id=trace-42"))
        .unwrap();
    assert!(line.contains("shareToken=REDACTED\" 200 "), "{line}");
    assert!(line.ends_with(&format!("token_id={jti}")), "{line}");
    // A request about no token says so.
    assert!(
        logs.lines()
            .any(|l| l.contains("POST /baas/auth/v1.0/oauth2/token") && l.ends_with("token_id=-")),
        "{logs}"
    );
}

#[test]
fn help_documents_every_command() {
    let output = run(&["--help"], &[], b"");
    assert!(output.status.success());
    let help = text(&output.stdout);
    for command in [
        "serve",
        "check-config",
        "keygen",
        "hash-secret",
        "revoke",
        "tokens",
        "audit",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("{command} is not in --help:\n{help}"));
        // A description follows the name.
        assert!(line.trim_start().len() > command.len() + 10, "{line}");
        let sub = run(&[command, "--help"], &[], b"");
        assert!(sub.status.success(), "{command} --help");
        assert!(text(&sub.stdout).contains("Usage: sharetoken"), "{command}");
    }
}

#[tokio::test]
async fn json_logs_carry_request_id_route_status_bytes_latency_and_token_id() {
    let server = Served::start_with(&[("SHARETOKEN__LOG__FORMAT", "json".into())]).await;
    let access = server.access_token().await;
    let answer = server
        .http
        .post(server.url(MINT))
        .header("access-token", &access)
        .header("x-request-id", "mint-1")
        .json(&json!({"shareType": 0, "key": SAMPLE_KEY, "timeoutInMinutes": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "mint-1");
    let body: Value = answer.json().await.unwrap();
    let token = body["result"]["shareToken"].as_str().unwrap().to_owned();
    let jti = body["result"]["tokenId"].as_str().unwrap().to_owned();
    let viewed = server.view(SAMPLE_KEY, &token).await;
    let view_id = viewed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let sample = viewed.bytes().await.unwrap();
    // A request id that could carry a token is replaced, not echoed.
    let refused = server
        .http
        .get(server.view_url("other", &token))
        .header("x-request-id", &token[..40])
        .send()
        .await
        .unwrap();
    assert_ne!(refused.headers()["x-request-id"], &token[..40]);
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = server.stderr();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access_line = |request_id: &str| {
        lines
            .iter()
            .find(|l| l["type"] == "access" && l["request_id"] == request_id)
            .unwrap_or_else(|| panic!("no access line for {request_id}:\n{logs}"))
            .clone()
    };
    let mint = access_line("mint-1");
    assert_eq!(mint["status"], 200);
    assert_eq!(mint["token_id"], jti.as_str());
    assert_eq!(
        mint["route"],
        "/u-route/baas/sys/v1.1/connectors/{connector_type}/{connector_name}/sharetoken"
    );
    let view = access_line(&view_id);
    assert_eq!(view["status"], 200);
    assert_eq!(view["token_id"], jti.as_str());
    assert_eq!(view["bytes"], sample.len());
    assert!(view["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(view["route"], VIEW);
    assert!(view["request"]
        .as_str()
        .unwrap()
        .ends_with("&shareToken=REDACTED"));
    // Other records are JSON too, with a level and a message.
    assert!(lines
        .iter()
        .any(|l| l["level"] == "INFO" && l["msg"].as_str().is_some_and(|m| m.contains(&jti))));
    assert_no_token("JSON logs", &logs, &[token]);
}

#[tokio::test]
async fn a_request_the_server_cannot_parse_is_logged_as_the_clients_mistake_not_an_error() {
    let mut served = Served::start().await;
    let mut socket = TcpStream::connect(&served.listen).expect("the server accepts");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(
        text(&answer).starts_with("HTTP/1.1 400 "),
        "{}",
        text(&answer)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.stderr().contains("request parse error") {
        assert!(Instant::now() < deadline, "{}", served.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = served.stop();
    let line = logs
        .lines()
        .find(|l| l.contains("request parse error"))
        .unwrap();
    assert!(line.contains(" INFO "), "{line}");
    assert!(!logs.contains(" ERROR "), "{logs}");
}
