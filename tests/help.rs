//! `--help` of every command, as snapshots: a flag added, renamed or reworded shows up in review.

use assert_cmd::Command;

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
    use clap::CommandFactory;
    insta::assert_snapshot!("bestofn", help(&[]));
    // Every command the CLI has: one added later gets its snapshot without a list to update.
    let cli = bestofn::commands::Cli::command();
    for command in cli.get_subcommands().map(|c| c.get_name()) {
        insta::assert_snapshot!(command, help(&[command]));
    }
}
