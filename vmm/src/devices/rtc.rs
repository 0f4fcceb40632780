//! A minimal CMOS RTC at 0x70/0x71: the wall-clock time in BCD and "no update
//! in progress", enough for Linux not to wait for a clock that never ticks.
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The index port.
pub(crate) const INDEX_PORT: u16 = 0x70;
/// The data port.
pub(crate) const DATA_PORT: u16 = 0x71;

/// The CMOS register file as a guest sees it.
#[derive(Default)]
pub(crate) struct Rtc {
    /// The selected register (snapshots keep it).
    pub(crate) index: u8,
}

fn bcd(v: u64) -> u8 {
    (((v / 10) % 10) << 4 | (v % 10)) as u8
}

/// The value of CMOS register `index` at `unix` seconds.
/// (Past the year 9999 the clock stays at its last second.)
pub(crate) fn register(index: u8, unix: u64) -> u8 {
    let at = i64::try_from(unix)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(Timestamp::MAX);
    let t = TimeZone::UTC.to_datetime(at);
    let field = |v: i8| bcd(v as u64);
    let year = t.year() as u64;
    match index {
        0x00 => field(t.second()),
        0x02 => field(t.minute()),
        0x04 => field(t.hour()),
        0x06 => field(t.weekday().to_sunday_one_offset()), // day of week, Sunday = 1
        0x07 => field(t.day()),
        0x08 => field(t.month()),
        0x09 => bcd(year % 100),
        0x32 => bcd(year / 100), // century
        0x0a => 0x26,            // 32.768 kHz, 1024 Hz; no update in progress
        0x0b => 0x02,            // 24-hour, BCD, no interrupts
        0x0d => 0x80,            // RAM and time valid
        _ => 0,
    }
}

impl Rtc {
    /// Writes the index (bit 7 is the NMI mask, ignored) or data (ignored).
    pub(crate) fn write(&mut self, port: u16, value: u8) {
        if port == INDEX_PORT {
            self.index = value & 0x7f;
        }
    }

    /// Reads the data port (the index port reads back the index).
    pub(crate) fn read(&self, port: u16) -> u8 {
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
        // (day, month, year, day of week) of 1970-01-01 (a Thursday),
        // 2024-01-01 (a Monday) and 2024-02-29 (a Thursday).
        let date = |days: u64| [0x07, 0x08, 0x09, 0x32, 0x06].map(|r| register(r, days * 86_400));
        assert_eq!(date(0), [0x01, 0x01, 0x70, 0x19, 0x05]);
        assert_eq!(date(19_723), [0x01, 0x01, 0x24, 0x20, 0x02]);
        assert_eq!(date(19_782), [0x29, 0x02, 0x24, 0x20, 0x05]);
        // Past year 9999: the last second, not a wrapped date.
        assert_eq!(register(0x32, u64::MAX), 0x99);
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
