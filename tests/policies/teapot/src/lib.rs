//! A test policy with an unmistakable behaviour: it forwards nothing and
//! answers every request itself with `418 teapot policy`; its ticks do
//! nothing. Whether it is the policy in charge shows in any response.

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext};

pub const STATUS: u16 = 418;
pub const REASON: &str = "teapot policy";

pub struct Teapot;

impl Policy for Teapot {
    fn on_request(_ctx: &RequestContext) -> Result<Decision, PolicyError> {
        Ok(Decision::refuse(STATUS, REASON))
    }
}

paastis_sdk::export_policy!(Teapot);

#[cfg(test)]
mod tests {
    use super::*;
    use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    use paastis_sdk::{TickContext, Timestamp};

    #[test]
    fn refuses_every_request_and_plans_nothing() {
        let now = Timestamp::from_secs(1_000);
        let ctx = RequestContext::new(now, AppBuilder::new("web").build(), RequestBuilder::get("/").build());
        match Teapot::on_request(&ctx).unwrap() {
            Decision::Refuse(refusal) => {
                assert_eq!(refusal.status, STATUS);
                assert_eq!(refusal.reason, REASON);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let plan = Teapot::on_tick(&TickContext::new(now, vec![AppBuilder::new("web").build()])).unwrap();
        assert!(plan.is_empty());
    }
}
