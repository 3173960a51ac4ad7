//! Regression tests for the defects found by trying bestofn as a hostile user would: data loss,
//! crashes, misleading successes and unclear errors. Each test is named by the behaviour it
//! protects. None needs a model or `../shared`.

mod common;

use common::bestofn;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

fn fixture(name: &str) -> PathBuf {
    common::fixture(name)
}

/// The fixture samples labeled into `dir/labeled.jsonl`.
fn labeled(dir: &Path) -> PathBuf {
    let out = dir.join("labeled.jsonl");
    bestofn()
        .args(["label", "--problems"])
        .arg(fixture("problems.jsonl"))
        .arg("--samples")
        .arg(fixture("samples.jsonl"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

/// A second run: the labeled samples under another name.
fn copy_labeled(samples: &Path) -> PathBuf {
    let copy = samples.with_file_name("second.jsonl");
    fs::copy(samples, &copy).unwrap();
    copy
}

fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::copy(fixture(name), &path).unwrap();
    path
}

/// (1) A second writer of one samples file is refused, naming the holder.
#[test]
fn a_locked_samples_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.jsonl");
    let holder = fs::File::create(&out).unwrap();
    holder.lock().unwrap();
    bestofn()
        .args(["generate", "--backend", "replay", "--n", "1", "--problems"])
        .arg(fixture("problems.jsonl"))
        .arg("--replay-from")
        .arg(fixture("samples.jsonl"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(75)
        .stderr(contains(format!("process {}", std::process::id())));
    assert_eq!(fs::read(&out).unwrap(), b"", "nothing was appended");
}

/// (8) A sample count no run can hold is refused before anything is planned.
#[test]
fn a_huge_n_is_refused_before_planning() {
    let dir = tempfile::tempdir().unwrap();
    bestofn()
        .args([
            "generate",
            "--backend",
            "replay",
            "--n",
            "4000000000",
            "--problems",
        ])
        .arg(fixture("problems.jsonl"))
        .arg("--replay-from")
        .arg(fixture("samples.jsonl"))
        .arg("--out")
        .arg(dir.path().join("s.jsonl"))
        .assert()
        .code(64)
        .stderr(contains("split the problems into several runs"));
    assert!(!dir.path().join("s.jsonl").exists());
}

/// (2, 4) Standard input is read once, and `-` writes standard output.
#[test]
fn stdin_and_stdout_streams() {
    let samples = fs::read(fixture("samples.jsonl")).unwrap();
    let output = bestofn()
        .args(["label", "--samples", "-", "--out", "-", "--problems"])
        .arg(fixture("problems.jsonl"))
        .write_stdin(samples)
        .assert()
        .success()
        .stderr(contains("samples        12"))
        .get_output()
        .stdout
        .clone();
    let lines = String::from_utf8(output).unwrap();
    assert_eq!(lines.lines().count(), 12);
    assert!(lines.lines().all(|l| l.contains("\"extracted\"")));
}

/// (3) An output that is an input, or two outputs on one path, are refused before any work.
#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let problems = copy_fixture(dir.path(), "problems.jsonl");
    let before = fs::read(&samples).unwrap();
    let s = samples.to_str().unwrap();
    let p = problems.to_str().unwrap();
    let other = dir.path().join("x.jsonl");
    let x = other.to_str().unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&samples, &link).unwrap();
    let l = link.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["rank", "--samples", s, "--out", s],
        vec!["rank", "--samples", s, "--out", l],
        vec!["label", "--problems", p, "--samples", s, "--out", p],
        vec![
            "label",
            "--problems",
            p,
            "--samples",
            s,
            "--out",
            x,
            "--export-verifier-data",
            x,
        ],
        vec![
            "import",
            "--format",
            "faithful-cot-pool",
            "--input",
            s,
            "--out",
            s,
        ],
        vec![
            "import",
            "--format",
            "qwen-math-rm",
            "--input",
            s,
            "--out",
            x,
            "--problems-out",
            x,
        ],
        vec!["compose", "--problems", p, "--out", p],
        vec!["export", "--problems", p, "--samples", s, "--dpo", s],
        vec![
            "export",
            "--problems",
            p,
            "--samples",
            s,
            "--sft",
            x,
            "--dpo",
            x,
        ],
        vec![
            "eval",
            "--samples",
            s,
            "--out",
            dir.path().to_str().unwrap(),
        ],
    ];
    for args in cases {
        bestofn()
            .args(&args)
            .assert()
            .code(64)
            .stderr(contains("would overwrite").or(contains("both write")));
    }
    assert_eq!(fs::read(&samples).unwrap(), before);
    assert!(!other.exists());
}

/// Inputs are never written: `solve`'s stage files checked against every input (its replay
/// source among them), and nothing written inside or over an input directory (a verifier, an
/// embedder). Each refusal leaves the input as it was.
#[test]
fn input_directories_and_solve_stage_files_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let problems = copy_fixture(dir.path(), "problems.jsonl");
    let stage_file = dir.path().join("ans.labeled.jsonl");
    fs::copy(labeled(dir.path()), &stage_file).unwrap();
    let verifier = dir.path().join("verifier");
    fs::create_dir(&verifier).unwrap();
    for file in ["model.onnx", "tokenizer.json", "verifier.json"] {
        fs::copy(fixture("verifier-tiny").join(file), verifier.join(file)).unwrap();
    }
    let snapshot =
        |paths: &[&Path]| -> Vec<Vec<u8>> { paths.iter().map(|p| fs::read(p).unwrap()).collect() };
    let watched = [
        stage_file.as_path(),
        &verifier.join("model.onnx"),
        &verifier.join("verifier.json"),
    ];
    let before = snapshot(&watched);
    let (p, s, v) = (
        problems.to_str().unwrap(),
        stage_file.to_str().unwrap(),
        verifier.to_str().unwrap(),
    );
    let out = dir.path().join("ans.jsonl");
    let model = verifier.join("model.onnx");
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "solve",
            "--backend",
            "replay",
            "--replay-from",
            s,
            "--problems",
            p,
            "--verifier",
            v,
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "score",
            "--problems",
            p,
            "--samples",
            s,
            "--verifier",
            v,
            "--out",
            model.to_str().unwrap(),
        ],
        vec![
            "score",
            "--problems",
            p,
            "--samples",
            s,
            "--verifier",
            v,
            "--out",
            v,
        ],
        vec![
            "compare",
            "--iterations",
            "--embedder",
            v,
            "--run",
            &s,
            "--out",
            v,
        ],
    ];
    for args in cases {
        bestofn()
            .args(&args)
            .assert()
            .code(64)
            .stderr(contains("would overwrite the input"));
    }
    assert_eq!(snapshot(&watched), before);
}

/// An input without newlines (`/dev/zero`) is refused at the line limit, with the flag that
/// raises it, by every reader; nothing is left behind in the output's directory.
#[test]
fn an_endless_line_is_refused_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let problems = fixture("problems.jsonl");
    let p = problems.to_str().unwrap();
    let out = dir.path().join("out.jsonl");
    let o = out.to_str().unwrap();
    let report = dir.path().join("report");
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "label",
            "--problems",
            p,
            "--samples",
            "/dev/zero",
            "--out",
            o,
        ],
        vec![
            "label",
            "--problems",
            "/dev/zero",
            "--samples",
            p,
            "--out",
            o,
        ],
        vec!["rank", "--samples", "/dev/zero", "--out", o],
        vec![
            "eval",
            "--samples",
            "/dev/zero",
            "--out",
            report.to_str().unwrap(),
        ],
        vec![
            "import",
            "--format",
            "faithful-cot-pool",
            "--input",
            "/dev/zero",
            "--out",
            o,
        ],
    ];
    for args in cases {
        bestofn()
            .args(&args)
            .args(["--max-line-bytes", "64K"])
            .assert()
            .code(65)
            .stderr(contains("/dev/zero:1: the line is longer than 65536 bytes"))
            .stderr(contains("--max-line-bytes"));
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    bestofn()
        .args(["rank", "--samples", p, "--max-line-bytes", "12Q"])
        .assert()
        .code(2)
        .stderr(contains("is not a size"));
}

/// A write that fails part way (a full disk; here a file size limit, which fails the same way
/// with EFBIG) leaves the samples file whole lines: what the run says is safe is what the file
/// holds, and the next run resumes from it.
#[test]
fn a_failed_write_leaves_only_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.jsonl");
    let source = dir.path().join("source.jsonl");
    let (mut p, mut s) = (String::new(), String::new());
    for id in 0..40 {
        p.push_str(&format!(
            "{{\"id\":\"{id}\",\"question\":\"q{id}\",\"answer\":\"1\"}}\n"
        ));
        for idx in 0..4 {
            let text = "x".repeat(300);
            s.push_str(&format!(
                "{{\"problem_id\":\"{id}\",\"sample_idx\":{idx},\"text\":\"{text}\"}}\n"
            ));
        }
    }
    fs::write(&problems, p).unwrap();
    fs::write(&source, s).unwrap();
    let out = dir.path().join("out.jsonl");
    let script = format!(
        "trap '' XFSZ; ulimit -f 16; exec {} generate --backend replay --n 4 --problems {} \
         --replay-from {} --out {}",
        common::bestofn_path().display(),
        problems.display(),
        source.display(),
        out.display()
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let written = fs::read_to_string(&out).unwrap();
    assert!(written.ends_with('\n'), "a torn last line was left");
    let lines = written.lines().count();
    for line in written.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(lines > 0 && lines < 160, "{lines}");
    assert!(
        stderr.contains(&format!("{lines} samples are safe")),
        "{stderr}"
    );
    // Resumed without the limit, the run completes from there.
    bestofn()
        .args(["generate", "--backend", "replay", "--n", "4", "--problems"])
        .arg(&problems)
        .arg("--replay-from")
        .arg(&source)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(contains(format!("{lines} already present")));
    assert_eq!(fs::read_to_string(&out).unwrap().lines().count(), 160);
}

/// The temporary files and staging directories of killed runs are removed by the next run
/// writing beside them, which says so; other files are left alone.
#[test]
fn temporaries_of_killed_runs_are_cleaned_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let mut finished = std::process::Command::new("true").spawn().unwrap();
    let dead = finished.id();
    finished.wait().unwrap();
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stale_file = dir
        .path()
        .join(format!(".bestofn-{dead}@{host}-a1b2c3.tmp"));
    fs::write(&stale_file, vec![b'x'; 1000]).unwrap();
    let stale_dir = dir.path().join(format!(".bestofn-{dead}@{host}-d4e5f6"));
    // The same pid on another machine sharing the directory: not this machine's to judge.
    let elsewhere = dir
        .path()
        .join(format!(".bestofn-{dead}@another-host-a1b2c3.tmp"));
    fs::write(&elsewhere, "running elsewhere").unwrap();
    fs::create_dir_all(stale_dir.join("report")).unwrap();
    fs::write(stale_dir.join("report/metrics.json"), "{}").unwrap();
    let unrelated = dir.path().join(".bestofn-notes.tmp");
    fs::write(&unrelated, "mine").unwrap();
    bestofn()
        .args(["rank", "--samples"])
        .arg(&samples)
        .arg("--out")
        .arg(dir.path().join("answers.jsonl"))
        .assert()
        .success()
        .stderr(contains("removed 2 temporary file(s)"));
    assert!(!stale_file.exists() && !stale_dir.exists());
    assert!(unrelated.exists() && elsewhere.exists());
}

/// Nothing reports success on an empty result, and a --out that names a family of files must
/// be a plain file name: an export limited to 0, an export with nothing to export, an import
/// with no candidates, `compose`/`solve` with `--out /dev/null` are refused, writing nothing.
#[test]
fn empty_results_and_device_families_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let problems = fixture("problems.jsonl");
    let out = dir.path().join("out.jsonl");
    for limit in [["--max-per-problem", "0"], ["--max-pairs-per-problem", "0"]] {
        bestofn()
            .args(["export", "--problems"])
            .arg(&problems)
            .arg("--samples")
            .arg(&samples)
            .arg("--sft")
            .arg(&out)
            .args(limit)
            .assert()
            .code(64)
            .stderr(contains("must be at least 1"));
    }
    // Every sample wrong: no SFT record, no DPO pair.
    let wrong = dir.path().join("wrong.jsonl");
    let text = fs::read_to_string(&samples)
        .unwrap()
        .replace("\"correct\":true", "\"correct\":false");
    fs::write(&wrong, text).unwrap();
    for flag in ["--sft", "--dpo"] {
        bestofn()
            .args(["export", "--problems"])
            .arg(&problems)
            .arg("--samples")
            .arg(&wrong)
            .arg(flag)
            .arg(&out)
            .assert()
            .code(65)
            .stderr(contains("nothing was written"));
    }
    let pool = dir.path().join("pool.jsonl");
    fs::write(
        &pool,
        "{\"id\":\"1\",\"question\":\"q\",\"gold\":\"5\",\"candidates\":[]}\n",
    )
    .unwrap();
    bestofn()
        .args(["import", "--format", "faithful-cot-pool", "--input"])
        .arg(&pool)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains("no line has any candidate"));
    assert!(!out.exists());
    bestofn()
        .args(["compose", "--problems"])
        .arg(&problems)
        .args(["--out", "/dev/null"])
        .assert()
        .code(64)
        .stderr(contains("not a device"));
    assert!(!Path::new("/dev/null.q1.jsonl").exists());
    bestofn()
        .args(["solve", "--backend", "replay", "--replay-from"])
        .arg(&samples)
        .arg("--problems")
        .arg(&problems)
        .arg("--verifier")
        .arg(fixture("verifier-tiny"))
        .args(["--out", dir.path().to_str().unwrap()])
        .assert()
        .code(64)
        .stderr(contains("not a device, pipe, directory"));
}

/// A closed standard output (`>&-`) is an error for a command that writes its data there, not
/// a success with nothing written; `> /dev/null` is still a place to write.
#[test]
fn a_closed_stdout_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let run = |redirect: &str| {
        let script = format!(
            "exec {} rank --samples {} --out - {redirect}",
            common::bestofn_path().display(),
            samples.display()
        );
        std::process::Command::new("bash")
            .args(["-c", &script])
            .output()
            .unwrap()
    };
    let closed = run(">&-");
    assert_eq!(closed.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&closed.stderr).contains("standard output is closed"));
    assert!(run("> /dev/null").status.success());
}

/// `compose` is bounded on a problem of thousands of annotations and question numbers (it was
/// cubic in them): the problem is left out and named, and with no pair left nothing is written.
#[test]
fn compose_leaves_out_a_problem_too_large_and_writes_nothing_empty() {
    let dir = tempfile::tempdir().unwrap();
    let steps: String = (0..8_000)
        .map(|i| format!("Step {i}: {i}+1 = <<{i}+1={}>>{}.\n", i + 1, i + 1))
        .collect();
    let question: String = (0..3_000).map(|i| format!(" Add {i}.")).collect();
    let problem = serde_json::json!({
        "id": "huge", "question": question, "solution": format!("{steps}#### 8000"), "answer": "8000"
    });
    let problems = dir.path().join("problems.jsonl");
    fs::write(&problems, format!("{problem}\n")).unwrap();
    let out = dir.path().join("c.jsonl");
    bestofn()
        .args(["compose", "--problems"])
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains(
            "1 problems left out for more than 200 annotations",
        ))
        .stderr(contains("first: huge"))
        .stderr(contains("nothing was written"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// (4) A symlinked output is written through; devices are written in place; a new file honours
/// the umask and a replaced one keeps its mode.
#[test]
fn outputs_respect_links_devices_and_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let target = dir.path().join("answers.jsonl");
    fs::write(&target, "old\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let rank = |out: &Path| {
        let mut command = bestofn();
        command
            .arg("rank")
            .arg("--samples")
            .arg(&samples)
            .arg("--out")
            .arg(out);
        command
    };
    rank(&link).assert().success();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(common::read_jsonl(&target).len(), 3);
    assert_eq!(
        fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640
    );

    let fresh = dir.path().join("fresh.jsonl");
    rank(&fresh).assert().success();
    let umask = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    let mode = fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask);

    rank(Path::new("/dev/null")).assert().success();
    // /dev/stdout into a pipe, and into a file the shell opened: written in place, never replaced.
    let piped = rank(Path::new("/dev/stdout"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(piped).unwrap().lines().count(), 3);
    let redirected = dir.path().join("redirected.jsonl");
    let file = fs::File::create(&redirected).unwrap();
    let inode = std::os::unix::fs::MetadataExt::ino(&file.metadata().unwrap());
    let binary = assert_cmd::cargo::cargo_bin("bestofn");
    let status = std::process::Command::new(binary)
        .args(["rank", "--out", "/dev/stdout", "--samples"])
        .arg(&samples)
        .stdout(file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(common::read_jsonl(&redirected).len(), 3);
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(&redirected).unwrap()),
        inode
    );
    assert!(!fs::metadata("/dev/null").unwrap().is_file());
    rank(Path::new("/dev/full"))
        .assert()
        .code(74)
        .stderr(contains("/dev/full"));
    assert!(!fs::metadata("/dev/full").unwrap().is_file());
}

/// (7) A closed stdout or a full stderr is not a panic.
#[test]
fn closed_pipes_are_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let binary = assert_cmd::cargo::cargo_bin("bestofn");
    let mut child = std::process::Command::new(&binary)
        .args(["compare", "--bootstrap", "0", "--run"])
        .arg(format!("a={}", samples.display()))
        .arg("--run")
        .arg(format!("b={}", copy_labeled(&samples).display()))
        .arg("--out")
        .arg(dir.path().join("cmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let status = std::process::Command::new(&binary)
        .args(["rank", "--samples"])
        .arg(&samples)
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .stderr(full)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

/// (8, 11, 13) Sizes and counts from flags are checked before anything is allocated.
#[test]
fn flags_that_cannot_work_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let s = samples.to_str().unwrap();
    let out = dir.path().join("r");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "eval",
                "--samples",
                s,
                "--out",
                o,
                "--bootstrap",
                "1000000000000",
            ],
            "--bootstrap must be",
        ),
        (
            vec!["eval", "--samples", s, "--out", o, "--bootstrap", "1"],
            "--bootstrap must be",
        ),
        (
            vec!["eval", "--samples", s, "--out", o, "--trials", "0"],
            "--trials must be",
        ),
    ];
    for (args, message) in cases {
        bestofn()
            .args(&args)
            .assert()
            .code(64)
            .stderr(contains(message));
    }
    assert!(!out.exists());
}

/// (13, 14) compare and rank flags that cannot work are refused.
#[test]
fn compare_and_rank_flags_that_cannot_work_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let s = samples.to_str().unwrap();
    let run = format!("a={s}");
    let other = format!("b={s}");
    let out = dir.path().join("r");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["compare", "--run", &run, "--out", o, "--trials", "0"],
            "--trials must be",
        ),
        (
            vec![
                "compare",
                "--run",
                &run,
                "--out",
                o,
                "--bootstrap",
                "1000000000000",
            ],
            "--bootstrap must be",
        ),
        (
            vec!["compare", "--run", &run, "--run", &run, "--out", o],
            "two runs are named",
        ),
        (
            vec![
                "compare",
                "--run",
                &run,
                "--run",
                &other,
                "--out",
                o,
                "--iterations",
                "--k",
                "0",
            ],
            "--k must be",
        ),
        (
            vec![
                "compare",
                "--run",
                &run,
                "--run",
                &other,
                "--out",
                o,
                "--iterations",
                "--k",
                "99",
            ],
            "--k 99 is outside",
        ),
        (
            vec![
                "rank",
                "--samples",
                s,
                "--out",
                o,
                "--strategy",
                "majority,majority",
            ],
            "named twice",
        ),
        (
            vec![
                "rank",
                "--samples",
                s,
                "--out",
                o,
                "--strategy",
                "topk-vote",
                "--k",
                "99",
            ],
            "--k 99 is more than",
        ),
    ];
    for (args, message) in cases {
        bestofn()
            .args(&args)
            .assert()
            .code(64)
            .stderr(contains(message));
    }
    assert!(!out.exists());
    bestofn()
        .args(["compare", "--run", "a\nb=x.jsonl", "--out", o])
        .assert()
        .code(2)
        .stderr(contains("control character"));
}

/// (18) An error names what failed to load: a bad embedder is not "the verifier".
#[test]
fn a_bad_embedder_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let second = copy_labeled(&samples);
    let not_an_embedder = dir.path().join("embedder");
    fs::create_dir(&not_an_embedder).unwrap();
    bestofn()
        .args(["compare", "--iterations", "--bootstrap", "0", "--run"])
        .arg(format!("a={}", samples.display()))
        .arg("--run")
        .arg(format!("b={}", second.display()))
        .arg("--embedder")
        .arg(&not_an_embedder)
        .arg("--out")
        .arg(dir.path().join("cmp"))
        .assert()
        .code(69)
        .stderr(contains("loading the embedder"))
        .stderr(contains("the verifier").not());
}

/// (9, 17) The reasoning gap refuses unlabeled samples, and leaves no report behind.
#[test]
fn reasoning_gap_needs_labels() {
    let dir = tempfile::tempdir().unwrap();
    let samples = labeled(dir.path());
    let composed = dir.path().join("composed.jsonl");
    fs::write(
        &composed,
        "{\"id\": \"eggs\", \"question\": \"q\", \"answer\": \"18\", \"q1_id\": \"apples\"}\n",
    )
    .unwrap();
    let out = dir.path().join("report");
    bestofn()
        .args(["eval", "--samples"])
        .arg(&samples)
        .arg("--reasoning-gap")
        .arg(&composed)
        .arg("--q1-samples")
        .arg(fixture("samples.jsonl"))
        .arg("--q2-samples")
        .arg(&samples)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains("has no `correct` label"));
    assert!(!out.exists(), "a failing eval leaves no report");
}

/// (11) Unlabeled samples are not ranked into null answers; mixed N is said aloud; a report
/// without bootstrap shows no degenerate intervals.
#[test]
fn rank_and_eval_refuse_or_say_what_they_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    bestofn()
        .args(["rank", "--samples"])
        .arg(fixture("samples.jsonl"))
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .assert()
        .code(65)
        .stderr(contains("never labeled"));
    let all = fs::read_to_string(labeled(dir.path())).unwrap();
    // One problem loses a sample: N is 3 for it, 4 for the others.
    let samples = dir.path().join("mixed.jsonl");
    fs::write(&samples, all.lines().skip(1).collect::<Vec<_>>().join("\n")).unwrap();
    let out = dir.path().join("r");
    bestofn()
        .args(["eval", "--bootstrap", "0", "--samples"])
        .arg(&samples)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(contains("problems have between 3 and 4 samples"))
        .stderr(contains("\u{1b}[").not());
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    // Accuracy cells are "41.7 [33.3, 50.0]" with intervals (calibration bins are "| [0.1, 0.2)").
    let interval = report
        .match_indices(" [")
        .any(|(i, _)| report[..i].ends_with(|c: char| c.is_ascii_digit()));
    assert!(!interval, "no intervals without bootstrap:\n{report}");
}

/// (14) Empty inputs, all-invalid inputs and misspelled fields are errors, not empty results.
#[test]
fn nothing_is_not_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, "\n \n").unwrap();
    let bad = dir.path().join("bad.jsonl");
    fs::write(&bad, "{oops\n[1]\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let label = |samples: &Path, extra: &[&str]| {
        let mut command = bestofn();
        command
            .args(["label", "--problems"])
            .arg(fixture("problems.jsonl"))
            .arg("--samples")
            .arg(samples)
            .arg("--out")
            .arg(&out)
            .args(extra);
        command
    };
    label(&empty, &[])
        .assert()
        .code(65)
        .stderr(contains("no samples"));
    label(&bad, &["--skip-invalid"])
        .assert()
        .code(65)
        .stderr(contains("every line was invalid (2 skipped)"));
    label(&fixture("samples.jsonl"), &["--answer-field", "anwser"])
        .assert()
        .code(65)
        .stderr(contains("`anwser`"));
    assert!(!out.exists());
    for command in ["rank", "eval"] {
        bestofn()
            .args([command, "--samples"])
            .arg(&empty)
            .arg("--out")
            .arg(dir.path().join("o"))
            .assert()
            .code(65)
            .stderr(contains("no samples"));
    }
    bestofn()
        .args(["label", "--samples"])
        .arg(fixture("samples.jsonl"))
        .arg("--problems")
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains("no records"));
}

/// (14, 18) Import: duplicate problem ids and unknown runs are refused.
#[test]
fn import_refuses_duplicate_ids_and_unknown_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool.jsonl");
    let line = r#"{"id": 7, "question": "q", "gold": 1, "candidates": [{"config": "c", "lm": "m", "prompt": "p", "answer": 1, "completion": "t", "is_correct": true}]}"#;
    fs::write(&pool, format!("{line}\n{line}\n")).unwrap();
    bestofn()
        .args(["import", "--format", "faithful-cot-pool", "--input"])
        .arg(&pool)
        .arg("--out")
        .arg(dir.path().join("s.jsonl"))
        .assert()
        .code(65)
        .stderr(contains(
            "pool.jsonl:2: problem id \"7\" again (first on line 1)",
        ));
    bestofn()
        .args([
            "import",
            "--format",
            "gsm8k-example-solutions:bogus",
            "--input",
        ])
        .arg(&pool)
        .arg("--out")
        .arg(dir.path().join("s.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("unknown run \"bogus\""));
}

/// (16) A `.gz` output is compressed, and read back by the next stage.
#[test]
fn gz_outputs_are_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("labeled.jsonl.gz");
    bestofn()
        .args(["label", "--problems"])
        .arg(fixture("problems.jsonl"))
        .arg("--samples")
        .arg(fixture("samples.jsonl"))
        .arg("--out")
        .arg(&gz)
        .assert()
        .success();
    assert_eq!(&fs::read(&gz).unwrap()[..2], &[0x1f, 0x8b]);
    bestofn()
        .args(["rank", "--samples"])
        .arg(&gz)
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .assert()
        .success()
        .stderr(contains("majority: 3 answers"));
}

/// (17) A composed set appears whole: its four files, or none.
#[test]
fn composed_sets_appear_whole() {
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("gsm.jsonl");
    fs::write(
        &problems,
        concat!(
            "{\"question\": \"Tom has 3 apples and buys 4 more. How many?\", \"answer\": \"3+4=<<3+4=7>>7\\n#### 7\"}\n",
            "{\"question\": \"Ann has 5 pens and gets 6 more. How many?\", \"answer\": \"5+6=<<5+6=11>>11\\n#### 11\"}\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("sub").join("composed.jsonl");
    bestofn()
        .args(["compose", "--problems"])
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let names: Vec<String> = fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for name in [
        "composed.jsonl",
        "composed.q1.jsonl",
        "composed.q2.jsonl",
        "composed.summary.json",
        "composed.jsonl.settings.toml",
    ] {
        assert!(names.contains(&name.to_owned()), "{names:?}");
    }
    assert_eq!(names.len(), 5, "no temporary files left: {names:?}");
}

/// (18) Errors say what failed once, with the line; bad bytes can be skipped.
#[test]
fn errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    bestofn()
        .args(["rank", "--samples"])
        .arg(dir.path().join("absent.jsonl"))
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .assert()
        .code(74)
        .stderr(contains(
            "absent.jsonl: No such file or directory (os error 2)\n",
        ));
    let latin1 = dir.path().join("latin1.jsonl");
    let good = fs::read(fixture("samples.jsonl")).unwrap();
    let mut bytes = good.clone();
    bytes.extend_from_slice(
        b"{\"problem_id\": \"eggs\", \"sample_idx\": 99, \"text\": \"caf\xe9\"}\n",
    );
    fs::write(&latin1, &bytes).unwrap();
    let label = |extra: &[&str]| {
        let mut command = bestofn();
        command
            .args(["label", "--problems"])
            .arg(fixture("problems.jsonl"))
            .arg("--samples")
            .arg(&latin1)
            .arg("--out")
            .arg(dir.path().join("out.jsonl"))
            .args(extra);
        command
    };
    label(&[])
        .assert()
        .code(65)
        .stderr(contains("latin1.jsonl:13: not valid UTF-8"));
    label(&["--skip-invalid"])
        .assert()
        .success()
        .stderr(contains("skipped        1 invalid lines"));
    // A byte-order mark and a repeated key.
    let bom = dir.path().join("bom.jsonl");
    let mut with_bom = b"\xef\xbb\xbf".to_vec();
    with_bom.extend_from_slice(&good);
    fs::write(&bom, with_bom).unwrap();
    bestofn()
        .args(["label", "--problems"])
        .arg(fixture("problems.jsonl"))
        .arg("--samples")
        .arg(&bom)
        .arg("--out")
        .arg(dir.path().join("bom-labeled.jsonl"))
        .assert()
        .success()
        .stderr(contains("samples        12"));
    let repeated = dir.path().join("repeated.jsonl");
    fs::write(
        &repeated,
        "{\"problem_id\": \"eggs\", \"sample_idx\": 0, \"text\": \"t\", \"extracted\": \"1\", \"extracted\": \"2\"}\n",
    )
    .unwrap();
    bestofn()
        .args(["rank", "--samples"])
        .arg(&repeated)
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .assert()
        .code(65)
        .stderr(contains(
            "repeated.jsonl:1: field `extracted`: appears twice",
        ));
}
