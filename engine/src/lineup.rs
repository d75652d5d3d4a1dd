//! A **lineup**: the tables one run compares, created fresh for every scenario. The `ptdiff`
//! command line and the `differential` fuzz target run [`Lineup::built_in`]; your own table
//! runs next to a built-in one in a lineup of your own, and every tool takes it: the fuzz entry
//! point [`crate::fuzz::differential_with`], the command line [`crate::cli::main_with`]
//! (`repro`, `minimize`, `run`), the minimizer [`crate::repro::minimize::minimize_with`] and
//! regression replay [`crate::repro::regression::Regression::verify_with`].
//!
//! ```
//! use ptdiff::tables::{built_in, TableConfig};
//! use ptdiff::{Lineup, PageTable, PtError};
//!
//! // Stands for your table; here the built-in fixed one under another name.
//! fn my_table(config: TableConfig) -> Result<Box<dyn PageTable>, PtError> {
//!     built_in("fixed").map_or(Err(PtError::NoMemory), |fixed| (fixed.build)(config))
//! }
//!
//! let tables = Lineup::new().with_own("my-table", my_table)?.with_built_in("fixed")?;
//! assert_eq!(tables.names().collect::<Vec<_>>(), ["my-table", "fixed"]);
//! # Ok::<(), ptdiff::lineup::LineupError>(())
//! ```

use crate::check::{Finding, Phase, Violation};
use crate::plant::Plant;
use crate::run::{table_config, Report, RunStats, Runner};
use crate::scenario::{Config, Op, Scenario, ScenarioError};
use crate::table::{PageTable, PtError};
use crate::tables::{built_in, BuiltIn, TableConfig, BUILT_IN};
use std::fmt;
use std::panic::RefUnwindSafe;
use std::sync::OnceLock;
use thiserror::Error;

/// Creates one of your tables, fresh, for one run.
pub type MakeOwn =
    dyn Fn(TableConfig) -> Result<Box<dyn PageTable>, PtError> + Send + Sync + RefUnwindSafe;

/// What a constructor given to [`Lineup::with_own`] returns: your table's type, or a table
/// already boxed.
pub trait IntoTable {
    /// The table, boxed for the runner.
    fn into_table(self) -> Box<dyn PageTable>;
}

impl<T: PageTable + 'static> IntoTable for T {
    fn into_table(self) -> Box<dyn PageTable> {
        Box::new(self)
    }
}

impl IntoTable for Box<dyn PageTable> {
    fn into_table(self) -> Box<dyn PageTable> {
        self
    }
}

/// How a member of the lineup is created.
enum Make {
    /// A built-in table ([`crate::tables::BUILT_IN`]), where a planted bug can be planted.
    BuiltIn(&'static BuiltIn),
    /// Yours.
    Own(Box<MakeOwn>),
}

/// One table of a lineup, by the name its findings carry.
struct Member {
    name: String,
    make: Make,
}

/// The tables a run compares, in the order the runner applies each operation to them.
#[derive(Default)]
pub struct Lineup {
    members: Vec<Member>,
    /// [`Lineup::check_names`], once.
    names_checked: OnceLock<Result<(), LineupError>>,
}

/// A lineup that cannot be put together, or cannot run what it was asked to.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LineupError {
    #[error("no built-in table `{name}` (built-in: {known})", known = built_in_names())]
    UnknownBuiltIn { name: String },
    #[error("two tables named `{0}` in one lineup: its findings could not tell them apart")]
    Duplicate(String),
    #[error(
        "the table added as `{given}` calls itself `{reported}` (PageTable::name): give it the \
         name it reports, which its findings carry"
    )]
    Misnamed { given: String, reported: String },
    #[error(
        "planted bug {bug} is planted in the `{table}` table, which these tables do not \
         include (they are: {names})"
    )]
    PlantNotRun { bug: String, table: String, names: String },
}

fn built_in_names() -> String {
    BUILT_IN.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

impl Lineup {
    /// No table yet.
    pub fn new() -> Lineup {
        Lineup::default()
    }

    /// Every built-in table, in [`crate::tables::BUILT_IN`] order: what `ptdiff` and the
    /// `differential` target run.
    pub fn built_in() -> Lineup {
        let members =
            BUILT_IN.iter().map(|t| Member { name: t.name.into(), make: Make::BuiltIn(t) });
        Lineup { members: members.collect(), names_checked: OnceLock::new() }
    }

    /// Adds the built-in table called `name` (`dynamic`, `fixed`, ...).
    pub fn with_built_in(self, name: &str) -> Result<Lineup, LineupError> {
        let table =
            built_in(name).ok_or_else(|| LineupError::UnknownBuiltIn { name: name.into() })?;
        self.with(Member { name: name.into(), make: Make::BuiltIn(table) })
    }

    /// Adds your table: `make` creates it fresh (nothing mapped, nothing assigned) for every
    /// run, from the scenario's [`TableConfig`]. `name` must be the name the table reports
    /// ([`PageTable::name`], which its findings and regression files carry;
    /// [`Lineup::check_names`]); the lineup uses it for a table that cannot be created and to
    /// keep names unique.
    pub fn with_own<T, F>(self, name: &str, make: F) -> Result<Lineup, LineupError>
    where
        T: IntoTable,
        F: Fn(TableConfig) -> Result<T, PtError> + Send + Sync + RefUnwindSafe + 'static,
    {
        let make: Box<MakeOwn> = Box::new(move |config| make(config).map(T::into_table));
        self.with(Member { name: name.into(), make: Make::Own(make) })
    }

    fn with(mut self, member: Member) -> Result<Lineup, LineupError> {
        if self.members.iter().any(|m| m.name == member.name) {
            return Err(LineupError::Duplicate(member.name));
        }
        self.members.push(member);
        self.names_checked = OnceLock::new();
        Ok(self)
    }

    /// Checks, once per lineup, that every table reports the name it was added under (made
    /// under the default scenario's config; a table that cannot be made then is not checked).
    /// The fuzz entry points and the command line refuse a lineup that fails it.
    pub fn check_names(&self) -> Result<(), LineupError> {
        self.names_checked
            .get_or_init(|| {
                let config = table_config(&Config::default());
                for member in &self.members {
                    let made = match &member.make {
                        Make::BuiltIn(table) => (table.build)(config),
                        Make::Own(make) => make(config),
                    };
                    match made {
                        Ok(table) if table.name() != member.name => {
                            return Err(LineupError::Misnamed {
                                given: member.name.clone(),
                                reported: table.name().to_string(),
                            })
                        }
                        _ => {}
                    }
                }
                Ok(())
            })
            .clone()
    }

    /// The tables' names, in lineup order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|m| m.name.as_str())
    }

    /// True for exactly the tables of [`Lineup::built_in`], in its order.
    pub fn is_built_in(&self) -> bool {
        self.members.len() == BUILT_IN.len()
            && self
                .members
                .iter()
                .zip(BUILT_IN)
                .all(|(m, t)| matches!(m.make, Make::BuiltIn(b) if std::ptr::eq(b, t)))
    }

    /// Checks that `plant`, if it names a bug, has its table in the lineup as a built-in table
    /// (a planted bug lives in a built-in table; it never reaches one of yours).
    pub fn check_plant(&self, plant: Plant) -> Result<(), LineupError> {
        let Some(bug) = plant.bug() else { return Ok(()) };
        let table = bug.implementation();
        if self.members.iter().any(|m| matches!(m.make, Make::BuiltIn(t) if t.name == table)) {
            return Ok(());
        }
        Err(LineupError::PlantNotRun {
            bug: bug.id().into(),
            table: table.into(),
            names: self.names().collect::<Vec<_>>().join(", "),
        })
    }

    /// Fresh tables for one run under `config`, `plant` planted in its built-in table; a
    /// table that cannot be created is a `setup` finding in it.
    pub fn make(
        &self,
        config: TableConfig,
        plant: Plant,
    ) -> Result<Vec<Box<dyn PageTable>>, Box<Finding>> {
        let mut tables = Vec::with_capacity(self.members.len());
        for member in &self.members {
            let made = match &member.make {
                Make::BuiltIn(table) => plant.build(table, config),
                Make::Own(make) => make(config),
            };
            tables.push(made.map_err(|error| {
                Finding::new(&member.name, Phase::Setup, &Op::Teardown, Violation::Setup { error })
            })?);
        }
        Ok(tables)
    }

    /// Runs `scenario` on fresh tables of the lineup with `plant` planted: what
    /// [`crate::run::run`] does with the built-in tables.
    pub fn run(&self, scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
        self.run_with(scenario, plant, false)
    }

    /// Like [`Lineup::run`], recording a trace line per operation in [`Report::trace`].
    pub fn run_traced(&self, scenario: &Scenario, plant: Plant) -> Result<Report, ScenarioError> {
        self.run_with(scenario, plant, true)
    }

    fn run_with(
        &self,
        scenario: &Scenario,
        plant: Plant,
        trace: bool,
    ) -> Result<Report, ScenarioError> {
        scenario.validate()?;
        let tables = match self.make(table_config(&scenario.config), plant) {
            Ok(tables) => tables,
            Err(finding) => {
                let stats = RunStats::default();
                return Ok(Report { finding: Some(*finding), stats, trace: Vec::new() });
            }
        };
        let runner = Runner::with_tables(scenario.config, tables);
        let runner = if trace { runner.traced() } else { runner };
        Ok(runner.run_ops(&scenario.ops))
    }
}

impl fmt::Debug for Lineup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;
    use crate::run::run;
    use crate::scenario::decode::decode;
    use crate::scenario::text;
    use crate::substrate::frames::Placement;

    fn fixed(config: TableConfig) -> Result<Box<dyn PageTable>, PtError> {
        built_in("fixed").map_or(Err(PtError::NoMemory), |t| (t.build)(config))
    }

    #[test]
    fn a_lineup_can_be_shared_by_a_fuzz_target() {
        // A `static` of libFuzzer's target, and borrowed by AFL's closure (`RefUnwindSafe`).
        fn shareable<T: Send + Sync + RefUnwindSafe>() {}
        shareable::<Lineup>();
    }

    #[test]
    fn the_built_in_lineup_runs_exactly_as_run_does() {
        let lineup = Lineup::built_in();
        assert!(lineup.is_built_in());
        assert_eq!(lineup.names().collect::<Vec<_>>(), ["dynamic", "fixed"]);
        let mut findings = 0;
        for seed in 0u64..200 {
            let bytes: Vec<u8> = (0..300u64)
                .map(|i| (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 57)) as u8 ^ i as u8)
                .collect();
            let scenario = decode(&bytes);
            let report = lineup.run(&scenario, Plant::NONE).unwrap();
            assert_eq!(report, run(&scenario, Plant::NONE).unwrap(), "seed {seed}");
            findings += usize::from(report.finding.is_some());
        }
        assert_eq!(findings, 0);
        let traced = lineup.run_traced(&text::parse("assign 0\n").unwrap(), Plant::NONE).unwrap();
        assert_eq!(traced.trace.len(), 1, "{:?}", traced.trace);
    }

    #[test]
    fn own_tables_run_next_to_built_in_ones_in_lineup_order() {
        // "Yours" is a built-in dynamic table made by your own constructor.
        let dynamic =
            |config| built_in("dynamic").map_or(Err(PtError::NoMemory), |t| (t.build)(config));
        let lineup =
            Lineup::new().with_built_in("fixed").unwrap().with_own("dynamic", dynamic).unwrap();
        assert!(!lineup.is_built_in());
        assert_eq!(format!("{lineup:?}"), r#"["fixed", "dynamic"]"#);
        assert_eq!(lineup.check_names(), Ok(()));
        let config = TableConfig {
            initial_levels: 2,
            max_levels: 5,
            domain: 1,
            placement: Placement::Low,
            all_page_sizes: false,
            growth: Default::default(),
        };
        let tables = lineup.make(config, Plant::NONE).unwrap();
        let made: Vec<_> = tables.iter().map(|t| (t.name().to_string(), t.levels())).collect();
        assert_eq!(made, [("fixed".to_string(), 4), ("dynamic".to_string(), 2)]);
        // The same scenario on the reversed lineup: findings and all, the same report.
        let scenario = text::parse("config initial_levels=2\nassign 0\nmap 0x40000 0x5 0 rw\n");
        let scenario = scenario.unwrap();
        let report = lineup.run(&scenario, Plant::NONE).unwrap();
        assert_eq!(report, run(&scenario, Plant::NONE).unwrap());
        assert_eq!((report.stats.ops, report.stats.highest_levels), (2, 4));
    }

    #[test]
    fn a_table_must_report_the_name_it_was_added_under() {
        let lineup = Lineup::new().with_built_in("dynamic").unwrap();
        assert_eq!(lineup.check_names(), Ok(()));
        let lineup = lineup.with_own("mine", fixed).unwrap();
        let misnamed = LineupError::Misnamed { given: "mine".into(), reported: "fixed".into() };
        assert_eq!(lineup.check_names(), Err(misnamed.clone()), "checked again once added to");
        assert_eq!(lineup.check_names(), Err(misnamed));
        assert_eq!(Lineup::new().with_own("fixed", fixed).unwrap().check_names(), Ok(()));
    }

    #[test]
    fn a_table_that_cannot_be_made_is_a_setup_finding_in_it() {
        let lineup = Lineup::new()
            .with_built_in("fixed")
            .unwrap()
            .with_own("broken", |_: TableConfig| Err::<Box<dyn PageTable>, _>(PtError::NoMemory))
            .unwrap();
        let report = lineup.run(&Scenario::default(), Plant::NONE).unwrap();
        let finding = report.finding.unwrap();
        assert_eq!((finding.check, finding.implementation.as_str()), (Check::Setup, "broken"));
    }

    #[test]
    fn names_are_unique_and_built_in_names_known() {
        let twice = Lineup::built_in().with_built_in("fixed").map(|_| ());
        assert_eq!(twice, Err(LineupError::Duplicate("fixed".into())));
        let mine = Lineup::new().with_own("fixed", fixed).unwrap().with_built_in("fixed");
        assert_eq!(mine.map(|_| ()), Err(LineupError::Duplicate("fixed".into())));
        let unknown = Lineup::new().with_built_in("sparse").map(|_| ()).unwrap_err();
        assert_eq!(unknown.to_string(), "no built-in table `sparse` (built-in: dynamic, fixed)");
    }

    #[test]
    fn a_planted_bug_needs_its_built_in_table_in_the_lineup() {
        use crate::plant::PlantedBug;
        assert_eq!(Lineup::new().check_plant(Plant::NONE), Ok(()));
        let Ok(f2) = Plant::select(PlantedBug::F2UnmapNoFlush) else { return };
        let with_fixed = Lineup::new().with_own("mine", fixed).unwrap().with_built_in("fixed");
        assert_eq!(with_fixed.unwrap().check_plant(f2), Ok(()));
        let without = Lineup::new().with_own("fixed", fixed).unwrap().with_built_in("dynamic");
        assert_eq!(
            without.unwrap().check_plant(f2).unwrap_err().to_string(),
            "planted bug F2 is planted in the `fixed` table, which these tables do not include \
             (they are: fixed, dynamic)"
        );
    }
}
