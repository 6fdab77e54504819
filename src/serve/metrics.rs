//! The server's counters and histograms, and their Prometheus text exposition (format 0.0.4)
//! for `GET /metrics`. Routes and the queue record into [`Metrics`]; nothing here decides
//! anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Request latency buckets, in seconds: from a health check to a long model batch.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
/// Batch size buckets, in documents.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0, 32.0, 64.0];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: vec![0; bounds.len() + 1], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, value: f64, times: u64) {
        let bucket = self.bounds.iter().position(|&bound| value <= bound).unwrap_or(self.bounds.len());
        self.counts[bucket] += times;
        self.sum += value * times as f64;
        self.count += times;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let separator = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()];
        let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Everything `/metrics` shows.
pub struct Metrics {
    /// (route, status) → requests answered.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// route → latency histogram.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Requests waiting in the queue for the model thread.
    pub queue_depth: AtomicUsize,
    pub queue_capacity: AtomicUsize,
    /// Requests being answered right now (any route).
    pub in_flight: AtomicUsize,
    /// Documents per padded model batch (`stats.batch_size` of the records).
    model_batches: Mutex<Histogram>,
    /// Documents the model thread took from the queue at once.
    queue_groups: Mutex<Histogram>,
    /// Documents summarized (or compared), by outcome.
    documents_ok: AtomicU64,
    documents_failed: AtomicU64,
    /// Panics caught on the model thread.
    pub model_panics: AtomicU64,
    /// Moving average of model-thread seconds per document (for `Retry-After`).
    seconds_per_document: Mutex<Option<f64>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(BTreeMap::new()),
            queue_depth: AtomicUsize::new(0),
            queue_capacity: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            model_batches: Mutex::new(Histogram::new(BATCH_BUCKETS)),
            queue_groups: Mutex::new(Histogram::new(BATCH_BUCKETS)),
            documents_ok: AtomicU64::new(0),
            documents_failed: AtomicU64::new(0),
            model_panics: AtomicU64::new(0),
            seconds_per_document: Mutex::new(None),
        }
    }
}

/// A poisoned lock only means a panic elsewhere while recording; the numbers are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    pub fn record_request(&self, route: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests).entry((route.to_string(), status)).or_insert(0) += 1;
        lock(&self.latency).entry(route.to_string()).or_insert_with(|| Histogram::new(LATENCY_BUCKETS)).observe(elapsed.as_secs_f64(), 1);
    }

    /// One group taken from the queue: its size, the model batch size of each of its documents
    /// (`None` for the extractive engine and failed documents), how many failed, and how long the
    /// model thread spent on it.
    pub fn record_group(&self, documents: usize, batch_sizes: &[Option<usize>], failed: usize, elapsed: Duration) {
        lock(&self.queue_groups).observe(documents as f64, 1);
        // k documents that went through one batch of size k each carry `batch_size: k`; so the
        // number of batches of size k is (documents reporting k) / k.
        let mut by_size: BTreeMap<usize, u64> = BTreeMap::new();
        for size in batch_sizes.iter().flatten() {
            *by_size.entry(*size).or_insert(0) += 1;
        }
        let mut batches = lock(&self.model_batches);
        for (size, members) in by_size {
            batches.observe(size as f64, (members / size.max(1) as u64).max(1));
        }
        drop(batches);
        self.documents_ok.fetch_add((documents - failed.min(documents)) as u64, Ordering::Relaxed);
        self.documents_failed.fetch_add(failed as u64, Ordering::Relaxed);
        if documents > 0 {
            let per_document = elapsed.as_secs_f64() / documents as f64;
            let mut average = lock(&self.seconds_per_document);
            *average = Some(match *average {
                Some(previous) => 0.8 * previous + 0.2 * per_document,
                None => per_document,
            });
        }
    }

    /// Seconds a refused client should wait: the queue's worth of work at the recent pace,
    /// between 1 and 120.
    pub fn retry_after_seconds(&self) -> u64 {
        let per_document = lock(&self.seconds_per_document).unwrap_or(1.0);
        let queued = self.queue_depth.load(Ordering::Relaxed).max(1) as f64;
        (queued * per_document).ceil().clamp(1.0, 120.0) as u64
    }

    /// The Prometheus text exposition of everything above, plus the model's generated tokens.
    pub fn render(&self, generated_tokens: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP precis_http_requests_total HTTP requests answered, by route and status.\n# TYPE precis_http_requests_total counter\n");
        for ((route, status), count) in lock(&self.requests).iter() {
            let _ = writeln!(out, "precis_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}", escape_label(route));
        }
        out.push_str("# HELP precis_http_request_duration_seconds Time from a request's arrival to its answer, by route.\n# TYPE precis_http_request_duration_seconds histogram\n");
        for (route, histogram) in lock(&self.latency).iter() {
            histogram.write(&mut out, "precis_http_request_duration_seconds", &format!("route=\"{}\"", escape_label(route)));
        }
        gauge(&mut out, "precis_queue_depth", "Requests waiting for the model thread.", self.queue_depth.load(Ordering::Relaxed) as u64);
        gauge(&mut out, "precis_queue_capacity", "Requests the queue holds before answering 429 (--max-queue).", self.queue_capacity.load(Ordering::Relaxed) as u64);
        gauge(&mut out, "precis_http_requests_in_flight", "Requests being answered now.", self.in_flight.load(Ordering::Relaxed) as u64);
        out.push_str("# HELP precis_model_batch_size Documents per padded batch through the abstract model.\n# TYPE precis_model_batch_size histogram\n");
        lock(&self.model_batches).write(&mut out, "precis_model_batch_size", "");
        out.push_str("# HELP precis_queue_group_size Documents the model thread took from the queue together.\n# TYPE precis_queue_group_size histogram\n");
        lock(&self.queue_groups).write(&mut out, "precis_queue_group_size", "");
        out.push_str("# HELP precis_documents_total Documents the model thread finished, by outcome.\n# TYPE precis_documents_total counter\n");
        let _ = writeln!(out, "precis_documents_total{{outcome=\"ok\"}} {}", self.documents_ok.load(Ordering::Relaxed));
        let _ = writeln!(out, "precis_documents_total{{outcome=\"failed\"}} {}", self.documents_failed.load(Ordering::Relaxed));
        counter(&mut out, "precis_generated_tokens_total", "Tokens the models generated (every output, chunk summaries included).", generated_tokens);
        counter(&mut out, "precis_model_panics_total", "Panics caught on the model thread (each failed only its own requests).", self.model_panics.load(Ordering::Relaxed));
        out
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_cumulative_buckets_and_batch_counts() {
        let metrics = Metrics::default();
        metrics.record_request("/v1/summarize", 200, Duration::from_millis(30));
        metrics.record_request("/v1/summarize", 200, Duration::from_millis(700));
        metrics.record_request("/v1/summarize", 429, Duration::from_millis(1));
        // Two batches: one of 3 documents, one alone.
        metrics.record_group(4, &[Some(3), Some(3), Some(3), Some(1)], 0, Duration::from_secs(2));
        let text = metrics.render(1234);
        assert!(text.contains("precis_http_requests_total{route=\"/v1/summarize\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("precis_http_requests_total{route=\"/v1/summarize\",status=\"429\"} 1\n"));
        assert!(text.contains("precis_http_request_duration_seconds_bucket{route=\"/v1/summarize\",le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("precis_http_request_duration_seconds_bucket{route=\"/v1/summarize\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("precis_http_request_duration_seconds_count{route=\"/v1/summarize\"} 3\n"));
        assert!(text.contains("precis_model_batch_size_bucket{le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("precis_model_batch_size_bucket{le=\"3\"} 2\n"));
        assert!(text.contains("precis_model_batch_size_count 2\n"));
        assert!(text.contains("precis_model_batch_size_sum 4\n"));
        assert!(text.contains("precis_queue_group_size_count 1\n"));
        assert!(text.contains("precis_documents_total{outcome=\"ok\"} 4\n"));
        assert!(text.contains("precis_generated_tokens_total 1234\n"));
    }

    #[test]
    fn retry_after_follows_the_recent_pace() {
        let metrics = Metrics::default();
        assert_eq!(metrics.retry_after_seconds(), 1);
        metrics.record_group(2, &[None, None], 0, Duration::from_secs(10));
        metrics.queue_depth.store(3, Ordering::Relaxed);
        assert_eq!(metrics.retry_after_seconds(), 15);
        metrics.queue_depth.store(1000, Ordering::Relaxed);
        assert_eq!(metrics.retry_after_seconds(), 120);
    }
}
