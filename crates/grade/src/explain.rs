//! Explanations of verdicts: what was found, how both sides read, and the rule that decided.

use std::fmt;

use super::{
    extract_raw, normalized_answer, second_reading, Answer, AnswerStyle, Gold, Judgement, Rule,
};

/// Everything behind a verdict, for `bestofn grade` and `label --explain`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    pub style: AnswerStyle,
    /// The answer as found in the response, before normalization.
    pub found: Option<String>,
    pub extracted: Option<String>,
    /// The extracted answer's parsed form.
    pub parsed: Option<String>,
    pub gold: Option<String>,
    pub gold_parsed: Option<String>,
    pub correct: Option<bool>,
    pub rule: Option<Rule>,
    pub reason: Option<&'static str>,
    /// When the verdict was reached on every box of the final line together: that answer.
    pub final_line_answer: Option<String>,
}

/// Grades `text` as [`crate::grade`] does and says how.
pub fn explain(text: &str, style: AnswerStyle, gold: Option<&Gold>) -> Explanation {
    let found = extract_raw(text, style);
    let extracted = found.as_deref().and_then(normalized_answer);
    let judgement = gold.map(|g| g.judge(text, extracted.as_deref()));
    Explanation::new(text, style, found, extracted, gold, judgement)
}

impl Explanation {
    /// The explanation of a verdict reached on `extracted` (normalized from `found`) of the
    /// response `text`.
    pub fn new(
        text: &str,
        style: AnswerStyle,
        found: Option<String>,
        extracted: Option<String>,
        gold: Option<&Gold>,
        judgement: Option<Judgement>,
    ) -> Self {
        Explanation {
            style,
            parsed: extracted.as_deref().map(|e| Answer::parse(e).to_string()),
            found,
            extracted,
            gold: gold.map(|g| g.normalized.clone()),
            gold_parsed: gold.map(|g| g.tree().to_string()),
            correct: judgement.map(|j| j.correct),
            rule: judgement.map(|j| j.rule),
            reason: judgement.map(|j| j.rule.describe()),
            final_line_answer: judgement
                .filter(|j| j.final_line_boxes)
                .and_then(|_| second_reading(text)),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());
        writeln!(f, "style:        {}", self.style)?;
        writeln!(f, "found:        {}", shown(&self.found))?;
        writeln!(f, "normalized:   {}", shown(&self.extracted))?;
        writeln!(f, "parsed:       {}", shown(&self.parsed))?;
        writeln!(f, "gold:         {}", shown(&self.gold))?;
        writeln!(f, "gold parsed:  {}", shown(&self.gold_parsed))?;
        if let Some(joint) = &self.final_line_answer {
            writeln!(
                f,
                "read as:      {joint} (every box of the final line together)"
            )?;
        }
        match (self.correct, self.rule) {
            (Some(correct), Some(rule)) => {
                writeln!(
                    f,
                    "verdict:      {}",
                    if correct { "correct" } else { "wrong" }
                )?;
                writeln!(f, "rule:         {rule}: {}", rule.describe())
            }
            _ => writeln!(f, "verdict:      none (no gold answer)"),
        }
    }
}
