//! Requests that are served without counting as activity, as in the
//! `inactivity` policy: health checks, uptime monitors, bots.

use paastis_sdk::{Params, PolicyError, Request};

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
