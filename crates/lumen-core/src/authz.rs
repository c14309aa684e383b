//! The authorisation policy: the one place that decides who may call what
//! (PRODUCT §3.3, §4). Pure: the service gathers the facts (who is calling,
//! which role they act in, what the route is about, how the subject relates
//! to the caller) and this module decides. Every route declares an [`Access`];
//! the router asks this policy before any handler runs.

use uuid::Uuid;

use crate::Role;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with or without a token.
    Public,
    /// Any valid access token.
    Authenticated,
    /// A role's bundle of analytics: the caller's own, acting in this role,
    /// or another person's as [`decide_bundle`] allows.
    ActingAs(Role),
    /// A route about one subject, named by the path parameter `param`.
    Subject {
        rule: SubjectRule,
        param: &'static str,
    },
}

/// Whose data a subject route may show to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectRule {
    /// Learner analytics: acting as learner, about oneself.
    OwnLearnerData,
    /// Trainer analytics: acting as trainer, about oneself.
    OwnTrainerData,
    /// Organisation analytics: acting as org admin, about one's own organisation
    /// (the subject is an organisation id).
    OwnOrganization,
    /// A learner as subject (comparison, predictive, profile): anyone about
    /// themself; a trainer about learners of their courses or linked to them;
    /// an org admin about people of their own organisation.
    Learner,
}

impl SubjectRule {
    /// The role a caller must act in for this rule, if only one will do.
    pub fn required_role(self) -> Option<Role> {
        match self {
            SubjectRule::OwnLearnerData => Some(Role::Learner),
            SubjectRule::OwnTrainerData => Some(Role::Trainer),
            SubjectRule::OwnOrganization => Some(Role::OrgAdmin),
            SubjectRule::Learner => None,
        }
    }
}

/// The authenticated caller, from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub roles: Vec<Role>,
}

/// What the service knows about a subject user, gathered before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubjectFacts {
    /// The subject's organisation; `None` when no such user is stored.
    pub organization_id: Option<Uuid>,
    /// The subject is enrolled in a course the caller trains, or linked to
    /// the caller as their trainer.
    pub taught_by_caller: bool,
}

/// Why a request is refused (always 403: the caller is authenticated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("X-Active-Role {0:?} is not a role")]
    UnknownRole(String),
    #[error("X-Active-Role {0} is not one of your roles")]
    RoleNotHeld(Role),
    #[error("X-Active-Role is required: you hold several roles")]
    ActiveRoleRequired,
    #[error("this route needs the {required} role, you act as {active}")]
    WrongRole { required: Role, active: Role },
    #[error("access denied")]
    NotYourSubject,
}

/// The role the caller acts in: the `X-Active-Role` header when sent (it
/// must be one of the caller's roles); otherwise the role the route needs,
/// when the caller holds it; otherwise the caller's only role. `None` for
/// routes that need no role, when the caller holds several and sent none.
pub fn active_role(
    header: Option<&str>,
    caller: &Caller,
    access: Access,
) -> Result<Option<Role>, Denial> {
    if let Some(name) = header {
        let role: Role = name
            .trim()
            .parse()
            .map_err(|_| Denial::UnknownRole(name.to_owned()))?;
        return if caller.roles.contains(&role) {
            Ok(Some(role))
        } else {
            Err(Denial::RoleNotHeld(role))
        };
    }
    let required = match access {
        Access::Subject { rule, .. } => rule.required_role(),
        Access::ActingAs(role) => Some(role),
        _ => None,
    };
    if let Some(role) = required.filter(|r| caller.roles.contains(r)) {
        return Ok(Some(role));
    }
    match (caller.roles.as_slice(), access) {
        ([only], _) => Ok(Some(*only)),
        (_, Access::Subject { .. } | Access::ActingAs(_)) => Err(Denial::ActiveRoleRequired),
        _ => Ok(None),
    }
}

/// Decides a route that needs the caller to act in `required`.
pub fn decide_acting_as(active: Option<Role>, required: Role) -> Result<(), Denial> {
    match active {
        Some(active) if active == required => Ok(()),
        Some(active) => Err(Denial::WrongRole { required, active }),
        None => Err(Denial::ActiveRoleRequired),
    }
}

/// Decides a role bundle (`GET /analytics/learner|trainer|organization`).
/// Without `subject`, or about oneself: one's own bundle, acting in the
/// bundle's role. About someone else (seed 004's `requireRole`, through
/// `userId` or `trainerId`): a learner's bundle for a trainer who teaches
/// them or an org admin of their organisation; a trainer's bundle for an org
/// admin of their organisation. The organisation bundle names no subject.
pub fn decide_bundle(
    caller: &Caller,
    active: Option<Role>,
    bundle: Role,
    subject: Option<Uuid>,
    facts: &SubjectFacts,
) -> Result<(), Denial> {
    if subject.is_none_or(|s| s == caller.user_id) {
        return decide_acting_as(active, bundle);
    }
    let active = active.ok_or(Denial::ActiveRoleRequired)?;
    let same_org = facts.organization_id == Some(caller.organization_id);
    let allowed = match (bundle, active) {
        (Role::Learner, Role::Trainer) => same_org && facts.taught_by_caller,
        (Role::Learner | Role::Trainer, Role::OrgAdmin) => same_org,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denial::NotYourSubject)
    }
}

/// Decides a subject route. `subject` is the id in the path: a user id, or
/// an organisation id for [`SubjectRule::OwnOrganization`].
pub fn decide(
    caller: &Caller,
    active: Role,
    rule: SubjectRule,
    subject: Uuid,
    facts: &SubjectFacts,
) -> Result<(), Denial> {
    if let Some(required) = rule.required_role()
        && required != active
    {
        return Err(Denial::WrongRole { required, active });
    }
    let allowed = match rule {
        SubjectRule::OwnLearnerData | SubjectRule::OwnTrainerData => subject == caller.user_id,
        SubjectRule::OwnOrganization => subject == caller.organization_id,
        SubjectRule::Learner => {
            let same_org = facts.organization_id == Some(caller.organization_id);
            subject == caller.user_id
                || match active {
                    Role::Learner => false,
                    Role::Trainer => same_org && facts.taught_by_caller,
                    Role::OrgAdmin => same_org,
                }
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Denial::NotYourSubject)
    }
}

/// Decides a leaderboard or report scope that names a department or course:
/// it must belong to the caller's organisation (`scope_org` is the
/// organisation it belongs to; `None` when no such department or course is
/// stored, refused like a foreign one). Leaderboards never cross organisations.
pub fn decide_own_organization(caller: &Caller, scope_org: Option<Uuid>) -> Result<(), Denial> {
    if scope_org == Some(caller.organization_id) {
        Ok(())
    } else {
        Err(Denial::NotYourSubject)
    }
}

/// Decides a report of a role's analytics: the caller must hold that role.
pub fn decide_holds_role(caller: &Caller, role: Role) -> Result<(), Denial> {
    if caller.roles.contains(&role) {
        Ok(())
    } else {
        Err(Denial::RoleNotHeld(role))
    }
}

/// Decides a manual refresh (`POST /analytics/refresh`): of one's own
/// analytics, in a role one holds (seed 000: "authenticated user + own data").
pub fn decide_refresh(caller: &Caller, user_id: Uuid, role: Role) -> Result<(), Denial> {
    if user_id != caller.user_id {
        return Err(Denial::NotYourSubject);
    }
    if !caller.roles.contains(&role) {
        return Err(Denial::RoleNotHeld(role));
    }
    Ok(())
}

/// What the service knows about a course whose leaderboard is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CourseFacts {
    /// The course's organisation; `None` when no such course is stored.
    pub organization_id: Option<Uuid>,
    /// The caller is enrolled in the course (in any state).
    pub caller_enrolled: bool,
    /// The caller is one of the course's trainers.
    pub caller_teaches: bool,
}

/// Decides a course leaderboard (`scope=course`): a course of the caller's
/// organisation that they are enrolled in or teach; an org admin may see
/// every course of their organisation.
pub fn decide_course_leaderboard(caller: &Caller, course: CourseFacts) -> Result<(), Denial> {
    decide_own_organization(caller, course.organization_id)?;
    if caller.roles.contains(&Role::OrgAdmin) || course.caller_enrolled || course.caller_teaches {
        Ok(())
    } else {
        Err(Denial::NotYourSubject)
    }
}

/// Decides access to something a user asked for (a job, a report): only
/// its owner sees it. Unowned things (system jobs) are nobody's.
pub fn decide_owner(caller: &Caller, owner: Option<Uuid>) -> Result<(), Denial> {
    if owner == Some(caller.user_id) {
        Ok(())
    } else {
        Err(Denial::NotYourSubject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_of_ones_own_analytics_in_a_role_one_holds() {
        let c = caller(&[Role::Learner, Role::Trainer]);
        assert_eq!(decide_refresh(&c, ME, Role::Trainer), Ok(()));
        assert_eq!(
            decide_refresh(&c, PEER, Role::Learner),
            Err(Denial::NotYourSubject)
        );
        assert_eq!(
            decide_refresh(&c, ME, Role::OrgAdmin),
            Err(Denial::RoleNotHeld(Role::OrgAdmin))
        );
    }

    #[test]
    fn bundles_of_others_follow_who_teaches_and_who_administers() {
        let facts = |org, taught| SubjectFacts {
            organization_id: Some(org),
            taught_by_caller: taught,
        };
        let none = SubjectFacts::default();
        let learner = caller(&[Role::Learner]);
        let trainer = caller(&[Role::Trainer]);
        let admin = caller(&[Role::OrgAdmin]);
        let ok = Ok(());
        let denied = Err(Denial::NotYourSubject);
        // One's own bundle, acting in its role, with or without naming oneself.
        for subject in [None, Some(ME)] {
            assert_eq!(
                decide_bundle(&learner, Some(Role::Learner), Role::Learner, subject, &none),
                ok
            );
            assert_eq!(
                decide_bundle(&trainer, Some(Role::Trainer), Role::Learner, subject, &none),
                Err(Denial::WrongRole {
                    required: Role::Learner,
                    active: Role::Trainer
                })
            );
        }
        // A learner's bundle: their trainer, an admin of their organisation.
        let b = Role::Learner;
        assert_eq!(
            decide_bundle(
                &trainer,
                Some(Role::Trainer),
                b,
                Some(PEER),
                &facts(ORG, true)
            ),
            ok
        );
        assert_eq!(
            decide_bundle(
                &trainer,
                Some(Role::Trainer),
                b,
                Some(PEER),
                &facts(ORG, false)
            ),
            denied
        );
        assert_eq!(
            decide_bundle(
                &admin,
                Some(Role::OrgAdmin),
                b,
                Some(PEER),
                &facts(ORG, false)
            ),
            ok
        );
        assert_eq!(
            decide_bundle(
                &admin,
                Some(Role::OrgAdmin),
                b,
                Some(PEER),
                &facts(OTHER_ORG, false)
            ),
            denied
        );
        assert_eq!(
            decide_bundle(&admin, Some(Role::OrgAdmin), b, Some(PEER), &none),
            denied
        );
        assert_eq!(
            decide_bundle(
                &learner,
                Some(Role::Learner),
                b,
                Some(PEER),
                &facts(ORG, true)
            ),
            denied
        );
        // A trainer's bundle: an admin of their organisation only.
        let b = Role::Trainer;
        assert_eq!(
            decide_bundle(
                &admin,
                Some(Role::OrgAdmin),
                b,
                Some(PEER),
                &facts(ORG, false)
            ),
            ok
        );
        assert_eq!(
            decide_bundle(
                &trainer,
                Some(Role::Trainer),
                b,
                Some(PEER),
                &facts(ORG, true)
            ),
            denied
        );
        assert_eq!(
            decide_bundle(
                &learner,
                Some(Role::Learner),
                b,
                Some(PEER),
                &facts(ORG, true)
            ),
            denied
        );
        // No active role for someone else's bundle.
        assert_eq!(
            decide_bundle(&admin, None, Role::Learner, Some(PEER), &facts(ORG, false)),
            Err(Denial::ActiveRoleRequired)
        );
    }

    #[test]
    fn a_course_leaderboard_is_for_its_learners_trainers_and_org_admins() {
        let course = |org, enrolled, teaches| CourseFacts {
            organization_id: Some(org),
            caller_enrolled: enrolled,
            caller_teaches: teaches,
        };
        let learner = caller(&[Role::Learner]);
        assert_eq!(
            decide_course_leaderboard(&learner, course(ORG, true, false)),
            Ok(())
        );
        // Another course of the same organisation: not theirs.
        assert_eq!(
            decide_course_leaderboard(&learner, course(ORG, false, false)),
            Err(Denial::NotYourSubject)
        );
        let trainer = caller(&[Role::Trainer]);
        assert_eq!(
            decide_course_leaderboard(&trainer, course(ORG, false, true)),
            Ok(())
        );
        assert_eq!(
            decide_course_leaderboard(&trainer, course(ORG, false, false)),
            Err(Denial::NotYourSubject)
        );
        let admin = caller(&[Role::OrgAdmin]);
        assert_eq!(
            decide_course_leaderboard(&admin, course(ORG, false, false)),
            Ok(())
        );
        // Never a course of another organisation, nor an unknown one, even
        // when enrolled (the facts come from the caller's organisation only).
        for who in [&learner, &trainer, &admin] {
            assert_eq!(
                decide_course_leaderboard(who, course(OTHER_ORG, true, true)),
                Err(Denial::NotYourSubject)
            );
            assert_eq!(
                decide_course_leaderboard(who, CourseFacts::default()),
                Err(Denial::NotYourSubject)
            );
        }
    }

    #[test]
    fn only_the_owner_sees_a_job() {
        let c = caller(&[Role::Learner]);
        assert_eq!(decide_owner(&c, Some(ME)), Ok(()));
        assert_eq!(decide_owner(&c, Some(PEER)), Err(Denial::NotYourSubject));
        assert_eq!(decide_owner(&c, None), Err(Denial::NotYourSubject));
    }

    const ORG: Uuid = Uuid::from_u128(1);
    const OTHER_ORG: Uuid = Uuid::from_u128(2);
    const ME: Uuid = Uuid::from_u128(10);
    const PEER: Uuid = Uuid::from_u128(11);

    fn caller(roles: &[Role]) -> Caller {
        Caller {
            user_id: ME,
            organization_id: ORG,
            email: "me@example.test".into(),
            roles: roles.to_vec(),
        }
    }

    fn facts(org: Uuid, taught: bool) -> SubjectFacts {
        SubjectFacts {
            organization_id: Some(org),
            taught_by_caller: taught,
        }
    }

    const LEARNER_ROUTE: Access = Access::Subject {
        rule: SubjectRule::Learner,
        param: "userId",
    };

    #[test]
    fn the_active_role_header_must_name_one_of_the_callers_roles() {
        let c = caller(&[Role::Learner]);
        assert_eq!(
            active_role(Some("learner"), &c, Access::Authenticated),
            Ok(Some(Role::Learner))
        );
        assert_eq!(
            active_role(Some("trainer"), &c, Access::Authenticated),
            Err(Denial::RoleNotHeld(Role::Trainer))
        );
        assert_eq!(
            active_role(Some("root"), &c, Access::Authenticated),
            Err(Denial::UnknownRole("root".into()))
        );
    }

    #[test]
    fn without_the_header_the_route_role_or_the_only_role_is_used() {
        let multi = caller(&[Role::Learner, Role::Trainer]);
        let own_trainer = Access::Subject {
            rule: SubjectRule::OwnTrainerData,
            param: "trainerId",
        };
        assert_eq!(
            active_role(None, &multi, own_trainer),
            Ok(Some(Role::Trainer))
        );
        assert_eq!(
            active_role(None, &multi, LEARNER_ROUTE),
            Err(Denial::ActiveRoleRequired)
        );
        assert_eq!(active_role(None, &multi, Access::Authenticated), Ok(None));
        assert_eq!(
            active_role(None, &caller(&[Role::OrgAdmin]), LEARNER_ROUTE),
            Ok(Some(Role::OrgAdmin))
        );
    }

    #[test]
    fn own_data_routes_need_their_role_and_the_callers_own_id() {
        let c = caller(&[Role::Learner, Role::Trainer, Role::OrgAdmin]);
        let none = SubjectFacts::default();
        assert_eq!(
            decide(&c, Role::Learner, SubjectRule::OwnLearnerData, ME, &none),
            Ok(())
        );
        assert_eq!(
            decide(&c, Role::Learner, SubjectRule::OwnLearnerData, PEER, &none),
            Err(Denial::NotYourSubject)
        );
        assert_eq!(
            decide(&c, Role::Trainer, SubjectRule::OwnLearnerData, ME, &none),
            Err(Denial::WrongRole {
                required: Role::Learner,
                active: Role::Trainer
            })
        );
        assert_eq!(
            decide(&c, Role::Trainer, SubjectRule::OwnTrainerData, ME, &none),
            Ok(())
        );
        assert_eq!(
            decide(&c, Role::OrgAdmin, SubjectRule::OwnOrganization, ORG, &none),
            Ok(())
        );
        assert_eq!(
            decide(
                &c,
                Role::OrgAdmin,
                SubjectRule::OwnOrganization,
                OTHER_ORG,
                &none
            ),
            Err(Denial::NotYourSubject)
        );
    }

    #[test]
    fn learner_subjects_follow_the_scoping_of_each_role() {
        let c = caller(&[Role::Learner, Role::Trainer, Role::OrgAdmin]);
        let rule = SubjectRule::Learner;
        // A learner: only themself (and anyone may ask about themself).
        assert_eq!(
            decide(&c, Role::Learner, rule, ME, &facts(ORG, false)),
            Ok(())
        );
        assert_eq!(
            decide(&c, Role::Trainer, rule, ME, &facts(ORG, false)),
            Ok(())
        );
        assert!(decide(&c, Role::Learner, rule, PEER, &facts(ORG, true)).is_err());
        // A trainer: only learners they teach, in their organisation.
        assert_eq!(
            decide(&c, Role::Trainer, rule, PEER, &facts(ORG, true)),
            Ok(())
        );
        assert!(decide(&c, Role::Trainer, rule, PEER, &facts(ORG, false)).is_err());
        assert!(decide(&c, Role::Trainer, rule, PEER, &facts(OTHER_ORG, true)).is_err());
        // An org admin: anyone of their organisation, nobody else.
        assert_eq!(
            decide(&c, Role::OrgAdmin, rule, PEER, &facts(ORG, false)),
            Ok(())
        );
        assert!(decide(&c, Role::OrgAdmin, rule, PEER, &facts(OTHER_ORG, false)).is_err());
        // An unknown subject is refused like a foreign one: existence is not revealed.
        assert!(decide(&c, Role::OrgAdmin, rule, PEER, &SubjectFacts::default()).is_err());
    }
    #[test]
    fn scopes_and_reports_stay_with_their_organisation_and_owner() {
        let c = caller(&[Role::Learner]);
        assert_eq!(decide_own_organization(&c, Some(ORG)), Ok(()));
        assert!(decide_own_organization(&c, Some(OTHER_ORG)).is_err());
        assert!(decide_own_organization(&c, None).is_err());
        assert_eq!(decide_holds_role(&c, Role::Learner), Ok(()));
        assert!(decide_holds_role(&c, Role::OrgAdmin).is_err());
    }
}
