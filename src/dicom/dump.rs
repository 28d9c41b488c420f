//! Every attribute of a file as a tree (the viewer's header panel): the file meta group, then
//! the data set, sequences with their items, text decoded by the file's character set.
//!
//! Bounded like the other readers: a length the file cannot hold stops the reading with the
//! reason, large values (pixel data, waveforms) are listed by size without being read, and a
//! pathological file gives at most `MAX_NODES` attributes, nested at most
//! [`super::object::MAX_DEPTH`] deep (the tree is walked by recursion when drawn and dropped).

use std::io::{Read, Seek};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_encoding::transfer_syntax::{Codec, Endianness, TransferSyntaxIndex};
use dicom_parser::dataset::DataToken;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::charset::Charset;
use super::header::read_header;
use super::tokens::{RawTokens, raw_tokens};

/// Values longer than this are listed by size, not read.
const MAX_READ: u64 = 64 << 10;
/// Text longer than this is cut in the display.
const MAX_TEXT: usize = 1024;
/// Numbers shown of a multi-valued numeric attribute.
const MAX_NUMBERS: usize = 16;
const MAX_NODES: usize = 50_000;

/// One attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub tag: Tag,
    pub vr: VR,
    /// The dictionary keyword, or `(gggg,eeee)` for private and unknown attributes.
    pub keyword: String,
    /// The value as text (empty for a sequence).
    pub value: String,
    /// Declared length in bytes (`None`: undefined).
    pub length: Option<u64>,
    /// A sequence's items, each a list of attributes.
    pub items: Vec<Vec<Node>>,
}

impl Node {
    /// `(0010,0010)`.
    pub fn tag_text(&self) -> String {
        format!("({:04X},{:04X})", self.tag.group(), self.tag.element())
    }

    /// Whether `needle` (lower case) is in the tag, keyword or value.
    pub fn matches(&self, needle: &str) -> bool {
        self.keyword.to_lowercase().contains(needle)
            || self.value.to_lowercase().contains(needle)
            || self.tag_text().to_lowercase().contains(needle)
            || format!("{:04x}{:04x}", self.tag.group(), self.tag.element()).contains(needle)
    }

    /// Whether this node or anything inside it matches `needle`.
    pub fn matches_deep(&self, needle: &str) -> bool {
        self.matches(needle)
            || self
                .items
                .iter()
                .any(|item| item.iter().any(|n| n.matches_deep(needle)))
    }
}

/// A file's attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dump {
    pub meta: Vec<Node>,
    pub dataset: Vec<Node>,
    /// Where reading stopped early, and why.
    pub error: Option<String>,
    /// Attributes listed (all levels).
    pub count: usize,
}

/// Lists every attribute of the file in `src` (`size` bytes long).
pub fn dump<R: Read + Seek>(src: &mut R, size: u64) -> Dump {
    let mut out = Dump::default();
    let outcome = match read_header(src, size) {
        Ok(o) => o,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let explicit_le = TransferSyntaxRegistry.get("1.2.840.10008.1.2.1");
    if let (Some(at), Some(ts)) = (outcome.meta_offset, explicit_le) {
        let mut reader = Reader::new(Charset::parse(""), false, size);
        reader.meta_only = true;
        reader.read(src, ts, at, &mut out.meta);
        out.count += reader.count;
    }
    let ts_uid = outcome.header.transfer_syntax.clone();
    let Some(ts) = TransferSyntaxRegistry.get(&ts_uid) else {
        out.error = Some(format!("unknown transfer syntax {ts_uid}"));
        return out;
    };
    read_data_set(src, ts, outcome.dataset_offset, size, &mut out);
    out
}

/// Reads the data set from `start` (of `size` bytes in all) into `out.dataset`, text decoded
/// by its own Specific Character Set.
fn read_data_set<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    start: u64,
    size: u64,
    out: &mut Dump,
) {
    let mut reader = Reader::new(Charset::parse(""), ts.endianness() == Endianness::Big, size);
    reader.deflated = matches!(ts.codec(), Codec::Dataset(_));
    let mut start = start;
    // A long top-level value ends a stretch of reading; reading resumes after it.
    for _ in 0..64 {
        match reader.read(src, ts, start, &mut out.dataset) {
            Some(next) if next < size => start = next,
            _ => break,
        }
    }
    out.count += reader.count;
    out.error = reader.error;
}

/// Lists every attribute of the file at `path`.
pub fn dump_file(path: &std::path::Path) -> Dump {
    let opened = std::fs::File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
    match opened {
        Ok((size, f)) => dump(&mut std::io::BufReader::new(f), size),
        Err(e) => Dump {
            error: Some(format!("cannot open {}: {e}", path.display())),
            ..Dump::default()
        },
    }
}

/// Lists the attributes of a bare data set (a network message's identifier), encoded in the
/// transfer syntax `ts_uid`; text is decoded by its own Specific Character Set.
pub fn dump_dataset(bytes: &[u8], ts_uid: &str) -> Dump {
    let mut out = Dump::default();
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        out.error = Some(format!("unknown transfer syntax {ts_uid}"));
        return out;
    };
    read_data_set(
        &mut std::io::Cursor::new(bytes),
        ts,
        0,
        bytes.len() as u64,
        &mut out,
    );
    out
}

enum Open {
    Seq(Node),
    Item(Vec<Node>),
}

struct Reader {
    charset: Charset,
    big: bool,
    size: u64,
    deflated: bool,
    meta_only: bool,
    count: usize,
    error: Option<String>,
}

impl Reader {
    fn new(charset: Charset, big: bool, size: u64) -> Reader {
        Reader {
            charset,
            big,
            size,
            deflated: false,
            meta_only: false,
            count: 0,
            error: None,
        }
    }

    /// Reads from `start` into `top` until the end, an error, or a long top-level value;
    /// for the last, returns where its value ends.
    fn read<R: Read + Seek>(
        &mut self,
        src: &mut R,
        ts: &dicom_encoding::TransferSyntax,
        start: u64,
        top: &mut Vec<Node>,
    ) -> Option<u64> {
        let RawTokens {
            mut tokens, pos, ..
        } = match raw_tokens(src, ts, start) {
            Ok(t) => t,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        let mut stack: Vec<Open> = Vec::new();
        let mut pending: Option<(Tag, VR, Option<u64>)> = None;
        let mut pixel: Option<(Node, usize, u64)> = None;
        let mut resume = None;
        for token in tokens.by_ref() {
            let token = match token {
                Ok(t) => t,
                Err(e) => {
                    if !self.meta_only {
                        self.error = Some(format!("unreadable from here on: {e}"));
                    }
                    break;
                }
            };
            if self.count >= MAX_NODES {
                self.error = Some(format!(
                    "more than {MAX_NODES} attributes; the rest is not listed"
                ));
                break;
            }
            let at = pos.get();
            match token {
                DataToken::ElementHeader(h) => {
                    if self.meta_only && h.tag.group() != 0x0002 {
                        break;
                    }
                    let len = h.len.get().map(u64::from);
                    if let Some(len) = len {
                        let remaining = self.size.saturating_sub(at);
                        if !self.deflated && len > remaining {
                            let why = format!(
                                "{} declares {len} bytes, only {remaining} remain",
                                keyword(h.tag)
                            );
                            self.count += 1;
                            push(
                                &mut stack,
                                top,
                                node(h.tag, h.vr, Some(len), format!("({why}: truncated)")),
                            );
                            self.error = Some(format!("the file is cut short: {why}"));
                            break;
                        }
                        // In a deflated data set a value cannot be skipped, only read: a
                        // length no real value has is where the listing stops.
                        if self.deflated && len > super::object::MAX_VALUE {
                            self.error = Some(format!(
                                "{} declares {len} bytes in a deflated data set; not read",
                                keyword(h.tag)
                            ));
                            break;
                        }
                        let big_value = len > MAX_READ || h.tag == tags::PIXEL_DATA;
                        if big_value && stack.is_empty() && !self.deflated {
                            self.count += 1;
                            push(
                                &mut stack,
                                top,
                                node(h.tag, h.vr, Some(len), format!("({len} bytes, not shown)")),
                            );
                            resume = Some(at + len);
                            break;
                        }
                    }
                    pending = Some((h.tag, h.vr, len));
                }
                DataToken::PrimitiveValue(v) => {
                    let Some((tag, vr, len)) = pending.take() else {
                        continue;
                    };
                    let bytes = v.to_bytes();
                    if tag == tags::SPECIFIC_CHARACTER_SET && stack.is_empty() {
                        self.charset = Charset::parse(&String::from_utf8_lossy(&bytes));
                    }
                    let text = self.show(vr, &bytes);
                    self.count += 1;
                    push(&mut stack, top, node(tag, vr, len, text));
                }
                DataToken::SequenceStart { tag, len } => {
                    let depth = stack.iter().filter(|o| matches!(o, Open::Seq(_))).count();
                    if depth >= super::object::MAX_DEPTH {
                        self.error = Some(format!(
                            "sequences nested more than {} deep at {}; the rest is not listed",
                            super::object::MAX_DEPTH,
                            keyword(tag)
                        ));
                        break;
                    }
                    self.count += 1;
                    stack.push(Open::Seq(node(
                        tag,
                        VR::SQ,
                        len.get().map(u64::from),
                        String::new(),
                    )));
                }
                DataToken::PixelSequenceStart => {
                    self.count += 1;
                    pixel = Some((node(tags::PIXEL_DATA, VR::OB, None, String::new()), 0, 0));
                }
                DataToken::ItemStart { len } => {
                    // A pixel sequence's items are read whole (its first zero-filled first).
                    if pixel.is_some()
                        && let Some(why) =
                            super::tokens::item_too_long(len, at, self.size, self.deflated)
                    {
                        self.error = Some(format!("unreadable from here on: {why}"));
                        break;
                    }
                    if pixel.is_none() {
                        stack.push(Open::Item(Vec::new()));
                    }
                }
                DataToken::ItemValue(data) => {
                    if let Some((_, fragments, bytes)) = pixel.as_mut() {
                        *fragments += 1;
                        *bytes += data.len() as u64;
                    }
                }
                DataToken::OffsetTable(table) => {
                    if let Some((n, _, _)) = pixel.as_mut() {
                        n.value = format!("offset table of {} entries; ", table.len());
                    }
                }
                DataToken::ItemEnd => {
                    if pixel.is_none()
                        && let Some(Open::Item(item)) = stack.pop()
                    {
                        match stack.last_mut() {
                            Some(Open::Seq(seq)) => seq.items.push(item),
                            // An item outside a sequence: keep what it held.
                            _ => top.extend(item),
                        }
                    }
                }
                DataToken::SequenceEnd => {
                    if let Some((mut n, fragments, bytes)) = pixel.take() {
                        n.value = format!(
                            "encapsulated: {}{fragments} fragments, {bytes} bytes",
                            n.value
                        );
                        push(&mut stack, top, n);
                    } else if let Some(Open::Seq(seq)) = stack.pop() {
                        push(&mut stack, top, seq);
                    }
                }
            }
        }
        // Whatever was open when reading stopped is kept as far as it went.
        while let Some(open) = stack.pop() {
            match open {
                Open::Seq(seq) => push(&mut stack, top, seq),
                Open::Item(item) => match stack.last_mut() {
                    Some(Open::Seq(seq)) => seq.items.push(item),
                    _ => top.extend(item),
                },
            }
        }
        resume
    }

    fn show(&self, vr: VR, bytes: &[u8]) -> String {
        let big = self.big;
        let numbers = |size: usize, f: &dyn Fn(&[u8]) -> String| -> String {
            let n = bytes.len() / size;
            let mut parts: Vec<String> =
                bytes.chunks_exact(size).take(MAX_NUMBERS).map(f).collect();
            if n > MAX_NUMBERS {
                parts.push(format!("… ({n} values)"));
            }
            parts.join(" \\ ")
        };
        macro_rules! num {
            ($t:ty, $n:expr) => {
                numbers($n, &|c: &[u8]| {
                    let a: [u8; $n] = c.try_into().unwrap_or([0; $n]);
                    let v = if big {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    };
                    v.to_string()
                })
            };
        }
        match vr {
            VR::US => num!(u16, 2),
            VR::SS => num!(i16, 2),
            VR::UL => num!(u32, 4),
            VR::SL => num!(i32, 4),
            VR::UV => num!(u64, 8),
            VR::SV => num!(i64, 8),
            VR::FL => num!(f32, 4),
            VR::FD => num!(f64, 8),
            VR::AT => numbers(4, &|c: &[u8]| {
                let w = |i: usize| {
                    let a = [c[i], c[i + 1]];
                    if big {
                        u16::from_be_bytes(a)
                    } else {
                        u16::from_le_bytes(a)
                    }
                };
                format!("({:04X},{:04X})", w(0), w(2))
            }),
            VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN => {
                let head: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
                let more = if bytes.len() > 16 { " …" } else { "" };
                format!("({} bytes) {}{more}", bytes.len(), head.join(" "))
            }
            _ => {
                let (text, _) = self.charset.decode(bytes);
                let text = text.trim_end_matches(['\0', ' ']).trim_start_matches(' ');
                if text.chars().count() > MAX_TEXT {
                    let cut: String = text.chars().take(MAX_TEXT).collect();
                    format!("{cut}… ({} characters)", text.chars().count())
                } else {
                    text.to_string()
                }
            }
        }
    }
}

fn push(stack: &mut [Open], top: &mut Vec<Node>, n: Node) {
    match stack.last_mut() {
        Some(Open::Item(item)) => item.push(n),
        _ => top.push(n),
    }
}

fn node(tag: Tag, vr: VR, length: Option<u64>, value: String) -> Node {
    Node {
        tag,
        vr,
        keyword: keyword(tag),
        value,
        length,
        items: Vec::new(),
    }
}

fn keyword(tag: Tag) -> String {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias().to_string())
        .unwrap_or_else(|| format!("({:04X},{:04X})", tag.group(), tag.element()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/pydicom")
            .join(name)
    }

    fn find<'a>(nodes: &'a [Node], keyword: &str) -> Option<&'a Node> {
        nodes.iter().find(|n| n.keyword == keyword)
    }

    #[test]
    fn lists_meta_data_set_and_pixel_data_by_size() {
        let d = dump_file(&file("test_files/CT_small.dcm"));
        assert_eq!(d.error, None);
        assert_eq!(
            find(&d.meta, "TransferSyntaxUID").map(|n| n.value.as_str()),
            Some("1.2.840.10008.1.2.1")
        );
        assert!(d.meta.iter().all(|n| n.tag.group() == 2));
        assert_eq!(
            find(&d.dataset, "PatientName").map(|n| n.value.as_str()),
            Some("CompressedSamples^CT1")
        );
        assert_eq!(
            find(&d.dataset, "Rows").map(|n| n.value.as_str()),
            Some("128")
        );
        let px = find(&d.dataset, "PixelData").unwrap();
        assert_eq!(px.value, "(32768 bytes, not shown)");
        // Reading goes on after the pixel data: this file has padding after it.
        assert_eq!(
            d.dataset.last().map(|n| n.tag),
            Some(tags::DATA_SET_TRAILING_PADDING)
        );
    }

    #[test]
    fn sequences_hold_their_items() {
        let d = dump_file(&file("test_files/rtplan.dcm"));
        assert_eq!(d.error, None);
        let beams = find(&d.dataset, "BeamSequence").expect("BeamSequence");
        assert!(!beams.items.is_empty());
        assert!(beams.items[0].iter().any(|n| n.keyword == "BeamName"));
        assert!(beams.matches_deep("beamname"));
        assert!(!beams.matches("beamname"));
    }

    #[test]
    fn text_is_decoded_by_the_character_set() {
        let d = dump_file(&file("charset_files/chrRuss.dcm"));
        let name = find(&d.dataset, "PatientName").unwrap();
        assert_eq!(name.value, "Люкceмбypг");
    }

    #[test]
    fn encapsulated_pixel_data_is_summed_up() {
        let d = dump_file(&file("test_files/JPEG2000.dcm"));
        let px = find(&d.dataset, "PixelData").unwrap();
        assert!(px.value.starts_with("encapsulated:"), "{}", px.value);
        assert!(px.value.contains("1 fragments"), "{}", px.value);
    }

    #[test]
    fn a_cut_file_lists_what_it_holds_and_says_where_it_ends() {
        let bytes = std::fs::read(file("test_files/CT_small.dcm")).unwrap();
        let cut = bytes[..bytes.len() - 5000].to_vec();
        let size = cut.len() as u64;
        let d = dump(&mut std::io::Cursor::new(cut), size);
        assert!(find(&d.dataset, "PatientName").is_some());
        let px = find(&d.dataset, "PixelData").unwrap();
        assert!(px.value.contains("truncated"), "{}", px.value);
        assert!(
            d.error.as_deref().unwrap_or("").contains("cut short"),
            "{:?}",
            d.error
        );
    }

    #[test]
    fn a_non_dicom_file_says_so() {
        let d = dump(&mut std::io::Cursor::new(b"hello".to_vec()), 5);
        assert!(d.error.is_some());
        assert!(d.dataset.is_empty());
    }
}
