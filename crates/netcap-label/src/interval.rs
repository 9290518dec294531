//! A static interval index: which intervals overlap a query range, in
//! O(log n + k log n) for k answers, whatever the intervals' lengths.
//!
//! The intervals are sorted by start and seen as an implicit balanced binary
//! tree (the middle of each range is the node); each node keeps the largest
//! end of its subtree, so subtrees that end before the query are skipped.

/// Intervals `[start, end]` (inclusive) carrying a value each.
#[derive(Debug, Clone)]
pub struct IntervalIndex<T> {
    /// `(start, end, value)`, sorted by start.
    items: Vec<(i64, i64, T)>,
    /// Largest end in the subtree whose root is the item at the same index.
    max_end: Vec<i64>,
}

impl<T> Default for IntervalIndex<T> {
    fn default() -> Self {
        IntervalIndex {
            items: Vec::new(),
            max_end: Vec::new(),
        }
    }
}

impl<T> IntervalIndex<T> {
    /// An index of intervals being collected: call [`push`](Self::push)
    /// then [`build`](Self::build) once before querying.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an interval (before [`build`](Self::build)).
    pub fn push(&mut self, start: i64, end: i64, value: T) {
        self.items.push((start, end.max(start), value));
    }

    /// Sorts the intervals and computes the subtree ends. Intervals with the
    /// same start keep the order they were pushed in.
    pub fn build(&mut self) {
        self.items.sort_by_key(|it| it.0);
        self.max_end = vec![i64::MIN; self.items.len()];
        self.fill(0, self.items.len());
    }

    fn fill(&mut self, lo: usize, hi: usize) -> i64 {
        if lo >= hi {
            return i64::MIN;
        }
        let mid = lo + (hi - lo) / 2;
        let left = self.fill(lo, mid);
        let right = self.fill(mid + 1, hi);
        let own = self.items.get(mid).map_or(i64::MIN, |it| it.1);
        let m = own.max(left).max(right);
        if let Some(slot) = self.max_end.get_mut(mid) {
            *slot = m;
        }
        m
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Calls `f(start, end, value)` for every interval overlapping
    /// `[lo, hi]`, in order of start.
    pub fn overlapping<'a>(&'a self, lo: i64, hi: i64, mut f: impl FnMut(i64, i64, &'a T)) {
        self.visit(0, self.items.len(), lo, hi, &mut f);
    }

    fn visit<'a>(
        &'a self,
        l: usize,
        r: usize,
        lo: i64,
        hi: i64,
        f: &mut impl FnMut(i64, i64, &'a T),
    ) {
        if l >= r {
            return;
        }
        let mid = l + (r - l) / 2;
        if self.max_end.get(mid).is_none_or(|&m| m < lo) {
            return;
        }
        self.visit(l, mid, lo, hi, f);
        let Some((start, end, value)) = self.items.get(mid) else {
            return;
        };
        if *start > hi {
            return;
        }
        if *end >= lo {
            f(*start, *end, value);
        }
        self.visit(mid + 1, r, lo, hi, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compared with the obvious scan of every interval.
    #[test]
    fn same_answers_as_a_scan() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        for size in [0, 1, 2, 3, 7, 100, 1000] {
            let mut idx = IntervalIndex::new();
            let mut all = Vec::new();
            for i in 0..size {
                let s = rand(10_000);
                // Mostly short intervals, a few spanning much of the range.
                let len = if rand(20) == 0 { rand(8_000) } else { rand(30) };
                idx.push(s, s + len, i);
                all.push((s, s + len, i));
            }
            idx.build();
            for _ in 0..300 {
                let lo = rand(10_100) - 50;
                let hi = lo + rand(3) * rand(100);
                let mut got = Vec::new();
                idx.overlapping(lo, hi, |_, _, &v| got.push(v));
                let mut want: Vec<_> = all
                    .iter()
                    .filter(|(s, e, _)| *s <= hi && *e >= lo)
                    .map(|x| x.2)
                    .collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "size {size} [{lo}, {hi}]");
            }
        }
    }
}
