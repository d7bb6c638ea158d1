//! The session hashes one Redis holds, found by their owner.
//!
//! Redis keeps every session in one keyspace; here a session is found
//! through the user it was created for. Nearly always a user has at most
//! one session in Redis (the one its cookie names), so the table is a
//! vector indexed by user, holding that user's latest session: an index,
//! not a hash, and memory that follows the users, not the logins. A user
//! can own more than one only in rare ways (a login whose session was
//! written but whose response was lost to a server crash, then a second
//! login; a session expired but not yet swept when its user logs in
//! again): the older ones wait in `older`, a small map.
//!
//! Entries are visited in a fixed order (by user, then `older` by id), so
//! a fault hears of its losses in the same order on every run.

use std::collections::BTreeMap;

use crate::sim::time::SimTime;
use crate::sim::{SessionId, UserId};

/// A session hash's key as the model needs it: its id and the user it was
/// created for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key {
    pub session: SessionId,
    pub owner: UserId,
}

/// A session hash as Redis holds it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    /// `lastAccessedTime` in memory.
    pub last_access: SimTime,
    /// `lastAccessedTime` as Redis last wrote it: what the next writeback
    /// or snapshot puts on disk. The same as `last_access` but after a
    /// failover undid a write in memory.
    pub last_write: SimTime,
    /// `lastAccessedTime` as the disk has it (last fsync, writeback or
    /// snapshot); `None` if the session is not on disk yet. Kept only for
    /// policies where the disk lags memory.
    pub on_disk: Option<SimTime>,
}

/// A user's latest session; `session` is `NONE` when Redis holds none.
#[derive(Clone, Copy, Debug)]
struct Slot {
    session: SessionId,
    entry: Entry,
}

const EMPTY: Slot = Slot {
    session: SessionId::NONE,
    entry: Entry {
        last_access: SimTime::ZERO,
        last_write: SimTime::ZERO,
        on_disk: None,
    },
};

#[derive(Debug, Default)]
pub(super) struct Sessions {
    /// By user: the latest session Redis holds for that user. Made for
    /// every user of the scenario up front, and grown past that only for
    /// tests that start empty; in a cluster every shard has its own, 40
    /// bytes a user each (a cluster of 3 at a million users: 120 MB).
    latest: Vec<Slot>,
    /// Sessions that are not their owner's latest, by id.
    older: BTreeMap<SessionId, (UserId, Entry)>,
    len: usize,
}

impl Sessions {
    /// An empty table with a slot for each of `users` users.
    pub fn for_users(users: u32) -> Self {
        Sessions {
            latest: crate::sim::cache::per_user(EMPTY, users as usize),
            ..Sessions::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores `entry` under `key` (a new session, or a replacement).
    pub fn insert(&mut self, key: Key, entry: Entry) {
        let i = key.owner.index();
        if i >= self.latest.len() {
            self.latest.resize(i + 1, EMPTY);
        }
        let slot = &mut self.latest[i];
        if slot.session == key.session {
            slot.entry = entry;
            return;
        }
        if let Some(older) = self.older.get_mut(&key.session) {
            older.1 = entry;
            return;
        }
        // The newest session takes the slot: its user is the one to ask
        // for it next.
        if !slot.session.is_none() {
            self.older.insert(slot.session, (key.owner, slot.entry));
        }
        *slot = Slot {
            session: key.session,
            entry,
        };
        self.len += 1;
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        match self.latest.get_mut(key.owner.index()) {
            Some(slot) if slot.session == key.session => Some(&mut slot.entry),
            _ => self.older.get_mut(&key.session).map(|(_, entry)| entry),
        }
    }

    pub fn remove(&mut self, key: Key) -> Option<Entry> {
        let removed = match self.latest.get_mut(key.owner.index()) {
            Some(slot) if slot.session == key.session => {
                let entry = slot.entry;
                *slot = EMPTY;
                Some(entry)
            }
            _ => self.older.remove(&key.session).map(|(_, entry)| entry),
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Keeps the entries for which `keep` returns true (it may change
    /// them), by user, then the older ones by id.
    pub fn retain(&mut self, mut keep: impl FnMut(Key, &mut Entry) -> bool) {
        let mut len = self.len;
        for (i, slot) in self.latest.iter_mut().enumerate() {
            if slot.session.is_none() {
                continue;
            }
            let key = Key {
                session: slot.session,
                owner: UserId(i as u32),
            };
            if !keep(key, &mut slot.entry) {
                *slot = EMPTY;
                len -= 1;
            }
        }
        self.older.retain(|&session, (owner, entry)| {
            let kept = keep(
                Key {
                    session,
                    owner: *owner,
                },
                entry,
            );
            if !kept {
                len -= 1;
            }
            kept
        });
        self.len = len;
    }

    /// Every entry, to change in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        let latest = self
            .latest
            .iter_mut()
            .filter(|slot| !slot.session.is_none());
        latest
            .map(|slot| &mut slot.entry)
            .chain(self.older.values_mut().map(|(_, entry)| entry))
    }

    /// Starts fetching `owner`'s latest session into the cache.
    #[inline]
    pub fn prefetch(&self, owner: UserId) {
        crate::sim::cache::prefetch_at(&self.latest, owner.index());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(session: u64, owner: u32) -> Key {
        Key {
            session: SessionId(session),
            owner: UserId(owner),
        }
    }

    fn at(s: u64) -> Entry {
        let t = SimTime::ZERO + crate::sim::time::SimDuration::from_secs(s);
        Entry {
            last_access: t,
            last_write: t,
            on_disk: None,
        }
    }

    #[test]
    fn a_user_with_several_sessions_keeps_each_findable() {
        let mut sessions = Sessions::default();
        sessions.insert(key(1, 0), at(1));
        sessions.insert(key(2, 0), at(2));
        sessions.insert(key(3, 1), at(3));
        sessions.insert(key(1, 0), at(4));
        assert_eq!(sessions.len(), 3);
        assert_eq!(
            sessions.get_mut(key(1, 0)).unwrap().last_access,
            at(4).last_access
        );
        assert_eq!(
            sessions.get_mut(key(2, 0)).unwrap().last_access,
            at(2).last_access
        );
        assert!(sessions.get_mut(key(2, 1)).is_none(), "another user's id");
        assert!(sessions.remove(key(2, 0)).is_some());
        assert!(sessions.remove(key(2, 0)).is_none());
        assert_eq!(sessions.len(), 2);
        let mut seen = Vec::new();
        sessions.retain(|k, _| {
            seen.push(k.session.0);
            k.session.0 != 3
        });
        assert_eq!(seen, [3, 1], "by user, then the older ones");
        assert_eq!(sessions.len(), 1);
        assert!(sessions.get_mut(key(1, 0)).is_some());
    }
}
