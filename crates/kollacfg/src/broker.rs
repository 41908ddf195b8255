//! `kollacfg broker diff|sync`: the live-broker engine for kolla-ansible hosts. Renders the
//! inputs as `render` would, takes the rendered `definitions.json`'s policies as desired and
//! compares them with the broker's (one `GET /api/policies`); `diff` prints the writes, `sync`
//! makes them. Deletable: the `absent` policies, or with `--prune` every live policy not
//! desired. Nothing is written to disk; the password is never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kollacfg_broker::{
    apply, plan, policies_from_definitions, Broker, BrokerConfig, BrokerError, Plan, Policy,
    PolicyKey,
};
use kollacfg_render::contrib::RABBITMQ_SERVICE;
use kollacfg_render::items::{ItemKey, DEFINITIONS_JSON};
use kollacfg_render::ResourceRef;

use crate::plan::{build_selected, Selection};

/// How many unmanaged policy names are printed.
const UNMANAGED_SHOWN: usize = 20;

/// What to connect to and what may be deleted.
pub struct Options<'a> {
    /// `-f` paths.
    pub paths: &'a [PathBuf],
    /// `--base`.
    pub base: Option<&'a Path>,
    /// `--target`.
    pub target: Option<&'a str>,
    /// `--url`.
    pub url: &'a str,
    /// `--user`.
    pub user: &'a str,
    /// `--password-file`.
    pub password_file: &'a Path,
    /// `--ca-file`.
    pub ca_file: Option<&'a Path>,
    /// `--insecure-skip-tls-verify`.
    pub insecure: bool,
    /// `--prune`.
    pub prune: bool,
    /// `--timeout`, per request.
    pub timeout: Duration,
}

/// A failure before or outside the per-policy writes: exit code 2.
struct Fatal(String);

impl From<BrokerError> for Fatal {
    fn from(e: BrokerError) -> Self {
        Fatal(e.to_string())
    }
}

/// `broker diff` (`apply_changes` false) or `broker sync`.
pub fn run(options: &Options<'_>, apply_changes: bool) -> ExitCode {
    match run_inner(options, apply_changes) {
        Ok(code) => code,
        Err(Fatal(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(o: &Options<'_>, apply_changes: bool) -> Result<ExitCode, Fatal> {
    let Desired {
        policies: desired,
        absent,
        from,
    } = desired_policies(o)?;
    let password = read_password(o.password_file)?;
    let ca_pem = match o.ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| Fatal(format!("--ca-file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let broker = Broker::new(BrokerConfig {
        url: o.url.to_string(),
        username: o.user.to_string(),
        password,
        ca_pem,
        insecure_skip_tls_verify: o.insecure,
        timeout: o.timeout,
    })?;
    if o.insecure {
        eprintln!("warning: --insecure-skip-tls-verify: the broker's certificate is not checked");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let live = broker
            .list_policies()
            .await
            .map_err(|e| Fatal(format!("{}: {e}", broker.url())))?;
        let live_keys: BTreeSet<PolicyKey> = live.iter().map(Policy::key).collect();
        let mut deletable = absent.clone();
        if o.prune {
            deletable.extend(live_keys.iter().cloned());
        }
        let planned = plan(&desired, &live, &deletable);
        print_plan(&planned, &live_keys, &absent);
        if !apply_changes {
            println!(
                "{}: {} desired, {} live: {} to put, {} to delete, {} unmanaged left alone",
                broker.url(),
                planned.desired,
                planned.live,
                planned.puts.len(),
                planned.deletes.len(),
                planned.unmanaged.len()
            );
            return Ok(ExitCode::from(u8::from(!planned.is_empty())));
        }
        let (desired_count, live_count, unmanaged) =
            (planned.desired, planned.live, planned.unmanaged.len());
        let outcome = apply(&broker, planned)
            .await
            .map_err(|e| Fatal(format!("{}: {e}", broker.url())))?;
        for key in &outcome.put {
            println!("put {key}");
        }
        for key in &outcome.deleted {
            println!("deleted {key}");
        }
        for (key, error) in &outcome.failures {
            match from.get(key) {
                Some(fragment) => eprintln!("error: {fragment}: policy {key}: {error}"),
                None => eprintln!("error: policy {key} (base definitions.json): {error}"),
            }
        }
        println!(
            "{}: {} put, {} deleted, {} refused, {unmanaged} unmanaged left alone \
             ({desired_count} desired, {live_count} live before)",
            broker.url(),
            outcome.put.len(),
            outcome.deleted.len(),
            outcome.failures.len(),
        );
        Ok(ExitCode::from(u8::from(!outcome.failures.is_empty())))
    })
}

/// What the selected rabbitmq target wants.
struct Desired {
    /// The policies of its rendered `definitions.json`.
    policies: Vec<Policy>,
    /// Its `absent` policy keys.
    absent: BTreeSet<PolicyKey>,
    /// The fragment that decided each policy a fragment set (the others come from the base).
    from: BTreeMap<PolicyKey, ResourceRef>,
}

/// The policies of the selected rabbitmq target's rendered `definitions.json`, its `absent`
/// policy keys, and which fragment set each.
fn desired_policies(o: &Options<'_>) -> Result<Desired, Fatal> {
    let selection = match o.target {
        Some(name) => Selection::Named(name),
        None => Selection::Service(RABBITMQ_SERVICE),
    };
    let rendered = build_selected(o.paths, o.base, false, &selection)
        .ok_or_else(|| Fatal("the inputs do not render; nothing was sent".to_string()))?;
    let target = match rendered.targets.as_slice() {
        [] => {
            return Err(Fatal(match o.target {
                Some(name) => format!("--target {name}: no KollaConfig of that name in the input"),
                None => "no KollaConfig with service rabbitmq in the input".to_string(),
            }))
        }
        [one] => one,
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|t| t.output.target.to_string())
                .collect();
            return Err(Fatal(format!(
                "several rabbitmq KollaConfigs in the input ({}): pick one with --target NAME",
                names.join(", ")
            )));
        }
    };
    if target.service != RABBITMQ_SERVICE {
        return Err(Fatal(format!(
            "{}: spec.service: {:?} is not rabbitmq; only a rabbitmq target has policies",
            target.output.target, target.service
        )));
    }
    let desired = match target.output.files.get(DEFINITIONS_JSON) {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| Fatal(format!("{}: {DEFINITIONS_JSON}: {e}", target.output.target)))?;
            policies_from_definitions(text)
                .map_err(|e| Fatal(format!("{}: {e}", target.output.target)))?
        }
        None => Vec::new(),
    };
    let absent = target
        .output
        .absent_policies()
        .into_iter()
        .map(|(vhost, name)| PolicyKey::new(vhost, name))
        .collect();
    let from = target
        .output
        .items
        .iter()
        .filter_map(|item| match &item.item {
            ItemKey::Policy { vhost, name } => {
                Some((PolicyKey::new(vhost, name), item.winner.clone()))
            }
            _ => None,
        })
        .collect();
    Ok(Desired {
        policies: desired,
        absent,
        from,
    })
}

/// The password file's content without its trailing line break.
fn read_password(path: &Path) -> Result<String, Fatal> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Fatal(format!("--password-file {}: {e}", path.display())))?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(Fatal(format!(
            "--password-file {}: the file is empty",
            path.display()
        )));
    }
    Ok(password.to_string())
}

/// One line per planned write (the policies' values are not secret), then the unmanaged ones.
fn print_plan(planned: &Plan, live: &BTreeSet<PolicyKey>, absent: &BTreeSet<PolicyKey>) {
    for p in &planned.puts {
        let what = if live.contains(&p.key()) {
            "changed"
        } else {
            "new"
        };
        println!(
            "PUT {} ({what}): pattern {:?}, apply-to {}, priority {}, definition {}",
            p.key(),
            p.pattern,
            p.apply_to,
            p.priority,
            serde_json::Value::Object(p.definition.clone())
        );
    }
    for key in &planned.deletes {
        let why = if absent.contains(key) {
            "absent"
        } else {
            "not desired, --prune"
        };
        println!("DELETE {key} ({why})");
    }
    if !planned.unmanaged.is_empty() {
        let shown: Vec<String> = planned
            .unmanaged
            .iter()
            .take(UNMANAGED_SHOWN)
            .map(ToString::to_string)
            .collect();
        let more = planned.unmanaged.len().saturating_sub(UNMANAGED_SHOWN);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        println!("unmanaged, left alone: {}{tail}", shown.join(", "));
    }
}
