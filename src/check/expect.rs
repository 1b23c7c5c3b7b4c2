//! What a verdict compares with: the expectations (read from a scenario's `[expect]` by `scenario`, or written
//! by hand for a recorded history), and the plain facts a run adds (its counts, the timing watches' outcomes).
//! Nothing here knows the engine or the model.

/// A scenario's `[expect]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Guarantees or invariants that must hold.
    pub holds: Vec<String>,
    /// Guarantees or invariants the scenario demonstrates broken: at least one of their invariants must fire.
    pub violated: Vec<String>,
    /// Things that must have happened at least once (in a scope, if given).
    pub happened: Vec<Happened>,
    /// The liveness phase: after the scenario's duration, heal everything and give the cluster this long to
    /// converge; then each `LivenessCheck` must pass, except those listed in `unconverged`.
    pub liveness_us: Option<u64>,
    pub unconverged: Vec<LivenessCheck>,
    /// Conditions that must hold within a time after a fault (`[[expect.within]]`), watched by the run.
    pub within: Vec<Within>,
    /// Exact contents: a final log's records (`[[expect.log]]`) or what a group processed from a partition
    /// (`[[expect.processed]]`).
    pub contents: Vec<Contents>,
}

impl Expectations {
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty()
            && self.violated.is_empty()
            && self.happened.is_empty()
            && self.within.is_empty()
            && self.contents.is_empty()
    }

    /// Whether `holds` or `violated` asks for `invariant`, by name or through a guarantee.
    pub fn names_invariant(&self, invariant: &str) -> bool {
        let mut names = self.holds.iter().chain(&self.violated);
        names.any(|name| super::expand(name).is_some_and(|invariants| invariants.contains(&invariant)))
    }
}

/// Where an exact record sequence is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentsOf {
    /// The partition's final log, from its start offset.
    FinalLog { partition: u32 },
    /// The records the group processed from the partition, in the order processed (reprocessing included).
    Processed { group: u32, partition: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contents {
    pub of: ContentsOf,
    /// (producer, send number) per record.
    pub records: Vec<(u32, u64)>,
    /// How the scenario named it, for the verdict.
    pub name: String,
}

/// `[[expect.within]]` as the verdict names it: a condition (as written), its bound, and the fault whose first
/// firing starts the clock (an index into `[[faults]]`; `None`: the start of the run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Within {
    pub condition: String,
    pub within_us: u64,
    pub after_fault: Option<usize>,
}

/// How a `Within` fared in a run: when its clock started (if it did) and when its condition held (if it did).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithinOutcome {
    pub within: Within,
    pub started_at: Option<u64>,
    pub held_at: Option<u64>,
}

/// The checks of the liveness phase: the cluster's state at its end and the clients' progress since the heal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LivenessCheck {
    PartitionsLed,
    IsrFull,
    GroupsStable,
    ProducersProgress,
    ConsumersProgress,
}

impl LivenessCheck {
    pub const ALL: [LivenessCheck; 5] = [
        LivenessCheck::PartitionsLed,
        LivenessCheck::IsrFull,
        LivenessCheck::GroupsStable,
        LivenessCheck::ProducersProgress,
        LivenessCheck::ConsumersProgress,
    ];

    /// As scenarios, summaries and JUnit name it.
    pub fn name(self) -> &'static str {
        match self {
            LivenessCheck::PartitionsLed => "partitions-led",
            LivenessCheck::IsrFull => "isr-full",
            LivenessCheck::GroupsStable => "groups-stable",
            LivenessCheck::ProducersProgress => "producers-progress",
            LivenessCheck::ConsumersProgress => "consumers-progress",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What `happened` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happening {
    Fault,
    LeaderElection,
    UncleanElection,
    PartitionOffline,
    IsrShrink,
    IsrExpand,
    Truncation,
    Rebalance,
    ProduceRetry,
    SendFailed,
    CommitFailed,
    OffsetReset,
    TruncationDetected,
    OffsetsExpired,
    TriggersFired,
}

impl Happening {
    pub const ALL: [Happening; 15] = [
        Happening::Fault,
        Happening::LeaderElection,
        Happening::UncleanElection,
        Happening::PartitionOffline,
        Happening::IsrShrink,
        Happening::IsrExpand,
        Happening::Truncation,
        Happening::Rebalance,
        Happening::ProduceRetry,
        Happening::SendFailed,
        Happening::CommitFailed,
        Happening::OffsetReset,
        Happening::TruncationDetected,
        Happening::OffsetsExpired,
        Happening::TriggersFired,
    ];

    /// As scenarios write it.
    pub fn name(self) -> &'static str {
        match self {
            Happening::Fault => "fault",
            Happening::LeaderElection => "leader-election",
            Happening::UncleanElection => "unclean-election",
            Happening::PartitionOffline => "partition-offline",
            Happening::IsrShrink => "isr-shrink",
            Happening::IsrExpand => "isr-expand",
            Happening::Truncation => "truncation",
            Happening::Rebalance => "rebalance",
            Happening::ProduceRetry => "produce-retry",
            Happening::SendFailed => "send-failed",
            Happening::CommitFailed => "commit-failed",
            Happening::OffsetReset => "offset-reset",
            Happening::TruncationDetected => "truncation-detected",
            Happening::OffsetsExpired => "offsets-expired",
            Happening::TriggersFired => "triggers-fired",
        }
    }
}

/// Which occurrences count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Those about these partitions (by cluster-wide index).
    Partitions(Vec<u32>),
    /// Those with this error (a Kafka error name).
    Error(String),
    /// Everything (happenings not about a partition).
    Everything,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Happened {
    /// As the scenario wrote it.
    pub name: String,
    pub what: Happening,
    pub scope: Scope,
}

/// Cluster events about one partition, as a run counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionCounts {
    pub leader_elections: u64,
    pub unclean_leader_elections: u64,
    pub offline: u64,
    /// By its leader or by the controller.
    pub isr_shrinks: u64,
    pub isr_expands: u64,
    pub truncations: u64,
}

/// The counts of a run that `happened` reads besides the history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub faults_fired: u64,
    /// Group state changes at coordinators (a rebalance is several).
    pub group_rebalance_steps: u64,
    pub offsets_expired: u64,
    /// Faults fired by state triggers, and triggered faults whose condition never held.
    pub triggers_fired: u64,
    pub triggers_unfired: u64,
    /// Per partition, by cluster-wide index.
    pub per_partition: Vec<PartitionCounts>,
}
