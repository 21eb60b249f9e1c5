//! GGUF weights used in place from a read-only memory map of the model file: loading is
//! instant, pages are shared with the page cache (and with a second process on the same
//! file), and nothing is copied.
//!
//! Safety rests on two facts, checked or guaranteed here:
//! - the mapped file is never modified while mapped: `supportd model pull` writes a new file
//!   and renames it over the old name (a new inode), it never writes into an installed model;
//! - Candle's block types are `repr(C)` structs of `f16`, `u8` and `i8` fields, valid for any
//!   bit pattern; a view is made only when the size matches the GGUF layout and the address
//!   is aligned for the type.
#![expect(
    unsafe_code,
    reason = "the crate's one unsafe module: views into the mapped GGUF, each with its SAFETY comment"
)]

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::k_quants::{
    self, BlockQ2K, BlockQ3K, BlockQ4_0, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8K, GgmlType,
};
use candle_core::quantized::{GgmlDType, QuantizedType};
use candle_core::{CpuStorage, Result};

/// A model file mapped read-only.
#[derive(Clone)]
pub struct ModelFile {
    map: Arc<memmap2::Mmap>,
}

impl ModelFile {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        // SAFETY: read-only map of a file that is never written in place (see the module doc).
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self { map: Arc::new(map) })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The blocks of one tensor, in place: `None` when the type has no mapped form here (the
    /// caller then copies), when the range is outside the file, or when it is misaligned.
    pub fn blocks(&self, dtype: GgmlDType, offset: usize, elements: usize) -> Option<Box<dyn QuantizedType>> {
        match dtype {
            GgmlDType::Q4_0 => self.view::<BlockQ4_0>(dtype, offset, elements),
            GgmlDType::Q8_0 => self.view::<BlockQ8_0>(dtype, offset, elements),
            GgmlDType::Q2K => self.view::<BlockQ2K>(dtype, offset, elements),
            GgmlDType::Q3K => self.view::<BlockQ3K>(dtype, offset, elements),
            GgmlDType::Q4K => self.view::<BlockQ4K>(dtype, offset, elements),
            GgmlDType::Q5K => self.view::<BlockQ5K>(dtype, offset, elements),
            GgmlDType::Q6K => self.view::<BlockQ6K>(dtype, offset, elements),
            GgmlDType::Q8K => self.view::<BlockQ8K>(dtype, offset, elements),
            _ => None,
        }
    }

    fn view<T: GgmlType + 'static>(
        &self,
        dtype: GgmlDType,
        offset: usize,
        elements: usize,
    ) -> Option<Box<dyn QuantizedType>> {
        if std::mem::size_of::<T>() != dtype.type_size() || T::BLCK_SIZE != dtype.block_size() {
            return None;
        }
        if !elements.is_multiple_of(T::BLCK_SIZE) {
            return None;
        }
        let blocks = elements / T::BLCK_SIZE;
        let end = offset.checked_add(blocks.checked_mul(std::mem::size_of::<T>())?)?;
        if end > self.map.len() || !(self.map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        Some(Box::new(Mapped::<T> { map: self.map.clone(), offset, blocks, _t: PhantomData }))
    }
}

/// `blocks` values of type `T` at `offset` in the map (range and alignment checked).
struct Mapped<T> {
    map: Arc<memmap2::Mmap>,
    offset: usize,
    blocks: usize,
    _t: PhantomData<T>,
}

impl<T: GgmlType> Mapped<T> {
    fn slice(&self) -> &[T] {
        // SAFETY: `view` checked that [offset, offset + blocks·size) lies in the map and is
        // aligned for T; T is a plain block of integers and f16 (any bits valid); the map is
        // read-only, lives as long as `self`, and the file is not modified (module doc).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(self.offset).cast::<T>(), self.blocks) }
    }
}

impl<T: GgmlType> QuantizedType for Mapped<T> {
    fn dtype(&self) -> GgmlDType {
        T::DTYPE
    }
    fn matmul_t(&self, mkn: (usize, usize, usize), lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        k_quants::matmul(mkn, lhs, self.slice(), dst)
    }
    fn matmul_t_f16(&self, mkn: (usize, usize, usize), lhs: &[half::f16], dst: &mut [half::f16]) -> Result<()> {
        k_quants::matmul_f16(mkn, lhs, self.slice(), dst)
    }
    fn embedding(&self, ids: &[u32], rows: usize, hidden: usize) -> Result<CpuStorage> {
        let per_row = hidden / T::BLCK_SIZE;
        if !hidden.is_multiple_of(T::BLCK_SIZE) || rows * per_row != self.blocks {
            candle_core::bail!("embedding shape {rows}×{hidden} does not match {} blocks", self.blocks);
        }
        let all = self.slice();
        let mut out = vec![0f32; ids.len() * hidden];
        for (i, &id) in ids.iter().enumerate() {
            let r = id as usize;
            if r >= rows {
                candle_core::bail!("row {r} outside {rows}");
            }
            T::to_float(&all[r * per_row..(r + 1) * per_row], &mut out[i * hidden..(i + 1) * hidden]);
        }
        Ok(CpuStorage::F32(out))
    }
    fn dequantize(&self, elem_count: usize) -> Result<CpuStorage> {
        let mut out = vec![0f32; elem_count];
        T::to_float(self.slice(), &mut out);
        Ok(CpuStorage::F32(out))
    }
    fn storage_size_in_bytes(&self) -> usize {
        self.blocks * std::mem::size_of::<T>()
    }
    fn as_ptr(&self) -> *const u8 {
        self.slice().as_ptr().cast()
    }
    fn block_size(&self) -> usize {
        T::BLCK_SIZE
    }
    // Mapped weights are read-only; Candle calls these only on storage it is quantizing into.
    fn from_float(&mut self, _xs: &[f32]) {}
    fn from_float_imatrix(&mut self, _xs: &[f32], _w: &[f32], _n: usize) {}
    fn size(&self) -> usize {
        self.blocks * std::mem::size_of::<T>()
    }
}
