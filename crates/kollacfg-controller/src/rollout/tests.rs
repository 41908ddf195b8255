use super::*;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).unwrap())
}

fn deployment(generation: i64, observed: i64, replicas: i64, status: Value) -> Value {
    let mut status = status;
    status["observedGeneration"] = json!(observed);
    json!({"metadata": {"generation": generation}, "spec": {"replicas": replicas},
           "status": status})
}

#[test]
fn a_deployment_is_complete_when_every_pod_is_updated_and_available_and_none_old_is_left() {
    let done = json!({"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                      "availableReplicas": 3});
    assert_eq!(
        progress(WorkloadKind::Deployment, &deployment(4, 4, 3, done.clone())),
        Progress {
            desired: 3,
            updated: 3,
            ready: 3,
            complete: true
        }
    );
    // The Deployment controller has not seen the new template yet.
    assert!(!progress(WorkloadKind::Deployment, &deployment(5, 4, 3, done)).complete);
    // An old pod is still there (surge).
    let surge = json!({"replicas": 4, "updatedReplicas": 3, "readyReplicas": 4,
                       "availableReplicas": 3});
    assert!(!progress(WorkloadKind::Deployment, &deployment(4, 4, 3, surge)).complete);
    // Updated but not ready.
    let waiting = json!({"replicas": 3, "updatedReplicas": 3, "readyReplicas": 1,
                         "availableReplicas": 1});
    let p = progress(WorkloadKind::Deployment, &deployment(4, 4, 3, waiting));
    assert_eq!((p.updated, p.ready, p.complete), (3, 1, false));
}

#[test]
fn replicas_default_to_one_and_zero_replicas_are_complete_at_once() {
    let mut object = deployment(1, 1, 0, json!({}));
    assert!(progress(WorkloadKind::Deployment, &object).complete);
    object["spec"] = json!({});
    let p = progress(WorkloadKind::Deployment, &object);
    assert_eq!((p.desired, p.complete), (1, false));
}

#[test]
fn a_statefulset_is_complete_when_its_revisions_agree_and_every_pod_is_ready() {
    let sts = |current: &str, update: &str, ready: i64| {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
               "status": {"observedGeneration": 2, "currentRevision": current,
                          "updateRevision": update, "updatedReplicas": 2,
                          "readyReplicas": ready}})
    };
    assert!(progress(WorkloadKind::StatefulSet, &sts("r2", "r2", 2)).complete);
    assert!(!progress(WorkloadKind::StatefulSet, &sts("r1", "r2", 2)).complete);
    assert!(!progress(WorkloadKind::StatefulSet, &sts("r2", "r2", 1)).complete);
}

#[test]
fn a_daemonset_counts_scheduled_pods() {
    let ds = |updated: i64, available: i64| {
        json!({"metadata": {"generation": 7},
               "status": {"observedGeneration": 7, "desiredNumberScheduled": 500,
                          "updatedNumberScheduled": updated, "numberReady": available,
                          "numberAvailable": available}})
    };
    assert_eq!(
        progress(WorkloadKind::DaemonSet, &ds(120, 118)),
        Progress {
            desired: 500,
            updated: 120,
            ready: 118,
            complete: false
        }
    );
    assert!(progress(WorkloadKind::DaemonSet, &ds(500, 500)).complete);
}

fn pod(name: &str, hash: &str, status: Value) -> Value {
    json!({"metadata": {"name": name, "annotations": {ANNOTATION_CONFIG_HASH: hash}},
           "status": status})
}

#[test]
fn a_crash_looping_container_names_its_reason_and_last_exit_code() {
    let status = json!({"containerStatuses": [
        {"name": "sidecar", "state": {"running": {}}},
        {"name": "rabbitmq", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]});
    assert_eq!(
        pod_failure(&pod("rabbitmq-0", "h", status)).as_deref(),
        Some("container rabbitmq CrashLoopBackOff (last ended: Error, exit code 1)")
    );
}

#[test]
fn a_failed_init_container_is_a_failure_and_a_running_or_starting_pod_is_not() {
    let init = json!({"initContainerStatuses": [
        {"name": "materialize", "state": {"terminated": {"reason": "Error", "exitCode": 2}}}],
        "containerStatuses": [{"name": "nova", "state": {"waiting": {"reason": "PodInitializing"}}}]});
    assert_eq!(
        pod_failure(&pod("p", "h", init)).as_deref(),
        Some("init container materialize Error, exit code 2")
    );
    let done_init = json!({"initContainerStatuses": [
        {"name": "materialize", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
        "containerStatuses": [{"name": "nova", "state": {"running": {}}}]});
    assert_eq!(pod_failure(&pod("p", "h", done_init)), None);
    let creating = json!({"containerStatuses": [
        {"name": "nova", "state": {"waiting": {"reason": "ContainerCreating"}}}]});
    assert_eq!(pod_failure(&pod("p", "h", creating)), None);
    assert_eq!(
        pod_failure(&pod("p", "h", json!({"phase": "Pending"}))),
        None
    );
}

#[test]
fn only_pods_of_the_new_revision_count_and_at_most_three_are_named() {
    let crash = json!({"containerStatuses": [
        {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
    let mut pods = vec![pod("old-0", "old", crash.clone())];
    assert_eq!(failing_pods(&pods, "new"), None);
    for i in 0..5 {
        pods.push(pod(&format!("new-{i}"), "new", crash.clone()));
    }
    assert_eq!(
        failing_pods(&pods, "new").as_deref(),
        Some(
            "pod new-0: container c CrashLoopBackOff; pod new-1: container c CrashLoopBackOff; \
             pod new-2: container c CrashLoopBackOff; and 2 more"
        )
    );
}

#[test]
fn changed_files_are_added_removed_or_different_ones() {
    let a = BTreeMap::from([
        ("a.conf".to_string(), b"1".to_vec()),
        ("b.conf".to_string(), b"2".to_vec()),
        ("c.conf".to_string(), b"3".to_vec()),
    ]);
    let b = BTreeMap::from([
        ("a.conf".to_string(), b"1".to_vec()),
        ("b.conf".to_string(), b"two".to_vec()),
        ("d.conf".to_string(), b"4".to_vec()),
    ]);
    assert_eq!(changed_files(Some(&a), &b), ["b.conf", "c.conf", "d.conf"]);
    assert_eq!(changed_files(None, &b), ["a.conf", "b.conf", "d.conf"]);
    assert!(changed_files(Some(&a), &a).is_empty());
}

fn record(hash: &str) -> WorkloadRollout {
    WorkloadRollout {
        kind: "Deployment".into(),
        name: "api".into(),
        config_hash: Some(hash.into()),
        ..Default::default()
    }
}

fn counts(updated: i32, ready: i32, complete: bool) -> Progress {
    Progress {
        desired: 2,
        updated,
        ready,
        complete,
    }
}

#[test]
fn progress_resets_the_deadline_and_standing_still_past_it_is_stuck() {
    // Started at 100: the deadline counts from the template change.
    let mut first = record("h");
    first.started_time = Some(at(100));
    first.changed_files = vec!["rabbitmq.conf".into()];
    observe(&mut first, None, counts(0, 0, false), None, 30, &at(110));
    assert_eq!(first.state, Some(RolloutState::Progressing));
    assert_eq!(first.last_progress_time, Some(at(100)));
    // Each later pass starts from the record the pass before stored.
    let next = |before: &WorkloadRollout, progress: Progress, second: i64| {
        let mut r = before.clone();
        observe(&mut r, Some(before), progress, None, 30, &at(second));
        r
    };
    // One pod updated at 125: progress.
    let second = next(&first, counts(1, 0, false), 125);
    assert_eq!(second.state, Some(RolloutState::Progressing));
    assert_eq!(second.last_progress_time, Some(at(125)));
    // Nothing moves until 155: at the deadline, still progressing; one second past it, stuck.
    assert_eq!(
        next(&second, counts(1, 0, false), 155).state,
        Some(RolloutState::Progressing)
    );
    let third = next(&second, counts(1, 0, false), 156);
    assert_eq!(third.state, Some(RolloutState::Stuck));
    // Said the same way on every pass after (the status is not rewritten while stuck).
    assert_eq!(next(&third, counts(1, 0, false), 300), third);
    assert_eq!(
        third.message.as_deref(),
        Some(
            "no progress for more than 30s: 1 of 2 pods updated, 0 ready; files changed in \
             this revision: rabbitmq.conf"
        )
    );
    // Complete clears it.
    let fourth = next(&third, counts(2, 2, true), 400);
    assert_eq!(fourth.state, Some(RolloutState::Complete));
    assert_eq!(fourth.message, None);
}

#[test]
fn a_failing_pod_is_stuck_at_once_with_the_files_that_changed() {
    let mut r = record("h");
    r.changed_files = vec!["rabbitmq.conf".into()];
    observe(
        &mut r,
        None,
        counts(1, 0, false),
        Some("pod rabbitmq-0: container rabbitmq CrashLoopBackOff".into()),
        600,
        &at(10),
    );
    assert_eq!(r.state, Some(RolloutState::Stuck));
    assert_eq!(
        r.message.as_deref(),
        Some(
            "pod rabbitmq-0: container rabbitmq CrashLoopBackOff; files changed in this \
             revision: rabbitmq.conf"
        )
    );
}

#[test]
fn rolled_out_is_true_only_when_every_workload_is_complete() {
    let with = |state: RolloutState, message: Option<&str>| WorkloadRollout {
        state: Some(state),
        message: message.map(str::to_string),
        desired_replicas: Some(3),
        updated_replicas: Some(1),
        ready_replicas: Some(0),
        ..record("h")
    };
    let complete = with(RolloutState::Complete, None);
    let all = rolled_out(&[complete.clone(), complete.clone()], "v2");
    assert_eq!((all.state, all.reason), (State::True, "RolledOut"));
    let progressing = rolled_out(
        &[complete.clone(), with(RolloutState::Progressing, None)],
        "v2",
    );
    assert_eq!(
        (
            progressing.state,
            progressing.reason,
            progressing.message.as_str()
        ),
        (
            State::False,
            "Progressing",
            "rolling out v2: Deployment/api 1 of 3 updated, 0 ready"
        )
    );
    // The worst state decides the reason.
    let stuck = rolled_out(
        &[
            with(RolloutState::Paused, Some("paused")),
            with(
                RolloutState::Stuck,
                Some("pod api-1: container c CrashLoopBackOff"),
            ),
            with(RolloutState::Missing, Some("not found")),
        ],
        "v2",
    );
    assert_eq!(stuck.reason, "RolloutStuck");
    assert_eq!(
        stuck.message,
        "Deployment/api: pod api-1: container c CrashLoopBackOff"
    );
    let missing = rolled_out(&[with(RolloutState::Missing, Some("not found"))], "v2");
    assert_eq!(missing.reason, "WorkloadNotFound");
    assert!(under_way(&[with(RolloutState::Progressing, None)]));
    assert!(!under_way(&[complete, with(RolloutState::Paused, None)]));
    // An undo by hand is followed until its pods are all updated and ready.
    assert!(under_way(&[with(RolloutState::RolledBack, None)]));
    let settled = WorkloadRollout {
        updated_replicas: Some(3),
        ready_replicas: Some(3),
        ..with(RolloutState::RolledBack, None)
    };
    assert!(!under_way(&[settled]));
}
