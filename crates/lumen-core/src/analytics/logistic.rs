//! L2-regularised logistic regression by Newton–Raphson (docs/analytics.md
//! §9.1): minimises −Σ[y·ln p + (1 − y)·ln(1 − p)] + (λ/2)·‖β‖² with the
//! intercept not penalised, from β = 0 until max |Δβ| < 1e−8 or 100
//! iterations. Deterministic; inputs are expected standardised.

use serde::{Deserialize, Serialize};

pub const MAX_ITERATIONS: usize = 100;
pub const TOLERANCE: f64 = 1e-8;

/// A fitted model: p = σ(intercept + Σ coefficientsⱼ·xⱼ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

impl Fit {
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(x)
                .map(|(b, v)| b * v)
                .sum::<f64>()
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        sigmoid(self.log_odds(x))
    }
}

/// Numerically stable logistic function.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

// Index loops read like the maths here.
#[allow(clippy::needless_range_loop)]
/// Fits on rows `x` (all of the same width) and labels `y` (true = 1).
pub fn fit<R: AsRef<[f64]>>(x: &[R], y: &[bool], lambda: f64) -> Fit {
    let k = x.first().map_or(0, |r| r.as_ref().len());
    let d = k + 1; // parameter 0 is the intercept
    let mut beta = vec![0.0; d];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let mut gradient = vec![0.0; d];
        let mut hessian = vec![vec![0.0; d]; d];
        for (row, &label) in x.iter().zip(y) {
            let row = row.as_ref();
            let z = beta[0] + beta[1..].iter().zip(row).map(|(b, v)| b * v).sum::<f64>();
            let p = sigmoid(z);
            let residual = p - f64::from(u8::from(label));
            let w = p * (1.0 - p);
            for a in 0..d {
                let xa = if a == 0 { 1.0 } else { row[a - 1] };
                gradient[a] += residual * xa;
                for b in a..d {
                    let xb = if b == 0 { 1.0 } else { row[b - 1] };
                    hessian[a][b] += w * xa * xb;
                }
            }
        }
        for a in 1..d {
            gradient[a] += lambda * beta[a];
            hessian[a][a] += lambda;
        }
        for a in 0..d {
            for b in 0..a {
                hessian[a][b] = hessian[b][a];
            }
        }
        let Some(step) = solve(hessian, gradient) else {
            break; // singular (e.g. no rows): keep the current estimate
        };
        let mut largest: f64 = 0.0;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            largest = largest.max(s.abs());
        }
        if !largest.is_finite() {
            break;
        }
        if largest < TOLERANCE {
            converged = true;
            break;
        }
    }
    Fit {
        intercept: beta[0],
        coefficients: beta[1..].to_vec(),
        iterations,
        converged,
    }
}

#[allow(clippy::needless_range_loop)]
/// Solves A·s = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                for c in col..n {
                    a[row][c] -= factor * a[col][c];
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut s = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|c| a[row][c] * s[c]).sum();
        s[row] = (b[row] - tail) / a[row][row];
    }
    Some(s)
}

/// SplitMix64: a tiny deterministic PRNG for synthetic test data.
#[cfg(test)]
pub(crate) struct SplitMix64(pub u64);

#[cfg(test)]
impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(800.0) <= 1.0 && sigmoid(800.0) > 0.999);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(-800.0) < 1e-300);
    }

    #[test]
    fn solves_a_small_linear_system() {
        let s = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).expect("regular");
        assert!((s[0] - 0.8).abs() < 1e-12 && (s[1] - 1.4).abs() < 1e-12);
        assert_eq!(solve(vec![vec![0.0]], vec![1.0]), None);
    }

    #[test]
    fn recovers_the_signs_of_planted_effects() {
        // y ~ Bernoulli(σ(−0.5 + 1.5·x₀ − 1.0·x₁ + 0·x₂)).
        let mut rng = SplitMix64(42);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..2000 {
            let row = vec![rng.normal(), rng.normal(), rng.normal()];
            let p = sigmoid(-0.5 + 1.5 * row[0] - 1.0 * row[1]);
            y.push(rng.uniform() < p);
            x.push(row);
        }
        let fit = fit(&x, &y, 1.0);
        assert!(fit.converged, "{fit:?}");
        assert!(
            fit.coefficients[0] > 1.2 && fit.coefficients[0] < 1.8,
            "{fit:?}"
        );
        assert!(
            fit.coefficients[1] < -0.7 && fit.coefficients[1] > -1.3,
            "{fit:?}"
        );
        assert!(fit.coefficients[2].abs() < 0.2, "{fit:?}");
        assert!(fit.intercept < -0.2 && fit.intercept > -0.8, "{fit:?}");
        // Deterministic.
        assert_eq!(super::fit(&x, &y, 1.0), fit);
    }

    #[test]
    fn the_penalty_shrinks_slopes_but_not_the_intercept() {
        // Perfectly separable data: without a penalty the slope would diverge.
        let x = vec![vec![-1.0], vec![-0.5], vec![0.5], vec![1.0]];
        let y = vec![false, false, true, true];
        let fit = fit(&x, &y, 1.0);
        assert!(fit.converged);
        assert!(fit.coefficients[0] > 0.0 && fit.coefficients[0].is_finite());
        assert!(fit.intercept.abs() < 1e-9, "symmetric data: {fit:?}");
        let strong = super::fit(&x, &y, 100.0);
        assert!(strong.coefficients[0] < fit.coefficients[0]);
        // Intercept only (no features) → the log-odds of the base rate.
        let rows: Vec<Vec<f64>> = vec![vec![]; 4];
        let base = super::fit(&rows, &[true, false, false, false], 1.0);
        assert!((sigmoid(base.intercept) - 0.25).abs() < 1e-9, "{base:?}");
    }
}
