//! A raw-value token reader over a file from a given offset, knowing its file position: what
//! both the header walk and the copy comparison read data sets with.
//!
//! Raw values leave text decoding to qcdesk (`charset`), which knows every value of Specific
//! Character Set and ISO 2022 code extensions; the position lets callers refuse element
//! lengths the file cannot hold before dicom-rs allocates them.

use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;

use dicom_encoding::TransferSyntax;
use dicom_encoding::transfer_syntax::Codec;
use dicom_parser::DynStatefulDecoder;
use dicom_parser::dataset::DataSetReader;
use dicom_parser::dataset::read::{DataSetReaderOptions, ValueReadStrategy};

/// Counts the bytes read through it, so its owner knows the file position while dicom-rs's
/// reader holds the source.
struct Counting<R> {
    inner: R,
    pos: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

/// Tokens of a data set, and the file position of the bytes read so far (in a deflated data
/// set it counts compressed bytes), and the position in the data set itself (inflated bytes,
/// from 0 at the data set's start).
pub(crate) struct RawTokens<'a> {
    pub tokens: DataSetReader<DynStatefulDecoder<Box<dyn Read + 'a>>>,
    pub pos: Rc<Cell<u64>>,
    pub data_pos: Rc<Cell<u64>>,
}

/// Starts reading the data set of `src` at `start` in transfer syntax `ts`.
pub(crate) fn raw_tokens<'a, R: Read + Seek>(
    src: &'a mut R,
    ts: &TransferSyntax,
    start: u64,
) -> Result<RawTokens<'a>, String> {
    src.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot seek to the data set: {e}"))?;
    let options = DataSetReaderOptions::default().value_read(ValueReadStrategy::Raw);
    tokens_with(src, ts, start, options)
}

/// Tokens of the data set that `src` is positioned at (`start` is that position, for the
/// count), read with `options`.
pub(crate) fn tokens_with<'a, R: Read + 'a>(
    src: R,
    ts: &TransferSyntax,
    start: u64,
    options: DataSetReaderOptions,
) -> Result<RawTokens<'a>, String> {
    let pos = Rc::new(Cell::new(start));
    let base: Box<dyn Read + 'a> = Box::new(Counting {
        inner: src,
        pos: Rc::clone(&pos),
    });
    let reader: Box<dyn Read + 'a> = match ts.codec() {
        Codec::Dataset(Some(adapter)) => adapter.adapt_reader(base),
        Codec::Dataset(None) => {
            return Err(format!("transfer syntax {} is not supported", ts.uid()));
        }
        _ => base,
    };
    let data_pos = Rc::new(Cell::new(0));
    let reader: Box<dyn Read + 'a> = Box::new(Counting {
        inner: reader,
        pos: Rc::clone(&data_pos),
    });
    let tokens = DataSetReader::new_with_ts_cs_options(reader, ts, Default::default(), options)
        .map_err(|e| format!("cannot read the data set: {e}"))?;
    Ok(RawTokens {
        tokens,
        pos,
        data_pos,
    })
}

/// The longest item accepted where its bytes cannot be checked against the file (a deflated
/// data set): dicom-rs zero-fills a pixel sequence's first item (its offset table) at the
/// declared length before reading it.
pub(crate) const MAX_ITEM_UNCHECKED: u64 = 64 << 20;

/// Why an item declaring `len` bytes at file position `at` (of `size`) must not be read, if
/// it must not: past the end of the file, or (deflated) past any sane size.
pub(crate) fn item_too_long(
    len: dicom_core::Length,
    at: u64,
    size: u64,
    deflated: bool,
) -> Option<String> {
    let len = u64::from(len.get()?);
    if deflated {
        (len > MAX_ITEM_UNCHECKED).then(|| {
            format!("an item declares {len} bytes, more than the {MAX_ITEM_UNCHECKED} allowed")
        })
    } else {
        let remaining = size.saturating_sub(at);
        (len > remaining).then(|| format!("an item declares {len} bytes, only {remaining} remain"))
    }
}
