//! A minimal CMOS RTC at 0x70/0x71: the wall-clock time in BCD and "no update
//! in progress", enough for Linux not to wait for a clock that never ticks.
use std::time::{SystemTime, UNIX_EPOCH};

/// The index port.
pub const INDEX_PORT: u16 = 0x70;
/// The data port.
pub const DATA_PORT: u16 = 0x71;

/// The CMOS register file as a guest sees it.
#[derive(Default)]
pub struct Rtc {
    index: u8,
}

fn bcd(v: u64) -> u8 {
    (((v / 10) % 10) << 4 | (v % 10)) as u8
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The value of CMOS register `index` at `unix` seconds.
pub fn register(index: u8, unix: u64) -> u8 {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    match index {
        0x00 => bcd(secs % 60),
        0x02 => bcd(secs / 60 % 60),
        0x04 => bcd(secs / 3600),
        0x06 => bcd(((days + 4).rem_euclid(7) + 1) as u64), // day of week, Sunday = 1
        0x07 => bcd(u64::from(day)),
        0x08 => bcd(u64::from(month)),
        0x09 => bcd(year as u64 % 100),
        0x32 => bcd(year as u64 / 100), // century
        0x0a => 0x26,                   // 32.768 kHz, 1024 Hz; no update in progress
        0x0b => 0x02,                   // 24-hour, BCD, no interrupts
        0x0d => 0x80,                   // RAM and time valid
        _ => 0,
    }
}

impl Rtc {
    /// Writes the index (bit 7 is the NMI mask, ignored) or data (ignored).
    pub fn write(&mut self, port: u16, value: u8) {
        if port == INDEX_PORT {
            self.index = value & 0x7f;
        }
    }

    /// Reads the data port (the index port reads back the index).
    pub fn read(&self, port: u16) -> u8 {
        if port == INDEX_PORT {
            return self.index;
        }
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        register(self.index, unix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn registers_in_bcd() {
        // 2024-02-29 13:45:56 UTC, a Thursday.
        let t = 19_782 * 86_400 + 13 * 3600 + 45 * 60 + 56;
        assert_eq!(register(0x00, t), 0x56);
        assert_eq!(register(0x02, t), 0x45);
        assert_eq!(register(0x04, t), 0x13);
        assert_eq!(register(0x07, t), 0x29);
        assert_eq!(register(0x08, t), 0x02);
        assert_eq!(register(0x09, t), 0x24);
        assert_eq!(register(0x32, t), 0x20);
        assert_eq!(register(0x06, t), 0x05);
        assert_eq!(register(0x0a, t) & 0x80, 0, "no update in progress");
    }

    #[test]
    fn index_port() {
        let mut rtc = Rtc::default();
        rtc.write(INDEX_PORT, 0x8b);
        assert_eq!(rtc.read(INDEX_PORT), 0x0b);
        assert_eq!(rtc.read(DATA_PORT), 0x02);
    }
}
