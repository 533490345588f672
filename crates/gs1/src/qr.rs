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
//! - [`svg`] is the `qrcode` crate's own SVG renderer: a white `<rect>` and one
//!   `<path>` of the dark modules, [`QrOptions::scale`] user units per module, with
//!   `shape-rendering="crispEdges"`, `stroke="none"` (renderers that stroke shapes by
//!   default, such as ImageMagick's MSVG, would otherwise grow every module into its
//!   neighbours and the symbol would not scan) and the text as its `<title>`;
//! - [`png`] writes a 1-bit greyscale PNG, [`QrOptions::scale`] pixels per module,
//!   deflated by `miniz_oxide` (no image library).
//!
//! ```
//! use waybill_gs1::qr::{self, QrOptions};
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

/// The symbol of `text`, after the limits are checked.
fn symbol(text: &str, opts: &QrOptions) -> Result<qrcode::QrCode, QrError> {
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
    if text.is_ascii() {
        // Numeric, alphanumeric and byte segments, as short as possible.
        qrcode::QrCode::with_error_correction_level(text, ec)
    } else {
        utf8_byte_mode(text.as_bytes(), ec)
    }
    .map_err(|e| QrError::Encode(e.to_string()))
}

/// The modules of `code` with the quiet zone around them.
fn modules(code: &qrcode::QrCode) -> Modules {
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
    Modules { size, dark }
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

/// The QR code of `text` as a standalone SVG document, drawn by the `qrcode` crate's
/// SVG renderer.
///
/// The drawing is `N` × `opts.scale` user units square, where N is the symbol's width
/// plus twice the quiet zone (`width`, `height` and `viewBox` agree): a white `<rect>`
/// covers it and a single black `<path>` draws the dark modules, one square each. The
/// root element carries `stroke="none"`, so that no renderer outlines the shapes, and a
/// `<title>` holding `text`, escaped for XML (characters XML cannot hold become U+FFFD
/// there; the symbol itself holds the exact text). There is no XML declaration, so the
/// document can also be put inline in an HTML page.
///
/// # Errors
///
/// [`QrError::Empty`], [`QrError::TooLong`] or [`QrError::Scale`] for input
/// outside the limits.
pub fn svg(text: &str, opts: &QrOptions) -> Result<String, QrError> {
    let code = symbol(text, opts)?;
    let drawn = code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(opts.scale, opts.scale)
        .build();
    // qrcode writes `<?xml …?><svg …>` then the drawing: keep the element, with the
    // stroke turned off on it and the title first inside it.
    let root = drawn
        .find("<svg")
        .and_then(|start| drawn.get(start..))
        .ok_or_else(|| QrError::Encode("the SVG renderer wrote no <svg> element".to_owned()))?;
    let (open, drawing) = root
        .find('>')
        .map(|end| root.split_at(end))
        .ok_or_else(|| QrError::Encode("the SVG renderer's <svg> tag is not closed".to_owned()))?;
    let mut out = String::with_capacity(root.len() + text.len() + 40);
    out.push_str(open);
    out.push_str(" stroke=\"none\"><title>");
    escape_xml(text, &mut out);
    out.push_str("</title>");
    out.push_str(drawing.get(1..).unwrap_or_default());
    out.push('\n');
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
    let m = modules(&symbol(text, opts)?);
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
        let m = modules(
            &symbol(
                "https://id.gs1.org/01/06901234000016",
                &QrOptions::default(),
            )
            .expect("fits"),
        );
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
