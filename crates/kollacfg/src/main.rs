//! `kollacfg`: renders, diffs and validates kolla configuration from typed resources.
//! This file only parses arguments and maps outcomes to exit codes; the work is in the modules.

mod inputs;
mod plan;
mod report;
mod stdout;
mod write;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Typed, validated kolla configuration: render, diff and validate the files kolla's service
/// containers read, from KollaConfig and fragment resources.
#[derive(Parser)]
#[command(name = "kollacfg", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write every file of every KollaConfig to OUT/<service>/<file>, all or nothing.
    Render {
        #[command(flatten)]
        input: InputArgs,
        /// Directory to write the rendered tree into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Treat conflicts between fragments as errors.
        #[arg(long)]
        strict: bool,
        /// Print, per target, which fragment set each item and which ones lost (values are
        /// not printed: they may be credentials).
        #[arg(long)]
        report: bool,
    },
    /// Print a unified diff of what `render` would change against the base.
    /// Exit 0: nothing would change; 1: something would; 2: error.
    Diff {
        #[command(flatten)]
        input: InputArgs,
    },
    /// Run every check without writing anything.
    Validate {
        #[command(flatten)]
        input: InputArgs,
        /// Treat conflicts between fragments as errors.
        #[arg(long)]
        strict: bool,
        /// Print, per target, which fragment set each item and which ones lost.
        #[arg(long)]
        report: bool,
    },
    /// Print every CustomResourceDefinition as YAML.
    Crds,
    /// Run the controller in a cluster: render every KollaConfig into its Secret or ConfigMap
    /// and keep it current. The cluster comes from KUBECONFIG, ~/.kube/config or the pod's
    /// service account; logs go to stderr, filtered by RUST_LOG (default info).
    Run {
        /// Watch only these namespaces (comma-separated, or the flag repeated; default: all
        /// namespaces). Each gets its own caches and reconcile loop.
        #[arg(long, value_name = "NS[,NS...]", env = "KOLLACFG_NAMESPACE",
              value_delimiter = ',', value_parser = namespace_name)]
        namespace: Vec<String>,
        /// How many KollaConfigs are reconciled at once (per watched namespace).
        #[arg(long, value_name = "N", default_value_t = 4, env = "KOLLACFG_CONCURRENCY",
              value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
        /// Log line format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "KOLLACFG_LOG_FORMAT")]
        log_format: LogFormat,
        /// Address serving /healthz, /readyz and /metrics (Prometheus).
        #[arg(
            long,
            value_name = "ADDR",
            default_value = "0.0.0.0:8080",
            env = "KOLLACFG_METRICS_ADDR"
        )]
        metrics_addr: std::net::SocketAddr,
        /// Reconcile only while holding a coordination.k8s.io Lease, so that several replicas
        /// are safe (only the leader writes).
        #[arg(long, env = "KOLLACFG_LEADER_ELECT")]
        leader_elect: bool,
        /// Namespace of the Lease (default: $POD_NAMESPACE, else kollacfg-system).
        #[arg(long, value_name = "NS", requires = "leader_elect")]
        lease_namespace: Option<String>,
        /// Name of the Lease.
        #[arg(long, value_name = "NAME", default_value = "kollacfg")]
        lease_name: String,
    },
}

/// `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `--namespace`: a Kubernetes namespace name (an RFC 1123 label: at most 63 lowercase letters,
/// digits and `-`, starting and ending with a letter or digit).
fn namespace_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a namespace name (at most 63 lowercase letters, digits and '-', \
             starting and ending with a letter or digit)"
        ))
    }
}

#[derive(clap::Args)]
struct InputArgs {
    /// YAML files or directories (searched recursively for .yaml/.yml) holding KollaConfigs and
    /// fragments; multi-document files are fine; `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, num_args = 1..)]
    paths: Vec<PathBuf>,
    /// A kolla config tree like /etc/kolla: the base of service S is DIR/S/<file>.
    #[arg(long, value_name = "DIR")]
    base: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = run(cli.command);
    stdout::flush();
    code
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Render {
            input,
            out,
            strict,
            report,
        } => {
            let Some(plan) = plan::build(&input.paths, input.base.as_deref(), strict) else {
                return ExitCode::from(1);
            };
            if report {
                report::items(&plan);
            }
            match write::write_all(&out, &plan) {
                Ok(stats) => {
                    report::summary(&plan, &stats);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}; nothing was written");
                    ExitCode::from(1)
                }
            }
        }
        Command::Diff { input } => match plan::build(&input.paths, input.base.as_deref(), false) {
            None => ExitCode::from(2),
            Some(plan) if report::diff(&plan) => ExitCode::from(1),
            Some(_) => ExitCode::SUCCESS,
        },
        Command::Validate {
            input,
            strict,
            report,
        } => match plan::build(&input.paths, input.base.as_deref(), strict) {
            Some(plan) => {
                if report {
                    report::items(&plan);
                }
                report::validated(&plan);
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        Command::Crds => {
            stdout::print(&kollacfg_api::crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Run {
            namespace,
            concurrency,
            log_format,
            metrics_addr,
            leader_elect,
            lease_namespace,
            lease_name,
        } => {
            kollacfg_controller::telemetry::init(match log_format {
                LogFormat::Text => kollacfg_controller::LogFormat::Text,
                LogFormat::Json => kollacfg_controller::LogFormat::Json,
            });
            let mut namespaces = namespace;
            namespaces.sort();
            namespaces.dedup();
            let settings = kollacfg_controller::Settings {
                namespaces,
                concurrency,
                metrics_addr: Some(metrics_addr),
                leader_election: leader_elect.then_some(kollacfg_controller::LeaderElection {
                    namespace: lease_namespace,
                    name: lease_name,
                }),
            };
            match kollacfg_controller::run_blocking(settings) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
