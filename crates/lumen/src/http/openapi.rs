//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use super::{analytics, auth, jobs, system};
use crate::error::ErrorBody;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from /api/v1/auth/login. Send `X-Active-Role` (learner, trainer or \
                         org-admin) to choose the role you act in; it must be one of your roles.",
                    ))
                    .build(),
            ),
        );
    }
}

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
        auth::login,
        auth::refresh,
        auth::me,
        auth::logout,
        auth::user_profile,
        analytics::velocity,
        analytics::skill_gap,
        analytics::engagement,
        analytics::mastery,
        analytics::performance,
        analytics::content_effectiveness,
        analytics::course_performance,
        analytics::course_health,
        analytics::student_distribution,
        analytics::teaching_effectiveness,
        analytics::learning_velocity,
        analytics::strategic_alignment,
        analytics::learning_culture,
        analytics::org_performance,
        analytics::peer,
        analytics::skill_demand,
        analytics::drop_off_risk,
        analytics::forecast,
        analytics::recommendations,
        analytics::learner_bundle,
        analytics::trainer_bundle,
        analytics::organization_bundle,
        jobs::refresh,
        jobs::status,
        jobs::cancel,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, status, metrics and this document"),
        (name = "auth", description = "Login, tokens and accounts"),
        (name = "jobs", description = "Manual refresh of analytics, and the caller's jobs"),
        (name = "learner", description = "Learner analytics: own data, acting as learner"),
        (name = "trainer", description = "Trainer analytics: own courses, acting as trainer"),
        (name = "organization", description = "Organisation analytics: own organisation, acting as org admin"),
        (name = "comparison", description = "Peer comparison (k-anonymous) and skill demand"),
        (name = "predictive", description = "Drop-off risk, forecast, recommendations"),
        (name = "bundles", description = "Every analytic of a role in one response"),
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
