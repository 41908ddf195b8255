//! Policy patterns against Erlang's `re`, which RabbitMQ compiles them with: `re_corpus.txt`
//! holds patterns with Erlang 25's verdict (`ok` or `err`, a tab, the pattern), and the
//! engine's check must agree on every line but the documented differences below, where it
//! refuses what PCRE accepts (never the reverse). An ignored test checks the verdicts
//! themselves with the real `re` (`escript`, from Debian's Erlang).

#[path = "support/escript.rs"]
mod escript;

use kollacfg_render::validate::policy_pattern;

/// Patterns PCRE accepts and the engine refuses on purpose (see `kollacfg_render::pcre`):
/// recursion and subroutine calls, and `\p{...}` scripts outside the engine's list.
const REFUSED_ON_PURPOSE: &[&str] = &[
    "(?P>n)(?P<n>a)",
    "(?&n)(?<n>a)",
    "(?1)(a)",
    "(a)(?-1)",
    "(a)\\g<1>",
    "\\p{Tifinagh}",
];

fn corpus() -> Vec<(bool, String)> {
    include_str!("re_corpus.txt")
        .lines()
        .map(|line| {
            let (verdict, pattern) = line.split_once('\t').expect("verdict<TAB>pattern");
            (verdict == "ok", pattern.to_string())
        })
        .collect()
}

#[test]
fn the_engine_agrees_with_erlang_re_on_the_corpus() {
    let mut wrong = Vec::new();
    for (ok, pattern) in corpus() {
        let ours = policy_pattern(&pattern);
        let expected = ok && !REFUSED_ON_PURPOSE.contains(&pattern.as_str());
        if ours.is_ok() != expected {
            wrong.push(format!(
                "{pattern:?}: Erlang {}, engine {ours:?}",
                if ok { "accepts" } else { "refuses" }
            ));
        }
    }
    for p in REFUSED_ON_PURPOSE {
        assert!(
            corpus().contains(&(true, p.to_string())),
            "{p} must be in the corpus as ok"
        );
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
#[ignore = "needs escript from Erlang (tests/run installs rabbitmq-server)"]
fn the_corpus_verdicts_are_erlang_re_s() {
    let patterns: Vec<String> = corpus().into_iter().map(|(_, p)| p).collect();
    let text = escript::run_over_patterns("re_verdicts.escript", &patterns);
    assert_eq!(text, include_str!("re_corpus.txt"));
}
