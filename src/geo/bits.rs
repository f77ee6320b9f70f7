//! Integer views of IPv4 (`u32`) and IPv6 (`u128`) addresses.
//!
//! The prefix table is generic over the address width; this trait is the small set of bit
//! operations it needs, implemented once for both widths by a macro.

use std::fmt::Debug;

/// An address as an unsigned integer, most significant bit first (network order).
pub trait AddrBits: Copy + Ord + std::hash::Hash + Debug + Send + Sync + 'static {
    /// Width of the address in bits (32 or 128).
    const BITS: u8;
    /// The all-zero address.
    const ZERO: Self;
    /// The mask with the first `len` bits set (`len` ≤ `BITS`).
    fn mask(len: u8) -> Self;
    /// `self & mask(len)`: the network address of the `/len` block holding `self`.
    fn network(self, len: u8) -> Self;
    /// The last address of the `/len` block starting at `self`.
    fn block_last(self, len: u8) -> Self;
    /// `self + 1`, or `None` past the last address.
    fn next(self) -> Option<Self>;
    /// Number of trailing zero bits (`BITS` for zero).
    fn trailing_zeros(self) -> u32;
    /// `self - other` (requires `self >= other`).
    fn distance(self, other: Self) -> Self;
    /// `2^k - 1` for `k` ≤ `BITS`.
    fn low_ones(k: u32) -> Self;
    /// The `n` bits after the first `skip` (1 ≤ `n` ≤ 32, `skip + n` ≤ `BITS`) as an index.
    fn bits_at(self, skip: u32, n: u32) -> usize;
}

macro_rules! impl_addr_bits {
    ($t:ty, $bits:expr) => {
        impl AddrBits for $t {
            const BITS: u8 = $bits;
            const ZERO: Self = 0;
            #[inline]
            fn mask(len: u8) -> Self {
                if len == 0 { 0 } else { <$t>::MAX << ($bits - len as u32) }
            }
            #[inline]
            fn network(self, len: u8) -> Self {
                self & Self::mask(len)
            }
            #[inline]
            fn block_last(self, len: u8) -> Self {
                self | !Self::mask(len)
            }
            #[inline]
            fn next(self) -> Option<Self> {
                self.checked_add(1)
            }
            #[inline]
            fn trailing_zeros(self) -> u32 {
                <$t>::trailing_zeros(self)
            }
            #[inline]
            fn distance(self, other: Self) -> Self {
                self - other
            }
            #[inline]
            fn low_ones(k: u32) -> Self {
                if k >= $bits { <$t>::MAX } else { ((1 as $t) << k) - 1 }
            }
            #[inline]
            fn bits_at(self, skip: u32, n: u32) -> usize {
                ((self << skip) >> ($bits - n)) as usize
            }
        }
    };
}

impl_addr_bits!(u32, 32);
impl_addr_bits!(u128, 128);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_blocks() {
        assert_eq!(u32::mask(0), 0);
        assert_eq!(u32::mask(8), 0xff00_0000);
        assert_eq!(u32::mask(32), u32::MAX);
        assert_eq!(0x0a01_0203u32.network(16), 0x0a01_0000);
        assert_eq!(0x0a01_0000u32.block_last(16), 0x0a01_ffff);
        assert_eq!(u128::mask(128), u128::MAX);
        assert_eq!(u32::MAX.next(), None);
        assert_eq!(u32::low_ones(32), u32::MAX);
        assert_eq!(u32::low_ones(3), 7);
        assert_eq!(0x1234_5678u32.bits_at(0, 16), 0x1234);
        assert_eq!(0x1234_5678u32.bits_at(16, 8), 0x56);
        assert_eq!(0x1234_5678u32.bits_at(28, 4), 0x8);
        assert_eq!((0xfu128 << 124 | 0xab).bits_at(120, 8), 0xab);
    }
}
