//! The policy-pattern fast path against the real thing: every pattern that
//! `validate::simple_pattern` accepts without a compile must compile in Erlang's `re` (PCRE),
//! which is what RabbitMQ uses. Needs `escript` (Erlang, installed with rabbitmq-server).

#[path = "support/escript.rs"]
mod escript;

use kollacfg_render::validate::simple_pattern;

/// Deterministic candidate patterns over the syntax the fast path deals with.
fn candidates(count: usize) -> Vec<String> {
    const PIECES: &[&str] = &[
        "a", "b", "c", "0", "1", "9", ".", "^", "$", "|", "(", ")", "?", ":", "=", "!", "<", "*",
        "+", ",", "-", "[", "]", "{", "}", " ", "\\d", "\\w", "\\.", "\\-", "(?!", "(?<!", "(?:",
        "(?=", "[0-9a-f]", "[^.]", "{32}", "{2,3}", "{1,}", "_",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let len = (next() % 11) as usize;
            (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "needs escript from Erlang (tests/run installs rabbitmq-server)"]
fn fast_path_patterns_compile_in_erlang_re() {
    let mut accepted: Vec<String> = candidates(80_000)
        .into_iter()
        .filter(|p| simple_pattern(p))
        .collect();
    accepted.sort();
    accepted.dedup();
    assert!(
        accepted.len() > 3000,
        "too few accepted candidates: {}",
        accepted.len()
    );
    let text = escript::run_over_patterns("re_compile.escript", &accepted);
    assert_eq!(
        text.lines().next().unwrap_or_default(),
        format!("{} checked, 0 refused", accepted.len()),
        "{text}"
    );
}
