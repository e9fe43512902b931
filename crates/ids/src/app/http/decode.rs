//! Content-Encoding decoding of HTTP bodies: gzip and deflate (zlib-wrapped or raw, told apart
//! by the first two bytes as libhtp does), up to a number of stacked layers, streaming, with
//! libhtp's decompression-bomb rule: stop once the output passes a byte limit while being more
//! than a ratio larger than the input.
//!
//! Each layer inflates into a fixed 16 KiB window with flate2's streaming `Decompress` (the
//! pure-Rust miniz_oxide backend), so however the body expands, no more than one window per
//! layer is held and the bomb check runs after every window. A layer whose data does not
//! decompress passes the rest of its input through unchanged, as libhtp does, so inspection
//! still sees the bytes.

use flate2::{Decompress, FlushDecompress, Status};

/// An encoding this decoder undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `gzip`, `x-gzip`.
    Gzip,
    /// `deflate`, `x-deflate`: zlib-wrapped or raw deflate.
    Deflate,
}

/// What a Content-Encoding header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encodings {
    /// The codings in the order applied by the sender (the header's order), `identity`
    /// skipped; at most the layer limit.
    codings: [Option<Coding>; 4],
    /// Some coding is neither gzip, deflate nor identity.
    pub unknown: bool,
    /// More codings than the layer limit.
    pub too_many: bool,
}

impl Encodings {
    /// Reads a Content-Encoding value, keeping at most `limit` (≤ 4) layers.
    pub fn parse(value: &[u8], limit: usize) -> Encodings {
        let limit = limit.min(4);
        let mut out = Encodings {
            codings: [None; 4],
            unknown: false,
            too_many: false,
        };
        let mut n = 0;
        for token in value.split(|&c| c == b',') {
            let token = super::uri::trim(token);
            let coding =
                if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
                    Coding::Gzip
                } else if token.eq_ignore_ascii_case(b"deflate")
                    || token.eq_ignore_ascii_case(b"x-deflate")
                {
                    Coding::Deflate
                } else if token.is_empty() || token.eq_ignore_ascii_case(b"identity") {
                    continue;
                } else {
                    out.unknown = true;
                    continue;
                };
            if n == limit {
                out.too_many = true;
                break;
            }
            out.codings[n] = Some(coding);
            n += 1;
        }
        out
    }

    /// Whether there is anything to undo.
    pub fn is_empty(&self) -> bool {
        self.codings[0].is_none()
    }
}

/// Bytes of inflated output per step.
const WINDOW: usize = 16 * 1024;

#[derive(Debug)]
enum GzipHeader {
    /// Reading the fixed 10 bytes; how many seen, and the flags byte.
    Fixed(u8, u8),
    /// The two bytes of FEXTRA's length, then the extra field.
    ExtraLen(u8, u16, u8),
    Extra(u16, u8),
    /// NUL-terminated name, then comment.
    Name(u8),
    Comment(u8),
    /// Header CRC.
    Crc(u8),
    Done,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

impl GzipHeader {
    /// Consumes header bytes from `input`; `None` if this is not a gzip header.
    fn consume(&mut self, input: &[u8]) -> Option<usize> {
        let mut used = 0;
        while used < input.len() {
            let b = input[used];
            *self = match *self {
                GzipHeader::Done => return Some(used),
                GzipHeader::Fixed(seen, flags) => {
                    let ok = match seen {
                        0 => b == 0x1f,
                        1 => b == 0x8b,
                        2 => b == 8,
                        _ => true,
                    };
                    if !ok {
                        return None;
                    }
                    let flags = if seen == 3 { b } else { flags };
                    if seen < 9 {
                        GzipHeader::Fixed(seen + 1, flags)
                    } else {
                        GzipHeader::after_fixed(flags, FEXTRA)
                    }
                }
                GzipHeader::ExtraLen(seen, len, flags) => {
                    let len = len | u16::from(b) << (8 * seen);
                    if seen == 0 {
                        GzipHeader::ExtraLen(1, len, flags)
                    } else if len == 0 {
                        GzipHeader::after_fixed(flags, FNAME)
                    } else {
                        GzipHeader::Extra(len, flags)
                    }
                }
                GzipHeader::Extra(left, flags) => {
                    if left > 1 {
                        GzipHeader::Extra(left - 1, flags)
                    } else {
                        GzipHeader::after_fixed(flags, FNAME)
                    }
                }
                GzipHeader::Name(flags) => {
                    if b == 0 {
                        GzipHeader::after_fixed(flags, FCOMMENT)
                    } else {
                        GzipHeader::Name(flags)
                    }
                }
                GzipHeader::Comment(flags) => {
                    if b == 0 {
                        GzipHeader::after_fixed(flags, FHCRC)
                    } else {
                        GzipHeader::Comment(flags)
                    }
                }
                GzipHeader::Crc(seen) => {
                    if seen == 0 {
                        GzipHeader::Crc(1)
                    } else {
                        GzipHeader::Done
                    }
                }
            };
            used += 1;
        }
        Some(used)
    }

    /// The state after the part of the header that precedes `from` (FEXTRA, FNAME, FCOMMENT,
    /// FHCRC in that order).
    fn after_fixed(flags: u8, from: u8) -> GzipHeader {
        let order = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        let start = order.iter().position(|&f| f == from).unwrap_or(0);
        for &field in &order[start..] {
            if flags & field != 0 {
                return match field {
                    FEXTRA => GzipHeader::ExtraLen(0, 0, flags),
                    FNAME => GzipHeader::Name(flags),
                    FCOMMENT => GzipHeader::Comment(flags),
                    _ => GzipHeader::Crc(0),
                };
            }
        }
        GzipHeader::Done
    }
}

#[derive(Debug)]
struct Layer {
    coding: Coding,
    inflate: Option<Decompress>,
    gzip: GzipHeader,
    /// First byte of a deflate stream, kept until the second tells zlib from raw.
    first: Option<u8>,
    window: Box<[u8]>,
    passthrough: bool,
    finished: bool,
}

impl Layer {
    fn new(coding: Coding) -> Layer {
        Layer {
            coding,
            inflate: None,
            gzip: GzipHeader::Fixed(0, 0),
            first: None,
            window: vec![0; WINDOW].into_boxed_slice(),
            passthrough: false,
            finished: false,
        }
    }

    /// Feeds compressed bytes; passes each window of output to `next`, which returns false to
    /// stop everything.
    fn feed(&mut self, mut input: &[u8], next: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        if self.passthrough {
            return input.is_empty() || next(input);
        }
        if self.finished {
            // Trailer (gzip CRC and size) or bytes after the stream's end: not content.
            return true;
        }
        if self.inflate.is_none() {
            match self.coding {
                Coding::Gzip => match self.gzip.consume(input) {
                    Some(used) => {
                        input = &input[used..];
                        if !matches!(self.gzip, GzipHeader::Done) {
                            return true;
                        }
                        self.inflate = Some(Decompress::new(false));
                    }
                    None => {
                        self.passthrough = true;
                        return input.is_empty() || next(input);
                    }
                },
                Coding::Deflate => {
                    let Some(&b1) = input.first() else {
                        return true;
                    };
                    let Some(b0) = self.first else {
                        self.first = Some(b1);
                        input = &input[1..];
                        if input.is_empty() {
                            return true;
                        }
                        return self.feed(input, next);
                    };
                    let zlib = b0 & 0x0f == 8
                        && b0 >> 4 <= 7
                        && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
                    self.inflate = Some(Decompress::new(zlib));
                    if !self.inflate_bytes(&[b0], next) {
                        return false;
                    }
                }
            }
        }
        self.inflate_bytes(input, next)
    }

    fn inflate_bytes(&mut self, mut input: &[u8], next: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let Some(inflate) = self.inflate.as_mut() else {
            return true;
        };
        loop {
            if self.finished {
                return true;
            }
            let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
            let status = inflate.decompress(input, &mut self.window, FlushDecompress::None);
            let used = (inflate.total_in() - in_before) as usize;
            let made = (inflate.total_out() - out_before) as usize;
            input = &input[used.min(input.len())..];
            match status {
                Ok(status) => {
                    if made > 0 && !next(&self.window[..made]) {
                        return false;
                    }
                    if status == Status::StreamEnd {
                        self.finished = true;
                        return true;
                    }
                    // Done when the input is used up and the window was not filled (nothing
                    // more is pending inside the inflater).
                    if (input.is_empty() && made < self.window.len()) || (used == 0 && made == 0) {
                        return true;
                    }
                }
                Err(_) => {
                    self.passthrough = true;
                    return input.is_empty() || next(input);
                }
            }
        }
    }
}

/// Why decoding stopped or degraded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStatus {
    /// A layer could not decompress and passes its input through.
    pub failed: bool,
    /// The bomb limit stopped decoding: nothing more comes out.
    pub bomb: bool,
}

/// Decoder of one body's content codings.
#[derive(Debug)]
pub struct ContentDecoder {
    /// In decoding order: the last coding applied first.
    layers: Vec<Layer>,
    input: u64,
    output: u64,
    bomb_limit: u64,
    bomb_ratio: u64,
    status: DecodeStatus,
}

impl ContentDecoder {
    /// A decoder for `encodings`, or `None` when there is nothing to decode. Decoding stops
    /// once the output exceeds `bomb_limit` bytes and `bomb_ratio` times the input.
    pub fn new(encodings: &Encodings, bomb_limit: u64, bomb_ratio: u64) -> Option<ContentDecoder> {
        let layers: Vec<Layer> = encodings
            .codings
            .iter()
            .rev()
            .flatten()
            .map(|&c| Layer::new(c))
            .collect();
        (!layers.is_empty()).then_some(ContentDecoder {
            layers,
            input: 0,
            output: 0,
            bomb_limit,
            bomb_ratio,
            status: DecodeStatus::default(),
        })
    }

    /// Decodes the next bytes of the body, passing decoded bytes to `sink`.
    pub fn decode(&mut self, data: &[u8], sink: &mut dyn FnMut(&[u8])) -> DecodeStatus {
        if self.status.bomb || data.is_empty() {
            return self.status;
        }
        self.input += data.len() as u64;
        let (input, limit, ratio) = (self.input, self.bomb_limit, self.bomb_ratio);
        let output = &mut self.output;
        let mut bomb = false;
        let mut deliver = |bytes: &[u8]| {
            *output += bytes.len() as u64;
            if *output > limit && *output > input.saturating_mul(ratio) {
                bomb = true;
                return false;
            }
            sink(bytes);
            true
        };
        push(&mut self.layers, data, &mut deliver);
        self.status.bomb |= bomb;
        self.status.failed |= self.layers.iter().any(|l| l.passthrough);
        self.status
    }

    /// Decoded bytes produced so far.
    pub fn output_len(&self) -> u64 {
        self.output
    }
}

/// Feeds `data` to the first layer, its output to the next, and the last layer's to `sink`.
fn push(layers: &mut [Layer], data: &[u8], sink: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    match layers.split_first_mut() {
        None => sink(data),
        Some((first, rest)) => first.feed(data, &mut |out| push(rest, out, sink)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode_in_pieces(encoding: &str, body: &[u8], piece: usize) -> (Vec<u8>, DecodeStatus) {
        let enc = Encodings::parse(encoding.as_bytes(), 2);
        let mut d = ContentDecoder::new(&enc, 1 << 20, 2048).expect("codings");
        let mut out = Vec::new();
        let mut status = DecodeStatus::default();
        for chunk in body.chunks(piece.max(1)) {
            status = d.decode(chunk, &mut |b| out.extend_from_slice(b));
        }
        (out, status)
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_in_any_pieces() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| i.to_string().into_bytes())
            .collect();
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&text).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = DeflateEncoder::new(Vec::new(), Compression::default());
        r.write_all(&text).unwrap();
        let raw = r.finish().unwrap();
        for piece in [1, 2, 7, 100, 100_000] {
            assert_eq!(
                decode_in_pieces("gzip", &gzip(&text), piece).0,
                text,
                "gzip/{piece}"
            );
            assert_eq!(
                decode_in_pieces("deflate", &zlib, piece).0,
                text,
                "zlib/{piece}"
            );
            assert_eq!(
                decode_in_pieces("x-deflate", &raw, piece).0,
                text,
                "raw/{piece}"
            );
        }
    }

    #[test]
    fn gzip_header_fields_are_skipped() {
        let body = b"payload";
        let mut e = flate2::GzBuilder::new()
            .filename("a.txt")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), Compression::fast());
        e.write_all(body).unwrap();
        let data = e.finish().unwrap();
        assert_eq!(decode_in_pieces("gzip", &data, 1).0, body);
    }

    #[test]
    fn two_layers_undo_in_reverse_order() {
        let text = b"layered body ".repeat(50);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&gzip(&text)).unwrap();
        let both = z.finish().unwrap();
        assert_eq!(decode_in_pieces("gzip, deflate", &both, 3).0, text);
        let enc = Encodings::parse(b"gzip, br, deflate, gzip", 2);
        assert!(enc.unknown && enc.too_many);
    }

    #[test]
    fn garbage_passes_through() {
        let (out, status) = decode_in_pieces("gzip", b"not gzip at all", 4);
        assert_eq!(out, b"not gzip at all");
        assert!(status.failed);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let once = gzip(&zeros);
        let twice = gzip(&once);
        let enc = Encodings::parse(b"gzip, gzip", 2);
        let mut d = ContentDecoder::new(&enc, 1 << 20, 2048).unwrap();
        let mut total = 0u64;
        let status = d.decode(&twice, &mut |b| total += b.len() as u64);
        assert!(
            status.bomb,
            "{} compressed bytes inflated to {total}",
            twice.len()
        );
        assert!(total <= (1 << 20) + WINDOW as u64);
    }
}
