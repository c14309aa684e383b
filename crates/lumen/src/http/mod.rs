//! Presentation: the axum router, its middleware stack and the handlers.
//!
//! Every API route is declared once in [`route_table`]; the router is built
//! from that table, and tests check the table against the OpenAPI document.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::from_fn_with_state;
use axum::routing::MethodRouter;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::ratelimit::LimitClass;
use crate::state::AppState;
use lumen_core::Role;
use lumen_core::authz::{Access, SubjectRule};

mod analytics;
mod auth;
pub mod error;
pub mod extract;
mod gamification;
pub mod guard;
mod jobs;
pub mod json;
pub mod middleware;
pub mod openapi;
mod reports;
mod system;

pub use error::{ApiError, ErrorBody};
pub use extract::{ApiPath, ApiQuery};
pub use guard::{CurrentUser, RouteGuard};
pub use json::ApiJson;

/// One mounted route: method, path template (axum and OpenAPI syntax agree:
/// `/api/v1/jobs/{id}`), what it requires of its caller, and its handler.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub guard: RouteGuard,
    handler: MethodRouter<AppState>,
}

impl RouteDef {
    fn new<H, T>(
        method: Method,
        path: &'static str,
        access: Access,
        limit: Option<LimitClass>,
        handler: H,
    ) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let filter = axum::routing::MethodFilter::try_from(method.clone())
            .unwrap_or(axum::routing::MethodFilter::GET);
        RouteDef {
            method,
            path,
            guard: RouteGuard { access, limit },
            handler: axum::routing::on(filter, handler),
        }
    }
}

fn get<H, T>(path: &'static str, access: Access, limit: Option<LimitClass>, handler: H) -> RouteDef
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    RouteDef::new(Method::GET, path, access, limit, handler)
}

fn post<H, T>(path: &'static str, access: Access, limit: Option<LimitClass>, handler: H) -> RouteDef
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    RouteDef::new(Method::POST, path, access, limit, handler)
}

fn put<H, T>(path: &'static str, access: Access, limit: Option<LimitClass>, handler: H) -> RouteDef
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    RouteDef::new(Method::PUT, path, access, limit, handler)
}

fn delete<H, T>(
    path: &'static str,
    access: Access,
    limit: Option<LimitClass>,
    handler: H,
) -> RouteDef
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    RouteDef::new(Method::DELETE, path, access, limit, handler)
}

/// Every route of the service except the docs UI's static assets. Each
/// names its access rule (decided by `lumen_core::authz`) and rate limit;
/// the analytics' routes come from the registry
/// (`lumen_core::analytics::ANALYTICS`).
pub fn route_table() -> Vec<RouteDef> {
    use Access::{ActingAs, Authenticated, Public};
    use analytics as an;
    let learner = Access::Subject {
        rule: SubjectRule::Learner,
        param: "userId",
    };
    let (system, a) = (Some(LimitClass::System), Some(LimitClass::Analytics));
    let session = Some(LimitClass::Session);
    let mut routes = vec![
        get("/api/health", Public, system, system::health),
        get("/api/v1/health", Public, system, system::health_v1),
        get("/api/status", Public, system, system::status),
        get("/api/v1/health/live", Public, system, system::live),
        get("/api/v1/health/ready", Public, system, system::ready),
        get("/metrics", Public, None, system::metrics),
        get("/api/openapi.json", Public, None, openapi::serve_spec),
        post(
            "/api/v1/auth/login",
            Public,
            Some(LimitClass::Login),
            auth::login,
        ),
        post(
            "/api/v1/auth/refresh",
            Public,
            Some(LimitClass::Refresh),
            auth::refresh,
        ),
        get("/api/v1/auth/me", Authenticated, session, auth::me),
        get(
            "/api/v1/auth/profile",
            Authenticated,
            session,
            auth::profile,
        ),
        post("/api/v1/auth/logout", Authenticated, session, auth::logout),
        get("/api/v1/users/{userId}", learner, a, auth::user_profile),
    ];
    routes.extend(lumen_core::analytics::ANALYTICS.iter().map(an::route));
    routes.extend(lumen_core::analytics::ANALYTICS.iter().map(an::seed_route));
    routes.extend([
        get(
            "/api/v1/analytics/learner",
            ActingAs(Role::Learner),
            a,
            an::learner_bundle,
        ),
        get(
            "/api/v1/analytics/trainer",
            ActingAs(Role::Trainer),
            a,
            an::trainer_bundle,
        ),
        get(
            "/api/v1/analytics/organization",
            ActingAs(Role::OrgAdmin),
            a,
            an::organization_bundle,
        ),
        get(
            "/api/v1/gamification/stats/{userId}",
            learner,
            a,
            gamification::stats,
        ),
        get(
            "/api/v1/gamification/achievements/{userId}",
            learner,
            a,
            gamification::achievements,
        ),
        get(
            "/api/v1/gamification/streak/{userId}",
            learner,
            a,
            gamification::streak,
        ),
        get(
            "/api/v1/gamification/leaderboard",
            Authenticated,
            a,
            gamification::leaderboard,
        ),
        get(
            "/api/v1/gamification/preferences",
            Authenticated,
            a,
            gamification::preferences,
        ),
        put(
            "/api/v1/gamification/preferences",
            Authenticated,
            a,
            gamification::set_preferences,
        ),
        post(
            "/api/v1/reports/generate",
            Authenticated,
            a,
            reports::generate,
        ),
        get(
            "/api/v1/reports/{id}/status",
            Authenticated,
            a,
            reports::status,
        ),
        get(
            "/api/v1/reports/{id}/download",
            Authenticated,
            a,
            reports::download,
        ),
        get(
            "/api/v1/reports/history",
            Authenticated,
            a,
            reports::history,
        ),
        post(
            "/api/v1/reports/schedules",
            Authenticated,
            a,
            reports::create_schedule,
        ),
        get(
            "/api/v1/reports/schedules",
            Authenticated,
            a,
            reports::schedules,
        ),
        delete(
            "/api/v1/reports/schedules/{id}",
            Authenticated,
            a,
            reports::delete_schedule,
        ),
        post(
            "/api/v1/analytics/refresh",
            Authenticated,
            Some(LimitClass::ManualRefresh),
            jobs::refresh,
        ),
        get("/api/v1/jobs/{jobId}", Authenticated, session, jobs::status),
        delete("/api/v1/jobs/{jobId}", Authenticated, session, jobs::cancel),
    ]);
    routes
}

/// The docs UI (Swagger UI, assets compiled into the binary: works offline).
pub const DOCS_PATH: &str = "/docs";

/// The whole application: routes, docs UI and the middleware stack.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for route in route_table() {
        let guarded = route.handler.route_layer(from_fn_with_state(
            (state.clone(), route.guard),
            guard::guard,
        ));
        router = router.route(route.path, guarded);
    }
    let docs = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        .config(utoipa_swagger_ui::Config::from("/api/openapi.json"));
    router = router.merge(Router::from(docs).layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             script-src 'self'; frame-ancestors 'none'",
        ),
    )));
    with_middleware(router, state)
}

/// The router of the separate metrics address (`LUMEN_METRICS_ADDR`):
/// `GET /metrics` only, without a credential (the address is meant to be
/// reachable by the metrics collector alone).
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |axum::extract::State(state): axum::extract::State<AppState>| async move {
                    system::metrics_text(&state)
                },
            ),
        )
        .with_state(state)
}

/// Wraps any router in the production middleware stack, with the JSON 404
/// and 405 fallbacks. Outermost first: request id, logging and metrics;
/// compression; JSON error bodies; security headers; panic guard; CORS;
/// timeout; body limits.
///
/// Compression sits outside the JSON error rewriting, so it encodes the
/// final body: a rewritten error is compressed like any other response,
/// never sent plain under the original's `Content-Encoding`.
pub fn with_middleware(router: Router<AppState>, state: AppState) -> Router {
    let config = &state.config;
    let mut security = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (HeaderName::from_static("x-dns-prefetch-control"), "off"),
        (
            HeaderName::from_static("x-permitted-cross-domain-policies"),
            "none",
        ),
    ];
    if config.hsts {
        security.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }

    let mut router = router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(from_fn_with_state(state.clone(), middleware::timeout))
        .layer(cors(&config.cors_origins))
        // Inside the security headers, so a panic's 500 carries them too.
        .layer(CatchPanicLayer::custom(middleware::panic_response));
    for (name, value) in security {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(CompressionLayer::new().gzip(true).br(true))
        .layer(from_fn_with_state(state.clone(), middleware::observe))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("x-active-role"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::ETAG,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}
