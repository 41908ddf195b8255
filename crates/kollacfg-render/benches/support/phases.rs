//! Where the time of a `definitions.json` render goes: the steps of `render::render_target`
//! redone one by one through the crate's public modules, each timed on its own.

use std::hint::black_box;
use std::time::{Duration, Instant};

use kollacfg_render::contrib::contributions;
use kollacfg_render::files::definitions::{Definitions, PolicyText};
use kollacfg_render::items::{ItemKey, ItemValue};
use kollacfg_render::merge::{self, Offer};
use kollacfg_render::render::{render_target, TargetOutput};
use kollacfg_render::{validate, Fragment, FragmentBody};

use super::timing::{ms, Stats};
use super::Case;

/// Times `run` on a fresh input from `setup` each time (setup not timed).
fn stage<I, O>(runs: usize, mut setup: impl FnMut() -> I, mut run: impl FnMut(I) -> O) -> Stats {
    let mut samples = Vec::with_capacity(runs);
    for n in 0..runs + 1 {
        let input = setup();
        let start = Instant::now();
        let output = run(input);
        let elapsed = start.elapsed();
        drop(black_box(output));
        if n > 0 {
            samples.push(elapsed);
        }
    }
    Stats::of(samples)
}

/// Prints the steps of the rabbitmq case with their medians and their share of `engine`.
pub fn rabbitmq(case: &Case, runs: usize, engine: Duration) {
    let target = &case.target;
    let version = target
        .rabbitmq_version
        .as_deref()
        .map(|v| validate::rabbitmq_version(v).expect("valid version"));
    let base = std::str::from_utf8(&case.base[case.file]).expect("UTF-8 base");
    let offers = || {
        let mut offers = Vec::new();
        for fragment in &case.fragments {
            let list = contributions(fragment, target, version).expect("valid fragment");
            offers.extend(list.into_iter().map(|contribution| Offer {
                from: &fragment.id,
                precedence: fragment.precedence,
                contribution,
            }));
        }
        offers
    };
    let items = merge::resolve(offers());
    let policies: Vec<PolicyText<'_>> = items
        .iter()
        .filter_map(|i| match (&i.item, &i.value) {
            (ItemKey::Policy { vhost, name }, ItemValue::Policy(json)) => {
                Some(PolicyText { vhost, name, json })
            }
            _ => None,
        })
        .collect();
    let parsed = Definitions::parse(base).expect("base parses");
    let mut edited = parsed.clone();
    edited.upsert_policy_texts(&policies);
    let rendered = edited.render();

    let patterns = stage(
        runs,
        || (),
        |()| {
            for fragment in &case.fragments {
                if let FragmentBody::RabbitPolicy(p) = &fragment.body {
                    validate::policy_pattern(&p.pattern).expect("pattern compiles");
                }
            }
        },
    );
    // What a syntax-only check of the same patterns would cost (not what the engine does).
    let parse_only = stage(
        runs,
        || (),
        |()| {
            for fragment in &case.fragments {
                if let FragmentBody::RabbitPolicy(p) = &fragment.body {
                    fancy_regex::Expr::parse_tree(&p.pattern).expect("pattern parses");
                }
            }
        },
    );
    let rows = [
        (
            "validate + contributions (all fragments)",
            stage(runs, || (), |()| offers()),
        ),
        ("  of which: check the 10k patterns", patterns),
        ("  (for comparison: only parse them)", parse_only),
        (
            "merge::resolve (precedence per item)",
            stage(runs, offers, merge::resolve),
        ),
        (
            "Definitions::parse (base)",
            stage(runs, || (), |()| Definitions::parse(base)),
        ),
        (
            "upsert_policy_texts (10k policies)",
            stage(
                runs,
                || parsed.clone(),
                |mut doc| {
                    doc.upsert_policy_texts(&policies);
                    doc
                },
            ),
        ),
        (
            "Definitions::render",
            stage(runs, || (), |()| edited.render()),
        ),
        (
            "syntax check of the output (IgnoredAny)",
            stage(
                runs,
                || (),
                |()| serde_json::from_str::<serde::de::IgnoredAny>(&rendered).map(|_| ()),
            ),
        ),
        (
            "drop a TargetOutput (files + item report)",
            stage(runs, || render(case), drop),
        ),
    ];
    println!();
    println!("where the rabbitmq render's time goes (each step timed alone, median of {runs}):");
    let mut accounted = Duration::ZERO;
    for (name, stats) in &rows {
        if !name.starts_with(' ') {
            accounted += stats.median;
        }
        println!(
            "  {name:<50} {:>10} ms {:>6.1} %",
            ms(stats.median),
            100.0 * stats.median.as_secs_f64() / engine.as_secs_f64()
        );
    }
    let rest = engine.saturating_sub(accounted);
    println!(
        "  {:<50} {:>10} ms {:>6.1} %",
        "rest (other clones, sorts, report, cache effects)",
        ms(rest),
        100.0 * rest.as_secs_f64() / engine.as_secs_f64()
    );
}

fn render(case: &Case) -> TargetOutput {
    let fragments: Vec<&Fragment> = case.fragments.iter().collect();
    render_target(&case.target, &fragments, &case.base).expect("renders")
}
