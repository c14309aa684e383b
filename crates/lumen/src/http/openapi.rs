//! The OpenAPI 3.1 document, generated from the handlers' annotations and,
//! for the analytics, from the registry (`lumen_core::analytics::ANALYTICS`).

use std::sync::LazyLock;

use axum::http::{Method, header};
use axum::response::IntoResponse;
use utoipa::OpenApi;

use lumen_core::analytics::{ANALYTICS, Analytic, TimeRange};
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::{
    Content, HttpMethod, KnownFormat, ObjectBuilder, PathItem, Ref, RefOr, Required,
    ResponseBuilder, Responses, Schema, SchemaFormat, Type, header::HeaderBuilder,
    security::SecurityRequirement,
};
use utoipa::{PartialSchema, ToSchema};

use super::{analytics, auth, gamification, jobs, openapi, reports, system};
use crate::analytics::{DataSource, Envelope};
use crate::http::error::ErrorBody;
use lumen_core::authz::Access;
use lumen_core::gamification::Period;

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
        components.add_security_scheme(
            "opsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator credential, `LUMEN_OPS_TOKEN`: the detail of /api/status \
                         and /metrics.",
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
        use utoipa::openapi::ContentBuilder;
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

/// The responses of the JSON body extractor (`http::json::ApiJson`) and
/// the body limits, added to every operation that takes a request body:
/// 400 for malformed or mistyped JSON, 413 for a body over the limit, 415
/// for a body that is not `application/json`. A response a handler
/// documents itself is kept.
struct JsonBodyResponses;

impl utoipa::Modify for JsonBodyResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in operations_mut(openapi) {
            if operation.request_body.is_none() {
                continue;
            }
            for (status, description) in [
                (
                    "400",
                    "`VALIDATION_ERROR`: malformed JSON, or a field missing or invalid \
                         (`validation` names it)",
                ),
                ("413", "`PAYLOAD_TOO_LARGE`: the body is over the limit"),
                (
                    "415",
                    "`UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`",
                ),
            ] {
                let (status, response) = error_response(status, description);
                operation
                    .responses
                    .responses
                    .entry(status)
                    .or_insert(response);
            }
        }
    }
}

/// Every operation of the document, whatever its method.
fn operations_mut(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ]
        .into_iter()
        .flatten()
    })
}

/// What OpenAPI requires and utoipa leaves to the handlers: every response
/// without a description gets its status's reason phrase (`OK`, `Bad
/// Request`), and an operation id that several handlers share (`status`,
/// `refresh`: utoipa uses the function's name) is prefixed by the
/// operation's tag (`jobs_status`).
struct ResponseDescriptions;

impl utoipa::Modify for ResponseDescriptions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut ids: std::collections::BTreeMap<String, usize> = Default::default();
        for item in openapi.paths.paths.values() {
            for operation in [&item.get, &item.post, &item.put, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                if let Some(id) = &operation.operation_id {
                    *ids.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for operation in operations_mut(openapi) {
            let tag = operation.tags.as_ref().and_then(|t| t.first()).cloned();
            if let (Some(id), Some(tag)) = (operation.operation_id.as_mut(), tag)
                && ids.get(id.as_str()).is_some_and(|n| *n > 1)
            {
                *id = format!("{tag}_{id}");
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.trim().is_empty()
                {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("response")
                        .to_owned();
                }
            }
        }
    }
}

/// Documents every analytic of the registry: its path, parameters,
/// responses and the schema of its envelope.
struct AnalyticPaths;

impl utoipa::Modify for AnalyticPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let (items, schemas) = analytic_operations();
        openapi.paths.paths.extend(items);
        // Names are unique across the document (`component_sources`, checked
        // by tests/openapi.rs), so no schema here replaces another.
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
    }
}

/// A seed's path for an operation: the same operation, deprecated, naming
/// the canonical path (docs: README "Compatibility with the seeds").
fn seed_alias(
    mut operation: utoipa::openapi::path::Operation,
    canonical: &str,
    name: &str,
) -> utoipa::openapi::path::Operation {
    operation.deprecated = Some(utoipa::openapi::Deprecated::True);
    operation.operation_id = Some(format!("{}_seed", name.replace('-', "_")));
    operation.description = Some(format!(
        "Deprecated alias (a path of the design documents): the same answer, access rule and \
         rate limit as `GET {canonical}`, which new clients should call."
    ));
    operation
}

/// Marks the seeds' other aliases deprecated, naming their canonical path.
struct SeedAliases;

impl utoipa::Modify for SeedAliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (alias, canonical, name) in [("/api/v1/auth/profile", "/api/v1/auth/me", "profile")] {
            if let Some(item) = openapi.paths.paths.get_mut(alias)
                && let Some(get) = item.get.take()
            {
                item.get = Some(seed_alias(get, canonical, name));
            }
        }
    }
}

/// Every analytic's path item, and the component schemas they use.
#[allow(clippy::type_complexity)]
fn analytic_operations() -> (Vec<(String, PathItem)>, Vec<(String, RefOr<Schema>)>) {
    let mut schemas = Vec::new();
    let items = ANALYTICS
        .iter()
        .flat_map(|analytic| {
            let operation = operation(analytic, &mut schemas);
            let alias = seed_alias(operation.clone(), analytic.path, analytic.name);
            [
                (
                    analytic.path.to_owned(),
                    PathItem::new(HttpMethod::Get, operation),
                ),
                (
                    analytic.seed_path().to_owned(),
                    PathItem::new(HttpMethod::Get, alias),
                ),
            ]
        })
        .collect();
    (items, schemas)
}

/// Every component schema that goes into the document, with duplicates:
/// what the documented operations bring (as utoipa collects them), the
/// analytics' (from the registry) and the error body. A name twice with
/// two different schemas is two Rust types published under one name, and
/// the document would keep only one of them (tests/openapi.rs fails on it).
pub fn component_sources() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    // Named by query parameters, which utoipa does not collect: listed in
    // `components(schemas(..))` of the document too.
    schemas.push((
        gamification::ScopeName::name().into_owned(),
        gamification::ScopeName::schema(),
    ));
    schemas.push((Period::name().into_owned(), Period::schema()));
    operation_schemas(&mut schemas);
    schemas.extend(analytic_operations().1);
    schemas
}

/// `Envelope<Data>` as a component named `Envelope_Data` with the data's
/// schema inline, as utoipa documents a generic body.
fn envelope(analytic: &Analytic, schemas: &mut Vec<(String, RefOr<Schema>)>) -> Ref {
    let (name, data) = (analytic.schema)(schemas);
    <Envelope<DataSource> as ToSchema>::schemas(schemas);
    let mut schema = <Envelope<DataSource> as PartialSchema>::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.properties.insert("data".into(), data);
    }
    let name = format!("{}_{name}", <Envelope<DataSource> as ToSchema>::name());
    schemas.push((name.clone(), schema));
    Ref::from_schema_name(name)
}

fn error_response(status: &str, description: &str) -> (String, RefOr<utoipa::openapi::Response>) {
    let content = Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
    (
        status.to_owned(),
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build()
            .into(),
    )
}

/// The GET operation of one analytic: the subject in the path (but for the
/// caller's organisation), `timeRange`, and the envelope with HTTP caching.
fn operation(
    analytic: &Analytic,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> utoipa::openapi::path::Operation {
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(Some(String::schema()))
            .description(Some(description))
            .build()
    };
    let by_subject = analytic.param().is_some();
    let cache_control = if by_subject {
        "`private, max-age` up to `expiresAt`, with `stale-while-revalidate`"
    } else {
        "`private, max-age` up to `expiresAt`"
    };
    let ok = ResponseBuilder::new()
        .content(
            "application/json",
            Content::new(Some(envelope(analytic, schemas))),
        )
        .header("ETag", header("weak tag of the result"))
        .header("Cache-Control", header(cache_control))
        .build();
    let mut responses = vec![
        ("200".to_owned(), RefOr::T(ok)),
        (
            "304".to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("`If-None-Match` matched: not modified, no body")
                    .build(),
            ),
        ),
    ];
    if by_subject {
        responses.extend([
            error_response("400", "`VALIDATION_ERROR`: bad id or timeRange"),
            error_response("403", "subject outside the caller's scope"),
            error_response("404", "no such subject, or no learning records"),
            error_response("422", "`INSUFFICIENT_DATA`, with the minimum in `details`"),
        ]);
    } else {
        responses.extend(["400", "404", "422"].map(|s| error_response(s, "")));
    }
    let mut parameters = Vec::new();
    if let Some(param) = analytic.param() {
        parameters.push(
            ParameterBuilder::new()
                .name(param)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("the subject"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                ))
                .build(),
        );
    }
    schemas.push((TimeRange::name().into_owned(), TimeRange::schema()));
    parameters.push(
        ParameterBuilder::new()
            .name("timeRange")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some("7d, 30d (default), 90d or 1y"))
            .schema(Some(Ref::from_schema_name(TimeRange::name())))
            .build(),
    );
    OperationBuilder::new()
        .tag(analytic.family.tag())
        .summary(Some(analytic.summary))
        .operation_id(Some(analytic.name.replace('-', "_")))
        .parameters(Some(parameters))
        .responses(Responses::from_iter(responses))
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .build()
}

/// Declares the document (`ApiDoc`) and [`operation_schemas`] from one
/// list of handlers, so the schemas checked for name collisions are exactly
/// those utoipa collects.
macro_rules! api_doc {
    ($($module:ident :: $handler:ident),* $(,)?) => {
        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "Lumen",
                description = "Learning-analytics Backend-for-Frontend: analytics for learners, trainers and org admins.",
                license(name = "Apache-2.0", identifier = "Apache-2.0")
            ),
            paths($($module::$handler),*),
            components(schemas(ErrorBody, gamification::ScopeName, Period)),
            modifiers(&BearerAuth, &AnalyticPaths, &SeedAliases, &GuardResponses, &JsonBodyResponses, &ResponseDescriptions),
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

        /// The component schemas the documented operations bring, as
        /// utoipa collects them (each type with the types it uses),
        /// duplicates included.
        fn operation_schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            utoipa_axum::paste! {
                $(
                    <$module::[<__path_ $handler>] as utoipa::__dev::SchemaReferences>::schemas(schemas);
                )*
            }
        }
    };
}

api_doc!(
    system::health,
    system::health_v1,
    system::status,
    system::live,
    system::ready,
    system::metrics,
    openapi::serve_spec,
    auth::login,
    auth::refresh,
    auth::me,
    auth::profile,
    auth::logout,
    auth::user_profile,
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
);

static SPEC: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"INTERNAL_ERROR\",\"message\":\"{e}\"}}"))
});

/// The document as JSON, built once: what `/api/openapi.json` serves and
/// `lumen openapi` prints.
pub fn document() -> &'static str {
    SPEC.as_str()
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn serve_spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
