//! The shared convention for passive requests (health checks, uptime
//! monitors, bots), read from two params, so every policy that offers it
//! offers it the same way:
//! - `passive_paths`: a request whose path equals an entry, or starts with an
//!   entry ending in `*` (minus the star), is passive;
//! - `passive_user_agents`: a request whose User-Agent contains an entry,
//!   ignoring case, is passive.

use crate::{Params, PolicyError, Request};

/// Whether `request` is passive under `params`; an error names a malformed param.
pub fn is_passive(params: &Params, request: &Request) -> Result<bool, PolicyError> {
    let path = request.path();
    if params.string_list_or("passive_paths", &[])?.iter().any(|pattern| path_matches(pattern, path)) {
        return Ok(true);
    }
    let Some(agent) = request.user_agent() else {
        return Ok(false);
    };
    let agent = agent.to_lowercase();
    Ok(params
        .string_list_or("passive_user_agents", &[])?
        .iter()
        // An empty entry would match every client, which is never meant.
        .filter(|needle| !needle.is_empty())
        .any(|needle| agent.contains(&needle.to_lowercase())))
}

/// An entry ending in `*` matches every path starting with the rest of it.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == pattern,
    }
}
