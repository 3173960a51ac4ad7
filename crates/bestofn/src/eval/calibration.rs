//! How well scores separate and predict correctness: AUROC, and for probabilities ECE, Brier and
//! a reliability diagram; plus the accuracy-vs-answer-rate (abstention) curve.

use serde::Serialize;

/// Number of equal-width confidence bins of the reliability diagram and ECE.
pub const BINS: usize = 10;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    /// Scored and labeled samples used.
    pub samples: usize,
    /// Area under the ROC curve of score vs label (ties count half); `None` with one class only.
    pub auroc: Option<f64>,
    /// Expected calibration error over `BINS` equal-width bins; `None` unless scores are in [0, 1].
    pub ece: Option<f64>,
    pub brier: Option<f64>,
    pub bins: Vec<ReliabilityBin>,
    /// Why ECE and Brier are missing, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub mean_score: f64,
    pub accuracy: f64,
}

/// Calibration of `(score, correct)` pairs; `kind` says what the scores are when they are known
/// not to be probabilities (`score_kind`).
pub fn calibration(pairs: &[(f32, bool)], kind: Option<&str>) -> Calibration {
    let probabilities = kind.is_none() && pairs.iter().all(|(s, _)| (0.0..=1.0).contains(s));
    let (ece, brier, bins, note) = if probabilities && !pairs.is_empty() {
        let (ece, bins) = reliability(pairs);
        let brier = pairs
            .iter()
            .map(|&(s, c)| (f64::from(s) - f64::from(u8::from(c))).powi(2))
            .sum::<f64>()
            / pairs.len() as f64;
        (Some(ece), Some(brier), bins, None)
    } else {
        let note = (!pairs.is_empty()).then(|| match kind {
            Some(kind) => format!(
                "scores are {kind}, not probabilities: ECE and Brier are not defined; AUROC only"
            ),
            None => "scores fall outside [0, 1] (not probabilities): ECE and Brier are not defined; AUROC only".to_owned(),
        });
        (None, None, Vec::new(), note)
    };
    Calibration {
        samples: pairs.len(),
        auroc: auroc(pairs),
        ece,
        brier,
        bins,
        note,
    }
}

fn reliability(pairs: &[(f32, bool)]) -> (f64, Vec<ReliabilityBin>) {
    let mut count = [0usize; BINS];
    let mut score_sum = [0f64; BINS];
    let mut correct_sum = [0f64; BINS];
    for &(s, c) in pairs {
        // In f32, so that a score of 0.9f32 lands in [0.9, 1.0) as written.
        let bin = ((s * BINS as f32) as usize).min(BINS - 1);
        count[bin] += 1;
        score_sum[bin] += f64::from(s);
        correct_sum[bin] += f64::from(u8::from(c));
    }
    let total = pairs.len() as f64;
    let mut ece = 0.0;
    let mut bins = Vec::new();
    for b in 0..BINS {
        if count[b] == 0 {
            continue;
        }
        let mean_score = score_sum[b] / count[b] as f64;
        let accuracy = correct_sum[b] / count[b] as f64;
        ece += count[b] as f64 / total * (mean_score - accuracy).abs();
        bins.push(ReliabilityBin {
            lower: b as f64 / BINS as f64,
            upper: (b + 1) as f64 / BINS as f64,
            count: count[b],
            mean_score,
            accuracy,
        });
    }
    (ece, bins)
}

/// Mann–Whitney AUROC with average ranks for ties.
fn auroc(pairs: &[(f32, bool)]) -> Option<f64> {
    let positives = pairs.iter().filter(|(_, c)| *c).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut sorted: Vec<(f32, bool)> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_positive = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        // Ranks i+1..=j share their average.
        let average_rank = (i + 1 + j) as f64 / 2.0;
        let tied_positives = sorted[i..j].iter().filter(|(_, c)| *c).count();
        rank_sum_positive += average_rank * tied_positives as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum_positive - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// One point of the abstention curve: answer the most confident share of problems.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AbstentionPoint {
    pub answer_rate: f64,
    pub answered: usize,
    pub accuracy: f64,
    /// Lowest confidence still answered at this rate.
    pub threshold: f64,
}

/// Accuracy when answering only the `rate` most confident problems, at rates 5%, 10%, ..., 100%.
/// `picks` holds each problem's chosen answer confidence and whether it was correct.
pub fn abstention_curve(picks: &[(f32, bool)]) -> Vec<AbstentionPoint> {
    let mut sorted = picks.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut prefix_correct = Vec::with_capacity(sorted.len() + 1);
    prefix_correct.push(0usize);
    for (_, c) in &sorted {
        prefix_correct.push(prefix_correct.last().unwrap() + usize::from(*c));
    }
    (1..=20)
        .filter_map(|step| {
            let rate = step as f64 / 20.0;
            let answered = ((rate * sorted.len() as f64).round() as usize).min(sorted.len());
            (answered > 0).then(|| AbstentionPoint {
                answer_rate: rate,
                answered,
                accuracy: prefix_correct[answered] as f64 / answered as f64,
                threshold: f64::from(sorted[answered - 1].0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_hand_cases() {
        assert_eq!(auroc(&[(0.9, true), (0.1, false)]), Some(1.0));
        assert_eq!(auroc(&[(0.1, true), (0.9, false)]), Some(0.0));
        assert_eq!(auroc(&[(0.5, true), (0.5, false)]), Some(0.5));
        // Positives 0.8, 0.4; negatives 0.6, 0.2: 3 of 4 pairs ordered right.
        assert_eq!(
            auroc(&[(0.8, true), (0.4, true), (0.6, false), (0.2, false)]),
            Some(0.75)
        );
        assert_eq!(auroc(&[(0.5, true)]), None);
    }

    #[test]
    fn ece_and_brier_hand_case() {
        // Bin [0.9,1): mean 0.9, accuracy 1/2 → gap 0.4; bin [0.1,0.2): mean 0.1, accuracy 0 → 0.1.
        let c = calibration(
            &[(0.9, true), (0.9, false), (0.1, false), (0.1, false)],
            None,
        );
        assert!((c.ece.unwrap() - 0.25).abs() < 1e-6);
        let brier = (0.01 + 0.81 + 0.01 + 0.01) / 4.0;
        assert!((c.brier.unwrap() - brier).abs() < 1e-6);
        assert_eq!(c.bins.len(), 2);
    }

    #[test]
    fn logits_get_auroc_only() {
        let c = calibration(&[(3.5, true), (-1.0, false)], None);
        assert_eq!(c.auroc, Some(1.0));
        assert!(c.ece.is_none() && c.brier.is_none() && c.note.is_some());
    }

    #[test]
    fn scores_said_not_to_be_probabilities_get_auroc_only_even_inside_0_1() {
        let c = calibration(&[(0.9, true), (0.2, false)], Some("confidence:mean"));
        assert_eq!(c.auroc, Some(1.0));
        assert!(c.ece.is_none() && c.brier.is_none());
        assert!(c.note.unwrap().contains("confidence:mean"));
    }

    #[test]
    fn abstention_answers_confident_problems_first() {
        let curve = abstention_curve(&[(0.9, true), (0.8, true), (0.3, false), (0.2, false)]);
        let half = curve.iter().find(|p| p.answer_rate == 0.5).unwrap();
        assert_eq!((half.answered, half.accuracy), (2, 1.0));
        assert_eq!(curve.last().unwrap().accuracy, 0.5);
    }
}
