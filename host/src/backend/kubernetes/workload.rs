//! Deployments and StatefulSets seen the same way: what the backend reads
//! of a workload (replicas, readiness, annotations, pod labels), and the
//! Service that selects its pods.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Where the replicas to restore are kept while the workload sleeps.
pub(super) const ORIGINAL_REPLICAS: &str = "paastis.io/original-replicas";
/// Names the gateway app (else `<name>-<namespace>`).
pub(super) const APP: &str = "paastis.io/app";
/// Where the traffic goes (else the Service that selects the pods).
pub(super) const UPSTREAM: &str = "paastis.io/upstream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet,
}

impl Kind {
    pub(super) const ALL: [Kind; 2] = [Kind::Deployment, Kind::StatefulSet];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
        }
    }
}

/// A workload as the platform's app id says it: `kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Id {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Id {
    pub(super) fn parse(id: &str) -> Option<Id> {
        let mut parts = id.splitn(3, '/');
        let kind = match parts.next()? {
            "deployment" => Kind::Deployment,
            "statefulset" => Kind::StatefulSet,
            _ => return None,
        };
        let namespace = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let name = parts.next().filter(|s| !s.is_empty() && !s.contains('/'))?.to_owned();
        Some(Id { kind, namespace, name })
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// What the backend reads of a workload.
#[derive(Debug, Clone)]
pub(super) struct Observed {
    pub id: Id,
    pub replicas: i32,
    pub ready: i32,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub annotations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    pub resource_version: Option<String>,
}

impl Observed {
    /// The gateway app's name: the annotation, else `<name>-<namespace>`.
    pub(super) fn app_name(&self) -> String {
        self.annotations.get(APP).cloned().unwrap_or_else(|| format!("{}-{}", self.id.name, self.id.namespace))
    }

    /// The replicas the gateway's sleep saved, if it saved any.
    pub(super) fn original_replicas(&self) -> Option<i32> {
        self.annotations.get(ORIGINAL_REPLICAS)?.trim().parse().ok().filter(|n| *n > 0)
    }

    /// Serving, and the controller has seen the latest spec.
    pub(super) fn is_ready(&self) -> bool {
        self.ready >= 1 && self.observed_generation.unwrap_or(0) >= self.generation.unwrap_or(0)
    }

    /// Running for discovery: serving once a replica is ready. `None` for a
    /// workload the gateway put to sleep itself (at zero with the
    /// annotation), which it knows already, and for one still starting.
    pub(super) fn running(&self) -> Option<bool> {
        match (self.replicas, self.original_replicas()) {
            (0, Some(_)) => None,
            (0, None) => Some(false),
            _ if self.ready >= 1 => Some(true),
            _ => None,
        }
    }
}

/// A Deployment or a StatefulSet.
pub(super) trait Workload:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    const KIND: Kind;
    /// Replicas wanted, ready, observed generation, pod labels.
    fn numbers(&self) -> (i32, i32, Option<i64>, BTreeMap<String, String>);

    fn observe(&self) -> Observed {
        let (replicas, ready, observed_generation, pod_labels) = self.numbers();
        Observed {
            id: Id { kind: Self::KIND, namespace: self.namespace().unwrap_or_default(), name: self.name_any() },
            replicas,
            ready,
            generation: self.meta().generation,
            observed_generation,
            annotations: self.annotations().clone(),
            pod_labels,
            resource_version: self.resource_version(),
        }
    }
}

/// Deployments and StatefulSets keep these numbers under the same names in
/// different types.
macro_rules! workload {
    ($type:ty, $kind:expr) => {
        impl Workload for $type {
            const KIND: Kind = $kind;
            fn numbers(&self) -> (i32, i32, Option<i64>, BTreeMap<String, String>) {
                let spec = self.spec.as_ref();
                let status = self.status.as_ref();
                (
                    spec.and_then(|s| s.replicas).unwrap_or(1),
                    status.and_then(|s| s.ready_replicas).unwrap_or(0),
                    status.and_then(|s| s.observed_generation),
                    spec.and_then(|s| s.template.metadata.as_ref()?.labels.clone()).unwrap_or_default(),
                )
            }
        }
    };
}

workload!(Deployment, Kind::Deployment);
workload!(StatefulSet, Kind::StatefulSet);

/// `http://<service>.<namespace>.svc:<port>` of the first Service whose
/// selector picks these pod labels.
pub(super) fn service_upstream(
    services: &[Service],
    namespace: &str,
    pod_labels: &BTreeMap<String, String>,
) -> Option<String> {
    services.iter().find_map(|service| {
        let spec = service.spec.as_ref()?;
        let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
        if !selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)) {
            return None;
        }
        let port = spec.ports.as_ref()?.first()?.port;
        Some(format!("http://{}.{namespace}.svc:{port}", service.name_any()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_garbage() {
        let id = Id::parse("statefulset/review/db").unwrap();
        assert_eq!((id.kind, id.namespace.as_str(), id.name.as_str()), (Kind::StatefulSet, "review", "db"));
        assert_eq!(id.to_string(), "statefulset/review/db");
        for bad in ["pod/a/b", "deployment/a", "deployment//b", "deployment/a/b/c"] {
            assert!(Id::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_service_that_selects_the_pods_gives_the_upstream() {
        let service = |name: &str, selector: serde_json::Value, port: i32| -> Service {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "spec": {"selector": selector, "ports": [{"port": port}]},
            }))
            .unwrap()
        };
        let services = vec![
            service("other", serde_json::json!({"app": "other"}), 80),
            service("empty", serde_json::json!({}), 81),
            service("shop", serde_json::json!({"app": "shop"}), 8080),
        ];
        let labels: BTreeMap<String, String> =
            [("app".to_owned(), "shop".to_owned()), ("tier".to_owned(), "web".to_owned())].into();
        assert_eq!(service_upstream(&services, "review", &labels).as_deref(), Some("http://shop.review.svc:8080"));
        assert_eq!(service_upstream(&services, "review", &BTreeMap::new()), None);
    }

    #[test]
    fn readiness_needs_a_ready_replica_and_the_latest_generation() {
        let mut observed = Observed {
            id: Id::parse("deployment/a/b").unwrap(),
            replicas: 3,
            ready: 1,
            generation: Some(4),
            observed_generation: Some(3),
            annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            resource_version: None,
        };
        assert!(!observed.is_ready(), "the controller has not seen generation 4");
        observed.observed_generation = Some(4);
        assert!(observed.is_ready());
        assert_eq!(observed.running(), Some(true));
        observed.ready = 0;
        assert_eq!(observed.running(), None, "starting");
        observed.replicas = 0;
        assert_eq!(observed.running(), Some(false), "at zero without the annotation: stopped outside");
        observed.annotations.insert(ORIGINAL_REPLICAS.into(), "3".into());
        assert_eq!(observed.running(), None, "the gateway's own sleep");
        assert_eq!(observed.original_replicas(), Some(3));
        assert_eq!(observed.app_name(), "b-a");
    }
}
