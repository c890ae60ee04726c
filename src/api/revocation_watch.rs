//! A download that outlives its token's revocation is cut: while a body
//! streams, the store is asked again every [`RECHECK`], so a revoke stops
//! long downloads (a film, a disk image) within a few seconds, not only
//! the next request. Short downloads never ask twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{StoreError, TokenStore};
use crate::token::ShareClaims;

/// How often a running download asks whether its token was revoked.
pub const RECHECK: Duration = Duration::from_secs(2);

type Check = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;

pub struct RevocationWatch {
    claims: Arc<ShareClaims>,
    store: Arc<dyn TokenStore>,
    next_check: Instant,
    check: Option<Check>,
    /// Checks in a row the store could not answer.
    unanswered: u8,
}

/// Checks in a row a store may leave unanswered before a download is cut:
/// a download must not outlast its token's revocation for as long as its
/// instance cannot reach the store (a partition), only for a blip.
const UNANSWERED_LIMIT: u8 = 2;

impl RevocationWatch {
    pub fn new(claims: ShareClaims, store: Arc<dyn TokenStore>) -> Self {
        Self {
            claims: Arc::new(claims),
            store,
            next_check: Instant::now() + RECHECK,
            check: None,
            unanswered: 0,
        }
    }

    /// Polled with each chunk: `true` once the token is known to be revoked,
    /// or once the store has left [`UNANSWERED_LIMIT`] checks in a row
    /// unanswered (fail closed: it may have been revoked meanwhile). One
    /// unanswered check does not cut it; the next one asks again.
    pub fn poll_revoked(&mut self, cx: &mut Context<'_>) -> bool {
        if self.check.is_none() {
            if Instant::now() < self.next_check {
                return false;
            }
            let (store, claims) = (Arc::clone(&self.store), Arc::clone(&self.claims));
            self.check = Some(Box::pin(async move { store.is_revoked(&claims).await }));
        }
        let check = self.check.as_mut().expect("a check is under way");
        match check.as_mut().poll(cx) {
            Poll::Pending => false,
            Poll::Ready(answer) => {
                self.check = None;
                self.next_check = Instant::now() + RECHECK;
                match answer {
                    Ok(true) => {
                        log::info!(
                            "share token {} was revoked during a download: the download is cut",
                            self.claims.jti
                        );
                        true
                    }
                    Ok(false) => {
                        self.unanswered = 0;
                        false
                    }
                    Err(e) => {
                        self.unanswered += 1;
                        let cut = self.unanswered >= UNANSWERED_LIMIT;
                        if cut {
                            log::warn!(
                                "share token {}: the store left {} checks in a row unanswered during a download ({e}): the download is cut",
                                self.claims.jti,
                                self.unanswered
                            );
                        }
                        cut
                    }
                }
            }
        }
    }
}
