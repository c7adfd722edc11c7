//! Policies compiled into the binary, so the gateway works out of the box.

pub const DEFAULT_POLICY: &str = "inactivity";

pub const BUILTIN_POLICIES: &[&str] = &[DEFAULT_POLICY];

pub fn is_builtin(name: &str) -> bool {
    builtin(name).is_some()
}

/// The component bytes of a built-in policy.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    match name {
        DEFAULT_POLICY => Some(crate::policy::INACTIVITY_WASM),
        _ => None,
    }
}
