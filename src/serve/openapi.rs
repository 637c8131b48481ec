//! `GET /openapi.json`: the HTTP API described as OpenAPI 3.1, built from
//! the code that serves it — the levers' specs (`engine::fleet::levers`)
//! for the control routes, utoipa schemas derived from the bridge's types
//! for the write routes, and the open and read routes listed beside the
//! router. A test fails when a route the router serves is not described.

use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, RefOr, Required, ResponseBuilder,
};
use utoipa::PartialSchema;

use crate::engine::fleet::levers::SPECS;
use crate::engine::pipeline::bridge::{Accepted, BridgeDocumentSchema};

fn any_object(description: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(description))
            .build(),
    ))
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// The error body every route answers with on a refusal.
fn error_body() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("ok", ObjectBuilder::new().schema_type(Type::Boolean))
            .property("error", ObjectBuilder::new().schema_type(Type::String))
            .property("field", ObjectBuilder::new().schema_type(Type::String))
            .property("reason", ObjectBuilder::new().schema_type(Type::String))
            .build(),
    ))
}

fn respond(
    op: OperationBuilder,
    codes: &[(&str, &str)],
    ok: RefOr<Schema>,
    ok_type: &str,
) -> OperationBuilder {
    let mut op = op;
    for (code, what) in codes {
        let r = if code.starts_with('2') {
            ResponseBuilder::new()
                .description(*what)
                .content(ok_type, json(ok.clone()))
        } else {
            ResponseBuilder::new()
                .description(*what)
                .content("application/json", json(error_body()))
        };
        op = op.response(*code, r.build());
    }
    op
}

const AUTH: &[(&str, &str)] = &[
    ("401", "no token, or not a token of this server"),
    (
        "403",
        "a token whose scope is too narrow (or a read-only engine)",
    ),
];

fn secured(op: OperationBuilder) -> OperationBuilder {
    op.security(SecurityRequirement::new("bearer", Vec::<String>::new()))
}

fn path_params(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        })
        .collect()
}

/// The whole API.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    let open: &[(&str, &str, &str)] = &[
        ("/", "the endpoint index", "application/json"),
        (
            "/health",
            "consumer health (seed §10.5): 200 healthy or degraded, 503 unhealthy",
            "application/json",
        ),
        ("/health/enrichment", "producer health", "application/json"),
        ("/metrics", "Prometheus text format", "text/plain"),
        (
            "/metrics/circuit_breaker",
            "the circuit breaker",
            "application/json",
        ),
        (
            "/fleet",
            "the fleet's members as they last reported",
            "application/json",
        ),
        (
            "/why",
            "why is it lagging: causes ranked from the engine's measurements, each with its lever",
            "application/json",
        ),
        ("/openapi.json", "this document", "application/json"),
    ];
    for (path, summary, ty) in open {
        let mut codes = vec![("200", "ok")];
        if path.starts_with("/health") {
            codes.push(("503", "unhealthy: the reasons are in the body"));
        }
        if *path == "/fleet" {
            codes.push(("503", "the fleet's reports cannot be read"));
        }
        let op = respond(
            OperationBuilder::new().summary(Some(*summary)).tag("open"),
            &codes,
            any_object(summary),
            ty,
        );
        paths = paths.path(*path, PathItem::new(HttpMethod::Get, op.build()));
    }
    let list_params = |filter: bool| {
        let mut p = vec![ParameterBuilder::new()
            .name("limit")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            ))
            .build()];
        if filter {
            p.push(
                ParameterBuilder::new()
                    .name("filter")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
        }
        p
    };
    for (path, summary, params) in [
        (
            "/dlq",
            "DLQ entries, newest first (filter: the console's / syntax)",
            list_params(true),
        ),
        ("/audit", "the fleet's audit trail", list_params(false)),
        ("/jobs", "redrive jobs", Vec::new()),
    ] {
        let mut codes = vec![("200", "ok"), ("400", "a query parameter refused")];
        codes.extend_from_slice(AUTH);
        codes.push(("503", "a backend cannot be read"));
        let op = respond(
            secured(OperationBuilder::new().summary(Some(summary)).tag("read"))
                .parameters(Some(params)),
            &codes,
            any_object(summary),
            "application/json",
        );
        paths = paths.path(path, PathItem::new(HttpMethod::Get, op.build()));
    }
    // The seeds' bridge API.
    let write_codes: Vec<(&str, &str)> = [
        ("200", "accepted: what became of each document"),
        ("400", "refused, naming the field; nothing written"),
    ]
    .into_iter()
    .chain(AUTH.iter().copied())
    .chain([
        ("413", "body over the limit"),
        ("415", "not JSON"),
        (
            "503",
            "the graph or broker failed: nothing written, or pending and visible",
        ),
    ])
    .collect();
    let one = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json(BridgeDocumentSchema::schema()))
        .build();
    let op = respond(
        secured(
            OperationBuilder::new()
                .summary(Some(
                    "index one document and request its enrichment (seed §4.1, §9.2)",
                ))
                .tag("write"),
        )
        .request_body(Some(one)),
        &write_codes,
        Accepted::schema(),
        "application/json",
    );
    paths = paths.path(
        "/api/bridge/document",
        PathItem::new(HttpMethod::Post, op.build()),
    );
    let many_schema = RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(BridgeDocumentSchema::schema())
            .max_items(Some(crate::engine::pipeline::bridge::MAX_BATCH))
            .build(),
    ));
    let many = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json(many_schema))
        .build();
    let op = respond(
        secured(
            OperationBuilder::new()
                .summary(Some(
                    "index a batch (a JSON array, or NDJSON as application/x-ndjson)",
                ))
                .tag("write"),
        )
        .request_body(Some(many)),
        &write_codes,
        any_object("{accepted, async, sync, unchanged, documents: [...]}"),
        "application/json",
    );
    paths = paths.path(
        "/api/bridge/documents",
        PathItem::new(HttpMethod::Post, op.build()),
    );
    // Every lever, from its spec.
    for spec in SPECS {
        for http in spec.http {
            let mut codes = vec![
                ("200", "done: {ok, command, message, outcome}"),
                ("400", "the request or the command refused its input"),
            ];
            codes.extend_from_slice(AUTH);
            codes.extend_from_slice(&[
                ("404", "no such job or entry"),
                ("413", "body over the limit"),
                ("415", "a body that is not JSON"),
                ("500", "a backend failed while the command ran"),
            ]);
            let mut params = path_params(http.path);
            params.push(
                ParameterBuilder::new()
                    .name("member")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("act on one member of the fleet instead of all"))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
            let body = RequestBodyBuilder::new()
                .required(Some(Required::False))
                .content("application/json", json(any_object(http.body)))
                .build();
            let op = respond(
                secured(
                    OperationBuilder::new()
                        .summary(Some(spec.help))
                        .operation_id(Some(format!(
                            "{}{}",
                            spec.name,
                            http.path.replace(['/', '{', '}'], "_")
                        )))
                        .tag(spec.scope.as_str()),
                )
                .parameters(Some(params))
                .request_body(Some(body)),
                &codes,
                any_object("the command's outcome"),
                "application/json",
            );
            paths = paths.path(http.path, PathItem::new(HttpMethod::Post, op.build()));
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("archon-tui")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The engine's HTTP API: health and metrics (open), reads, the seeds' bridge \
                     API (write) and the operator levers (control, admin). Tokens: \
                     ARCHON_READ_TOKEN, ARCHON_WRITE_TOKEN, ARCHON_OPERATOR_TOKEN, and the admin \
                     token (ARCHON_CONTROL_TOKEN or the data dir's control-token file).",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .schema_from::<crate::engine::pipeline::producer::Disposition>()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
                )
                .build(),
        ))
        .build()
}

/// The document as served.
pub fn json_document() -> serde_json::Value {
    serde_json::to_value(document()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// Every route the endpoint index names (which the router serves) is
    /// described, and every lever route with its method.
    #[test]
    fn every_route_is_described() {
        let doc = super::json_document();
        let paths = doc["paths"].as_object().expect("paths");
        for spec in crate::engine::fleet::levers::SPECS {
            for http in spec.http {
                assert!(
                    paths
                        .get(http.path)
                        .is_some_and(|p| p.get("post").is_some()),
                    "{} is not described",
                    http.path
                );
            }
        }
        for path in [
            "/",
            "/health",
            "/health/enrichment",
            "/metrics",
            "/metrics/circuit_breaker",
            "/fleet",
            "/openapi.json",
            "/dlq",
            "/audit",
            "/jobs",
            "/api/bridge/document",
            "/api/bridge/documents",
        ] {
            assert!(paths.contains_key(path), "{path} is not described");
        }
        let body = &paths["/api/bridge/document"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        let required: Vec<&str> = body["required"]
            .as_array()
            .expect("required fields")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for f in ["document_id", "project_id", "full_text", "source_path"] {
            assert!(required.contains(&f), "{f} not required: {body}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
