//! Python bindings of bestofn's grader (`bestofn_grade._native`; the Python package wraps it).
//!
//! Every function releases the GIL while grading: the grader is pure and bounded, so there are no
//! timeouts and no signals, and threads may call it at once.

use bestofn_grade::{self as grader, pair_gold, AnswerStyle};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

/// An empty gold answer is no gold answer: grading against it would mark everything wrong.
fn check_gold(gold: &str, index: Option<usize>) -> PyResult<()> {
    if !gold.trim().is_empty() {
        return Ok(());
    }
    let which = index.map_or(String::new(), |i| format!(" at index {i}"));
    Err(PyValueError::new_err(format!(
        "the gold answer{which} is empty: give the answer to grade against"
    )))
}

/// The style a caller named, if any.
fn style(name: Option<&str>) -> PyResult<Option<AnswerStyle>> {
    name.map(|name| name.parse().map_err(PyValueError::new_err))
        .transpose()
}

fn grade_one(gold: &str, response: &str, style: Option<AnswerStyle>) -> bool {
    let (gold, style) = pair_gold(gold, response, style);
    grader::grade(response, style, Some(&gold)).correct == Some(true)
}

/// Whether `response` states the answer `gold`.
#[pyfunction]
#[pyo3(signature = (gold, response, style=None))]
fn grade(py: Python<'_>, gold: &str, response: &str, style: Option<&str>) -> PyResult<bool> {
    check_gold(gold, None)?;
    let style = self::style(style)?;
    Ok(py.allow_threads(|| grade_one(gold, response, style)))
}

/// The explanation of a verdict, as JSON (the package's `explain` returns it as a dict).
#[pyfunction]
#[pyo3(signature = (gold, response, style=None))]
fn explain_json(
    py: Python<'_>,
    gold: &str,
    response: &str,
    style: Option<&str>,
) -> PyResult<String> {
    check_gold(gold, None)?;
    let style = self::style(style)?;
    py.allow_threads(|| {
        let (gold, style) = pair_gold(gold, response, style);
        serde_json::to_string(&grader::explain(response, style, Some(&gold)))
    })
    .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Grades `responses[i]` against `golds[i]` for every `i`, in parallel on every core.
#[pyfunction]
#[pyo3(signature = (golds, responses, style=None))]
fn grade_many(
    py: Python<'_>,
    golds: Vec<String>,
    responses: Vec<String>,
    style: Option<&str>,
) -> PyResult<Vec<bool>> {
    if golds.len() != responses.len() {
        return Err(PyValueError::new_err(format!(
            "{} gold answers for {} responses: give one gold answer per response",
            golds.len(),
            responses.len()
        )));
    }
    for (index, gold) in golds.iter().enumerate() {
        check_gold(gold, Some(index))?;
    }
    let style = self::style(style)?;
    Ok(py.allow_threads(|| {
        golds
            .par_iter()
            .zip(responses.par_iter())
            .map(|(gold, response)| grade_one(gold, response, style))
            .collect()
    }))
}

/// The normalized final answer of `response`, or None.
#[pyfunction]
#[pyo3(signature = (response, style="math"))]
fn extract(py: Python<'_>, response: &str, style: &str) -> PyResult<Option<String>> {
    let style: AnswerStyle = style.parse().map_err(PyValueError::new_err)?;
    Ok(py.allow_threads(|| grader::extract_answer(response, style)))
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(grade, module)?)?;
    module.add_function(wrap_pyfunction!(explain_json, module)?)?;
    module.add_function(wrap_pyfunction!(grade_many, module)?)?;
    module.add_function(wrap_pyfunction!(extract, module)?)?;
    Ok(())
}
