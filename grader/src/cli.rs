//! The command line: one registry of subcommands and flags (clap) that `--help`, the man page,
//! the shell completions and the book's reference page are all generated from. Definitions
//! only: `cmd::main` parses and dispatches to `cmd/`, one file per command, so nothing here
//! depends on the commands.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::workspace::DirArg;

/// Hands-on labs for the SRE course, graded against your real Docker engine.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about, after_help = exit::TABLE)]
pub struct Cli {
    /// Read labs from this directory (default: $LAB_LABS_DIR, then labs/ next to the binary,
    /// then the labs built into `lab`).
    #[arg(long, global = true, value_name = "DIR")]
    pub labs: Option<PathBuf>,
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
    /// GitHub Actions: annotations on stdout for findings with a file and line (within
    /// GitHub's limits), and a Markdown job summary appended to $GITHUB_STEP_SUMMARY (printed
    /// after the annotations when that is not set).
    Github,
}

/// `lab check`'s options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lab to grade, e.g. day11.
    pub lab: String,
    /// Grade only this step (repeatable); `lab list` shows a lab's steps. Optional steps are
    /// graded when named.
    #[arg(long = "step", value_name = "ID")]
    pub steps: Vec<String>,
    /// Grade the optional ("going further") steps too; they count as bonus.
    #[arg(long)]
    pub optional: bool,
    #[command(flatten)]
    pub dir: DirArg,
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

/// `lab ci`'s exit codes and outputs, for `--help`.
pub const CI_AFTER_HELP: &str = "Exit codes: 0 every step passed; 1 a step failed or was skipped; \
2 bad usage; 3 the container engine could not be reached; 4 the runner's infrastructure failed \
(no registry answers, the repository cannot be copied): never the learner's fault; 130 \
interrupted (what the run made was removed).\n\n--out DIR writes report.json (the JSON report \
with a `ci` object), junit.xml, results.json (Gradescope), result.json (classroom50), \
summary.md; in GitHub Actions the summary also goes to $GITHUB_STEP_SUMMARY.";

/// `lab ci`'s options and commands.
#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub command: Option<CiCommand>,
    /// The lab to grade, e.g. day11.
    pub lab: Option<String>,
    /// The learner's repository (a checkout; never written).
    #[arg(long, value_name = "REPO", default_value = ".")]
    pub dir: PathBuf,
    /// The registry the push step pushes to; a job starts one (a `registry:2` service).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5001")]
    pub registry: String,
    /// Write every output here: report.json, junit.xml, results.json, result.json, summary.md.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The run's id (lowercase letters, digits, `-`), so a later `lab ci sweep` finds what it
    /// made: in GitHub Actions, `${{ github.run_id }}-${{ github.run_attempt }}`.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Seconds each replayed command may run (default: the lab's `[ci] command_secs`).
    #[arg(long, value_name = "SECS")]
    pub command_timeout: Option<u64>,
    /// On a self-hosted runner (which outlives the job): replay and grade the steps that run
    /// the learner's own code (the editable install's build backend) in a throwaway container
    /// of IMAGE, unprivileged, seeing only the run's copy. IMAGE needs glibc and Python 3.8+,
    /// e.g. python:3.12-slim. A GitHub-hosted runner's VM is thrown away after the job.
    #[arg(long, value_name = "IMAGE")]
    pub setup_in_container: Option<String>,
}

/// `lab ci`'s commands.
#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Remove what run ID made (containers, networks, images, by its label and names): the
    /// `if: always()` step after a cancelled job.
    Sweep {
        /// The run's id, as given to `lab ci --run-id`.
        #[arg(long, value_name = "ID")]
        run_id: String,
    },
    /// Merge many learners' results (each run's `--out` directory or its result.json) into one
    /// CSV and a Gradescope file per learner, checked against the roster.
    Collect {
        /// CSV with a header `learner,repository` (repository as OWNER/NAME).
        #[arg(long, value_name = "FILE")]
        roster: PathBuf,
        /// Where to write grades.csv, flagged.csv and gradescope/LEARNER.json.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The runs' output directories (or their result.json files).
        #[arg(required = true, value_name = "RESULTS")]
        results: Vec<PathBuf>,
        /// Clones of the learners' repositories, `DIR/OWNER/NAME`, to check that each graded
        /// commit is in its repository's history.
        #[arg(long, value_name = "DIR")]
        clones: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade your work: files, images, containers, registry and Python environment.
    #[command(after_help = exit::TABLE)]
    Check(CheckArgs),
    /// Grade a learner's committed repository on a CI runner: replay the lesson from its
    /// files on this engine, grade the result, remove everything the run made.
    #[command(after_help = CI_AFTER_HELP, args_conflicts_with_subcommands = true)]
    Ci(CiArgs),
    /// Show the labs, their steps, and your progress in this workspace.
    List {
        #[command(flatten)]
        dir: DirArg,
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
        /// Hints shown are counted per workspace.
        #[command(flatten)]
        dir: DirArg,
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
        #[command(flatten)]
        dir: DirArg,
    },
    /// Re-grade as you work: on file changes, and on engine events about the lab's images,
    /// containers and Compose project (tag, push, start, die, ...), only the steps they concern.
    Watch {
        /// The lab, e.g. day11.
        lab: String,
        #[command(flatten)]
        dir: DirArg,
        /// The Python interpreter for the editable step.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
    },
    /// Remove what the lab made in the engine (after listing it and asking); nothing else.
    Reset {
        /// The lab, e.g. day11.
        lab: String,
        /// Its Compose project is removed too.
        #[command(flatten)]
        dir: DirArg,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Check that this machine is ready for a lab (what its check kinds need), with a fix for
    /// each problem.
    Doctor {
        /// The lab (default: the only one, or day11).
        lab: Option<String>,
    },
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
    /// Run a workshop room, or link this workspace to one (results go to the instructor's
    /// live dashboard).
    Classroom {
        #[command(subcommand)]
        command: ClassroomCommand,
    },
    /// The offline room kit: build it on a connected machine, install it on each laptop.
    Kit {
        #[command(subcommand)]
        command: KitCommand,
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

/// `lab kit`'s commands.
#[derive(Debug, Subcommand)]
pub enum KitCommand {
    /// Build a kit into DIR (a new directory): the base image with its wheels, host wheels,
    /// the registry, the lab binary, the built book, the sample workspace, a manifest.
    Build {
        /// The directory to create.
        dir: PathBuf,
        /// The lab (default: the only one).
        #[arg(long, value_name = "LAB")]
        lab: Option<String>,
    },
    /// Install a kit on this machine (no network needed; safe to run again).
    Install {
        /// The kit's directory.
        dir: PathBuf,
    },
    /// Remove what `lab kit install` set up, and nothing else.
    Uninstall,
}

/// `lab classroom`'s commands.
#[derive(Debug, Subcommand)]
pub enum ClassroomCommand {
    /// Run the room server (instructor): a live dashboard of every learner's steps.
    Serve {
        /// Where to listen; `127.0.0.1:0` picks a free port and prints it.
        #[arg(long, default_value = "0.0.0.0:8088", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The room's data directory (SQLite database, tokens); default under the state dir.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The lab the room runs (default: the only one).
        #[arg(long, value_name = "LAB")]
        lab: Option<String>,
        /// Serve HTTPS with this certificate (PEM; self-signed is fine: learners pin it).
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Minutes on the same failing step before the dashboard's "needs help first"
        /// highlights a learner.
        #[arg(long, value_name = "MIN", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
        alarm_minutes: u32,
    },
    /// Link this workspace to a room: each `lab check` and `lab watch` result is sent to it.
    Join {
        /// The room's address, as the instructor shows it: http://HOST:PORT.
        url: String,
        /// The room's join code.
        #[arg(long)]
        code: String,
        /// Your name in the room (up to 64 printable characters).
        #[arg(long)]
        name: String,
        /// For an https:// room: the certificate fingerprint `serve` printed (SHA256:...).
        #[arg(long, value_name = "SHA256")]
        fingerprint: Option<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Stop sending results to the room (it keeps them, marked as left).
    Leave {
        #[command(flatten)]
        dir: DirArg,
    },
}

/// Course authors' commands.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Validate every lab definition.
    Check,
    /// The floor of a serving check, over the Engine API: start one container from the image
    /// on a loopback port, wait for its first HTTP answer, remove it (bench/run.sh).
    ProbeFloor {
        /// The image.
        #[arg(long)]
        image: String,
        /// The container port the app listens on.
        #[arg(long)]
        port: u16,
    },
    /// Load a room on loopback: simulated learners join and post reports (bench/room-load.sh).
    RoomLoad {
        /// The room, e.g. http://127.0.0.1:8088 (loopback only).
        #[arg(long)]
        url: String,
        /// Its join code.
        #[arg(long)]
        code: String,
        /// The instructor's token (for the event stream).
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 300)]
        learners: usize,
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Milliseconds between one learner's reports.
        #[arg(long, default_value_t = 2000)]
        interval_ms: u64,
    },
    /// Inside `lab ci --setup-in-container`'s container: replay one `[ci] contained` step
    /// and grade it, printing the outcome as one JSON line.
    #[command(hide = true)]
    CiStep {
        lab: String,
        #[arg(long)]
        step: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        venv: PathBuf,
        #[arg(long, default_value_t = 300)]
        command_timeout: u64,
    },
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
