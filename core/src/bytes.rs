//! Small string helpers on the hot path: comparison for the short names and literals keys are
//! made of, and slicing a string's text out of the event.
//!
//! `==` on slices calls the C library's `memcmp` once the lengths agree. Key attribute names
//! (`PK`), pattern literals (`#TASK#`) and trie labels are a few bytes long, and they are
//! compared several times per record, so the call costs more than the comparison. These
//! functions compare up to 16 bytes with two word loads each side, and leave longer slices to
//! `==`.

/// `a == b`.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        // Positions 0, n/2 and n-1 cover every byte of a slice of one to three.
        1..=3 => a.first() == b.first() && a.get(n / 2) == b.get(n / 2) && a.last() == b.last(),
        // Two overlapping words cover the whole slice.
        4..=8 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        9..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

/// `hay.starts_with(prefix)`.
#[inline]
pub(crate) fn starts_with(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|head| same(head, prefix))
}

/// `hay.strip_prefix(prefix)`, for text.
#[inline]
pub(crate) fn strip_prefix<'h>(hay: &'h str, prefix: &str) -> Option<&'h str> {
    if starts_with(hay.as_bytes(), prefix.as_bytes()) {
        // The prefix is whole text, so its end is a character boundary of `hay`.
        hay.get(prefix.len()..)
    } else {
        None
    }
}

/// `text.get(start..end)`, written as two one-sided slices: the compiler inlines those where
/// it left the two-sided one as a call, which made up about 7% of a batch's instructions when
/// every string read by the reader and the scan went through it.
#[inline]
pub(crate) fn between(text: &str, start: usize, end: usize) -> Option<&str> {
    text.get(..end)?.get(start..)
}

#[inline]
fn word4(s: &[u8], at: usize) -> Option<[u8; 4]> {
    s.get(at..at + 4)?.try_into().ok()
}

#[inline]
fn word8(s: &[u8], at: usize) -> Option<[u8; 8]> {
    s.get(at..at + 8)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Small alphabets so that equal and nearly equal slices are common.
        #[test]
        fn same_is_eq(a in proptest::collection::vec(0u8..3, 0..40), b in proptest::collection::vec(0u8..3, 0..40)) {
            prop_assert_eq!(same(&a, &b), a == b);
        }

        #[test]
        fn same_finds_any_single_difference(a in proptest::collection::vec(any::<u8>(), 1..40), at in any::<prop::sample::Index>(), x in 1u8..) {
            let mut b = a.clone();
            let i = at.index(a.len());
            b[i] = b[i].wrapping_add(x);
            prop_assert!(same(&a, &a));
            prop_assert!(!same(&a, &b), "differs at {} of {}", i, a.len());
        }

        #[test]
        fn starts_with_is_std(h in proptest::collection::vec(0u8..3, 0..30), p in proptest::collection::vec(0u8..3, 0..12)) {
            prop_assert_eq!(starts_with(&h, &p), h.starts_with(&p));
        }

        #[test]
        fn between_is_get(t in "[ab\"é→𝄞]{0,12}", start in 0usize..40, end in 0usize..40) {
            prop_assert_eq!(between(&t, start, end), t.get(start..end));
        }

        #[test]
        fn strip_prefix_is_std(h in "[ab#é]{0,20}", p in "[ab#é]{0,6}") {
            prop_assert_eq!(strip_prefix(&h, &p), h.strip_prefix(p.as_str()));
        }
    }
}
