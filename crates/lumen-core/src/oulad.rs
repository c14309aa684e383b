//! The mapping of the Open University Learning Analytics Dataset (OULAD,
//! Kuzilek et al. 2017) into learning records (docs/oulad.md). Pure rules:
//! rows in, records out; reading the files is the service's
//! (`lumen::import::oulad`).
//!
//! OULAD gives dates as days relative to the start of a module-presentation.
//! A presentation starts on the 1st of February (`B`) or of October (`J`) of
//! its year; an event of day k is stamped at noon of day k (OULAD records no
//! time of day), so "before day d" means "before start + d days, 00:00".

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::Role;
use crate::import::id_kinds as ids;
use crate::model::{
    Assessment, AssessmentAttempt, AssessmentKind, ContentInteraction, ContentItem, ContentType,
    Course, CourseStatus, Department, Enrolment, EnrolmentStatus, Organization, Origin, Outcome,
    User,
};

/// `Origin::source` of every OULAD record.
pub const SOURCE: &str = "oulad";
/// The Open University's pass mark, percent.
pub const PASS_SCORE: f64 = 40.0;

/// Lumen's id of the OULAD record of `kind` called `external_id`.
pub fn id(kind: &str, external_id: &str) -> Uuid {
    Origin::new(SOURCE, external_id).record_id(kind)
}

fn origin(external_id: impl Into<String>) -> Option<Origin> {
    Some(Origin::new(SOURCE, external_id))
}

/// Stamped as `createdAt` / `updatedAt` of the records that have them:
/// fixed, so importing twice writes the same rows.
pub fn dataset_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_356_998_400, 0).unwrap_or_default() // 2013-01-01
}

/// Splits one CSV line: fields separated by commas, optionally in double
/// quotes (`""` inside quotes is one quote). Trailing `\r` is dropped.
pub fn split_csv(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Why a row could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(pub String);

fn field<'a>(fields: &'a [String], header: &[&str], name: &str) -> Result<&'a str, RowError> {
    let i = header
        .iter()
        .position(|h| *h == name)
        .ok_or_else(|| RowError(format!("no column {name}")))?;
    fields.get(i).map(String::as_str).ok_or_else(|| {
        RowError(format!(
            "{} fields, expected {}",
            fields.len(),
            header.len()
        ))
    })
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, RowError> {
    value
        .trim()
        .parse()
        .map_err(|_| RowError(format!("{name}: not a number: {value:?}")))
}

fn optional<T: std::str::FromStr>(name: &str, value: &str) -> Result<Option<T>, RowError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        number(name, value).map(Some)
    }
}

/// A row type of one OULAD table: its header and its parser.
pub trait Row: Sized {
    const FILE: &'static str;
    const HEADER: &'static [&'static str];
    fn parse(fields: &[String]) -> Result<Self, RowError>;
}

macro_rules! get {
    ($fields:expr, $t:ty, $name:literal) => {
        field($fields, <$t as Row>::HEADER, $name)?
    };
}

/// Start of a presentation code such as `2013J`: 1 October 2013 (`B`:
/// 1 February).
pub fn presentation_start(code: &str) -> Result<DateTime<Utc>, RowError> {
    let bad = || RowError(format!("presentation {code:?} is not YYYYB or YYYYJ"));
    let (year, term) = code.split_at_checked(4).ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month = match term {
        "B" => 2,
        "J" => 10,
        _ => return Err(bad()),
    };
    let date = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    Ok(date.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc())
}

/// Noon of day `day` of a presentation starting at `start`.
pub fn at_day(start: DateTime<Utc>, day: i64) -> DateTime<Utc> {
    start + Duration::days(day) + Duration::hours(12)
}

/// `AAA-2013J`.
pub fn presentation_key(module: &str, presentation: &str) -> String {
    format!("{module}-{presentation}")
}

/// The single organisation all OULAD learners belong to.
pub fn organization() -> Organization {
    Organization {
        id: id(ids::ORGANIZATION, "ou"),
        origin: origin("ou"),
        name: "The Open University (OULAD)".to_owned(),
        leaderboard_names: false,
        created_at: dataset_time(),
        updated_at: dataset_time(),
    }
}

/// A region, as the learner's department.
pub fn department(region: &str) -> Department {
    let key = format!("region:{region}");
    Department {
        id: id(ids::DEPARTMENT, &key),
        organization_id: organization().id,
        parent_id: None,
        origin: origin(key),
        name: region.to_owned(),
        created_at: dataset_time(),
        updated_at: dataset_time(),
    }
}

/// One row of `courses.csv`: a module-presentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    pub module: String,
    pub presentation: String,
    pub length_days: u32,
    pub start: DateTime<Utc>,
}

impl Row for Presentation {
    const FILE: &'static str = "courses.csv";
    const HEADER: &'static [&'static str] = &[
        "code_module",
        "code_presentation",
        "module_presentation_length",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        let presentation = get!(f, Self, "code_presentation").to_owned();
        Ok(Self {
            module: get!(f, Self, "code_module").to_owned(),
            start: presentation_start(&presentation)?,
            length_days: number(
                "module_presentation_length",
                get!(f, Self, "module_presentation_length"),
            )?,
            presentation,
        })
    }
}

impl Presentation {
    pub fn key(&self) -> String {
        presentation_key(&self.module, &self.presentation)
    }

    pub fn course_id(&self) -> Uuid {
        id(ids::COURSE, &self.key())
    }

    /// The end of the presentation: noon of its last day.
    pub fn end(&self) -> DateTime<Utc> {
        at_day(self.start, i64::from(self.length_days))
    }

    pub fn course(&self) -> Course {
        Course {
            id: self.course_id(),
            organization_id: organization().id,
            origin: origin(self.key()),
            title: format!("{} {}", self.module, self.presentation),
            status: CourseStatus::Archived,
            starts_at: Some(self.start),
            length_days: Some(self.length_days),
            created_at: dataset_time(),
            updated_at: dataset_time(),
        }
    }
}

/// `final_result` of studentInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FinalResult {
    Distinction,
    Pass,
    Fail,
    Withdrawn,
}

impl FinalResult {
    pub const ALL: [FinalResult; 4] = [
        FinalResult::Distinction,
        FinalResult::Pass,
        FinalResult::Fail,
        FinalResult::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FinalResult::Distinction => "Distinction",
            FinalResult::Pass => "Pass",
            FinalResult::Fail => "Fail",
            FinalResult::Withdrawn => "Withdrawn",
        }
    }

    fn parse(s: &str) -> Result<Self, RowError> {
        FinalResult::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| RowError(format!("final_result: unknown value {s:?}")))
    }
}

/// One row of `studentInfo.csv`: a student in a presentation, with demographics.
#[derive(Debug, Clone, PartialEq)]
pub struct StudentInfo {
    pub module: String,
    pub presentation: String,
    pub student: String,
    pub gender: String,
    pub region: String,
    pub highest_education: String,
    pub imd_band: String,
    pub age_band: String,
    pub prev_attempts: f64,
    pub studied_credits: f64,
    pub disability: bool,
    pub final_result: FinalResult,
}

impl Row for StudentInfo {
    const FILE: &'static str = "studentInfo.csv";
    const HEADER: &'static [&'static str] = &[
        "code_module",
        "code_presentation",
        "id_student",
        "gender",
        "region",
        "highest_education",
        "imd_band",
        "age_band",
        "num_of_prev_attempts",
        "studied_credits",
        "disability",
        "final_result",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            module: get!(f, Self, "code_module").to_owned(),
            presentation: get!(f, Self, "code_presentation").to_owned(),
            student: get!(f, Self, "id_student").to_owned(),
            gender: get!(f, Self, "gender").to_owned(),
            region: get!(f, Self, "region").to_owned(),
            highest_education: get!(f, Self, "highest_education").to_owned(),
            imd_band: get!(f, Self, "imd_band").to_owned(),
            age_band: get!(f, Self, "age_band").to_owned(),
            prev_attempts: number(
                "num_of_prev_attempts",
                get!(f, Self, "num_of_prev_attempts"),
            )?,
            studied_credits: number("studied_credits", get!(f, Self, "studied_credits"))?,
            disability: get!(f, Self, "disability") == "Y",
            final_result: FinalResult::parse(get!(f, Self, "final_result"))?,
        })
    }
}

/// Names of [`StudentInfo::demographics`], in order.
pub const DEMOGRAPHIC_FEATURES: [&str; 9] = [
    "female",
    "disability",
    "age35plus",
    "age55plus",
    "education",
    "imdBand",
    "imdMissing",
    "previousAttempts",
    "studiedCredits",
];

impl StudentInfo {
    pub fn key(&self) -> String {
        format!(
            "{}-{}",
            presentation_key(&self.module, &self.presentation),
            self.student
        )
    }

    pub fn user_id(&self) -> Uuid {
        id(ids::USER, &self.student)
    }

    pub fn enrolment_id(&self) -> Uuid {
        id(ids::ENROLMENT, &self.key())
    }

    /// The learner (the same for every presentation the student took).
    pub fn learner(&self) -> User {
        User {
            id: self.user_id(),
            organization_id: organization().id,
            department_id: Some(department(&self.region).id),
            origin: origin(self.student.clone()),
            email: format!("student-{}@oulad.invalid", self.student),
            full_name: format!("OULAD student {}", self.student),
            job_role: None,
            time_zone: "Europe/London".to_owned(),
            avatar_url: None,
            leaderboard_opt_out: true,
            roles: vec![Role::Learner],
            last_login_at: None,
            created_at: dataset_time(),
            updated_at: dataset_time(),
        }
    }

    /// The demographic baseline's inputs ([`DEMOGRAPHIC_FEATURES`]):
    /// education on 0 (no formal qualifications) … 4 (postgraduate), IMD
    /// band as its decile 0 … 9 (missing: 4.5 and `imdMissing` = 1).
    pub fn demographics(&self) -> Vec<f64> {
        let education = match self.highest_education.as_str() {
            "No Formal quals" => 0.0,
            "Lower Than A Level" => 1.0,
            "A Level or Equivalent" => 2.0,
            "HE Qualification" => 3.0,
            "Post Graduate Qualification" => 4.0,
            _ => 1.5,
        };
        let imd: Option<f64> = self
            .imd_band
            .split('-')
            .next()
            .and_then(|low| low.trim_end_matches('%').parse::<f64>().ok())
            .map(|low| (low / 10.0).floor());
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        vec![
            flag(self.gender == "F"),
            flag(self.disability),
            flag(self.age_band != "0-35"),
            flag(self.age_band == "55<="),
            education,
            imd.unwrap_or(4.5),
            flag(imd.is_none()),
            self.prev_attempts,
            self.studied_credits,
        ]
    }
}

/// One row of `studentRegistration.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub module: String,
    pub presentation: String,
    pub student: String,
    pub registered: Option<i64>,
    pub unregistered: Option<i64>,
}

impl Row for Registration {
    const FILE: &'static str = "studentRegistration.csv";
    const HEADER: &'static [&'static str] = &[
        "code_module",
        "code_presentation",
        "id_student",
        "date_registration",
        "date_unregistration",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            module: get!(f, Self, "code_module").to_owned(),
            presentation: get!(f, Self, "code_presentation").to_owned(),
            student: get!(f, Self, "id_student").to_owned(),
            registered: optional("date_registration", get!(f, Self, "date_registration"))?,
            unregistered: optional("date_unregistration", get!(f, Self, "date_unregistration"))?,
        })
    }
}

impl Registration {
    pub fn key(&self) -> String {
        format!(
            "{}-{}",
            presentation_key(&self.module, &self.presentation),
            self.student
        )
    }
}

/// The enrolment of a student in a presentation. `final_result` decides the
/// status: Withdrawn → withdrawn at the unregistration date (the
/// presentation's end when OULAD has none, 93 cases); Pass, Distinction,
/// Fail → completed at the presentation's end with that outcome (an
/// unregistration date, 9 cases, is then ignored). No registration date (45
/// cases): enrolled at the start (or at the withdrawal if earlier).
pub fn enrolment(p: &Presentation, info: &StudentInfo, reg: &Registration) -> Enrolment {
    let end = p.end();
    let length = f64::from(p.length_days.max(1));
    let withdrawn_at = match info.final_result {
        FinalResult::Withdrawn => Some(reg.unregistered.map_or(end, |d| at_day(p.start, d))),
        _ => None,
    };
    let enrolled_at = reg
        .registered
        .map_or(p.start, |d| at_day(p.start, d))
        .min(withdrawn_at.unwrap_or(end));
    let (status, outcome, completed_at, progress) = match info.final_result {
        FinalResult::Withdrawn => (
            EnrolmentStatus::Withdrawn,
            None,
            None,
            reg.unregistered
                .map_or(0.0, |d| (d as f64 / length).clamp(0.0, 1.0)),
        ),
        FinalResult::Pass => (
            EnrolmentStatus::Completed,
            Some(Outcome::Pass),
            Some(end),
            1.0,
        ),
        FinalResult::Distinction => (
            EnrolmentStatus::Completed,
            Some(Outcome::Distinction),
            Some(end),
            1.0,
        ),
        FinalResult::Fail => (
            EnrolmentStatus::Completed,
            Some(Outcome::Fail),
            Some(end),
            1.0,
        ),
    };
    Enrolment {
        id: info.enrolment_id(),
        user_id: info.user_id(),
        course_id: p.course_id(),
        origin: origin(info.key()),
        status,
        outcome,
        progress,
        enrolled_at,
        started_at: None,
        last_active_at: None,
        completed_at,
        withdrawn_at,
        updated_at: withdrawn_at.or(completed_at).unwrap_or(end),
    }
}

/// One row of `vle.csv`: a site of the virtual learning environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub site: String,
    pub module: String,
    pub presentation: String,
    pub activity_type: String,
}

impl Row for Site {
    const FILE: &'static str = "vle.csv";
    const HEADER: &'static [&'static str] = &[
        "id_site",
        "code_module",
        "code_presentation",
        "activity_type",
        "week_from",
        "week_to",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            site: get!(f, Self, "id_site").to_owned(),
            module: get!(f, Self, "code_module").to_owned(),
            presentation: get!(f, Self, "code_presentation").to_owned(),
            activity_type: get!(f, Self, "activity_type").to_owned(),
        })
    }
}

/// OULAD's 20 activity types onto Lumen's content types; the original
/// type stays in the item's title.
pub fn content_type(activity_type: &str) -> ContentType {
    match activity_type {
        "oucontent" | "page" | "glossary" | "dualpane" => ContentType::Reading,
        "resource" | "url" | "folder" => ContentType::Resource,
        "forumng" => ContentType::Forum,
        "quiz" | "externalquiz" | "questionnaire" => ContentType::Quiz,
        "ouwiki" | "dataplus" | "htmlactivity" | "oucollaborate" => ContentType::Interactive,
        "ouelluminate" => ContentType::Video,
        _ => ContentType::Other, // homepage, subpage, sharedsubpage, repeatactivity
    }
}

impl Site {
    pub fn content_item(&self) -> ContentItem {
        ContentItem {
            id: id(ids::CONTENT_ITEM, &self.site),
            course_id: id(
                ids::COURSE,
                &presentation_key(&self.module, &self.presentation),
            ),
            unit_id: None,
            origin: origin(self.site.clone()),
            title: format!("{} {}", self.activity_type, self.site),
            content_type: content_type(&self.activity_type),
            duration_seconds: None,
        }
    }
}

/// One row of `studentVle`: a student's clicks on a site on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Clicks {
    pub module: String,
    pub presentation: String,
    pub student: String,
    pub site: String,
    pub date: i64,
    pub sum_click: i32,
}

impl Row for Clicks {
    const FILE: &'static str = "studentVle";
    const HEADER: &'static [&'static str] = &[
        "code_module",
        "code_presentation",
        "id_student",
        "id_site",
        "date",
        "sum_click",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            module: get!(f, Self, "code_module").to_owned(),
            presentation: get!(f, Self, "code_presentation").to_owned(),
            student: get!(f, Self, "id_student").to_owned(),
            site: get!(f, Self, "id_site").to_owned(),
            date: number("date", get!(f, Self, "date"))?,
            sum_click: number("sum_click", get!(f, Self, "sum_click"))?,
        })
    }
}

impl Clicks {
    /// `(presentation, student, site, date)` repeats in OULAD (rows are not
    /// aggregated); `occurrence` numbers the repeats in file order, so every
    /// row is one interaction with a stable id.
    pub fn interaction(&self, start: DateTime<Utc>, occurrence: u32) -> ContentInteraction {
        let key = format!(
            "{}-{}-{}-{}-{}",
            presentation_key(&self.module, &self.presentation),
            self.student,
            self.site,
            self.date,
            occurrence
        );
        ContentInteraction {
            id: id(ids::INTERACTION, &key),
            user_id: id(ids::USER, &self.student),
            content_item_id: id(ids::CONTENT_ITEM, &self.site),
            origin: origin(key),
            occurred_at: at_day(start, self.date),
            time_spent_seconds: None,
            clicks: self.sum_click,
            completed: false,
        }
    }
}

/// Numbers the repeats of `(presentation, student, site, date)` in a
/// clickstream read in file order ([`Clicks::interaction`]'s `occurrence`).
/// OULAD's studentVle is grouped by presentation and date, so only the
/// current group is remembered; a group that comes back is an error.
#[derive(Debug, Default)]
pub struct ClickNumbering {
    group: Option<(String, i64)>,
    finished: std::collections::HashSet<(String, i64)>,
    seen: std::collections::HashMap<(String, String), u32>,
}

impl ClickNumbering {
    pub fn next(&mut self, c: &Clicks) -> Result<u32, RowError> {
        let group = (presentation_key(&c.module, &c.presentation), c.date);
        if self.group.as_ref() != Some(&group) {
            if self.finished.contains(&group) {
                return Err(RowError(format!(
                    "rows of {} day {} are not together: studentVle must be grouped by presentation and date",
                    group.0, group.1
                )));
            }
            if let Some(previous) = self.group.replace(group) {
                self.finished.insert(previous);
            }
            self.seen.clear();
        }
        let n = self
            .seen
            .entry((c.student.clone(), c.site.clone()))
            .or_insert(0);
        let occurrence = *n;
        *n += 1;
        Ok(occurrence)
    }
}

/// One row of `assessments.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentRow {
    pub module: String,
    pub presentation: String,
    pub assessment: String,
    pub kind: String,
    pub date: Option<i64>,
    pub weight: f64,
}

impl Row for AssessmentRow {
    const FILE: &'static str = "assessments.csv";
    const HEADER: &'static [&'static str] = &[
        "code_module",
        "code_presentation",
        "id_assessment",
        "assessment_type",
        "date",
        "weight",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            module: get!(f, Self, "code_module").to_owned(),
            presentation: get!(f, Self, "code_presentation").to_owned(),
            assessment: get!(f, Self, "id_assessment").to_owned(),
            kind: get!(f, Self, "assessment_type").to_owned(),
            date: optional("date", get!(f, Self, "date"))?,
            weight: number("weight", get!(f, Self, "weight"))?,
        })
    }
}

impl AssessmentRow {
    pub fn key(&self) -> String {
        presentation_key(&self.module, &self.presentation)
    }

    /// TMA (tutor-marked) → assignment, CMA (computer-marked) → quiz, Exam
    /// → exam; scores are out of 100, pass mark 40; a missing date (11
    /// exams) leaves `dueAt` empty.
    pub fn assessment(&self, start: DateTime<Utc>) -> Result<Assessment, RowError> {
        let kind = match self.kind.as_str() {
            "TMA" => AssessmentKind::Assignment,
            "CMA" => AssessmentKind::Quiz,
            "Exam" => AssessmentKind::Exam,
            other => {
                return Err(RowError(format!(
                    "assessment_type: unknown value {other:?}"
                )));
            }
        };
        Ok(Assessment {
            id: id(ids::ASSESSMENT, &self.assessment),
            course_id: id(ids::COURSE, &self.key()),
            unit_id: None,
            origin: origin(self.assessment.clone()),
            title: format!("{} {}", self.kind, self.assessment),
            kind,
            max_score: 100.0,
            pass_score: Some(PASS_SCORE),
            weight: self.weight,
            due_at: self.date.map(|d| at_day(start, d)),
        })
    }
}

/// One row of `studentAssessment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub assessment: String,
    pub student: String,
    pub date_submitted: i64,
    pub is_banked: bool,
    pub score: Option<f64>,
}

impl Row for Submission {
    const FILE: &'static str = "studentAssessment.csv.gz";
    const HEADER: &'static [&'static str] = &[
        "id_assessment",
        "id_student",
        "date_submitted",
        "is_banked",
        "score",
    ];
    fn parse(f: &[String]) -> Result<Self, RowError> {
        Ok(Self {
            assessment: get!(f, Self, "id_assessment").to_owned(),
            student: get!(f, Self, "id_student").to_owned(),
            date_submitted: number("date_submitted", get!(f, Self, "date_submitted"))?,
            is_banked: get!(f, Self, "is_banked") == "1",
            score: optional("score", get!(f, Self, "score"))?,
        })
    }
}

impl Submission {
    /// The attempt (attempt 1, submitted at noon of `date_submitted`). A
    /// submission without a score (173 rows) is not an attempt Lumen can
    /// store: it is reported and skipped.
    pub fn attempt(&self, start: DateTime<Utc>) -> Result<AssessmentAttempt, RowError> {
        let score = self
            .score
            .ok_or_else(|| RowError("score missing (submitted, not marked)".to_owned()))?;
        let key = format!("{}-{}", self.assessment, self.student);
        Ok(AssessmentAttempt {
            id: id(ids::ATTEMPT, &key),
            assessment_id: id(ids::ASSESSMENT, &self.assessment),
            user_id: id(ids::USER, &self.student),
            origin: origin(key),
            attempt_number: 1,
            score,
            started_at: None,
            submitted_at: at_day(start, self.date_submitted),
        })
    }
}

/// Parses one row with its table's header check done by the caller.
pub fn parse_row<R: Row>(line: &str) -> Result<R, RowError> {
    R::parse(&split_csv(line))
}

/// `Ok` when `line` is `R`'s header (quoted or not).
pub fn check_header<R: Row>(line: &str) -> Result<(), RowError> {
    let found = split_csv(line);
    if found
        .iter()
        .map(String::as_str)
        .eq(R::HEADER.iter().copied())
    {
        Ok(())
    } else {
        Err(RowError(format!(
            "{}: header {:?}, expected {:?}",
            R::FILE,
            found,
            R::HEADER
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Vec<String> {
        split_csv(s)
    }

    #[test]
    fn csv_fields_quoted_or_not() {
        assert_eq!(fields("\"AAA\",\"2013J\",\"\"\r"), ["AAA", "2013J", ""]);
        assert_eq!(fields("1752,11391,18,0,"), ["1752", "11391", "18", "0", ""]);
        assert_eq!(fields("\"a,b\",\"say \"\"hi\"\"\""), ["a,b", "say \"hi\""]);
    }

    #[test]
    fn presentations_start_in_february_or_october() {
        let p: Presentation = parse_row("\"BBB\",\"2014B\",\"234\"").expect("row");
        assert_eq!(p.start.to_rfc3339(), "2014-02-01T00:00:00+00:00");
        assert_eq!(p.end().to_rfc3339(), "2014-09-23T12:00:00+00:00");
        assert!(presentation_start("2014X").is_err());
        assert_eq!(
            at_day(presentation_start("2013J").expect("J"), -10).to_rfc3339(),
            "2013-09-21T12:00:00+00:00"
        );
    }

    fn info(result: &str) -> StudentInfo {
        parse_row(&format!(
            "\"AAA\",\"2013J\",\"11391\",\"F\",\"Scotland\",\"HE Qualification\",\"\",\"35-55\",\"1\",\"240\",\"N\",\"{result}\""
        ))
        .expect("info")
    }

    fn reg(registered: &str, unregistered: &str) -> Registration {
        parse_row(&format!(
            "\"AAA\",\"2013J\",\"11391\",\"{registered}\",\"{unregistered}\""
        ))
        .expect("registration")
    }

    fn presentation() -> Presentation {
        parse_row("\"AAA\",\"2013J\",\"268\"").expect("p")
    }

    #[test]
    fn final_results_map_to_status_outcome_and_dates() {
        let p = presentation();
        let e = enrolment(&p, &info("Withdrawn"), &reg("-159", "12"));
        assert_eq!(e.status, EnrolmentStatus::Withdrawn);
        assert_eq!(e.withdrawn_at, Some(at_day(p.start, 12)));
        assert_eq!(e.enrolled_at, at_day(p.start, -159));
        assert!(e.validate().is_ok());
        // No unregistration date: withdrawn at the end.
        let e = enrolment(&p, &info("Withdrawn"), &reg("", ""));
        assert_eq!(e.withdrawn_at, Some(p.end()));
        assert_eq!(e.enrolled_at, p.start);
        for (result, outcome) in [
            ("Pass", Outcome::Pass),
            ("Distinction", Outcome::Distinction),
            ("Fail", Outcome::Fail),
        ] {
            let e = enrolment(&p, &info(result), &reg("-5", "100"));
            assert_eq!(e.status, EnrolmentStatus::Completed);
            assert_eq!(e.outcome, Some(outcome));
            assert_eq!(e.completed_at, Some(p.end()));
            assert!(e.validate().is_ok());
        }
        assert!(parse_row::<StudentInfo>(&"\"x\",".repeat(11).replace("x", "1")).is_err());
    }

    #[test]
    fn demographics_encode_missing_imd() {
        let d = info("Pass").demographics();
        assert_eq!(d.len(), DEMOGRAPHIC_FEATURES.len());
        assert_eq!(d, vec![1.0, 0.0, 1.0, 0.0, 3.0, 4.5, 1.0, 1.0, 240.0]);
        let mut i = info("Pass");
        i.imd_band = "10-20".to_owned();
        assert_eq!(i.demographics()[5..7], [1.0, 0.0]);
    }

    #[test]
    fn repeated_click_rows_get_distinct_ids_and_scores_must_exist() {
        let c: Clicks = parse_row("AAA,2013J,28400,546652,-10,4").expect("clicks");
        let start = presentation().start;
        assert_ne!(c.interaction(start, 0).id, c.interaction(start, 1).id);
        assert_eq!(c.interaction(start, 0).clicks, 4);
        let s: Submission = parse_row("1752,11391,18,0,").expect("submission");
        assert!(s.attempt(start).is_err());
        let s: Submission = parse_row("1752,11391,18,0,78").expect("submission");
        assert_eq!(s.attempt(start).map(|a| a.score), Ok(78.0));
    }
}
