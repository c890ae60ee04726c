//! Micro-benchmarks of the per-request pure work: opening a share token,
//! checking scope, validating keys, parsing the view query and ranges.
//! `cargo bench --bench micro` (part of `make bench`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sharetoken::http::query::ViewQuery;
use sharetoken::http::range;
use sharetoken::share::{ObjectKey, Scope, ShareType};
use sharetoken::storage::ConnectorId;
use sharetoken::token::{KeyRing, ShareClaims};

const NOW: i64 = 1_796_256_000;

fn tokens(c: &mut Criterion) {
    let ring = KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap();
    let scope = Scope::new(
        ShareType::Files,
        ["share/report 2026.pdf", "share/data.csv"],
    )
    .unwrap();
    let claims = ShareClaims::new(
        "app",
        ConnectorId::parse("obs", "Namespace __TestOBS").unwrap(),
        scope,
        NOW,
        60,
    );
    let token = claims.seal(&ring);
    c.bench_function("share token seal", |b| {
        b.iter(|| black_box(claims.seal(&ring)))
    });
    c.bench_function("share token open", |b| {
        b.iter(|| ShareClaims::open(&ring, black_box(&token), NOW + 1, 0).unwrap())
    });
    let other = KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap();
    c.bench_function("share token open, foreign key (refused)", |b| {
        b.iter(|| ShareClaims::open(&other, black_box(&token), NOW + 1, 0).unwrap_err())
    });
}

fn scope_and_keys(c: &mut Criterion) {
    let key = ObjectKey::parse("food/salad/lettuce.jpg").unwrap();
    let directory = Scope::new(
        ShareType::Directory,
        ["food/salad/", "food/soup/", "drinks/"],
    )
    .unwrap();
    let many: Vec<String> = (0..50).map(|i| format!("folder/file-{i:03}.txt")).collect();
    let files = Scope::new(ShareType::Files, many).unwrap();
    let listed = ObjectKey::parse("folder/file-042.txt").unwrap();
    c.bench_function("scope check, directory of 3", |b| {
        b.iter(|| directory.allows(black_box(&key)))
    });
    c.bench_function("scope check, 50 files", |b| {
        b.iter(|| files.allows(black_box(&listed)))
    });
    c.bench_function("key validation, short", |b| {
        b.iter(|| ObjectKey::parse(black_box("share/report 2026.pdf")).unwrap())
    });
    let long = format!("{}/{}", ["segment"; 100].join("/"), "x".repeat(223));
    c.bench_function("key validation, 1024 bytes", |b| {
        b.iter(|| ObjectKey::parse(black_box(&long)).unwrap())
    });
}

fn http(c: &mut Criterion) {
    let query = "object=share%2Freport%202026.pdf&shareToken=v4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    c.bench_function("view query parse", |b| {
        b.iter(|| ViewQuery::parse(black_box(query)).unwrap())
    });
    c.bench_function("range answer", |b| {
        b.iter(|| range::answer(black_box(Some("bytes=3000000-")), black_box(5_975_596)))
    });
}

criterion_group!(micro, tokens, scope_and_keys, http);
criterion_main!(micro);
