//! Decoding a client's request body from the bytes that follow its head (RFC 9112 §6-7).
//!
//! Socket-free: the driver appends what it reads to a buffer and calls [`BodyDecoder::decode`],
//! which takes whole data pieces off the front as `Bytes` (no copy) and says when the body ends.
//! Chunk extensions are ignored and trailers are read and dropped, both within limits, so a client
//! cannot make the proxy buffer without bound by never ending a line.

use bytes::{Buf, Bytes, BytesMut};

use super::request::BodyFraming;

/// Longest chunk-size line, extensions included.
pub const MAX_CHUNK_LINE: usize = 1024;
/// Most trailer bytes accepted (they are dropped).
pub const MAX_TRAILERS: usize = 8192;

/// What one call to [`BodyDecoder::decode`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A piece of body data.
    Data(Bytes),
    /// The buffer holds no complete piece yet: read more.
    NeedMore,
    /// The body is complete; bytes left in the buffer belong to the next request.
    Done,
}

/// Why a request body was rejected (the client gets 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A chunk-size line is not hexadecimal.
    #[error("invalid chunk size")]
    BadChunkSize,
    /// A chunk-size line is longer than [`MAX_CHUNK_LINE`].
    #[error("chunk size line too long")]
    ChunkLineTooLong,
    /// Chunk data is not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    BadChunkEnd,
    /// Trailers longer than [`MAX_TRAILERS`].
    #[error("trailers too large")]
    TrailersTooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers(usize),
    Done,
}

/// Decodes one request body.
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    state: State,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`.
    pub fn new(framing: BodyFraming) -> Self {
        let state = match framing {
            // `Length(0)` is not what the head parsers produce, but it is no body all the same:
            // as a length it waited for a byte, then gave an empty piece (found by fuzzing).
            BodyFraming::Empty | BodyFraming::Length(0) => State::Done,
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::ChunkSize,
        };
        BodyDecoder { state }
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the next piece of body off the front of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, BodyError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Length(remaining) | State::ChunkData(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = remaining - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), n) => State::Length(n),
                        (_, 0) => State::ChunkEnd,
                        (_, n) => State::ChunkData(n),
                    };
                    return Ok(Decoded::Data(data));
                }
                State::ChunkSize => {
                    let Some(line) =
                        take_line(buf, MAX_CHUNK_LINE).map_err(|_| BodyError::ChunkLineTooLong)?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = parse_chunk_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if buf.get(..2) != Some(b"\r\n") {
                        return Err(BodyError::BadChunkEnd);
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailers(seen) => {
                    let room = MAX_TRAILERS.saturating_sub(seen);
                    let Some(line) =
                        take_line(buf, room).map_err(|_| BodyError::TrailersTooLarge)?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        State::Trailers(seen + line.len() + 2)
                    };
                }
            }
        }
    }
}

/// Takes a CRLF-terminated line (without the CRLF) off `buf`; `Ok(None)` if not complete yet,
/// `Err(())` if no line end appears within `max` bytes.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, ()> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= max => {
            let line = buf.split_to(end);
            buf.advance(2);
            Ok(Some(line))
        }
        Some(_) => Err(()),
        None if buf.len() > max + 1 => Err(()),
        None => Ok(None),
    }
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    let size = size.strip_suffix(b" ").unwrap_or(size);
    if size.is_empty() || size.len() > 15 {
        return Err(BodyError::BadChunkSize);
    }
    size.iter().try_fold(0u64, |n, &d| {
        let digit = (d as char).to_digit(16).ok_or(BodyError::BadChunkSize)?;
        Ok(n * 16 + u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: BodyFraming, input: &[u8]) -> Result<(Vec<u8>, usize), BodyError> {
        let mut d = BodyDecoder::new(framing);
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        loop {
            match d.decode(&mut buf)? {
                Decoded::Data(b) => body.extend_from_slice(&b),
                Decoded::Done => return Ok((body, buf.len())),
                Decoded::NeedMore => panic!("incomplete"),
            }
        }
    }

    #[test]
    fn content_length() {
        assert_eq!(
            decode_all(BodyFraming::Length(5), b"helloGET").unwrap(),
            (b"hello".to_vec(), 3)
        );
    }

    #[test]
    fn zero_length_is_no_body() {
        let d = BodyDecoder::new(BodyFraming::Length(0));
        assert!(d.is_done());
        assert_eq!(
            decode_all(BodyFraming::Length(0), b"GET").unwrap(),
            (Vec::new(), 3)
        );
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nnext";
        assert_eq!(
            decode_all(BodyFraming::Chunked, input).unwrap(),
            (b"hello world".to_vec(), 4)
        );
    }

    #[test]
    fn chunked_byte_by_byte() {
        let input = b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let mut d = BodyDecoder::new(BodyFraming::Chunked);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Decoded::Data(data) = d.decode(&mut buf).unwrap() {
                body.extend_from_slice(&data);
            }
        }
        assert!(d.is_done());
        assert_eq!(body, b"abc0123456789");
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_all(BodyFraming::Chunked, b"xyz\r\n"),
            Err(BodyError::BadChunkSize)
        );
        assert_eq!(
            decode_all(BodyFraming::Chunked, b"3\r\nabcXX"),
            Err(BodyError::BadChunkEnd)
        );
        assert_eq!(
            decode_all(BodyFraming::Chunked, b"ffffffffffffffff\r\n"),
            Err(BodyError::BadChunkSize)
        );
        let long = [b'1'; MAX_CHUNK_LINE + 10];
        assert_eq!(
            decode_all(BodyFraming::Chunked, &long),
            Err(BodyError::ChunkLineTooLong)
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b"X: yyyyyyyy\r\n".to_vec(), 1000).flatten());
        assert_eq!(
            decode_all(BodyFraming::Chunked, &trailers),
            Err(BodyError::TrailersTooLarge)
        );
    }
}
