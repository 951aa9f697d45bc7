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
    pub errors: u64,
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
        self.errors += o.errors;
    }
}

