//! The report's primitive fields: little-endian integers, length-prefixed
//! bytes and strings, checked against what is left on reading.
use crate::vm::ExitCounts;

/// A report that does not decode.
#[derive(Debug)]
pub(crate) struct Malformed;

#[derive(Default)]
pub(crate) struct W(pub(crate) Vec<u8>);

impl W {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    pub(crate) fn exits(&mut self, e: &ExitCounts) {
        for v in [
            e.io_in,
            e.io_out,
            e.mmio_read,
            e.mmio_write,
            e.interrupted,
            e.other,
        ] {
            self.u64(v);
        }
    }
}

pub(crate) struct R<'a>(pub(crate) &'a [u8]);

impl R<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn bool(&mut self) -> Result<bool, Malformed> {
        Ok(self.u8()? != 0)
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| Malformed)?,
        ))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(self.u32()? as i32)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| Malformed)?,
        ))
    }
    pub(crate) fn len(&mut self) -> Result<usize, Malformed> {
        let n = usize::try_from(self.u64()?).map_err(|_| Malformed)?;
        if n > self.0.len() {
            return Err(Malformed);
        }
        Ok(n)
    }
    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, Malformed> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }
    pub(crate) fn str(&mut self) -> Result<String, Malformed> {
        String::from_utf8(self.bytes()?).map_err(|_| Malformed)
    }
    pub(crate) fn exits(&mut self) -> Result<ExitCounts, Malformed> {
        Ok(ExitCounts {
            io_in: self.u64()?,
            io_out: self.u64()?,
            mmio_read: self.u64()?,
            mmio_write: self.u64()?,
            interrupted: self.u64()?,
            other: self.u64()?,
        })
    }
}
