//! Frame Streams (the framing dnstap rides on, <https://farsightsec.github.io/fstrm/>):
//! a stream of data frames, each a 32-bit big-endian length then that many octets,
//! opened and closed by control frames, each an escape (a zero length), its own length,
//! its type, then fields (`CONTENT_TYPE`, length, value).
//!
//! A file is unidirectional: START, the data frames, STOP. A socket is bidirectional: the
//! writer sends READY with the content types it offers, the reader answers ACCEPT with
//! the ones it takes, then START, the data frames, STOP, and the reader's FINISH.

use std::io::{self, Read};

/// The content type of dnstap's frames.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

/// The field type of a content type in a control frame.
const FIELD_CONTENT_TYPE: u32 = 1;

/// The longest control frame a reader must take (the fstrm library's limit).
const MAX_CONTROL: usize = 512;

/// A control frame's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// The reader takes a content type offered (bidirectional only).
    Accept = 1,
    /// The stream of data frames begins.
    Start = 2,
    /// The stream ends.
    Stop = 3,
    /// The writer offers content types (bidirectional only).
    Ready = 4,
    /// The reader has read everything up to STOP (bidirectional only).
    Finish = 5,
}

/// A control frame of `kind`, with dnstap's content type when `typed`.
pub fn control(kind: Control, typed: bool) -> Vec<u8> {
    let mut body = (kind as u32).to_be_bytes().to_vec();
    if typed {
        body.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        body.extend_from_slice(&(CONTENT_TYPE.len() as u32).to_be_bytes());
        body.extend_from_slice(CONTENT_TYPE);
    }
    let mut frame = 0u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Appends a data frame holding `payload` (never empty: a zero length is the escape).
pub fn data(payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(!payload.is_empty());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Reads one control frame: its type and its content types.
pub fn read_control(reader: &mut impl Read) -> io::Result<(u32, Vec<Vec<u8>>)> {
    let mut word = [0u8; 4];
    reader.read_exact(&mut word)?;
    if word != [0; 4] {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "expected a control frame, got a data frame"));
    }
    reader.read_exact(&mut word)?;
    let len = u32::from_be_bytes(word) as usize;
    if !(4..=MAX_CONTROL).contains(&len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("control frame of {len} octets")));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let kind = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let mut fields = Vec::new();
    let mut rest = &body[4..];
    while rest.len() >= 8 {
        let field = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let flen = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let value =
            rest.get(8..8 + flen).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "field past the frame"))?;
        if field == FIELD_CONTENT_TYPE {
            fields.push(value.to_vec());
        }
        rest = &rest[8 + flen..];
    }
    Ok((kind, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_frame_reads_back() {
        let frame = control(Control::Ready, true);
        assert_eq!(&frame[..4], &[0; 4], "the escape");
        assert_eq!(u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize, frame.len() - 8);
        let (kind, types) = read_control(&mut &frame[..]).unwrap();
        assert_eq!((kind, types), (Control::Ready as u32, vec![CONTENT_TYPE.to_vec()]));
        let (kind, types) = read_control(&mut &control(Control::Stop, false)[..]).unwrap();
        assert_eq!((kind, types.len()), (Control::Stop as u32, 0));
    }

    #[test]
    fn a_data_frame_is_its_length_then_its_octets() {
        let mut out = Vec::new();
        data(b"abc", &mut out);
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert!(read_control(&mut &out[..]).is_err(), "not a control frame");
    }
}
