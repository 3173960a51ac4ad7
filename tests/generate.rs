//! `generate` and `solve` end to end: a real OpenAI-compatible server on loopback (llama-cpp-python
//! serving the bundled GGUF), a fault-injecting proxy in front of it, embedded llama.cpp, SIGKILL
//! and resume, and the replay backend.

mod common;

use common::bestofn;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::proxy::{Fault, FaultProxy};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value;

/// Problems whose continuation a small model gets right: counting. The next number tells which
/// problem a sample answers.
fn counting_problems(dir: &Path, starts: &[u32]) -> PathBuf {
    let path = dir.join("problems.jsonl");
    let lines: Vec<String> = starts
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": format!("count-{s}"),
                "question": format!("{}, {}, {}, {}, {},", s, s + 1, s + 2, s + 3, s + 4),
                "answer": (s + 5).to_string(),
            })
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A completion template that continues the question itself, up to the end of the line.
fn counting_template(dir: &Path) -> PathBuf {
    let path = dir.join("count.txt");
    std::fs::write(
        &path,
        "mode: completion\nstop: [\"\\n\"]\n---\n{question}\n",
    )
    .unwrap();
    path
}

/// Samples per problem id, checking keys are unique and lines complete.
fn samples_by_problem(path: &Path) -> BTreeMap<String, Vec<Value>> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "torn last line in {}",
        path.display()
    );
    let mut keys = HashSet::new();
    let mut by_problem: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for sample in common::read_jsonl(path) {
        let id = sample["problem_id"].as_str().unwrap().to_owned();
        let idx = sample["sample_idx"].as_u64().unwrap();
        assert!(keys.insert((id.clone(), idx)), "duplicate ({id}, {idx})");
        by_problem.entry(id).or_default().push(sample);
    }
    by_problem
}

fn assert_exactly_n(by_problem: &BTreeMap<String, Vec<Value>>, problems: usize, n: u64) {
    assert_eq!(by_problem.len(), problems);
    for (id, samples) in by_problem {
        let mut idxs: Vec<u64> = samples
            .iter()
            .map(|s| s["sample_idx"].as_u64().unwrap())
            .collect();
        idxs.sort_unstable();
        assert_eq!(idxs, (0..n).collect::<Vec<_>>(), "problem {id}");
    }
}

fn openai_generate(dir: &Path, base_url: &str, problems: &Path, n: u32, out: &Path) -> Command {
    let mut command = bestofn();
    command
        .args([
            "generate",
            "--backend",
            "openai",
            "--model",
            "smollm2",
            "--base-url",
            base_url,
        ])
        .arg("--problems")
        .arg(problems)
        .args(["--n", &n.to_string(), "--template"])
        .arg(counting_template(dir))
        .args([
            "--temperature",
            "0",
            "--max-tokens",
            "6",
            "--retry-base-ms",
            "10",
        ])
        .arg("--out")
        .arg(out)
        .env_remove("OPENAI_API_KEY");
    command
}

#[test]
fn a_real_server_answers_n_samples_per_problem_keyed_to_their_problem() {
    if common::skip(
        "a_real_server_answers_n_samples_per_problem_keyed_to_their_problem",
        &[common::Need::LlamaVenv],
    ) {
        return;
    }
    let server = common::LlamaServer::start();
    let dir = tempfile::tempdir().unwrap();
    let starts = [3, 17, 41, 60];
    let problems = counting_problems(dir.path(), &starts);
    let out = dir.path().join("samples.jsonl");
    // The server returns one choice per request whatever `n` is: the client tops up, and says
    // so once per run.
    let output = openai_generate(dir.path(), &server.base_url(), &problems, 3, &out)
        .args(["--n-per-request", "4"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("12 samples generated, 0 already present"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("the server ignores `n`").count(),
        1,
        "{stderr}"
    );
    // Run again: every sample is there (what the server reported about itself is per sample, not
    // a setting that changed).
    openai_generate(dir.path(), &server.base_url(), &problems, 3, &out)
        .args(["--n-per-request", "4"])
        .assert()
        .success()
        .stderr(contains("0 samples generated, 12 already present"));
    let by_problem = samples_by_problem(&out);
    assert_exactly_n(&by_problem, starts.len(), 3);
    let mut prompt_hashes = HashSet::new();
    for start in starts {
        let samples = &by_problem[&format!("count-{start}")];
        for sample in samples {
            let text = sample["text"].as_str().unwrap();
            assert!(
                text.trim_start().starts_with(&(start + 5).to_string()),
                "count-{start}: {text:?} does not continue its own sequence"
            );
            let generator = &sample["generator"];
            assert_eq!(generator["backend"], "openai");
            assert_eq!(generator["model"], "smollm2");
            // What the server reported about itself is kept beside what was asked.
            assert!(generator["server"]["model"].is_string(), "{generator}");
            assert_eq!(generator["template_sha256"].as_str().unwrap().len(), 64);
            prompt_hashes.insert(generator["prompt_sha256"].as_str().unwrap().to_owned());
            assert!(sample["finish_reason"].is_string());
        }
    }
    assert_eq!(prompt_hashes.len(), starts.len(), "one prompt per problem");

    // The chat endpoint, with sampling: distinct non-empty answers.
    let chat_out = dir.path().join("chat.jsonl");
    bestofn()
        .args([
            "generate",
            "--backend",
            "openai",
            "--model",
            "smollm2",
            "--base-url",
            &server.base_url(),
        ])
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .args([
            "--n",
            "2",
            "--template",
            "chat",
            "--max-tokens",
            "24",
            "--out",
        ])
        .arg(&chat_out)
        .assert()
        .success();
    let chat = samples_by_problem(&chat_out);
    assert!(chat
        .values()
        .flatten()
        .all(|s| !s["text"].as_str().unwrap().trim().is_empty()));
}

#[test]
fn injected_faults_are_retried_until_every_sample_arrives() {
    if common::skip(
        "injected_faults_are_retried_until_every_sample_arrives",
        &[common::Need::LlamaVenv],
    ) {
        return;
    }
    let server = common::LlamaServer::start();
    let pattern = [
        Fault::Status(500),
        Fault::Status(429),
        Fault::Drop,
        Fault::Slow(Duration::from_millis(300)),
        Fault::Status(503),
        Fault::Pass,
    ];
    let proxy = FaultProxy::start(server.port, move |i| pattern[i % pattern.len()]);
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5, 12, 30]);
    let out = dir.path().join("samples.jsonl");
    openai_generate(dir.path(), &proxy.base_url(), &problems, 2, &out)
        .args(["--max-in-flight", "2", "--max-retries", "8"])
        .assert()
        .success()
        .stderr(contains("6 samples generated"));
    assert_exactly_n(&samples_by_problem(&out), 3, 2);
    let applied = proxy.applied();
    for fault in pattern {
        assert!(
            applied.contains(&fault),
            "{fault:?} was never injected: {applied:?}"
        );
    }
}

#[test]
fn when_retries_run_out_the_error_is_clear_and_samples_are_kept() {
    if common::skip(
        "when_retries_run_out_the_error_is_clear_and_samples_are_kept",
        &[common::Need::LlamaVenv],
    ) {
        return;
    }
    let server = common::LlamaServer::start();
    // Three requests succeed, then the server only fails.
    let proxy = FaultProxy::start(server.port, |i| {
        if i < 3 {
            Fault::Pass
        } else {
            Fault::Status(503)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5, 12, 30]);
    let out = dir.path().join("samples.jsonl");
    openai_generate(dir.path(), &proxy.base_url(), &problems, 2, &out)
        .args([
            "--max-in-flight",
            "1",
            "--n-per-request",
            "1",
            "--max-retries",
            "2",
        ])
        .assert()
        .code(75)
        .stderr(contains("giving up after 3 attempts; last error: HTTP 503"))
        .stderr(contains("3 samples are safe in"))
        .stderr(contains("run the same command again"));
    assert_eq!(common::read_jsonl(&out).len(), 3);
    assert_eq!(
        proxy.applied().len(),
        6,
        "three successes, then one request tried three times"
    );

    // The same command against a healthy server generates only the missing three.
    openai_generate(dir.path(), &server.base_url(), &problems, 2, &out)
        .args(["--max-in-flight", "1", "--n-per-request", "1"])
        .assert()
        .success()
        .stderr(contains("3 samples generated, 3 already present"));
    assert_exactly_n(&samples_by_problem(&out), 3, 2);
}

/// A request the server refuses (HTTP 400) is not retried and not "run it again": exit 76.
#[test]
fn a_refused_request_is_not_a_resumable_failure() {
    let proxy = FaultProxy::start(common::free_port(), |_| Fault::Status(400));
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5]);
    let out = dir.path().join("samples.jsonl");
    openai_generate(dir.path(), &proxy.base_url(), &problems, 2, &out)
        .assert()
        .code(76)
        .stderr(contains("the server refused the request"))
        .stderr(contains("HTTP 400"))
        .stderr(contains("0 samples are safe in"))
        .stderr(predicates::str::contains("run the same command again").not());
    assert_eq!(proxy.applied().len(), 1, "a 400 is not retried");
}

/// A base URL with a query string (Azure's `?api-version=`) keeps it after the endpoint, and the
/// API key never reaches stderr: not in trace logs of the HTTP client, not in a server's error
/// body that echoes the request headers.
#[test]
fn query_strings_are_kept_and_the_api_key_is_never_shown() {
    let proxy = FaultProxy::start(common::free_port(), |_| Fault::EchoHead(400));
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5]);
    let out = dir.path().join("samples.jsonl");
    let base_url = format!("{}?api-version=2024-10-21", proxy.base_url());
    let output = openai_generate(dir.path(), &base_url, &problems, 1, &out)
        .env("OPENAI_API_KEY", "sk-test-very-secret")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(76));
    assert_eq!(
        proxy.requests(),
        vec!["POST /v1/completions?api-version=2024-10-21 HTTP/1.1".to_owned()]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HTTP 400"), "{stderr}");
    assert!(
        stderr.contains("Bearer <redacted>"),
        "the echoed header is shown, redacted: {stderr}"
    );
    assert!(!stderr.contains("sk-test-very-secret"), "{stderr}");
    // The HTTP client's raw byte dumps hold the key too, in rows that may split it.
    assert!(!stderr.contains("TRACE ureq_proto"), "{stderr}");
}

/// What a server says never carries a secret into output or records: a key it echoes in
/// `model`/`system_fingerprint` or in a 200 answer without `choices` is redacted, and
/// credentials in `--base-url` (userinfo, `?api_key=`) appear in no warning or error.
#[test]
fn secrets_a_server_echoes_or_a_url_holds_are_never_shown() {
    use common::proxy::ScriptedServer;
    const KEY: &str = "sk-echoed-secret-123";
    let echoing = ScriptedServer::start(|_, _| {
        let answer = serde_json::json!({
            "model": format!("model-{KEY}"),
            "system_fingerprint": format!("fp-{KEY}"),
            "choices": [{"text": " 5", "finish_reason": "stop"}],
        });
        (200, answer.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5]);
    let out = dir.path().join("samples.jsonl");
    let base_url = format!("{}/v1", echoing.url());
    let output = openai_generate(dir.path(), &base_url, &problems, 1, &out)
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains(KEY), "{written}");
    assert!(written.contains("model-<redacted>"), "{written}");

    let without_choices = ScriptedServer::start(|_, _| {
        (
            200,
            serde_json::json!({ "error": format!("bad key {KEY}") }).to_string(),
        )
    });
    let with_credentials = format!(
        "http://user:hunter2@127.0.0.1:{}/v1?api_key=url-secret-456",
        without_choices.port
    );
    let out = dir.path().join("second.jsonl");
    let output = openai_generate(dir.path(), &with_credentials, &problems, 1, &out)
        .env("OPENAI_API_KEY", KEY)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for secret in [KEY, "hunter2", "url-secret-456"] {
        assert!(!stderr.contains(secret), "{secret} shown: {stderr}");
    }
    assert!(stderr.contains("<redacted>@127.0.0.1"), "{stderr}");
}

/// A redirect is not followed (a POST would be resent as a GET without its body, possibly to
/// another host): the run stops with an error naming where it points, credentials cut out.
#[test]
fn a_redirect_is_refused_with_where_it_points() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = stream;
            let _ = stream.write_all(
                b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://user:pw@elsewhere.example/v1/completions\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[5]);
    let out = dir.path().join("samples.jsonl");
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let output = openai_generate(dir.path(), &base_url, &problems, 1, &out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(76));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("redirects to http://<redacted>@elsewhere.example/v1/completions"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw@"), "{stderr}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "asked once, not followed"
    );
}

#[test]
fn replicas_keep_each_problem_on_one_server_and_take_over_from_a_failing_one() {
    if common::skip(
        "replicas_keep_each_problem_on_one_server_and_take_over_from_a_failing_one",
        &[common::Need::LlamaVenv],
    ) {
        return;
    }
    let (first, second) = (common::LlamaServer::start(), common::LlamaServer::start());
    let dir = tempfile::tempdir().unwrap();
    let problems = counting_problems(dir.path(), &[2, 9, 21, 40]);
    let replica_of = |sample: &Value| sample["generator"]["server"]["replica"].clone();

    let out = dir.path().join("two.jsonl");
    openai_generate(dir.path(), &first.base_url(), &problems, 3, &out)
        .args(["--base-url", &second.base_url()])
        .args(["--n-per-request", "1", "--max-in-flight", "2"])
        .assert()
        .success();
    let by_problem = samples_by_problem(&out);
    assert_exactly_n(&by_problem, 4, 3);
    let mut used = HashSet::new();
    for (id, samples) in &by_problem {
        let replica = replica_of(&samples[0]);
        assert!(
            samples.iter().all(|s| replica_of(s) == replica),
            "{id}: all samples on one replica: {samples:?}"
        );
        used.insert(replica.as_str().unwrap().to_owned());
    }
    let expected: HashSet<String> = [first.base_url(), second.base_url()].into();
    assert_eq!(used, expected, "problems are spread over both replicas");

    // A replica that fails every request: its problems move to the other one.
    let failing = FaultProxy::start(first.port, |_| Fault::Status(503));
    let out = dir.path().join("failover.jsonl");
    openai_generate(dir.path(), &failing.base_url(), &problems, 3, &out)
        .args(["--base-url", &second.base_url()])
        .args(["--n-per-request", "1", "--max-in-flight", "2"])
        .assert()
        .success()
        .stderr(contains(format!("retrying on {}", second.base_url())));
    let samples = common::read_jsonl(&out);
    assert_eq!(samples.len(), 12);
    assert!(samples.iter().all(|s| replica_of(s) == second.base_url()));
    assert!(
        !failing.applied().is_empty(),
        "the failing replica was tried"
    );
}

#[test]
fn replay_copies_samples_and_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("replayed.jsonl");
    let replay = |n: &str| {
        let mut command = bestofn();
        command
            .args(["generate", "--backend", "replay", "--problems"])
            .arg(common::fixture("problems.jsonl"))
            .arg("--replay-from")
            .arg(common::fixture("samples.jsonl"))
            .args(["--n", n, "--out"])
            .arg(&out);
        command
    };
    replay("2").assert().success();
    let first = common::read_jsonl(&out);
    // A crash mid-line, then a resume that asks for more.
    let mut text = std::fs::read_to_string(&out).unwrap();
    text.push_str("{\"problem_id\": \"eggs\", \"sam");
    std::fs::write(&out, text).unwrap();
    replay("3")
        .assert()
        .success()
        .stderr(contains("repaired a torn last line"));
    let all = common::read_jsonl(&out);
    assert_eq!(
        &all[..first.len()],
        &first[..],
        "existing lines are never rewritten"
    );
    let source: Vec<Value> = common::read_jsonl(&common::fixture("samples.jsonl"));
    for sample in &all {
        assert!(
            source.contains(sample),
            "replayed records are copied as they were"
        );
        assert!(sample["sample_idx"].as_u64().unwrap() < 3);
    }
    let by_problem = samples_by_problem(&out);
    assert!(by_problem.values().all(|s| s.len() == 3));
    // Running it again cannot help: the error does not say it would.
    replay("9")
        .assert()
        .code(65)
        .stderr(contains("has no sample"))
        .stderr(contains("run the same command again").not());
}

#[test]
fn adaptive_sampling_stops_settled_problems_and_resumes_from_their_votes() {
    let dir = tempfile::tempdir().unwrap();
    // Three problems, 12 samples each: one unanimous, one split evenly, one never answered.
    let problems = dir.path().join("problems.jsonl");
    let pool = dir.path().join("pool.jsonl");
    let mut problem_lines = Vec::new();
    let mut sample_lines = Vec::new();
    for (id, answer) in [("sure", "#### 7"), ("split", ""), ("silent", "no idea")] {
        problem_lines
            .push(serde_json::json!({"id": id, "question": id, "answer": "7"}).to_string());
        for idx in 0..12 {
            let text = match id {
                "split" => format!("#### {}", idx % 2),
                _ => answer.to_owned(),
            };
            sample_lines.push(
                serde_json::json!({"problem_id": id, "sample_idx": idx, "text": text}).to_string(),
            );
        }
    }
    std::fs::write(&problems, problem_lines.join("\n") + "\n").unwrap();
    std::fs::write(&pool, sample_lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("adaptive.jsonl");
    let adaptive = |confidence: &str| {
        let mut command = bestofn();
        command
            .args(["generate", "--backend", "replay", "--problems"])
            .arg(&problems)
            .arg("--replay-from")
            .arg(&pool)
            .args(["--n", "12", "--adaptive", "--adaptive-round", "1"])
            .args(["--adaptive-confidence", confidence, "--out"])
            .arg(&out);
        command
    };
    adaptive("0.95")
        .assert()
        .success()
        .stderr(contains("28 samples generated"))
        .stderr(contains("8 samples not needed"));
    let by_problem = samples_by_problem(&out);
    // 4 votes of 4 settle at 31/32 >= 0.95; the first samples, in order.
    assert_eq!(by_problem.len(), 3);
    let indices = |id: &str| -> Vec<u64> {
        by_problem[id]
            .iter()
            .map(|s| s["sample_idx"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(indices("sure"), vec![0, 1, 2, 3]);
    assert_eq!(indices("split").len(), 12);
    assert_eq!(indices("silent").len(), 12, "no answer is never settled");

    // The same command again: the votes in the file settle `sure`, nothing is drawn.
    adaptive("0.95")
        .assert()
        .success()
        .stderr(contains("0 samples generated, 28 already present"));
    // A stricter rule resumes where the looser one stopped.
    adaptive("0.99")
        .assert()
        .success()
        .stderr(contains("2 samples generated"));
    assert_eq!(common::read_jsonl(&out).len(), 30);
    adaptive("1")
        .assert()
        .code(64)
        .stderr(contains("--adaptive-confidence 1 must be in (0.5, 1)"));
}

/// `solve --adaptive --adaptive-score P`: each round's samples are scored as they come, a problem
/// stops at its first sample the verifier scores at least P, and the score stage reuses those
/// scores instead of running the verifier again.
#[test]
fn adaptive_solve_stops_a_problem_once_the_verifier_scores_a_sample_high_enough() {
    let test = "adaptive_solve_stops_a_problem_once_the_verifier_scores_a_sample_high_enough";
    if common::skip(test, &[common::Need::OnnxRuntime]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.jsonl");
    let pool = dir.path().join("pool.jsonl");
    let mut problem_lines = Vec::new();
    let mut sample_lines = Vec::new();
    for (p, id) in ["a", "b", "c"].into_iter().enumerate() {
        problem_lines.push(
            serde_json::json!({"id": id, "question": format!("What is {p} + 7?"), "answer": "7"})
                .to_string(),
        );
        for idx in 0..12 {
            let text = format!("{p} plus {idx} makes {}\n#### {}", p + idx, p + idx);
            sample_lines.push(
                serde_json::json!({"problem_id": id, "sample_idx": idx, "text": text}).to_string(),
            );
        }
    }
    std::fs::write(&problems, problem_lines.join("\n") + "\n").unwrap();
    std::fs::write(&pool, sample_lines.join("\n") + "\n").unwrap();
    let verifier = common::fixture("verifier-tiny");

    // Every sample's score, from the score stage alone.
    let all_scored = dir.path().join("all-scored.jsonl");
    bestofn()
        .args(["score", "--verifier"])
        .arg(&verifier)
        .arg("--problems")
        .arg(&problems)
        .arg("--samples")
        .arg(&pool)
        .arg("--out")
        .arg(&all_scored)
        .assert()
        .success();
    let score: BTreeMap<(String, u64), f64> = common::read_jsonl(&all_scored)
        .iter()
        .map(|s| {
            let key = (
                s["problem_id"].as_str().unwrap().to_owned(),
                s["sample_idx"].as_u64().unwrap(),
            );
            (key, s["score"].as_f64().unwrap())
        })
        .collect();
    // Just under the first sample of `a`: `a` stops after one sample.
    let threshold = score[&("a".to_owned(), 0)] - 1e-4;
    let expected_drawn = |id: &str| -> usize {
        (0..12u64)
            .position(|idx| score[&(id.to_owned(), idx)] >= threshold)
            .map_or(12, |first| first + 1)
    };

    let out = dir.path().join("answers.jsonl");
    let solve = |threshold: &str| {
        let mut command = bestofn();
        command
            .args(["solve", "--backend", "replay", "--replay-from"])
            .arg(&pool)
            .arg("--problems")
            .arg(&problems)
            .arg("--verifier")
            .arg(&verifier)
            .args(["--n", "12", "--adaptive", "--adaptive-round", "1"])
            .args(["--adaptive-score", threshold, "--out"])
            .arg(&out);
        command
    };
    let assert = solve(&threshold.to_string()).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(!stderr.contains("earlier run"), "{stderr}");
    let samples = samples_by_problem(&dir.path().join("answers.samples.jsonl"));
    for id in ["a", "b", "c"] {
        let drawn: Vec<u64> = samples[id]
            .iter()
            .map(|s| s["sample_idx"].as_u64().unwrap())
            .collect();
        assert_eq!(
            drawn,
            (0..expected_drawn(id) as u64).collect::<Vec<_>>(),
            "problem {id}"
        );
    }
    assert_eq!(expected_drawn("a"), 1);
    let total: usize = ["a", "b", "c"].iter().map(|id| expected_drawn(id)).sum();
    assert!(
        stderr.contains(&format!("problems: {total} samples generated")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("; {} samples not needed", 36 - total)),
        "{stderr}"
    );
    // The scores made while generating are the scores of the file, as the score stage gives them.
    let scored = common::read_jsonl(&dir.path().join("answers.scored.jsonl"));
    assert_eq!(scored.len(), total);
    for s in &scored {
        let key = (
            s["problem_id"].as_str().unwrap().to_owned(),
            s["sample_idx"].as_u64().unwrap(),
        );
        assert!(
            (s["score"].as_f64().unwrap() - score[&key]).abs() < 1e-5,
            "{key:?}"
        );
    }
    assert!(
        !dir.path().join("answers.scored.jsonl.partial").exists(),
        "the log is removed"
    );

    // The same command again: the samples in the file are judged again, nothing is drawn.
    solve(&threshold.to_string())
        .assert()
        .success()
        .stderr(contains(format!(
            "0 samples generated, {total} already present"
        )));
    for bad in ["0", "1.5", "NaN"] {
        solve(bad).assert().code(64).stderr(contains(format!(
            "--adaptive-score {bad} must be in (0, 1]"
        )));
    }
}

#[test]
fn openai_settings_are_checked_before_any_request() {
    bestofn()
        .args([
            "generate",
            "--backend",
            "openai",
            "--model",
            "m",
            "--n",
            "1",
            "--problems",
        ])
        .arg(common::fixture("problems.jsonl"))
        .args(["--out", "/nonexistent/x.jsonl"])
        .env_remove("OPENAI_BASE_URL")
        .assert()
        .code(64)
        .stderr(contains("--backend openai needs --base-url"));
    bestofn()
        .args([
            "generate",
            "--backend",
            "llama",
            "--model",
            "/nonexistent.gguf",
            "--n",
            "1",
            "--problems",
        ])
        .arg(common::fixture("problems.jsonl"))
        .args(["--out", "/tmp/never-written.jsonl"])
        .assert()
        .failure();
}

#[cfg(feature = "llama")]
mod embedded {
    use super::*;

    fn llama_generate(dir: &Path, problems: &Path, n: u32, out: &Path) -> Command {
        let mut command = bestofn();
        command
            .args([
                "generate",
                "--backend",
                "llama",
                "--threads",
                "1",
                "--problems",
            ])
            .arg(problems)
            .args(["--n", &n.to_string(), "--template"])
            .arg(counting_template(dir))
            .arg("--out")
            .arg(out)
            .env("BESTOFN_GGUF", common::bundled_gguf());
        command
    }

    #[test]
    fn samples_are_keyed_and_reproducible_from_their_seeds() {
        if common::skip(
            "samples_are_keyed_and_reproducible_from_their_seeds",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3, 17, 41]);
        let greedy = dir.path().join("greedy.jsonl");
        llama_generate(dir.path(), &problems, 3, &greedy)
            .args(["--temperature", "0", "--max-tokens", "6"])
            .assert()
            .success();
        let by_problem = samples_by_problem(&greedy);
        assert_exactly_n(&by_problem, 3, 3);
        for (id, samples) in &by_problem {
            let start: u32 = id.trim_start_matches("count-").parse().unwrap();
            for sample in samples {
                let text = sample["text"].as_str().unwrap();
                assert!(
                    text.trim_start().starts_with(&(start + 5).to_string()),
                    "{id}: {text:?}"
                );
                assert_eq!(sample["generator"]["backend"], "llama");
                assert_eq!(
                    sample["generator"]["model"],
                    "SmolLM2-135M-Instruct.Q4_1.gguf"
                );
            }
        }

        // Sampling: the same seeds give the same samples, another base seed other samples.
        let sampled = |name: &str, seed: &str| {
            let out = dir.path().join(name);
            llama_generate(dir.path(), &problems, 4, &out)
                .args([
                    "--temperature",
                    "1.0",
                    "--max-tokens",
                    "12",
                    "--parallel",
                    "4",
                    "--seed",
                    seed,
                ])
                .assert()
                .success();
            common::read_jsonl(&out)
                .into_iter()
                .map(|s| {
                    (
                        s["problem_id"].clone(),
                        s["sample_idx"].clone(),
                        s["text"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let a = sampled("a.jsonl", "7");
        let b = sampled("b.jsonl", "7");
        let c = sampled("c.jsonl", "8");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let distinct: HashSet<_> = a.iter().map(|(_, _, text)| text.clone()).collect();
        assert!(
            distinct.len() > 3,
            "temperature 1 should give varied samples: {a:?}"
        );
    }

    #[test]
    fn changed_settings_against_an_existing_file_are_refused_unless_asked() {
        if common::skip(
            "changed_settings_against_an_existing_file_are_refused_unless_asked",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3]);
        let out = dir.path().join("s.jsonl");
        llama_generate(dir.path(), &problems, 1, &out)
            .args(["--max-tokens", "4"])
            .assert()
            .success();
        llama_generate(dir.path(), &problems, 2, &out)
            .args(["--max-tokens", "5"])
            .assert()
            .code(64)
            .stderr(contains("generator.max_tokens was 4, is now 5"));
        assert_eq!(common::read_jsonl(&out).len(), 1);
        llama_generate(dir.path(), &problems, 2, &out)
            .args(["--max-tokens", "5", "--allow-settings-change"])
            .assert()
            .success();
        assert_eq!(common::read_jsonl(&out).len(), 2);
    }

    #[test]
    fn sigkill_at_random_points_then_resume_gives_exactly_n_per_problem() {
        if common::skip(
            "sigkill_at_random_points_then_resume_gives_exactly_n_per_problem",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[1, 8, 20, 33, 47, 52]);
        let out = dir.path().join("s.jsonl");
        let binary = assert_cmd::cargo::cargo_bin("bestofn");
        let args = |command: &mut std::process::Command| {
            command
                .args([
                    "generate",
                    "--backend",
                    "llama",
                    "--threads",
                    "1",
                    "--parallel",
                    "3",
                ])
                .arg("--problems")
                .arg(&problems)
                .args([
                    "--n",
                    "6",
                    "--max-tokens",
                    "40",
                    "--temperature",
                    "1.0",
                    "--template",
                ])
                .arg(counting_template(dir.path()))
                .arg("--out")
                .arg(&out)
                .env("BESTOFN_GGUF", common::bundled_gguf())
                .stderr(std::process::Stdio::null());
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut killed_mid_run = 0;
        let mut lines_seen = Vec::new();
        for _ in 0..6 {
            let mut command = std::process::Command::new(&binary);
            args(&mut command);
            let mut child = command.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(rng.gen_range(300..1500)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                killed_mid_run += 1;
            }
            child.wait().unwrap();
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            lines_seen.push(text.lines().count());
        }
        assert!(
            killed_mid_run >= 3,
            "the kills should land mid-run: {lines_seen:?}"
        );
        let mut command = std::process::Command::new(&binary);
        args(&mut command);
        assert!(command.status().unwrap().success());
        assert_exactly_n(&samples_by_problem(&out), 6, 6);
        assert!(
            lines_seen.windows(2).all(|w| w[0] <= w[1]),
            "lines are never lost: {lines_seen:?}"
        );
    }

    /// The products bestofn's Q4_1 kernel made in a run, from its debug log; `Err` where the
    /// kernel was not used, the reason it logged.
    fn kernel_products(stderr: &str) -> Result<u64, String> {
        if let Some(at) = stderr.find("products on ggml's kernel") {
            return Err(stderr[at..].lines().next().unwrap().to_owned());
        }
        let at = stderr
            .rfind("products=")
            .expect("the run logs the kernel's product count");
        let digits: String = stderr[at + "products=".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Ok(digits.parse().unwrap())
    }

    #[test]
    fn the_batched_q4_1_kernel_draws_the_samples_of_ggml_kernels() {
        if common::skip(
            "the_batched_q4_1_kernel_draws_the_samples_of_ggml_kernels",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3, 17, 41, 60]);
        let template = dir.path().join("no-stop.txt");
        std::fs::write(&template, "mode: completion\n---\n{question}\n").unwrap();
        let run = |name: &str, kernel: &str| {
            let out = dir.path().join(name);
            let output = bestofn()
                .args(["generate", "--backend", "llama", "--problems"])
                .arg(&problems)
                .args([
                    "--n",
                    "6",
                    "--threads",
                    "2",
                    "--parallel",
                    "8",
                    "--template",
                ])
                .arg(&template)
                .args(["--temperature", "1.0", "--max-tokens", "48", "--seed", "5"])
                .arg("--out")
                .arg(&out)
                .env("BESTOFN_GGUF", common::bundled_gguf())
                .env("BESTOFN_LLAMA_Q4_1_GEMM", kernel)
                .env("RUST_LOG", "bestofn=debug")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stderr}");
            let samples: BTreeMap<_, _> = common::read_jsonl(&out)
                .into_iter()
                .map(|s| {
                    let key = (
                        s["problem_id"].as_str().unwrap().to_owned(),
                        s["sample_idx"].as_u64().unwrap(),
                    );
                    (key, (s["text"].clone(), s["num_tokens"].clone()))
                })
                .collect();
            (samples, kernel_products(&stderr))
        };
        let (ggml, disabled) = run("ggml.jsonl", "0");
        assert!(
            disabled.unwrap_err().contains("BESTOFN_LLAMA_Q4_1_GEMM=0"),
            "the switch turns the kernel off"
        );
        let (kernel, products) = run("kernel.jsonl", "1");
        match products {
            Ok(products) => assert!(products > 0, "the kernel made no product"),
            Err(why) => {
                eprintln!("skipped: the batched kernel is not used on this machine: {why}");
                return;
            }
        }
        assert_eq!(kernel.len(), 24);
        let tokens: u64 = kernel.values().map(|(_, n)| n.as_u64().unwrap()).sum();
        assert!(
            tokens > 24 * 8,
            "samples long enough to compare: {tokens} tokens"
        );
        assert_eq!(kernel, ggml, "the same samples with and without the kernel");
    }

    /// llama-cpp-python's log-probabilities of the same prompt on the same model (greedy), as
    /// JSON: `{"tokens": [...], "token_logprobs": [...], "top_logprobs": [[...], ...]}`.
    fn llama_cpp_python_logprobs(prompt: &str, max_tokens: u32, k: u32) -> Value {
        let script = r#"
import json, sys
from llama_cpp import Llama
model, prompt, max_tokens, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
llm = Llama(model_path=model, logits_all=True, n_ctx=512, verbose=False, seed=0)
out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, logprobs=k,
                            stop=["\n"])
lp = out["choices"][0]["logprobs"]
print(json.dumps({"token_logprobs": [float(v) for v in lp["token_logprobs"]],
                  "top_logprobs": [sorted(map(float, t.values()), reverse=True)
                                   for t in lp["top_logprobs"]]}))
"#;
        let output = std::process::Command::new(common::llama_venv_python())
            .args(["-c", script])
            .arg(common::bundled_gguf())
            .args([prompt, &max_tokens.to_string(), &k.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    #[test]
    fn recording_token_statistics_changes_no_sample() {
        if common::skip(
            "recording_token_statistics_changes_no_sample",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3, 17, 41]);
        let texts = |stats: bool| {
            let out = dir.path().join(format!("stats-{stats}.jsonl"));
            let mut command = llama_generate(dir.path(), &problems, 4, &out);
            command.args(["--temperature", "1.0", "--max-tokens", "12"]);
            if stats {
                command.arg("--token-stats");
            }
            command.assert().success();
            let samples = samples_by_problem(&out);
            for sample in samples.values().flatten() {
                let tokens = sample.get("tokens");
                assert_eq!(tokens.is_some(), stats);
                if let Some(tokens) = tokens {
                    // Every decoded token, the end of text included.
                    let counted = sample["num_tokens"].as_u64().unwrap();
                    let recorded = tokens["completion"].as_u64().unwrap();
                    let stopped_at_end = sample["finish_reason"] == "stop";
                    assert!(recorded == counted || (stopped_at_end && recorded == counted + 1));
                }
            }
            samples
                .into_iter()
                .map(|(id, samples)| (id, samples.into_iter().map(|s| s["text"].clone()).collect()))
                .collect::<BTreeMap<String, Vec<Value>>>()
        };
        assert_eq!(texts(true), texts(false));
    }

    /// The lowest mean of `window` consecutive values (the mean of all when fewer).
    fn lowest_group(values: &[f64], window: usize) -> f64 {
        if values.len() < window {
            return values.iter().sum::<f64>() / values.len() as f64;
        }
        values
            .windows(window)
            .map(|w| w.iter().sum::<f64>() / window as f64)
            .fold(f64::INFINITY, f64::min)
    }

    fn confidences(sample: &Value) -> Vec<f64> {
        sample["tokens"]["confidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect()
    }

    /// DeepConf online on the real model: the warm-up is whole, each later trace is stopped at
    /// the first window below the threshold its warm-up sets (checked from the recorded
    /// confidences), a stopped trace is kept and marked and no stage counts it, and a run killed
    /// anywhere resumes to the same samples.
    #[test]
    fn online_confidence_stops_traces_below_the_warm_up_threshold_and_resumes_to_the_same_samples()
    {
        if common::skip(
            "online_confidence_stops_traces_below_the_warm_up_threshold_and_resumes_to_the_same_samples",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3, 17]);
        let (warmup, window) = (3usize, 4usize);
        let online = |out: &Path| {
            let mut command = llama_generate(dir.path(), &problems, 7, out);
            command.args([
                "--temperature",
                "1.2",
                "--max-tokens",
                "12",
                "--token-stats",
            ]);
            command.args(["--online-confidence", "--warmup", "3", "--keep-top", "10"]);
            command.args([
                "--confidence-window",
                "4",
                "--adaptive-round",
                "2",
                "--seed",
                "5",
            ]);
            command
        };
        let whole = dir.path().join("whole.jsonl");
        online(&whole)
            .assert()
            .success()
            .stderr(contains("stopped early"));
        let by_problem = samples_by_problem(&whole);
        let mut stopped = 0;
        for (id, samples) in &by_problem {
            let warm: Vec<f64> = samples
                .iter()
                .filter(|s| s["sample_idx"].as_u64().unwrap() < warmup as u64)
                .map(|s| lowest_group(&confidences(s), window))
                .collect();
            assert_eq!(warm.len(), warmup, "{id}: the warm-up is whole");
            // numpy.percentile(warm, 90): linear between the two highest of three.
            let mut sorted = warm.clone();
            sorted.sort_by(f64::total_cmp);
            let threshold = sorted[1] + 0.8 * (sorted[2] - sorted[1]);
            for sample in samples {
                let series = confidences(sample);
                let idx = sample["sample_idx"].as_u64().unwrap() as usize;
                let Some(stop) = sample.get("early_stop") else {
                    assert_ne!(sample["finish_reason"], "early_stop");
                    continue;
                };
                stopped += 1;
                assert!(
                    idx >= warmup,
                    "{id}/{idx}: a warm-up trace is never stopped"
                );
                assert_eq!(sample["finish_reason"], "early_stop");
                assert!((stop["threshold"].as_f64().unwrap() - threshold).abs() < 1e-9);
                let at = stop["at_token"].as_u64().unwrap() as usize;
                assert_eq!(
                    at,
                    series.len(),
                    "{id}/{idx}: it stops at the token that fell"
                );
                let last: f64 = series[at - window..].iter().sum::<f64>() / window as f64;
                assert!(last < threshold, "{id}/{idx}: {last} ≥ {threshold}");
                assert!((stop["group_confidence"].as_f64().unwrap() - last).abs() < 1e-4);
                assert!(
                    lowest_group(&series[..at - 1], window) >= threshold - 1e-9 || at - 1 < window,
                    "{id}/{idx}: no earlier window fell"
                );
            }
        }
        assert!(stopped > 0, "η = 10 % stops most traces after the warm-up");

        // Any prefix of the file is what a kill leaves: resumed, it becomes the same file.
        let lines: Vec<String> = std::fs::read_to_string(&whole)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let key = |s: &Value| {
            (
                s["problem_id"].clone(),
                s["sample_idx"].clone(),
                s["text"].clone(),
                s["finish_reason"].clone(),
            )
        };
        let keyed = |path: &Path| -> Vec<_> {
            let mut keys: Vec<_> = common::read_jsonl(path).iter().map(key).collect();
            keys.sort_by_key(|k| format!("{k:?}"));
            keys
        };
        for cut in [lines.len() / 2, lines.len() - 1] {
            let resumed = dir.path().join(format!("resumed-{cut}.jsonl"));
            std::fs::write(&resumed, lines[..cut].join("\n") + "\n").unwrap();
            online(&resumed).assert().success();
            assert_eq!(keyed(&resumed), keyed(&whole), "resumed after {cut} lines");
        }

        // Stopped traces go through label ungraded and count in eval as tokens only.
        let labeled = dir.path().join("labeled.jsonl");
        bestofn()
            .args(["label", "--problems"])
            .arg(&problems)
            .arg("--samples")
            .arg(&whole)
            .arg("--out")
            .arg(&labeled)
            .assert()
            .success()
            .stderr(contains(format!("stopped early  {stopped} traces")));
        for sample in common::read_jsonl(&labeled) {
            let stopped = sample.get("early_stop").is_some();
            assert_eq!(sample["correct"].is_boolean(), !stopped, "{sample}");
        }
        let metrics = common::eval_metrics(&labeled, &dir.path().join("report"));
        assert_eq!(metrics["samples"], (lines.len() - stopped) as u64);
        assert_eq!(metrics["compute"]["stopped_traces"], stopped as u64);
    }

    #[test]
    fn recorded_log_probabilities_are_llama_cpp_pythons_on_the_same_prompt() {
        if common::skip(
            "recorded_log_probabilities_are_llama_cpp_pythons_on_the_same_prompt",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = counting_problems(dir.path(), &[3, 17]);
        let out = dir.path().join("greedy.jsonl");
        llama_generate(dir.path(), &problems, 1, &out)
            .args(["--temperature", "0", "--max-tokens", "8", "--token-stats"])
            .args(["--top-logprobs", "5", "--keep-top-logprobs"])
            // llama-cpp-python runs without flash attention (its kernel moves log-probabilities
            // by up to a few hundredths).
            .arg("--no-flash-attention")
            .assert()
            .success();
        for sample in common::read_jsonl(&out) {
            let id = sample["problem_id"].as_str().unwrap();
            let start: u32 = id.trim_start_matches("count-").parse().unwrap();
            let prompt = format!(
                "{}, {}, {}, {}, {},",
                start,
                start + 1,
                start + 2,
                start + 3,
                start + 4
            );
            let theirs = llama_cpp_python_logprobs(&prompt, 8, 5);
            let ours = &sample["tokens"];
            let their_chosen = theirs["token_logprobs"].as_array().unwrap();
            let our_chosen = ours["logprobs"].as_array().unwrap();
            // Both stop at the newline; bestofn's record has the stopping token too.
            assert!(
                their_chosen.len() >= 3 && our_chosen.len() >= their_chosen.len() - 1,
                "{id}"
            );
            let close = |a: &Value, b: &Value| {
                // Recorded to 4 decimals; batched and single decoding differ in the last bits.
                (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-3
            };
            for (i, (a, b)) in our_chosen.iter().zip(their_chosen).enumerate() {
                assert!(close(a, b), "{id} token {i}: {a} vs {b}");
                let (our_top, their_top) = (&ours["top_logprobs"][i], &theirs["top_logprobs"][i]);
                let their_top = their_top.as_array().unwrap();
                // Their top-k is a dict by token text: pieces that print alike collapse.
                for (a, b) in our_top.as_array().unwrap().iter().zip(their_top) {
                    assert!(
                        close(a, b),
                        "{id} token {i} top: {our_top} vs {their_top:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn solve_runs_every_stage_with_the_embedded_model() {
        if common::skip(
            "solve_runs_every_stage_with_the_embedded_model",
            &[common::Need::LlamaVenv, common::Need::OnnxRuntime],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("answers.jsonl");
        bestofn()
            .args([
                "solve",
                "--n",
                "2",
                "--threads",
                "1",
                "--max-tokens",
                "48",
                "--template",
                "gsm8k",
            ])
            .arg("--problems")
            .arg(common::fixture("problems.jsonl"))
            .arg("--verifier")
            .arg(common::fixture("verifier-tiny"))
            .arg("--out")
            .arg(&out)
            .env("BESTOFN_GGUF", common::bundled_gguf())
            .assert()
            .success()
            .stderr(contains("samples generated"))
            .stderr(contains("scored"))
            .stderr(contains("verifier: "));
        let problems = common::read_jsonl(&common::fixture("problems.jsonl")).len();
        let answers = common::read_jsonl(&out);
        assert_eq!(
            answers.len(),
            problems * 4,
            "one answer per problem and default strategy"
        );
        let scored = common::read_jsonl(&dir.path().join("answers.scored.jsonl"));
        assert_eq!(scored.len(), problems * 2);
        assert!(scored
            .iter()
            .all(|s| s["score"].is_number() && s.get("correct").is_some()));
        assert!(dir.path().join("answers.report/report.md").is_file());
    }
}

/// The OpenAI-compatible path against a real vLLM server (CPU, the bundled SmolLM2 as a Hugging
/// Face directory): `n` per request honoured, every sample's recorded seed its effective one
/// (the same samples asked for 3 per request or one at a time), the same command twice gives the
/// same samples, resume after SIGKILL, and injected faults, all on one server (it takes ~35 s
/// to start and 4-6 GB).
mod vllm {
    use super::*;

    fn vllm_generate(base_url: &str, problems: &Path, n: u32, out: &Path) -> Command {
        Command::from_std(vllm_command(base_url, problems, n, out))
    }

    fn vllm_command(base_url: &str, problems: &Path, n: u32, out: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("bestofn"));
        command
            .args(["generate", "--backend", "openai", "--model", "smollm2"])
            .args(["--base-url", base_url, "--problems"])
            .arg(problems)
            .args(["--n", &n.to_string(), "--template", "chat"])
            .args(["--temperature", "0.8", "--max-tokens", "16"])
            .args(["--retry-base-ms", "10", "--seed", "3"])
            .arg("--out")
            .arg(out)
            .env_remove("OPENAI_API_KEY");
        command
    }

    /// (problem, index) → (text, recorded seed).
    fn keyed(path: &Path) -> BTreeMap<(String, u64), (String, u64)> {
        common::read_jsonl(path)
            .into_iter()
            .map(|s| {
                let key = (
                    s["problem_id"].as_str().unwrap().to_owned(),
                    s["sample_idx"].as_u64().unwrap(),
                );
                let value = (
                    s["text"].as_str().unwrap().to_owned(),
                    s["generator"]["seed"].as_u64().unwrap(),
                );
                (key, value)
            })
            .collect()
    }

    #[test]
    fn generation_against_a_real_vllm_server() {
        if common::skip(
            "generation_against_a_real_vllm_server",
            &[common::Need::Vllm],
        ) {
            return;
        }
        let server = common::VllmServer::start(&common::smollm2_hf_dir());
        let dir = tempfile::tempdir().unwrap();
        let problems = first_easy_problems(dir.path(), 2);

        // n per request, honoured: no top-up, no warning; the server says who it is.
        let batched = dir.path().join("batched.jsonl");
        vllm_generate(&server.base_url(), &problems, 6, &batched)
            .args(["--n-per-request", "3"])
            .assert()
            .success()
            .stderr(contains("12 samples generated"))
            .stderr(contains("ignores").not());
        let by_problem = samples_by_problem(&batched);
        assert_exactly_n(&by_problem, 2, 6);
        for sample in by_problem.values().flatten() {
            let fingerprint = sample["generator"]["server"]["system_fingerprint"]
                .as_str()
                .unwrap();
            assert!(fingerprint.starts_with("vllm-"), "{fingerprint}");
        }
        let samples = keyed(&batched);
        let seeds: HashSet<u64> = samples.values().map(|(_, seed)| *seed).collect();
        assert_eq!(seeds.len(), 12, "every sample its own seed");
        let texts: HashSet<&str> = samples.values().map(|(text, _)| text.as_str()).collect();
        assert!(texts.len() > 6, "temperature 0.8 gives varied samples");

        // The recorded seed is the one the sample was drawn with: alone, it gives the same text.
        let one_by_one = dir.path().join("one_by_one.jsonl");
        vllm_generate(&server.base_url(), &problems, 6, &one_by_one)
            .args(["--n-per-request", "1", "--max-in-flight", "3"])
            .assert()
            .success();
        assert_eq!(keyed(&one_by_one), samples);

        // Killed mid-run and resumed: exactly n per problem, the same samples as one run.
        let resumed = dir.path().join("resumed.jsonl");
        let mut child = vllm_command(&server.base_url(), &problems, 6, &resumed)
            .args(["--n-per-request", "1"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::fs::read_to_string(&resumed).map_or(0, |t| t.lines().count()) < 3
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let kept = common::read_jsonl(&resumed).len();
        assert!((3..12).contains(&kept), "killed mid-run: {kept} samples");
        vllm_generate(&server.base_url(), &problems, 6, &resumed)
            .args(["--n-per-request", "3"])
            .assert()
            .success()
            .stderr(contains(format!("{kept} already present")));
        assert_eq!(keyed(&resumed), samples);

        // Faults between client and server: retried, and still the same samples.
        let pattern = [
            Fault::Status(500),
            Fault::Drop,
            Fault::Status(429),
            Fault::Pass,
        ];
        let proxy = FaultProxy::start(server.port, move |i| pattern[i % pattern.len()]);
        let through_faults = dir.path().join("faults.jsonl");
        vllm_generate(&proxy.base_url(), &problems, 6, &through_faults)
            .args(["--n-per-request", "2", "--max-retries", "8"])
            .assert()
            .success();
        assert_eq!(keyed(&through_faults), samples);
        assert!(proxy.applied().contains(&Fault::Drop));

        token_statistics_from_vllm(&server, &problems, &samples, dir.path());
        online_confidence_over_vllm_streams(&server, &problems, &samples, dir.path());
        saved_responses_from_vllm(&server, &problems, dir.path());
    }

    /// vLLM's offline engine (`LLM.generate`), its `RequestOutput`s dumped as JSON the way a
    /// script does (each completion's dataclass as a dict), imported: every output a sample of its
    /// problem, with its text, finish reason and token count.
    /// The first `k` problems of `data/easy-arithmetic.jsonl`, as a problems file in `dir`.
    fn first_easy_problems(dir: &Path, k: usize) -> std::path::PathBuf {
        let all = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/easy-arithmetic.jsonl"),
        )
        .unwrap();
        let problems = dir.join("problems.jsonl");
        let lines: String = all.lines().take(k).map(|l| format!("{l}\n")).collect();
        std::fs::write(&problems, lines).unwrap();
        problems
    }

    /// `generate --backend vllm-offline` on `problems` with `template`, n samples, into `out`.
    fn offline_generate(problems: &Path, template: &str, n: u32, out: &Path) -> Command {
        let mut command = common::bestofn();
        command
            .args(["generate", "--backend", "vllm-offline", "--model"])
            .arg(common::smollm2_hf_dir())
            .arg("--vllm-python")
            .arg(common::venv_python())
            .args([
                "--vllm-arg",
                "dtype=float32",
                "--vllm-arg",
                "enforce_eager=true",
            ])
            .args(["--vllm-arg", "max_model_len=1024", "--vllm-batch", "2"])
            .args(["--template", template, "--n", &n.to_string()])
            .args(["--temperature", "0.8", "--max-tokens", "16", "--seed", "3"])
            .arg("--problems")
            .arg(problems)
            .arg("--out")
            .arg(out)
            .env("HF_HUB_OFFLINE", "1")
            .env("VLLM_CPU_KVCACHE_SPACE", "1");
        command
    }

    #[test]
    fn vllms_offline_engine_generates_chat_and_completions_and_resumes() {
        if common::skip(
            "vllms_offline_engine_generates_chat_and_completions_and_resumes",
            &[common::Need::Vllm],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = first_easy_problems(dir.path(), 3);
        let out = dir.path().join("chat.jsonl");
        offline_generate(&problems, "chat", 2, &out)
            .assert()
            .success();
        let first = keyed(&out);
        assert_eq!(first.len(), 6);
        for sample in common::read_jsonl(&out) {
            assert_eq!(sample["generator"]["backend"], "vllm-offline");
            assert!(sample["generator"]["server"]["vllm"].is_string());
            assert!(sample["num_tokens"].as_u64().unwrap() > 0);
            assert!(["stop", "length"].contains(&sample["finish_reason"].as_str().unwrap()));
        }
        // Three batches of two jobs; a second run adds the third sample of each problem only.
        offline_generate(&problems, "chat", 3, &out)
            .assert()
            .success()
            .stderr(predicates::str::contains(
                "3 samples generated, 6 already present",
            ));
        let second = keyed(&out);
        assert_eq!(second.len(), 9);
        assert!(first.iter().all(|(key, value)| second[key] == *value));
        // A completion template goes through LLM.generate.
        let completions = dir.path().join("completions.jsonl");
        offline_generate(&problems, "gsm8k", 1, &completions)
            .assert()
            .success();
        let texts = keyed(&completions);
        assert_eq!(texts.len(), 3);
        assert!(texts.values().all(|(text, _)| !text.is_empty()));
    }

    #[test]
    fn vllm_offline_outputs_import_as_samples() {
        if common::skip(
            "vllm_offline_outputs_import_as_samples",
            &[common::Need::Vllm],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let problems = first_easy_problems(dir.path(), 2);
        let dump = dir.path().join("outputs.json");
        let script = r#"
import dataclasses, json, sys
from vllm import LLM, SamplingParams
model, problems, out = sys.argv[1:4]
llm = LLM(model=model, dtype="float32", enforce_eager=True, seed=0, max_model_len=1024)
prompts = [json.loads(line)["question"] for line in open(problems)]
outputs = llm.generate(prompts, SamplingParams(n=2, max_tokens=12, seed=1))
def plain(o):
    return {"request_id": o.request_id, "prompt": o.prompt, "prompt_token_ids": o.prompt_token_ids,
            "outputs": [dataclasses.asdict(c) for c in o.outputs], "finished": o.finished}
with open(out, "w") as f:
    json.dump([plain(o) for o in outputs], f, default=str)
"#;
        let status = std::process::Command::new(common::venv_python())
            .args(["-c", script])
            .arg(common::smollm2_hf_dir())
            .arg(&problems)
            .arg(&dump)
            .env("HF_HUB_OFFLINE", "1")
            .env("VLLM_CPU_KVCACHE_SPACE", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the offline engine failed");
        let outputs: Value =
            serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
        let out = dir.path().join("samples.jsonl");
        bestofn()
            .args(["import", "--format", "vllm-outputs", "--input"])
            .arg(&dump)
            .arg("--problems")
            .arg(&problems)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let samples = common::read_jsonl(&out);
        let expected: Vec<(String, String)> = outputs
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o["outputs"].as_array().unwrap().iter())
            .map(|c| {
                (
                    c["text"].as_str().unwrap().to_owned(),
                    c["finish_reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(samples.len(), 4);
        for (sample, (text, reason)) in samples.iter().zip(&expected) {
            assert_eq!(sample["text"].as_str().unwrap(), text);
            assert_eq!(sample["finish_reason"].as_str().unwrap(), reason);
            assert!(sample["tokens"]["completion"].as_u64().unwrap() >= 1);
        }
        let ids: Vec<&str> = samples
            .iter()
            .map(|s| s["problem_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["easy-1", "easy-1", "easy-2", "easy-2"]);
    }

    /// Responses saved as a user saves them (the raw bodies of vLLM's `/v1/chat/completions`,
    /// two choices each, with log-probabilities) import as samples: the choices' texts, finish
    /// reasons and token statistics, one token confidence per generated token.
    fn saved_responses_from_vllm(server: &common::VllmServer, problems: &Path, dir: &Path) {
        let saved = dir.join("saved_responses.jsonl");
        let script = r#"
import json, sys, urllib.request
base, problems, out = sys.argv[1:4]
with open(problems) as f, open(out, "w") as w:
    for line in f:
        body = {"model": "smollm2", "n": 2, "max_tokens": 12, "seed": 5, "logprobs": True,
                "top_logprobs": 3, "messages": [{"role": "user", "content": json.loads(line)["question"]}]}
        request = urllib.request.Request(base + "/chat/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        w.write(json.dumps(json.load(urllib.request.urlopen(request))) + "\n")
"#;
        let status = std::process::Command::new("python3")
            .args(["-c", script, &server.base_url()])
            .arg(problems)
            .arg(&saved)
            .status()
            .unwrap();
        assert!(status.success());
        let responses = common::read_jsonl(&saved);
        let out = dir.join("imported.jsonl");
        bestofn()
            .args(["import", "--format", "openai-chat", "--input"])
            .arg(&saved)
            .arg("--problems")
            .arg(problems)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let samples = common::read_jsonl(&out);
        assert_eq!(samples.len(), 4);
        for (sample, (response, choice)) in samples.iter().zip(
            responses
                .iter()
                .flat_map(|r| r["choices"].as_array().unwrap().iter().map(move |c| (r, c))),
        ) {
            assert_eq!(sample["text"], choice["message"]["content"]);
            assert_eq!(sample["finish_reason"], choice["finish_reason"]);
            let generated = choice["logprobs"]["content"].as_array().unwrap().len();
            let confidence = sample["tokens"]["confidence"].as_array().unwrap();
            assert_eq!(confidence.len(), generated);
            assert_eq!(
                sample["tokens"]["prompt"],
                response["usage"]["prompt_tokens"]
            );
        }
    }

    /// `--online-confidence` against vLLM: the warm-up comes in batched requests, every later
    /// trace is streamed alone and cut at the token whose window falls below the threshold. The
    /// same seeds give the same tokens, so a finished trace is the sample drawn without the rule
    /// and a stopped one is a prefix of it.
    fn online_confidence_over_vllm_streams(
        server: &common::VllmServer,
        problems: &Path,
        samples: &BTreeMap<(String, u64), (String, u64)>,
        dir: &Path,
    ) {
        let online = dir.join("online.jsonl");
        vllm_generate(&server.base_url(), problems, 6, &online)
            .args([
                "--n-per-request",
                "3",
                "--token-stats",
                "--top-logprobs",
                "5",
            ])
            .args(["--online-confidence", "--warmup", "2", "--keep-top", "10"])
            .args(["--confidence-window", "4", "--adaptive-round", "2"])
            .assert()
            .success();
        let mut stopped = 0;
        for sample in common::read_jsonl(&online) {
            let key = (
                sample["problem_id"].as_str().unwrap().to_owned(),
                sample["sample_idx"].as_u64().unwrap(),
            );
            let text = sample["text"].as_str().unwrap();
            let (whole, seed) = &samples[&key];
            assert_eq!(sample["generator"]["seed"].as_u64(), Some(*seed));
            if sample.get("early_stop").is_none() {
                assert_eq!(
                    text, whole,
                    "{key:?}: a finished trace is the sample itself"
                );
                continue;
            }
            stopped += 1;
            assert!(key.1 >= 2, "{key:?}: the warm-up is never stopped");
            assert_eq!(sample["finish_reason"], "early_stop");
            assert!(
                whole.starts_with(text),
                "{key:?}: {text:?} is cut from {whole:?}"
            );
            // A chunk of several tokens is kept whole.
            let at = sample["early_stop"]["at_token"].as_u64().unwrap();
            assert!(sample["tokens"]["completion"].as_u64().unwrap() >= at);
        }
        assert!(stopped > 0, "η = 10 % stops traces after the warm-up");
    }

    /// `--token-stats` over chat and completions: the same samples, each with vLLM's
    /// log-probabilities, scored by confidence.
    fn token_statistics_from_vllm(
        server: &common::VllmServer,
        problems: &Path,
        samples: &BTreeMap<(String, u64), (String, u64)>,
        dir: &Path,
    ) {
        let with_stats = dir.join("token-stats.jsonl");
        vllm_generate(&server.base_url(), problems, 6, &with_stats)
            .args([
                "--n-per-request",
                "3",
                "--token-stats",
                "--top-logprobs",
                "5",
            ])
            .assert()
            .success();
        assert_eq!(&keyed(&with_stats), samples, "logprobs change no sample");
        let counting_dir = dir.join("counting");
        std::fs::create_dir(&counting_dir).unwrap();
        let counting = counting_problems(&counting_dir, &[3, 40]);
        let completions = dir.join("completions.jsonl");
        bestofn()
            .args([
                "generate",
                "--backend",
                "openai",
                "--model",
                "smollm2",
                "--base-url",
            ])
            .arg(server.base_url())
            .arg("--problems")
            .arg(&counting)
            .args(["--n", "2", "--max-tokens", "8", "--template"])
            .arg(counting_template(&counting_dir))
            .args([
                "--token-stats",
                "--top-logprobs",
                "5",
                "--keep-top-logprobs",
            ])
            .arg("--out")
            .arg(&completions)
            .env_remove("OPENAI_API_KEY")
            .assert()
            .success();
        for path in [&with_stats, &completions] {
            for sample in common::read_jsonl(path) {
                let tokens = &sample["tokens"];
                let count = tokens["completion"].as_u64().unwrap() as usize;
                assert!(
                    count >= 1 && tokens["prompt"].as_u64().unwrap() > 0,
                    "{tokens}"
                );
                assert_eq!(tokens["logprobs"].as_array().unwrap().len(), count);
                assert_eq!(tokens["confidence"].as_array().unwrap().len(), count);
                assert!(
                    tokens.get("self_certainty").is_none(),
                    "a server gives top-k only"
                );
                assert!(sample["wall_ms"].as_u64().is_some());
            }
        }
        for sample in common::read_jsonl(&completions) {
            let top = sample["tokens"]["top_logprobs"].as_array().unwrap();
            assert!(top.iter().all(|t| t.as_array().unwrap().len() == 5));
        }
        bestofn()
            .args([
                "score",
                "--backend",
                "confidence",
                "--method",
                "lowest-group",
            ])
            .args(["--window", "4", "--problems"])
            .arg(problems)
            .arg("--samples")
            .arg(&with_stats)
            .arg("--out")
            .arg(dir.join("confidence.jsonl"))
            .assert()
            .success();
    }
}
