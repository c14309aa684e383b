//! Cron expressions as Lumen accepts them: five fields (minute hour
//! day-of-month month day-of-week), evaluated in UTC. Used by the
//! configuration (`LUMEN_BATCH_CRON`), job schedules and report schedules.

use std::str::FromStr;

/// Parses a 5-field cron expression (minute hour day-of-month month
/// day-of-week, UTC); the reason when it is not one.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err("must have 5 fields: minute hour day-of-month month day-of-week".into());
    }
    croner::Cron::from_str(expr).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_needs_five_fields() {
        assert!(parse_cron("0 2 * * *").is_ok());
        assert!(parse_cron("0 0 2 * * *").is_err());
        assert!(parse_cron("61 2 * * *").is_err());
        assert!(parse_cron("nonsense").is_err());
    }
}
