//! The ranking flags that set the parameters of the confidence votes, shared by `rank`, `eval`
//! and `solve` (`--k` of topk-vote stays with each command's strategy list).

use clap::Args;

use super::{borda_power, keep_top, Strategy};
use crate::error::{Error, Result};
use crate::eval::EvalOptions;

/// `--keep-top` and `--borda-power`.
#[derive(Debug, Clone, Args)]
pub struct VoteArgs {
    /// For confidence-vote: the percent of the best-scored samples that vote (DeepConf's η:
    /// 90 keeps most, 10 only the most confident); for online-vote, of its warm-up
    /// [default: 90].
    #[arg(long, value_name = "PERCENT")]
    pub keep_top: Option<String>,
    #[command(flatten)]
    pub borda: BordaArgs,
}

/// `--borda-power` (`solve` takes `--keep-top` with the generation flags, which read it too).
#[derive(Debug, Clone, Args)]
pub struct BordaArgs {
    /// For borda: rank r of N gets (N − r + 1)^POWER points [default: 1].
    #[arg(long, value_name = "POWER")]
    pub borda_power: Option<String>,
}

impl VoteArgs {
    /// The parameters given: η in percent and p in thousandths.
    pub fn parameters(&self) -> Result<(Option<u32>, Option<u32>)> {
        let settings = |message: String| Error::Settings(message);
        let keep = self.keep_top.as_deref().map(keep_top).transpose();
        let power = self
            .borda
            .borda_power
            .as_deref()
            .map(borda_power)
            .transpose();
        Ok((keep.map_err(settings)?, power.map_err(settings)?))
    }

    /// `options` with the votes' parameters given.
    pub fn apply_to_eval(&self, mut options: EvalOptions) -> Result<EvalOptions> {
        let (keep, power) = self.parameters()?;
        options.keep_top = keep.unwrap_or(options.keep_top);
        options.borda_power_milli = power.unwrap_or(options.borda_power_milli);
        Ok(options)
    }

    /// `strategies` with the flags' parameters applied; a flag for a strategy not asked for is
    /// refused, as `--k` is.
    pub fn apply(&self, strategies: Vec<Strategy>) -> Result<Vec<Strategy>> {
        let settings = |message: String| Error::Settings(message);
        let (keep, power) = self.parameters()?;
        let has = |name: &str| strategies.iter().any(|s| s.name() == name);
        if keep.is_some() && !has("confidence-vote") && !has("online-vote") {
            return Err(settings(
                "--keep-top only applies to confidence-vote and online-vote".into(),
            ));
        }
        if power.is_some() && !has("borda") {
            return Err(settings("--borda-power only applies to borda".into()));
        }
        Ok(strategies
            .into_iter()
            .map(|strategy| match (strategy, keep, power) {
                (Strategy::ConfidenceVote { .. }, Some(keep_top), _) => {
                    Strategy::ConfidenceVote { keep_top }
                }
                (Strategy::OnlineVote { warmup, .. }, Some(keep_top), _) => {
                    Strategy::OnlineVote { keep_top, warmup }
                }
                (Strategy::Borda { .. }, _, Some(power_milli)) => Strategy::Borda { power_milli },
                (strategy, _, _) => strategy,
            })
            .collect())
    }
}
