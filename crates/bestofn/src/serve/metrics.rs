//! Prometheus metrics of the server (`GET /metrics`, text exposition format 0.0.4): requests by
//! route and status, latency histograms by route, requests in flight, items graded and scored.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Everything `/metrics` reports; shared by every request.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub in_flight: AtomicU64,
    pub graded: AtomicU64,
    pub scored: AtomicU64,
}

impl Metrics {
    /// One finished request on `route` with `status`, after `elapsed`.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let histogram = latency.entry(route.to_owned()).or_default();
            for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *count += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP bestofn_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE bestofn_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "bestofn_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP bestofn_request_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE bestofn_request_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for (route, histogram) in latency.iter() {
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "bestofn_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "bestofn_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                     bestofn_request_seconds_sum{{route=\"{route}\"}} {}\n\
                     bestofn_request_seconds_count{{route=\"{route}\"}} {}",
                    histogram.count, histogram.sum, histogram.count
                );
            }
        }
        for (name, help, kind, value) in [
            (
                "bestofn_in_flight",
                "Requests being answered.",
                "gauge",
                &self.in_flight,
            ),
            (
                "bestofn_graded_total",
                "Responses graded.",
                "counter",
                &self.graded,
            ),
            (
                "bestofn_scored_total",
                "Solutions scored by the verifier.",
                "counter",
                &self.scored,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_add_up() {
        let metrics = Metrics::default();
        metrics.record("/grade", 200, Duration::from_micros(300));
        metrics.record("/grade", 200, Duration::from_millis(20));
        metrics.record("/grade", 413, Duration::from_millis(2));
        let text = metrics.render();
        assert!(
            text.contains("bestofn_requests_total{route=\"/grade\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("bestofn_requests_total{route=\"/grade\",status=\"413\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bestofn_request_seconds_bucket{route=\"/grade\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bestofn_request_seconds_bucket{route=\"/grade\",le=\"0.025\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("bestofn_request_seconds_count{route=\"/grade\"} 3"),
            "{text}"
        );
    }
}
