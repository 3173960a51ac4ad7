//! The input flags every stage that reads samples shares.

use clap::Args;

#[derive(Debug, Clone, Copy, Args)]
pub struct InputArgs {
    /// Count and skip malformed sample lines (and repeated keys) instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
}
