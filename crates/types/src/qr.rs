//! QR codes for GS1 Digital Link URIs, as standalone SVG or as PNG.
//!
//! The symbol is a regular QR code (never Micro QR) of the smallest version that
//! holds the text at the chosen error-correction level. ASCII text (every Digital
//! Link URI) is split into numeric, alphanumeric and byte segments, whichever is
//! shortest; other text is one UTF-8 byte segment flagged with ECI 26. The
//! symbol is surrounded by the quiet
//! zone of [`QUIET_ZONE`] light modules that scanners need. Both renderings are
//! black on white and contain nothing but the symbol:
//!
//! - [`svg`] writes one `<path>` of the dark modules over a white background, in
//!   module units (`viewBox`), with `shape-rendering="crispEdges"` and the text
//!   as its `<title>`;
//! - [`png`] writes a 1-bit greyscale PNG, [`QrOptions::scale`] pixels per module.
//!
//! ```
//! use waybill_types::qr::{self, QrOptions};
//!
//! let uri = "https://id.gs1.org/01/06901234000016/21/000123";
//! let svg = qr::svg(uri, &QrOptions::default()).expect("fits");
//! assert!(svg.starts_with("<svg"));
//! let png = qr::png(uri, &QrOptions::default()).expect("fits");
//! assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
//! ```

use std::fmt::Write as _;

/// Longest text that is put in a QR code, in bytes (UTF-8).
///
/// Every error-correction level holds this much in byte mode (level H holds
/// 1,273 bytes at version 40), and a Digital Link URI is far shorter.
pub const QR_TEXT_BYTES_MAX: usize = 1_000;

/// Width of the light border around the symbol, in modules (the QR standard's
/// minimum).
pub const QUIET_ZONE: usize = 4;

/// Largest [`QrOptions::scale`]: pixels per module in a PNG, user units per
/// module in an SVG's `width` and `height`.
pub const SCALE_MAX: u32 = 32;

/// How much of the symbol may be damaged and still read; more costs a larger
/// symbol for the same text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EcLevel {
    /// About 7% of the codewords can be restored.
    L,
    /// About 15% of the codewords can be restored (the default).
    #[default]
    M,
    /// About 25% of the codewords can be restored.
    Q,
    /// About 30% of the codewords can be restored.
    H,
}

impl EcLevel {
    fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        }
    }
}

/// How a QR code is encoded and drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QrOptions {
    /// Error-correction level; [`EcLevel::M`] by default.
    pub ec_level: EcLevel,
    /// Size of one module: pixels in a PNG, user units (CSS pixels) in the
    /// `width` and `height` of an SVG. From 1 to [`SCALE_MAX`]; 4 by default.
    pub scale: u32,
}

impl Default for QrOptions {
    fn default() -> Self {
        QrOptions {
            ec_level: EcLevel::M,
            scale: 4,
        }
    }
}

/// Why no QR code was made.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum QrError {
    /// The text is empty.
    #[error("QR code text is empty")]
    Empty,
    /// The text is longer than [`QR_TEXT_BYTES_MAX`].
    #[error("QR code text is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Length of the text, in bytes.
        len: usize,
        /// The limit, [`QR_TEXT_BYTES_MAX`].
        max: usize,
    },
    /// [`QrOptions::scale`] is 0 or over [`SCALE_MAX`].
    #[error("QR code scale {scale} is outside 1..={max}")]
    Scale {
        /// The scale asked for.
        scale: u32,
        /// The limit, [`SCALE_MAX`].
        max: u32,
    },
    /// The encoder refused the text (not expected within the length limit).
    #[error("QR encoding failed: {0}")]
    Encode(String),
}

/// The modules of a symbol, quiet zone included: `size` × `size`, row-major,
/// `true` for dark.
struct Modules {
    size: usize,
    dark: Vec<bool>,
}

impl Modules {
    fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark.get(y * self.size + x).copied().unwrap_or(false)
    }
}

fn encode(text: &str, opts: &QrOptions) -> Result<Modules, QrError> {
    if text.is_empty() {
        return Err(QrError::Empty);
    }
    if text.len() > QR_TEXT_BYTES_MAX {
        return Err(QrError::TooLong {
            len: text.len(),
            max: QR_TEXT_BYTES_MAX,
        });
    }
    if opts.scale == 0 || opts.scale > SCALE_MAX {
        return Err(QrError::Scale {
            scale: opts.scale,
            max: SCALE_MAX,
        });
    }
    let ec = opts.ec_level.to_qrcode();
    let code = if text.is_ascii() {
        // Numeric, alphanumeric and byte segments, as short as possible.
        qrcode::QrCode::with_error_correction_level(text, ec)
    } else {
        utf8_byte_mode(text.as_bytes(), ec)
    }
    .map_err(|e| QrError::Encode(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut dark = vec![false; size * size];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (y, x) = (i / width, i % width);
            if let Some(cell) = dark.get_mut((y + QUIET_ZONE) * size + x + QUIET_ZONE) {
                *cell = true;
            }
        }
    }
    Ok(Modules { size, dark })
}

/// Non-ASCII text as one byte segment after ECI 26 (UTF-8), smallest version.
///
/// The encoder's automatic segmentation treats byte pairs that look like Shift
/// JIS as Kanji, which would garble UTF-8 (`中` is `E4 B8 AD`); ECI 26 tells
/// readers that the bytes are UTF-8.
fn utf8_byte_mode(data: &[u8], ec: qrcode::EcLevel) -> qrcode::types::QrResult<qrcode::QrCode> {
    for v in 1..=40 {
        let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(v));
        let fits = bits.push_eci_designator(26).is_ok()
            && bits.push_byte_data(data).is_ok()
            && bits.push_terminator(ec).is_ok();
        if fits {
            return qrcode::QrCode::with_bits(bits, ec);
        }
    }
    Err(qrcode::types::QrError::DataTooLong)
}

/// The QR code of `text` as a standalone SVG document.
///
/// The drawing is in module units: `viewBox="0 0 N N"` where N is the symbol's
/// width plus twice the quiet zone, and `width`/`height` are N × `opts.scale`.
/// A white `<rect>` covers the whole drawing and a single black `<path>` draws
/// the dark modules, one `M x y h w v1 h-w z` rectangle per horizontal run. The
/// `<title>` holds `text`, escaped for XML (characters XML cannot hold become
/// U+FFFD there; the symbol itself holds the exact text).
///
/// # Errors
///
/// [`QrError::Empty`], [`QrError::TooLong`] or [`QrError::Scale`] for input
/// outside the limits.
pub fn svg(text: &str, opts: &QrOptions) -> Result<String, QrError> {
    let m = encode(text, opts)?;
    let n = m.size;
    let px = n as u64 * u64::from(opts.scale);
    let mut d = String::new();
    for y in 0..n {
        let mut x = 0;
        while x < n {
            if !m.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < n && m.is_dark(x, y) {
                x += 1;
            }
            let run = x - start;
            // Writing to a String cannot fail.
            let _ = write!(d, "M{start} {y}h{run}v1h-{run}z");
        }
    }
    let mut out = String::with_capacity(d.len() + text.len() + 320);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" \
         width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {n} {n}\" \
         shape-rendering=\"crispEdges\"><title>"
    );
    escape_xml(text, &mut out);
    let _ = writeln!(
        out,
        "</title><rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{d}\"/></svg>"
    );
    Ok(out)
}

/// Appends `text` to `out` as XML character data (also safe in attributes).
fn escape_xml(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept exactly: a literal CR would be normalized to LF by parsers.
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            // Not allowed in XML 1.0, not even as character references.
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            _ => out.push(c),
        }
    }
}

/// The QR code of `text` as a PNG image: 1-bit greyscale, `opts.scale` pixels
/// per module, quiet zone included, no interlacing, one zlib-compressed IDAT.
///
/// # Errors
///
/// [`QrError::Empty`], [`QrError::TooLong`] or [`QrError::Scale`] for input
/// outside the limits.
pub fn png(text: &str, opts: &QrOptions) -> Result<Vec<u8>, QrError> {
    let m = encode(text, opts)?;
    let scale = opts.scale as usize;
    let side = m.size * scale;
    // One filter byte (0, none) then the packed pixels of each row; a set bit is
    // white (greyscale 1), so rows start zeroed and light pixels are set.
    let stride = 1 + side.div_ceil(8);
    let mut raw = vec![0u8; stride * side];
    for (py, row) in raw.chunks_exact_mut(stride).enumerate() {
        let y = py / scale;
        for px in 0..side {
            if !m.is_dark(px / scale, y) {
                if let Some(byte) = row.get_mut(1 + px / 8) {
                    *byte |= 0x80 >> (px % 8);
                }
            }
        }
    }
    let idat = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9);

    // The side is at most (177 + 8) * SCALE_MAX pixels, far below u32::MAX.
    let side32 = u32::try_from(side).map_err(|e| QrError::Encode(e.to_string()))?;
    let mut ihdr = [0u8; 13];
    ihdr[0..4].copy_from_slice(&side32.to_be_bytes());
    ihdr[4..8].copy_from_slice(&side32.to_be_bytes());
    ihdr[8] = 1; // bit depth
    ihdr[9] = 0; // colour type: greyscale
    ihdr[10] = 0; // compression: deflate
    ihdr[11] = 0; // filter method 0
    ihdr[12] = 0; // no interlace

    let mut out = Vec::with_capacity(8 + 25 + 12 + idat.len() + 12);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    chunk(&mut out, b"IHDR", &ihdr)?;
    chunk(&mut out, b"IDAT", &idat)?;
    chunk(&mut out, b"IEND", &[])?;
    Ok(out)
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<(), QrError> {
    let len = u32::try_from(data.len()).map_err(|e| QrError::Encode(e.to_string()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        let mut out = String::new();
        escape_xml("a&b<c>d\"e'f\u{1}g\r\u{FFFF}", &mut out);
        assert_eq!(out, "a&amp;b&lt;c&gt;d&quot;e&apos;f\u{FFFD}g&#xD;\u{FFFD}");
    }

    #[test]
    fn quiet_zone_is_light() {
        let m = encode(
            "https://id.gs1.org/01/06901234000016",
            &QrOptions::default(),
        )
        .expect("fits");
        for i in 0..m.size {
            for j in 0..QUIET_ZONE {
                assert!(!m.is_dark(i, j) && !m.is_dark(j, i));
                assert!(!m.is_dark(i, m.size - 1 - j) && !m.is_dark(m.size - 1 - j, i));
            }
        }
        // Version 1 at least: 21 modules plus the border.
        assert!(m.size >= 21 + 2 * QUIET_ZONE);
    }
}
