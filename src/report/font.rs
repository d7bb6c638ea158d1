//! The one font every plot uses, shipped inside the binary.
//!
//! Plots must render the same on a fresh machine with no fonts and no
//! system libraries, so plotters runs with its pure-Rust `ab_glyph` text
//! path and this file registers DejaVu Sans (from Debian's
//! `fonts-dejavu-core`, Bitstream Vera licence, see `font/LICENSE`) under
//! the family name [`FAMILY`]. Call [`register`] before drawing; it is
//! cheap after the first call.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("font/DejaVuSans.ttf");

/// Registers the font with plotters, once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans is a valid font"));
    });
}

#[cfg(test)]
mod tests {
    use plotters::prelude::*;

    use super::*;

    #[test]
    fn text_renders_with_the_bundled_font() {
        register();
        let (w, h) = (200u32, 60u32);
        let mut pixels = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
            root.draw_text("lbsim", &(FAMILY, 40).into_font().color(&BLACK), (10, 10))
                .unwrap();
            root.present().unwrap();
        }
        // Some pixels turned dark: the glyphs were drawn.
        let dark = pixels.chunks(3).filter(|p| p[0] < 128).count();
        assert!(dark > 200, "only {dark} dark pixels");
    }
}
