//! Roles a person can hold. One person can hold several; each request names
//! the active one (`X-Active-Role`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Learner,
    Trainer,
    /// Seed 004 spells it `org_admin`; accepted as an alias.
    #[serde(alias = "org_admin")]
    OrgAdmin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Learner, Role::Trainer, Role::OrgAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Trainer => "trainer",
            Role::OrgAdmin => "org-admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected learner, trainer or org-admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    /// The canonical names, and seed 004's `org_admin` for `org-admin`
    /// (its `X-Active-Role` values and platform tokens use it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "org_admin" {
            return Ok(Role::OrgAdmin);
        }
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn seed_004_spelling_of_org_admin_is_accepted() {
        assert_eq!("org_admin".parse::<Role>(), Ok(Role::OrgAdmin));
        let role: Role = serde_json::from_str("\"org_admin\"").expect("alias");
        assert_eq!(role, Role::OrgAdmin);
        // Answers keep the canonical name.
        assert_eq!(
            serde_json::to_string(&Role::OrgAdmin).expect("name"),
            "\"org-admin\""
        );
    }

    #[test]
    fn unknown_role_names_are_rejected() {
        assert!("admin".parse::<Role>().is_err());
        assert!("Learner".parse::<Role>().is_err());
    }
}
