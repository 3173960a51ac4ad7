//! Several servers of one model: each problem is pinned to one replica, so all its requests
//! meet the prompt in that server's prefix cache; a new problem goes to the least loaded
//! replica, and a problem whose replica fails moves to another.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct Replicas {
    urls: Vec<String>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Requests running on each replica.
    load: Vec<usize>,
    /// The replica of each problem that has one.
    pinned: HashMap<String, usize>,
    /// Failures per replica since its last success: a failing replica is chosen last.
    failures: Vec<u32>,
}

impl Replicas {
    pub fn new(urls: Vec<String>) -> Self {
        let count = urls.len();
        Replicas {
            urls,
            state: Mutex::new(State {
                load: vec![0; count],
                failures: vec![0; count],
                ..State::default()
            }),
        }
    }

    pub fn url(&self, replica: usize) -> &str {
        &self.urls[replica]
    }

    /// How many servers there are.
    pub fn count(&self) -> usize {
        self.urls.len()
    }

    /// The replica for a request of `problem` (its pinned one, else the least loaded healthy
    /// one, then pinned), counted as running until [`Replicas::done`].
    pub fn start(&self, problem: &str) -> usize {
        let mut state = self.state.lock().expect("replica state");
        let replica = match state.pinned.get(problem) {
            Some(&replica) => replica,
            None => {
                let replica = state.least_loaded(None);
                state.pinned.insert(problem.to_owned(), replica);
                replica
            }
        };
        state.load[replica] += 1;
        replica
    }

    /// A request on `replica` finished (`ok`: answered).
    pub fn done(&self, replica: usize, ok: bool) {
        let mut state = self.state.lock().expect("replica state");
        state.load[replica] -= 1;
        if ok {
            state.failures[replica] = 0;
        }
    }

    /// A request of `problem` failed on `replica` in a way worth retrying: the replica it is
    /// retried on (another one if there is one, and the problem moves there), counted as running.
    pub fn failed(&self, problem: &str, replica: usize) -> usize {
        let mut state = self.state.lock().expect("replica state");
        state.load[replica] -= 1;
        state.failures[replica] += 1;
        let next = if self.urls.len() > 1 {
            state.least_loaded(Some(replica))
        } else {
            replica
        };
        state.pinned.insert(problem.to_owned(), next);
        state.load[next] += 1;
        next
    }
}

impl State {
    /// The replica with the fewest recent failures, then the least load, then the first.
    fn least_loaded(&self, except: Option<usize>) -> usize {
        (0..self.load.len())
            .filter(|&r| Some(r) != except)
            .min_by_key(|&r| (self.failures[r], self.load[r], r))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(count: usize) -> Replicas {
        Replicas::new((0..count).map(|i| format!("http://r{i}/v1")).collect())
    }

    #[test]
    fn problems_spread_by_load_and_stay_on_their_replica() {
        let replicas = replicas(2);
        let a = replicas.start("a");
        let b = replicas.start("b");
        assert_ne!(a, b, "the second problem goes to the idle replica");
        assert_eq!(
            replicas.start("a"),
            a,
            "a problem stays where its prompt is cached"
        );
        replicas.done(a, true);
        replicas.done(a, true);
        // `a`'s replica is idle now, `b`'s is busy: a new problem goes to `a`'s.
        assert_eq!(replicas.start("c"), a);
    }

    #[test]
    fn a_failing_replica_hands_its_problems_to_another() {
        let replicas = replicas(2);
        let first = replicas.start("a");
        let moved = replicas.failed("a", first);
        assert_ne!(moved, first);
        replicas.done(moved, true);
        assert_eq!(
            replicas.start("a"),
            moved,
            "the problem stays where it moved"
        );
        assert_ne!(
            replicas.start("b"),
            first,
            "a failing replica is chosen last"
        );
        let single = super::Replicas::new(vec!["http://only/v1".into()]);
        let only = single.start("a");
        assert_eq!(single.failed("a", only), only, "one replica: retried there");
    }
}
