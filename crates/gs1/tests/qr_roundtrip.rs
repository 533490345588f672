//! QR codes read back: every PNG and SVG that `waybill_gs1::qr` writes is
//! decoded here with an independent reader (`rqrr`) and must give back the exact
//! text. The PNG is parsed by hand (chunks, CRCs, IHDR, inflate, unpack) and the
//! SVG path is rasterized back to its module grid. No outside tools are needed
//! (`qr_zbar.rs` adds ImageMagick, librsvg and zbarimg).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use waybill_gs1::qr::{
    self, EcLevel, QrError, QrOptions, QR_TEXT_BYTES_MAX, QUIET_ZONE, SCALE_MAX,
};

const LEVELS: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];

fn uris() -> Vec<String> {
    vec![
        "https://id.gs1.org/01/06901234000016/10/PJ2611A/21/000123?wb=3f9a1c2d".to_owned(),
        "https://id.gs1.org/01/09506000134352".to_owned(),
        // Many AIs, percent-encoded characters in the key qualifiers and the query.
        "https://brand.example.com/01/09506000134352/22/2A%2F1/10/AB%26C%20123%2F%25x/21/\
         12345%2F678%3F9?17=261231&11=250101&13=250102&15=260630&3103=000189&3922=0299\
         &7003=2512311200&linkType=gs1%3ApIP&context=%7B%22lot%22%3A%22A%2FB%22%7D\
         &wb=3f9a1c2d7e6b5a4938271605f4e3d2c1"
            .to_owned(),
        // Upper case: long alphanumeric runs.
        "HTTPS://ID.GS1.ORG/01/09506000134352/10/ABC123/21/XYZ-7890".to_owned(),
        // SSCC and GLN keys.
        "https://id.gs1.org/00/106141412345678908".to_owned(),
        "https://id.gs1.org/414/9520123456788/254/32a%2Fb".to_owned(),
    ]
}

// ---------------------------------------------------------------- PNG reading

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit: independent of the encoder's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A decoded greyscale image, 0 black and 255 white.
struct Image {
    side: usize,
    pixels: Vec<u8>,
}

impl Image {
    fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.side + x]
    }
}

/// Parses a PNG as `qr::png` must write it, checking every structural rule on
/// the way.
fn read_png(png: &[u8]) -> Image {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "signature");
    let mut chunks: Vec<([u8; 4], &[u8])> = Vec::new();
    let mut at = 8;
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
        let data = &png[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(
            crc,
            crc32(&png[at + 4..at + 8 + len]),
            "CRC of chunk {}",
            String::from_utf8_lossy(&kind)
        );
        chunks.push((kind, data));
        at += 12 + len;
    }
    assert_eq!(at, png.len(), "nothing after the last chunk");
    let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| &k[..]).collect();
    assert_eq!(kinds.first(), Some(&&b"IHDR"[..]));
    assert_eq!(kinds.last(), Some(&&b"IEND"[..]));
    assert!(chunks.last().unwrap().1.is_empty(), "IEND is empty");
    assert!(kinds[1..kinds.len() - 1].iter().all(|k| *k == b"IDAT"));
    assert!(kinds.len() >= 3, "at least one IDAT");

    let ihdr = chunks[0].1;
    assert_eq!(ihdr.len(), 13);
    let w = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
    let h = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
    assert_eq!(w, h, "square");
    assert!(w > 0);
    let (depth, colour, compression, filter, interlace) =
        (ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]);
    assert_eq!(colour, 0, "greyscale");
    assert!(depth == 1 || depth == 8, "bit depth {depth}");
    assert_eq!((compression, filter, interlace), (0, 0, 0));

    let zlib: Vec<u8> = chunks[1..chunks.len() - 1]
        .iter()
        .flat_map(|(_, d)| d.iter().copied())
        .collect();
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&zlib).expect("valid zlib stream");
    let stride = 1 + (w * depth as usize).div_ceil(8);
    assert_eq!(raw.len(), stride * h, "raw image size");
    let mut pixels = Vec::with_capacity(w * h);
    for row in raw.chunks_exact(stride) {
        assert_eq!(row[0], 0, "filter type none");
        for x in 0..w {
            pixels.push(if depth == 1 {
                if row[1 + x / 8] & (0x80 >> (x % 8)) != 0 {
                    255
                } else {
                    0
                }
            } else {
                row[1 + x]
            });
        }
    }
    assert!(
        pixels.iter().all(|&p| p == 0 || p == 255),
        "pure black and white"
    );
    Image { side: w, pixels }
}

/// Finds exactly one QR code in a greyscale image and decodes it.
fn scan(side: usize, luma: impl FnMut(usize, usize) -> u8) -> (rqrr::MetaData, String) {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, luma);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("decodes")
}

/// rqrr reports the level as its two format bits: M=0, L=1, H=2, Q=3.
fn format_bits(level: EcLevel) -> u16 {
    match level {
        EcLevel::M => 0,
        EcLevel::L => 1,
        EcLevel::H => 2,
        EcLevel::Q => 3,
    }
}

fn to_qrcode(level: EcLevel) -> qrcode::EcLevel {
    match level {
        EcLevel::L => qrcode::EcLevel::L,
        EcLevel::M => qrcode::EcLevel::M,
        EcLevel::Q => qrcode::EcLevel::Q,
        EcLevel::H => qrcode::EcLevel::H,
    }
}

// ---------------------------------------------------------------- SVG reading

/// The value of attribute `name` in the first tag starting with `tag`.
fn attr<'a>(svg: &'a str, tag: &str, name: &str) -> &'a str {
    let start = svg.find(tag).unwrap_or_else(|| panic!("no {tag}"));
    let end = start + svg[start..].find('>').unwrap();
    let t = &svg[start..end];
    let key = format!(" {name}=\"");
    let a = t.find(&key).unwrap_or_else(|| panic!("no {name} in {tag}")) + key.len();
    &t[a..a + t[a..].find('"').unwrap()]
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#x9;", "\t")
        .replace("&#xA;", "\n")
        .replace("&#xD;", "\r")
        .replace("&amp;", "&")
}

/// A module grid: `size` × `size`, quiet zone included.
struct Grid {
    size: usize,
    dark: Vec<bool>,
}

impl Grid {
    fn at(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.size + x]
    }
}

fn number(tokens: &mut std::iter::Peekable<std::str::Chars<'_>>) -> i64 {
    let mut s = String::new();
    while let Some(&c) = tokens.peek() {
        if c == '-' && s.is_empty() || c.is_ascii_digit() {
            s.push(c);
            tokens.next();
        } else {
            break;
        }
    }
    s.parse()
        .unwrap_or_else(|_| panic!("number expected, got {s:?}"))
}

/// Checks the SVG's frame and rasterizes its one path back into modules. The
/// path is read as qrcode's renderer writes it: `M x y h s v s H x V y` per dark
/// module, in user units, `scale` of them per module.
fn read_svg(svg: &str, text: &str, scale: u32) -> Grid {
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<path").count(), 1, "one path");
    assert_eq!(attr(svg, "<svg", "shape-rendering"), "crispEdges");
    assert_eq!(attr(svg, "<svg", "stroke"), "none", "no renderer strokes");
    let view_box: Vec<usize> = attr(svg, "<svg", "viewBox")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(view_box[..2], [0, 0]);
    assert_eq!(view_box[2], view_box[3]);
    let px = view_box[2];
    let s = scale as usize;
    assert_eq!(px % s, 0, "whole modules");
    let size = px / s;
    assert_eq!(attr(svg, "<svg", "width"), px.to_string());
    assert_eq!(attr(svg, "<svg", "height"), px.to_string());
    assert_eq!(attr(svg, "<rect", "fill"), "#fff");
    assert_eq!(attr(svg, "<rect", "width"), px.to_string());
    assert_eq!(attr(svg, "<rect", "height"), px.to_string());
    assert_eq!(attr(svg, "<path", "fill"), "#000");

    let t0 = svg.find("<title>").unwrap() + "<title>".len();
    let t1 = svg.find("</title>").unwrap();
    assert_eq!(unescape_xml(&svg[t0..t1]), text, "title");

    let mut dark = vec![false; size * size];
    let d = attr(svg, "<path", "d");
    let mut it = d.chars().peekable();
    let side = scale as i64;
    while it.peek().is_some() {
        assert_eq!(it.next(), Some('M'));
        let x = number(&mut it);
        assert_eq!(it.next(), Some(' '));
        let y = number(&mut it);
        for (command, value) in [('h', side), ('v', side), ('H', x), ('V', y)] {
            assert_eq!(it.next(), Some(command));
            assert_eq!(number(&mut it), value, "{command} in module at ({x},{y})");
        }
        assert!(x >= 0 && y >= 0 && x % side == 0 && y % side == 0);
        let (mx, my) = ((x / side) as usize, (y / side) as usize);
        assert!(mx < size && my < size);
        let cell = &mut dark[my * size + mx];
        assert!(!*cell, "modules are drawn once");
        *cell = true;
    }
    Grid { size, dark }
}

fn assert_quiet_zone(size: usize, dark: impl Fn(usize, usize) -> bool) {
    for i in 0..size {
        for j in (0..QUIET_ZONE).chain(size - QUIET_ZONE..size) {
            assert!(!dark(i, j) && !dark(j, i), "quiet zone at ({i},{j})");
        }
    }
}

/// Decodes a module grid both directly and as a rasterized image.
fn scan_grid(grid: &Grid) -> (rqrr::MetaData, String) {
    let inner = grid.size - 2 * QUIET_ZONE;
    let simple = rqrr::SimpleGrid::from_func(inner, |x, y| grid.at(x + QUIET_ZONE, y + QUIET_ZONE));
    let direct = rqrr::Grid::new(simple)
        .decode()
        .expect("module grid decodes");
    let s = 3;
    let imaged = scan(
        grid.size * s,
        |x, y| {
            if grid.at(x / s, y / s) {
                0
            } else {
                255
            }
        },
    );
    assert_eq!(direct.1, imaged.1);
    direct
}

/// The version a symbol of `size` modules (quiet zone included) has.
fn version_of(size: usize) -> usize {
    let inner = size - 2 * QUIET_ZONE;
    assert_eq!((inner - 17) % 4, 0, "a regular QR size: {inner}");
    (inner - 17) / 4
}

fn assert_smallest_version(text: &str, level: EcLevel, version: usize) {
    if version > 1 && text.is_ascii() {
        let smaller = qrcode::QrCode::with_version(
            text,
            qrcode::Version::Normal(version as i16 - 1),
            to_qrcode(level),
        );
        assert!(
            smaller.is_err(),
            "version {} also holds {text:?}",
            version - 1
        );
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn png_decodes_to_the_exact_text_at_every_scale_and_level() {
    for uri in uris() {
        for level in LEVELS {
            let mut side_at_scale_1 = 0;
            for scale in 1..=4 {
                let opts = QrOptions {
                    ec_level: level,
                    scale,
                };
                let png = qr::png(&uri, &opts).unwrap();
                let img = read_png(&png);
                if scale == 1 {
                    side_at_scale_1 = img.side;
                }
                assert_eq!(img.side, side_at_scale_1 * scale as usize, "scale");
                let s = scale as usize;
                assert_quiet_zone(side_at_scale_1, |x, y| img.at(x * s, y * s) == 0);
                let (meta, text) = scan(img.side, |x, y| img.at(x, y));
                assert_eq!(text, uri, "{level:?} scale {scale}");
                assert_eq!(meta.ecc_level, format_bits(level));
                assert_eq!(meta.version.0, version_of(side_at_scale_1));
                assert_smallest_version(&uri, level, meta.version.0);
            }
        }
    }
}

#[test]
fn svg_path_rasterizes_to_a_grid_that_decodes_to_the_exact_text() {
    for uri in uris() {
        for level in LEVELS {
            for scale in [1, 4, 10] {
                let opts = QrOptions {
                    ec_level: level,
                    scale,
                };
                let svg = qr::svg(&uri, &opts).unwrap();
                let grid = read_svg(&svg, &uri, scale);
                assert_quiet_zone(grid.size, |x, y| grid.at(x, y));
                let (meta, text) = scan_grid(&grid);
                assert_eq!(text, uri, "{level:?}");
                assert_eq!(meta.ecc_level, format_bits(level));
                assert_eq!(meta.version.0, version_of(grid.size));

                // The PNG draws the same modules.
                let img = read_png(&qr::png(&uri, &opts).unwrap());
                assert_eq!(img.side, grid.size * scale as usize);
                let s = scale as usize;
                for y in 0..grid.size {
                    for x in 0..grid.size {
                        let px = img.at(x * s + s / 2, y * s + s / 2);
                        assert_eq!(px == 0, grid.at(x, y), "module ({x},{y})");
                    }
                }
            }
        }
    }
}

#[test]
fn defaults_are_level_m_and_four_pixels_per_module() {
    let opts = QrOptions::default();
    assert_eq!(opts.ec_level, EcLevel::M);
    assert_eq!(opts.scale, 4);
    let uri = &uris()[0];
    let svg = qr::svg(uri, &opts).unwrap();
    let grid = read_svg(&svg, uri, 4);
    let (meta, _) = scan_grid(&grid);
    assert_eq!(meta.ecc_level, format_bits(EcLevel::M));
}

#[test]
fn svg_title_escapes_markup() {
    let text = "https://x.example/01/09506000134352?a=1&b=<script>\"'</script>";
    let svg = qr::svg(text, &QrOptions::default()).unwrap();
    assert!(!svg.contains("<script"));
    assert!(svg.contains("&amp;b=&lt;script&gt;&quot;&apos;&lt;/script&gt;"));
    let grid = read_svg(&svg, text, 4);
    assert_eq!(scan_grid(&grid).1, text);
}

#[test]
fn non_ascii_text_round_trips_as_utf8() {
    // `中` is E4 B8 AD, which a Shift JIS guess would take for Kanji.
    for text in [
        "https://id.gs1.org/01/09506000134352?desc=中文标签&x=Ünïcødé",
        "中",
        "ありがとうございます、ありがとうございます",
    ] {
        for level in LEVELS {
            let opts = QrOptions {
                ec_level: level,
                scale: 2,
            };
            let img = read_png(&qr::png(text, &opts).unwrap());
            assert_eq!(scan(img.side, |x, y| img.at(x, y)).1, text);
            let grid = read_svg(&qr::svg(text, &opts).unwrap(), text, 2);
            assert_eq!(scan_grid(&grid).1, text);
        }
    }
}

#[test]
fn non_ascii_text_is_never_put_in_kanji_mode() {
    // The encoder's automatic segmentation takes these UTF-8 bytes for Shift
    // JIS and uses Kanji mode, which phones would decode as Shift JIS (rqrr
    // passes the bytes through, so decoding alone cannot tell).
    let text = "ありがとうございます、ありがとうございます";
    let auto = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).unwrap();
    let auto_size = auto.width() + 2 * QUIET_ZONE;
    let grid = read_svg(&qr::svg(text, &QrOptions::default()).unwrap(), text, 4);
    let auto_dark: Vec<bool> = auto
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    let ours: Vec<bool> = (0..grid.size - 2 * QUIET_ZONE)
        .flat_map(|y| (0..grid.size - 2 * QUIET_ZONE).map(move |x| (x, y)))
        .map(|(x, y)| grid.at(x + QUIET_ZONE, y + QUIET_ZONE))
        .collect();
    assert!(grid.size != auto_size || ours != auto_dark);
    assert_eq!(scan_grid(&grid).1, text);
}

#[test]
fn longest_text_fits_at_every_level() {
    let base = "https://id.gs1.org/01/09506000134352/10/LOT%2F1/21/";
    let mut text = base.to_owned();
    let mut i = 0u32;
    while text.len() < QR_TEXT_BYTES_MAX {
        text.push(char::from(b'a' + (i % 26) as u8));
        i += 1;
    }
    assert_eq!(text.len(), QR_TEXT_BYTES_MAX);
    for level in LEVELS {
        let opts = QrOptions {
            ec_level: level,
            scale: 1,
        };
        let grid = read_svg(&qr::svg(&text, &opts).unwrap(), &text, 1);
        let (meta, decoded) = scan_grid(&grid);
        assert_eq!(decoded, text);
        assert_eq!(meta.ecc_level, format_bits(level));
        let img = read_png(&qr::png(&text, &opts).unwrap());
        assert_eq!(img.side, grid.size);
    }
}

#[test]
fn rejects_empty_and_too_long_text_and_bad_scales() {
    let opts = QrOptions::default();
    assert_eq!(qr::svg("", &opts), Err(QrError::Empty));
    assert_eq!(qr::png("", &opts), Err(QrError::Empty));

    let long = "a".repeat(QR_TEXT_BYTES_MAX + 1);
    let too_long = QrError::TooLong {
        len: QR_TEXT_BYTES_MAX + 1,
        max: QR_TEXT_BYTES_MAX,
    };
    assert_eq!(qr::svg(&long, &opts), Err(too_long.clone()));
    assert_eq!(qr::png(&long, &opts), Err(too_long));
    // The limit counts bytes, not characters.
    let wide = "é".repeat(QR_TEXT_BYTES_MAX / 2 + 1);
    assert!(matches!(
        qr::png(&wide, &opts),
        Err(QrError::TooLong { len, .. }) if len == QR_TEXT_BYTES_MAX + 2
    ));

    for scale in [0, SCALE_MAX + 1] {
        let bad = QrOptions { scale, ..opts };
        let err = QrError::Scale {
            scale,
            max: SCALE_MAX,
        };
        assert_eq!(qr::svg("x", &bad), Err(err.clone()));
        assert_eq!(qr::png("x", &bad), Err(err));
    }
    let msg = qr::png(&long, &opts).unwrap_err().to_string();
    assert!(msg.contains("1001") && msg.contains("1000"), "{msg}");

    // The largest scale is accepted.
    let big = QrOptions {
        scale: SCALE_MAX,
        ..opts
    };
    let img = read_png(&qr::png("https://id.gs1.org/01/09506000134352", &big).unwrap());
    assert_eq!(img.side % SCALE_MAX as usize, 0);
}

#[test]
fn output_is_deterministic() {
    let uri = &uris()[2];
    let opts = QrOptions::default();
    assert_eq!(qr::svg(uri, &opts), qr::svg(uri, &opts));
    assert_eq!(qr::png(uri, &opts), qr::png(uri, &opts));
}
