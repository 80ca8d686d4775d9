//! Group commit of pushes on one server instance, for both backends. A push's transaction ends
//! with a flush to disk (PostgreSQL's WAL flush; SQLite's sync of its WAL file at commit, with
//! `synchronous=FULL`: milliseconds on a real disk) while it still holds the feed lock (the feed
//! counter's row lock on PostgreSQL, the single writer on SQLite), so pushes that each commit
//! alone are limited to one flush at a time — a few hundred a second, however fast everything
//! else is. Here concurrent pushes queue; one caller at a time (the leader) takes the
//! queue (at most one push per device, up to [`MAX_JOBS`] pushes and [`MAX_MOVEMENTS`]
//! movements) and runs it as one group (`storage::push::push_group`: the result each push would
//! have had alone, in queue order) in one transaction, with one flush; every caller gets its own
//! result. The pushes that arrive meanwhile form the next group, so groups grow with the load.
//! The leader goes on leading until its own push has run, then hands the lead to the first push
//! still waiting. Each waiting caller sleeps on its own ticket and is woken once: with its result
//! or with the lead (a shared wake-up would wake every waiting thread for every group).
//!
//! Must not: run anything but pushes, hold the queue's mutex while the database works, or leave
//! a caller waiting when the leader fails (a panic answers the group's pushes with an error and
//! hands the lead on).

use crate::storage::push::PushJob;
use crate::storage::{Pusher, Result, StorageError};
use smartstock_core::wire::{MovementOutcome, PushRequest};
use smartstock_core::{DeviceId, Timestamp};
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Most pushes in one group.
pub(crate) const MAX_JOBS: usize = 64;
/// Most movements in one group (a group always takes at least one push).
pub(crate) const MAX_MOVEMENTS: usize = 5_000;

/// One queued push.
pub(crate) struct Job {
    /// The authenticated user.
    pub(crate) pusher: Pusher,
    /// The batch.
    pub(crate) request: PushRequest,
    /// Reception time.
    pub(crate) now: Timestamp,
}

type Outcomes = Result<Vec<MovementOutcome>>;

/// Where a queued push stands.
enum Turn {
    /// In the queue, its caller asleep.
    Waiting,
    /// Its caller is to lead the next groups.
    Lead,
    /// Its group ran: the result, until its caller takes it.
    Done(Outcomes),
    /// The caller took the result.
    Taken,
}

/// A queued push, where it stands, and the wake-up of its caller.
struct Ticket {
    job: Job,
    turn: Mutex<Turn>,
    wake: Condvar,
}

impl Ticket {
    fn new(job: Job) -> Ticket {
        Ticket { job, turn: Mutex::new(Turn::Waiting), wake: Condvar::new() }
    }

    fn turn(&self) -> MutexGuard<'_, Turn> {
        self.turn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves a waiting ticket on (to its result or the lead) and wakes its caller.
    fn settle(&self, next: Turn) {
        let mut turn = self.turn();
        if matches!(*turn, Turn::Waiting | Turn::Lead) {
            *turn = next;
            self.wake.notify_one();
        }
    }

    /// Sleeps until the ticket has its result (`Some`) or its caller is to lead (`None`; the
    /// ticket stays queued).
    fn wait(&self) -> Option<Outcomes> {
        let mut turn = self.turn();
        loop {
            match &*turn {
                Turn::Done(_) => return take(&mut turn),
                Turn::Lead => {
                    *turn = Turn::Waiting;
                    return None;
                }
                Turn::Waiting | Turn::Taken => turn = self.wake.wait(turn).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// The result, if its group ran.
    fn result(&self) -> Option<Outcomes> {
        take(&mut self.turn())
    }
}

/// The result of a ticket whose group ran (the ticket is then `Taken`).
fn take(turn: &mut Turn) -> Option<Outcomes> {
    match std::mem::replace(turn, Turn::Taken) {
        Turn::Done(result) => Some(result),
        other => {
            *turn = other;
            None
        }
    }
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Arc<Ticket>>,
    leading: bool,
}

/// The queue of pushes waiting for a group.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
}

impl GroupCommit {
    /// Queues `job` and returns its result once a group that holds it has run. `run` gets the
    /// group's jobs in queue order and returns one result per job.
    pub(crate) fn submit(&self, job: Job, run: impl Fn(&[&Job]) -> Vec<Outcomes>) -> Outcomes {
        let ticket = Arc::new(Ticket::new(job));
        let leads = {
            let mut queue = self.lock();
            queue.waiting.push(Arc::clone(&ticket));
            !std::mem::replace(&mut queue.leading, true)
        };
        if !leads {
            if let Some(result) = ticket.wait() {
                return result;
            }
        }
        loop {
            let group = take_group(&mut self.lock().waiting);
            let leader = Leader { commit: self, group };
            let jobs: Vec<&Job> = leader.group.iter().map(|t| &t.job).collect();
            let results = run(&jobs);
            for (ticket, result) in leader.group.iter().zip(results) {
                ticket.settle(Turn::Done(result));
            }
            drop(leader);
            if let Some(result) = ticket.result() {
                self.hand_off();
                return result;
            }
        }
    }

    /// The lead passes to the first push still waiting, or lapses.
    fn hand_off(&self) {
        let mut queue = self.lock();
        match queue.waiting.first() {
            Some(next) => next.settle(Turn::Lead),
            None => queue.leading = false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Job {
    /// The job as `storage::push` takes it.
    pub(crate) fn as_push(&self) -> PushJob<'_> {
        PushJob { pusher: &self.pusher, request: &self.request, now: self.now }
    }
}

/// Runs a group with `transaction` (all its pushes in one transaction, one result per push).
/// When the group fails as a whole, each push runs alone, so a failure belongs to the push that
/// caused it.
pub(crate) fn run_group(
    jobs: &[PushJob<'_>],
    transaction: impl Fn(&[PushJob<'_>]) -> Result<Vec<Outcomes>>,
) -> Vec<Outcomes> {
    match transaction(jobs) {
        Ok(results) => results,
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, pushes = jobs.len(), "a push group failed; running its pushes one by one");
            jobs.iter().map(|job| transaction(&[*job]).and_then(only)).collect()
        }
    }
}

fn only(mut results: Vec<Outcomes>) -> Outcomes {
    results.pop().unwrap_or_else(|| Err(StorageError::Database("a push group lost its only push".into())))
}

/// Takes the next group off the queue: queue order, one push per device, within the limits.
fn take_group(waiting: &mut Vec<Arc<Ticket>>) -> Vec<Arc<Ticket>> {
    let mut devices: HashSet<DeviceId> = HashSet::new();
    let mut movements = 0;
    let mut group = Vec::new();
    let mut rest = Vec::with_capacity(waiting.len());
    for ticket in waiting.drain(..) {
        let size = ticket.job.request.movements.len();
        let fits = group.is_empty() || (group.len() < MAX_JOBS && movements + size <= MAX_MOVEMENTS);
        if fits && devices.insert(ticket.job.request.device_id) {
            movements += size;
            group.push(ticket);
        } else {
            rest.push(ticket);
        }
    }
    *waiting = rest;
    group
}

/// The leader's group while it runs. On drop every push of the group without a result gets an
/// error; when `run` panicked, the lead is handed on as the leader's caller unwinds.
struct Leader<'g> {
    commit: &'g GroupCommit,
    group: Vec<Arc<Ticket>>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        for ticket in &self.group {
            ticket.settle(Turn::Done(Err(StorageError::Database("the push group failed; push again".into()))));
        }
        if std::thread::panicking() {
            self.commit.hand_off();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Role;
    use smartstock_core::ids::NewRandom;
    use smartstock_core::wire::WIRE_VERSION;
    use smartstock_core::UserId;

    fn job(device: DeviceId) -> Job {
        Job {
            pusher: Pusher { user_id: UserId::new_random(), role: Role::Clerk, locations: vec![] },
            request: PushRequest { v: WIRE_VERSION, device_id: device, movements: vec![] },
            now: Timestamp(0),
        }
    }

    fn ticket(device: DeviceId) -> Arc<Ticket> {
        Arc::new(Ticket::new(job(device)))
    }

    #[test]
    fn a_group_takes_one_push_per_device_in_queue_order() {
        let (a, b) = (DeviceId::new_random(), DeviceId::new_random());
        let mut waiting = vec![ticket(a), ticket(a), ticket(b), ticket(a)];
        let group = take_group(&mut waiting);
        let devices: Vec<DeviceId> = group.iter().map(|t| t.job.request.device_id).collect();
        assert_eq!(devices, vec![a, b]);
        assert_eq!(waiting.len(), 2);
        assert!(waiting.iter().all(|t| t.job.request.device_id == a));
    }

    #[test]
    fn a_group_stops_at_the_job_limit() {
        let mut waiting: Vec<_> = (0..MAX_JOBS + 3).map(|_| ticket(DeviceId::new_random())).collect();
        assert_eq!(take_group(&mut waiting).len(), MAX_JOBS);
        assert_eq!(waiting.len(), 3);
    }

    #[test]
    fn concurrent_pushes_share_groups_and_each_gets_its_own_result() {
        let commit = Arc::new(GroupCommit::default());
        let groups = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let (commit, groups) = (Arc::clone(&commit), Arc::clone(&groups));
                std::thread::spawn(move || {
                    let mut job = job(DeviceId::new_random());
                    job.now = Timestamp(i);
                    commit.submit(job, |jobs| {
                        groups.lock().unwrap().push(jobs.len());
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        jobs.iter().map(|j| Err(StorageError::Forbidden(j.now.millis().to_string()))).collect()
                    })
                })
            })
            .collect();
        each_got_its_own_answer(threads);
        let groups = groups.lock().unwrap();
        assert_eq!(groups.iter().sum::<usize>(), 32);
        assert!(groups.len() < 32, "no two pushes shared a group: {groups:?}");
    }

    /// Push `i` (of the threads in order) was answered with its own result: `Forbidden(i)`.
    fn each_got_its_own_answer(threads: Vec<std::thread::JoinHandle<Outcomes>>) {
        for (i, thread) in threads.into_iter().enumerate() {
            match thread.join().unwrap() {
                Err(StorageError::Forbidden(text)) => assert_eq!(text, i.to_string()),
                other => panic!("push {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn pushes_left_behind_by_a_group_get_the_lead_and_run() {
        // Four devices, eight pushes each: a group takes one push per device, so most pushes wait
        // for a later group, led by a caller the lead was handed to.
        let commit = Arc::new(GroupCommit::default());
        let devices: Vec<DeviceId> = (0..4).map(|_| DeviceId::new_random()).collect();
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let (commit, device) = (Arc::clone(&commit), devices[i % 4]);
                std::thread::spawn(move || {
                    let mut job = job(device);
                    job.now = Timestamp(i as i64);
                    commit.submit(job, |jobs| {
                        let mut seen = HashSet::new();
                        assert!(jobs.iter().all(|j| seen.insert(j.request.device_id)), "two pushes of one device");
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        jobs.iter().map(|j| Err(StorageError::Forbidden(j.now.millis().to_string()))).collect()
                    })
                })
            })
            .collect();
        each_got_its_own_answer(threads);
        assert!(!commit.lock().leading, "the lead lapsed once the queue emptied");
        assert!(commit.lock().waiting.is_empty());
    }

    #[test]
    fn a_panicking_group_answers_its_pushes_and_the_next_group_runs() {
        let commit = GroupCommit::default();
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit.submit(job(DeviceId::new_random()), |_| panic!("boom"))
        }));
        assert!(failed.is_err());
        let result = commit.submit(job(DeviceId::new_random()), |jobs| jobs.iter().map(|_| Ok(vec![])).collect());
        assert!(matches!(result, Ok(v) if v.is_empty()));
    }
}
