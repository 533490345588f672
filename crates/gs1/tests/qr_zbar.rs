//! QR codes read back by the tools outside Rust that print and scan them: each Digital
//! Link's SVG is rasterized by ImageMagick's own SVG renderer (MSVG, which strokes every
//! shape unless told not to) and by librsvg (`rsvg-convert`, ImageMagick's SVG
//! delegate), its PNG is read as written, and `zbarimg` must decode every picture to the
//! exact link.
//!
//! Needs `zbarimg`, ImageMagick with its SVG coder (`convert -list format` shows MSVG)
//! and `rsvg-convert`: `./scripts/install-test-tools.sh` installs them (Debian packages
//! zbar-tools, imagemagick, its `libmagickcore-*-extra` coders and librsvg2-bin). A
//! missing tool fails the test; it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use waybill_gs1::qr::{self, QrOptions};

/// Longest a tool may take on one small picture before the test gives up on it.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

const LINKS: &[&str] = &[
    "https://id.gs1.org/01/06901234000016/10/PJ2611A/21/000123?wb=3f9a1c2d7e6b5a49",
    "https://brand.example.com/01/09506000134352/10/AB%26C%20123/21/12345%2F678\
     ?17=261231&linkType=gs1%3ApIP",
];

/// A directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("waybill-qr-zbar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path of `name` on PATH, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The path of `name` on PATH; the test fails, saying how to install it, when it is not.
fn tool(name: &str, package: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| {
        panic!(
            "{name} not found on PATH: run ./scripts/install-test-tools.sh \
             (Debian package {package})"
        )
    })
}

/// ImageMagick's command: `magick` (version 7) or `convert` (version 6).
fn imagemagick() -> PathBuf {
    on_path("magick").unwrap_or_else(|| tool("convert", "imagemagick"))
}

/// Runs `cmd` to completion within [`TOOL_TIMEOUT`]; its stdout, or a failure that
/// shows the command and its stderr.
fn run(cmd: &mut Command, scratch: &Path) -> String {
    let out_path = scratch.join("stdout.txt");
    let err_path = scratch.join("stderr.txt");
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let deadline = Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        status.success(),
        "{shown} failed ({status}): {stderr}{stdout}"
    );
    stdout
}

/// What `zbarimg` reads in the picture at `path` (one symbol, its text as is).
fn zbar(path: &Path, scratch: &Path) -> String {
    let out = run(
        Command::new(tool("zbarimg", "zbar-tools"))
            .args(["--raw", "--quiet", "-Sdisable", "-Sqrcode.enable"])
            .arg(path),
        scratch,
    );
    out.strip_suffix('\n').unwrap_or(&out).to_owned()
}

#[test]
fn svg_and_png_decode_with_zbarimg_after_imagemagick_and_librsvg() {
    let scratch = Scratch::new();
    let dir = &scratch.0;
    let magick = imagemagick();
    let formats = run(Command::new(&magick).args(["-list", "format"]), dir);
    assert!(
        formats.split_whitespace().any(|w| w == "MSVG"),
        "ImageMagick at {} has no SVG coder (MSVG): run ./scripts/install-test-tools.sh \
         (Debian package libmagickcore-6.q16-6-extra or its successor)",
        magick.display()
    );
    let rsvg = tool("rsvg-convert", "librsvg2-bin");
    for (i, link) in LINKS.iter().enumerate() {
        for scale in [4, 8] {
            let opts = QrOptions {
                scale,
                ..QrOptions::default()
            };
            let svg_path = dir.join(format!("{i}-{scale}.svg"));
            std::fs::write(&svg_path, qr::svg(link, &opts).unwrap()).unwrap();
            let png_path = dir.join(format!("{i}-{scale}.png"));
            std::fs::write(&png_path, qr::png(link, &opts).unwrap()).unwrap();
            assert_eq!(zbar(&png_path, dir), *link, "PNG at scale {scale}");

            let msvg_png = dir.join(format!("{i}-{scale}-msvg.png"));
            run(
                Command::new(&magick)
                    .arg(format!("msvg:{}", svg_path.display()))
                    .arg(&msvg_png),
                dir,
            );
            assert_eq!(
                zbar(&msvg_png, dir),
                *link,
                "SVG at scale {scale} rasterized by ImageMagick's MSVG"
            );

            let rsvg_png = dir.join(format!("{i}-{scale}-rsvg.png"));
            run(
                Command::new(&rsvg).arg("-o").arg(&rsvg_png).arg(&svg_path),
                dir,
            );
            assert_eq!(
                zbar(&rsvg_png, dir),
                *link,
                "SVG at scale {scale} rasterized by librsvg"
            );

            // ImageMagick's own choice of SVG renderer, as `convert label.svg label.png`.
            let default_png = dir.join(format!("{i}-{scale}-default.png"));
            run(Command::new(&magick).arg(&svg_path).arg(&default_png), dir);
            assert_eq!(
                zbar(&default_png, dir),
                *link,
                "SVG at scale {scale} converted by {}",
                magick.display()
            );
        }
    }
}
