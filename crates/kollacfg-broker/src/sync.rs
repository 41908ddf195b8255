//! One sync pass: one `GET /api/policies`, the plan, then its PUTs and DELETEs in order (PUTs
//! first, so that no queue is left without its new policy while an old one goes). A pass where
//! nothing differs sends exactly one GET.

use std::collections::BTreeSet;

use crate::client::{Broker, BrokerError};
use crate::plan::{plan, Plan};
use crate::policy::{Policy, PolicyKey};

/// What a sync pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// What it planned.
    pub plan: Plan,
    /// The policies written, in order.
    pub put: Vec<PolicyKey>,
    /// The policies deleted, in order.
    pub deleted: Vec<PolicyKey>,
    /// The policies the broker refused, each with RabbitMQ's answer.
    pub failures: Vec<(PolicyKey, BrokerError)>,
}

/// One GET, then the PUTs and DELETEs of the plan. `Err` when the GET fails, or when a write
/// gets 401 or no answer (the rest is not attempted); a policy refused by RabbitMQ (400 with
/// its reason, a missing vhost) fails that policy only and the others are applied.
pub async fn sync(
    broker: &Broker,
    desired: &[Policy],
    deletable: &BTreeSet<PolicyKey>,
) -> Result<SyncOutcome, BrokerError> {
    let live = broker.list_policies().await?;
    apply(broker, plan(desired, &live, deletable)).await
}

/// The writes of a plan made from a fresh [`Broker::list_policies`]: its PUTs, then its
/// DELETEs, with the same error handling as [`sync`]. For a caller that shows the plan
/// before applying it.
pub async fn apply(broker: &Broker, plan: Plan) -> Result<SyncOutcome, BrokerError> {
    let mut outcome = SyncOutcome {
        put: Vec::new(),
        deleted: Vec::new(),
        failures: Vec::new(),
        plan: Plan::default(),
    };
    for policy in &plan.puts {
        match broker.put_policy(policy).await {
            Ok(()) => outcome.put.push(policy.key()),
            Err(e) if e.is_per_policy() => outcome.failures.push((policy.key(), e)),
            Err(e) => return Err(e),
        }
    }
    for key in &plan.deletes {
        match broker.delete_policy(key).await {
            Ok(()) => outcome.deleted.push(key.clone()),
            Err(e) if e.is_per_policy() => outcome.failures.push((key.clone(), e)),
            Err(e) => return Err(e),
        }
    }
    outcome.plan = plan;
    Ok(outcome)
}
