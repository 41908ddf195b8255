//! `kollacfg`: renders, diffs and validates kolla configuration from typed resources.
//! This file only parses arguments and maps outcomes to exit codes; the work is in the modules.

mod broker;
mod inputs;
mod materialize;
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
        #[command(flatten)]
        pod: PodArg,
        /// Directory to write the rendered tree into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Treat conflicts between fragments, and literal per-host values in a file every pod
        /// of a DaemonSet or StatefulSet reads (HostSpecificValue), as errors.
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
        #[command(flatten)]
        pod: PodArg,
    },
    /// One pod's files from a rendered output: copy every file of --from into --to with the
    /// per-pod edits of its kollacfg-perpod.json applied (the manifest itself is not copied),
    /// all or nothing. The pod's facts come from KOLLACFG_NODE_NAME, KOLLACFG_HOST_IP,
    /// KOLLACFG_POD_IP, KOLLACFG_POD_NAME and KOLLACFG_POD_NAMESPACE (set them from the
    /// downward API); a fact a template uses that is not set is an error. Each file keeps the
    /// mode of its source, never wider than 0640 (a new file gets 0640). Exit 0: written;
    /// 2: any error, nothing written.
    Materialize {
        /// The rendered files: a directory of files, or a mounted Secret or ConfigMap volume
        /// (kubelet's ..data layout).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Where the pod's files are written (created if missing).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Run every check without writing anything.
    Validate {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        pod: PodArg,
        /// Treat conflicts between fragments, and literal per-host values in a file every pod
        /// of a DaemonSet or StatefulSet reads (HostSpecificValue), as errors.
        #[arg(long)]
        strict: bool,
        /// Print, per target, which fragment set each item and which ones lost.
        #[arg(long)]
        report: bool,
    },
    /// Compare the policies of the rendered definitions.json with a running RabbitMQ (through
    /// its management API) and print or apply the difference.
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
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
        /// Seconds between two reads of a live broker's policies (KollaConfigs with
        /// spec.rabbitmq.management): one GET per KollaConfig per period; a policy changed or
        /// deleted by hand is restored.
        #[arg(long, value_name = "SECONDS", default_value_t = 60, env = "KOLLACFG_BROKER_RESYNC",
              value_parser = clap::value_parser!(u64).range(1..))]
        broker_resync: u64,
        /// Milliseconds a change that restarts workloads (or a KollaConfig's first output)
        /// must stay the same before it is written, so that a burst of edits (kubectl apply
        /// -f DIR, an Argo CD sync) restarts each workload once. 0 writes every change at once.
        #[arg(long, value_name = "MILLISECONDS", default_value_t = 2000, env = "KOLLACFG_SETTLE_MS",
              value_parser = clap::value_parser!(u64).range(0..=600_000))]
        settle_ms: u64,
    },
}

/// `kollacfg broker ...`.
#[derive(Subcommand)]
enum BrokerAction {
    /// Print the PUTs and DELETEs that would make the broker's policies the rendered ones.
    /// Exit 0: nothing to do; 1: changes; 2: error.
    Diff {
        #[command(flatten)]
        args: BrokerArgs,
    },
    /// Apply them. Exit 0: all applied; 1: the broker refused a policy; 2: any other error.
    Sync {
        #[command(flatten)]
        args: BrokerArgs,
    },
}

#[derive(clap::Args)]
struct BrokerArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Base URL of RabbitMQ's management API, e.g. http://127.0.0.1:15672 (https:// for TLS).
    #[arg(long, value_name = "URL")]
    url: String,
    /// Management user (tag policymaker or administrator).
    #[arg(long, value_name = "USER")]
    user: String,
    /// File holding the user's password (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
    /// PEM file of the CA that signed the broker's certificate (only it is trusted).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Do not verify the broker's TLS certificate.
    #[arg(long)]
    insecure_skip_tls_verify: bool,
    /// Also delete every live policy that is not desired (listed first); without it, only
    /// `absent` policies are deleted.
    #[arg(long)]
    prune: bool,
    /// The KollaConfig (NAME or NAMESPACE/NAME) whose policies to use, when the input has
    /// several rabbitmq ones.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Limit on each request to the broker, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

impl BrokerArgs {
    fn options(&self) -> broker::Options<'_> {
        broker::Options {
            paths: &self.input.paths,
            base: self.input.base.as_deref(),
            target: self.target.as_deref(),
            url: &self.url,
            user: &self.user,
            password_file: &self.password_file,
            ca_file: self.ca_file.as_deref(),
            insecure: self.insecure_skip_tls_verify,
            prune: self.prune,
            timeout: std::time::Duration::from_secs(self.timeout),
        }
    }
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

#[derive(clap::Args)]
struct PodArg {
    /// One pod's files instead of the shared output: spec.perPod filled in with these facts
    /// (nodeName=...,hostIP=...,podIP=...,podName=...,podNamespace=...), no
    /// kollacfg-perpod.json.
    #[arg(long, value_name = "FACTS", value_parser = pod_facts)]
    pod: Option<kollacfg_render::per_pod::Facts>,
}

/// `--pod`: `name=value` pairs, comma-separated.
fn pod_facts(value: &str) -> Result<kollacfg_render::per_pod::Facts, String> {
    kollacfg_render::per_pod::Facts::parse(value)
}

impl InputArgs {
    /// Loads, checks and renders the inputs, for one pod with `--pod`.
    fn plan(&self, pod: &PodArg, strict: bool) -> Option<plan::Plan> {
        let mut plan = plan::build(&self.paths, self.base.as_deref(), strict)?;
        match &pod.pod {
            Some(facts) if !plan.for_pod(facts) => None,
            _ => Some(plan),
        }
    }
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
            pod,
            out,
            strict,
            report,
        } => {
            let Some(plan) = input.plan(&pod, strict) else {
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
        Command::Diff { input, pod } => match input.plan(&pod, false) {
            None => ExitCode::from(2),
            Some(plan) if report::diff(&plan) => ExitCode::from(1),
            Some(_) => ExitCode::SUCCESS,
        },
        Command::Validate {
            input,
            pod,
            strict,
            report,
        } => match input.plan(&pod, strict) {
            Some(plan) => {
                if report {
                    report::items(&plan);
                }
                report::validated(&plan);
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        Command::Materialize { from, to } => materialize::run(&from, &to),
        Command::Broker { action } => match action {
            BrokerAction::Diff { args } => broker::run(&args.options(), false),
            BrokerAction::Sync { args } => broker::run(&args.options(), true),
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
            broker_resync,
            settle_ms,
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
                broker_resync: std::time::Duration::from_secs(broker_resync),
                settle: std::time::Duration::from_millis(settle_ms),
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
