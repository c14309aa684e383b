//! Evaluation metrics for a binary classifier that outputs probabilities
//! (docs/analytics.md §9.1): ROC-AUC, PR-AUC (average precision), MCC at a
//! threshold, Brier score and reliability bins. Pure, unrounded; `labels`
//! are `true` for the positive class (drop-off).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// ROC-AUC by Mann–Whitney: the probability that a random positive scores
/// higher than a random negative, ties counting ½. `None` when either class
/// is missing (or the inputs differ in length).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let positives = labels.iter().filter(|y| **y).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Average ranks (1-based) with ties sharing the mean rank.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    let n = negatives as f64;
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// PR-AUC as average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score
/// thresholds from the highest down (tied scores enter together). `None`
/// without positives.
pub fn pr_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let positives = labels.iter().filter(|y| **y).count();
    if positives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if labels[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// Confusion counts with "positive" predicted when score ≥ threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub r#fn: usize,
}

pub fn confusion(scores: &[f64], labels: &[bool], threshold: f64) -> Confusion {
    let mut c = Confusion::default();
    for (s, y) in scores.iter().zip(labels) {
        match (*s >= threshold, *y) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.r#fn += 1,
        }
    }
    c
}

/// Matthews correlation coefficient at `threshold` (predicted positive when
/// score ≥ threshold). When a row or column of the confusion matrix is
/// empty the denominator is 0 and MCC is 0 by convention (no better than
/// chance), never NaN.
pub fn mcc(scores: &[f64], labels: &[bool], threshold: f64) -> f64 {
    let c = confusion(scores, labels, threshold);
    let (tp, fp, tn, fneg) = (c.tp as f64, c.fp as f64, c.tn as f64, c.r#fn as f64);
    let denominator = ((tp + fp) * (tp + fneg) * (tn + fp) * (tn + fneg)).sqrt();
    if denominator == 0.0 {
        0.0
    } else {
        (tp * tn - fp * fneg) / denominator
    }
}

/// Brier score: mean (p − y)². `None` on empty input.
pub fn brier(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.is_empty() || scores.len() != labels.len() {
        return None;
    }
    let sum: f64 = scores
        .iter()
        .zip(labels)
        .map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2))
        .sum();
    Some(sum / scores.len() as f64)
}

/// One reliability bin [from, to) (the last one closed at 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReliabilityBin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
    /// Mean predicted probability in the bin; null when empty.
    pub mean_predicted: Option<f64>,
    /// Share of positives in the bin; null when empty.
    pub observed_rate: Option<f64>,
}

/// 10 bins [0, 0.1), …, [0.9, 1.0] (unrounded values).
pub fn reliability_bins(scores: &[f64], labels: &[bool]) -> Vec<ReliabilityBin> {
    let mut sums = [(0usize, 0.0f64, 0usize); 10];
    for (s, y) in scores.iter().zip(labels) {
        let k = ((s * 10.0).floor().max(0.0) as usize).min(9);
        sums[k].0 += 1;
        sums[k].1 += s;
        sums[k].2 += usize::from(*y);
    }
    sums.iter()
        .enumerate()
        .map(|(k, &(count, sum, pos))| ReliabilityBin {
            from: k as f64 / 10.0,
            to: (k + 1) as f64 / 10.0,
            count,
            mean_predicted: (count > 0).then(|| sum / count as f64),
            observed_rate: (count > 0).then(|| pos as f64 / count as f64),
        })
        .collect()
}

/// The threshold in {0.05, 0.10, …, 0.95} with the highest MCC (ties → the
/// lower threshold).
pub fn best_threshold(scores: &[f64], labels: &[bool]) -> f64 {
    let mut best = (0.05, f64::NEG_INFINITY);
    for k in 1..=19u8 {
        let threshold = f64::from(k) / 20.0;
        let m = mcc(scores, labels, threshold);
        if m.partial_cmp(&best.1) == Some(Ordering::Greater) {
            best = (threshold, m);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn roc_auc_of_perfect_reversed_and_tied_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
        // All tied: every pair counts ½.
        assert_eq!(roc_auc(&[0.5; 4], &labels), Some(0.5));
        // Pairs (pos, neg): (0.8 vs 0.1 ✓, 0.8 vs 0.8 ½), (0.4 vs 0.1 ✓, 0.4 vs 0.8 ✗) → 2.5 / 4.
        assert_eq!(
            roc_auc(&[0.1, 0.8, 0.8, 0.4], &[false, false, true, true]),
            Some(0.625)
        );
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn pr_auc_is_average_precision() {
        let labels = [false, false, true, true];
        assert_eq!(pr_auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        // Ranked: 0.9 (−), 0.8 (+), 0.2 (−), 0.1 (+):
        // recall 0.5 at precision 1/2, recall 1 at precision 2/4 → 0.5·0.5 + 0.5·0.5 = 0.5.
        let ap = pr_auc(&[0.1, 0.8, 0.9, 0.2], &[true, true, false, false]).expect("defined");
        assert!(close(ap, 0.5), "{ap}");
        // Ranked 0.9 (+), 0.5 (−), 0.4 (+): 0.5·1 + 0.5·(2/3) = 5/6.
        let ap = pr_auc(&[0.9, 0.5, 0.4], &[true, false, true]).expect("defined");
        assert!(close(ap, 5.0 / 6.0), "{ap}");
        // All tied: one threshold, precision = base rate.
        assert_eq!(pr_auc(&[0.3; 4], &labels), Some(0.5));
        assert_eq!(pr_auc(&[0.3, 0.4], &[false, false]), None);
    }

    #[test]
    fn mcc_at_a_threshold() {
        let labels = [true, true, false, false];
        assert_eq!(mcc(&[0.9, 0.8, 0.2, 0.1], &labels, 0.5), 1.0);
        assert_eq!(mcc(&[0.1, 0.2, 0.8, 0.9], &labels, 0.5), -1.0);
        // tp 1, fn 1, fp 0, tn 2: (1·2 − 0·1) / √(1·2·2·3) = 2/√12 = 1/√3.
        let m = mcc(&[0.9, 0.3, 0.2, 0.1], &labels, 0.5);
        assert!(close(m, 1.0 / 3f64.sqrt()), "{m}");
        // Score equal to the threshold is predicted positive.
        assert_eq!(mcc(&[0.5, 0.4], &[true, false], 0.5), 1.0);
        // Everything predicted negative: denominator 0 → 0.
        assert_eq!(mcc(&[0.1, 0.2], &[true, false], 0.5), 0.0);
    }

    #[test]
    fn brier_and_reliability_bins() {
        let b = brier(&[1.0, 0.0, 0.5, 0.8], &[true, false, true, false]).expect("defined");
        assert!(close(b, (0.0 + 0.0 + 0.25 + 0.64) / 4.0), "{b}");
        assert_eq!(brier(&[], &[]), None);
        let bins = reliability_bins(
            &[0.05, 0.15, 0.12, 1.0, 0.95],
            &[false, true, false, true, true],
        );
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[0].count, 1);
        assert_eq!(bins[1].count, 2);
        assert_eq!(bins[1].observed_rate, Some(0.5));
        assert_eq!(bins[9].count, 2); // 1.0 falls in the last, closed bin
        assert_eq!(bins[5].mean_predicted, None);
    }

    #[test]
    fn best_threshold_maximises_mcc_and_prefers_the_lower_on_ties() {
        // Any threshold in (0.3, 0.7] separates perfectly: the lowest such is 0.35.
        let t = best_threshold(&[0.7, 0.8, 0.2, 0.3], &[true, true, false, false]);
        assert!(close(t, 0.35), "{t}");
    }
}
