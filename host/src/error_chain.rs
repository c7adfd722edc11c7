//! Reading an error's chain of causes, the one way every edge of the
//! gateway turns an error into a line for an operator.

use std::error::Error;

/// The error and its causes, outermost first.
pub(crate) fn chain<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

/// The error and its causes on one line, "a: b: c", each said once: the top
/// level alone ("error sending request", "client error (Connect)") hides the
/// cause, and many errors already quote their source in their own message.
pub(crate) fn causes(e: &(dyn Error + 'static)) -> String {
    let mut line = String::new();
    for cause in chain(e).map(ToString::to_string) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

/// The innermost error's message: "connection refused" says more than
/// hyper's "client error (Connect)".
pub(crate) fn root_cause(e: &(dyn Error + 'static)) -> String {
    chain(e).last().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{causes, root_cause};

    #[test]
    fn a_cause_quoted_by_its_error_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let e = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:9180: Address already in use");
        assert_eq!(causes(e.as_ref()), "cannot listen on 127.0.0.1:9180: Address already in use");
        let e = anyhow::anyhow!("disk full").context("cannot flush");
        assert_eq!(causes(e.as_ref()), "cannot flush: disk full");
        assert_eq!(root_cause(e.as_ref()), "disk full");
    }
}
