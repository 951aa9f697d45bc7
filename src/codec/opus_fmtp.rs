//! Opus `a=fmtp` parameters (RFC 7587 §6.1) and what they mean for our encoder.
//!
//! The rtpmap is always `opus/48000/2`; the parameters below are the receiver's wishes
//! (`maxplaybackrate`, `stereo`, `useinbandfec`, `usedtx`, `maxaveragebitrate`, `cbr`)
//! or the sender's hints (`sprop-maxcapturerate`, `sprop-stereo`). `ptime` / `maxptime`
//! usually come as `a=` lines but some endpoints put them in the fmtp: both are read.

use super::Error;

/// Parsed Opus fmtp parameters, with RFC 7587's defaults for absent ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusFmtp {
    pub maxplaybackrate: u32,
    pub sprop_maxcapturerate: u32,
    pub stereo: bool,
    pub sprop_stereo: bool,
    pub useinbandfec: bool,
    pub usedtx: bool,
    pub cbr: bool,
    pub maxaveragebitrate: Option<u32>,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    pub minptime: Option<u32>,
}

impl Default for OpusFmtp {
    fn default() -> Self {
        OpusFmtp {
            maxplaybackrate: 48_000,
            sprop_maxcapturerate: 48_000,
            stereo: false,
            sprop_stereo: false,
            useinbandfec: false,
            usedtx: false,
            cbr: false,
            maxaveragebitrate: None,
            ptime: None,
            maxptime: None,
            minptime: None,
        }
    }
}

fn flag(v: &str) -> Result<bool, Error> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(Error::BadParameter),
    }
}

fn num(v: &str, min: u32, max: u32) -> Result<u32, Error> {
    let n: u32 = v.parse().map_err(|_| Error::BadParameter)?;
    if n < min || n > max {
        return Err(Error::BadParameter);
    }
    Ok(n)
}

impl OpusFmtp {
    /// Parses the parameter part of an `a=fmtp:` line (`minptime=10;useinbandfec=1`).
    /// Unknown parameters are ignored; a known one with a value out of its range is an
    /// error (the caller falls back to the defaults and counts it).
    pub fn parse(s: &str) -> Result<OpusFmtp, Error> {
        let mut f = OpusFmtp::default();
        for item in s.split(';') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (k, v) = item.split_once('=').ok_or(Error::BadParameter)?;
            let (k, v) = (k.trim(), v.trim());
            match k.to_ascii_lowercase().as_str() {
                "maxplaybackrate" => f.maxplaybackrate = num(v, 8000, 48000)?,
                "sprop-maxcapturerate" => f.sprop_maxcapturerate = num(v, 8000, 48000)?,
                "stereo" => f.stereo = flag(v)?,
                "sprop-stereo" => f.sprop_stereo = flag(v)?,
                "useinbandfec" => f.useinbandfec = flag(v)?,
                "usedtx" => f.usedtx = flag(v)?,
                "cbr" => f.cbr = flag(v)?,
                "maxaveragebitrate" => f.maxaveragebitrate = Some(num(v, 6000, 510_000)?),
                "ptime" => f.ptime = Some(num(v, 3, 120)?),
                "maxptime" => f.maxptime = Some(num(v, 3, 120)?),
                "minptime" => f.minptime = Some(num(v, 3, 120)?),
                _ => {}
            }
        }
        Ok(f)
    }

    /// The rate our Opus encoder should take its input at for this receiver: the
    /// smallest of 8/16/48 kHz that covers `maxplaybackrate` (and `source_rate`, the
    /// rate of the audio we have: no point encoding 48 kHz from 16 kHz speech).
    pub fn encoder_rate(&self, source_rate: u32) -> u32 {
        let want = self.maxplaybackrate.min(source_rate);
        if want <= 8000 {
            8000
        } else if want <= 16000 {
            16000
        } else {
            48000
        }
    }

    /// Our bitrate for this receiver: `wanted`, capped by `maxaveragebitrate`.
    pub fn bitrate(&self, wanted: u32) -> u32 {
        self.maxaveragebitrate.map_or(wanted, |m| wanted.min(m))
    }

    /// Formats the parameters that differ from the defaults (for an SDP we write).
    pub fn format(&self, out: &mut String) {
        use std::fmt::Write;
        let mut sep = "";
        let mut put = |out: &mut String, k: &str, v: u32| {
            let _ = write!(out, "{sep}{k}={v}");
            sep = ";";
        };
        if self.maxplaybackrate != 48_000 {
            put(out, "maxplaybackrate", self.maxplaybackrate);
        }
        if self.sprop_maxcapturerate != 48_000 {
            put(out, "sprop-maxcapturerate", self.sprop_maxcapturerate);
        }
        if self.stereo {
            put(out, "stereo", 1);
        }
        if self.sprop_stereo {
            put(out, "sprop-stereo", 1);
        }
        if self.useinbandfec {
            put(out, "useinbandfec", 1);
        }
        if self.usedtx {
            put(out, "usedtx", 1);
        }
        if self.cbr {
            put(out, "cbr", 1);
        }
        if let Some(b) = self.maxaveragebitrate {
            put(out, "maxaveragebitrate", b);
        }
        if let Some(p) = self.minptime {
            put(out, "minptime", p);
        }
        if let Some(p) = self.ptime {
            put(out, "ptime", p);
        }
        if let Some(p) = self.maxptime {
            put(out, "maxptime", p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_fmtp() {
        let f = OpusFmtp::parse("minptime=10;useinbandfec=1").unwrap();
        assert!(f.useinbandfec && !f.usedtx && !f.stereo);
        assert_eq!(f.minptime, Some(10));
        assert_eq!(f.maxplaybackrate, 48000);
        assert_eq!(f.encoder_rate(48000), 48000);
    }

    #[test]
    fn all_parameters_and_round_trip() {
        let s = "maxplaybackrate=16000; sprop-maxcapturerate=16000; stereo=1; sprop-stereo=0; \
                 useinbandfec=1; usedtx=1; cbr=1; maxaveragebitrate=20000; ptime=20; maxptime=60";
        let f = OpusFmtp::parse(s).unwrap();
        assert_eq!(f.maxplaybackrate, 16000);
        assert!(f.stereo && !f.sprop_stereo && f.useinbandfec && f.usedtx && f.cbr);
        assert_eq!(f.bitrate(32000), 20000);
        assert_eq!(f.encoder_rate(48000), 16000);
        assert_eq!((f.ptime, f.maxptime), (Some(20), Some(60)));
        let mut out = String::new();
        f.format(&mut out);
        assert_eq!(OpusFmtp::parse(&out).unwrap(), f);
        assert_eq!(OpusFmtp { maxplaybackrate: 8000, ..Default::default() }.encoder_rate(16000), 8000);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(OpusFmtp::parse("maxplaybackrate=4000").is_err());
        assert!(OpusFmtp::parse("stereo=yes").is_err());
        assert!(OpusFmtp::parse("maxaveragebitrate=99999999999").is_err());
        assert!(OpusFmtp::parse("useinbandfec").is_err());
        assert!(OpusFmtp::parse("x-google-foo=1;;").is_ok());
    }
}
