//! Which instruction sets the kernels may use on this CPU, detected once at run time.
//!
//! `PRECIS_KERNELS` narrows the choice (to measure what other machines get, or to compare):
//! unset or `auto` takes the best the CPU has; `avx2` stops at AVX2 + FMA (as on the AMD EPYC
//! machines of the first benchmarks: no AVX-512, no VNNI); `plain` or `0` uses no SIMD kernel:
//! fp32 products stay with libtorch and bf16 / int8 products run on the portable loops.

use std::sync::OnceLock;

/// What the CPU offers the kernels, best first within each family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// AVX2 and FMA (256-bit vectors).
    pub avx2: bool,
    /// AVX-512 F and BW (512-bit vectors).
    pub avx512: bool,
    /// AVX-512 VNNI (`vpdpbusd` on 512-bit vectors).
    pub avx512_vnni: bool,
    /// AVX-VNNI (`vpdpbusd` on 256-bit vectors, without AVX-512).
    pub avx_vnni: bool,
}

impl Features {
    /// No SIMD kernel at all.
    pub const NONE: Features = Features { avx2: false, avx512: false, avx512_vnni: false, avx_vnni: false };

    /// Every narrower set this CPU can also run, this one included, widest first: what the
    /// kernels' tests compare against each other.
    pub fn levels(self) -> Vec<Features> {
        let mut levels = vec![self];
        let mut push = |features: Features| {
            if !levels.contains(&features) {
                levels.push(features);
            }
        };
        if self.avx512_vnni || self.avx512 {
            push(Features { avx512: false, avx512_vnni: false, ..self });
        }
        if self.avx_vnni {
            push(Features { avx512: false, avx512_vnni: false, avx_vnni: false, ..self });
        }
        push(Features::NONE);
        levels
    }
}

/// The features the kernels use: the CPU's, narrowed by `PRECIS_KERNELS`.
pub fn features() -> Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    *FEATURES.get_or_init(|| {
        let detected = detect();
        match std::env::var("PRECIS_KERNELS").as_deref() {
            Ok("plain") | Ok("0") => Features::NONE,
            Ok("avx2") => Features { avx512: false, avx512_vnni: false, avx_vnni: false, ..detected },
            _ => detected,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Features {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let avx512 = avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
    Features {
        avx2,
        avx512,
        avx512_vnni: avx512 && is_x86_feature_detected!("avx512vnni"),
        avx_vnni: avx2 && is_x86_feature_detected!("avxvnni"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Features {
    Features::NONE
}

/// A short name for reports: the widest set in use.
pub fn describe(features: Features) -> &'static str {
    if features.avx512_vnni {
        "AVX-512 + VNNI"
    } else if features.avx512 {
        "AVX-512"
    } else if features.avx_vnni {
        "AVX2 + AVX-VNNI"
    } else if features.avx2 {
        "AVX2"
    } else {
        "portable"
    }
}
