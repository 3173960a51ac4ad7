//! `bestofn serve` on loopback: its routes and contracts, and what a hostile or careless client
//! meets (a missing token, a body past the limit, slow headers and bodies, a full server, a
//! SIGTERM with requests in flight).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A `bestofn serve` child on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    address: String,
    stderr: BufReader<std::process::ChildStderr>,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(common::bestofn_path());
        command
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        // Owned at once, so that a failure below still kills the child.
        let mut server = Server {
            child,
            address: String::new(),
            stderr,
        };
        let mut line = String::new();
        while server.address.is_empty() {
            line.clear();
            assert!(
                server.stderr.read_line(&mut line).unwrap() > 0,
                "serve exited before listening"
            );
            if let Some(address) = line.trim().strip_prefix("listening on http://") {
                server.address = address.to_owned();
            }
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut request = ureq::post(&self.url(path))
            .config()
            .http_status_as_error(false)
            .build();
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut answer = request.send_json(body).unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_json().unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut answer = ureq::get(&self.url(path))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        (
            answer.status().as_u16(),
            answer.body_mut().read_to_string().unwrap(),
        )
    }

    /// A raw connection that has sent `/grade`'s headers and the first half of its body.
    fn half_sent_grade(&self) -> (TcpStream, Vec<u8>) {
        let body = json!({"gold": "18", "responses": ["#### 18", "#### 17"]}).to_string();
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "POST /grade HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        stream.write_all(first).unwrap();
        stream.flush().unwrap();
        (stream, rest.to_vec())
    }

    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the exit: its status and the rest of stderr.
    fn exited(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP response a raw connection reads until the server closes it.
fn read_response(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

#[test]
fn grade_answers_as_the_grader_does_and_says_why() {
    let server = Server::start(&[], &[]);
    let (status, body) = server.post(
        "/grade",
        &json!({"gold": "18", "responses": ["#### 18", "The answer is 17.", "$\\boxed{18.0}$", "no idea"], "explain": true}),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["correct"], json!([true, false, true, false]));
    assert_eq!(body["answers"][0], "18");
    assert!(body["explanations"][0]["rule"].is_string(), "{body}");
    // A number as the gold, a reference solution as the gold, a style.
    let (_, body) = server.post(
        "/grade",
        &json!({"gold": 18, "responses": ["#### 18"]}),
        None,
    );
    assert_eq!(body["correct"], json!([true]));
    let (_, body) = server.post(
        "/grade",
        &json!({"gold": "16 - 3 - 4 = 9, 9 * 2 = 18\n#### 18", "responses": ["The answer is 18."], "style": "gsm8k"}),
        None,
    );
    assert_eq!(body["correct"], json!([true]));
    assert!(body.get("explanations").is_none());
    // Requests that cannot be read say why, in JSON, with the status that fits.
    for (request, status, needle) in [
        (json!({"gold": "", "responses": ["1"]}), 422, "non-empty"),
        (
            json!({"gold": "1", "response": ["1"]}),
            422,
            "unknown field",
        ),
        (
            json!({"gold": "1", "responses": ["1"], "style": "latin"}),
            422,
            "latin",
        ),
        (json!(["not", "an", "object"]), 422, "invalid type"),
    ] {
        let (got, body) = server.post("/grade", &request, None);
        assert_eq!(got, status, "{request}: {body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, _) = server.get("/health");
    assert_eq!(status, 200);
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("bestofn_requests_total{route=\"/grade\",status=\"200\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("bestofn_graded_total 6"), "{metrics}");
}

/// The verdicts of `/grade` are the grader's, on the conformance cases of other graders.
#[test]
fn grade_agrees_with_the_library_on_every_conformance_case() {
    if common::skip(
        "grade_agrees_with_the_library_on_every_conformance_case",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = common::shared_data("grading-conformance");
    let problems: std::collections::HashMap<String, bestofn::records::Problem> =
        bestofn::records::read_problems(&dir.join("problems.jsonl"), &Default::default())
            .unwrap()
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
    let samples = bestofn::records::read_samples(&dir.join("samples.jsonl")).unwrap();
    let server = Server::start(&[], &[]);
    let mut checked = 0;
    for sample in &samples {
        let problem = &problems[&sample.problem_id];
        let Some(gold) = &problem.answer else {
            continue;
        };
        let style = problem.style.name();
        let (status, body) = server.post(
            "/grade",
            &json!({"gold": gold, "responses": [sample.text], "style": style}),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let (pair_gold, pair_style) =
            bestofn::grade::pair_gold(gold, &sample.text, Some(problem.style));
        let expected = bestofn::grade::grade(&sample.text, pair_style, Some(&pair_gold)).correct;
        assert_eq!(body["correct"][0], json!(expected), "{}", sample.problem_id);
        checked += 1;
    }
    assert!(checked > 100, "{checked} cases");
}

#[test]
fn get_reward_speaks_openrlhfs_contract() {
    let server = Server::start(&[], &[]);
    let prompts = ["Q: 2+3?\nA:", "Q: 4*4?\nA:"];
    let query: Vec<String> = prompts
        .iter()
        .zip([" 2+3 = 5. #### 5", " #### 15"])
        .map(|(p, r)| format!("{p}{r}"))
        .collect();
    let (status, body) = server.post(
        "/get_reward",
        &json!({"query": query, "prompts": prompts, "labels": ["5", 16]}),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rewards"], json!([1.0, 0.0]));
    // Without labels the verifier answers: none is loaded here.
    let (status, body) = server.post("/get_reward", &json!({"query": query}), None);
    assert_eq!(status, 501, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--verifier"));
    let (status, _) = server.post(
        "/get_reward",
        &json!({"query": query, "labels": ["5"]}),
        None,
    );
    assert_eq!(status, 422);
}

/// `/score` is the in-process verifier: the scores `bestofn score` writes, however requests are
/// batched together.
#[test]
fn score_gives_the_verifiers_probabilities_however_requests_are_batched() {
    if common::skip(
        "score_gives_the_verifiers_probabilities_however_requests_are_batched",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scored = dir.path().join("scored.jsonl");
    let verifier = common::fixture("verifier-tiny");
    common::bestofn()
        .arg("score")
        .arg("--verifier")
        .arg(&verifier)
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .arg("--samples")
        .arg(common::fixture("samples.jsonl"))
        .arg("--out")
        .arg(&scored)
        .assert()
        .success();
    let problems: std::collections::HashMap<String, String> =
        common::read_jsonl(&common::fixture("problems.jsonl"))
            .into_iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["question"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let scored = common::read_jsonl(&scored);
    let server = Server::start(&["--verifier", verifier.to_str().unwrap()], &[]);
    let requests: Vec<(String, String, f64)> = scored
        .iter()
        .map(|s| {
            (
                problems[s["problem_id"].as_str().unwrap()].clone(),
                s["text"].as_str().unwrap().to_owned(),
                s["score"].as_f64().unwrap(),
            )
        })
        .collect();
    // Sixteen clients at once, one solution each: the queue scores them together.
    std::thread::scope(|scope| {
        for (question, solution, expected) in &requests {
            let server = &server;
            scope.spawn(move || {
                let (status, body) = server.post(
                    "/score",
                    &json!({"question": question, "solutions": [solution]}),
                    None,
                );
                assert_eq!(status, 200, "{body}");
                let got = body["scores"][0].as_f64().unwrap();
                assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
            });
        }
    });
    // Without a label, /get_reward is the verifier's probability of the prompt and response.
    let (question, solution, expected) = &requests[0];
    let (status, body) = server.post(
        "/get_reward",
        &json!({"query": [format!("{question}{solution}")], "prompts": [question]}),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!((body["rewards"][0].as_f64().unwrap() - expected).abs() < 1e-5);
}

#[test]
fn a_server_off_loopback_needs_a_token_and_every_request_must_carry_it() {
    let refused = Command::new(common::bestofn_path())
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("without a token"));
    let unset = Command::new(common::bestofn_path())
        .args([
            "serve",
            "--port",
            "0",
            "--token-env",
            "BESTOFN_TEST_NO_SUCH_VAR",
        ])
        .env_remove("BESTOFN_TEST_NO_SUCH_VAR")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(64));

    let server = Server::start(
        &["--host", "0.0.0.0", "--token-env", "BESTOFN_TEST_TOKEN"],
        &[("BESTOFN_TEST_TOKEN", "s3cret-token")],
    );
    let request = json!({"gold": "5", "responses": ["#### 5"]});
    let (status, body) = server.post("/grade", &request, None);
    assert_eq!(status, 401, "{body}");
    let (status, _) = server.post("/grade", &request, Some("s3cret-tokem"));
    assert_eq!(status, 401);
    let (status, body) = server.post("/grade", &request, Some("s3cret-token"));
    assert_eq!((status, &body["correct"]), (200, &json!([true])));
    let (status, _) = server.get("/metrics");
    assert_eq!(status, 401, "metrics need the token too");
    let (status, _) = server.get("/health");
    assert_eq!(status, 200, "a probe needs none");
}

#[test]
fn bodies_past_the_limit_and_slow_clients_are_cut_off() {
    let server = Server::start(
        &[
            "--body-limit",
            "1K",
            "--header-timeout-secs",
            "1",
            "--request-timeout-secs",
            "2",
        ],
        &[],
    );
    let big = json!({"gold": "5", "responses": ["x".repeat(2048)]});
    let (status, body) = server.post("/grade", &big, None);
    assert_eq!(status, 413, "{body}");
    // Headers that never end: the connection is closed.
    let started = Instant::now();
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .write_all(b"POST /grade HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let answer = read_response(stream);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A body that never arrives: 408 once the request timeout passes.
    let (stream, _rest) = server.half_sent_grade();
    let answer = read_response(stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The server still answers others.
    let (status, _) = server.post("/grade", &json!({"gold": "5", "responses": ["5"]}), None);
    assert_eq!(status, 200);
}

#[test]
fn a_full_server_says_retry_after_and_sigterm_drains_what_is_in_flight() {
    let server = Server::start(&["--max-concurrent", "1"], &[]);
    // One request holds the only slot while its body comes in.
    let (mut held, rest) = server.half_sent_grade();
    std::thread::sleep(Duration::from_millis(300));
    let mut answer = ureq::post(&server.url("/grade"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(json!({"gold": "5", "responses": ["5"]}))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    let _ = answer.body_mut().read_to_string();

    // SIGTERM while the held request is in flight: it is still answered, then the server exits.
    server.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    held.write_all(&rest).unwrap();
    let answer = read_response(held);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"correct\":[true,false]"), "{answer}");
    let (status, stderr) = server.exited();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("every request in flight was answered"),
        "{stderr}"
    );
}
