use std::io::Write;

use super::*;

/// A synthetic bzImage around `payload`: 1 setup sector plus the boot
/// sector, protocol 2.15, LOADED_HIGH, version string in the setup code.
pub(crate) fn synthetic(payload: &[u8]) -> Vec<u8> {
    let code = 1024;
    let mut img = vec![0u8; code];
    img[0x1f1] = 1;
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    img[0x211] = 1;
    let version = b"6.1.0-test (x) #1\0";
    img[0x300..0x300 + version.len()].copy_from_slice(version);
    img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
    let mut pm = vec![0u8; 64];
    pm.extend_from_slice(payload);
    pm.resize(pm.len().div_ceil(16) * 16, 0);
    img[0x1f4..0x1f8].copy_from_slice(&((pm.len() / 16) as u32).to_le_bytes());
    img[0x248..0x24c].copy_from_slice(&64u32.to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    img.extend_from_slice(&pm);
    img
}

pub(crate) fn with_trailer(mut compressed: Vec<u8>, len: usize) -> Vec<u8> {
    compressed.extend_from_slice(&(len as u32).to_le_bytes());
    compressed
}

fn fake_vmlinux() -> Vec<u8> {
    let mut v = crate::embedded::GUEST.to_vec();
    v.extend_from_slice(b"relocations after the ELF");
    v
}

#[test]
fn decompresses_gzip_zstd_and_lz4_payloads() {
    let elf = fake_vmlinux();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&elf).unwrap();
    let gzip = with_trailer(gz.finish().unwrap(), elf.len());
    let zstd = with_trailer(zstd::encode_all(&elf[..], 3).unwrap(), elf.len());
    let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
    for chunk in elf.chunks(1000) {
        let block = lz4_flex::block::compress(chunk);
        lz4.extend_from_slice(&(block.len() as u32).to_le_bytes());
        lz4.extend_from_slice(&block);
    }
    let lz4 = with_trailer(lz4, elf.len());
    for (payload, expected) in [
        (gzip, Compression::Gzip),
        (zstd, Compression::Zstd),
        (lz4, Compression::Lz4),
    ] {
        let img = synthetic(&payload);
        let header = SetupHeader::parse(&img).unwrap();
        assert_eq!(header.release(), Some("6.1.0-test"));
        let (vmlinux, compression) = vmlinux(&img).unwrap();
        assert_eq!(compression, expected);
        assert_eq!(vmlinux, crate::embedded::GUEST, "{expected:?}");
    }
}

#[test]
fn rejects_junk_truncation_and_unsupported_compression() {
    assert!(matches!(
        SetupHeader::parse(&[0u8; 100]),
        Err(BzImageError::TooShort(100))
    ));
    assert!(matches!(
        SetupHeader::parse(&[0x55u8; 4096]),
        Err(BzImageError::NoMagic)
    ));
    let gz = with_trailer(zstd::encode_all(&fake_vmlinux()[..], 1).unwrap(), 1);
    let img = synthetic(&gz);
    assert!(matches!(
        SetupHeader::parse(&img[..img.len() - 32]),
        Err(BzImageError::Truncated { .. })
    ));
    let xz = synthetic(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
    assert!(matches!(
        vmlinux(&xz),
        Err(BzImageError::UnsupportedCompression("xz"))
    ));
    let not_elf = synthetic(&with_trailer(zstd::encode_all(&b"text"[..], 1).unwrap(), 4));
    assert!(matches!(vmlinux(&not_elf), Err(BzImageError::NotElf(_))));
    let mut old = img.clone();
    old[0x206..0x208].copy_from_slice(&0x0204u16.to_le_bytes());
    assert!(matches!(
        SetupHeader::parse(&old),
        Err(BzImageError::OldProtocol { major: 2, minor: 4 })
    ));
}

/// `compressed` wrapped in a bzImage whose header declares `init_size`.
fn declaring(init_size: u32, compressed: &[u8]) -> Vec<u8> {
    let mut img = synthetic(compressed);
    img[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
    img
}

fn lz4_legacy_of(data: &[u8]) -> Vec<u8> {
    let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
    for chunk in data.chunks(8 << 20) {
        let block = lz4_flex::block::compress(chunk);
        lz4.extend_from_slice(&(block.len() as u32).to_le_bytes());
        lz4.extend_from_slice(&block);
    }
    with_trailer(lz4, data.len())
}

#[test]
fn a_decompression_bomb_is_refused() {
    // 16 MiB of zeros, in a bzImage that declares 1 MiB.
    let zeros = vec![0u8; 16 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&zeros).unwrap();
    let gzip = gz.finish().unwrap();
    let zstd = with_trailer(zstd::encode_all(&zeros[..], 1).unwrap(), zeros.len());
    let lz4 = lz4_legacy_of(&zeros);
    for (payload, name) in [(gzip, "gzip"), (zstd, "zstd"), (lz4, "lz4")] {
        assert!(payload.len() < 1 << 20, "{name}: the bomb is small");
        let img = declaring(1 << 20, &payload);
        match vmlinux(&img) {
            Err(BzImageError::TooLarge {
                compression, limit, ..
            }) => assert_eq!((compression, limit), (name, 1 << 20)),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn the_limit_is_init_size_capped_by_the_hard_limit() {
    let header = |init_size| {
        SetupHeader::parse(&declaring(init_size, &[0x1f, 0x8b, 0, 0]))
            .unwrap()
            .decompressed_limit()
            .0
    };
    assert_eq!(header(4 << 20), 4 << 20);
    assert_eq!(header(0), MAX_DECOMPRESSED);
    assert_eq!(header(u32::MAX), MAX_DECOMPRESSED);
    // A payload under the limit still decompresses.
    let data = vec![7u8; 100_000];
    let lz4 = lz4_legacy_of(&data);
    let out = decompress(&lz4, Compression::Lz4, 100_000, "test").unwrap();
    assert_eq!(out, data);
    assert!(matches!(
        decompress(&lz4, Compression::Lz4, 99_999, "test"),
        Err(BzImageError::TooLarge { limit: 99_999, .. })
    ));
}

#[test]
fn overflowing_header_fields_are_errors() {
    let mut img = synthetic(&[0x1f, 0x8b, 0, 0, 0, 0]);
    img[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        SetupHeader::parse(&img),
        Err(BzImageError::Truncated { .. })
    ));
    let mut img = synthetic(&[0x1f, 0x8b, 0, 0, 0, 0]);
    img[0x1f4..0x1f8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        SetupHeader::parse(&img),
        Err(BzImageError::Truncated { .. })
    ));
}
