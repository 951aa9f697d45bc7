//! `play DTMF`: which digits, how long and how loud (rtpengine's keys and defaults), and
//! which streams carry them. The selected party is the one the digits seem to come from
//! (as in rtpengine): they go to the other side, inside the transcoded stream of that
//! party's audio, as telephone-event if the other side negotiated it, else as tones.

use super::{Call, MediaSockets, NgError, Options};
use crate::media::dtmf::event_of;
use crate::media::transcode::PlayDigit;

/// rtpengine's defaults and ranges (ms, dB).
const DURATION: (i64, i64, i64) = (250, 100, 5000);
const PAUSE: (i64, i64, i64) = (100, 100, 5000);
const VOLUME: i64 = 8;
/// The most digits one command may play.
pub const MAX_DIGITS: usize = 32;

/// The digits a `play DTMF` asks for. `code`/`digit` is an event code (an integer 0–15,
/// or a string of one or two decimal digits up to 15), or one or more keypad characters
/// (`0-9*#A-D`) played one after another. `duration` and `pause` are clamped to 100–5000 ms;
/// `volume` is a level in dB below 0 dBm0 (either sign; default 8).
pub fn digits(o: &Options) -> Result<Vec<PlayDigit>, NgError> {
    let code = o.dtmf_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let code = code.ok_or_else(|| NgError::new("No digit or code in message"))?;
    let events: Vec<u8> = match code.parse::<u8>() {
        Ok(n) if n <= 15 && code.len() <= 2 => vec![n],
        _ => code
            .chars()
            .map(|c| event_of(c).ok_or_else(|| NgError::new(format!("Invalid DTMF digit {c:?} in {code:?} (0-9, *, #, A-D or a code 0-15)"))))
            .collect::<Result<_, _>>()?,
    };
    if events.len() > MAX_DIGITS {
        return Err(NgError::new(format!("at most {MAX_DIGITS} DTMF digits per play DTMF")));
    }
    let clamp = |v: Option<i64>, (d, lo, hi): (i64, i64, i64)| v.unwrap_or(d).clamp(lo, hi) as u32;
    let duration_ms = clamp(o.dtmf_duration, DURATION);
    let pause_ms = clamp(o.dtmf_pause, PAUSE);
    let volume = o.dtmf_volume.map_or(VOLUME, i64::abs).min(63) as u8;
    Ok(events.into_iter().map(|event| PlayDigit { event, duration_ms, volume, pause_ms }).collect())
}

impl Call {
    /// The leg `from-tag` (or `label`) names; None when the message names none.
    fn selected_leg(&self, o: &Options) -> Result<Option<usize>, NgError> {
        let leg = if !o.from_tag.is_empty() {
            self.find_leg(&o.from_tag)
        } else if let Some(l) = &o.label {
            self.legs.iter().position(|g| g.label.as_deref() == Some(l.as_str()))
        } else {
            return Ok(None);
        };
        leg.map(Some).ok_or_else(|| NgError::new("Unknown from-tag or label"))
    }

    /// `block DTMF` (`on`) / `unblock DTMF`: the DTMF of the party named by `from-tag` (or
    /// `label`; none named: every party) no longer reaches the other side. Its
    /// telephone-event packets are dropped, on pass-through streams too; on a transcoded
    /// stream its in-band digits are also replaced by silence once detected. `play DTMF`
    /// still plays.
    pub fn block_dtmf(&self, o: &Options, on: bool, socks: &mut dyn MediaSockets) -> Result<(), NgError> {
        let legs: Vec<usize> = match self.selected_leg(o)? {
            Some(l) => vec![l],
            None => (0..self.legs.len()).collect(),
        };
        for l in legs {
            for m in self.legs[l].medias.iter().filter(|m| m.kind == "audio") {
                if let Some(p) = m.rtp {
                    socks.block_dtmf(p.handle, on, &m.te_pts);
                }
            }
        }
        Ok(())
    }

    /// Queues `digits` as if the party with `from-tag` (or `label`) sent them. Returns how
    /// many streams took them; an error if none can (the party's audio is not transcoded).
    pub fn play_dtmf(&self, o: &Options, socks: &mut dyn MediaSockets) -> Result<usize, NgError> {
        let d = digits(o)?;
        let leg = self.selected_leg(o)?.ok_or_else(|| NgError::new("No from-tag or label in message"))?;
        let mut took = 0;
        let mut why = None;
        for m in self.legs[leg].medias.iter().filter(|m| m.kind == "audio" && !m.rejected) {
            let Some(p) = m.rtp else { continue };
            match socks.play_dtmf(p.handle, &d) {
                Ok(()) => took += 1,
                Err(e) => why = Some(e),
            }
        }
        if took == 0 {
            return Err(NgError::new(why.unwrap_or_else(|| "the party has no audio stream".into())));
        }
        Ok(took)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(code: &str) -> Options {
        Options { dtmf_code: Some(code.into()), ..Default::default() }
    }

    #[test]
    fn codes_digits_and_ranges() {
        let one = |o: &Options| digits(o).unwrap().iter().map(|d| d.event).collect::<Vec<_>>();
        assert_eq!(one(&opts("5")), vec![5]);
        assert_eq!(one(&opts("11")), vec![11]);
        assert_eq!(one(&opts("#")), vec![11]);
        assert_eq!(one(&opts("123#a")), vec![1, 2, 3, 11, 12]);
        assert!(digits(&opts("1x")).unwrap_err().reason.contains("'x'"));
        assert!(digits(&opts("")).is_err());
        assert!(digits(&opts(&"1".repeat(33))).is_err());
        let d = digits(&opts("1")).unwrap()[0];
        assert_eq!((d.duration_ms, d.pause_ms, d.volume), (250, 100, 8));
        let o = Options { dtmf_duration: Some(20), dtmf_pause: Some(99_999), dtmf_volume: Some(-12), ..opts("1") };
        let d = digits(&o).unwrap()[0];
        assert_eq!((d.duration_ms, d.pause_ms, d.volume), (100, 5000, 12));
    }
}
