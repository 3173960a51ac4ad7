//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::io::Read;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar with a total, or a spinner without one.
pub fn bar(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(style()),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(what.to_owned());
    bar
}

/// Gives a spinner its total once it is known.
pub fn set_total(bar: &ProgressBar, total: u64) {
    bar.set_length(total);
    bar.set_style(style());
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec}",
    )
    .expect("valid template")
}

/// Lines of a plain regular file, for a bar's total. `None` for anything that can be read only
/// once (standard input, a pipe, a FIFO) or is compressed: counting would consume or misjudge it.
pub fn count_lines(path: &Path) -> Option<u64> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    let mut first = true;
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            return Some(lines);
        }
        if first && buffer[..read].starts_with(&[0x1f, 0x8b]) {
            return None;
        }
        first = false;
        lines += memchr::memchr_iter(b'\n', &buffer[..read]).count() as u64;
    }
}
