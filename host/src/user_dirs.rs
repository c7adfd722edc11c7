//! Per-user directories where the XDG Base Directory spec puts them: the
//! variable's path when it is absolute (the spec ignores an empty or
//! relative one), else its default under `$HOME`. The demo keeps its state
//! in `XDG_STATE_HOME`, the policy compile cache lives in `XDG_CACHE_HOME`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `xdg` (the variable's value) if absolute, else `home`/`under_home`.
pub(crate) fn xdg_home(xdg: Option<OsString>, home: Option<OsString>, under_home: &str) -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    xdg.and_then(absolute).or_else(|| home.and_then(absolute).map(|h| h.join(Path::new(under_home))))
}

#[cfg(test)]
mod tests {
    use super::xdg_home;
    use std::path::PathBuf;

    #[test]
    fn the_variable_when_absolute_else_its_default_under_home() {
        let some = |s: &str| Some(std::ffi::OsString::from(s));
        let state = |xdg, home| xdg_home(xdg, home, ".local/state");
        assert_eq!(state(some("/x/state"), some("/home/ana")), Some(PathBuf::from("/x/state")));
        assert_eq!(state(None, some("/home/ana")), Some(PathBuf::from("/home/ana/.local/state")));
        assert_eq!(state(some("relative"), some("/home/ana")), Some(PathBuf::from("/home/ana/.local/state")));
        assert_eq!(state(some(""), None), None);
        assert_eq!(xdg_home(None, some("/home/ana"), ".cache"), Some(PathBuf::from("/home/ana/.cache")));
    }
}
