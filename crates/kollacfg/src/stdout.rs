//! Standard output of the CLI. A closed pipe (`kollacfg crds | head -1`) ends the command
//! quietly with status 141, what a shell reports for a tool killed by SIGPIPE; any other write
//! error (a full disk, `/dev/full`) is an error on stderr with status 2. Never a panic.

use std::io::{self, Write};

/// The exit status of a command whose standard output was closed (128 + SIGPIPE).
pub const CLOSED_STDOUT: i32 = 141;

/// Writes `text` to standard output, or ends the process as above.
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()) {
        fail(e)
    }
}

/// Flushes standard output, or ends the process as above. Call before exiting.
pub fn flush() {
    if let Err(e) = io::stdout().lock().flush() {
        fail(e)
    }
}

fn fail(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(CLOSED_STDOUT)
    }
    eprintln!("error: writing standard output: {e}");
    std::process::exit(2)
}

/// `print!` to standard output through [`print`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::print(&format!($($arg)*))
    };
}

/// `println!` to standard output through [`print`].
macro_rules! outln {
    () => {
        $crate::stdout::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::stdout::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
