//! The kernels against reference products computed in f64, on every instruction set this CPU
//! can run (AVX-512 + VNNI, AVX2 + AVX-VNNI, AVX2, portable).

use super::*;

/// Shapes that cover every tile width and height, odd input counts (padded groups), a last
/// panel that is not full, and the encoder's many rows.
const SHAPES: [(i64, i64, i64); 9] = [(1, 1024, 300), (3, 40, 17), (4, 1030, 64), (7, 64, 33), (8, 24, 100), (6, 1027, 50), (13, 33, 70), (32, 64, 48), (100, 130, 81)];

fn random(shape: &[i64]) -> Tensor {
    Tensor::randn(shape, (Kind::Float, Device::Cpu))
}

fn values(tensor: &Tensor) -> Vec<f32> {
    Vec::try_from(&tensor.contiguous().view([-1])).expect("fp32 values")
}

/// `input · weightᵀ + bias` in f64 from fp32 values.
fn reference(input: &[f32], rows: usize, weight: &[f32], outputs: usize, bias: &[f32]) -> Vec<f64> {
    let inputs = input.len() / rows;
    let mut out = vec![0f64; rows * outputs];
    for r in 0..rows {
        for o in 0..outputs {
            let dot: f64 = (0..inputs).map(|i| f64::from(input[r * inputs + i]) * f64::from(weight[o * inputs + i])).sum();
            out[r * outputs + o] = dot + f64::from(bias[o]);
        }
    }
    out
}

fn max_error(got: &[f32], expected: &[f64]) -> f64 {
    got.iter().zip(expected).map(|(&g, &e)| (f64::from(g) - e).abs()).fold(0.0, f64::max)
}

#[test]
fn fp32_matches_libtorch_on_every_instruction_set() {
    for features in cpu::features().levels() {
        for (rows, inputs, outputs) in SHAPES {
            let (input, weight, bias) = (random(&[rows, inputs]), random(&[outputs, inputs]), random(&[outputs]));
            let expected = input.linear(&weight, Some(&bias));
            let packed = Weight::with_features(weight.shallow_clone(), Precision::Fp32, features).expect("weight");
            let got = linear(&input, &packed, Some(&bias)).expect("shapes agree");
            assert_eq!(got.size(), [rows, outputs]);
            let error = (got - &expected).abs().max().double_value(&[]);
            assert!(error < 1e-3, "{features:?} rows {rows} in {inputs} out {outputs}: max error {error}");
        }
    }
}

/// int8: the int32 sums are exact, so every instruction set gives the same bits, and the result
/// is the f64 product of the dequantized weights and the per-row quantized inputs.
#[test]
fn int8_is_exact_and_identical_on_every_instruction_set() {
    let levels = cpu::features().levels();
    for (rows, inputs, outputs) in SHAPES {
        let (input, weight, bias) = (random(&[rows, inputs]), random(&[outputs, inputs]), random(&[outputs]));
        let mut first: Option<Vec<f32>> = None;
        for &features in &levels {
            let packed = Weight::with_features(weight.shallow_clone(), Precision::Int8, features).expect("weight");
            let got = values(&linear(&input, &packed, Some(&bias)).expect("shapes agree"));
            match &first {
                None => first = Some(got),
                Some(expected) => assert!(got == *expected, "{features:?} differs from {:?} (rows {rows} in {inputs} out {outputs})", levels[0]),
            }
        }
        let got = first.expect("at least the portable level");
        // The exact product of what the kernel multiplies: dequantized weights, inputs rounded
        // per row with the same rule.
        let Storage::Int8(packed) = Weight::new(weight.shallow_clone(), Precision::Int8).expect("weight").storage else { panic!("int8") };
        let (input_values, bias_values) = (values(&input), values(&bias));
        let mut quantized_input = vec![0f32; input_values.len()];
        for (row, out) in input_values.chunks(inputs as usize).zip(quantized_input.chunks_mut(inputs as usize)) {
            let mut q = vec![0i8; row.len()];
            let scale = int8::quantize_row(row, &mut q);
            for (slot, value) in out.iter_mut().zip(q) {
                *slot = f32::from(value) * scale;
            }
        }
        let exact = reference(&quantized_input, rows as usize, &packed.dequantized(), outputs as usize, &bias_values);
        let error = max_error(&got, &exact);
        assert!(error < 2e-4, "int8 rows {rows} in {inputs} out {outputs}: {error} from the exact product of the quantized values");
        // And against fp32: the quantization error. For unit normal values each product term
        // errs by ≤ |x|·Δw + |w|·Δx with Δ ≤ scale / 2 = max / 254; the sum of `inputs` such
        // random terms stays well within 0.06 · √inputs (measured: about a third of that).
        let fp32 = reference(&input_values, rows as usize, &values(&weight), outputs as usize, &bias_values);
        let error = max_error(&got, &fp32);
        let bound = 0.06 * (inputs as f64).sqrt();
        assert!(error < bound, "int8 rows {rows} in {inputs} out {outputs}: {error} from fp32 (bound {bound})");
    }
}

/// bf16: the fp32 sums of fp32 inputs and bf16-rounded weights; AVX-512 and AVX2 give the same
/// bits (the same FMAs in the same order), the portable loop the same to rounding.
#[test]
fn bf16_matches_the_rounded_weights_on_every_instruction_set() {
    let levels = cpu::features().levels();
    for (rows, inputs, outputs) in SHAPES {
        let (input, weight, bias) = (random(&[rows, inputs]), random(&[outputs, inputs]), random(&[outputs]));
        let Storage::Bf16(packed) = Weight::new(weight.shallow_clone(), Precision::Bf16).expect("weight").storage else { panic!("bf16") };
        let rounded = packed.widened();
        let (input_values, bias_values) = (values(&input), values(&bias));
        let exact = reference(&input_values, rows as usize, &rounded, outputs as usize, &bias_values);
        let mut vector_result: Option<Vec<f32>> = None;
        for &features in &levels {
            let weight = Weight::with_features(weight.shallow_clone(), Precision::Bf16, features).expect("weight");
            let got = values(&linear(&input, &weight, Some(&bias)).expect("shapes agree"));
            // fp32 sums of `inputs` unit-sized terms: rounding stays well under 1e-5 · inputs.
            let error = max_error(&got, &exact);
            assert!(error < 1e-5 * inputs as f64, "{features:?} rows {rows} in {inputs} out {outputs}: {error} from the exact product");
            if features.avx2 {
                match &vector_result {
                    None => vector_result = Some(got),
                    Some(expected) => assert!(got == *expected, "{features:?} differs from the widest vector kernel"),
                }
            }
        }
        // Against fp32: each weight errs by at most 2⁻⁹ of itself.
        let fp32 = reference(&input_values, rows as usize, &values(&weight), outputs as usize, &bias_values);
        let got = values(&linear(&input, &Weight::new(weight.shallow_clone(), Precision::Bf16).expect("weight"), Some(&bias)).expect("product"));
        let bound = 0.01 * (inputs as f64).sqrt();
        let error = max_error(&got, &fp32);
        assert!(error < bound, "bf16 rows {rows} in {inputs} out {outputs}: {error} from fp32 (bound {bound})");
    }
}

#[test]
fn bf16_rounds_half_to_even_like_libtorch() {
    let samples = Tensor::randn([4096], (Kind::Float, Device::Cpu)) * 1000.0;
    let ours: Vec<f32> = values(&samples).iter().map(|&v| bf16::from_bf16(bf16::to_bf16(v))).collect();
    let libtorch = values(&samples.to_kind(Kind::BFloat16).to_kind(Kind::Float));
    assert_eq!(ours, libtorch);
    // Exactly halfway between two bf16 values: to the even one.
    assert_eq!(bf16::to_bf16(f32::from_bits(0x3F80_8000)), 0x3F80);
    assert_eq!(bf16::to_bf16(f32::from_bits(0x3F81_8000)), 0x3F82);
}

#[test]
fn embedding_rows_are_the_stored_weights() {
    let weight = random(&[37, 20]);
    let ids = Tensor::from_slice(&[0i64, 36, 5, 5]);
    for precision in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
        let stored = Weight::new(weight.shallow_clone(), precision).expect("weight");
        let rows = values(&stored.rows(&ids).expect("rows"));
        let full = match &stored.storage {
            Storage::Fp32(tensor) => values(tensor),
            Storage::Bf16(packed) => packed.widened(),
            Storage::Int8(packed) => packed.dequantized(),
        };
        for (index, id) in [0usize, 36, 5, 5].into_iter().enumerate() {
            assert_eq!(&rows[index * 20..(index + 1) * 20], &full[id * 20..(id + 1) * 20], "{precision:?} row {id}");
        }
        assert!(stored.rows(&Tensor::from_slice(&[37i64])).is_err(), "{precision:?}: an id past the rows");
    }
}

#[test]
fn products_keep_leading_dimensions_and_refuse_mismatches() {
    let weight = random(&[12, 16]);
    for precision in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
        let stored = Weight::new(weight.shallow_clone(), precision).expect("weight");
        let out = linear(&random(&[2, 70, 16]), &stored, None).expect("product");
        assert_eq!(out.size(), [2, 70, 12], "{precision:?}");
        assert!(linear(&random(&[3, 15]), &stored, None).is_err(), "{precision:?}: 15 inputs for 16");
        assert!(linear(&random(&[3, 16]), &stored, Some(&random(&[11]))).is_err(), "{precision:?}: 11 biases for 12 outputs");
    }
    assert!(Weight::new(random(&[4]), Precision::Int8).is_err(), "a 1-D weight");
}

/// Weights put together (a fused q/k/v projection) multiply as the concatenated matrix would,
/// whether the parts fill whole panels (panels side by side) or not (repacked).
#[test]
fn concatenated_weights_equal_the_weight_of_the_concatenated_matrix() {
    for outputs in [[32, 16, 48], [5, 7, 9]] {
        let parts: Vec<Tensor> = outputs.iter().map(|&o| random(&[o, 24])).collect();
        let whole = Tensor::cat(&parts, 0);
        let input = random(&[3, 24]);
        for precision in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
            let joined = Weight::concat_outputs(parts.iter().map(|p| Weight::new(p.copy(), precision).expect("part")).collect()).expect("concat");
            let expected = values(&linear(&input, &Weight::new(whole.copy(), precision).expect("whole"), None).expect("product"));
            assert_eq!(joined.outputs(), outputs.iter().sum::<i64>() as usize);
            assert_eq!(values(&linear(&input, &joined, None).expect("product")), expected, "{precision:?} {outputs:?}");
        }
    }
    let mixed = vec![Weight::new(random(&[4, 8]), Precision::Int8).expect("int8"), Weight::new(random(&[4, 8]), Precision::Bf16).expect("bf16")];
    assert!(Weight::concat_outputs(mixed).is_err());
}

#[test]
fn an_all_zero_row_quantizes_to_zeros() {
    let mut weight = values(&random(&[3, 8]));
    weight[8..16].fill(0.0);
    let stored = Weight::new(Tensor::from_slice(&weight).view([3, 8]), Precision::Int8).expect("weight");
    let input = Tensor::zeros([2, 8], (Kind::Float, Device::Cpu));
    let out = values(&linear(&input, &stored, Some(&Tensor::from_slice(&[1f32, 2.0, 3.0]))).expect("product"));
    assert_eq!(out, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
}
