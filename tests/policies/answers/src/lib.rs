//! A test policy that answers requests itself, whatever the app's state:
//! a 200 with a JSON body naming the app, a header of its own and a
//! cookie; requests for `/through` are forwarded instead. Ticks do nothing.

use paastis_sdk::{Answer, Decision, Policy, PolicyError, RequestContext};

pub const THROUGH: &str = "/through";

pub struct Answers;

impl Policy for Answers {
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        if ctx.request().path() == THROUGH {
            return Ok(Decision::Forward);
        }
        let body = format!(r#"{{"answered_for":"{}"}}"#, ctx.app().name());
        let answer = Answer::new(200).json(body).header("x-policy", "answers").header("set-cookie", "seen=1");
        Ok(Decision::Answer(answer))
    }
}

paastis_sdk::export_policy!(Answers);

#[cfg(test)]
mod tests {
    use super::*;
    use paastis_sdk::Timestamp;
    use paastis_sdk::testing::{AppBuilder, RequestBuilder};

    #[test]
    fn answers_everything_but_through() {
        let now = Timestamp::from_secs(1_000);
        let ask = |path: &str| {
            let ctx = RequestContext::new(now, AppBuilder::new("web").build(), RequestBuilder::get(path).build());
            Answers::on_request(&ctx).unwrap()
        };
        assert!(matches!(ask("/"), Decision::Answer(ref a) if a.get_header("x-policy") == Some("answers")));
        assert!(matches!(ask(THROUGH), Decision::Forward));
    }
}
