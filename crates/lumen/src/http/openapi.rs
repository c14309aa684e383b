//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use super::system;
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lumen",
        description = "Learning-analytics Backend-for-Frontend: analytics for learners, trainers and org admins.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        system::health,
        system::status,
        system::live,
        system::ready,
        system::metrics,
        serve_spec,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "system", description = "Health, status, metrics and this document"),
    )
)]
pub struct ApiDoc;

static SPEC: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"INTERNAL_ERROR\",\"message\":\"{e}\"}}"))
});

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn serve_spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SPEC.as_str())
}
