//! The API's own metrics: every request counted, and its duration observed, by the
//! route template it matched (axum's `MatchedPath`, never the raw path: the label set
//! stays bounded), its method and its status. Rendered after the node's families at
//! `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use waybill_node::metrics::{label_set, render_counters, write_header, Families, Histogram};

/// The label names of the HTTP families.
const LABELS: [&str; 3] = ["route", "method", "status"];

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Requests and their durations, by route template, method and status.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Families<u64>,
    durations: Families<Histogram>,
}

impl HttpMetrics {
    /// Count a request answered with `status` after `seconds`.
    fn observe(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let labels = vec![
            route.to_string(),
            method_label(method).to_string(),
            status.to_string(),
        ];
        self.requests.update(labels.clone(), |n| *n += 1);
        self.durations.update(labels, |h| h.observe(seconds));
    }

    /// The HTTP families in the text exposition.
    pub fn render(&self, out: &mut String) {
        render_counters(
            out,
            "waybill_http_requests_total",
            "HTTP requests answered, by matched route template, method and status.",
            &LABELS,
            &self.requests,
        );
        let name = "waybill_http_request_duration_seconds";
        write_header(
            out,
            name,
            "Time to answer an HTTP request, by matched route template, method and status.",
            "histogram",
        );
        for (values, h) in self.durations.snapshot() {
            let set = label_set(&LABELS, &values);
            h.render_series(name, &set[1..set.len() - 1], out);
        }
    }
}

/// A method as a label: the standard ones by name, any other as `other` (a client
/// may send any token as a method; the label set stays bounded).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware: time the request and count it by its route template.
pub(crate) async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let resp = next.run(req).await;
    metrics.observe(
        &route,
        &method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}
