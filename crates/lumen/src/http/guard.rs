//! The per-route guard, applied to every route from its `RouteDef`:
//! authenticate (unless public) → rate limit → ask the authorisation policy
//! → handler. Handlers never decide access themselves; they read the
//! [`CurrentUser`] this guard put in the request.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lumen_core::Role;
use lumen_core::authz::{self, Access, Caller, SubjectFacts, SubjectRule};
use uuid::Uuid;

use super::middleware::LogUser;
use crate::auth::Verified;
use crate::config::ForwardedHeader;
use crate::http::error::ApiError;
use crate::ratelimit::{Decision, LimitClass};
use crate::state::AppState;
use crate::store::StoreResult;

pub const ACTIVE_ROLE: &str = "x-active-role";

/// What a route requires; attached to it when the router is built.
#[derive(Debug, Clone, Copy)]
pub struct RouteGuard {
    pub access: Access,
    pub limit: Option<LimitClass>,
}

/// The authenticated caller of this request and the role they act in.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub caller: Caller,
    /// `None` only on routes that need no role, for callers with several
    /// roles who sent no `X-Active-Role`.
    pub active_role: Option<Role>,
    pub verified: Verified,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Present on every route whose guard authenticates; a handler on a
        // public route asking for it is a bug that fails closed.
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("authentication required".into()))
    }
}

pub async fn guard(
    State((state, route)): State<(AppState, RouteGuard)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let decision = match check(&state, route, &mut parts).await {
        Ok(decision) => decision,
        Err(refusal) => {
            let mut response = refusal.error.into_response();
            if let Some(decision) = refusal.decision {
                rate_limit_headers(response.headers_mut(), &decision);
            }
            return response;
        }
    };
    let user = parts
        .extensions
        .get::<CurrentUser>()
        .map(|u| u.caller.user_id);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(user_id) = user {
        response.extensions_mut().insert(LogUser(user_id));
    }
    if let Some(mut counted) = decision {
        // A revalidation answered 304 is free: the client already holds the
        // body, and a dashboard polling with ETags must not run out of budget.
        if response.status() == StatusCode::NOT_MODIFIED
            && let Some(limiter) = &state.limiter
        {
            limiter.refund(counted.class, &counted.subject).await;
            counted.decision.remaining =
                (counted.decision.remaining + 1).min(counted.decision.limit);
        }
        rate_limit_headers(response.headers_mut(), &counted.decision);
    }
    response
}

/// A request the rate limiter allowed and counted, and under which key.
struct Counted {
    decision: Decision,
    class: LimitClass,
    subject: String,
}

/// Why the guard refused, with the rate-limit state to report when counted.
struct Refusal {
    error: ApiError,
    decision: Option<Decision>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            decision: None,
        }
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<crate::auth::AuthError> for Refusal {
    fn from(error: crate::auth::AuthError) -> Self {
        ApiError::from(error).into()
    }
}

async fn check(
    state: &AppState,
    route: RouteGuard,
    parts: &mut Parts,
) -> Result<Option<Counted>, Refusal> {
    let current = match route.access {
        Access::Public => None,
        access => {
            let token = bearer(&parts.headers)?;
            let verified = state.auth.authenticate(&state.store, token).await?;
            let header = parts
                .headers
                .get(ACTIVE_ROLE)
                .map(|v| v.to_str().unwrap_or("\u{fffd}"));
            let active_role = authz::active_role(header, &verified.caller, access)
                .map_err(|d| ApiError::Forbidden(d.to_string()))?;
            Some(CurrentUser {
                caller: verified.caller.clone(),
                active_role,
                verified,
            })
        }
    };

    let decision = match (route.limit, &state.limiter) {
        (Some(class), Some(limiter)) => {
            let subject = match (&current, class.per_user()) {
                (Some(user), true) => match parts.extensions.get::<MatchedPath>() {
                    Some(route) if class.per_route() => {
                        format!("user:{}:{}", user.caller.user_id, route.as_str())
                    }
                    _ => format!("user:{}", user.caller.user_id),
                },
                _ => format!(
                    "ip:{}",
                    client_key(
                        parts,
                        state.config.trusted_proxy_hops,
                        state.config.forwarded_header
                    )
                ),
            };
            let decision = limiter.check(class, &subject).await;
            if !decision.allowed {
                return Err(Refusal {
                    error: ApiError::RateLimited {
                        retry_after_secs: decision.retry_after.as_secs_f64().ceil() as u64,
                        next_allowed_at: chrono::Utc::now()
                            + chrono::Duration::from_std(decision.retry_after).unwrap_or_default(),
                    },
                    decision: Some(decision),
                });
            }
            Some(Counted {
                decision,
                class,
                subject,
            })
        }
        _ => None,
    };

    if let (Access::ActingAs(bundle), Some(user)) = (route.access, &current) {
        let subject = bundle_subject(parts, bundle)?;
        let facts = match (subject, user.active_role) {
            (Some(subject), Some(active)) if subject != user.caller.user_id => {
                subject_facts(state, &user.caller, active, SubjectRule::Learner, subject).await?
            }
            _ => SubjectFacts::default(),
        };
        authz::decide_bundle(&user.caller, user.active_role, bundle, subject, &facts)
            .map_err(|d| ApiError::Forbidden(d.to_string()))?;
    }
    if let (Access::Subject { rule, param }, Some(user)) = (route.access, &current) {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("path parameters unavailable")))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == param)
            .map(|(_, value)| value)
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("route has no {{{param}}} parameter"))
            })?;
        let subject =
            Uuid::parse_str(raw).map_err(|_| ApiError::validation(param, "must be a UUID"))?;
        // Every subject rule needs an active role; `active_role` guarantees one.
        let active = user
            .active_role
            .ok_or_else(|| ApiError::Forbidden(authz::Denial::ActiveRoleRequired.to_string()))?;
        let facts = subject_facts(state, &user.caller, active, rule, subject).await?;
        authz::decide(&user.caller, active, rule, subject, &facts)
            .map_err(|d| ApiError::Forbidden(d.to_string()))?;
    }

    if let Some(user) = current {
        parts.extensions.insert(user);
    }
    Ok(decision)
}

/// The person a role bundle is about, when the query names one: `userId`
/// for the learner bundle, `trainerId` for the trainer bundle.
fn bundle_subject(parts: &Parts, bundle: Role) -> Result<Option<Uuid>, ApiError> {
    let param = match bundle {
        Role::Learner => "userId",
        Role::Trainer => "trainerId",
        Role::OrgAdmin => return Ok(None),
    };
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == param)
        .map(|(_, value)| {
            Uuid::parse_str(&value).map_err(|_| ApiError::validation(param, "must be a UUID"))
        })
        .transpose()
}

/// The facts the policy needs about a subject, read from the store.
async fn subject_facts(
    state: &AppState,
    caller: &Caller,
    active: Role,
    rule: SubjectRule,
    subject: Uuid,
) -> StoreResult<SubjectFacts> {
    if rule != SubjectRule::Learner || subject == caller.user_id {
        return Ok(SubjectFacts::default());
    }
    let organization_id = state.store.user(subject).await?.map(|u| u.organization_id);
    let taught_by_caller =
        active == Role::Trainer && state.store.teaches(caller.user_id, subject).await?;
    Ok(SubjectFacts {
        organization_id,
        taught_by_caller,
    })
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <token>".into(),
        )),
    }
}

/// The rate-limit key of the client: the TCP peer, or with `hops` trusted
/// proxies the address they saw. Every line of the configured header is
/// read, in order, as one list, and the entry `hops` from the right taken:
/// entries a client wrote itself sit further left and are never reached.
/// An IPv6 client is keyed by its /64, which one subscriber usually holds
/// whole.
fn client_key(parts: &Parts, hops: usize, header: ForwardedHeader) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = (hops > 0)
        .then(|| forwarded_for(&parts.headers, header))
        .and_then(|entries| {
            let index = entries.len().checked_sub(hops)?;
            entries.into_iter().nth(index)
        });
    // An entry that is no address (`unknown`, an obfuscated name) keys the
    // client by the proxy: stricter, never looser.
    match forwarded.and_then(|entry| parse_node(&entry)).or(peer) {
        Some(ip) => ip_key(ip),
        None => "unknown".to_owned(),
    }
}

/// The `for` entries of every line of `header`, leftmost first.
fn forwarded_for(headers: &HeaderMap, header: ForwardedHeader) -> Vec<String> {
    let lines = headers
        .get_all(match header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        })
        .iter()
        .map(|v| v.to_str().unwrap_or(""));
    let elements = lines.flat_map(|line| line.split(',')).map(str::trim);
    match header {
        ForwardedHeader::XForwardedFor => elements.map(str::to_owned).collect(),
        // RFC 7239: `for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"`;
        // an element without `for` still counts as a hop.
        ForwardedHeader::Forwarded => elements
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .map(|(_, value)| value.trim().trim_matches('"').to_owned())
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_node(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.split_once(']')?.0;
            inner.parse::<IpAddr>().ok()
        })
}

fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
            format!("{prefix}/64")
        }
    }
}

fn rate_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    let secs = |d: std::time::Duration| d.as_secs_f64().ceil() as u64;
    let pairs = [
        ("ratelimit-limit", d.limit as u64),
        ("ratelimit-remaining", d.remaining as u64),
        ("ratelimit-reset", secs(d.reset_after)),
    ];
    for (name, value) in pairs {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
