//! `--help` of every command, as snapshots: a flag added, renamed or reworded shows up in review.

use assert_cmd::Command;

const COMMANDS: [&str; 11] = [
    "generate", "solve", "import", "label", "grade", "score", "rank", "eval", "compose", "export",
    "compare",
];

fn help(args: &[&str]) -> String {
    let output = Command::cargo_bin("bestofn")
        .unwrap()
        .args(args)
        .arg("--help")
        // Flags read from the environment show its value in the help.
        .env_remove("BESTOFN_ORT_LIB")
        .env_remove("OPENAI_BASE_URL")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_command_help() {
    insta::assert_snapshot!("bestofn", help(&[]));
    for command in COMMANDS {
        insta::assert_snapshot!(command, help(&[command]));
    }
}
