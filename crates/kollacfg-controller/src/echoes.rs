//! The controller's own writes, as its watches see them come back.
//!
//! Every object the controller writes (an output, a version, a workload's template, a status)
//! is watched, and each write comes back as a watch event that would start one more reconcile
//! of its KollaConfig: a pass that reads the base, the output and the workloads again (and,
//! with a live broker, lists every policy) only to find what it has just written. The
//! `resourceVersion` a write returns names exactly the state it produced, so an event carrying
//! that version is the echo of the write and nothing else: it is dropped before it reaches the
//! controller's queue (the caches still take it). A deletion's event carries a version the
//! answer to the `DELETE` does not show; the first delete event of an object the controller
//! has just deleted is that deletion's echo (had anybody else deleted it first, the `DELETE`
//! would have found nothing). Any other event passes: a change or a deletion by anybody else.
//!
//! The event often arrives before the answer to the write that caused it. So a write is
//! announced before it is sent ([`Echoes::writing`]), and an event for an object with a write
//! under way waits for that write's answer (at most [`HOLD`]; then it passes) before it is
//! judged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::ObjectMeta;
use tokio::sync::Notify;

/// How many of its own writes per object are remembered at once: a pass writes an object at
/// most twice (an output and its record of pending deletes), a status once.
const PER_OBJECT: usize = 4;

/// How long an event waits for the answer to a write of its object under way; past it, the
/// event passes (one reconcile more, no harm).
pub const HOLD: Duration = Duration::from_secs(5);

/// An object, as its watch names it: kind, namespace, name.
type Key = (String, String, String);

/// What is remembered of one object.
#[derive(Debug, Default)]
struct Entry {
    /// The versions the controller's writes left it at, oldest first, echoes not yet seen.
    versions: Vec<String>,
    /// Writes sent and not answered yet.
    in_flight: usize,
    /// The controller deleted it; the delete event is not seen yet.
    deleted: bool,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.in_flight == 0 && !self.deleted
    }
}

/// The `resourceVersion`s the controller's own writes returned, per object, until their
/// watch events come back; and the writes under way.
#[derive(Debug, Default)]
pub struct Echoes {
    objects: Mutex<HashMap<Key, Entry>>,
    answered: Notify,
}

fn key(kind: &str, namespace: Option<&str>, name: &str) -> Key {
    (
        kind.to_string(),
        namespace.unwrap_or_default().to_string(),
        name.to_string(),
    )
}

/// Whether resource version `a` is older than `b`. Versions are opaque to clients; the API
/// server's are etcd revisions, decimal integers, and only those are compared. Used only to
/// forget versions whose echo cannot come any more.
fn older(a: &str, b: &str) -> bool {
    matches!((a.parse::<u64>(), b.parse::<u64>()), (Ok(a), Ok(b)) if a < b)
}

/// A write of one object under way ([`Echoes::writing`]). [`Writing::written`] records the
/// version the write returned; dropped without it (the write failed), it only ends the wait
/// of the events held for it.
#[must_use = "a write announced is ended by `written` or by dropping it"]
pub struct Writing<'a> {
    echoes: &'a Echoes,
    key: Key,
}

impl Writing<'_> {
    /// The write was answered with the object at `meta` (its `resourceVersion`).
    pub fn written(self, meta: &ObjectMeta) {
        if let Some(version) = meta.resource_version.as_deref() {
            let mut objects = self.echoes.lock();
            let versions = &mut objects.entry(self.key.clone()).or_default().versions;
            if versions.len() == PER_OBJECT {
                versions.remove(0);
            }
            versions.push(version.to_string());
        }
        // Drop ends the write.
    }

    /// The write was a `DELETE`, and the object is gone.
    pub fn deleted(self) {
        self.echoes
            .lock()
            .entry(self.key.clone())
            .or_default()
            .deleted = true;
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut objects = self.echoes.lock();
        if let Some(entry) = objects.get_mut(&self.key) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.is_empty() {
                objects.remove(&self.key);
            }
        }
        drop(objects);
        self.echoes.answered.notify_waiters();
    }
}

impl Echoes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Announces a write of `kind` `namespace/name`, before it is sent: events of that object
    /// wait for its answer before they are judged.
    pub fn writing(&self, kind: &str, namespace: &str, name: &str) -> Writing<'_> {
        let key = key(kind, Some(namespace), name);
        self.lock().entry(key.clone()).or_default().in_flight += 1;
        Writing { echoes: self, key }
    }

    /// Whether a watch event of `kind` with `meta` (a delete event when `deleted`) is the echo
    /// of one of the controller's own writes (then it is forgotten). Waits first, at most
    /// [`HOLD`], while a write of the object is under way.
    pub async fn is_echo(&self, kind: &str, meta: &ObjectMeta, deleted: bool) -> bool {
        let Some(name) = meta.name.as_deref() else {
            return false;
        };
        let version = meta.resource_version.as_deref();
        let key = key(kind, meta.namespace.as_deref(), name);
        let deadline = tokio::time::Instant::now() + HOLD;
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            // Registered before the check, so that an answer in between is not missed.
            answered.as_mut().enable();
            {
                let mut objects = self.lock();
                let waiting = objects.get(&key).is_some_and(|e| e.in_flight > 0);
                if !waiting || tokio::time::Instant::now() >= deadline {
                    return judge(&mut objects, &key, version, deleted);
                }
            }
            let _ = tokio::time::timeout_at(deadline, answered).await;
        }
    }

    /// How many objects have a write under way or one whose echo has not come back.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }
}

/// The event of `key` at `version`: an echo when a write left the object there (that version
/// and the older ones are forgotten: events come in the order of the writes); otherwise the
/// versions older than the event's are forgotten. A delete event (`deleted`) is an echo when
/// the controller deleted the object; either way the object's versions are forgotten.
fn judge(
    objects: &mut HashMap<Key, Entry>,
    key: &Key,
    version: Option<&str>,
    deleted: bool,
) -> bool {
    let Some(entry) = objects.get_mut(key) else {
        return false;
    };
    let echo = if deleted {
        entry.versions.clear();
        std::mem::take(&mut entry.deleted)
    } else if let Some(version) = version {
        match entry.versions.iter().position(|v| v == version) {
            Some(at) => {
                entry.versions.drain(..=at);
                true
            }
            None => {
                entry.versions.retain(|v| !older(v, version));
                false
            }
        }
    } else {
        false
    };
    if entry.is_empty() {
        objects.remove(key);
    }
    echo
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn meta(namespace: &str, name: &str, version: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        }
    }

    /// Whether an event of `kind` `namespace/name` at `version` (a delete event when
    /// `deleted`) is an echo.
    async fn echo(
        echoes: &Echoes,
        kind: &str,
        namespace: &str,
        name: &str,
        version: &str,
        deleted: bool,
    ) -> bool {
        echoes
            .is_echo(kind, &meta(namespace, name, version), deleted)
            .await
    }

    fn write(echoes: &Echoes, kind: &str, name: &str, version: &str) {
        echoes
            .writing(kind, "ns", name)
            .written(&meta("ns", name, version));
    }

    #[tokio::test]
    async fn the_echo_of_a_write_is_dropped_once_and_other_events_pass() {
        let echoes = Echoes::default();
        write(&echoes, "Secret", "out", "10");
        // Another object, another kind, another namespace: not an echo.
        assert!(!echo(&echoes, "Secret", "ns", "other", "10", false).await);
        assert!(!echo(&echoes, "ConfigMap", "ns", "out", "10", false).await);
        assert!(!echo(&echoes, "Secret", "ns2", "out", "10", false).await);
        assert!(echo(&echoes, "Secret", "ns", "out", "10", false).await);
        // Seen once: the same version again (a relist) passes.
        assert!(!echo(&echoes, "Secret", "ns", "out", "10", false).await);
        assert_eq!(echoes.pending(), 0);
    }

    #[tokio::test]
    async fn a_change_by_someone_else_passes_and_forgets_only_older_writes() {
        let echoes = Echoes::default();
        write(&echoes, "KollaConfig", "kc", "10");
        // An edit from before the write, delivered after it: it passes, the write's echo is
        // still to come.
        assert!(!echo(&echoes, "KollaConfig", "ns", "kc", "9", false).await);
        assert!(echo(&echoes, "KollaConfig", "ns", "kc", "10", false).await);
        // An echo lost (a watch restart), then a later edit: the write is forgotten.
        write(&echoes, "KollaConfig", "kc", "12");
        assert!(!echo(&echoes, "KollaConfig", "ns", "kc", "13", false).await);
        assert_eq!(echoes.pending(), 0);
        // Versions that are not numbers are never compared: kept until their echo.
        write(&echoes, "KollaConfig", "kc", "x");
        assert!(!echo(&echoes, "KollaConfig", "ns", "kc", "y", false).await);
        assert!(echo(&echoes, "KollaConfig", "ns", "kc", "x", false).await);
    }

    #[tokio::test]
    async fn two_writes_in_a_row_are_both_echoes_in_order() {
        let echoes = Echoes::default();
        write(&echoes, "Secret", "out", "10");
        write(&echoes, "Secret", "out", "11");
        assert!(echo(&echoes, "Secret", "ns", "out", "10", false).await);
        assert!(echo(&echoes, "Secret", "ns", "out", "11", false).await);
        assert_eq!(echoes.pending(), 0);
        // The first echo lost: the second still matches.
        write(&echoes, "Secret", "out", "12");
        write(&echoes, "Secret", "out", "13");
        assert!(echo(&echoes, "Secret", "ns", "out", "13", false).await);
        assert_eq!(echoes.pending(), 0);
    }

    #[tokio::test]
    async fn only_the_last_writes_of_an_object_are_kept() {
        let echoes = Echoes::default();
        for version in 1..=(PER_OBJECT + 2) {
            write(&echoes, "Secret", "out", &format!("v{version}"));
        }
        assert!(!echo(&echoes, "Secret", "ns", "out", "v2", false).await);
        assert!(echo(&echoes, "Secret", "ns", "out", "v3", false).await);
        assert_eq!(echoes.pending(), 1);
    }

    /// Judges, in a task of its own, an event of Secret `ns/out` at `version`; returns once
    /// the task has started.
    async fn judged_later(echoes: &Arc<Echoes>, version: &str) -> tokio::task::JoinHandle<bool> {
        let (echoes, version) = (echoes.clone(), version.to_string());
        let judged =
            tokio::spawn(
                async move { echo(&echoes, "Secret", "ns", "out", &version, false).await },
            );
        tokio::task::yield_now().await;
        judged
    }

    #[tokio::test]
    async fn an_event_ahead_of_the_answer_waits_for_it() {
        let echoes = Arc::new(Echoes::default());
        let writing = echoes.writing("Secret", "ns", "out");
        let judged = judged_later(&echoes, "10").await;
        assert!(
            !judged.is_finished(),
            "judged before the write was answered"
        );
        writing.written(&meta("ns", "out", "10"));
        assert!(judged.await.unwrap(), "the echo passed");
        assert_eq!(echoes.pending(), 0);
    }

    #[tokio::test]
    async fn a_failed_write_releases_the_events_it_held() {
        let echoes = Arc::new(Echoes::default());
        let writing = echoes.writing("Secret", "ns", "out");
        let judged = judged_later(&echoes, "10").await;
        drop(writing);
        assert!(!judged.await.unwrap());
        assert_eq!(echoes.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_waits_no_longer_than_the_hold() {
        let echoes = Echoes::default();
        let _stuck = echoes.writing("Secret", "ns", "out");
        let started = tokio::time::Instant::now();
        assert!(!echo(&echoes, "Secret", "ns", "out", "10", false).await);
        assert_eq!(started.elapsed(), HOLD);
        // Other objects do not wait at all.
        let started = tokio::time::Instant::now();
        assert!(!echo(&echoes, "Secret", "ns", "other", "10", false).await);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn the_first_delete_event_after_a_deletion_is_its_echo() {
        let echoes = Echoes::default();
        write(&echoes, "Secret", "old", "10");
        echoes.writing("Secret", "ns", "old").deleted();
        // A change from before the deletion, delivered late: not an echo, the deletion's
        // echo is still to come.
        assert!(!echo(&echoes, "Secret", "ns", "old", "9", false).await);
        // The delete event carries a version of its own: matched by being a deletion.
        assert!(echo(&echoes, "Secret", "ns", "old", "12", true).await);
        assert_eq!(echoes.pending(), 0);
        // The object made again and deleted by somebody else: not an echo.
        assert!(!echo(&echoes, "Secret", "ns", "old", "13", false).await);
        assert!(!echo(&echoes, "Secret", "ns", "old", "14", true).await);
        // A deletion by somebody else forgets the versions the controller wrote.
        write(&echoes, "Secret", "other", "20");
        assert!(!echo(&echoes, "Secret", "ns", "other", "21", true).await);
        assert_eq!(echoes.pending(), 0);
    }

    #[tokio::test]
    async fn an_object_without_name_or_version_is_never_an_echo() {
        let echoes = Echoes::default();
        let mut unnamed = meta("ns", "out", "1");
        unnamed.name = None;
        assert!(!echoes.is_echo("Secret", &unnamed, false).await);
        let mut unversioned = meta("ns", "out", "1");
        unversioned.resource_version = None;
        let writing = echoes.writing("Secret", "ns", "out");
        writing.written(&unversioned);
        assert_eq!(echoes.pending(), 0);
        assert!(!echoes.is_echo("Secret", &unversioned, false).await);
    }
}
