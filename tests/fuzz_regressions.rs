//! Replays every kept fuzz input through its target's checks: the seeds
//! (`fuzz/seeds/<target>/`) and any input that once crashed a target
//! (`fuzz/regressions/<target>/`, copied there from `fuzz/artifacts/` when
//! the fault is fixed). `make fuzz` runs the targets themselves.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// Runs `check` on each kept input of `target`; returns how many ran.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for kept in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kept).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its check", path.display());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn token_open_inputs_are_refused() {
    assert!(replay("token_open", checks::token_open) >= 3);
}

#[test]
fn key_and_scope_inputs_keep_the_rules() {
    assert!(replay("key_and_scope", checks::key_and_scope) >= 5);
}

#[test]
fn range_inputs_stay_inside_the_object() {
    assert!(replay("range", checks::range) >= 4);
}

#[test]
fn mint_body_inputs_are_answered() {
    assert!(replay("mint_body", checks::mint_body) >= 4);
}

#[test]
fn view_query_inputs_are_decoded_once_and_never_lossily() {
    assert!(replay("view_query", checks::view_query) >= 4);
}
