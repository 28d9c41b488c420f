//! DIMSE status codes with their names (PS3.7 Annex C, and the service classes of PS3.4).

use std::fmt;

/// What a status means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Success,
    /// More responses follow (C-FIND).
    Pending,
    Cancel,
    Warning,
    Failure,
}

/// A status as received, with the peer's Error Comment if it sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub comment: Option<String>,
}

impl Status {
    pub fn new(code: u16) -> Status {
        Status {
            code,
            comment: None,
        }
    }

    pub fn kind(&self) -> StatusKind {
        match self.code {
            0x0000 => StatusKind::Success,
            0xFF00 | 0xFF01 => StatusKind::Pending,
            0xFE00 => StatusKind::Cancel,
            0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => StatusKind::Warning,
            _ => StatusKind::Failure,
        }
    }

    /// The standard's name for the code.
    pub fn meaning(&self) -> &'static str {
        match self.code {
            0x0000 => "success",
            0xFF00 => "pending",
            0xFF01 => "pending, some optional keys not supported",
            0xFE00 => "cancelled",
            0x0001 => "requested optional attributes are not supported",
            0x0107 => "attribute list error",
            0x0116 => "attribute value out of range",
            0xB000 => "coercion of data elements",
            0xB006 => "elements discarded",
            0xB007 => "data set does not match SOP class",
            0x0105 => "no such attribute",
            0x0106 => "invalid attribute value",
            0x0110 => "processing failure",
            0x0111 => "duplicate SOP instance",
            0x0112 => "no such SOP instance",
            0x0117 => "invalid object instance",
            0x0118 => "no such SOP class",
            0x0119 => "class-instance conflict",
            0x0120 => "missing attribute",
            0x0121 => "missing attribute value",
            0x0122 => "SOP class not supported",
            0x0124 => "not authorized",
            0x0210 => "duplicate invocation",
            0x0211 => "unrecognized operation",
            0x0212 => "mistyped argument",
            0x0213 => "resource limitation",
            0xA700..=0xA7FF => "out of resources",
            0xA900..=0xA9FF => "data set does not match SOP class",
            0xC000..=0xCFFF => "cannot understand / unable to process",
            _ => "unknown status",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}H ({})", self.code, self.meaning())?;
        if let Some(c) = self.comment.as_deref().filter(|c| !c.is_empty()) {
            write!(f, ": {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_kinds_and_names() {
        assert_eq!(Status::new(0).kind(), StatusKind::Success);
        assert_eq!(Status::new(0xFF01).kind(), StatusKind::Pending);
        assert_eq!(Status::new(0xFE00).kind(), StatusKind::Cancel);
        assert_eq!(Status::new(0xB007).kind(), StatusKind::Warning);
        assert_eq!(Status::new(0xA700).kind(), StatusKind::Failure);
        assert_eq!(Status::new(0xC001).kind(), StatusKind::Failure);
        let s = Status {
            code: 0xA900,
            comment: Some("bad key".into()),
        };
        assert_eq!(
            s.to_string(),
            "A900H (data set does not match SOP class): bad key"
        );
    }
}
