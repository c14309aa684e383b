//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::http::{Method, header};
use axum::response::IntoResponse;
use utoipa::OpenApi;

use super::{analytics, auth, gamification, jobs, reports, system};
use crate::http::error::ErrorBody;
use lumen_core::authz::Access;

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

/// The responses of the guard (`http::guard`), added to every operation it
/// can give them on, from the route table: 401 and 403 where a token is
/// needed, 429 where a rate limit applies. A response a handler documents
/// itself (with a more specific description) is kept.
struct GuardResponses;

impl utoipa::Modify for GuardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let response = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for route in super::route_table() {
            let Some(item) = openapi.paths.paths.get_mut(route.path) else {
                continue;
            };
            let operation = match route.method {
                Method::GET => item.get.as_mut(),
                Method::POST => item.post.as_mut(),
                Method::PUT => item.put.as_mut(),
                Method::DELETE => item.delete.as_mut(),
                _ => None,
            };
            let Some(operation) = operation else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| response(description).into());
            };
            if route.guard.access != Access::Public {
                add(
                    "401",
                    "`UNAUTHORIZED`: no valid bearer token, or its session has ended",
                );
                add(
                    "403",
                    "`FORBIDDEN`: the active role or the access policy refuses",
                );
            }
            if route.guard.limit.is_some() {
                add("429", "`RATE_LIMIT_EXCEEDED`, with `Retry-After`");
            }
        }
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
        gamification::stats,
        gamification::achievements,
        gamification::streak,
        gamification::leaderboard,
        gamification::preferences,
        gamification::set_preferences,
        reports::generate,
        reports::status,
        reports::download,
        reports::history,
        reports::create_schedule,
        reports::schedules,
        reports::delete_schedule,
        jobs::refresh,
        jobs::status,
        jobs::cancel,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &GuardResponses),
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
        (name = "gamification", description = "Points, badges, streaks and leaderboards (docs/gamification.md)"),
        (name = "reports", description = "Reports as PDF, CSV or JSON; schedules and delivery (docs/reports.md)"),
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
