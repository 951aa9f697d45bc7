//! Counters: what each worker counts (merged by `statistics` and `/metrics`).
//! Per-stream counters live with the streams (`session::Counters`).

/// Counters of one worker (merged by `statistics`).
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerStats {
    pub calls: u64,
    pub calls_created: u64,
    pub calls_deleted: u64,
    pub calls_timed_out: u64,
    pub sockets: u64,
    pub ports_in_use: u64,
    pub packets_relayed: u64,
    pub bytes_relayed: u64,
    /// Datagrams that were not well-formed RTP/RTCP.
    pub junk: u64,
    /// Packets from an address other than the stream's peer.
    pub foreign: u64,
    /// Packets held back while their source was being learned.
    pub learning_drops: u64,
    /// Packets with nowhere to go (peer unknown) or a failed send.
    pub undeliverable: u64,
    /// SRTP/SRTCP packets that failed authentication, were replayed, or came before keys.
    pub srtp_errors: u64,
    /// Authenticated ICE connectivity / consent checks answered.
    pub ice_checks: u64,
    /// STUN that failed authentication (wrong ufrag or password) or parsing.
    pub stun_errors: u64,
    /// DTLS handshakes completed, and failed (wrong fingerprint, timeout, alert).
    pub dtls_handshakes: u64,
    pub dtls_failures: u64,
    /// DTLS records dropped: garbage, from an address ICE has not validated, or before
    /// the party's fingerprint is known.
    pub dtls_errors: u64,
    /// ICE streams that stopped sending: no consent check from the party for 30 s.
    pub consent_expired: u64,
    /// generate-RTCP: reports eagw sent, the parties' RTCP packets it consumed, and those
    /// that did not parse (counted, dropped).
    pub rtcp_generated: u64,
    pub rtcp_consumed: u64,
    pub rtcp_errors: u64,
    /// Transcoding: streams (directions) transcoded now, frames eagw encoded and sent,
    /// frames it concealed (lost, late, underrun), playout ticks more than 5 ms late,
    /// received payloads or frames it could not use, telephone-event packets re-timed or
    /// originated; DTMF digits played as tones, detected in-band, played by `play DTMF`.
    pub transcoded_streams: u64,
    pub transcoded_frames: u64,
    pub concealed_frames: u64,
    pub late_frames: u64,
    pub transcode_errors: u64,
    pub dtmf_events: u64,
    pub dtmf_tones: u64,
    pub dtmf_detected: u64,
    pub dtmf_played: u64,
    /// telephone-event packets (and in-band digits) dropped by `block DTMF`.
    pub dtmf_blocked: u64,
    pub errors: u64,
    /// Workers running under real-time scheduling (`worker_scheduling` applied): a gauge.
    pub realtime_workers: u64,
    pub turn: TurnStats,
}

/// Counters of a worker's TURN server (`turn::server`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TurnStats {
    /// Allocations alive (a gauge, set by the worker's snapshot).
    pub allocations: u64,
    pub allocations_created: u64,
    pub allocations_expired: u64,
    /// Deleted by the client (Refresh with LIFETIME 0) or when its TCP connection closed.
    pub allocations_deleted: u64,
    pub requests: u64,
    /// Requests without credentials answered with 401 and a nonce (the normal first step).
    pub challenges: u64,
    /// Wrong password, unknown user, or another user's allocation: 401 / 441.
    pub auth_failures: u64,
    /// TURN REST usernames whose expiry has passed: 401.
    pub rest_expired: u64,
    /// Expired or foreign nonces: 438.
    pub stale_nonces: u64,
    /// Allocations refused by the per-user quota (486).
    pub quota: u64,
    /// Allocations refused by the total quota, no relay port, too many permissions or channels (508).
    pub capacity: u64,
    /// Permissions or channels refused by the peer policy (403).
    pub denied_peers: u64,
    /// Malformed STUN or ChannelData, bad or missing attributes.
    pub malformed: u64,
    /// Requests or data for an allocation that does not exist (437 or dropped).
    pub mismatches: u64,
    pub no_allocation: u64,
    /// Data to or from a peer without a permission (or on an unbound channel): dropped.
    pub no_permission: u64,
    /// Data over the allocation's bandwidth cap: dropped.
    pub bandwidth_drops: u64,
    pub to_peer_packets: u64,
    pub to_peer_bytes: u64,
    pub to_client_packets: u64,
    pub to_client_bytes: u64,
    /// Sends that failed (socket buffer full, unreachable).
    pub send_errors: u64,
    /// TLS connections closed because rustls refused what came (not TLS, bad records, a
    /// failed handshake).
    pub tls_errors: u64,
    /// TLS connections that ended (cut, closed, idle) before their handshake completed.
    pub tls_unfinished: u64,
}

impl TurnStats {
    pub fn merge(&mut self, o: &TurnStats) {
        self.allocations += o.allocations;
        self.allocations_created += o.allocations_created;
        self.allocations_expired += o.allocations_expired;
        self.allocations_deleted += o.allocations_deleted;
        self.requests += o.requests;
        self.challenges += o.challenges;
        self.auth_failures += o.auth_failures;
        self.rest_expired += o.rest_expired;
        self.stale_nonces += o.stale_nonces;
        self.quota += o.quota;
        self.capacity += o.capacity;
        self.denied_peers += o.denied_peers;
        self.malformed += o.malformed;
        self.mismatches += o.mismatches;
        self.no_allocation += o.no_allocation;
        self.no_permission += o.no_permission;
        self.bandwidth_drops += o.bandwidth_drops;
        self.to_peer_packets += o.to_peer_packets;
        self.to_peer_bytes += o.to_peer_bytes;
        self.to_client_packets += o.to_client_packets;
        self.to_client_bytes += o.to_client_bytes;
        self.send_errors += o.send_errors;
        self.tls_errors += o.tls_errors;
        self.tls_unfinished += o.tls_unfinished;
    }
}

impl WorkerStats {
    pub fn merge(&mut self, o: &WorkerStats) {
        self.calls += o.calls;
        self.calls_created += o.calls_created;
        self.calls_deleted += o.calls_deleted;
        self.calls_timed_out += o.calls_timed_out;
        self.sockets += o.sockets;
        self.ports_in_use += o.ports_in_use;
        self.packets_relayed += o.packets_relayed;
        self.bytes_relayed += o.bytes_relayed;
        self.junk += o.junk;
        self.foreign += o.foreign;
        self.learning_drops += o.learning_drops;
        self.undeliverable += o.undeliverable;
        self.srtp_errors += o.srtp_errors;
        self.ice_checks += o.ice_checks;
        self.stun_errors += o.stun_errors;
        self.dtls_handshakes += o.dtls_handshakes;
        self.dtls_failures += o.dtls_failures;
        self.dtls_errors += o.dtls_errors;
        self.consent_expired += o.consent_expired;
        self.rtcp_generated += o.rtcp_generated;
        self.rtcp_consumed += o.rtcp_consumed;
        self.rtcp_errors += o.rtcp_errors;
        self.transcoded_streams += o.transcoded_streams;
        self.transcoded_frames += o.transcoded_frames;
        self.concealed_frames += o.concealed_frames;
        self.late_frames += o.late_frames;
        self.transcode_errors += o.transcode_errors;
        self.dtmf_events += o.dtmf_events;
        self.dtmf_tones += o.dtmf_tones;
        self.dtmf_detected += o.dtmf_detected;
        self.dtmf_played += o.dtmf_played;
        self.dtmf_blocked += o.dtmf_blocked;
        self.errors += o.errors;
        self.realtime_workers += o.realtime_workers;
        self.turn.merge(&o.turn);
    }
}

