//! Pairs past a served pair verifier's max_length, cut by the client as the in-process scorer
//! cuts them: vLLM's `/score` keeps a document's first tokens (or refuses the pair with a 400),
//! while a verifier may keep the solution's end. With the verifier directory's tokenizer the
//! solution is cut where the in-process truncation cuts it, and the cut pair is re-tokenized to
//! check that the server will read exactly the tokens the in-process scorer reads. Where a cut
//! inside a word re-tokenizes otherwise (a `##` piece made a word start), the cut moves to the
//! word's edge: the server reads a few tokens fewer, and the run says how many pairs.

use std::path::Path;

use super::onnx::Encoder;
use super::spec::{InputTemplate, Side, TooLong, VerifierSpec};
use crate::error::Result;

/// How a solution was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut<'a> {
    /// Within max_length (or nothing could be cut): as it is.
    Whole(&'a str),
    /// Cut where the in-process scorer cuts: the server reads the same tokens.
    Exact(&'a str),
    /// Cut at a word's edge next to where the in-process scorer cuts: a few tokens fewer.
    AtWord(&'a str),
}

impl<'a> Cut<'a> {
    pub fn text(&self) -> &'a str {
        match self {
            Cut::Whole(text) | Cut::Exact(text) | Cut::AtWord(text) => text,
        }
    }
}

/// The in-process scorer's encoder (its truncating and untruncated tokenizers), to cut pairs
/// as it does.
pub struct PairCutter {
    encoder: Encoder,
}

impl std::fmt::Debug for PairCutter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spec = &self.encoder.spec;
        write!(
            f,
            "PairCutter(max_length {}, {:?})",
            spec.max_length, spec.truncation_side
        )
    }
}

impl PairCutter {
    /// The cutter of a pair verifier that truncates (`too_long = "truncate"`); none otherwise.
    pub fn of(directory: &Path, spec: &VerifierSpec) -> Result<Option<Self>> {
        if spec.input != InputTemplate::Pair || spec.too_long != TooLong::Truncate {
            return Ok(None);
        }
        let encoder = Encoder::load(directory, spec.clone())?;
        Ok(Some(PairCutter { encoder }))
    }

    fn ids(&self, question: &str, solution: &str) -> Option<Vec<u32>> {
        let encoding = self
            .encoder
            .untruncated
            .encode_fast((question, solution), true)
            .ok()?;
        Some(encoding.get_ids().to_vec())
    }

    /// `solution` as the server should get it beside `question`.
    pub fn cut<'a>(&self, question: &str, solution: &'a str) -> Cut<'a> {
        let Some(full) = self.ids(question, solution) else {
            return Cut::Whole(solution);
        };
        let max_length = self.encoder.spec.max_length;
        if full.len() <= max_length {
            return Cut::Whole(solution);
        }
        let Ok(kept) = self.encoder.tokenizer.encode((question, solution), true) else {
            return Cut::Whole(solution);
        };
        // The byte span of the solution tokens that truncation kept.
        let spans: Vec<(usize, usize)> = kept
            .get_sequence_ids()
            .iter()
            .zip(kept.get_offsets())
            .filter(|(sequence, _)| **sequence == Some(1))
            .map(|(_, offsets)| *offsets)
            .collect();
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            return Cut::Whole(solution);
        };
        let exact = match self.encoder.spec.truncation_side {
            Side::Left => solution.get(first.0..),
            Side::Right => solution.get(..last.1),
        };
        if let Some(text) = exact {
            if self.ids(question, text).as_deref() == Some(kept.get_ids()) {
                return Cut::Exact(text);
            }
        }
        self.at_word(question, solution, first.0, last.1)
    }

    /// The cut moved to the nearest word edge inside the kept span, and further by whole words
    /// until the pair fits.
    fn at_word<'a>(&self, question: &str, solution: &'a str, start: usize, end: usize) -> Cut<'a> {
        let (side, max_length) = (
            self.encoder.spec.truncation_side,
            self.encoder.spec.max_length,
        );
        let mut text = match side {
            Side::Left => after_word(solution, start),
            Side::Right => before_word(solution, end),
        };
        for _ in 0..64 {
            if self
                .ids(question, text)
                .is_some_and(|ids| ids.len() <= max_length)
            {
                return Cut::AtWord(text);
            }
            text = match side {
                Side::Left => after_word(text, 1),
                Side::Right => before_word(text, text.len().saturating_sub(1)),
            };
        }
        Cut::Whole(solution)
    }
}

/// `text` from the first word that starts at or after byte `at`.
fn after_word(text: &str, at: usize) -> &str {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    let previous_blank = at == 0 || text[..at].ends_with(char::is_whitespace);
    let start = if previous_blank {
        at
    } else {
        text[at..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| at + i)
    };
    text[start..].trim_start()
}

/// `text` up to the last word that ends at or before byte `at`.
fn before_word(text: &str, at: usize) -> &str {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let next_blank = at == text.len() || text[at..].starts_with(char::is_whitespace);
    let end = if next_blank {
        at
    } else {
        text[..at].rfind(char::is_whitespace).unwrap_or(0)
    };
    text[..end].trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutter(side: Side) -> PairCutter {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/verifier-tiny");
        let mut spec = VerifierSpec::load(&dir).unwrap();
        spec.truncation_side = side;
        PairCutter::of(&dir, &spec).unwrap().unwrap()
    }

    #[test]
    fn a_cut_pair_reads_as_the_in_process_truncation_or_fits_at_a_word_edge() {
        let question = "Natalia sold clips to 48 of her friends in April. How many clips?";
        let solutions = [
            "She sold 48 / 2 = 24 clips in May. ".repeat(30),
            "unbelievably longwinded reasoning ".repeat(40),
            "x".repeat(3000),
            "short: 72".to_owned(),
        ];
        for side in [Side::Left, Side::Right] {
            let cutter = cutter(side);
            for solution in &solutions {
                let kept = cutter
                    .encoder
                    .tokenizer
                    .encode_fast((question, solution.as_str()), true)
                    .unwrap();
                match cutter.cut(question, solution) {
                    Cut::Whole(text) => {
                        assert_eq!(text, solution);
                        assert!(
                            cutter.ids(question, text).unwrap().len()
                                <= cutter.encoder.spec.max_length
                        );
                    }
                    Cut::Exact(text) => {
                        assert_eq!(
                            cutter.ids(question, text).unwrap(),
                            kept.get_ids(),
                            "{side:?}"
                        );
                    }
                    Cut::AtWord(text) => {
                        let ids = cutter.ids(question, text).unwrap();
                        assert!(
                            ids.len() <= cutter.encoder.spec.max_length
                                && ids.len() + 16 >= cutter.encoder.spec.max_length
                        );
                    }
                }
            }
            // The long repeated sentence cuts exactly on both sides.
            assert!(
                matches!(cutter.cut(question, &solutions[0]), Cut::Exact(_)),
                "{side:?}"
            );
        }
    }
}
