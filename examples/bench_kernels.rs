//! Speed of precis's matrix products at each precision on the shapes of distilbart-cnn-12-6
//! (the encoder's products over a 780-token input, a decoder step's for 1 and 4 rows), with
//! libtorch's fp32 `linear` for reference. Not a test; a tool for tuning the kernels.
//!
//! usage: cargo run --release --features model --example bench_kernels -- [THREADS] [REPEATS]
//!
//! Prints wall-clock milliseconds per product and the process's CPU milliseconds per product
//! (all threads, spinning included): on a machine shared with other work the CPU time is the
//! steadier of the two.

use std::time::Instant;

use anyhow::Result;
use precis::engine::kernels::{self, Precision, Weight};
use tch::{Device, Kind, Tensor};

/// CPU time of every thread of this process so far (`/proc/self/task/*/schedstat`, in ns).
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut nanoseconds = 0u64;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        nanoseconds += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    nanoseconds as f64 * 1e-9
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let threads: i32 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(2);
    let repeats: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(5);
    tch::set_num_threads(threads);
    let _no_grad = tch::no_grad_guard();
    println!("kernels: {}", kernels::cpu::describe(kernels::cpu::features()));
    let shapes: [(&str, i64, i64, i64); 8] = [
        ("encoder q/k/v", 780, 1024, 3072),
        ("encoder fc1", 780, 1024, 4096),
        ("encoder fc2", 780, 4096, 1024),
        ("step fc1, 1 row", 1, 1024, 4096),
        ("step fc2, 4 rows", 4, 4096, 1024),
        ("LM head, 1 row", 1, 1024, 50264),
        ("LM head, 4 rows", 4, 1024, 50264),
        ("LM head, 32 rows", 32, 1024, 50264),
    ];
    println!("{:<18} {:>10} {:>10} {:>10} {:>12} {:>12}", "product", "precision", "wall ms", "cpu ms", "GMAC/s wall", "weight GB/s");
    for (name, rows, inputs, outputs) in shapes {
        let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu)) * 0.05;
        let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
        // 2-D rows are a decoder step's; the encoder's products take [1, rows, inputs].
        let input = if rows > 64 { Tensor::randn([1, rows, inputs], (Kind::Float, Device::Cpu)) } else { Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu)) };
        for precision in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
            let stored = Weight::new(weight.copy(), precision)?;
            // A decoding holds the helper thread for its steps; so does this loop for steps.
            let _threads = (rows <= 64).then(|| kernels::SingleThreadedLibtorch::enter(rows as usize, precision)).flatten();
            let _ = kernels::linear(&input, &stored, Some(&bias))?;
            let (wall, cpu) = (Instant::now(), cpu_seconds());
            for _ in 0..repeats {
                let _ = kernels::linear(&input, &stored, Some(&bias))?;
            }
            let wall_ms = wall.elapsed().as_secs_f64() * 1e3 / repeats as f64;
            let cpu_ms = (cpu_seconds() - cpu) * 1e3 / repeats as f64;
            let macs = (rows * inputs * outputs) as f64;
            println!("{name:<18} {:>10} {wall_ms:>10.2} {cpu_ms:>10.2} {:>12.1} {:>12.1}", precision.name(), macs / wall_ms / 1e6, stored.bytes() as f64 / wall_ms / 1e6);
        }
    }
    Ok(())
}
