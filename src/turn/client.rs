//! The client side of the TURN messages eagw's server takes, for the fuzz target, the
//! benches and tools: requests signed with a long-term key, ChannelData, Send indications.

use rtc_stun::attributes::*;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::*;
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;

/// Long-term credentials as a client holds them once challenged.
pub struct Auth<'a> {
    pub user: &'a str,
    pub realm: &'a str,
    pub nonce: &'a [u8],
    pub key: &'a [u8],
}

/// What a request carries besides credentials.
#[derive(Default)]
pub struct Req {
    pub transport: bool,
    pub lifetime: Option<u32>,
    pub peer: Option<SocketAddr>,
    pub channel: Option<u16>,
}

/// A request of `method` with transaction ID `txid`.
pub fn request(method: Method, txid: [u8; 12], r: &Req, auth: Option<&Auth>, crypto: &dyn rtc_crypto::RTCCrypto) -> Vec<u8> {
    let mut m = Message::new();
    m.typ = MessageType::new(method, CLASS_REQUEST);
    m.transaction_id = TransactionId(txid);
    m.write_header();
    if r.transport {
        m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
    }
    if let Some(l) = r.lifetime {
        m.add(ATTR_LIFETIME, &l.to_be_bytes());
    }
    if let Some(c) = r.channel {
        m.add(ATTR_CHANNEL_NUMBER, &[(c >> 8) as u8, c as u8, 0, 0]);
    }
    if let Some(p) = r.peer {
        let _ = XorMappedAddress { ip: p.ip(), port: p.port() }.add_to_as(&mut m, ATTR_XOR_PEER_ADDRESS);
    }
    if let Some(a) = auth {
        m.add(ATTR_USERNAME, a.user.as_bytes());
        m.add(ATTR_REALM, a.realm.as_bytes());
        m.add(ATTR_NONCE, a.nonce);
        let _ = MessageIntegrity::new_raw_integrity_with_provider(a.key.to_vec(), crypto).add_to(&mut m);
    }
    m.raw
}

/// A Send indication carrying `data` to `peer`.
pub fn send_indication(peer: SocketAddr, data: &[u8], txid: [u8; 12]) -> Vec<u8> {
    let mut m = Message::new();
    m.typ = MessageType::new(METHOD_SEND, CLASS_INDICATION);
    m.transaction_id = TransactionId(txid);
    m.write_header();
    let _ = XorMappedAddress { ip: peer.ip(), port: peer.port() }.add_to_as(&mut m, ATTR_XOR_PEER_ADDRESS);
    m.add(ATTR_DATA, data);
    m.raw
}

/// ChannelData on `channel`, padded to 4 bytes.
pub fn channel_data(channel: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + data.len() + 3);
    v.extend_from_slice(&channel.to_be_bytes());
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// The error code of a response, None for a success; and its NONCE if any.
pub fn parse_response(raw: &[u8]) -> Option<(Option<u16>, Option<Vec<u8>>)> {
    let mut m = Message { raw: raw.to_vec(), ..Message::default() };
    m.decode().ok()?;
    let mut e = rtc_stun::error_code::ErrorCodeAttribute::default();
    let code = e.get_from(&m).ok().map(|_| e.code.0);
    Some((code, m.get(ATTR_NONCE).ok()))
}
