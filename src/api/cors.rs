//! Cross-origin reads of shared objects. A share link is a bearer URL:
//! whoever has it may read the object, from any page. So views answer
//! `Access-Control-Allow-Origin: *` (never with credentials: no cookie
//! or header of the caller's is ever trusted), and web players and
//! `fetch` on another origin can read the bytes, the ranges, the
//! validators and the error bodies. No other endpoint allows it: access
//! tokens do not belong in browsers.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::HttpResponse;

/// Headers a cross-origin script may read besides the CORS-safelisted ones.
const EXPOSED: &str =
    "Content-Range, Content-Disposition, Accept-Ranges, ETag, Last-Modified, X-Request-Id";
/// Request headers a player or download tool sends on a view.
const ALLOWED_REQUEST_HEADERS: &str =
    "Range, If-Range, If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since";

/// Added to every view answer, errors included.
pub fn view_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED))
}

/// CORS preflight of a view
///
/// What a page's `fetch` with `Range` (or conditional headers) sends
/// first; also a plain `OPTIONS`.
#[utoipa::path(
    options,
    path = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject",
    tag = "share",
    responses((status = 204, description = "Cross-origin GET and HEAD are allowed"))
)]
pub async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ALLOW, "GET, HEAD, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            ALLOWED_REQUEST_HEADERS,
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}
