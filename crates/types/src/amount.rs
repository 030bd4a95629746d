//! KOII amounts: ROE integers underneath, decimal KOII with up to 9 places for people.

use crate::constants::ROE_PER_KOII;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("'{0}' is not an amount: use KOII with up to 9 decimals, e.g. 12.5")]
    Malformed(String),
    #[error("'{0}' has more than 9 decimals: 1 ROE = 0.000000001 KOII is the smallest unit")]
    TooPrecise(String),
    #[error("'{0}' is too large: the most is 18446744073.709551615 KOII")]
    TooLarge(String),
}

/// Parse `"12.5"` KOII into ROE exactly.
pub fn parse_koii(s: &str) -> Result<u64, AmountError> {
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(AmountError::Malformed(s.to_string()));
    }
    if frac.len() > 9 {
        return Err(AmountError::TooPrecise(s.to_string()));
    }
    let int_v: u128 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| AmountError::TooLarge(s.to_string()))?
    };
    let frac_v: u128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().expect("nine digits")
    };
    let total = int_v
        .checked_mul(ROE_PER_KOII as u128)
        .and_then(|v| v.checked_add(frac_v))
        .ok_or_else(|| AmountError::TooLarge(s.to_string()))?;
    u64::try_from(total).map_err(|_| AmountError::TooLarge(s.to_string()))
}

/// Format ROE as KOII, trimming trailing zeros: `1500000000` → `"1.5"`.
pub fn format_koii(roe: u64) -> String {
    let int = roe / ROE_PER_KOII;
    let frac = roe % ROE_PER_KOII;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:09}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_koii("1").unwrap(), ROE_PER_KOII);
        assert_eq!(parse_koii("0.000000001").unwrap(), 1);
        assert_eq!(parse_koii("12.5").unwrap(), 12_500_000_000);
        assert_eq!(parse_koii(".5").unwrap(), 500_000_000);
        assert_eq!(parse_koii("18446744073.709551615").unwrap(), u64::MAX);
        assert!(matches!(
            parse_koii("18446744073.709551616"),
            Err(AmountError::TooLarge(_))
        ));
        assert!(matches!(
            parse_koii("1.0000000001"),
            Err(AmountError::TooPrecise(_))
        ));
        for bad in ["", ".", "-1", "1e9", "1,5", "abc"] {
            assert!(
                matches!(parse_koii(bad), Err(AmountError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(format_koii(12_500_000_000), "12.5");
        assert_eq!(format_koii(1), "0.000000001");
        assert_eq!(format_koii(0), "0");
        for v in [0, 1, 999, ROE_PER_KOII, u64::MAX, 123_456_789_012] {
            assert_eq!(parse_koii(&format_koii(v)).unwrap(), v);
        }
    }
}
