//! Policies compiled into the binary, so the gateway works out of the box:
//! their names, which config checks against, and their bytes, which only
//! the policy catalog reads.

pub(crate) const DEFAULT_POLICY: &str = "inactivity";

pub(crate) const BUILTIN_POLICIES: &[&str] = &[DEFAULT_POLICY];

/// The default policy (`policies/inactivity`), built by `build.rs`.
pub const INACTIVITY_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inactivity.wasm"));

pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN_POLICIES.contains(&name)
}

/// The component bytes of a built-in policy.
pub(crate) fn wasm(name: &str) -> Option<&'static [u8]> {
    match name {
        DEFAULT_POLICY => Some(INACTIVITY_WASM),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_name_has_bytes() {
        for name in super::BUILTIN_POLICIES {
            assert!(super::wasm(name).is_some_and(|w| !w.is_empty()), "{name}");
        }
        assert!(!super::is_builtin("office-hours.wasm"));
    }
}
