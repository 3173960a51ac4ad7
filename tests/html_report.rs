//! `eval --html` opened in a real headless browser (chromium, driven over WebDriver by
//! chromedriver): the page renders its problems from the data it holds, a click opens a problem
//! into its candidates, and the filters keep the problems they say.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A chromedriver on loopback with one headless chromium session; both end when dropped.
struct Browser {
    driver: Child,
    session: String,
    base: String,
}

impl Browser {
    fn start() -> Self {
        let port = common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let chromium = common::on_path("chromium").unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        }}}});
        let mut browser = Browser {
            driver,
            session: String::new(),
            base,
        };
        let answer = browser.post("/session", &capabilities);
        browser.session = answer["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut answer = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(body)
            .unwrap();
        let value: Value = answer.body_mut().read_json().unwrap();
        assert!(
            value["value"].get("error").is_none(),
            "{path}: {}",
            value["value"]
        );
        value["value"].clone()
    }

    fn open(&self, file: &Path) {
        self.post(
            "/url",
            &json!({"url": format!("file://{}", file.display())}),
        );
    }

    /// The element `selector` finds (the first).
    fn find(&self, selector: &str) -> String {
        let found = self.post(
            "/element",
            &json!({"using": "css selector", "value": selector}),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.post(&format!("/element/{element}/click"), &json!({}));
    }

    fn text(&self, selector: &str) -> String {
        let element = self.find(selector);
        let url = format!(
            "{}/session/{}/element/{element}/text",
            self.base, self.session
        );
        let value: Value = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        value["value"].as_str().unwrap().to_owned()
    }

    fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", &json!({"script": script, "args": []}))
    }

    fn rows(&self) -> Vec<String> {
        let ids = self.script(
            "return [...document.querySelectorAll('tr.problem')].map(r => r.dataset.problem)",
        );
        serde_json::from_value(ids).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `bestofn label` of `samples` against `problems` into `out`.
fn label(problems: &Path, samples: &Path, out: &Path) {
    common::bestofn()
        .arg("label")
        .arg("--problems")
        .arg(problems)
        .arg("--samples")
        .arg(samples)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

#[test]
fn the_html_report_opens_into_a_problems_candidates_in_a_real_browser() {
    if common::skip(
        "the_html_report_opens_into_a_problems_candidates_in_a_real_browser",
        &[common::Need::Chromium],
    ) {
        return;
    }
    // Problems where the verifier and the majority part ways either way, and one no sample gets.
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.jsonl");
    std::fs::write(
        &problems,
        "{\"id\": \"a\", \"question\": \"Janet has 2 and finds 3. How many?\", \"answer\": \"5\"}\n\
         {\"id\": \"b\", \"question\": \"What is 1+1?\", \"answer\": \"2\"}\n\
         {\"id\": \"c\", \"question\": \"What is 3*3?\", \"answer\": \"9\"}\n",
    )
    .unwrap();
    let samples = dir.path().join("samples.jsonl");
    let mut text = String::new();
    for (problem, answers) in [
        ("a", [("5", 0.9), ("6", 0.1), ("6", 0.2)]),
        ("b", [("2", 0.1), ("2", 0.2), ("3", 0.9)]),
        ("c", [("1", 0.5), ("1", 0.4), ("4", 0.3)]),
    ] {
        for (idx, (answer, score)) in answers.iter().enumerate() {
            text.push_str(&format!(
                "{{\"problem_id\": \"{problem}\", \"sample_idx\": {idx}, \"text\": \"so\\n#### {answer}\", \"score\": {score}}}\n"
            ));
        }
    }
    std::fs::write(&samples, text).unwrap();
    let labeled = dir.path().join("labeled.jsonl");
    label(&problems, &samples, &labeled);
    let report = dir.path().join("report");
    common::bestofn()
        .args(["eval", "--html", "--samples"])
        .arg(&labeled)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&report)
        .assert()
        .success();
    let lines = common::read_jsonl(&report.join("problems.jsonl"));
    let labeled = common::read_jsonl(&labeled);

    let browser = Browser::start();
    browser.open(&report.join("report.html"));
    let all: Vec<String> = lines
        .iter()
        .map(|l| l["problem_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(browser.rows(), all);
    assert!(browser
        .text("#count")
        .starts_with(&format!("{} of {}", all.len(), all.len())));
    // The plots are in the page, drawn.
    assert_eq!(
        browser.script("return document.querySelectorAll('figure svg').length"),
        2
    );

    // A click opens the problem: its question, gold, and each candidate's verdict as labeled.
    browser.click("tr.problem[data-problem='a']");
    assert!(browser
        .text("tr.detail[data-detail='a'] .question")
        .contains("Janet"));
    for sample in labeled.iter().filter(|s| s["problem_id"] == "a") {
        let idx = sample["sample_idx"].as_u64().unwrap();
        let shown = browser.text(&format!("[data-candidate='a/{idx}'] .verdict"));
        let expected = if sample["correct"] == true {
            "correct"
        } else {
            "wrong"
        };
        assert_eq!(shown, expected, "a/{idx}");
    }
    assert_eq!(browser.text("[data-candidate='a/0'] .verdict"), "correct");
    assert!(browser
        .text("[data-candidate='a/0'] .rule")
        .starts_with("rule: "));
    // A second click folds it away.
    browser.click("tr.problem[data-problem='a']");
    assert_eq!(
        browser.script("return document.querySelectorAll('tr.detail').length"),
        0
    );

    // Each filter keeps exactly the problems it names, as problems.jsonl has them.
    fn right(line: &Value, strategy: &str) -> bool {
        line["answers"][strategy]["correct"] == true
    }
    type Keeps = fn(&Value) -> bool;
    let filters: [(&str, Keeps); 4] = [
        ("majority-right-verifier-wrong", |l| {
            right(l, "majority") && !right(l, "verifier")
        }),
        ("verifier-right-majority-wrong", |l| {
            right(l, "verifier") && !right(l, "majority")
        }),
        ("not-covered", |l| l["covered"] == false),
        ("all", |_| true),
    ];
    for (filter, keep) in filters {
        browser.click(&format!("#filter option[value='{filter}']"));
        let expected: Vec<String> = lines
            .iter()
            .filter(|l| keep(l))
            .map(|l| l["problem_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(browser.rows(), expected, "filter {filter}");
    }
    // The data has one problem of each kind: no filter above was trivially empty.
    for (filter, kept) in [
        ("verifier-right-majority-wrong", "a"),
        ("majority-right-verifier-wrong", "b"),
        ("not-covered", "c"),
    ] {
        browser.click(&format!("#filter option[value='{filter}']"));
        assert_eq!(browser.rows(), [kept], "filter {filter}");
    }
}

/// The same on real data: Qwen2.5-Math's 100 MATH problems × 8 samples with its reward model's
/// scores, imported, labeled and evaluated; the page's filter finds the problems where the reward
/// model is right and the majority wrong, and a click shows a candidate's verdict as labeled.
#[test]
fn the_html_report_of_a_real_pool_in_a_real_browser() {
    if common::skip(
        "the_html_report_of_a_real_pool_in_a_real_browser",
        &[common::Need::Chromium, common::Need::SharedData],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (samples, problems) = (
        dir.path().join("samples.jsonl"),
        dir.path().join("problems.jsonl"),
    );
    let pool = common::shared_data("samples/qwen25math_rm_maj/math_cot_100.jsonl");
    common::import(&["qwen-math-rm"], &pool, &samples, &problems);
    let labeled = dir.path().join("labeled.jsonl");
    label(&problems, &samples, &labeled);
    open_where_the_verifier_beats_the_majority(&labeled, &problems, dir.path());
}

/// The held-out verifier experiment (`scripts/demo.sh` writes it into out/experiment): its page,
/// filtered to the problems the trained verifier gets and the majority misses, opened into one.
#[test]
fn the_html_report_of_the_held_out_experiment_in_a_real_browser() {
    let experiment = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/experiment");
    let scored = experiment.join("heldout-scored.jsonl");
    if common::skip(
        "the_html_report_of_the_held_out_experiment_in_a_real_browser",
        &[common::Need::Chromium],
    ) {
        return;
    }
    if !scored.is_file() {
        eprintln!(
            "SKIPPED the_html_report_of_the_held_out_experiment_in_a_real_browser: {} is missing \
             (scripts/demo.sh makes it)",
            scored.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    open_where_the_verifier_beats_the_majority(
        &scored,
        &experiment.join("problems.jsonl"),
        dir.path(),
    );
}

/// `eval --html` of `labeled` into `dir`; the page's filter keeps exactly the problems where the
/// verifier is right and the majority is not, and a click shows a candidate's verdict as labeled.
fn open_where_the_verifier_beats_the_majority(labeled: &Path, problems: &Path, dir: &Path) {
    let report = dir.join("report");
    common::bestofn()
        .args(["eval", "--html", "--samples"])
        .arg(labeled)
        .arg("--problems")
        .arg(problems)
        .arg("--out")
        .arg(&report)
        .assert()
        .success();
    let lines = common::read_jsonl(&report.join("problems.jsonl"));
    let wanted: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["answers"]["verifier"]["correct"] == true
                && l["answers"]["majority"]["correct"] != true
        })
        .map(|l| l["problem_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !wanted.is_empty(),
        "the reward model beats the majority somewhere"
    );

    let browser = Browser::start();
    browser.open(&report.join("report.html"));
    assert_eq!(browser.rows().len(), lines.len());
    browser.click("#filter option[value='verifier-right-majority-wrong']");
    assert_eq!(browser.rows(), wanted);
    let id = &wanted[0];
    browser.click(&format!("tr.problem[data-problem='{id}']"));
    let labeled = common::read_jsonl(labeled);
    let sample = labeled
        .iter()
        .find(|s| s["problem_id"] == id.as_str())
        .unwrap();
    let idx = sample["sample_idx"].as_u64().unwrap();
    let expected = if sample["correct"] == true {
        "correct"
    } else {
        "wrong"
    };
    assert_eq!(
        browser.text(&format!("[data-candidate='{id}/{idx}'] .verdict")),
        expected
    );
    // The verifier's pick is marked right in the problem's row.
    assert!(browser
        .text(&format!(
            "tr.problem[data-problem='{id}'] td[data-strategy='verifier']"
        ))
        .starts_with("correct"));
}
