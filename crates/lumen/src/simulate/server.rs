//! HTTP side of the simulator: feeds, Learner AI, faults and `/_sim`.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::generate::Org;
use super::model::{Feed, Item};
use super::rng::{Rng, mix};
use super::{Faults, GroundTruth, Malformed, SimHandle, service_index};

pub(crate) fn router(h: SimHandle) -> Router {
    Router::new()
        .route("/_sim/faults/{service}", put(put_faults))
        .route("/_sim/truth", get(get_truth))
        .route("/_sim/advance", post(post_advance))
        .route("/{service}/api/v1/{resource}", get(feed))
        .route(
            "/{service}/api/v1/learners/{learner}/recommendations",
            get(recommendations),
        )
        .fallback(not_found)
        .with_state(h)
}

/// The feeds each service serves (the last segment of their paths).
pub(crate) fn feeds_of(service: &str) -> &'static [&'static str] {
    match service {
        "auth" => &["user-status"],
        "directory" => &["organizations", "departments", "users", "trainer-learners"],
        "course-builder" => &[
            "courses",
            "course-units",
            "course-trainers",
            "enrolments",
            "trainer-feedback",
        ],
        "content-studio" => &["content-items", "content-interactions"],
        "assessment" => &["assessments", "assessment-attempts"],
        "skills-engine" => &[
            "skills",
            "skill-levels",
            "job-role-requirements",
            "skill-targets",
        ],
        "devlab" => &["lab-sessions"],
        "rag-assistant" => &["assistant-questions"],
        _ => &[],
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": code, "message": message }).to_string();
    json_response(status, body.into_bytes())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

/// Counts the request and applies the service's faults and the bearer
/// check. On success returns the faults (for `malformed`) and an id that
/// exists nowhere (for `UnknownReference`).
async fn gate(
    h: &SimHandle,
    service: usize,
    headers: &HeaderMap,
) -> Result<(Faults, Uuid), Response> {
    let n = h.count(service);
    let faults = h.faults(service);
    let seed = h.org().seed;
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.down {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "service is down (simulated)",
        ));
    }
    if faults.error_rate > 0.0 {
        let draw = mix(seed ^ ((service as u64) << 56) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
        if u < faults.error_rate {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "transient failure (simulated)",
            ));
        }
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing bearer token",
        ));
    }
    let unknown = Rng::derive(seed, 77, ((service as u64) << 48) ^ n).uuid();
    Ok((faults, unknown))
}

/// A feed query, validated.
pub(crate) struct PageQuery {
    /// updatedSince, rounded up to whole seconds (inclusive).
    pub since: Option<i64>,
    /// The position (updatedAt, id) of the last item already served.
    pub after: Option<(i64, Uuid)>,
    pub limit: usize,
}

pub(crate) fn encode_cursor(key: (i64, Uuid)) -> String {
    format!("c1.{:x}.{}", key.0, key.1.simple())
}

fn decode_cursor(s: &str) -> Option<(i64, Uuid)> {
    let (secs, id) = s.strip_prefix("c1.")?.split_once('.')?;
    Some((
        i64::from_str_radix(secs, 16).ok()?,
        Uuid::try_parse(id).ok()?,
    ))
}

/// A rejected query: status, error code, message.
type Rejection = (StatusCode, &'static str, &'static str);

impl PageQuery {
    fn parse(q: &HashMap<String, String>) -> Result<PageQuery, Rejection> {
        let bad = |m| (StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
        let limit = match q.get("limit") {
            None => 500,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(bad("limit must be an integer in 1..1000")),
            },
        };
        let since = match q.get("updatedSince") {
            None => None,
            Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)),
                Err(_) => return Err(bad("updatedSince must be an RFC 3339 timestamp")),
            },
        };
        let after = match q.get("cursor") {
            None => None,
            Some(c) => match decode_cursor(c) {
                Some(k) => Some(k),
                None => {
                    return Err((StatusCode::BAD_REQUEST, "INVALID_CURSOR", "unknown cursor"));
                }
            },
        };
        Ok(PageQuery {
            since,
            after,
            limit,
        })
    }
}

/// One page of a feed and the cursor of the next one.
pub(crate) fn page<'a, T: Item>(feed: &'a Feed<T>, q: &PageQuery) -> (&'a [T], Option<String>) {
    let items = feed.served();
    let mut lo = 0;
    if let Some(since) = q.since {
        lo = items.partition_point(|i| i.updated() < since);
    }
    if let Some(after) = q.after {
        lo = lo.max(items.partition_point(|i| i.key() <= after));
    }
    let hi = (lo + q.limit).min(items.len());
    let next = (hi < items.len()).then(|| encode_cursor(items[hi - 1].key()));
    (&items[lo..hi], next)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a, T> {
    items: &'a [T],
    next_cursor: Option<String>,
}

fn render_feed<T: Item>(
    feed: &Feed<T>,
    q: &PageQuery,
    name: &str,
    malformed: Option<Malformed>,
    unknown: Uuid,
) -> serde_json::Result<Vec<u8>> {
    let (items, next_cursor) = page(feed, q);
    let page = Page { items, next_cursor };
    match malformed {
        None => serde_json::to_vec(&page),
        Some(Malformed::Truncated) => serde_json::to_vec(&page).map(truncate),
        Some(m) => {
            let mut v = serde_json::to_value(&page)?;
            corrupt(&mut v, "items", name, m, unknown);
            serde_json::to_vec(&v)
        }
    }
}

fn truncate(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(body.len() / 2);
    body
}

/// Renders a page of the named feed; None for an unknown feed.
pub(crate) fn render(
    org: &Org,
    feed: &str,
    q: &PageQuery,
    malformed: Option<Malformed>,
    unknown: Uuid,
) -> Option<serde_json::Result<Vec<u8>>> {
    macro_rules! dispatch {
        ($($name:literal => $field:ident),* $(,)?) => {
            match feed {
                $($name => Some(render_feed(&org.$field, q, feed, malformed, unknown)),)*
                _ => None,
            }
        };
    }
    dispatch!(
        "organizations" => organizations,
        "departments" => departments,
        "users" => users,
        "trainer-learners" => trainer_learners,
        "courses" => courses,
        "course-units" => course_units,
        "course-trainers" => course_trainers,
        "enrolments" => enrolments,
        "trainer-feedback" => trainer_feedback,
        "content-items" => content_items,
        "content-interactions" => content_interactions,
        "assessments" => assessments,
        "assessment-attempts" => assessment_attempts,
        "skills" => skills,
        "skill-levels" => skill_levels,
        "job-role-requirements" => job_role_requirements,
        "skill-targets" => skill_targets,
        "lab-sessions" => lab_sessions,
        "assistant-questions" => assistant_questions,
        "user-status" => user_status,
    )
}

/// Which field each malformation touches, per feed.
struct Corruption {
    /// A required field to drop.
    missing: &'static str,
    /// A field whose JSON type is changed.
    wrong_type: &'static str,
    /// A field and an out-of-range value for it.
    out_of_range: (&'static str, Value),
    /// A reference field to point at an unknown id.
    reference: Option<&'static str>,
}

fn corruption(feed: &str) -> Corruption {
    let c = |missing, wrong_type, field, value: Value, reference| Corruption {
        missing,
        wrong_type,
        out_of_range: (field, value),
        reference,
    };
    let long_topic = Value::String("t".repeat(250));
    match feed {
        "organizations" => c("name", "leaderboardNames", "name", json!(""), None),
        "departments" => c("name", "name", "name", json!(""), Some("organizationId")),
        "users" => c(
            "email",
            "leaderboardOptOut",
            "fullName",
            json!(""),
            Some("organizationId"),
        ),
        "trainer-learners" => c(
            "learnerId",
            "learnerId",
            "learnerId",
            json!(""),
            Some("learnerId"),
        ),
        "courses" => c(
            "title",
            "lengthDays",
            "lengthDays",
            json!(0),
            Some("organizationId"),
        ),
        "course-units" => c("title", "position", "position", json!(-1), Some("courseId")),
        "course-trainers" => c(
            "trainerId",
            "trainerId",
            "trainerId",
            json!(""),
            Some("trainerId"),
        ),
        "enrolments" => c(
            "status",
            "progress",
            "progress",
            json!(1.7),
            Some("courseId"),
        ),
        "trainer-feedback" => c("rating", "rating", "rating", json!(9), Some("trainerId")),
        "content-items" => c(
            "contentType",
            "durationSeconds",
            "durationSeconds",
            json!(-60),
            Some("courseId"),
        ),
        "content-interactions" => c(
            "contentItemId",
            "timeSpentSeconds",
            "timeSpentSeconds",
            json!(-30),
            Some("contentItemId"),
        ),
        "assessments" => c(
            "maxScore",
            "maxScore",
            "weight",
            json!(150),
            Some("courseId"),
        ),
        "assessment-attempts" => c(
            "score",
            "score",
            "score",
            json!(1000.5),
            Some("assessmentId"),
        ),
        "skills" => c("name", "name", "name", json!(""), Some("organizationId")),
        "skill-levels" => c("level", "level", "level", json!(7.5), Some("skillId")),
        "job-role-requirements" => c(
            "requiredLevel",
            "requiredLevel",
            "requiredLevel",
            json!(6.5),
            Some("skillId"),
        ),
        "skill-targets" => c(
            "targetLevel",
            "targetLevel",
            "targetLevel",
            json!(9),
            Some("skillId"),
        ),
        "lab-sessions" => c(
            "exercise",
            "attempts",
            "attempts",
            json!(-2),
            Some("userId"),
        ),
        "assistant-questions" => c("askedAt", "resolved", "topic", long_topic, Some("userId")),
        "user-status" => c(
            "status",
            "lastLoginAt",
            "status",
            json!("banned"),
            Some("id"),
        ),
        // Learner AI's recommendations.
        _ => c(
            "title",
            "confidence",
            "confidence",
            json!(1.7),
            Some("courseId"),
        ),
    }
}

/// Applies a malformation (other than truncation) to the first element of
/// the array `key` of `v`.
pub(crate) fn corrupt(v: &mut Value, key: &str, feed: &str, m: Malformed, unknown: Uuid) {
    let Some(items) = v.get_mut(key).and_then(Value::as_array_mut) else {
        return;
    };
    let Some(first) = items.first().cloned() else {
        return;
    };
    if m == Malformed::Duplicate {
        items.insert(1, first);
        return;
    }
    let spec = corruption(feed);
    let Some(obj) = items[0].as_object_mut() else {
        return;
    };
    match m {
        Malformed::MissingField => {
            obj.remove(spec.missing);
        }
        Malformed::WrongType => {
            let new = match obj.get(spec.wrong_type) {
                Some(Value::Number(n)) => Value::String(n.to_string()),
                Some(Value::Bool(b)) => Value::String(b.to_string()),
                Some(Value::String(_)) => json!(42),
                _ => Value::String("42".to_owned()),
            };
            obj.insert(spec.wrong_type.to_owned(), new);
        }
        Malformed::OutOfRange => {
            obj.insert(spec.out_of_range.0.to_owned(), spec.out_of_range.1);
        }
        Malformed::UnknownReference => {
            if let Some(field) = spec.reference {
                obj.insert(field.to_owned(), Value::String(unknown.to_string()));
            }
        }
        Malformed::Truncated | Malformed::Duplicate => {}
    }
}

async fn feed(
    State(h): State<SimHandle>,
    Path((service, resource)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(svc) = service_index(&service) else {
        return not_found().await;
    };
    if !feeds_of(&service).contains(&resource.as_str()) {
        return not_found().await;
    }
    let (faults, unknown) = match gate(&h, svc, &headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let q = match PageQuery::parse(&q) {
        Ok(q) => q,
        Err((status, code, message)) => return error(status, code, message),
    };
    let body = render(&h.org(), &resource, &q, faults.malformed, unknown);
    match body {
        Some(Ok(bytes)) => json_response(StatusCode::OK, bytes),
        Some(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
        None => not_found().await,
    }
}

async fn recommendations(
    State(h): State<SimHandle>,
    Path((service, learner)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if service != "learner-ai" {
        return not_found().await;
    }
    let Some(svc) = service_index(&service) else {
        return not_found().await;
    };
    let (faults, unknown) = match gate(&h, svc, &headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=50).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "limit must be an integer in 1..50",
            );
        }
    };
    let recs = h.org().recommendations(&learner, limit);
    let Some(mut v) = recs else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown learner");
    };
    let body = match faults.malformed {
        None => v.to_string().into_bytes(),
        Some(Malformed::Truncated) => truncate(v.to_string().into_bytes()),
        Some(m) => {
            corrupt(&mut v, "recommendations", "recommendations", m, unknown);
            v.to_string().into_bytes()
        }
    };
    json_response(StatusCode::OK, body)
}

async fn put_faults(
    State(h): State<SimHandle>,
    Path(service): Path<String>,
    Json(faults): Json<Faults>,
) -> Response {
    if service_index(&service).is_none() {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown service");
    }
    if !(0.0..=1.0).contains(&faults.error_rate) {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "errorRate must be in 0..1",
        );
    }
    h.set_faults(&service, faults.clone());
    Json(faults).into_response()
}

#[derive(Serialize)]
struct TruthBody {
    now: String,
    #[serde(flatten)]
    truth: GroundTruth,
}

async fn get_truth(State(h): State<SimHandle>) -> Response {
    let now = super::model::fmt_ts(h.org().now);
    Json(TruthBody {
        now,
        truth: h.truth(),
    })
    .into_response()
}

#[derive(Deserialize)]
struct AdvanceBody {
    days: u32,
}

async fn post_advance(State(h): State<SimHandle>, Json(body): Json<AdvanceBody>) -> Response {
    h.advance(body.days);
    Json(json!({ "now": super::model::fmt_ts(h.org().now) })).into_response()
}
