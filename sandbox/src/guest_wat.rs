//! Hand-written guests for the sandbox tests: components that match the
//! contract but misbehave in one precise way, which a Rust policy cannot be
//! made to do on demand.

/// The contract's types, imported the way wit-bindgen's guests import them.
const TYPES: &str = r#"
  (import "paastis:policy/types@0.1.0" (instance $types
    (type $s (enum "asleep" "starting" "awake" "stopping"))
    (export "app-state" (type $state (eq $s)))
    (type $pv (variant (case "text" string) (case "integer" s64) (case "float" f64)
                       (case "boolean" bool) (case "text-list" (list string))))
    (export "param-value" (type $param-value (eq $pv)))
    (type $p (record (field "name" string) (field "value" $param-value)))
    (export "param" (type $param (eq $p)))
    (type $a (record (field "name" string) (field "state" $state) (field "state-since" u64)
                     (field "last-activity" (option u64)) (field "in-flight" u32)
                     (field "params" (list $param))))
    (export "app" (type $app (eq $a)))
    (type $r (record (field "method" string) (field "path" string) (field "query" (option string))
                     (field "headers" (list (tuple string string))) (field "client-addr" string)))
    (export "request" (type $request (eq $r)))
    (type $rf (record (field "status" u16) (field "reason" string) (field "retry-after-secs" (option u32))))
    (export "refusal" (type $refusal (eq $rf)))
    (type $d (variant (case "forward") (case "forward-passive") (case "refuse" $refusal)))
    (export "request-decision" (type $decision (eq $d)))
    (type $tp (record (field "sleep" (list string)) (field "wake" (list string))))
    (export "tick-plan" (type $plan (eq $tp)))
  ))
  (alias export $types "app" (type $app))
  (alias export $types "request" (type $request))
  (alias export $types "request-decision" (type $decision))
  (alias export $types "tick-plan" (type $plan))
"#;

/// A policy component whose `on-tick` runs `on_tick_body` (core signature
/// `(param i64 i32 i32) (result i32)`, returning a pointer to the result
/// area; it may call `$log` with `(level, ptr, len)`), with `data` placed in
/// its memory, and whose `on-request` traps.
pub(crate) fn policy(on_tick_body: &str, data: &str) -> Vec<u8> {
    let wat = format!(
        r#"(component
  {TYPES}
  (import "paastis:policy/host@0.1.0" (instance $host
    (type $l (enum "trace" "debug" "info" "warn" "error"))
    (export "log-level" (type $level (eq $l)))
    (export "log" (func (param "level" $level) (param "message" string)))))
  (alias export $host "log" (func $log))
  (core module $mem (memory (export "memory") 1))
  (core instance $mi (instantiate $mem))
  (core func $log-core (canon lower (func $log) (memory (core memory $mi "memory"))))
  (core instance $hi (export "log" (func $log-core)))
  (core module $m
    (import "env" "memory" (memory 1))
    (import "host" "log" (func $log (param i32 i32 i32)))
    {data}
    (global $bump (mut i32) (i32.const 4096))
    ;; A bump allocator that honours the alignment asked for.
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "on-request") (param i32) (result i32) unreachable)
    (func (export "on-tick") (param i64 i32 i32) (result i32) (local $n i32) {on_tick_body}))
  (core instance $i (instantiate $m (with "env" (instance $mi)) (with "host" (instance $hi))))
  (func $on-request (param "now" u64) (param "app" $app) (param "request" $request)
    (result (result $decision (error string)))
    (canon lift (core func $i "on-request") (memory (core memory $mi "memory")) (realloc (core func $i "realloc"))))
  (func $on-tick (param "now" u64) (param "apps" (list $app)) (result (result $plan (error string)))
    (canon lift (core func $i "on-tick") (memory (core memory $mi "memory")) (realloc (core func $i "realloc"))))
  (instance $handler (export "on-request" (func $on-request)) (export "on-tick" (func $on-tick)))
  (export "paastis:policy/handler@0.1.0" (instance $handler)))"#
    );
    match wat::parse_str(&wat) {
        Ok(bytes) => bytes,
        Err(e) => panic!("test guest does not assemble: {e}\n{wat}"),
    }
}

/// `on-tick` returns `ok` with an empty plan.
pub(crate) fn well_behaved() -> Vec<u8> {
    policy("(i32.const 16)", r#"(data (i32.const 16) "\00")"#)
}

pub(crate) fn spins() -> Vec<u8> {
    policy("(loop $forever (br $forever)) unreachable", "")
}

pub(crate) fn traps() -> Vec<u8> {
    policy("unreachable", "")
}

/// Asks for 64 MiB more memory and traps when refused, as Rust's allocator
/// does.
pub(crate) fn hoards_memory() -> Vec<u8> {
    policy(
        "(if (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then unreachable)) (i32.const 16)",
        r#"(data (i32.const 16) "\00")"#,
    )
}

/// `on-tick` logs "hello" at info level `times` times, then returns `ok`.
pub(crate) fn logs(times: u32) -> Vec<u8> {
    policy(
        &format!(
            "(block $done (loop $again
               (br_if $done (i32.ge_u (local.get $n) (i32.const {times})))
               (call $log (i32.const 2) (i32.const 64) (i32.const 5))
               (local.set $n (i32.add (local.get $n) (i32.const 1)))
               (br $again)))
             (i32.const 16)"
        ),
        r#"(data (i32.const 16) "\00") (data (i32.const 64) "hello")"#,
    )
}

/// `on-tick` returns `err("boom")`.
pub(crate) fn fails() -> Vec<u8> {
    policy(
        "(i32.const 16)",
        r#"(data (i32.const 16) "\01\00\00\00\40\00\00\00\04\00\00\00") (data (i32.const 64) "boom")"#,
    )
}

/// `on-tick` puts "a" to sleep and wakes it in the same plan.
pub(crate) fn contradicts_itself() -> Vec<u8> {
    policy(
        "(i32.const 16)",
        r#"(data (i32.const 16) "\00\00\00\00\40\00\00\00\01\00\00\00\40\00\00\00\01\00\00\00")
           (data (i32.const 64) "\60\00\00\00\01\00\00\00")
           (data (i32.const 96) "a")"#,
    )
}

/// `on-tick` returns an error string that is not UTF-8.
pub(crate) fn returns_garbage() -> Vec<u8> {
    policy(
        "(i32.const 16)",
        r#"(data (i32.const 16) "\01\00\00\00\40\00\00\00\02\00\00\00") (data (i32.const 64) "\ff\fe")"#,
    )
}

/// `on-tick` tells a fresh instance from a reused one: it answers `ok` on
/// the first call of an instance and `err("again")` on later ones. Shown
/// one app it traps; shown two, it first grows its memory by 300 pages
/// (about 19 MiB).
pub(crate) fn counts_its_calls() -> Vec<u8> {
    policy(
        "(if (i32.eq (local.get 2) (i32.const 1)) (then unreachable))
         (if (i32.eq (local.get 2) (i32.const 2)) (then (drop (memory.grow (i32.const 300)))))
         (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
         (if (result i32) (i32.gt_u (global.get $calls) (i32.const 1))
           (then (i32.const 32))
           (else (i32.const 16)))",
        r#"(global $calls (mut i32) (i32.const 0))
           (data (i32.const 16) "\00")
           (data (i32.const 32) "\01\00\00\00\40\00\00\00\05\00\00\00")
           (data (i32.const 64) "again")"#,
    )
}

/// A valid component that exports nothing.
pub(crate) fn empty_component() -> Vec<u8> {
    match wat::parse_str("(component)") {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    }
}

/// A component that wants a capability the host does not offer.
pub(crate) fn wants_http() -> Vec<u8> {
    match wat::parse_str(
        r#"(component (import "wasi:http/outgoing-handler@0.2.0" (instance (export "handle" (func)))))"#,
    ) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    }
}

/// A policy whose `on-tick` counts its calls in `kv`: it reads the byte under
/// key "n" (none is 0) and stores it plus one, ignoring `set`'s result.
pub(crate) fn kv_counter() -> Vec<u8> {
    let wat = format!(
        r#"(component
  {TYPES}
  (import "paastis:policy/kv@0.1.0" (instance $kv
    (export "get" (func (param "key" string) (result (option (list u8)))))
    (export "set" (func (param "key" string) (param "value" (list u8)) (result (result (error string)))))))
  (alias export $kv "get" (func $get))
  (alias export $kv "set" (func $set))
  ;; Memory and allocator live apart from the code, so that the lowered
  ;; imports the code needs can use them.
  (core module $mem
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (global.get $bump) (local.get 3)))
      (local.get $p)))
  (core instance $mi (instantiate $mem))
  (core func $get-core (canon lower (func $get) (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (core func $set-core (canon lower (func $set) (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (core instance $kvi (export "get" (func $get-core)) (export "set" (func $set-core)))
  (core module $m
    (import "env" "memory" (memory 1))
    (import "kv" "get" (func $get (param i32 i32 i32)))
    (import "kv" "set" (func $set (param i32 i32 i32 i32 i32)))
    (data (i32.const 16) "\00")
    (data (i32.const 64) "n")
    (func (export "on-request") (param i32) (result i32) unreachable)
    (func (export "on-tick") (param i64 i32 i32) (result i32)
      (call $get (i32.const 64) (i32.const 1) (i32.const 128))
      (if (i32.load8_u (i32.const 128))
        (then (i32.store8 (i32.const 200) (i32.add (i32.load8_u (i32.load (i32.const 132))) (i32.const 1))))
        (else (i32.store8 (i32.const 200) (i32.const 1))))
      (call $set (i32.const 64) (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 144))
      (i32.const 16)))
  (core instance $i (instantiate $m (with "env" (instance $mi)) (with "kv" (instance $kvi))))
  (func $on-request (param "now" u64) (param "app" $app) (param "request" $request)
    (result (result $decision (error string)))
    (canon lift (core func $i "on-request") (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (func $on-tick (param "now" u64) (param "apps" (list $app)) (result (result $plan (error string)))
    (canon lift (core func $i "on-tick") (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (instance $handler (export "on-request" (func $on-request)) (export "on-tick" (func $on-tick)))
  (export "paastis:policy/handler@0.1.0" (instance $handler)))"#
    );
    match wat::parse_str(&wat) {
        Ok(bytes) => bytes,
        Err(e) => panic!("test guest does not assemble: {e}\n{wat}"),
    }
}
