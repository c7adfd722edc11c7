//! The `kv` import through the real sandbox: state that outlives a call,
//! namespaces, and limits as the guest sees them.

use std::sync::Arc;

use crate::bindings::paastis::policy::kv::Host as _;
use crate::call_state::CallState;
use crate::guest_wat as guest;
use crate::kv::{KvBackend, MAX_KEY_BYTES, MAX_KEYS, MAX_VALUE_BYTES, MemoryKv};
use crate::{PolicyRuntime, SandboxLimits};

const NOW: u64 = 1_700_000_000_000;

fn runtime(kv: Arc<MemoryKv>) -> PolicyRuntime {
    match PolicyRuntime::with_kv(SandboxLimits::default(), kv, None) {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn state_survives_from_one_call_to_the_next_per_policy() {
    let kv = Arc::new(MemoryKv::default());
    let rt = runtime(kv.clone());
    let wasm = guest::kv_counter();
    let a = rt.load("a", &wasm).await.unwrap();
    let b = rt.load("b", &wasm).await.unwrap();
    // The smoke calls of `load` wrote to a scratch store, not this one.
    assert_eq!(kv.count("a").unwrap(), 0);

    // The count lives in `kv` (whatever the instance): it carries over.
    a.on_tick(NOW, &[]).await.unwrap();
    a.on_tick(NOW, &[]).await.unwrap();
    b.on_tick(NOW, &[]).await.unwrap();
    assert_eq!(kv.get("a", "n").unwrap(), Some(vec![2]));
    assert_eq!(kv.get("b", "n").unwrap(), Some(vec![1]));

    // A new version under the same name keeps the state.
    let a2 = rt.load("a", &wasm).await.unwrap();
    a2.on_tick(NOW, &[]).await.unwrap();
    assert_eq!(kv.get("a", "n").unwrap(), Some(vec![3]));

    // Calls whose answers are not acted on leave it alone.
    a2.with_scratch_kv().on_tick(NOW, &[]).await.unwrap();
    assert_eq!(kv.get("a", "n").unwrap(), Some(vec![3]));
}

#[test]
fn the_guest_gets_an_error_over_a_limit_and_nothing_is_stored() {
    let kv = Arc::new(MemoryKv::default());
    let mut call = CallState::new("p".into(), 1 << 20, kv.clone());
    assert!(call.set("k".repeat(MAX_KEY_BYTES + 1), vec![]).unwrap().is_err());
    assert!(call.set("k".into(), vec![0; MAX_VALUE_BYTES + 1]).unwrap().is_err());
    assert_eq!(kv.count("p").unwrap(), 0);
    for i in 0..MAX_KEYS {
        call.set(format!("k{i}"), vec![1]).unwrap().unwrap();
    }
    let full = call.set("another".into(), vec![]).unwrap();
    assert!(full.is_err_and(|e| e.contains("1000 keys")));
    // Replacing and deleting still work when full.
    call.set("k0".into(), vec![2]).unwrap().unwrap();
    assert_eq!(call.get("k0".into()).unwrap(), Some(vec![2]));
    call.delete("k0".into()).unwrap();
    assert_eq!(call.get("k0".into()).unwrap(), None);
    assert_eq!(call.list_keys("k99".into()).unwrap().len(), 11);
    // Another policy's view is its own.
    let mut other = CallState::new("q".into(), 1 << 20, kv);
    assert_eq!(other.get("k1".into()).unwrap(), None);
}
