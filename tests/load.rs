//! A bounded mixed load (mint, view, revoke) against two instances on one
//! Redis for LOAD_SECONDS (default 60): every valid request succeeds, no
//! revoked token is ever served, and memory stays flat. The figures are
//! printed and written to `target/load-report.md` (BENCHMARKS.md quotes a
//! run); they are never asserted as timings.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::instance::{configure_store, rss_kib, Instance, ADMIN, CONTENT, OBJECT, SHARER};
use support::redis::{unique_prefix, RedisServer};

const WORKERS: usize = 8;

/// One request's outcome: which operation, whether it met its rule, and
/// how long it took.
struct Outcome {
    op: &'static str,
    ok: bool,
    took: Duration,
    detail: String,
}

struct Shared {
    bases: [String; 2],
    http: reqwest::Client,
    share_access: String,
    admin_access: String,
    /// Tokens that are never revoked.
    stable: Vec<String>,
    /// Tokens revoked (and acknowledged) during the run.
    revoked: Mutex<Vec<String>>,
    next: AtomicUsize,
}

fn view_url(base: &str, token: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("object", OBJECT)
        .append_pair("shareToken", token)
        .finish();
    format!("{base}/u-route/baas/sys/v1.1/objectstorage/viewshareobject?{query}")
}

async fn mint(shared: &Shared, base: &str) -> Result<(String, String), String> {
    let response = shared
        .http
        .post(format!(
            "{base}/u-route/baas/sys/v1.1/connectors/objectstorageproxy/local/sharetoken"
        ))
        .header("access-token", &shared.share_access)
        .json(&json!({"shareType": 0, "key": OBJECT, "timeoutInMinutes": 30}))
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status() != StatusCode::OK {
        return Err(format!("mint: {}", response.status()));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok((
        body["result"]["shareToken"].as_str().unwrap().to_owned(),
        body["result"]["tokenId"].as_str().unwrap().to_owned(),
    ))
}

/// A view that must answer `expected` (and the object's bytes for 200).
async fn view(
    shared: &Shared,
    base: &str,
    token: &str,
    expected: StatusCode,
) -> Result<(), String> {
    let response = shared
        .http
        .get(view_url(base, token))
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if status != expected || (expected == StatusCode::OK && body != CONTENT) {
        return Err(format!("view: {status} where {expected} was due"));
    }
    Ok(())
}

/// Mints through one instance, revokes through the other, and checks the
/// token is refused at once through the first.
async fn mint_revoke_check(shared: &Shared, n: usize) -> Result<(), String> {
    let (first, second) = (&shared.bases[n % 2], &shared.bases[(n + 1) % 2]);
    let (token, jti) = mint(shared, first).await?;
    let response = shared
        .http
        .post(format!("{second}/admin/v1/tokens/{jti}/revoke"))
        .header("access-token", &shared.admin_access)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status() != StatusCode::OK {
        return Err(format!("revoke: {}", response.status()));
    }
    shared.revoked.lock().unwrap().push(token.clone());
    view(shared, first, &token, StatusCode::UNAUTHORIZED).await
}

async fn one_request(shared: &Shared) -> Outcome {
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    let base = &shared.bases[n % 2];
    let started = Instant::now();
    // Of every 20 requests: 2 mints, 2 mint-revoke-checks, 13 views of
    // valid tokens, 3 views of revoked tokens.
    let (op, result) = match n % 20 {
        0 | 10 => ("mint", mint(shared, base).await.map(|_| ())),
        5 | 15 => ("mint+revoke+view", mint_revoke_check(shared, n).await),
        3 | 8 | 13 => {
            let revoked = {
                let list = shared.revoked.lock().unwrap();
                list.get(n % list.len().max(1)).cloned()
            };
            match revoked {
                Some(token) => (
                    "view revoked",
                    view(shared, base, &token, StatusCode::UNAUTHORIZED).await,
                ),
                None => ("view valid", {
                    let token = &shared.stable[n % shared.stable.len()];
                    view(shared, base, token, StatusCode::OK).await
                }),
            }
        }
        _ => {
            let token = &shared.stable[n % shared.stable.len()];
            (
                "view valid",
                view(shared, base, token, StatusCode::OK).await,
            )
        }
    };
    Outcome {
        op,
        ok: result.is_ok(),
        took: started.elapsed(),
        detail: result.err().unwrap_or_default(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_on_two_instances_no_failures_no_revoked_successes_flat_memory() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let redis = RedisServer::start();
    // The harness's Redis fsyncs every write (appendfsync always, for the
    // crash tests); on a busy shared disk one fsync can stall it past the
    // default 1 s command timeout, and the instances then fail closed (503),
    // as they must. This test is about correctness under load, so it gives
    // Redis 5 s; the fail-closed tests are in tests/instances.rs.
    let dir = configure_store(&format!(
        "[store]\nkind = \"redis\"\n\n[store.redis]\nurl = \"{}\"\nkey_prefix = \"{}\"\n\
         command_timeout_ms = 5000\n",
        redis.url(),
        unique_prefix("load")
    ));
    let config = dir.path().join("sharetoken.toml");
    let a = Instance::start(&config, dir.path(), "a").await;
    let b = Instance::start(&config, dir.path(), "b").await;
    // Idle connections are dropped before the server's 5 s keep-alive ends
    // them: otherwise a request can race the server's close and fail in
    // the client, before the server ever sees it.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut shared = Shared {
        bases: [a.base.clone(), b.base.clone()],
        http,
        share_access: a.access_token(SHARER.0, SHARER.1).await,
        admin_access: b.access_token(ADMIN.0, ADMIN.1).await,
        stable: Vec::new(),
        revoked: Mutex::new(Vec::new()),
        next: AtomicUsize::new(0),
    };
    for i in 0..50 {
        let base = shared.bases[i % 2].clone();
        shared.stable.push(mint(&shared, &base).await.unwrap().0);
    }
    let shared = Arc::new(shared);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while Instant::now() < deadline {
                    outcomes.push(one_request(&shared).await);
                }
                outcomes
            })
        })
        .collect();
    // Memory of both instances, sampled through the run.
    let mut samples: Vec<(u64, u64)> = Vec::new();
    while Instant::now() < deadline {
        samples.push((rss_kib(a.pid()), rss_kib(b.pid())));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.unwrap());
    }
    samples.push((rss_kib(a.pid()), rss_kib(b.pid())));

    // The report.
    let mut report = format!(
        "Mixed load: {WORKERS} clients, {seconds} s, two instances on one Redis\n\n\
         | operation | requests | per second | failures | p50 | p99 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
    );
    let mut ops: Vec<&str> = outcomes.iter().map(|o| o.op).collect();
    ops.sort_unstable();
    ops.dedup();
    for op in &ops {
        let mut took: Vec<Duration> = outcomes
            .iter()
            .filter(|o| o.op == *op)
            .map(|o| o.took)
            .collect();
        took.sort_unstable();
        let failures = outcomes.iter().filter(|o| o.op == *op && !o.ok).count();
        report.push_str(&format!(
            "| {op} | {} | {:.0} | {failures} | {:.1} ms | {:.1} ms |\n",
            took.len(),
            took.len() as f64 / seconds as f64,
            percentile(&took, 0.5).as_secs_f64() * 1000.0,
            percentile(&took, 0.99).as_secs_f64() * 1000.0,
        ));
    }
    let settled = samples.len() / 4;
    let (first_a, first_b) = samples[settled];
    let (last_a, last_b) = *samples.last().unwrap();
    let peak_a = samples.iter().map(|s| s.0).max().unwrap();
    let peak_b = samples.iter().map(|s| s.1).max().unwrap();
    report.push_str(&format!(
        "\nResident memory (MiB), at a quarter of the run → end (peak): \
         A {:.1} → {:.1} ({:.1}), B {:.1} → {:.1} ({:.1})\n",
        first_a as f64 / 1024.0,
        last_a as f64 / 1024.0,
        peak_a as f64 / 1024.0,
        first_b as f64 / 1024.0,
        last_b as f64 / 1024.0,
        peak_b as f64 / 1024.0,
    ));
    println!("{report}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::write(target.join("load-report.md"), &report);

    // Zero failures on valid requests, zero successes with revoked tokens
    // (a revoked token served is a failure of its view).
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .take(5)
        .map(|o| format!("{}: {}", o.op, o.detail))
        .collect();
    let problems: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|i| {
            i.log_text()
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .take(10)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{failures:?}\n{report}\nserver warnings:\n{}",
        problems.join("\n")
    );
    assert!(
        outcomes.len() > 1000,
        "too little traffic to judge\n{report}"
    );
    assert!(
        !shared.revoked.lock().unwrap().is_empty(),
        "nothing was revoked\n{report}"
    );
    // Memory flat: after the first quarter, growth stays under 16 MiB.
    for (first, last, name) in [(first_a, last_a, "A"), (first_b, last_b, "B")] {
        assert!(
            last <= first + 16 * 1024,
            "instance {name} grew from {first} KiB to {last} KiB\n{report}"
        );
    }
}
