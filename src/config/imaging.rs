//! `[imaging]`: the site's limit on what an image may ask of the decoder.

/// Default site limit on an image's declared pixel data.
pub const DEFAULT_MAX_PIXEL_BYTES: u64 = 2 << 30;

/// `[imaging]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagingConfig {
    /// The largest pixel data (all frames) an image may declare to be decoded, in MiB.
    pub max_pixel_mb: u64,
}

impl Default for ImagingConfig {
    fn default() -> Self {
        ImagingConfig {
            max_pixel_mb: DEFAULT_MAX_PIXEL_BYTES >> 20,
        }
    }
}
