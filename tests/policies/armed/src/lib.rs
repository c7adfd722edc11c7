//! A hostile test policy that passes every check the gateway makes before
//! serving, then misbehaves at run time, so tests can watch the fallbacks.
//!
//! Param `mode` (required): `"spin"` (loop forever), `"memory-bomb"`
//! (allocate until the memory limit) or `"panic"`.
//!
//! It is armed, and misbehaves in its `mode`:
//! - on a request carrying the header `x-armed` (the gateway's startup probe
//!   does not);
//! - on a tick that shows an app with a recorded activity (the load smoke
//!   call shows no apps, and the startup params check shows apps never used).
//!
//! Unarmed, it forwards every request and plans nothing.

use paastis_sdk::{App, Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub const ARM_HEADER: &str = "x-armed";
pub const PANIC_MESSAGE: &str = "armed policy panicked on purpose";

pub struct Armed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Spin,
    MemoryBomb,
    Panic,
}

impl Mode {
    pub fn of(app: &App) -> Result<Mode, PolicyError> {
        match app.params().text("mode")? {
            "spin" => Ok(Mode::Spin),
            "memory-bomb" => Ok(Mode::MemoryBomb),
            "panic" => Ok(Mode::Panic),
            other => Err(PolicyError::new(format!(
                "app {:?}: param `mode` must be \"spin\", \"memory-bomb\" or \"panic\", got {other:?}",
                app.name()
            ))),
        }
    }

    /// Never returns.
    pub fn go_off(self) -> ! {
        match self {
            Mode::Spin => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            // As in the memory-bomb policy: one write per MiB, so that the
            // memory limit, not the CPU deadline, is what stops it.
            Mode::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = Vec::with_capacity(1 << 20);
                    chunk.push(1u8);
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            Mode::Panic => panic!("{PANIC_MESSAGE}"),
        }
    }
}

impl Policy for Armed {
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        let mode = Mode::of(ctx.app())?;
        if ctx.request().header(ARM_HEADER).is_some() {
            mode.go_off();
        }
        Ok(Decision::Forward)
    }

    fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        for app in ctx.apps() {
            let mode = Mode::of(app)?;
            if app.last_activity().is_some() {
                mode.go_off();
            }
        }
        Ok(TickPlan::new())
    }
}

paastis_sdk::export_policy!(Armed);

#[cfg(test)]
mod tests {
    use super::*;
    use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    use paastis_sdk::{AppState, Timestamp};

    const NOW: Timestamp = Timestamp::from_secs(1_000_000);

    /// What the gateway shows a policy before serving: an awake app never
    /// used, and a plain GET.
    #[test]
    fn unarmed_it_behaves() {
        for mode in ["spin", "memory-bomb", "panic"] {
            let app = || AppBuilder::new("web").state(AppState::Awake, Timestamp::from_secs(0)).param("mode", mode);
            let ctx = RequestContext::new(NOW, app().build(), RequestBuilder::get("/").header("host", "web").build());
            assert_eq!(Armed::on_request(&ctx).unwrap(), Decision::Forward);
            assert!(Armed::on_tick(&TickContext::new(NOW, vec![app().build()])).unwrap().is_empty());
            assert!(Armed::on_tick(&TickContext::new(NOW, vec![])).unwrap().is_empty());
        }
    }

    #[test]
    fn a_bad_mode_is_an_error_naming_the_app() {
        let app = AppBuilder::new("web").param("mode", "explode").build();
        let err = Armed::on_tick(&TickContext::new(NOW, vec![app])).unwrap_err();
        assert!(err.message().contains("\"web\"") && err.message().contains("explode"), "{}", err.message());
        let err = Armed::on_tick(&TickContext::new(NOW, vec![AppBuilder::new("web").build()])).unwrap_err();
        assert!(err.message().contains("mode"), "{}", err.message());
    }

    #[test]
    #[should_panic(expected = "armed policy panicked on purpose")]
    fn armed_by_activity_it_goes_off_on_tick() {
        let app = AppBuilder::new("web").param("mode", "panic").last_activity(NOW).build();
        let _ = Armed::on_tick(&TickContext::new(NOW, vec![app]));
    }

    #[test]
    #[should_panic(expected = "armed policy panicked on purpose")]
    fn armed_by_header_it_goes_off_on_request() {
        let app = AppBuilder::new("web").param("mode", "panic").build();
        let request = RequestBuilder::get("/").header(ARM_HEADER, "1").build();
        let _ = Armed::on_request(&RequestContext::new(NOW, app, request));
    }
}
