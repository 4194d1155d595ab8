//! How many people live in each village.
//!
//! Banyuwangi has 1.7 million people in 217 villages, about 7,800 each on
//! average; the largest, Kedungrejo in the fishing district of Muncar, has
//! close to 30,000, and the urban kelurahan of the regency's towns tend to be
//! larger than the rural desa. Sizes are drawn from a log-normal spread and
//! then scaled so that these totals hold for every seed.
//!
//! Only `+ - * /` are used on floats (no `exp`/`ln` from the platform's libm),
//! so the sizes are the same on every machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use kampung_core::banyuwangi::{villages, VillageKind};
use kampung_core::VillageCode;

/// People in the whole regency.
pub const REGENCY_POPULATION: usize = 1_700_000;
/// Fewest people a generated village has.
pub const MIN_VILLAGE: usize = 400;
/// Most people in any village other than the largest.
const CAP_OTHERS: usize = 26_000;
/// Sizes above this are compressed towards [`CAP_OTHERS`].
const SOFT_CAP: usize = 15_000;
/// The largest village: Kedungrejo, Muncar.
const LARGEST: VillageCode = VillageCode {
    district: 5,
    village: 2002,
};
/// Salt so that sizes and village residents of the same seed are independent.
const SALT: u64 = 0x5A1A_B0DE_D0C5_0001;

/// `e^x` as `(1 + x/1024)^1024`: good to a fraction of a percent for |x| < 3,
/// and bit-for-bit the same everywhere.
fn exp_portable(x: f64) -> f64 {
    let mut y = 1.0 + x / 1024.0;
    for _ in 0..10 {
        y *= y;
    }
    y
}

/// Roughly standard normal: the sum of 12 uniforms minus 6 (Irwin–Hall).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
}

/// See [`crate::regency_sizes`].
pub fn regency_sizes(seed: u64) -> Vec<(VillageCode, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SALT);
    let all = villages();
    let weights: Vec<f64> = all
        .iter()
        .map(|v| {
            let urban = if v.kind == VillageKind::Kelurahan {
                1.5
            } else {
                1.0
            };
            exp_portable(0.45 * normal(&mut rng)) * urban
        })
        .collect();
    let largest = all
        .iter()
        .position(|v| v.code == LARGEST)
        .unwrap_or_default();
    let total = REGENCY_POPULATION - 12_000 + rng.random_range(0..=24_000usize);
    let largest_size = rng.random_range(28_000..=30_000usize);
    let rest = total - largest_size;

    // Find the scale at which the others add up to `rest`, with sizes above
    // SOFT_CAP compressed smoothly towards CAP_OTHERS (a hard clamp would pile
    // villages up at exactly the cap).
    let clamped = |scale: f64, w: f64| {
        let x = (w * scale).max(MIN_VILLAGE as f64);
        let (soft, cap) = (SOFT_CAP as f64, CAP_OTHERS as f64);
        if x <= soft {
            x
        } else {
            soft + (x - soft) / (1.0 + (x - soft) / (cap - soft))
        }
    };
    let sum_at = |scale: f64| -> f64 {
        weights
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != largest)
            .map(|(_, &w)| clamped(scale, w))
            .sum()
    };
    let (mut lo, mut hi) = (0.0f64, 1.0e6f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if sum_at(mid) < rest as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut sizes: Vec<usize> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if i == largest {
                largest_size
            } else {
                clamped(hi, w).round() as usize
            }
        })
        .collect();

    // Rounding leaves the sum a few people off `total`: settle the difference
    // one person at a time, in village order, within the bounds.
    let mut sum: usize = sizes.iter().sum();
    let mut i = 0;
    while sum != total {
        let idx = i % sizes.len();
        i += 1;
        if idx == largest {
            continue;
        }
        if sum < total && sizes[idx] < CAP_OTHERS {
            sizes[idx] += 1;
            sum += 1;
        } else if sum > total && sizes[idx] > MIN_VILLAGE {
            sizes[idx] -= 1;
            sum -= 1;
        }
    }
    all.iter().map(|v| v.code).zip(sizes).collect()
}
