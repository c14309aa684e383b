//! The API contract, checked from the OpenAPI document itself (issue 13).
//!
//! For every operation of `/api/openapi.json`, as each demo role and
//! anonymously, this test sends requests built from the document (the
//! caller's own ids in the path, every enum value, the examples) and
//! requests that violate it, generated per parameter and body schema: wrong
//! types, out of range, not in the enum, malformed UUIDs, random strings,
//! missing required fields, malformed JSON and wrong content types. Then:
//!
//! - every answer's status is documented for its operation, and its body
//!   validates against the documented schema (`jsonschema`, draft 2020-12,
//!   `$ref`s resolved inside the document, formats checked, and no property
//!   the schema does not name, so a schema whose names differ from the
//!   serialised body fails);
//! - every request that violates the document is refused with 400 in the
//!   error shape naming the field (415 for a body that is not JSON), unless
//!   the caller is refused anyway (401/403) for that operation;
//! - every request goes with an `Accept-Encoding` of none, gzip, br or
//!   both (all four for each operation's base requests), and the body must
//!   decode as its `Content-Encoding` says, to the length it announces.
//!
//! Random values come from proptest's deterministic generator, seeded by
//! `LUMEN_CONTRACT_SEED` (default fixed, printed on failure), so a failure
//! replays.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jsonschema::{Draft, Validator};
use lumen::store::Store;
use lumen_core::model::User;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use support::{TestDb, token_for};
use tower::ServiceExt;
use uuid::Uuid;

support::on_both_databases!(every_operation_keeps_the_contract);

const DEFAULT_SEED: u64 = 0x1u64 << 40 | 13;

/// The `Accept-Encoding`s every request cycles through.
const ENCODINGS: [Option<&str>; 4] = [None, Some("gzip"), Some("br"), Some("gzip, br")];

/// How many generated values (beyond the fixed ones) each parameter and
/// body field gets.
const RANDOM_CASES: usize = 2;

/// Who sends a request: a demo login acting in one role, or nobody.
struct Caller {
    name: &'static str,
    user: Option<User>,
    role: Option<&'static str>,
    /// The caller's own ids by kind: `user`, `org`, `job`, `report`,
    /// `schedule` (an anonymous caller borrows the learner's).
    ids: BTreeMap<&'static str, String>,
}

/// One operation of the document.
struct Op {
    path: String,
    method: Method,
    doc: Value,
}

/// One parameter of an operation, its schema resolved.
struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

/// One request, before authentication is added.
#[derive(Clone, Debug)]
struct Probe {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    /// Content type and bytes.
    body: Option<(Option<&'static str>, Vec<u8>)>,
    encoding: Option<&'static str>,
}

impl Probe {
    fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter())
            .finish();
        format!("{}?{query}", self.path)
    }
}

/// What the test expects of an answer besides its being documented.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// Valid by the document: any documented status.
    Documented,
    /// Violates the document at `field`: 400 `VALIDATION_ERROR` naming it
    /// (a body field may be named `body`, as serde reports it).
    Invalid { field: String, in_body: bool },
    /// A body that is not `application/json`: 415.
    UnsupportedMediaType,
}

/// An answer, its body decoded as its `Content-Encoding` says.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

struct Contract {
    /// The document's components, as published (for request schemas).
    components: Value,
    /// The same, closed against unnamed properties (for responses).
    strict_components: Value,
    validators: HashMap<(bool, String), Validator>,
    runner: TestRunner,
    seed: u64,
    failures: Vec<String>,
    requests: usize,
    turn: usize,
    /// Statuses seen per operation, printed as a summary.
    seen: BTreeMap<String, BTreeSet<u16>>,
}

async fn every_operation_keeps_the_contract(db: &TestDb) {
    let (config, _sim) = support::simulated_org(db, 7).await;
    let store = db.store();
    lumen::accounts::seed_demo(&store)
        .await
        .expect("demo logins");
    let state = lumen::AppState::new(config, store.clone()).expect("state");
    let app = lumen::http::app(state);

    let reply = send(
        &app,
        Method::GET,
        "/api/openapi.json",
        None,
        None,
        None,
        None,
    )
    .await
    .expect("the document");
    let spec: Value = serde_json::from_slice(&reply.body).expect("the document is JSON");
    let seed = std::env::var("LUMEN_CONTRACT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let mut contract = Contract {
        components: spec["components"].clone(),
        strict_components: strict_components(&spec),
        validators: HashMap::new(),
        runner,
        seed,
        failures: Vec::new(),
        requests: 0,
        turn: 0,
        seen: BTreeMap::new(),
    };

    let callers = callers(&app, &store).await;
    let mut ops = operations(&spec);
    // Deleting comes last, so the reads see the caller's objects first.
    ops.sort_by(|a, b| {
        (a.method == Method::DELETE, &a.path, a.method.as_str()).cmp(&(
            b.method == Method::DELETE,
            &b.path,
            b.method.as_str(),
        ))
    });
    let routes = lumen::http::route_table().len();
    assert_eq!(ops.len(), routes, "every route is an operation");

    for op in &ops {
        for caller in &callers {
            contract.exercise(&app, &store, caller, op).await;
        }
    }

    for (operation, statuses) in &contract.seen {
        eprintln!("{operation}: {statuses:?}");
    }
    eprintln!(
        "{} requests over {} operations and {} callers (seed {})",
        contract.requests,
        ops.len(),
        callers.len(),
        contract.seed
    );
    let count = contract.failures.len();
    contract.failures.truncate(60);
    assert!(
        count == 0,
        "{count} contract violations (LUMEN_CONTRACT_SEED={}; the first {}):\n{}",
        contract.seed,
        contract.failures.len(),
        contract.failures.join("\n")
    );
}

/// The demo logins in each of their roles, and an anonymous caller, each
/// with a job, a report and a schedule of their own.
async fn callers(app: &Router, store: &Store) -> Vec<Caller> {
    let mut callers = Vec::new();
    for (name, email, role, report_type) in [
        ("learner", "learner@demo.lumen.test", "learner", "learner"),
        ("trainer", "trainer@demo.lumen.test", "trainer", "trainer"),
        (
            "org-admin",
            "admin@demo.lumen.test",
            "org-admin",
            "organization",
        ),
        (
            "multi as learner",
            "multi@demo.lumen.test",
            "learner",
            "learner",
        ),
        (
            "multi as trainer",
            "multi@demo.lumen.test",
            "trainer",
            "trainer",
        ),
    ] {
        let user = store
            .user_by_email(email)
            .await
            .expect("read")
            .expect(email);
        let token = token_for(store, &user).await;
        let mut created = Vec::new();
        for (path, body, id) in [
            (
                "/api/v1/analytics/refresh",
                json!({"userId": user.id, "role": role}),
                "jobId",
            ),
            (
                "/api/v1/reports/generate",
                json!({"type": report_type, "format": "json"}),
                "reportId",
            ),
            (
                "/api/v1/reports/schedules",
                json!({"cron": "0 7 * * 1", "type": report_type, "format": "csv"}),
                "id",
            ),
        ] {
            let body = Some((Some("application/json"), body.to_string().into_bytes()));
            let reply = send(
                app,
                Method::POST,
                path,
                Some(&token),
                Some(role),
                body,
                None,
            )
            .await
            .expect("decodes");
            assert!(reply.status.is_success(), "{path}: {}", reply.status);
            let reply: Value = serde_json::from_slice(&reply.body).expect("json");
            created.push(reply[id].as_str().expect("an id").to_owned());
        }
        let [job, report, schedule] = <[String; 3]>::try_from(created).expect("three ids");
        let ids = BTreeMap::from([
            ("user", user.id.to_string()),
            ("org", user.organization_id.to_string()),
            ("job", job),
            ("report", report),
            ("schedule", schedule),
        ]);
        callers.push(Caller {
            name,
            user: Some(user),
            role: Some(role),
            ids,
        });
    }
    let borrowed = callers[0].ids.clone();
    callers.push(Caller {
        name: "anonymous",
        user: None,
        role: None,
        ids: borrowed,
    });
    callers
}

/// Every operation of the document.
fn operations(spec: &Value) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, doc) in item.as_object().expect("path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                "patch" => Method::PATCH,
                _ => continue,
            };
            out.push(Op {
                path: path.clone(),
                method,
                doc: doc.clone(),
            });
        }
    }
    out
}

/// The caller's own id for a path parameter. A parameter this does not
/// know fails the test: say here whose id it takes.
fn own_id(caller: &Caller, path: &str, param: &str) -> String {
    let kind = match param {
        "userId" | "trainerId" => "user",
        "orgId" => "org",
        "jobId" => "job",
        "id" if path.starts_with("/api/v1/reports/schedules/") => "schedule",
        "id" if path.starts_with("/api/v1/reports/") => "report",
        other => panic!("{path}: no own id for the path parameter {other}; add it to own_id"),
    };
    caller.ids[kind].clone()
}

/// `path` with every parameter the caller's own id but `name`, which is
/// `value`.
fn path_with(path: &str, params: &[Param], caller: &Caller, name: &str, value: &str) -> String {
    let mut out = path.to_owned();
    for p in params.iter().filter(|p| p.location == "path") {
        let v = if p.name == name {
            value.to_owned()
        } else {
            own_id(caller, path, &p.name)
        };
        out = out.replace(&format!("{{{}}}", p.name), &v);
    }
    out
}

fn set_query(query: &mut Vec<(String, String)>, name: &str, value: String) {
    query.retain(|(n, _)| n != name);
    query.push((name.to_owned(), value));
}

impl Contract {
    /// Every request of one operation for one caller.
    async fn exercise(&mut self, app: &Router, store: &Store, caller: &Caller, op: &Op) {
        let params = self.parameters(&op.doc);
        let body_schema = op
            .doc
            .pointer("/requestBody/content/application~1json/schema")
            .cloned();

        // The base request: own ids in the path, each required query
        // parameter at its first valid value, and of the valid bodies the
        // first the caller is granted.
        let mut base = Probe {
            method: op.method.clone(),
            path: path_with(&op.path, &params, caller, "", ""),
            query: Vec::new(),
            body: None,
            encoding: None,
        };
        for p in params
            .iter()
            .filter(|p| p.location == "query" && p.required)
        {
            let value = self.valid_values(&p.schema).into_iter().next();
            let value = value.unwrap_or_else(|| panic!("{}: no valid {}", op.path, p.name));
            base.query.push((p.name.clone(), value));
        }
        let bodies = match &body_schema {
            Some(schema) => self.valid_bodies(schema, caller),
            None => Vec::new(),
        };
        let mut base_body = None;
        for body in &bodies {
            let probe = Probe {
                body: Some((Some("application/json"), body.to_string().into_bytes())),
                ..base.clone()
            };
            let status = self
                .check_next(app, store, caller, op, probe, Expect::Documented)
                .await;
            if base_body.is_none() && status.is_success() {
                base_body = Some(body.clone());
            }
        }
        let base_body = base_body.or_else(|| bodies.first().cloned());
        if let Some(body) = &base_body {
            base.body = Some((Some("application/json"), body.to_string().into_bytes()));
        }

        // Every encoding of the base request. When it is refused (401, 403)
        // a violating request may be refused the same way: the guard
        // answers before the handler reads the input.
        let mut refused = false;
        for encoding in ENCODINGS {
            let probe = Probe {
                encoding,
                ..base.clone()
            };
            let status = self
                .check(app, store, caller, op, &probe, Expect::Documented)
                .await;
            refused |= matches!(status.as_u16(), 401 | 403);
        }

        // Valid variations: each value of each query parameter; unknown
        // ids in the path.
        for p in &params {
            match p.location.as_str() {
                "query" => {
                    for value in self.valid_values(&p.schema) {
                        let mut probe = base.clone();
                        set_query(&mut probe.query, &p.name, value);
                        self.check_next(app, store, caller, op, probe, Expect::Documented)
                            .await;
                    }
                }
                "path" => {
                    for id in [Uuid::new_v4(), Uuid::nil()] {
                        let probe = Probe {
                            path: path_with(&op.path, &params, caller, &p.name, &id.to_string()),
                            ..base.clone()
                        };
                        self.check_next(app, store, caller, op, probe, Expect::Documented)
                            .await;
                    }
                }
                _ => {}
            }
        }

        // Violations, of one parameter or of the body at a time.
        let invalid = |field: &str, in_body: bool| {
            if refused {
                Expect::Documented
            } else {
                Expect::Invalid {
                    field: field.to_owned(),
                    in_body,
                }
            }
        };
        for p in &params {
            let in_path = p.location == "path";
            for value in self.invalid_values(&p.schema, in_path) {
                let mut probe = base.clone();
                match p.location.as_str() {
                    "query" => set_query(&mut probe.query, &p.name, value),
                    "path" => probe.path = path_with(&op.path, &params, caller, &p.name, &value),
                    _ => continue,
                }
                self.check_next(app, store, caller, op, probe, invalid(&p.name, false))
                    .await;
            }
        }
        if let Some(schema) = &body_schema {
            let base_body = base_body.unwrap_or(Value::Null);
            for (field, bytes) in self.invalid_bodies(schema, &base_body) {
                let probe = Probe {
                    body: Some((Some("application/json"), bytes)),
                    ..base.clone()
                };
                self.check_next(app, store, caller, op, probe, invalid(&field, true))
                    .await;
            }
            let bytes = base_body.to_string().into_bytes();
            for content_type in [
                Some("text/plain"),
                None,
                Some("application/x-www-form-urlencoded"),
            ] {
                let probe = Probe {
                    body: Some((content_type, bytes.clone())),
                    ..base.clone()
                };
                let expect = if refused {
                    Expect::Documented
                } else {
                    Expect::UnsupportedMediaType
                };
                self.check_next(app, store, caller, op, probe, expect).await;
            }
        }
    }

    /// [`Self::check`] with the next `Accept-Encoding` of the cycle.
    async fn check_next(
        &mut self,
        app: &Router,
        store: &Store,
        caller: &Caller,
        op: &Op,
        mut probe: Probe,
        expect: Expect,
    ) -> StatusCode {
        self.turn += 1;
        probe.encoding = ENCODINGS[self.turn % ENCODINGS.len()];
        self.check(app, store, caller, op, &probe, expect).await
    }

    /// Sends `probe` as `caller` and checks the answer against the
    /// document and `expect`, collecting failures. Returns the status.
    async fn check(
        &mut self,
        app: &Router,
        store: &Store,
        caller: &Caller,
        op: &Op,
        probe: &Probe,
        expect: Expect,
    ) -> StatusCode {
        // A fresh session per request: a logout ends only its own.
        let token = match &caller.user {
            Some(user) => Some(token_for(store, user).await),
            None => None,
        };
        let uri = probe.uri();
        let reply = send(
            app,
            probe.method.clone(),
            &uri,
            token.as_deref(),
            caller.role,
            probe.body.clone(),
            probe.encoding,
        )
        .await;
        self.requests += 1;
        let body = match &probe.body {
            Some((ct, bytes)) => format!(
                " ({}: {})",
                ct.unwrap_or("no content type"),
                String::from_utf8_lossy(&bytes[..bytes.len().min(100)])
            ),
            None => String::new(),
        };
        let label = format!(
            "{} {uri} as {} [{}]{body}",
            probe.method,
            caller.name,
            probe.encoding.unwrap_or("identity"),
        );
        let reply = match reply {
            Ok(reply) => reply,
            Err(problem) => {
                self.failures.push(format!("{label}: {problem}"));
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        };
        self.seen
            .entry(format!("{} {}", op.method, op.path))
            .or_default()
            .insert(reply.status.as_u16());
        let excerpt =
            || String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)]).into_owned();
        if let Err(problem) = self.documented(&op.doc, &reply) {
            self.failures.push(format!(
                "{label}: {} {problem}: {}",
                reply.status.as_u16(),
                excerpt()
            ));
        }
        if let Err(problem) = expected(&expect, &reply) {
            self.failures.push(format!(
                "{label}: {} {problem}: {}",
                reply.status.as_u16(),
                excerpt()
            ));
        }
        reply.status
    }

    /// The operation's parameters with their schemas resolved.
    fn parameters(&self, operation: &Value) -> Vec<Param> {
        let Some(list) = operation["parameters"].as_array() else {
            return Vec::new();
        };
        list.iter()
            .map(|p| Param {
                name: p["name"].as_str().expect("name").to_owned(),
                location: p["in"].as_str().expect("in").to_owned(),
                required: p["required"].as_bool().unwrap_or(false),
                schema: self.resolve(&p["schema"]).clone(),
            })
            .collect()
    }

    /// A `$ref` into the components, followed (repeatedly).
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        while let Some(reference) = schema["$ref"].as_str() {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            schema = &self.components["schemas"][name];
            assert!(!schema.is_null(), "{reference} names no component");
        }
        schema
    }

    /// The one non-null alternative of a nullable schema, or the schema.
    fn non_null<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let schema = self.resolve(schema);
        for key in ["oneOf", "anyOf"] {
            if let Some(alternatives) = schema[key].as_array()
                && let Some(first) = alternatives.iter().find(|a| a["type"] != "null")
            {
                return self.resolve(first);
            }
        }
        schema
    }

    fn types(&self, schema: &Value) -> Vec<String> {
        let schema = self.non_null(schema);
        match &schema["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A validator of `schema` with `$ref`s resolved in the document;
    /// `strict`: objects closed against unnamed properties.
    fn validator(&mut self, schema: &Value, strict: bool) -> &Validator {
        let key = (strict, schema.to_string());
        if !self.validators.contains_key(&key) {
            let mut schema = schema.clone();
            let components = if strict {
                tighten(&mut schema, true);
                self.strict_components.clone()
            } else {
                self.components.clone()
            };
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": components,
                "allOf": [schema],
            });
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {} does not compile: {e}", key.1));
            self.validators.insert(key.clone(), validator);
        }
        &self.validators[&key]
    }

    /// Whether `value` is valid for `schema` as published.
    fn accepts(&mut self, schema: &Value, value: &Value) -> bool {
        self.validator(schema, false).is_valid(value)
    }

    /// A query or path value as the JSON the schema describes.
    fn as_json(&self, schema: &Value, raw: &str) -> Value {
        let types = self.types(schema);
        let numeric = types.iter().any(|t| t == "integer" || t == "number");
        if numeric {
            if let Ok(n) = raw.parse::<i64>() {
                return json!(n);
            }
            if let Some(n) = raw
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(n);
            }
        }
        if types.iter().any(|t| t == "boolean") && (raw == "true" || raw == "false") {
            return json!(raw == "true");
        }
        json!(raw)
    }

    /// Generated strings: `count` of `pattern`.
    fn strings(&mut self, pattern: &str, count: usize) -> Vec<String> {
        let strategy = proptest::string::string_regex(pattern).expect("regex");
        (0..count)
            .map(|_| strategy.new_tree(&mut self.runner).expect("tree").current())
            .collect()
    }

    fn integer(&mut self, range: std::ops::RangeInclusive<i64>) -> i64 {
        range.new_tree(&mut self.runner).expect("tree").current()
    }

    /// Values of a query parameter that the document accepts: each enum
    /// value, the bounds and a value between, `true`/`false`, the example.
    fn valid_values(&mut self, schema: &Value) -> Vec<String> {
        let schema = self.non_null(schema).clone();
        let mut values = Vec::new();
        if let Some(options) = schema["enum"].as_array() {
            values.extend(options.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let types = self.types(&schema);
        if types.iter().any(|t| t == "integer") {
            let low = schema["minimum"].as_i64().unwrap_or(0);
            let high = schema["maximum"].as_i64().unwrap_or(low + 1000);
            let middle = self.integer(low..=high);
            values.extend([low, high, middle].map(|n| n.to_string()));
        }
        if types.iter().any(|t| t == "boolean") {
            values.extend(["true".to_owned(), "false".to_owned()]);
        }
        if let Some(example) = schema["example"].as_str() {
            values.push(example.to_owned());
        }
        values.dedup();
        let schema = schema.clone();
        values.retain(|v| {
            let json = self.as_json(&schema, v);
            self.accepts(&schema, &json)
        });
        values
    }

    /// Values of a parameter that the document rejects: fixed ones that
    /// break types, formats, enums and bounds, and generated ones.
    fn invalid_values(&mut self, schema: &Value, in_path: bool) -> Vec<String> {
        let schema = self.non_null(schema).clone();
        let mut candidates: Vec<String> = [
            "not-a-uuid",
            "abc",
            "-1",
            "1.5",
            "0",
            "true",
            "12345678-1234-1234-1234-12345678901",
            "0000000g-0000-0000-0000-000000000000",
            "99999999999999999999",
            "",
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(options) = schema["enum"].as_array() {
            for option in options.iter().filter_map(Value::as_str) {
                candidates.push(option.to_uppercase());
                candidates.push(format!("{option}x"));
                candidates.push(format!(" {option}"));
            }
        }
        if let Some(low) = schema["minimum"].as_i64() {
            candidates.push((low - 1).to_string());
        }
        if let Some(high) = schema["maximum"].as_i64() {
            candidates.push((high + 1).to_string());
            let far = self.integer(high + 1..=high.saturating_mul(1000).max(high + 2));
            candidates.push(far.to_string());
        }
        candidates.extend(self.strings("[A-Za-z0-9._~-]{1,40}", RANDOM_CASES));
        let mut out = Vec::new();
        for candidate in candidates {
            // A path segment can be neither empty nor other than unreserved
            // characters here (no encoding is applied to it).
            if in_path
                && (candidate.is_empty()
                    || !candidate
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)))
            {
                continue;
            }
            let json = self.as_json(&schema, &candidate);
            if !self.accepts(&schema, &json) && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
        out
    }

    /// One value the document accepts for a body property: its example,
    /// its first enum value, the caller's own id for `userId`, or a plain
    /// value of its type.
    fn first_valid(&mut self, schema: &Value, name: &str, caller: &Caller) -> Option<Value> {
        if let Some(example) = schema.get("example") {
            return Some(example.clone());
        }
        let resolved = self.non_null(schema).clone();
        if let Some(example) = resolved.get("example") {
            return Some(example.clone());
        }
        if let Some(first) = resolved["enum"].as_array().and_then(|e| e.first()) {
            return Some(first.clone());
        }
        let types = self.types(&resolved);
        let t = types.first().map(String::as_str).unwrap_or("object");
        Some(match t {
            "string" => match resolved["format"].as_str() {
                Some("uuid") if name == "userId" => json!(caller.ids["user"]),
                Some("uuid") => json!(Uuid::new_v4()),
                Some("date-time") => json!(chrono::Utc::now().to_rfc3339()),
                _ => json!("x"),
            },
            "integer" => json!(resolved["minimum"].as_i64().unwrap_or(1)),
            "number" => json!(1.0),
            "boolean" => json!(true),
            "array" => json!([]),
            "object" if resolved.get("properties").is_some() => {
                return self.object_instance(&resolved, caller);
            }
            _ => json!({}),
        })
    }

    fn object_instance(&mut self, schema: &Value, caller: &Caller) -> Option<Value> {
        let properties = schema["properties"].as_object()?.clone();
        let mut object = Map::new();
        for (name, property) in &properties {
            if let Some(value) = self.first_valid(property, name, caller) {
                object.insert(name.clone(), value);
            }
        }
        Some(Value::Object(object))
    }

    /// Bodies the document accepts: every property at a first valid value,
    /// then each enum value and boolean of each property in turn, then only
    /// the required properties.
    fn valid_bodies(&mut self, schema: &Value, caller: &Caller) -> Vec<Value> {
        let resolved = self.resolve(schema).clone();
        let Some(base) = self.object_instance(&resolved, caller) else {
            return Vec::new();
        };
        let mut bodies = vec![base.clone()];
        let properties = resolved["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, property) in &properties {
            let property = self.non_null(property).clone();
            let mut others: Vec<Value> = property["enum"].as_array().cloned().unwrap_or_default();
            if self.types(&property).iter().any(|t| t == "boolean") {
                others.extend([json!(true), json!(false)]);
            }
            for value in others {
                if base[name] != value {
                    let mut body = base.clone();
                    body[name] = value;
                    bodies.push(body);
                }
            }
        }
        let required: BTreeSet<&str> = resolved["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Value::Object(object) = &base {
            let minimal: Map<String, Value> = object
                .iter()
                .filter(|(k, _)| required.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            bodies.push(Value::Object(minimal));
        }
        bodies.dedup();
        let schema = schema.clone();
        for body in &bodies {
            assert!(
                self.accepts(&schema, body),
                "a generated body is not valid by the document: {body}"
            );
        }
        bodies
    }

    /// Bodies the document rejects, with the field each breaks: malformed
    /// JSON, JSON that is not an object, each required property missing,
    /// and each property of a wrong type, format, enum value or bound.
    fn invalid_bodies(&mut self, schema: &Value, base: &Value) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = vec![
            ("body".into(), b"{\"unfinished\": ".to_vec()),
            ("body".into(), b"not json".to_vec()),
            ("body".into(), Vec::new()),
        ];
        for whole in [json!([]), json!("text"), json!(42), Value::Null] {
            if !self.accepts(schema, &whole) {
                out.push(("body".into(), whole.to_string().into_bytes()));
            }
        }
        let resolved = self.resolve(schema).clone();
        let properties = resolved["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let Value::Object(base) = base else {
            return out;
        };
        for name in resolved["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("name");
            let mut body = base.clone();
            if body.remove(name).is_some() {
                out.push((
                    name.to_owned(),
                    Value::Object(body).to_string().into_bytes(),
                ));
            }
        }
        let mut unknown = base.clone();
        unknown.insert("unexpectedField".into(), json!(1));
        if !self.accepts(schema, &Value::Object(unknown.clone())) {
            out.push((
                "unexpectedField".into(),
                Value::Object(unknown).to_string().into_bytes(),
            ));
        }
        for (name, property) in &properties {
            let property = self.non_null(property).clone();
            let mut candidates = vec![
                json!(12345),
                json!("not-a-uuid"),
                json!(true),
                json!([1, 2]),
                json!({"nested": 1}),
                json!(-1),
                json!(1.5),
            ];
            for option in property["enum"].as_array().into_iter().flatten() {
                if let Some(option) = option.as_str() {
                    candidates.push(json!(option.to_uppercase()));
                    candidates.push(json!(format!("{option}-x")));
                }
            }
            if let Some(low) = property["minimum"].as_i64() {
                candidates.push(json!(low - 1));
            }
            if let Some(high) = property["maximum"].as_i64() {
                candidates.push(json!(high + 1));
            }
            if let Some(max) = property["maxLength"].as_u64() {
                candidates.push(json!("x".repeat(max as usize + 1)));
            }
            candidates.extend(
                self.strings("[ -~]{0,24}", RANDOM_CASES)
                    .into_iter()
                    .map(Value::from),
            );
            let mut kept = 0;
            for candidate in candidates {
                let mut body = base.clone();
                body.insert(name.clone(), candidate);
                let body = Value::Object(body);
                if !self.accepts(schema, &body) {
                    out.push((name.clone(), body.to_string().into_bytes()));
                    kept += 1;
                }
                if kept == 4 {
                    break;
                }
            }
        }
        out
    }

    /// Whether the answer is documented for the operation: its status, its
    /// content type, and its body against the schema (closed objects).
    fn documented(&mut self, operation: &Value, reply: &Reply) -> Result<(), String> {
        let responses = &operation["responses"];
        let status = reply.status.as_u16().to_string();
        let Some(response) = responses.get(&status).or_else(|| responses.get("default")) else {
            let documented: Vec<&String> = responses
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            return Err(format!(
                "status not documented (documented: {documented:?})"
            ));
        };
        let content = response["content"].as_object();
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if reply.body.is_empty() {
                Ok(())
            } else {
                Err("a body, but the document gives none for this status".into())
            };
        };
        let content_type = reply
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let media = content.get(&content_type).ok_or_else(|| {
            format!(
                "content type {content_type:?} not documented ({:?})",
                content.keys().collect::<Vec<_>>()
            )
        })?;
        if !(content_type == "application/json" || content_type.ends_with("+json")) {
            return Ok(());
        }
        let body: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("documented as JSON, but does not parse: {e}"))?;
        let Some(schema) = media.get("schema") else {
            return Ok(());
        };
        let validator = self.validator(schema, true);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "body does not match the schema: {}",
                errors.join("; ")
            ))
        }
    }
}

/// Whether the answer is what `expect` asks beyond the document.
fn expected(expect: &Expect, reply: &Reply) -> Result<(), String> {
    let body = || serde_json::from_slice::<Value>(&reply.body).unwrap_or(Value::Null);
    match expect {
        Expect::Documented => Ok(()),
        Expect::UnsupportedMediaType => {
            if reply.status == StatusCode::UNSUPPORTED_MEDIA_TYPE
                && body()["error"] == "UNSUPPORTED_MEDIA_TYPE"
            {
                Ok(())
            } else {
                Err("expected 415 UNSUPPORTED_MEDIA_TYPE".into())
            }
        }
        Expect::Invalid { field, in_body } => {
            let body = body();
            let named = body["validation"].get(field).is_some()
                || (*in_body && body["validation"].get("body").is_some());
            if reply.status == StatusCode::BAD_REQUEST
                && body["error"] == "VALIDATION_ERROR"
                && named
            {
                Ok(())
            } else {
                Err(format!("expected 400 VALIDATION_ERROR naming {field:?}"))
            }
        }
    }
}

/// The document's component schemas, closed: an object schema that names
/// its properties gets `unevaluatedProperties: false`, so a body with a
/// property the schema does not name (say `last_updated` documented,
/// `lastUpdated` sent) fails. Members of an `allOf` (serde's `flatten`)
/// stay open; the schema holding the `allOf` is closed instead, which
/// draft 2020-12 evaluates across its members.
fn strict_components(spec: &Value) -> Value {
    let mut members = BTreeSet::new();
    all_of_members(spec, &mut members);
    let mut components = spec["components"].clone();
    if let Some(schemas) = components["schemas"].as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            tighten(schema, !members.contains(name));
        }
    }
    components
}

/// The components referred to directly from an `allOf`.
fn all_of_members(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(members)) = object.get("allOf") {
                for member in members {
                    if let Some(name) = member["$ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    {
                        out.insert(name.to_owned());
                    }
                }
            }
            object.values().for_each(|v| all_of_members(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| all_of_members(v, out)),
        _ => {}
    }
}

fn tighten(schema: &mut Value, close: bool) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for key in ["properties", "patternProperties", "$defs"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(|c| tighten(c, true));
        }
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
    ] {
        if let Some(child) = object.get_mut(key) {
            tighten(child, true);
        }
    }
    for key in ["oneOf", "anyOf", "prefixItems"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            children.iter_mut().for_each(|c| tighten(c, true));
        }
    }
    if let Some(Value::Array(children)) = object.get_mut("allOf") {
        children.iter_mut().for_each(|c| tighten(c, false));
    }
    let names_properties = object.contains_key("properties") || object.contains_key("allOf");
    let open_already =
        object.contains_key("additionalProperties") || object.contains_key("unevaluatedProperties");
    if close && names_properties && !open_already {
        object.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
}

/// One request through the whole app, as from a client at 127.0.0.1; the
/// body decoded as its `Content-Encoding` says. An encoding the client did
/// not accept, a body that does not decode, or a `Content-Length` other
/// than the bytes sent is an error.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    role: Option<&str>,
    body: Option<(Option<&str>, Vec<u8>)>,
    accept_encoding: Option<&str>,
) -> Result<Reply, String> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(role) = role {
        request = request.header("x-active-role", role);
    }
    if let Some(encoding) = accept_encoding {
        request = request.header(header::ACCEPT_ENCODING, encoding);
    }
    let body = match body {
        Some((content_type, bytes)) => {
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let mut request = request.body(body).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes()
        .to_vec();
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let length: usize = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or("a malformed Content-Length")?;
        if length != raw.len() {
            return Err(format!(
                "Content-Length {length}, but {} bytes sent",
                raw.len()
            ));
        }
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let accepted = |e: &str| accept_encoding.is_some_and(|a| a.split(',').any(|x| x.trim() == e));
    let body = match encoding.as_deref() {
        None | Some("identity") => raw,
        Some(e) if !accepted(e) => {
            return Err(format!(
                "Content-Encoding {e}, which the client did not accept"
            ));
        }
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| format!("Content-Encoding gzip, but the body does not decode: {e}"))?;
            out
        }
        Some("br") => {
            let mut out = Vec::new();
            brotli::Decompressor::new(&raw[..], 4096)
                .read_to_end(&mut out)
                .map_err(|e| format!("Content-Encoding br, but the body does not decode: {e}"))?;
            out
        }
        Some(other) => return Err(format!("unknown Content-Encoding {other}")),
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}
