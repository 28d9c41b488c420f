//! Which fragments of encapsulated pixel data make up each frame, by the rules every
//! encapsulated syntax shares, in order of trust: the Extended Offset Table, then the Basic
//! Offset Table (each only when it is consistent with the fragments), one frame holding them
//! all, one fragment per frame, and otherwise where codestreams end (JPEG and JPEG-LS EOI,
//! JPEG 2000 EOC: FFD9, perhaps followed by a padding byte) or start (FFD8, FF4F). A frame may
//! legally span several fragments; RLE may not.

use std::io::{Read, Seek, SeekFrom};

use super::info::ImageInfo;

const RLE: &str = "1.2.840.10008.1.2.5";

/// A fragment: where its value starts in the file, and its length.
pub type Fragment = (u64, u32);

/// The pixel data's tables and fragments, as the file lists them.
pub struct Encapsulated<'a> {
    pub offset_table: &'a [u32],
    pub fragments: &'a [Fragment],
    pub extended: Option<&'a (Vec<u64>, Vec<u64>)>,
}

fn read<R: Read + Seek>(src: &mut R, at: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    src.seek(SeekFrom::Start(at))
        .and_then(|_| src.read_exact(&mut buf))
        .map_err(|e| format!("cannot read a pixel data fragment: {e}"))?;
    Ok(buf)
}

/// Offsets of each fragment's item from the first one's (what offset tables count in).
fn relative(fragments: &[Fragment]) -> Vec<u64> {
    let base = fragments[0].0;
    fragments.iter().map(|(at, _)| at - base).collect()
}

/// The fragments from each table entry up to the next: None unless the table has an entry per
/// frame, starts at the first fragment, rises, and lands on fragments only.
fn by_table(table: &[u64], rel: &[u64], frames: usize) -> Option<Vec<std::ops::Range<usize>>> {
    if table.len() != frames || table.first() != Some(&0) {
        return None;
    }
    let mut starts = Vec::with_capacity(frames);
    for (i, t) in table.iter().enumerate() {
        if i > 0 && *t < table[i - 1] {
            return None;
        }
        starts.push(rel.binary_search(t).ok()?);
    }
    Some(
        (0..frames)
            .map(|f| starts[f]..starts.get(f + 1).copied().unwrap_or(rel.len()))
            .collect(),
    )
}

/// The fragments of `frame`, with the length to keep of the last (an Extended Offset Table
/// may say a frame is shorter than its fragment, which then holds padding).
pub fn frame_fragments<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    pixel: &Encapsulated<'_>,
) -> Result<Vec<Fragment>, String> {
    let fragments = pixel.fragments;
    if fragments.is_empty() {
        return Err("no pixel data fragments".into());
    }
    let frames = info.frames.max(1) as usize;
    let f = frame as usize;
    let rel = relative(fragments);
    if let Some((offsets, lengths)) = pixel.extended
        && let Some(ranges) = by_table(offsets, &rel, frames)
    {
        let mut chosen = fragments[ranges[f].clone()].to_vec();
        if let (1, Some(&len)) = (chosen.len(), lengths.get(f))
            && len <= u64::from(chosen[0].1)
        {
            chosen[0].1 = len as u32;
        }
        return nonempty(chosen, frame);
    }
    let bot: Vec<u64> = pixel.offset_table.iter().map(|&o| u64::from(o)).collect();
    if let Some(ranges) = by_table(&bot, &rel, frames) {
        return nonempty(fragments[ranges[f].clone()].to_vec(), frame);
    }
    if frames == 1 {
        return Ok(fragments.to_vec());
    }
    if fragments.len() == frames {
        return Ok(vec![fragments[f]]);
    }
    if fragments.len() < frames || info.transfer_syntax == RLE {
        return Err(format!(
            "{} fragments for {frames} frames and no usable offset table",
            fragments.len()
        ));
    }
    // Where codestreams end: FFD9 at a fragment's end, perhaps with one padding byte.
    let mut ends = Vec::new();
    for (i, (at, len)) in fragments.iter().enumerate() {
        let n = (*len).min(3) as usize;
        let tail = read(src, at + u64::from(*len) - n as u64, n)?;
        let end = tail.ends_with(&[0xFF, 0xD9]) || tail.ends_with(&[0xFF, 0xD9, 0x00]);
        if end {
            ends.push(i);
        }
    }
    if ends.len() == frames {
        let first = if f == 0 { 0 } else { ends[f - 1] + 1 };
        return nonempty(fragments[first..=ends[f]].to_vec(), frame);
    }
    // Where codestreams start: JPEG and JPEG-LS SOI, JPEG 2000 SOC.
    let mut starts = Vec::new();
    for (i, (at, len)) in fragments.iter().enumerate() {
        let head = read(src, *at, (*len).min(2) as usize)?;
        if head == [0xFF, 0xD8] || head == [0xFF, 0x4F] {
            starts.push(i);
        }
    }
    if starts.len() == frames && starts.first() == Some(&0) {
        let end = starts.get(f + 1).copied().unwrap_or(fragments.len());
        return nonempty(fragments[starts[f]..end].to_vec(), frame);
    }
    Err(format!(
        "cannot tell where frame {} starts: {} fragments, {} codestream ends, no usable offset table",
        frame + 1,
        fragments.len(),
        ends.len()
    ))
}

fn nonempty(chosen: Vec<Fragment>, frame: u32) -> Result<Vec<Fragment>, String> {
    if chosen.is_empty() {
        Err(format!("no fragments for frame {}", frame + 1))
    } else {
        Ok(chosen)
    }
}

/// The encoded bytes of one frame: its fragments, joined.
pub fn frame_bytes<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    pixel: &Encapsulated<'_>,
) -> Result<Vec<u8>, String> {
    let chosen = frame_fragments(src, info, frame, pixel)?;
    let total: u64 = chosen.iter().map(|(_, len)| u64::from(*len)).sum();
    let mut out = Vec::with_capacity(total.min(1 << 30) as usize);
    for (at, len) in chosen {
        out.extend(read(src, at, len as usize)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file image of fragments (each preceded by an 8-byte item header) and their list.
    fn file(parts: &[&[u8]]) -> (std::io::Cursor<Vec<u8>>, Vec<Fragment>) {
        let mut bytes = Vec::new();
        let mut list = Vec::new();
        for p in parts {
            bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            bytes.extend_from_slice(&(p.len() as u32).to_le_bytes());
            list.push((bytes.len() as u64, p.len() as u32));
            bytes.extend_from_slice(p);
        }
        (std::io::Cursor::new(bytes), list)
    }

    fn info(frames: u32) -> ImageInfo {
        ImageInfo {
            frames,
            transfer_syntax: "1.2.840.10008.1.2.4.80".into(),
            ..ImageInfo::default()
        }
    }

    #[test]
    fn frames_span_fragments_by_tables_or_by_codestream_ends() {
        // Two frames, each split over two fragments; the first frame's end is padded.
        let parts: [&[u8]; 4] = [
            &[0xFF, 0xD8, 1, 2],
            &[3, 0xFF, 0xD9, 0],
            &[0xFF, 0xD8, 5, 6],
            &[7, 8, 0xFF, 0xD9],
        ];
        let (mut src, frags) = file(&parts);
        let none = Encapsulated {
            offset_table: &[],
            fragments: &frags,
            extended: None,
        };
        let second = frame_bytes(&mut src, &info(2), 1, &none).unwrap();
        assert_eq!(second, [0xFF, 0xD8, 5, 6, 7, 8, 0xFF, 0xD9]);
        // One frame: everything, in order.
        let all = frame_bytes(&mut src, &info(1), 0, &none).unwrap();
        assert_eq!(all.len(), 16);
        // A Basic Offset Table that lands on fragments is followed.
        let table = [0u32, 24];
        let bot = Encapsulated {
            offset_table: &table,
            ..none
        };
        let first = frame_bytes(&mut src, &info(2), 0, &bot).unwrap();
        assert_eq!(first, [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9, 0]);
        // One that does not is ignored (the codestream ends decide).
        let wrong = [0u32, 7];
        let bad = Encapsulated {
            offset_table: &wrong,
            ..none
        };
        assert_eq!(frame_bytes(&mut src, &info(2), 1, &bad).unwrap(), second);
        // The Extended Offset Table, with a length trimming the padding.
        let ext = (vec![0u64, 24], vec![8u64, 8]);
        let eot = Encapsulated {
            extended: Some(&ext),
            ..none
        };
        assert_eq!(frame_bytes(&mut src, &info(2), 1, &eot).unwrap(), second);
        // Three frames cannot be told apart in four fragments with two ends.
        assert!(frame_bytes(&mut src, &info(3), 2, &none).is_err());
    }
}
