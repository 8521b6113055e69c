//! Conversions between R objects and the core crate's values.

use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use flashierrs_core::ebnm::{EbnmFit, Mode, Prior, Scale};
use flashierrs_core::model::{Factor, Held};

/// A numeric vector from an R object (integer or double), or an error naming `what`.
pub fn real_vec(x: &Robj, what: &str) -> Result<Vec<f64>> {
    if let Some(v) = x.as_real_slice() {
        return Ok(v.to_vec());
    }
    if let Some(v) = x.as_integer_slice() {
        return Ok(v.iter().map(|&i| if i == i32::MIN { f64::NAN } else { i as f64 }).collect());
    }
    if let Some(v) = x.as_logical_slice() {
        return Ok(v.iter().map(|b| if b.is_na() { f64::NAN } else if b.is_true() { 1.0 } else { 0.0 }).collect());
    }
    Err(Error::Other(format!("{what} must be numeric")))
}

/// Element `name` of an R list (NULL when absent).
pub fn field(list: &List, name: &str) -> Robj {
    list.iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap_or_else(|| ().into())
}

fn named_list(names: &[&str], values: Vec<Robj>) -> Robj {
    List::from_names_and_values(names.iter().copied(), values).expect("names and values agree").into()
}

fn with_class(mut robj: Robj, class: &str) -> Robj {
    robj.set_class([class]).expect("class can be set");
    robj
}

/// A fitted prior as the R object ebnm returns.
pub fn prior_to_r(g: &Prior) -> Robj {
    match g {
        Prior::NormalMix { pi, mean, sd } => with_class(
            named_list(&["pi", "mean", "sd"], vec![r!(pi.clone()), r!(mean.clone()), r!(sd.clone())]),
            "normalmix",
        ),
        Prior::LaplaceMix { pi, mean, scale } => with_class(
            named_list(&["pi", "mean", "scale"], vec![r!(pi.clone()), r!(mean.clone()), r!(scale.clone())]),
            "laplacemix",
        ),
        Prior::GammaMix { pi, shape, scale, shift } => with_class(
            named_list(
                &["pi", "shape", "scale", "shift"],
                vec![r!(pi.clone()), r!(shape.clone()), r!(scale.clone()), r!(shift.clone())],
            ),
            "gammamix",
        ),
        Prior::UniMix { pi, a, b } => with_class(
            named_list(&["pi", "a", "b"], vec![r!(pi.clone()), r!(a.clone()), r!(b.clone())]),
            "unimix",
        ),
        Prior::TNormalMix { pi, mean, sd, a, b } => with_class(
            named_list(
                &["pi", "mean", "sd", "a", "b"],
                vec![r!(pi.clone()), r!(mean.clone()), r!(sd.clone()), r!(a.clone()), r!(b.clone())],
            ),
            "tnormalmix",
        ),
        Prior::Horseshoe { scale } => with_class(named_list(&["scale"], vec![r!(*scale)]), "horseshoe"),
    }
}

/// An R prior object (`normalmix`, `laplacemix`, ...) as a core prior; NULL
/// gives `None`.
pub fn prior_from_r(g: &Robj) -> Result<Option<Prior>> {
    if g.is_null() {
        return Ok(None);
    }
    let list: List = g
        .clone()
        .try_into()
        .map_err(|_| Error::Other("a fitted prior must be a list (e.g. of class normalmix)".into()))?;
    let get = |name: &str| -> Result<Vec<f64>> { real_vec(&field(&list, name), &format!("g${name}")) };
    let prior = if g.inherits("normalmix") {
        Prior::NormalMix { pi: get("pi")?, mean: get("mean")?, sd: get("sd")? }
    } else if g.inherits("laplacemix") {
        Prior::LaplaceMix { pi: get("pi")?, mean: get("mean")?, scale: get("scale")? }
    } else if g.inherits("gammamix") {
        Prior::GammaMix { pi: get("pi")?, shape: get("shape")?, scale: get("scale")?, shift: get("shift")? }
    } else if g.inherits("unimix") {
        Prior::UniMix { pi: get("pi")?, a: get("a")?, b: get("b")? }
    } else if g.inherits("tnormalmix") {
        Prior::TNormalMix { pi: get("pi")?, mean: get("mean")?, sd: get("sd")?, a: get("a")?, b: get("b")? }
    } else if g.inherits("horseshoe") {
        Prior::Horseshoe { scale: get("scale")?.first().copied().unwrap_or(f64::NAN) }
    } else {
        return Err(Error::Other(
            "g_init must be NULL or a prior of class normalmix, laplacemix, gammamix, unimix, tnormalmix or horseshoe"
                .into(),
        ));
    };
    Ok(Some(prior))
}

/// ebnm's `mode` argument: a number or "estimate".
pub fn mode_from_r(mode: &Robj) -> Result<Mode> {
    if let Some(s) = mode.as_str() {
        if s == "estimate" {
            return Ok(Mode::Estimate);
        }
        return Err(Error::Other(format!("mode must be a number or \"estimate\", not \"{s}\"")));
    }
    match mode.as_real().or_else(|| mode.as_integer().map(|i| i as f64)) {
        Some(m) if m.is_finite() => Ok(Mode::Fixed(m)),
        _ => Err(Error::Other("mode must be a finite number or \"estimate\"".into())),
    }
}

/// ebnm's `scale` argument: "estimate" or numbers.
pub fn scale_from_r(scale: &Robj) -> Result<Scale> {
    if let Some(s) = scale.as_str() {
        if s == "estimate" {
            return Ok(Scale::Estimate);
        }
        return Err(Error::Other(format!("scale must be \"estimate\" or numeric, not \"{s}\"")));
    }
    let v = real_vec(scale, "scale")?;
    if v.is_empty() || v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
        return Err(Error::Other("scale must be \"estimate\" or nonnegative finite numbers".into()));
    }
    Ok(Scale::Fixed(v))
}

/// The ebnm result as a plain R list: `fitted_g`, `posterior` columns and
/// `log_likelihood` (R dresses it as an ebnm object).
pub fn ebnm_fit_to_r(fit: &EbnmFit) -> Robj {
    let lfsr: Robj = match &fit.lfsr {
        Some(l) => r!(l.clone()),
        None => ().into(),
    };
    named_list(
        &["fitted_g", "mean", "sd", "second_moment", "lfsr", "log_likelihood"],
        vec![
            prior_to_r(&fit.prior),
            r!(fit.mean.clone()),
            r!(fit.sd.clone()),
            r!(fit.second_moment.clone()),
            lfsr,
            r!(fit.log_likelihood),
        ],
    )
}

/// Column-major matrix from columns.
pub fn matrix_from_cols(cols: Vec<&[f64]>, nrow: usize) -> Robj {
    let ncol = cols.len();
    let mut data = Vec::with_capacity(nrow * ncol);
    for c in cols {
        data.extend_from_slice(c);
    }
    let mut robj: Robj = r!(data);
    robj.set_attrib("dim", r!([nrow as i32, ncol as i32])).expect("dim can be set");
    robj
}

/// Columns of an R numeric matrix with `nrow` rows.
pub fn matrix_cols(m: &Robj, nrow: usize, what: &str) -> Result<Vec<Vec<f64>>> {
    if m.is_null() {
        return Ok(vec![]);
    }
    let v = real_vec(m, what)?;
    if nrow == 0 || v.len() % nrow != 0 {
        return Err(Error::Other(format!("{what} must have {nrow} rows")));
    }
    Ok(v.chunks(nrow).map(|c| c.to_vec()).collect())
}

/// The factors of a fit state list (`L`, `F`, `L2`, `F2`, `KL`, `g_l`, `g_f`).
pub fn factors_from_r(state: &List, n: usize, p: usize) -> Result<Vec<Factor>> {
    let l = matrix_cols(&field(state, "L"), n, "L")?;
    let f = matrix_cols(&field(state, "F"), p, "F")?;
    let l2 = matrix_cols(&field(state, "L2"), n, "L2")?;
    let f2 = matrix_cols(&field(state, "F2"), p, "F2")?;
    let k = l.len();
    if f.len() != k || l2.len() != k || f2.len() != k {
        return Err(Error::Other("the fit's loadings and factors disagree in number".into()));
    }
    let kl = real_vec(&field(state, "KL"), "KL").unwrap_or_default();
    let g_l: Vec<Robj> = match field(state, "g_l").as_list() {
        Some(lst) => lst.values().collect(),
        None => vec![],
    };
    let g_f: Vec<Robj> = match field(state, "g_f").as_list() {
        Some(lst) => lst.values().collect(),
        None => vec![],
    };
    // 1 where a factor's loadings (2i) or factor values (2i + 1) are fixed.
    let fixed = real_vec(&field(state, "held_dims"), "held_dims").unwrap_or_default();
    // Per factor: NULL, or list(dim, idx) with the 1-based indices of the
    // held entries when only some of one side are held.
    let partial: Vec<Robj> = match field(state, "held_partial").as_list() {
        Some(lst) => lst.values().collect(),
        None => vec![],
    };
    let held = |i: usize, dim: usize| -> Result<Held> {
        if fixed.get(2 * i + dim).is_some_and(|v| *v != 0.0) {
            return Ok(Held::All);
        }
        let Some(rec) = partial.get(i).filter(|r| !r.is_null()).and_then(|r| r.as_list()) else {
            return Ok(Held::Free);
        };
        let d = real_vec(&field(&rec, "dim"), "held dim")?.first().copied().unwrap_or(0.0) as usize;
        if d != dim + 1 {
            return Ok(Held::Free);
        }
        let len = if dim == 0 { n } else { p };
        let mut mask = vec![false; len];
        for v in real_vec(&field(&rec, "idx"), "held indices")? {
            let j = v as usize;
            if !(v >= 1.0 && j <= len) {
                return Err(Error::Other("internal: held indices out of range".into()));
            }
            mask[j - 1] = true;
        }
        Ok(Held::Some(std::sync::Arc::new(mask)))
    };
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let is_zero = l[i].iter().all(|v| *v == 0.0) || f[i].iter().all(|v| *v == 0.0);
        let gl = g_l.get(i).map(prior_from_r).transpose()?.flatten();
        let gf = g_f.get(i).map(prior_from_r).transpose()?.flatten();
        out.push(Factor {
            l: l[i].clone(),
            f: f[i].clone(),
            l2: l2[i].clone(),
            f2: f2[i].clone(),
            kl: [kl.get(2 * i).copied().unwrap_or(0.0), kl.get(2 * i + 1).copied().unwrap_or(0.0)],
            g: [gl, gf],
            is_zero,
            fixed: [held(i, 0)?, held(i, 1)?],
        });
    }
    Ok(out)
}

/// The factors as R matrices and lists.
pub fn factors_to_r(factors: &[Factor], n: usize, p: usize) -> Vec<(&'static str, Robj)> {
    let l = matrix_from_cols(factors.iter().map(|f| f.l.as_slice()).collect(), n);
    let f = matrix_from_cols(factors.iter().map(|f| f.f.as_slice()).collect(), p);
    let l2 = matrix_from_cols(factors.iter().map(|f| f.l2.as_slice()).collect(), n);
    let f2 = matrix_from_cols(factors.iter().map(|f| f.f2.as_slice()).collect(), p);
    let kl: Vec<f64> = factors.iter().flat_map(|f| f.kl).collect();
    let g_to = |d: usize| -> Robj {
        let vals: Vec<Robj> = factors
            .iter()
            .map(|f| f.g[d].as_ref().map(prior_to_r).unwrap_or_else(|| ().into()))
            .collect();
        List::from_values(vals).into()
    };
    vec![("L", l), ("F", f), ("L2", l2), ("F2", f2), ("KL", r!(kl)), ("g_l", g_to(0)), ("g_f", g_to(1))]
}

/// A list from (name, value) pairs.
pub fn list_of(pairs: Vec<(&str, Robj)>) -> Robj {
    let (names, values): (Vec<&str>, Vec<Robj>) = pairs.into_iter().unzip();
    List::from_names_and_values(names, values).expect("names and values agree").into()
}
