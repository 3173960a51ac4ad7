//! Self-improvement and model-collapse diagnostics over runs treated as iterations of one model:
//! diversity of the samples per problem, the "improvement illusion", and tail retention.
//!
//! Definitions (per problem, then averaged over problems):
//! - distinct-n: distinct n-grams / all n-grams over the problem's samples (tokens: lowercased runs
//!   of letters or digits, and every other non-space character alone);
//! - equation sets: the number of distinct sets of equations among the samples; a sample's
//!   equations are its `<<expr=result>>` calculator annotations, else every `expr = number` with an
//!   operator in `expr`, spaces, `$` and thousands separators removed;
//! - embedding similarity: mean cosine similarity of the sample embeddings over all pairs.
//!
//! Improvement illusion, for an iteration against the base (the first run): a problem is *solved*
//! at pass@1 when its per-problem pass@1 (c/n) is at least 1/2, and *covered* by the base within k
//! samples when the base's unbiased pass@k is at least 1/2. The illusion share is the share of
//! problems newly solved (solved now, not by the base) that the base already covered.
//!
//! Tail retention, against the base: rare answers are a problem's extracted answers given by at
//! most `RARE_ANSWER_SHARE` of the base's samples (and by at least one); rare n-grams are the
//! 2-grams that occur exactly once in all of the base's samples. Retention is the share of them
//! that still occur in the iteration (rare answers: for the same problem).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::eval::estimators::pass_at_k;
use crate::records::Sample;

/// A base answer is rare when at most this share of the base's samples give it.
pub const RARE_ANSWER_SHARE: f64 = 0.1;

/// The samples of one problem in one run, with their texts.
#[derive(Debug, Clone)]
pub struct TextPool<'a> {
    pub problem_id: &'a str,
    pub samples: Vec<&'a Sample>,
}

/// Groups samples by problem, in order of first appearance.
pub fn text_pools(samples: &[Sample]) -> Vec<TextPool<'_>> {
    crate::records::group_by_problem(samples)
        .into_iter()
        .map(|(problem_id, samples)| TextPool {
            problem_id,
            samples,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diversity {
    /// Mean distinct-1 .. distinct-4.
    pub distinct_n: [f64; 4],
    /// Mean number of distinct equation sets per problem.
    pub equation_sets: f64,
    /// Mean samples per problem, to read `equation_sets` against.
    pub samples_per_problem: f64,
    /// Mean pairwise cosine similarity of sample embeddings, when an embedder was given.
    pub embedding_similarity: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Illusion {
    pub k: usize,
    /// Problems solved at pass@1 now but not by the base.
    pub newly_solved: usize,
    /// Of those, problems the base already covered within k samples.
    pub already_covered: usize,
    /// already_covered / newly_solved (None when nothing was newly solved).
    pub share: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TailRetention {
    pub rare_answers: usize,
    pub rare_answers_retained: f64,
    pub rare_bigrams: usize,
    pub rare_bigrams_retained: f64,
}

/// Word tokens: lowercased runs of alphanumerics; any other non-space character on its own.
pub fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// distinct n-grams / all n-grams over several token lists (0 when there is no n-gram).
pub fn distinct_n(token_lists: &[Vec<String>], n: usize) -> f64 {
    let mut all = 0usize;
    let mut distinct: HashSet<&[String]> = HashSet::new();
    for tokens in token_lists {
        for gram in tokens.windows(n) {
            all += 1;
            distinct.insert(gram);
        }
    }
    if all == 0 {
        0.0
    } else {
        distinct.len() as f64 / all as f64
    }
}

fn normalize_equation(expression: &str, result: &str) -> Option<String> {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '$' && *c != ',')
            .map(|c| match c {
                '×' | 'x' | 'X' => '*',
                '÷' => '/',
                other => other,
            })
            .collect()
    };
    let (left, right) = (clean(expression), clean(result));
    let has_operator = left.chars().skip(1).any(|c| "+-*/".contains(c));
    let has_digit = left.chars().any(|c| c.is_ascii_digit());
    let right = right.trim_end_matches('.');
    (has_operator && has_digit && !right.is_empty()).then(|| format!("{left}={right}"))
}

/// The equations of a solution: its calculator annotations, else its `expr = number` spans.
pub fn equations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<<") {
        let Some(end) = rest[start..].find(">>") else {
            break;
        };
        let inner = &rest[start + 2..start + end];
        if let Some((expression, result)) = inner.rsplit_once('=') {
            found.extend(normalize_equation(expression, result));
        }
        rest = &rest[start + end + 2..];
    }
    if !found.is_empty() {
        return found;
    }
    let expression_char = |c: char| c.is_ascii_digit() || " .+-*/x×÷()$,".contains(c);
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (index, &(offset, c)) in bytes.iter().enumerate() {
        if c != '=' {
            continue;
        }
        let mut begin = index;
        while begin > 0 && expression_char(bytes[begin - 1].1) {
            begin -= 1;
        }
        let mut end = index + 1;
        while end < bytes.len() && bytes[end].1 == ' ' {
            end += 1;
        }
        while end < bytes.len() && (bytes[end].1.is_ascii_digit() || ".,$".contains(bytes[end].1)) {
            end += 1;
        }
        let left = &text[bytes.get(begin).map_or(offset, |b| b.0)..offset];
        let right_start = bytes.get(index + 1).map_or(text.len(), |b| b.0);
        let right_end = bytes.get(end).map_or(text.len(), |b| b.0);
        found.extend(normalize_equation(left, &text[right_start..right_end]));
    }
    found
}

/// A problem's mean pairwise similarity, when it has one.
pub type Similarity<'s> = dyn FnMut(&TextPool<'_>) -> crate::Result<Option<f64>> + 's;

/// Mean diversity over problems; `similarity` gives a problem's mean pairwise similarity.
pub fn diversity(
    pools: &[TextPool<'_>],
    mut similarity: Option<&mut Similarity<'_>>,
) -> crate::Result<Diversity> {
    let mut distinct = [0.0; 4];
    let mut equation_sets = 0.0;
    let mut samples = 0.0;
    let mut similarity_sum = 0.0;
    let mut similarity_count = 0usize;
    for pool in pools {
        let token_lists: Vec<Vec<String>> = pool.samples.iter().map(|s| tokens(&s.text)).collect();
        for (n, slot) in distinct.iter_mut().enumerate() {
            *slot += distinct_n(&token_lists, n + 1);
        }
        let sets: HashSet<Vec<String>> = pool
            .samples
            .iter()
            .map(|s| {
                let mut set = equations(&s.text);
                set.sort();
                set.dedup();
                set
            })
            .collect();
        equation_sets += sets.len() as f64;
        samples += pool.samples.len() as f64;
        if let Some(similarity) = similarity.as_mut() {
            if let Some(value) = similarity(pool)? {
                similarity_sum += value;
                similarity_count += 1;
            }
        }
    }
    let problems = pools.len().max(1) as f64;
    Ok(Diversity {
        distinct_n: distinct.map(|d| d / problems),
        equation_sets: equation_sets / problems,
        samples_per_problem: samples / problems,
        embedding_similarity: (similarity_count > 0)
            .then(|| similarity_sum / similarity_count as f64),
    })
}

/// (correct, total) graded samples of a pool.
fn counts(pool: &TextPool<'_>) -> (usize, usize) {
    let graded: Vec<bool> = pool.samples.iter().filter_map(|s| s.correct).collect();
    (graded.iter().filter(|&&c| c).count(), graded.len())
}

/// The illusion share of `iteration` against `base` at `k` (shared problems only).
pub fn illusion(base: &[TextPool<'_>], iteration: &[TextPool<'_>], k: usize) -> Illusion {
    let base_by_id: HashMap<&str, &TextPool<'_>> = base.iter().map(|p| (p.problem_id, p)).collect();
    let solved = |(correct, total): (usize, usize)| total > 0 && 2 * correct >= total;
    let mut newly_solved = 0;
    let mut already_covered = 0;
    for pool in iteration {
        let Some(base_pool) = base_by_id.get(pool.problem_id) else {
            continue;
        };
        let base_counts = counts(base_pool);
        if !solved(counts(pool)) || solved(base_counts) {
            continue;
        }
        newly_solved += 1;
        let (c, n) = base_counts;
        if n > 0 && pass_at_k(n, c, k.min(n)) >= 0.5 {
            already_covered += 1;
        }
    }
    Illusion {
        k,
        newly_solved,
        already_covered,
        share: (newly_solved > 0).then(|| already_covered as f64 / newly_solved as f64),
    }
}

fn answer_key(sample: &Sample) -> Option<&str> {
    sample.extracted.as_deref()
}

/// How much of the base's tail (rare answers, rare 2-grams) `iteration` still produces.
pub fn tail_retention(base: &[TextPool<'_>], iteration: &[TextPool<'_>]) -> TailRetention {
    // Rare answers per problem in the base.
    let mut rare_answers: HashSet<(&str, &str)> = HashSet::new();
    for pool in base {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for sample in &pool.samples {
            if let Some(answer) = answer_key(sample) {
                *counts.entry(answer).or_default() += 1;
            }
        }
        let limit = (RARE_ANSWER_SHARE * pool.samples.len() as f64).max(1.0);
        rare_answers.extend(
            counts
                .into_iter()
                .filter(|&(_, count)| count as f64 <= limit)
                .map(|(answer, _)| (pool.problem_id, answer)),
        );
    }
    let iteration_answers: HashSet<(&str, &str)> = iteration
        .iter()
        .flat_map(|pool| {
            pool.samples
                .iter()
                .filter_map(move |s| Some((pool.problem_id, answer_key(s)?)))
        })
        .collect();
    let retained_answers = rare_answers
        .iter()
        .filter(|key| iteration_answers.contains(*key))
        .count();

    let bigrams = |pools: &[TextPool<'_>]| -> HashMap<(String, String), usize> {
        let mut counts = HashMap::new();
        for sample in pools.iter().flat_map(|p| &p.samples) {
            for pair in tokens(&sample.text).windows(2) {
                *counts
                    .entry((pair[0].clone(), pair[1].clone()))
                    .or_insert(0) += 1;
            }
        }
        counts
    };
    let base_bigrams = bigrams(base);
    let rare_bigrams: Vec<&(String, String)> = base_bigrams
        .iter()
        .filter(|(_, &c)| c == 1)
        .map(|(g, _)| g)
        .collect();
    let iteration_bigrams = bigrams(iteration);
    let retained_bigrams = rare_bigrams
        .iter()
        .filter(|g| iteration_bigrams.contains_key(**g))
        .count();
    let share = |part: usize, whole: usize| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    TailRetention {
        rare_answers: rare_answers.len(),
        rare_answers_retained: share(retained_answers, rare_answers.len()),
        rare_bigrams: rare_bigrams.len(),
        rare_bigrams_retained: share(retained_bigrams, rare_bigrams.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn sample(problem: &str, idx: u32, text: &str, answer: Option<&str>, correct: bool) -> Sample {
        Sample {
            problem_id: problem.into(),
            sample_idx: idx,
            text: text.into(),
            extracted: answer.map(str::to_owned),
            correct: Some(correct),
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn distinct_n_by_hand() {
        let lists = vec![tokens("a b a"), tokens("A b")];
        // 1-grams: a b a a b → 2 distinct of 5; 2-grams: ab ba ab → 2 of 3.
        assert_eq!(distinct_n(&lists, 1), 2.0 / 5.0);
        assert_eq!(distinct_n(&lists, 2), 2.0 / 3.0);
        assert_eq!(distinct_n(&lists, 4), 0.0);
        assert_eq!(
            tokens("He paid $12.50!"),
            ["he", "paid", "$", "12", ".", "50", "!"]
        );
    }

    #[test]
    fn equations_from_annotations_or_text() {
        assert_eq!(
            equations("She has 16-3-4=<<16-3-4=9>>9 eggs and 9*2=<<9*2=18>>18 dollars."),
            ["16-3-4=9", "9*2=18"]
        );
        assert_eq!(
            equations("So 3 x 4 = 12, and $12 + $3 = $15."),
            ["3*4=12", "12+3=15"]
        );
        assert!(
            equations("x = 5 and the answer = 7").is_empty(),
            "no operator, no equation"
        );
    }

    #[test]
    fn diversity_counts_equation_sets() {
        let samples = vec![
            sample("p", 0, "2+2=4 so 4", Some("4"), true),
            sample("p", 1, "2 + 2 = 4 hence 4", Some("4"), true),
            sample("p", 2, "2*2=4", Some("4"), true),
        ];
        let pools = text_pools(&samples);
        let d = diversity(&pools, None).unwrap();
        assert_eq!(d.equation_sets, 2.0);
        assert_eq!(d.samples_per_problem, 3.0);
        assert!(d.embedding_similarity.is_none());
    }

    #[test]
    fn illusion_by_hand() {
        // Base: p1 0/4 correct, p2 1/4, p3 3/4. Iteration: p1 2/4, p2 3/4, p3 4/4.
        let pool = |problem: &str, correct: usize| -> Vec<Sample> {
            (0..4)
                .map(|i| sample(problem, i, "t", None, (i as usize) < correct))
                .collect()
        };
        let base: Vec<Sample> = [pool("p1", 0), pool("p2", 1), pool("p3", 3)].concat();
        let next: Vec<Sample> = [pool("p1", 2), pool("p2", 3), pool("p3", 4)].concat();
        let (base, next) = (text_pools(&base), text_pools(&next));
        // Newly solved: p1 and p2 (p3 was solved already). Covered at k = 4: p2 only (pass@4 = 1).
        let result = illusion(&base, &next, 4);
        assert_eq!((result.newly_solved, result.already_covered), (2, 1));
        assert_eq!(result.share, Some(0.5));
        // At k = 1 the base's pass@1 of p2 is 1/4 < 1/2: not covered.
        assert_eq!(illusion(&base, &next, 1).already_covered, 0);
    }

    #[test]
    fn tail_retention_by_hand() {
        let mut base: Vec<Sample> = (0..10)
            .map(|i| sample("p", i, "x y", Some("5"), true))
            .collect();
        base[9] = sample("p", 9, "rare words", Some("7"), false);
        let next: Vec<Sample> = (0..10)
            .map(|i| sample("p", i, "x y", Some("5"), true))
            .collect();
        let retention = tail_retention(&text_pools(&base), &text_pools(&next));
        assert_eq!(retention.rare_answers, 1, "7 is given by 1 of 10 samples");
        assert_eq!(retention.rare_answers_retained, 0.0);
        assert_eq!(retention.rare_bigrams, 1, "(rare, words)");
        assert_eq!(retention.rare_bigrams_retained, 0.0);
        let same = tail_retention(&text_pools(&base), &text_pools(&base));
        assert_eq!(
            (same.rare_answers_retained, same.rare_bigrams_retained),
            (1.0, 1.0)
        );
    }
}
