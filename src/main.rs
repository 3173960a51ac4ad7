mod cli;

/// Labeling allocates and frees many short strings per line; mimalloc halves that cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use bestofn::compare::{compare, write_comparison, Run};
use bestofn::eval::{evaluate, write_report};
use bestofn::generate::{generate, open_backend, Progress};
use bestofn::import::import;
use bestofn::io::write_jsonl;
use bestofn::label::{label_file, select_verifier_examples, ExportOptions, LabelOptions};
use bestofn::pool::build_pools;
use bestofn::rank::rank;
use bestofn::records::{read_problems, read_verdicts};
use bestofn::score::{score_file, Verifier};
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let code = error
                .downcast_ref::<bestofn::Error>()
                .map_or(1, bestofn::Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn report_skipped(skipped: usize) {
    if skipped > 0 {
        eprintln!("skipped {skipped} invalid lines");
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => {
            let (backend_settings, options) = args.generator.resolve(args.n)?;
            let problems = read_problems(&args.problems)?;
            let backend = open_backend(&backend_settings)?;
            let bar = progress_bar(None, "generating");
            let summary =
                generate(
                    backend.as_ref(),
                    &problems,
                    &args.out,
                    &options,
                    |event| match event {
                        Progress::Planned(total) => {
                            bar.set_length(total as u64);
                            bar.set_style(bar_style());
                        }
                        Progress::Sample => bar.inc(1),
                    },
                );
            bar.finish_and_clear();
            eprintln!("{}", summary?);
        }
        Command::Solve(args) => solve_command(&args)?,
        Command::Import(args) => {
            let imported = import(&args.input, &args.format)?;
            write_jsonl(&args.out, &imported.samples)?;
            if let Some(path) = &args.problems_out {
                write_jsonl(path, &imported.problems)?;
            }
            eprintln!(
                "imported {} problems, {} samples from {}",
                imported.problems.len(),
                imported.samples.len(),
                args.input.display()
            );
        }
        Command::Label(args) => {
            let problems = read_problems(&args.problems)?;
            let options = LabelOptions {
                style: args.style,
                answer_field: args.answer_field.clone(),
            };
            // Samples are kept in memory only when a verifier export needs them all.
            let mut kept = Vec::new();
            let keep = args.export_verifier_data.is_some();
            let summary = label_file(
                &problems,
                &args.samples,
                &args.out,
                &options,
                args.skip_invalid,
                |sample| {
                    if keep {
                        kept.push(sample.clone());
                    }
                },
            )?;
            if let Some(path) = &args.export_verifier_data {
                let export = ExportOptions {
                    balance: args.balance,
                    max_per_problem: args.max_per_problem,
                    dedup: args.dedup,
                    seed: args.seed,
                };
                let examples = select_verifier_examples(&problems, &kept, &export);
                write_jsonl(path, &examples)?;
                eprintln!(
                    "wrote {} verifier examples to {}",
                    examples.len(),
                    path.display()
                );
            }
            if let Some(path) = &args.summary_json {
                let json =
                    serde_json::to_vec_pretty(&summary).context("serializing the summary")?;
                bestofn::io::write_atomic(path, &json)?;
            }
            eprintln!("{summary}");
        }
        Command::Score(args) => {
            let options = args.options()?;
            let problems = read_problems(&args.problems)?;
            let mut verifier = Verifier::load(&args.verifier, &options)?;
            let bar = progress_bar(count_lines(&args.samples), "scoring");
            let stats = score_file(
                &mut verifier,
                &problems,
                &args.samples,
                &args.out,
                args.skip_invalid,
                |done| bar.set_position(done as u64),
            )?;
            bar.finish_and_clear();
            eprintln!("{stats}");
        }
        Command::Rank(args) => {
            let strategies = args.resolved_strategies()?;
            let set = read_verdicts(&args.samples, args.skip_invalid)?;
            report_skipped(set.skipped);
            let pools = build_pools(&set.verdicts);
            let mut all_answers = Vec::with_capacity(pools.len() * strategies.len());
            for strategy in strategies {
                let answers = rank(&pools, strategy)?;
                eprintln!("{}", rank_summary(strategy, &answers));
                all_answers.extend(answers);
            }
            write_jsonl(&args.out, &all_answers)?;
        }
        Command::Compose(args) => {
            let problems = read_problems(&args.problems)?;
            let (composed, summary) = bestofn::compose::compose(&problems, args.pairs, args.seed);
            let paths = bestofn::compose::write_sets(&args.out, &problems, &composed, &summary)?;
            eprintln!(
                "{summary}\nwrote {} (composed), {} (Q1 set), {} (modified-Q2 set)",
                paths.composed.display(),
                paths.q1.display(),
                paths.q2.display()
            );
        }
        Command::Export(args) => {
            use bestofn::export::{select_dpo, select_sft, DpoOptions, SftOptions};
            let problems = read_problems(&args.problems)?;
            let samples = bestofn::records::read_samples(&args.samples)?;
            if samples.iter().all(|s| s.correct.is_none()) {
                return Err(bestofn::Error::Inconsistent(format!(
                    "{}: no sample has a `correct` label; run `bestofn label` first",
                    args.samples.display()
                ))
                .into());
            }
            if let Some(path) = &args.sft {
                let options = SftOptions {
                    max_per_problem: args.max_per_problem,
                    original_fraction: args.original_fraction,
                    format: args.format,
                    seed: args.seed,
                };
                let (records, summary) = select_sft(&problems, &samples, &options)?;
                write_jsonl(path, &records)?;
                eprintln!("sft: {summary} → {}", path.display());
            }
            if let Some(path) = &args.dpo {
                let options = DpoOptions {
                    max_pairs_per_problem: args.max_pairs_per_problem,
                    format: args.format,
                    seed: args.seed,
                };
                let (records, summary) = select_dpo(&problems, &samples, &options)?;
                write_jsonl(path, &records)?;
                eprintln!(
                    "dpo: {} pairs from {} problems → {}",
                    summary.records,
                    summary.problems,
                    path.display()
                );
            }
        }
        Command::Compare(args) => {
            let mut runs = Vec::new();
            for (name, path) in args.resolved_runs() {
                let set = read_verdicts(&path, false)?;
                runs.push(Run {
                    name,
                    pools: build_pools(&set.verdicts),
                });
            }
            let options = bestofn::eval::EvalOptions {
                trials: args.trials,
                bootstrap: args.bootstrap,
                seed: args.seed,
                ..Default::default()
            };
            let mut comparison = compare(&runs, &options)?;
            if args.iterations {
                let mut embedder = match &args.embedder {
                    Some(dir) => Some(bestofn::compare::embed::Embedder::load(
                        dir,
                        args.ort_lib.as_deref(),
                        bestofn::default_threads(),
                    )?),
                    None => None,
                };
                let mut texts = Vec::new();
                for (name, path) in args.resolved_runs() {
                    texts.push((name, bestofn::records::read_samples(&path)?));
                }
                let diagnostics = bestofn::compare::DiagnosticOptions {
                    k: args.k,
                    embed_max_problems: args.embed_max_problems,
                };
                let bar = progress_bar(None, "embedding samples");
                comparison.iterations = bestofn::compare::diagnose(
                    &texts,
                    embedder.as_mut(),
                    &diagnostics,
                    &mut |event| match event {
                        bestofn::compare::EmbedProgress::Total(total) => {
                            bar.set_length(total as u64);
                            bar.set_style(bar_style());
                        }
                        bestofn::compare::EmbedProgress::Problem => bar.inc(1),
                    },
                )?;
                bar.finish_and_clear();
            }
            write_comparison(&comparison, &args.out)?;
            print!("{}", bestofn::compare::markdown(&comparison));
        }
        Command::Eval(args) => {
            let options = args.options()?;
            let set = read_verdicts(&args.samples, args.skip_invalid)?;
            report_skipped(set.skipped);
            let metrics = evaluate(&build_pools(&set.verdicts), &options)?;
            write_report(&metrics, &args.samples, &args.out)?;
            let n = metrics.ks.last().copied().unwrap_or(1);
            let mut line = format!(
                "{} problems, N = {n}: first {:.1}%",
                metrics.problems,
                100.0 * metrics.first.mean
            );
            for curve in &metrics.curves {
                if let Some(e) = metrics.at(&curve.method, n) {
                    let name = if curve.method == "pass@k" {
                        "coverage"
                    } else {
                        &curve.method
                    };
                    line.push_str(&format!(", {name}@{n} {:.1}%", 100.0 * e.mean));
                }
            }
            eprintln!("{line}\nreport written to {}", args.out.display());
            if let Some(composed_path) = &args.reasoning_gap {
                let gap = bestofn::compose::reasoning_gap_from_files(
                    composed_path,
                    &args.samples,
                    args.q1_samples.as_deref().expect("required by clap"),
                    args.q2_samples.as_deref().expect("required by clap"),
                    &options,
                )?;
                bestofn::io::write_atomic(
                    &args.out.join("reasoning_gap.json"),
                    &serde_json::to_vec_pretty(&gap).context("serializing the gap")?,
                )?;
                let show = |e: &bestofn::eval::Estimate| {
                    format!(
                        "{:.1} [{:.1}, {:.1}]",
                        100.0 * e.mean,
                        100.0 * e.lower,
                        100.0 * e.upper
                    )
                };
                eprintln!(
                    "reasoning gap over {} pairs: S1 {}, S2 {}, S_comp {}, Δ = S_comp − S1·S2 = {} points",
                    gap.pairs,
                    show(&gap.s1),
                    show(&gap.s2),
                    show(&gap.s_comp),
                    show(&gap.gap)
                );
            }
        }
    }
    Ok(())
}

fn solve_command(args: &cli::SolveArgs) -> anyhow::Result<()> {
    use bestofn::solve::{solve, SolveOptions, SolvePaths, Stage, StageProgress};
    let (backend_settings, generate_options) = args.generator.resolve(args.n)?;
    let problems_path = match &args.problems {
        Some(path) => path.clone(),
        None => bestofn::locate::in_project("data/easy-arithmetic.jsonl").ok_or_else(|| {
            bestofn::Error::Settings(
                "no --problems given and data/easy-arithmetic.jsonl not found".into(),
            )
        })?,
    };
    let verifier_dir = match &args.verifier {
        Some(dir) => dir.clone(),
        None => default_verifier()?,
    };
    let problems = read_problems(&problems_path)?;
    // Everything that can fail to load does so before generation starts.
    let score_options = bestofn::score::ScoreOptions {
        ort_library: args.ort_lib.clone(),
        threads: args
            .generator
            .threads
            .unwrap_or_else(bestofn::default_threads),
        ..Default::default()
    };
    let mut verifier = Verifier::load(&verifier_dir, &score_options)?;
    let backend = open_backend(&backend_settings)?;
    let paths = SolvePaths::beside(&args.out);
    let options = SolveOptions {
        generate: &generate_options,
        strategies: &args.strategy,
        eval: Default::default(),
    };
    eprintln!(
        "solving {} problems from {} with {} samples each ({} {}), verifier {}",
        problems.len(),
        problems_path.display(),
        args.n,
        backend.kind(),
        backend.model(),
        verifier_dir.display()
    );
    let mut bar: Option<indicatif::ProgressBar> = None;
    let summary = solve(
        backend.as_ref(),
        &mut verifier,
        &problems,
        &paths,
        &options,
        &mut |stage, event| {
            let name = match stage {
                Stage::Generate => "generating",
                Stage::Label => "labeling",
                Stage::Score => "scoring",
                Stage::Rank => "ranking",
                Stage::Eval => "evaluating",
            };
            match event {
                StageProgress::Start(total) => bar = Some(progress_bar(total, name)),
                StageProgress::Done(done) => {
                    if let Some(bar) = &bar {
                        bar.set_position(done);
                    }
                }
                StageProgress::Finish => {
                    if let Some(bar) = bar.take() {
                        bar.finish_and_clear();
                    }
                }
            }
        },
    )?;
    eprintln!("{}", summary.generated);
    if let Some(labeled) = &summary.labeled {
        eprintln!("{labeled}");
    }
    eprintln!("{}", summary.scored);
    for (strategy, answers) in &summary.answers {
        eprintln!("{}", rank_summary(*strategy, answers));
    }
    if let Some(metrics) = &summary.metrics {
        let n = metrics.ks.last().copied().unwrap_or(1);
        if let Some(coverage) = metrics.at("pass@k", n) {
            eprintln!(
                "coverage@{n}: {:.1}% of problems have a correct sample",
                100.0 * coverage.mean
            );
        }
        eprintln!("report written to {}", paths.report.display());
    }
    eprintln!(
        "answers written to {} (samples: {})",
        paths.answers.display(),
        paths.samples.display()
    );
    Ok(())
}

/// `$BESTOFN_VERIFIER`, else the verifier `scripts/demo.sh` trains (out/experiment/verifier).
fn default_verifier() -> anyhow::Result<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("BESTOFN_VERIFIER").filter(|d| !d.is_empty()) {
        return Ok(dir.into());
    }
    bestofn::locate::in_project("out/experiment/verifier/verifier.json")
        .and_then(|file| file.parent().map(std::path::Path::to_owned))
        .ok_or_else(|| {
            bestofn::Error::ModelLoad(
                "no default verifier yet: run scripts/demo.sh (it trains one into out/experiment/verifier), \
                 set BESTOFN_VERIFIER, or pass --verifier DIR"
                    .into(),
            )
            .into()
        })
}

fn rank_summary(strategy: bestofn::rank::Strategy, answers: &[bestofn::records::Answer]) -> String {
    let graded: Vec<bool> = answers.iter().filter_map(|a| a.correct).collect();
    if graded.is_empty() {
        return format!("{strategy}: {} answers", answers.len());
    }
    let right = graded.iter().filter(|&&c| c).count();
    format!(
        "{strategy}: {} answers, accuracy {:.2}% ({right} of {})",
        answers.len(),
        100.0 * right as f64 / graded.len() as f64,
        graded.len()
    )
}

/// A progress bar on stderr (hidden when stderr is not a terminal); a spinner without a total.
fn progress_bar(total: Option<u64>, what: &str) -> indicatif::ProgressBar {
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total).with_style(bar_style()),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_message(what.to_owned());
    bar
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec}",
    )
    .expect("valid template")
}

/// Lines in a plain file, for a progress bar's total; `None` for compressed or unreadable files.
fn count_lines(path: &std::path::Path) -> Option<u64> {
    if path.extension().is_some_and(|e| e == "gz") {
        return None;
    }
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).ok()?);
    let mut lines = 0;
    loop {
        let buffer = std::io::BufRead::fill_buf(&mut reader).ok()?;
        if buffer.is_empty() {
            return Some(lines);
        }
        lines += memchr::memchr_iter(b'\n', buffer).count() as u64;
        let consumed = buffer.len();
        std::io::BufRead::consume(&mut reader, consumed);
    }
}
