//! What differs between the same file of two results folders.
//!
//! Pure: two files read back in, one comparison out. Rows are matched by
//! key (the strategy, and for `faults.csv` the fault), never by position,
//! so folders whose scenarios list strategies in another order, or have a
//! strategy more, still compare the rows they share.

use super::read::{Number, ResultsFile};

/// One number that differs between A and B.
#[derive(Debug)]
pub struct Difference {
    /// The row's key (see `read::Schema::key_columns`).
    pub key: Vec<String>,
    pub metric: &'static str,
    pub a: Number,
    pub b: Number,
}

impl Difference {
    /// B − A.
    pub fn delta(&self) -> f64 {
        self.b.value - self.a.value
    }

    /// The change relative to A, in percent; `None` when A is zero (every
    /// change from nothing would be infinite).
    pub fn change_pct(&self) -> Option<f64> {
        (self.a.value != 0.0).then(|| 100.0 * self.delta() / self.a.value.abs())
    }
}

/// The comparison of one file of folder A with the same file of folder B.
#[derive(Debug)]
pub struct FileComparison {
    /// Every number that differs, row by row in A's order, metrics in file
    /// order.
    pub differences: Vec<Difference>,
    /// Keys of the rows in both files.
    pub shared: Vec<Vec<String>>,
    /// Keys of rows only A has, in A's order.
    pub only_in_a: Vec<Vec<String>>,
    /// Keys of rows only B has, in B's order.
    pub only_in_b: Vec<Vec<String>>,
}

/// Compares every row the two files share, on every metric both have.
/// Numbers are compared by value, so `1.50` and `1.500` are the same.
pub fn compare(a: &ResultsFile, b: &ResultsFile) -> FileComparison {
    let mut comparison = FileComparison {
        differences: Vec::new(),
        shared: Vec::new(),
        only_in_a: Vec::new(),
        only_in_b: Vec::new(),
    };
    for row_a in &a.rows {
        let Some(row_b) = b.row(&row_a.key) else {
            comparison.only_in_a.push(row_a.key.clone());
            continue;
        };
        comparison.shared.push(row_a.key.clone());
        for (&metric, number_a) in a.metrics.iter().zip(&row_a.numbers) {
            let Some(number_b) = b.number(row_b, metric) else {
                continue;
            };
            if number_a.value != number_b.value {
                comparison.differences.push(Difference {
                    key: row_a.key.clone(),
                    metric,
                    a: number_a.clone(),
                    b: number_b.clone(),
                });
            }
        }
    }
    for row_b in &b.rows {
        if a.row(&row_b.key).is_none() {
            comparison.only_in_b.push(row_b.key.clone());
        }
    }
    comparison
}
