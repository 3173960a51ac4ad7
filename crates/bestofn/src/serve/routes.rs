//! The routes: `/grade` (the grader, the rule `grade` and the Python module use), `/score` (the
//! in-process verifier), OpenRLHF's `/get_reward`, `/health` and `/metrics`. Bad requests get a
//! JSON `{"error"}` with the status that says why (400, 413, 415, 422).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;
use crate::grade::{explain, gold_answer, grade as grade_response, AnswerStyle, Explanation, Gold};

pub fn router(state: Arc<AppState>, body_limit: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/grade", post(grade))
        .route("/score", post(score))
        .route("/get_reward", post(get_reward))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            super::guard::guard,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A body that is not the JSON the route reads, with the status the rejection carries (413 for
/// a body past the limit).
fn rejected(rejection: JsonRejection) -> Response {
    error_response(rejection.status(), &rejection.body_text())
}

fn unprocessable(message: &str) -> Response {
    error_response(StatusCode::UNPROCESSABLE_ENTITY, message)
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "verifier": state.verifier.as_ref().map(|v| v.id()),
    }))
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GradeRequest {
    gold: Value,
    responses: Vec<String>,
    #[serde(default)]
    style: Option<String>,
    #[serde(default)]
    explain: bool,
}

/// A gold answer as text: a string, or a number as written; blank or anything else is none.
fn gold_text(gold: &Value) -> Option<String> {
    crate::records::scalar_text(gold).filter(|text| !text.trim().is_empty())
}

fn parse_style(style: Option<&str>) -> Result<Option<AnswerStyle>, String> {
    style.map(str::parse::<AnswerStyle>).transpose()
}

/// Bytes of responses graded on the request's own thread: below it, handing the work to other
/// threads costs more than it saves (concurrent requests already use every core); above it, a
/// large request is graded in parallel off the async threads.
const INLINE_BYTES: usize = 256 << 10;

/// A response's verdict, with its explanation when one was asked for.
struct Graded {
    correct: Option<bool>,
    extracted: Option<String>,
    explanation: Option<Explanation>,
}

/// Grades responses against golds, preparing each run of one gold once (a /grade request's
/// responses share theirs); the verdicts are `pair_gold`'s, the rule every entry point uses.
fn grade_run(
    pairs: &[(String, String)],
    style: Option<AnswerStyle>,
    explained: bool,
) -> Vec<Graded> {
    let mut prepared: Option<(&str, String, Gold)> = None;
    pairs
        .iter()
        .map(|(gold_text, response)| {
            if prepared
                .as_ref()
                .is_none_or(|(text, ..)| *text != gold_text.as_str())
            {
                let answer = gold_answer(gold_text).into_owned();
                let gold = Gold::new(&answer);
                prepared = Some((gold_text, answer, gold));
            }
            let (_, answer, gold) = prepared.as_ref().expect("prepared above");
            let style = style.unwrap_or_else(|| AnswerStyle::infer(Some(answer), Some(response)));
            if explained {
                let explanation = explain(response, style, Some(gold));
                Graded {
                    correct: explanation.correct,
                    extracted: explanation.extracted.clone(),
                    explanation: Some(explanation),
                }
            } else {
                let verdict = grade_response(response, style, Some(gold));
                Graded {
                    correct: verdict.correct,
                    extracted: verdict.extracted,
                    explanation: None,
                }
            }
        })
        .collect()
}

/// Each (gold, response) pair graded (against the gold's final answer when it is a reference
/// solution): small requests on the request's own thread, large ones in parallel off it.
async fn grade_pairs(
    pairs: Vec<(String, String)>,
    style: Option<AnswerStyle>,
    explained: bool,
) -> Vec<Graded> {
    let bytes: usize = pairs.iter().map(|(g, r)| g.len() + r.len()).sum();
    if bytes <= INLINE_BYTES {
        return grade_run(&pairs, style, explained);
    }
    tokio::task::spawn_blocking(move || {
        let chunk = pairs.len().div_ceil(rayon::current_num_threads()).max(1);
        pairs
            .par_chunks(chunk)
            .flat_map_iter(|run| grade_run(run, style, explained))
            .collect()
    })
    .await
    .unwrap_or_default()
}

async fn grade(
    State(state): State<Arc<AppState>>,
    request: Result<Json<GradeRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return rejected(rejection),
    };
    let Some(gold) = gold_text(&request.gold) else {
        return unprocessable("`gold` must be a non-empty string or a number");
    };
    let style = match parse_style(request.style.as_deref()) {
        Ok(style) => style,
        Err(why) => return unprocessable(&why),
    };
    let pairs = request
        .responses
        .into_iter()
        .map(|response| (gold.clone(), response))
        .collect();
    let graded = grade_pairs(pairs, style, request.explain).await;
    state
        .metrics
        .graded
        .fetch_add(graded.len() as u64, Ordering::Relaxed);
    let correct: Vec<Option<bool>> = graded.iter().map(|g| g.correct).collect();
    let answers: Vec<Option<&str>> = graded.iter().map(|g| g.extracted.as_deref()).collect();
    let mut body = json!({ "correct": correct, "answers": answers });
    if request.explain {
        let explanations: Vec<&Explanation> = graded
            .iter()
            .filter_map(|g| g.explanation.as_ref())
            .collect();
        body["explanations"] = json!(explanations);
    }
    Json(body).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    question: String,
    solutions: Vec<String>,
}

async fn score(
    State(state): State<Arc<AppState>>,
    request: Result<Json<ScoreRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return rejected(rejection),
    };
    let pairs = request
        .solutions
        .into_iter()
        .map(|solution| (request.question.clone(), solution))
        .collect();
    match verifier_scores(&state, pairs).await {
        Ok(scores) => {
            let (scores, errors): (Vec<Option<f32>>, Vec<Option<String>>) = scores
                .into_iter()
                .map(|s| match s {
                    Ok(scored) => (Some(scored.score), None),
                    Err(why) => (None, Some(why)),
                })
                .unzip();
            Json(json!({ "scores": scores, "errors": errors })).into_response()
        }
        Err(response) => response,
    }
}

/// The verifier's scores of `pairs`, or the response that says why there are none.
async fn verifier_scores(
    state: &AppState,
    pairs: Vec<(String, String)>,
) -> Result<Vec<crate::score::PairScore>, Response> {
    let Some(verifier) = &state.verifier else {
        return Err(error_response(
            StatusCode::NOT_IMPLEMENTED,
            "no verifier is loaded: start the server with --verifier DIR",
        ));
    };
    let count = pairs.len() as u64;
    let scores = verifier
        .score(pairs)
        .await
        .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    state.metrics.scored.fetch_add(count, Ordering::Relaxed);
    Ok(scores)
}

/// OpenRLHF's remote reward request. `query` is each prompt followed by its response (older
/// clients send only it); `labels` are the gold answers.
#[derive(Deserialize)]
struct RewardRequest {
    query: Vec<String>,
    #[serde(default)]
    prompts: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<Vec<Value>>,
}

/// Rewards: 1.0 or 0.0 from the grader for a row with a label; the verifier's probability for a
/// row without one (the prompt as the question, the query's rest as the solution).
async fn get_reward(
    State(state): State<Arc<AppState>>,
    request: Result<Json<RewardRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return rejected(rejection),
    };
    let rows = request.query.len();
    for (name, len) in [
        ("prompts", request.prompts.as_ref().map(Vec::len)),
        ("labels", request.labels.as_ref().map(Vec::len)),
    ] {
        if let Some(len) = len.filter(|&len| len != rows) {
            return unprocessable(&format!("`{name}` has {len} values for {rows} queries"));
        }
    }
    let prompts = request.prompts.unwrap_or_else(|| vec![String::new(); rows]);
    let responses: Vec<String> = request
        .query
        .iter()
        .zip(&prompts)
        .map(|(query, prompt)| {
            query
                .strip_prefix(prompt.as_str())
                .unwrap_or(query)
                .to_owned()
        })
        .collect();
    let labels: Vec<Option<String>> = match request.labels {
        Some(labels) => labels.iter().map(gold_text).collect(),
        None => vec![None; rows],
    };
    let mut rewards = vec![0f32; rows];
    let labeled: Vec<usize> = (0..rows).filter(|&i| labels[i].is_some()).collect();
    let pairs = labeled
        .iter()
        .map(|&i| (labels[i].clone().unwrap_or_default(), responses[i].clone()))
        .collect();
    for (&i, verdict) in labeled.iter().zip(grade_pairs(pairs, None, false).await) {
        rewards[i] = if verdict.correct == Some(true) {
            1.0
        } else {
            0.0
        };
    }
    state
        .metrics
        .graded
        .fetch_add(labeled.len() as u64, Ordering::Relaxed);
    let unlabeled: Vec<usize> = (0..rows).filter(|&i| labels[i].is_none()).collect();
    if !unlabeled.is_empty() {
        let pairs = unlabeled
            .iter()
            .map(|&i| (prompts[i].clone(), responses[i].clone()))
            .collect();
        let scores = match verifier_scores(&state, pairs).await {
            Ok(scores) => scores,
            Err(response) => return response,
        };
        for (&i, score) in unlabeled.iter().zip(scores) {
            match score {
                Ok(scored) => rewards[i] = scored.score,
                Err(why) => return unprocessable(&format!("query {i}: {why}")),
            }
        }
    }
    Json(json!({ "rewards": rewards })).into_response()
}
