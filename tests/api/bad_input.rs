//! The bad input catalogue: every public endpoint fed malformed and hostile
//! input. Each answer is a clear error in the project's body (never a 500,
//! never a panic), and nothing is written for a refused request.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const TOKEN_PATH: &str = "/baas/auth/v1.0/oauth2/token";

/// Sends one request and asserts the project's error body with `status`;
/// returns `resCode`.
async fn refused(request: reqwest::RequestBuilder, status: StatusCode, case: &str) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), status, "{case}");
    assert_error(response, status).await
}

#[tokio::test]
async fn mint_bodies_of_every_wrong_shape_and_type_are_400() {
    let app = spawn_app().await;
    let access = app.access_token(SHARER).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long_key = "k".repeat(1025);
    let cases: Vec<(String, &str)> = vec![
        // Not JSON, or not an object.
        (String::new(), "not JSON"),
        ("not json".into(), "not JSON"),
        ("{".into(), "truncated"),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":5} x"#.into(),
            "trailing text",
        ),
        ("null".into(), "null"),
        ("42".into(), "a number"),
        (r#""text""#.into(), "a string"),
        ("[]".into(), "an array"),
        (deep, "nested 5000 deep"),
        ("<xml/>".into(), "XML"),
        // shareType: missing, null, wrong type, out of range.
        (
            r#"{"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType missing",
        ),
        (
            r#"{"shareType":null,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType null",
        ),
        (
            r#"{"shareType":"0","key":"a","timeoutInMinutes":5}"#.into(),
            "shareType string",
        ),
        (
            r#"{"shareType":0.5,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType float",
        ),
        (
            r#"{"shareType":-1,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType negative",
        ),
        (
            r#"{"shareType":3,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType 3",
        ),
        (
            r#"{"shareType":256,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType 256",
        ),
        (
            r#"{"shareType":true,"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType bool",
        ),
        (
            r#"{"shareType":[0],"key":"a","timeoutInMinutes":5}"#.into(),
            "shareType array",
        ),
        // key: wrong types and broken rules.
        (
            r#"{"shareType":0,"key":5,"timeoutInMinutes":5}"#.into(),
            "key number",
        ),
        (
            r#"{"shareType":0,"key":["a"],"timeoutInMinutes":5}"#.into(),
            "key array",
        ),
        (
            r#"{"shareType":0,"key":{"a":1},"timeoutInMinutes":5}"#.into(),
            "key object",
        ),
        (
            r#"{"shareType":0,"key":"","timeoutInMinutes":5}"#.into(),
            "key empty",
        ),
        (
            r#"{"shareType":0,"key":"a//b","timeoutInMinutes":5}"#.into(),
            "key a//b",
        ),
        (
            r#"{"shareType":0,"key":"a\u0000b","timeoutInMinutes":5}"#.into(),
            "key NUL",
        ),
        (
            r#"{"shareType":0,"key":"a\nb","timeoutInMinutes":5}"#.into(),
            "key LF",
        ),
        (
            r#"{"shareType":0,"key":"a\u007fb","timeoutInMinutes":5}"#.into(),
            "key DEL",
        ),
        (
            r#"{"shareType":0,"key":"..","timeoutInMinutes":5}"#.into(),
            "key ..",
        ),
        (
            r#"{"shareType":0,"key":"\ud800","timeoutInMinutes":5}"#.into(),
            "lone surrogate",
        ),
        (
            json!({"shareType": 0, "key": long_key, "timeoutInMinutes": 5}).to_string(),
            "key 1025 bytes",
        ),
        // keys: wrong types.
        (
            r#"{"shareType":2,"keys":5,"timeoutInMinutes":5}"#.into(),
            "keys number",
        ),
        (
            r#"{"shareType":2,"keys":[1],"timeoutInMinutes":5}"#.into(),
            "keys [1]",
        ),
        (
            r#"{"shareType":2,"keys":[null],"timeoutInMinutes":5}"#.into(),
            "keys [null]",
        ),
        (
            r#"{"shareType":2,"keys":{"a":1},"timeoutInMinutes":5}"#.into(),
            "keys object",
        ),
        (
            r#"{"shareType":2,"keys":[],"timeoutInMinutes":5}"#.into(),
            "keys empty",
        ),
        (
            r#"{"shareType":2,"keys":[["a"]],"timeoutInMinutes":5}"#.into(),
            "keys nested",
        ),
        (
            r#"{"shareType":1,"keys":["dir"],"timeoutInMinutes":5}"#.into(),
            "directory without /",
        ),
        // timeoutInMinutes: every wrong type.
        (r#"{"shareType":0,"key":"a"}"#.into(), "timeout missing"),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":null}"#.into(),
            "timeout null",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":"5"}"#.into(),
            "timeout string",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":true}"#.into(),
            "timeout bool",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":5.0}"#.into(),
            "timeout 5.0",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":1e3}"#.into(),
            "timeout 1e3",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":[5]}"#.into(),
            "timeout array",
        ),
        (
            r#"{"shareType":0,"key":"a","timeoutInMinutes":99999999999999999999999}"#.into(),
            "timeout huge",
        ),
        // The same field twice.
        (
            r#"{"shareType":0,"key":"a","key":"b","timeoutInMinutes":5}"#.into(),
            "key twice",
        ),
    ];
    for (body, case) in cases {
        let request = app
            .http
            .post(app.mint_url(LOCAL.0, LOCAL.1))
            .header("access-token", &access)
            .header("content-type", "application/json")
            .body(body);
        let code = refused(request, StatusCode::BAD_REQUEST, case).await;
        assert!(
            code == "ST.InvalidMintRequest" || code == "ST.BadRequest",
            "{case}: {code}"
        );
    }
    // Bytes that are not UTF-8.
    let request = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .header("access-token", &access)
        .body(b"{\"shareType\":0,\"key\":\"\xff\xfe\",\"timeoutInMinutes\":5}".to_vec());
    refused(request, StatusCode::BAD_REQUEST, "invalid UTF-8").await;
    // Nothing was minted or recorded.
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_on_every_endpoint_that_reads_one() {
    let app = spawn_app().await;
    let access = app.access_token(ADMIN).await;
    let share_access = app.access_token(SHARER).await;
    let huge = "a".repeat(70_000);
    let endpoints = [
        (format!("{}{TOKEN_PATH}", app.address), String::new()),
        (app.mint_url(LOCAL.0, LOCAL.1), share_access),
        (format!("{}/admin/v1/revocations", app.address), access),
    ];
    for (url, token) in &endpoints {
        // With a declared length.
        let request = app
            .http
            .post(url)
            .header("access-token", token)
            .body(huge.clone());
        assert_eq!(
            refused(request, StatusCode::PAYLOAD_TOO_LARGE, url).await,
            "ST.PayloadTooLarge"
        );
        // Chunked, with no length declared: counted while read.
        let path = url.trim_start_matches(&app.address);
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\naccess-token: {token}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        for _ in 0..8 {
            request.push_str(&format!("2710\r\n{}\r\n", "a".repeat(10_000)));
        }
        request.push_str("0\r\n\r\n");
        let answer = raw_exchange(&app.address, request.as_bytes()).await;
        assert_eq!(status_of(&answer), 413, "{path}, chunked");
        assert!(String::from_utf8_lossy(&answer).contains(r#""resCode":"ST.PayloadTooLarge""#));
    }
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn oauth_requests_of_every_wrong_shape_are_400_or_401() {
    let app = spawn_app().await;
    let url = format!("{}{TOKEN_PATH}", app.address);
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, Vec<u8>, Option<&str>, StatusCode)> = vec![
        ("empty", vec![], None, StatusCode::BAD_REQUEST),
        (
            "JSON instead of a form",
            br#"{"grant_type":"client_credentials","client_id":"app","client_secret":"app-secret"}"#.to_vec(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid UTF-8",
            b"grant_type=client_credentials&client_id=\xff&client_secret=\xfe".to_vec(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "percent-encoded invalid UTF-8",
            b"grant_type=client_credentials&client_id=%FF&client_secret=%FE".to_vec(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "NUL in the id",
            b"grant_type=client_credentials&client_id=app%00&client_secret=app-secret".to_vec(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a 16 KiB secret",
            format!("grant_type=client_credentials&client_id=app&client_secret={}", "s".repeat(16 * 1024)).into_bytes(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "client_id twice",
            b"grant_type=client_credentials&client_id=app&client_id=ops&client_secret=x".to_vec(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "Basic that is not base64",
            b"grant_type=client_credentials".to_vec(),
            Some("Basic %%%"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "Basic without a colon",
            b"grant_type=client_credentials".to_vec(),
            Some("Basic YXBw"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "Bearer instead of Basic",
            b"grant_type=client_credentials".to_vec(),
            Some("Bearer x"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (case, body, authorization, status) in cases {
        let mut request = app.http.post(&url).header("content-type", form).body(body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let code = refused(request, status, case).await;
        let expected = if status == StatusCode::UNAUTHORIZED {
            "ST.InvalidClient"
        } else {
            "ST.BadRequest"
        };
        assert_eq!(code, expected, "{case}");
    }
}

#[tokio::test]
async fn access_tokens_of_every_wrong_shape_are_401() {
    let app = spawn_app().await;
    let share_token = app.share_files(&["k"]).await;
    let access = app.access_token(SHARER).await;
    let big = "A".repeat(16 * 1024);
    let truncated = &access[..access.len() - 5];
    let cases: Vec<(&str, String)> = vec![
        ("access-token", share_token.clone()),
        ("access-token", truncated.to_owned()),
        ("access-token", format!("{access}x")),
        ("access-token", "v4.local.".into()),
        ("access-token", "v4.public.eyJ9".into()),
        ("access-token", "v3.local.AAAA".into()),
        (
            "access-token",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAifQ.".into(),
        ),
        ("access-token", big.clone()),
        ("authorization", format!("Bearer {share_token}")),
        ("authorization", "Bearer".into()),
        ("authorization", format!("Bearer {big}")),
        ("authorization", "Basic YXBwOmFwcC1zZWNyZXQ=".into()),
        ("authorization", format!("Bearer  {truncated}")),
    ];
    for (header, value) in cases {
        let request = app
            .http
            .post(app.mint_url(LOCAL.0, LOCAL.1))
            .header(header, &value)
            .body(r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#);
        let code = refused(request, StatusCode::UNAUTHORIZED, header).await;
        assert!(
            code == "ST.AccessTokenInvalid" || code == "ST.AccessTokenMissing",
            "{header}: {code}"
        );
    }
    // A header value that is not text.
    let request = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .header(
            "access-token",
            reqwest::header::HeaderValue::from_bytes(b"v4.local.\xff\xfe").unwrap(),
        )
        .body(r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#);
    refused(request, StatusCode::UNAUTHORIZED, "non-text header").await;
    // Every refusal left the store as it was: one token, the share above.
    assert_eq!(app.token_records().await.len(), 1);
}

#[tokio::test]
async fn share_tokens_truncated_altered_re_encoded_or_foreign_are_401() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let token = app.share_files(&["k"]).await;
    let access = app.access_token(SHARER).await;
    let other_key = {
        let other = spawn_app().await;
        other.share_files(&["k"]).await
    };
    // Base64 with the standard alphabet instead of the URL-safe one.
    let std_alphabet = token.replace('-', "+").replace('_', "/");
    let mut cases: Vec<(&str, String)> = vec![
        ("access token", access),
        ("another key", other_key),
        ("truncated by half", token[..token.len() / 2].to_owned()),
        ("one character short", token[..token.len() - 1].to_owned()),
        ("one character more", format!("{token}A")),
        ("footer cut", token.rsplit_once('.').unwrap().0.to_owned()),
        ("lower case", token.to_lowercase()),
        (
            "upper-case header",
            token.replacen("v4.local.", "V4.LOCAL.", 1),
        ),
        ("v3 header", token.replacen("v4.local.", "v3.local.", 1)),
        ("v2 header", token.replacen("v4.local.", "v2.local.", 1)),
        (
            "public purpose",
            token.replacen("v4.local.", "v4.public.", 1),
        ),
        ("leading space", format!(" {token}")),
        (
            "a NUL inside",
            format!("{}\0{}", &token[..30], &token[30..]),
        ),
        (
            "JWT",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".into(),
        ),
        (
            "JWT alg none",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into(),
        ),
        ("16 KiB", format!("v4.local.{}", "A".repeat(16 * 1024))),
        ("only dots", "...".into()),
    ];
    if std_alphabet != token {
        cases.push(("standard base64 alphabet", std_alphabet));
    }
    for position in [9, token.len() / 2, token.len() - 60] {
        let mut bytes = token.clone().into_bytes();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        cases.push(("altered", String::from_utf8(bytes).unwrap()));
    }
    for (case, bad) in cases {
        let request = app
            .http
            .get(format!("{}{VIEW}?{}", app.address, view_query("k", &bad)));
        assert_eq!(
            refused(request, StatusCode::UNAUTHORIZED, case).await,
            "ST.ShareTokenInvalid",
            "{case}"
        );
    }
    // A token percent-encoded twice is decoded once: it is not the token.
    let twice = format!("%2576{}", &token[1..]);
    let response = app.view_raw(&format!("object=k&shareToken={twice}")).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );
    // And the right token still works.
    assert_eq!(app.view("k", &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn view_queries_with_hostile_objects_are_refused_before_the_backend() {
    let app = spawn_app().await;
    // 1024 bytes, in segments a file system accepts (at most 255 bytes).
    let at_limit = format!("d/{}/{}end", "k".repeat(200), "s/".repeat(409));
    assert_eq!(at_limit.len(), 1024);
    app.put(LOCAL, &at_limit, "edge");
    let token = app
        .mint(
            LOCAL,
            json!({"shareType": 1, "key": "d/", "timeoutInMinutes": 5}),
        )
        .await
        .0;
    let t = encode(&token);
    // At the key limit: served.
    let response = app.view(&at_limit, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "edge");
    for (case, object) in [
        ("one byte past the limit", encode(&format!("{at_limit}x"))),
        ("16 KiB", encode(&format!("d/{}", "k".repeat(16 * 1024)))),
        ("NUL", "d%2Fa%00b".into()),
        ("LF", "d%2Fa%0Ab".into()),
        (
            "CR LF header injection",
            "d%2Fa%0D%0ASet-Cookie:%20x=1".into(),
        ),
        ("DEL", "d%2Fa%7F".into()),
        ("C1 control", "d%2Fa%C2%85".into()),
        ("empty segment", "d%2F%2Fa".into()),
        ("dot segment", "d%2F.%2Fa".into()),
        ("backslash dot dot", "d%2F..%5Ca".into()),
        ("leading slash", "%2Fd%2Fa".into()),
    ] {
        let response = app
            .view_raw(&format!("object={object}&shareToken={t}"))
            .await;
        let status = response.status();
        let code = assert_error(response, status).await;
        assert!(
            (status, code.as_str()) == (StatusCode::FORBIDDEN, "ST.ObjectOutOfScope")
                || (status, code.as_str()) == (StatusCode::NOT_FOUND, "ST.ObjectNotFound"),
            "{case}: {status} {code}"
        );
    }
    let bad_request = (StatusCode::BAD_REQUEST, "ST.BadRequest");
    for (case, query, (status, code)) in [
        (
            "invalid UTF-8 in the object",
            format!("object=d%2F%FF&shareToken={t}"),
            bad_request,
        ),
        (
            "invalid UTF-8 in the token",
            "object=d%2Fa&shareToken=%C3%28".to_owned(),
            bad_request,
        ),
        (
            "empty object",
            format!("object=&shareToken={t}"),
            (StatusCode::FORBIDDEN, "ST.ObjectOutOfScope"),
        ),
        (
            "parameter names only (an empty token)",
            "object&shareToken".to_owned(),
            (StatusCode::UNAUTHORIZED, "ST.ShareTokenInvalid"),
        ),
        (
            "a 16 KiB unknown parameter and no token",
            format!("x={}&object=a", "y".repeat(16 * 1024)),
            bad_request,
        ),
    ] {
        let response = app.view_raw(&query).await;
        assert_eq!(assert_error(response, status).await, code, "{case}");
    }
}

#[tokio::test]
async fn oversized_and_strange_headers_never_change_the_answer() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "body");
    let token = app.share_files(&["k"]).await;
    for (name, value) in [
        ("x-padding", "p".repeat(16 * 1024)),
        ("range", format!("bytes={}", "9".repeat(4096))),
        ("range", format!("bytes=0-0{}", ",0-0".repeat(2000))),
        ("if-none-match", "\"x\", ".repeat(2000)),
        ("if-modified-since", "not a date".into()),
        ("if-range", "garbage".into()),
        ("user-agent", format!("v4.local.{}", "A".repeat(8 * 1024))),
    ] {
        let response = app.get_with("k", &token, name, &value).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(response.text().await.unwrap(), "body", "{name}");
    }
    // Many headers, each within limits.
    let mut request = app.view_request(Method::GET, "k", &token);
    for i in 0..60 {
        request = request.header(format!("x-h{i}"), "v");
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_queries_and_bodies_of_every_wrong_shape_are_400() {
    let app = spawn_app().await;
    let access = app.access_token(ADMIN).await;
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.address))
            .header("access-token", &access)
    };
    for path in [
        "/admin/v1/tokens?limit=abc",
        "/admin/v1/tokens?limit=-1",
        "/admin/v1/tokens?limit=99999999999999999999999",
        "/admin/v1/tokens?state=bogus",
        "/admin/v1/tokens?unknown=1",
        "/admin/v1/tokens?limit=1&limit=2",
        "/admin/v1/audit?since=yesterday",
        "/admin/v1/audit?since=2026-13-01T00:00:00Z",
        "/admin/v1/audit?limit=x",
    ] {
        assert_eq!(
            refused(get(path.into()), StatusCode::BAD_REQUEST, path).await,
            "ST.BadRequest"
        );
    }
    for path in ["%FF", "x%00y", "..%2F..", &"a".repeat(4096)] {
        let path = format!("/admin/v1/tokens/{path}");
        assert_eq!(
            refused(get(path.clone()), StatusCode::NOT_FOUND, &path).await,
            "ST.TokenNotFound"
        );
    }
    for body in [
        "",
        "x",
        "[]",
        "{}",
        r#"{"connector":5}"#,
        r#"{"connector":"no-slash"}"#,
        r#"{"issuedBefore":"nope"}"#,
        r#"{"client":"app","connector":"obs/x"}"#,
        r#"{"client":"app","extra":1}"#,
        r#"{"client":"app","client":"ops"}"#,
    ] {
        let request = app
            .http
            .post(format!("{}/admin/v1/revocations", app.address))
            .header("access-token", &access)
            .header("content-type", "application/json")
            .body(body);
        let code = refused(request, StatusCode::BAD_REQUEST, body).await;
        assert_eq!(code, "ST.BadRequest", "{body}");
    }
}

/// Sends raw bytes and reads the answer until the server closes.
async fn raw_exchange(address: &str, request: &[u8]) -> Vec<u8> {
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_until_closed(&mut stream).await
}

/// Reads an answer until the server closes the connection, within 10 s.
/// A reset counts as a close: a server that hangs up with bytes of the
/// request still unread sends RST, and what it wrote before is read first.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("reading the answer: {e}"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), closed)
        .await
        .expect("the server closes the connection");
    answer
}

/// The status code of a raw HTTP/1.1 answer.
fn status_of(answer: &[u8]) -> u16 {
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

#[tokio::test]
async fn requests_that_are_not_valid_http_get_400_or_431_and_the_server_goes_on() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "body");
    let token = app.share_files(&["k"]).await;
    let view = format!("{VIEW}?{}", view_query("k", &token));
    let end = "Host: x\r\nConnection: close\r\n\r\n";
    let mut many_headers = format!("GET {view} HTTP/1.1\r\n");
    for i in 0..200 {
        many_headers.push_str(&format!("x-h{i}: v\r\n"));
    }
    many_headers.push_str(end);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage", b"HELLO\r\n\r\n".to_vec(), 400),
        ("a space in the path", format!("GET /a b HTTP/1.1\r\n{end}").into_bytes(), 400),
        ("unknown HTTP version", format!("GET / HTTP/2.5\r\n{end}").into_bytes(), 400),
        (
            "raw invalid UTF-8 in the path",
            [b"GET /u-route/\xff\xfe HTTP/1.1\r\n".as_slice(), end.as_bytes()].concat(),
            400,
        ),
        (
            "raw invalid UTF-8 in the query",
            [format!("GET {VIEW}?object=").as_bytes(), b"\xff HTTP/1.1\r\n", end.as_bytes()].concat(),
            400,
        ),
        (
            "a control character in a header",
            format!("GET {view} HTTP/1.1\r\nx-a: a\u{1}b\r\n{end}").into_bytes(),
            400,
        ),
        (
            "Content-Length and Transfer-Encoding together (smuggling)",
            format!("POST {TOKEN_PATH} HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n{end}0\r\n\r\n").into_bytes(),
            400,
        ),
        (
            "a Content-Length that is not a number",
            format!("POST {TOKEN_PATH} HTTP/1.1\r\nContent-Length: abc\r\n{end}").into_bytes(),
            400,
        ),
        (
            "two different Content-Lengths",
            format!("POST {TOKEN_PATH} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n{end}ab").into_bytes(),
            400,
        ),
        (
            "a URI over 64 KiB",
            format!("GET {VIEW}?object={} HTTP/1.1\r\n{end}", "a".repeat(70_000)).into_bytes(),
            400,
        ),
        ("200 headers", many_headers.into_bytes(), 431),
    ];
    for (case, request, expected) in cases {
        let answer = raw_exchange(&app.address, &request).await;
        assert_eq!(status_of(&answer), expected, "{case}");
    }
    // None of it disturbed the server.
    let response = app.view("k", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "body");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_without_reading_it() {
    let app = spawn_app().await;
    // 1 GiB declared, 0 bytes sent: the answer comes at once.
    let answer = raw_exchange(
        &app.address,
        format!("POST {TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!(status_of(&answer), 413);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains(r#""resCode":"ST.PayloadTooLarge""#), "{text}");
}

#[tokio::test]
async fn failed_share_token_checks_are_counted_by_reason_at_metrics() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let token = app.share_files(&["k"]).await;
    for _ in 0..2 {
        app.view("k", "v4.local.garbage").await;
    }
    app.view("other", &token).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let line = |reason: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("sharetoken_token_check_failures_total{")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
    };
    assert_eq!(line("ST.ShareTokenInvalid").as_deref(), Some("2"), "{text}");
    assert_eq!(line("ST.ObjectOutOfScope").as_deref(), Some("1"), "{text}");
    assert!(!text.contains("v4.local"), "{text}");
    assert!(!text.contains(&token[9..30]), "{text}");
}

#[tokio::test]
async fn a_client_that_dribbles_its_headers_is_cut_off_with_408() {
    let app = spawn_with_settings(&Setup::new(), |s| {
        // actix measures the deadline from a clock it ticks every 500 ms,
        // so a timeout of 500 ms could fire before the first bytes are read.
        s.server.client_request_timeout_ms = 1500;
    })
    .await;
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    // Half a request head, then nothing more.
    stream
        .write_all(format!("GET {VIEW}?object=k HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&answer), 408);
    // A bound, not a performance figure: the timeout, not the 10 s guard.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Others are served meanwhile and after.
    let response = app.view("k", "x").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
