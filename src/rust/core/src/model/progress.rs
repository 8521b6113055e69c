//! Convergence criteria and the per-iteration progress table (flashier's
//! `flash_conv_crit_*` functions and `verbose = 3` / `verbose = -1` output).

use super::{format_e, Factor};

/// What is compared with the tolerance after each iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvCrit {
    /// The increase in the ELBO (`flash_conv_crit_elbo_diff`).
    #[default]
    ElboDiff,
    /// The largest change in any L2-normalised loadings or factor vector
    /// (`flash_conv_crit_max_chg`).
    MaxChg,
    /// The same over loadings only (`flash_conv_crit_max_chg_L`).
    MaxChgL,
    /// The same over factors only (`flash_conv_crit_max_chg_F`).
    MaxChgF,
}

impl ConvCrit {
    pub fn from_code(code: i32) -> Option<ConvCrit> {
        match code {
            0 => Some(ConvCrit::ElboDiff),
            1 => Some(ConvCrit::MaxChg),
            2 => Some(ConvCrit::MaxChgL),
            3 => Some(ConvCrit::MaxChgF),
            _ => None,
        }
    }

    /// The criterion between the factors `new` and `old` (paired), given
    /// the ELBO difference `elbo_diff` (infinite when the old ELBO is not
    /// valid).
    pub fn value(self, new: &[&Factor], old: &[&Factor], elbo_diff: f64) -> f64 {
        match self {
            ConvCrit::ElboDiff => elbo_diff,
            ConvCrit::MaxChg => max_chg(new, old, [true, true]),
            ConvCrit::MaxChgL => max_chg(new, old, [true, false]),
            ConvCrit::MaxChgF => max_chg(new, old, [false, true]),
        }
    }
}

/// `max |a / ||a|| - b / ||b|||` (a zero vector is left as it is).
fn max_chg_vec(a: &[f64], b: &[f64]) -> f64 {
    let norm = |v: &[f64]| {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n == 0.0 { 1.0 } else { n }
    };
    let (na, nb) = (norm(a), norm(b));
    a.iter().zip(b).map(|(x, y)| (x / na - y / nb).abs()).fold(0.0, f64::max)
}

/// The largest change over the sides selected by `sides` (loadings,
/// factors) of the paired factors.
pub fn max_chg(new: &[&Factor], old: &[&Factor], sides: [bool; 2]) -> f64 {
    new.iter()
        .zip(old)
        .map(|(a, b)| {
            let l = if sides[0] { max_chg_vec(&a.l, &b.l) } else { 0.0 };
            let f = if sides[1] { max_chg_vec(&a.f, &b.f) } else { 0.0 };
            l.max(f)
        })
        .fold(0.0, f64::max)
}

/// A number as flashier's table prints it: whole numbers as integers,
/// others as `formatC(x, format = "e", digits = 2)`.
pub fn table_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Inf".into() } else { "-Inf".into() }
    } else if x == x.round() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format_e(x, 2)
    }
}

/// A number as R's `as.character` writes it (15 significant digits).
pub fn r_character(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32;
    if (-5..15).contains(&exp) {
        let decimals = (14 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, x);
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    } else {
        let s = format!("{:.14e}", x);
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') { mant.trim_end_matches('0').trim_end_matches('.') } else { mant };
        let e: i32 = e.parse().unwrap_or(0);
        format!("{}e{}{:02}", mant, if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// The progress table's header (`backfit` adds the factor column), or for
/// `verbose = -1` nothing (flash_set_verbose prints that header once).
pub fn table_header(verbose: i32, backfit: bool) -> Option<String> {
    if verbose < 3 {
        return None;
    }
    let mut s = format!("{:>13}", "Iteration");
    if backfit {
        s.push_str(&format!("{:>8}", "Factor"));
    }
    s.push_str(&format!("{:>12}{:>12}\n", "ELBO Diff", "LF Max Chg"));
    Some(s)
}

/// One row of the progress table: iteration `iter`, factor label `k`
/// (a number, or "all"), the ELBO, its change and the largest change in
/// the normalised loadings and factors.
pub fn table_row(verbose: i32, backfit: bool, iter: usize, k: &str, elbo: f64, diff: f64, chg: f64) -> Option<String> {
    if verbose >= 3 {
        let mut s = format!("{:>13}", iter);
        if backfit {
            s.push_str(&format!("{:>8}", k));
        }
        s.push_str(&format!("{:>12}{:>12} \n", table_number(diff), table_number(chg)));
        Some(s)
    } else if verbose == -1 {
        let elbo = if elbo.is_finite() { format!("{:.2}", elbo) } else { "NA".into() };
        Some(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            if backfit { "backfit" } else { "greedy" },
            k,
            iter,
            elbo,
            r_character(diff),
            r_character(chg)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_r_does() {
        assert_eq!(table_number(f64::INFINITY), "Inf");
        assert_eq!(table_number(3.0), "3");
        assert_eq!(table_number(0.012345), "1.23e-02");
        assert_eq!(table_number(-1234.5), "-1.23e+03");
        assert_eq!(r_character(0.1), "0.1");
        assert_eq!(r_character(-83131.6875), "-83131.6875");
        assert_eq!(r_character(1.0 / 3.0), "0.333333333333333");
        assert_eq!(r_character(1.5e-7), "1.5e-07");
        assert_eq!(r_character(f64::INFINITY), "Inf");
    }

    #[test]
    fn max_chg_ignores_scale() {
        let mut a = Factor::zero(3, 2);
        a.l = vec![1.0, 2.0, 2.0];
        a.f = vec![3.0, 4.0];
        let mut b = a.clone();
        b.l = vec![2.0, 4.0, 4.0];
        assert_eq!(max_chg(&[&a], &[&b], [true, true]), 0.0);
        b.f = vec![4.0, 3.0];
        assert!((max_chg(&[&a], &[&b], [true, true]) - 0.2).abs() < 1e-12);
        assert_eq!(max_chg(&[&a], &[&b], [true, false]), 0.0);
        assert!((ConvCrit::MaxChgF.value(&[&a], &[&b], 5.0) - 0.2).abs() < 1e-12);
        assert_eq!(ConvCrit::ElboDiff.value(&[&a], &[&b], 5.0), 5.0);
    }
}
