//! The page and the API description, compiled into the binary (the page loads nothing from
//! anywhere else, so it works offline), and the Content-Security-Policy that holds it to that.

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const APP_CSS: &str = include_str!("assets/app.css");
/// OpenAPI 3.1 description of every endpoint; `tests/serve.rs` checks real answers against it.
pub const OPENAPI: &str = include_str!("assets/openapi.json");

/// Scripts and styles only from this server (no inline script, no `eval`), requests only back
/// to it, no frames, no plugins, no forms posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
