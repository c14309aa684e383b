//! Extractors for the query string and the path whose failures are
//! `VALIDATION_ERROR`s naming the field (`validation: {field: reason}`),
//! like `ApiJson` for bodies. Values are percent-decoded (by
//! `serde_urlencoded` and axum's path matcher).

use std::any::TypeId;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::ApiError;

/// The query string deserialised into `T`; a field that does not
/// deserialise is a validation error keyed by its name.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(pairs)
            .map(ApiQuery)
            .map_err(|e| {
                let field = match e.path().to_string() {
                    path if path == "." => "query".to_owned(),
                    path => path,
                };
                ApiError::validation(field, e.into_inner().to_string())
            })
    }
}

/// Path parameters deserialised into `T` (a `Uuid` for one parameter, a
/// struct for several); a parameter that does not deserialise is a
/// validation error keyed by its name.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send + 'static, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(match e.into_kind() {
                // An id says what it must be, as the guard does for subjects.
                ErrorKind::DeserializeError { key, .. }
                    if TypeId::of::<T>() == TypeId::of::<Uuid>() =>
                {
                    ApiError::validation(key, "must be a UUID")
                }
                ErrorKind::DeserializeError { key, message, .. } => {
                    ApiError::validation(key, message)
                }
                ErrorKind::ParseErrorAtKey {
                    key, expected_type, ..
                } => ApiError::validation(key, format!("must be a {expected_type}")),
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    ApiError::validation(key, "must be valid UTF-8")
                }
                other => ApiError::Internal(anyhow::anyhow!("path parameters: {other}")),
            }),
            Err(other) => Err(ApiError::Internal(anyhow::anyhow!(
                "path parameters: {other}"
            ))),
        }
    }
}

/// `?timeRange=7d|30d|90d|1y`, 30d when absent.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct RangeQuery {
    #[serde(rename = "timeRange", default, deserialize_with = "time_range")]
    pub time_range: lumen_core::analytics::TimeRange,
}

/// A role bundle's query: `timeRange`, and whose bundle (`userId` for the
/// learner bundle, `trainerId` for the trainer bundle; default: the caller).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleQuery {
    #[serde(default, deserialize_with = "time_range")]
    pub time_range: lumen_core::analytics::TimeRange,
    pub user_id: Option<uuid::Uuid>,
    pub trainer_id: Option<uuid::Uuid>,
}

fn time_range<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<lumen_core::analytics::TimeRange, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(|_| D::Error::custom("must be one of 7d, 30d, 90d, 1y"))
}

/// For `#[serde(deserialize_with)]`: an optional integer from 1 to `MAX`.
pub fn int_from_1_to<'de, const MAX: u32, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<u32>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|raw| {
            raw.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX).contains(n))
                .ok_or_else(|| D::Error::custom(format!("must be an integer from 1 to {MAX}")))
        })
        .transpose()
}

/// For `#[serde(deserialize_with)]`: an optional UUID ("must be a UUID").
pub fn opt_uuid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|raw| Uuid::parse_str(&raw).map_err(|_| D::Error::custom("must be a UUID")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default, deserialize_with = "int_from_1_to::<100, _>")]
        page_size: Option<u32>,
        name: Option<String>,
    }

    async fn query(uri: &str) -> Result<Page, ApiError> {
        let (mut parts, ()) = Request::get(uri).body(()).expect("request").into_parts();
        ApiQuery::<Page>::from_request_parts(&mut parts, &())
            .await
            .map(|ApiQuery(p)| p)
    }

    #[tokio::test]
    async fn a_bad_path_id_is_a_validation_error_naming_it() {
        use axum::Router;
        use axum::routing::get;
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let app: Router = Router::new().route(
            "/jobs/{jobId}",
            get(|ApiPath(id): ApiPath<Uuid>| async move { id.to_string() }),
        );
        let request = |uri: &str| {
            Request::get(uri)
                .body(axum::body::Body::empty())
                .expect("request")
        };
        let id = Uuid::from_u128(9);
        let ok = app
            .clone()
            .oneshot(request(&format!("/jobs/{id}")))
            .await
            .expect("infallible");
        assert_eq!(ok.status(), axum::http::StatusCode::OK);
        let bad = app
            .oneshot(request("/jobs/not-a-uuid"))
            .await
            .expect("infallible");
        assert_eq!(bad.status(), axum::http::StatusCode::BAD_REQUEST);
        let body = bad.into_body().collect().await.expect("body").to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"], "VALIDATION_ERROR");
        assert_eq!(body["validation"]["jobId"], "must be a UUID");
    }

    #[tokio::test]
    async fn queries_are_percent_decoded_and_bad_fields_named() {
        let page = query("/x?pageSize=7&name=a%20b%2Bc").await.expect("valid");
        assert_eq!(
            (page.page_size, page.name.as_deref()),
            (Some(7), Some("a b+c"))
        );
        let page = query("/x").await.expect("valid");
        assert_eq!((page.page_size, page.name), (None, None));
        let err = query("/x?pageSize=101").await.expect_err("out of range");
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["error"], "VALIDATION_ERROR");
        assert_eq!(
            body["validation"]["pageSize"],
            "must be an integer from 1 to 100"
        );
    }
}
