//! What sleeping saves: hours asleep priced at the app's hourly cost, and the
//! energy and CO2 its containers would have drawn. The method is documented
//! in the README ("Savings"); this is its one implementation, shared by the
//! admin API, the dashboard and the simulator.

use serde::Serialize;
use std::time::Duration;

/// How an app's time is priced. `hourly_cost` and `containers` may be set per
/// app; the power and grid intensity are the gateway's.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// What one hour of the app awake costs, in `currency`.
    pub hourly_cost: f64,
    pub currency: String,
    /// Containers the app runs while awake.
    pub containers: u32,
    /// Mean electrical power of one container, in watts.
    pub container_watts: f64,
    /// Grams of CO2 emitted per kWh drawn from the grid.
    pub grid_gco2_per_kwh: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Savings {
    pub hours_asleep: f64,
    pub hours_awake: f64,
    /// Spared by sleeping: `hours_asleep × hourly_cost`.
    pub cost_saved: f64,
    /// Still paid: `hours_awake × hourly_cost`.
    pub cost_spent: f64,
    /// `hours_asleep × containers × container_watts / 1000`.
    pub energy_saved_kwh: f64,
    /// `energy_saved_kwh × grid_gco2_per_kwh`.
    pub co2_saved_g: f64,
}

impl Savings {
    pub(crate) fn of(asleep: Duration, awake: Duration, rates: &Rates) -> Savings {
        let hours_asleep = asleep.as_secs_f64() / 3600.0;
        let hours_awake = awake.as_secs_f64() / 3600.0;
        let energy_saved_kwh = hours_asleep * f64::from(rates.containers) * rates.container_watts / 1000.0;
        Savings {
            hours_asleep,
            hours_awake,
            cost_saved: hours_asleep * rates.hourly_cost,
            cost_spent: hours_awake * rates.hourly_cost,
            energy_saved_kwh,
            co2_saved_g: energy_saved_kwh * rates.grid_gco2_per_kwh,
        }
    }

    /// The sum of several apps' savings (the totals line).
    pub(crate) fn total<'a>(all: impl IntoIterator<Item = &'a Savings>) -> Savings {
        all.into_iter().fold(Savings::default(), |mut sum, s| {
            sum.hours_asleep += s.hours_asleep;
            sum.hours_awake += s.hours_awake;
            sum.cost_saved += s.cost_saved;
            sum.cost_spent += s.cost_spent;
            sum.energy_saved_kwh += s.energy_saved_kwh;
            sum.co2_saved_g += s.co2_saved_g;
            sum
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        Rates {
            hourly_cost: 0.02,
            currency: "EUR".into(),
            containers: 2,
            container_watts: 10.0,
            grid_gco2_per_kwh: 50.0,
        }
    }

    #[test]
    fn prices_hours_asleep_and_awake() {
        let s = Savings::of(Duration::from_secs(18 * 3600), Duration::from_secs(6 * 3600), &rates());
        assert_eq!(s.hours_asleep, 18.0);
        assert_eq!(s.hours_awake, 6.0);
        assert!((s.cost_saved - 0.36).abs() < 1e-9);
        assert!((s.cost_spent - 0.12).abs() < 1e-9);
        // 18 h × 2 containers × 10 W = 360 Wh; × 50 g/kWh = 18 g.
        assert!((s.energy_saved_kwh - 0.36).abs() < 1e-9);
        assert!((s.co2_saved_g - 18.0).abs() < 1e-9);
    }

    #[test]
    fn totals_add_up() {
        let a = Savings::of(Duration::from_secs(3600), Duration::ZERO, &rates());
        let b = Savings::of(Duration::from_secs(7200), Duration::from_secs(3600), &rates());
        let t = Savings::total([&a, &b]);
        assert_eq!(t.hours_asleep, 3.0);
        assert_eq!(t.hours_awake, 1.0);
        assert!((t.cost_saved - 0.06).abs() < 1e-9);
    }
}
