//! The fork server's messages: one `SOCK_SEQPACKET` datagram each way per
//! request, a tag byte and a little-endian `i32`, or a message; fds travel
//! as `SCM_RIGHTS`.
//!
//! | request | fds | reply | fds |
//! |---|---|---|---|
//! | `S` start | hold gate's read end, console's write end | `P` pid, or `E` why | report's read end |
//! | `W` wait for pid | | `X` raw wait status, or `E` why | |
//!
//! On start the server sends `R` (ready) or `E` (why it cannot serve).
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Longest message (an error text is cut to fit).
pub const MAX_MESSAGE: usize = 4096;

/// Most fds one message carries.
pub const MAX_FDS: usize = 2;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Server ready.
    Ready,
    /// Start one VM (with the hold gate and the console fds).
    Start,
    /// Started: the VMM's pid (with its report fd).
    Pid(i32),
    /// Reap the VMM with this pid.
    Wait(i32),
    /// Reaped: its raw wait status.
    Status(i32),
    /// The request failed, with why.
    Failed(String),
}

impl Message {
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let num = |tag: u8, n: i32| {
            let mut v = vec![tag];
            v.extend_from_slice(&n.to_le_bytes());
            v
        };
        match self {
            Message::Ready => vec![b'R'],
            Message::Start => vec![b'S'],
            Message::Pid(p) => num(b'P', *p),
            Message::Wait(p) => num(b'W', *p),
            Message::Status(s) => num(b'X', *s),
            Message::Failed(why) => {
                let mut v = vec![b'E'];
                let mut end = why.len().min(MAX_MESSAGE - 1);
                while !why.is_char_boundary(end) {
                    end -= 1;
                }
                v.extend_from_slice(&why.as_bytes()[..end]);
                v
            }
        }
    }

    /// A message from its bytes.
    pub fn decode(b: &[u8]) -> Option<Message> {
        let num = || Some(i32::from_le_bytes(b.get(1..5)?.try_into().ok()?));
        let fixed = |len: usize, m: Message| (b.len() == len).then_some(m);
        match *b.first()? {
            b'R' => fixed(1, Message::Ready),
            b'S' => fixed(1, Message::Start),
            b'P' => fixed(5, Message::Pid(num()?)),
            b'W' => fixed(5, Message::Wait(num()?)),
            b'X' => fixed(5, Message::Status(num()?)),
            b'E' => Some(Message::Failed(
                String::from_utf8_lossy(&b[1..]).into_owned(),
            )),
            _ => None,
        }
    }
}

/// Sends `m` with `fds` on `sock`.
pub fn send(sock: &OwnedFd, m: &Message, fds: &[RawFd]) -> nix::Result<()> {
    let bytes = m.encode();
    let iov = [IoSlice::new(&bytes)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None) {
            Err(nix::Error::EINTR) => continue,
            other => return other.map(|_| ()),
        }
    }
}

/// What [`recv`] got.
pub enum Received {
    /// A message (`None`: one that does not decode) and its fds.
    Message(Option<Message>, Vec<OwnedFd>),
    /// The other end closed.
    Closed,
}

/// Receives one message and its fds (close-on-exec) from `sock`; `EINTR`
/// is returned to the caller (a signal to look at).
pub fn recv(sock: &OwnedFd) -> nix::Result<Received> {
    let mut buf = [0u8; MAX_MESSAGE];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel installed these fds in this process for
            // this message; nothing else owns them.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let n = msg.bytes;
    if n == 0 && fds.is_empty() {
        return Ok(Received::Closed);
    }
    Ok(Received::Message(Message::decode(&buf[..n]), fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        for m in [
            Message::Ready,
            Message::Start,
            Message::Pid(42),
            Message::Wait(-1),
            Message::Status(0x0b7f),
            Message::Failed("no".into()),
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode(b""), None);
        assert_eq!(Message::decode(b"P12"), None, "short");
        assert_eq!(Message::decode(b"Q"), None, "unknown tag");
    }

    #[test]
    fn a_long_failure_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_MESSAGE);
        let b = Message::Failed(long).encode();
        assert!(b.len() <= MAX_MESSAGE);
        assert!(std::str::from_utf8(&b[1..]).is_ok());
    }

    #[test]
    fn fds_travel_with_a_message_and_a_closed_end_is_seen() {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send(&a, &Message::Start, &[r.as_raw_fd(), w.as_raw_fd()]).unwrap();
        let Received::Message(m, fds) = recv(&b).unwrap() else {
            panic!("closed")
        };
        assert_eq!((m, fds.len()), (Some(Message::Start), 2));
        nix::unistd::write(&fds[1], b"x").unwrap();
        let mut got = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut got).unwrap(), 1);
        drop(a);
        assert!(matches!(recv(&b).unwrap(), Received::Closed));
    }
}
