//! `report.html` (`eval --html`): the report as one self-contained page, no network: the plots
//! inlined, the accuracy and paired-difference tables, and a table of problems that opens into
//! each problem's candidates as `show` prints them, filterable by which strategies got it right.
//! The data is one JSON document in the page; a small script renders the problems from it.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::{json, Value};

use super::{Estimate, Metrics};
use crate::records::{Problem, Sample};
use crate::show::graded;

/// The page for `metrics`, with `problem_lines` (eval's `problems.jsonl`), every sample (for
/// the candidates), the problems when known (question and gold), and the report's SVG plots.
pub fn page(
    metrics: &Metrics,
    problem_lines: &[Value],
    samples: &[Sample],
    problems: Option<&[Problem]>,
    plots: &[(String, String)],
) -> String {
    let data = embedded_data(problem_lines, samples, problems);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>bestofn eval</h1>\n<p>{} problems, {} samples ({}–{} per problem).</p>\n",
        metrics.problems,
        metrics.samples,
        metrics.min_samples_per_problem,
        metrics.max_samples_per_problem
    );
    body.push_str("<section id=\"plots\">\n");
    for (name, svg) in plots {
        let _ = writeln!(
            body,
            "<figure data-plot=\"{}\">{svg}</figure>",
            escape(name)
        );
    }
    body.push_str("</section>\n");
    accuracy_table(&mut body, metrics);
    differences_table(&mut body, metrics);
    TEMPLATE
        .replace("{{BODY}}", &body)
        .replace("{{DATA}}", &data)
}

/// The page's data as JSON that cannot end the `<script>` holding it (JSON allows `<\/` for `</`).
fn embedded_data(
    problem_lines: &[Value],
    samples: &[Sample],
    problems: Option<&[Problem]>,
) -> String {
    json!({ "problems": problem_data(problem_lines, samples, problems) })
        .to_string()
        .replace("</", "<\\/")
}

/// Each problem's line with its question, gold and candidates added.
fn problem_data(
    problem_lines: &[Value],
    samples: &[Sample],
    problems: Option<&[Problem]>,
) -> Vec<Value> {
    let mut by_problem: HashMap<&str, Vec<Sample>> = HashMap::new();
    for sample in samples {
        by_problem
            .entry(sample.problem_id.as_str())
            .or_default()
            .push(sample.clone());
    }
    let known: HashMap<&str, &Problem> = problems
        .unwrap_or_default()
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    problem_lines
        .iter()
        .map(|line| {
            let id = line["problem_id"].as_str().unwrap_or_default();
            let problem = known.get(id).copied();
            let candidates = by_problem
                .get(id)
                .map(|samples| graded(problem, samples).candidates)
                .unwrap_or_default();
            let mut line = line.clone();
            line["question"] = problem.map_or(Value::Null, |p| p.question.clone().into());
            line["gold"] = problem.and_then(|p| p.answer.clone()).into();
            line["candidates"] = serde_json::to_value(candidates).unwrap_or_default();
            line
        })
        .collect()
}

fn percent(e: &Estimate) -> String {
    if e.has_interval() {
        format!(
            "{:.1}% <small>[{:.1}, {:.1}]</small>",
            100.0 * e.mean,
            100.0 * e.lower,
            100.0 * e.upper
        )
    } else {
        format!("{:.1}%", 100.0 * e.mean)
    }
}

fn k_header(body: &mut String, first: &str, ks: &[usize]) {
    let _ = write!(body, "<thead><tr><th>{first}</th>");
    for k in ks {
        let _ = write!(body, "<th>k = {k}</th>");
    }
    body.push_str("</tr></thead>\n");
}

fn accuracy_table(body: &mut String, metrics: &Metrics) {
    body.push_str("<h2>Accuracy</h2>\n<table id=\"accuracy\">");
    k_header(body, "method", &metrics.ks);
    for curve in &metrics.curves {
        let _ = write!(body, "<tr><td>{}</td>", escape(curve.method.name()));
        for point in &curve.points {
            let _ = write!(body, "<td>{}</td>", percent(&point.estimate));
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</table>\n");
}

fn differences_table(body: &mut String, metrics: &Metrics) {
    if metrics.differences.is_empty() {
        return;
    }
    body.push_str(
        "<h2>Paired differences</h2>\n<p>Accuracy of a minus b on the same problems, in points, \
         with a paired bootstrap interval.</p>\n<table id=\"differences\">",
    );
    k_header(body, "a − b", &metrics.ks);
    for difference in &metrics.differences {
        let _ = write!(
            body,
            "<tr><td>{} − {}</td>",
            escape(difference.a.name()),
            escape(difference.b.name())
        );
        for point in &difference.points {
            let shown = super::report::signed_points(&point.estimate);
            let (mean, interval) = shown.split_once(' ').unwrap_or((&shown, ""));
            let _ = write!(body, "<td>{mean} <small>{interval}</small></td>");
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</table>\n");
}

/// Text made safe for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TEMPLATE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_script_element() {
        let sample = Sample {
            problem_id: "p".into(),
            sample_idx: 0,
            text: "</script><script>alert(1)</script>".into(),
            extracted: None,
            correct: Some(false),
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra: Default::default(),
        };
        let lines = [json!({"problem_id": "p", "answers": {}, "votes": []})];
        let data = embedded_data(&lines, &[sample], None);
        assert!(!data.contains("</"), "{data}");
        let parsed: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(
            parsed["problems"][0]["candidates"][0]["text"],
            "</script><script>alert(1)</script>"
        );
    }
}
