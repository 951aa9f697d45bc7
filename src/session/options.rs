//! The typed options of an ng command, as the session model needs them. The control
//! plane fills this from the bencode/JSON dictionary, the `flags` list and `rtpp-flags`
//! (see `control::flags`).

use crate::config::Learning;
use crate::sdp::Family;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IceMode {
    /// rtpengine's default: ICE towards the receiver if the sender's SDP had ICE.
    #[default]
    Default,
    Remove,
    Force,
    ForceRelay,
    Optional,
}

/// The `DTLS` key: the `a=setup` eagw takes towards a DTLS-SRTP party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DtlsMode {
    /// Offer `actpass`; answer `actpass` with `active` (RFC 5763 §5).
    #[default]
    Default,
    /// Never offer DTLS-SRTP to the receiver.
    Off,
    Passive,
    Active,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcpMuxOpts {
    pub offer: bool,
    pub require: bool,
    pub demux: bool,
    pub accept: bool,
    pub reject: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub via_branch: Option<String>,
    pub sdp: Option<String>,
    pub label: Option<String>,
    /// `direction` / `from-interface` / `to-interface` / `interface`: the interface names
    /// for the sending side (the one that wrote this SDP) and the receiving side.
    pub from_interface: Option<String>,
    pub to_interface: Option<String>,
    pub address_family: Option<Family>,
    pub replace_origin: bool,
    pub replace_origin_full: bool,
    pub replace_session_name: bool,
    pub replace_sdp_version: bool,
    pub transport_protocol: Option<String>,
    pub rtcp_mux: RtcpMuxOpts,
    pub no_rtcp_attribute: bool,
    pub ice: IceMode,
    /// `ICE-lite=off`: eagw runs full ICE (it always does towards an ICE-lite party).
    pub ice_full: bool,
    pub dtls: DtlsMode,
    pub codec_strip: Vec<String>,
    pub codec_mask: Vec<String>,
    /// `codec-offer` / `codec-except`: kept even under `strip all`; `offer` also reorders.
    pub codec_offer: Vec<String>,
    pub codec_except: Vec<String>,
    /// `codec-transcode`: codecs added to the offer (eagw transcodes if the answer picks one).
    pub codec_transcode: Vec<String>,
    /// `codec-accept`: the offerer's codecs to use towards it, transcoding if need be.
    pub codec_accept: Vec<String>,
    /// `codec-consume`: as `mask` (removed from the offer, still transcoded to).
    pub codec_consume: Vec<String>,
    /// `codec-set` (offer): encoder settings for this call (`opus/48000/2/24000`:
    /// bitrate; `opus/48000/2////complexity=5`), over `[media]`'s (see
    /// [`parse_set`](super::codecs::parse_set)).
    pub codec_set: Vec<String>,
    /// `always transcode` (= `codec-accept-all`).
    pub always_transcode: bool,
    /// `force transcoding`: transcode even between identical codecs.
    pub force_transcoding: bool,
    /// `inject DTMF` (offer or answer): the stream goes through the transcoder even when
    /// both parties speak the same codec (decoded and re-encoded in it), so `play DTMF`
    /// can put digits into it.
    pub inject_dtmf: bool,
    /// `ptime` / `ptime-reverse` (offer only): the packetization eagw sends, when it
    /// transcodes, towards the answerer / the offerer (20, 40 or 60 ms).
    pub ptime: Option<u32>,
    pub ptime_reverse: Option<u32>,
    pub learning: Option<Learning>,
    pub media_handover: bool,
    pub asymmetric: bool,
    /// `generate-RTCP` / `generate RTCP: on|off`: eagw consumes the parties' RTCP and sends
    /// its own SR/RR to each (None: the call keeps what it had, off by default).
    pub generate_rtcp: Option<bool>,
    /// `SIP-source-address`: use `received-from` instead of the SDP address.
    pub sip_source_address: bool,
    pub received_from: Option<IpAddr>,
    pub media_address: Option<IpAddr>,
    /// delete: `fatal`, `fast`, `delete delay`.
    pub fatal: bool,
    pub fast: bool,
    pub delete_delay: Option<u64>,
    /// `supports: ["load limit"]`.
    pub supports_load_limit: bool,
    /// list: `limit`.
    pub limit: Option<u64>,
    /// play DTMF: `code`/`digit` (as given), `duration` and `pause` (ms), `volume` (dB).
    pub dtmf_code: Option<String>,
    pub dtmf_duration: Option<i64>,
    pub dtmf_pause: Option<i64>,
    pub dtmf_volume: Option<i64>,
    /// Warnings collected while parsing (unknown flags, flags not supported yet).
    pub warnings: Vec<String>,
}
