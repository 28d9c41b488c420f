//! A map bounded by the memory its values take, dropping the least recently used first: the
//! desk keeps its GPU textures in two (thumbnails, viewer images). Looking up takes `&self`
//! (drawing code reads while it draws); eviction runs once a frame with `&mut self`.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;

struct Slot<V> {
    value: V,
    bytes: usize,
    used: Cell<u64>,
}

pub struct Lru<K, V> {
    map: HashMap<K, Slot<V>>,
    budget: usize,
    total: usize,
    clock: Cell<u64>,
}

impl<K: Eq + Hash + Clone, V> Lru<K, V> {
    /// An empty map that holds at most `budget` bytes (beyond the one value last used).
    pub fn new(budget: usize) -> Self {
        Lru {
            map: HashMap::new(),
            budget,
            total: 0,
            clock: Cell::new(0),
        }
    }

    fn tick(&self) -> u64 {
        let t = self.clock.get() + 1;
        self.clock.set(t);
        t
    }

    /// The value for `key`, marked as just used.
    pub fn get(&self, key: &K) -> Option<&V> {
        let slot = self.map.get(key)?;
        slot.used.set(self.tick());
        Some(&slot.value)
    }

    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Adds or replaces `key`, then drops the least recently used values until the map is
    /// within its budget (never the one just added).
    pub fn insert(&mut self, key: K, value: V, bytes: usize) {
        let used = Cell::new(self.tick());
        if let Some(old) = self.map.insert(key.clone(), Slot { value, bytes, used }) {
            self.total -= old.bytes;
        }
        self.total += bytes;
        while self.total > self.budget && self.map.len() > 1 {
            let Some(oldest) = self
                .map
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, s)| s.used.get())
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(s) = self.map.remove(&oldest) {
                self.total -= s.bytes;
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let s = self.map.remove(key)?;
        self.total -= s.bytes;
        Some(s.value)
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.total = 0;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes the values take.
    pub fn bytes(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut lru = Lru::new(30);
        lru.insert("a", 1, 10);
        lru.insert("b", 2, 10);
        lru.insert("c", 3, 10);
        assert_eq!(lru.get(&"a"), Some(&1)); // a is now the most recent
        lru.insert("d", 4, 10);
        assert!(!lru.contains(&"b"), "b was least recently used");
        assert!(lru.contains(&"a") && lru.contains(&"c") && lru.contains(&"d"));
        assert_eq!(lru.bytes(), 30);
    }

    #[test]
    fn one_value_over_budget_is_kept_alone() {
        let mut lru = Lru::new(10);
        lru.insert("a", 1, 5);
        lru.insert("big", 2, 50);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.get(&"big"), Some(&2));
        lru.insert("big", 3, 8);
        assert_eq!(lru.bytes(), 8);
        assert_eq!(lru.remove(&"big"), Some(3));
        assert!(lru.is_empty());
        assert_eq!(lru.bytes(), 0);
    }
}
