//! Validation of the five-field cron expressions of report schedules
//! (minute hour day-of-month month day-of-week, UTC). Firing is the job
//! scheduler's business; this only refuses what it could not run.

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

fn number(s: &str, name: &str, min: u32, max: u32) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{name}: {s:?} is not a number from {min} to {max}"))
}

fn item(item: &str, name: &str, min: u32, max: u32) -> Result<(), String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step {
        number(step, name, 1, max.max(1))?;
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a, name, min, max)?, number(b, name, min, max)?);
            if a > b {
                return Err(format!("{name}: range {range} runs backwards"));
            }
            Ok(())
        }
        None => number(range, name, min, max).map(|_| ()),
    }
}

/// `Ok` for a valid five-field expression, else the reason.
pub fn validate(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(
            "must have five fields: minute hour day-of-month month day-of-week, e.g. \"0 7 * * 1\""
                .into(),
        );
    }
    for (field, (name, min, max)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            item(part, name, min, max)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_expressions_pass_and_bad_ones_name_the_field() {
        for ok in [
            "0 7 * * 1",
            "*/15 * * * *",
            "0 0 1 1-6/2 0,6",
            "30 23 31 12 7",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert!(validate("0 7 * *").is_err());
        assert!(validate("60 * * * *").is_err_and(|e| e.starts_with("minute")));
        assert!(validate("0 24 * * *").is_err_and(|e| e.starts_with("hour")));
        assert!(validate("0 0 0 * *").is_err_and(|e| e.starts_with("day of month")));
        assert!(validate("0 0 * 5-2 *").is_err_and(|e| e.contains("backwards")));
        assert!(validate("*/0 * * * *").is_err());
        assert!(validate("@weekly").is_err());
    }
}
