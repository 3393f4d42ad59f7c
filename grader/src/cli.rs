//! The command line: one registry of subcommands and flags (clap) that `--help`, the man page,
//! the shell completions and the book's reference page are all generated from. The commands
//! themselves live in `cmd/`, one file each.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::cmd;
use crate::exit;

/// Hands-on labs for the SRE course, graded against your real Docker engine.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about, after_help = exit::TABLE)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `lab check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per step, then what failed and how to fix it.
    Human,
    /// One JSON object (schema_version 1), for scripts and dashboards.
    Json,
    /// JUnit XML, one testcase per check, for CI systems and autograders.
    Junit,
}

/// `lab check`'s options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lab to grade, e.g. day11.
    pub lab: String,
    /// Grade only this step (repeatable): dockerfile, build, run, tag, push, compose, editable.
    #[arg(long = "step", value_name = "ID")]
    pub steps: Vec<String>,
    /// The workspace to grade (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// The Python interpreter for the editable step (default: $VIRTUAL_ENV, ./.venv, ./venv, python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// The tag to grade for the tag and push steps, when there are several.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade your work: files, images, containers, registry and Python environment.
    #[command(after_help = exit::TABLE)]
    Check(CheckArgs),
    /// Show the labs, their steps, and your progress in this workspace.
    List {
        /// The workspace whose progress to show (default: the current directory).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// Create a workspace for a lab from its sample app (never overwrites anything).
    Start {
        /// The lab, e.g. day11.
        lab: String,
        /// Where to create the workspace (default: ./<lab>).
        dir: Option<PathBuf>,
    },
    /// Show the next hint for a step: each call shows one more, from a nudge to the near-answer.
    Hint {
        /// The lab, e.g. day11.
        lab: String,
        /// The step, e.g. dockerfile.
        step: String,
        /// The workspace (default: the current directory); hints shown are counted per workspace.
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// Show the reference answer for a step, and why it is right.
    Solution {
        /// The lab, e.g. day11.
        lab: String,
        /// The step, e.g. dockerfile.
        step: String,
    },
    /// Show what passed and when, from the last checks in this workspace.
    Status {
        /// The workspace (default: the current directory).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// Re-grade as you work: on file changes and engine events (build, tag, start, die, push).
    Watch {
        /// The lab, e.g. day11.
        lab: String,
        /// The workspace (default: the current directory).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// The Python interpreter for the editable step.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
    },
    /// Remove what the lab made in the engine (after listing it and asking); nothing else.
    Reset {
        /// The lab, e.g. day11.
        lab: String,
        /// The workspace whose Compose project to remove (default: the current directory).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Check that this machine is ready for the lab, with a fix for each problem.
    Doctor,
    /// Play the reference solution through every step on this engine, then grade it.
    Demo {
        /// The lab, e.g. day11.
        lab: String,
        /// The workspace to create and play in (default: ./<lab>-demo); must not exist yet.
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// The registry namespace for the tag and push steps.
        #[arg(long, default_value = "student")]
        namespace: String,
    },
    /// Show the catalogue of check kinds a lab file can use, with what each checks.
    Kinds,
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
    /// For course authors: validate labs and regenerate the book's generated regions.
    #[command(hide = true)]
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

/// Course authors' commands.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Validate every lab definition.
    Check,
    /// Regenerate the book's generated regions from the labs and the code.
    Book {
        /// The book's source directory.
        #[arg(long, default_value = "book/src")]
        src: PathBuf,
        /// Do not write: exit 1 if any region is out of date.
        #[arg(long)]
        check: bool,
    },
}

/// The clap command, for generated help, man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parse arguments, run, and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            };
            let _ = e.print();
            return code;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::USAGE;
        }
    };
    let code = rt.block_on(run(cli));
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Check(args) => cmd::check::run(args).await,
        Command::List { dir } => cmd::list::run(dir),
        Command::Start { lab, dir } => cmd::start::run(&lab, dir),
        Command::Hint { lab, step, dir } => cmd::hint::run(&lab, &step, dir),
        Command::Solution { lab, step } => cmd::solution::run(&lab, &step),
        Command::Status { dir } => cmd::status::run(dir),
        Command::Watch { lab, dir, python } => cmd::watch::run(&lab, dir, python).await,
        Command::Reset { lab, dir, yes } => cmd::reset::run(&lab, dir, yes).await,
        Command::Doctor => cmd::doctor::run().await,
        Command::Demo {
            lab,
            dir,
            namespace,
        } => cmd::demo::run(&lab, dir, &namespace).await,
        Command::Kinds => cmd::list::kinds(),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "lab", &mut std::io::stdout());
            exit::PASSED
        }
        Command::Man => match clap_mangen::Man::new(command()).render(&mut std::io::stdout()) {
            Ok(()) => exit::PASSED,
            Err(e) => {
                eprintln!("error: {e}");
                exit::USAGE
            }
        },
        Command::Dev { command } => match command {
            DevCommand::Check => cmd::dev::check(),
            DevCommand::Book { src, check } => cmd::dev::book(&src, check),
        },
    }
}
