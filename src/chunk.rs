//! Splitting a long input into model-window-sized chunks at sentence boundaries.
//!
//! Pure planning: it sees sentences only as token counts and a `fits` test that encodes a run of
//! them, so it knows nothing about models and is tested on synthetic numbers.

use std::ops::Range;

/// Plans chunks over `unit_tokens.len()` units (sentences, or pieces of a sentence too long for
/// the window). Every chunk is a run of whole units for which `fits` holds; consecutive chunks
/// share `overlap` units so that no chunk starts cold. Each unit must fit on its own.
///
/// `unit_tokens` are estimates used to grow a chunk quickly; `fits` is the exact test (it encodes
/// the run), and the plan shrinks a chunk until `fits` agrees.
pub fn plan(unit_tokens: &[usize], budget: usize, overlap: usize, fits: impl Fn(Range<usize>) -> bool) -> Vec<Range<usize>> {
    let count = unit_tokens.len();
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < count {
        // Grow by estimate, then correct by the exact test.
        let mut end = start + 1;
        let mut estimate = unit_tokens[start];
        while end < count && estimate + unit_tokens[end] <= budget {
            estimate += unit_tokens[end];
            end += 1;
        }
        while end > start + 1 && !fits(start..end) {
            end -= 1;
        }
        while end < count && fits(start..end + 1) {
            end += 1;
        }
        chunks.push(start..end);
        if end == count {
            break;
        }
        // Step back by the overlap, but always move forward.
        start = end.saturating_sub(overlap).max(start + 1);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits_by_sum(tokens: &[usize], budget: usize) -> impl Fn(Range<usize>) -> bool + '_ {
        move |range: Range<usize>| tokens[range].iter().sum::<usize>() <= budget
    }

    #[test]
    fn input_of_exactly_the_window_is_one_chunk() {
        let tokens = [100, 100, 56];
        assert_eq!(plan(&tokens, 256, 1, fits_by_sum(&tokens, 256)), vec![0..3]);
    }

    #[test]
    fn chunks_fit_cover_everything_and_end_on_sentence_boundaries() {
        let tokens: Vec<usize> = (0..200).map(|i| 20 + (i * 37) % 90).collect();
        let chunks = plan(&tokens, 256, 1, fits_by_sum(&tokens, 256));
        assert!(chunks.len() > 1);
        assert_eq!(chunks.first().map(|c| c.start), Some(0));
        assert_eq!(chunks.last().map(|c| c.end), Some(tokens.len()));
        for pair in chunks.windows(2) {
            // One sentence of overlap, and progress every time.
            assert_eq!(pair[1].start, pair[0].end - 1);
            assert!(pair[1].end > pair[0].end);
        }
        for chunk in &chunks {
            assert!(tokens[chunk.clone()].iter().sum::<usize>() <= 256, "{chunk:?}");
            // Greedy: the next sentence would not have fitted.
            if chunk.end < tokens.len() {
                assert!(tokens[chunk.start..chunk.end + 1].iter().sum::<usize>() > 256);
            }
        }
    }

    #[test]
    fn exact_test_overrides_the_estimate() {
        // Estimates say everything fits, but each unit really costs one more token.
        let tokens = vec![50; 10];
        let real: Vec<usize> = tokens.iter().map(|t| t + 1).collect();
        let chunks = plan(&tokens, 250, 0, fits_by_sum(&real, 250));
        assert!(chunks.iter().all(|c| real[c.clone()].iter().sum::<usize>() <= 250));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 10);
    }

    #[test]
    fn no_overlap_means_a_partition() {
        let tokens = vec![30; 50];
        let chunks = plan(&tokens, 100, 0, fits_by_sum(&tokens, 100));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 50);
        assert!(chunks.windows(2).all(|p| p[0].end == p[1].start));
    }
}
