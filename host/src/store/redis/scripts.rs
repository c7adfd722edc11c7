//! The Lua scripts: each makes a read-then-write atomic on the server, which
//! is what keeps concurrent replicas from undoing each other's writes.

use std::sync::LazyLock;

/// KEYS: apps, apps:since, activity. ARGV: quadruples of name, state_since,
/// record JSON, last activity ("" for none). A record replaces the stored
/// one unless the stored transition is newer; activity only grows.
pub(super) static SAVE_APPS: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r#"
for i = 1, #ARGV, 4 do
  local name, since, record, activity = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local stored = tonumber(redis.call('HGET', KEYS[2], name) or '-1')
  if since >= stored then
    redis.call('HSET', KEYS[1], name, record)
    redis.call('HSET', KEYS[2], name, ARGV[i + 1])
  end
  if activity ~= '' then
    redis.call('ZADD', KEYS[3], 'GT', activity, name)
  end
end
return 1
"#,
    )
});

/// KEYS: events, events:seq. ARGV: retention, then one event JSON object
/// per event. Numbers the events, stores each with its id spliced in, drops
/// what falls out of retention; returns the first id given.
pub(super) static APPEND_EVENTS: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r#"
local n = #ARGV - 1
local last = redis.call('INCRBY', KEYS[2], n)
local first = last - n + 1
for i = 1, n do
  local id = first + i - 1
  local json = ARGV[i + 1]
  redis.call('ZADD', KEYS[1], id, '{"id":' .. id .. ',' .. string.sub(json, 2))
end
local keep_from = last - tonumber(ARGV[1]) + 1
if keep_from > 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. keep_from)
end
return first
"#,
    )
});

/// KEYS: leader, leader:epoch. ARGV: replica id, lease in ms. Takes the
/// lease if nobody holds it, renews it if this replica does. Returns
/// {held (0/1), epoch, holder}.
pub(super) static CLAIM_LEASE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r#"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0'), holder}
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, redis.call('INCR', KEYS[2]), ARGV[1]}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0'), holder}
"#,
    )
});

/// KEYS: an app's lock. ARGV: holder, expiry in ms. Takes the lock if it is
/// free, renews it if `holder` holds it; returns 1 then, 0 if someone else
/// holds it.
pub(super) static LOCK_APP: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r#"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#,
    )
});

/// KEYS: a lease or lock. ARGV: its holder. Deletes it only if that holder
/// still holds it, so a late release never frees someone else's lock.
pub(super) static RELEASE_IF_HELD: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});
