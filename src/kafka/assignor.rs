//! Kafka's consumer partition assignors as pure functions: `range`, `roundrobin`, `sticky` and `cooperative-sticky`
//! (org.apache.kafka.clients.consumer.RangeAssignor, RoundRobinAssignor, StickyAssignor, CooperativeStickyAssignor,
//! and internals.AbstractStickyAssignor behind the last two), and the first round of the cooperative protocol
//! (KIP-429).
//!
//! The group leader keeps the members' subscriptions in a `java.util.HashMap` keyed by member id
//! (ConsumerCoordinator.onLeaderElected), and the sticky assignors visit members in that map's iteration order, which
//! decides, for example, which member keeps an extra partition. This module reproduces that order (see `JavaTable`),
//! taking the slice of members as the order in which the leader inserted them, the JoinGroup response's order.
//!
//! Differences from Kafka: no rack-aware assignment (what Kafka does when it knows no replica racks); the range
//! assignor lists each member's topics by name; the sticky assignors ignore owned partitions that do not exist, never
//! give a member partitions of a topic it does not subscribe to (Kafka can, see `settle_ownership` and
//! `General::perform_reassignments`), and don't fail where Kafka's general algorithm throws; and the highest
//! generation is that of the members given, where Kafka's assignor object remembers the highest it has ever seen.
//! Member ids are compared as Rust strings (by UTF-8 bytes, which orders as Java's UTF-16 comparison does for
//! characters below U+E000).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A topic partition, ordered by topic name and then partition number (Kafka's TopicPartitionComparator).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One member's subscription as the leader's assignor sees it (ConsumerPartitionAssignor.Subscription). `topics` and
/// `owned` are sets: repeated entries count once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MemberSubscription {
    pub member_id: String,
    /// The member's `group.instance.id`: set for static members.
    pub group_instance_id: Option<String>,
    pub topics: Vec<String>,
    /// The partitions the member owns (the cooperative protocol's `ownedPartitions`) or was last assigned (the eager
    /// sticky assignor's user data).
    pub owned: Vec<TopicPartition>,
    /// The generation in which `owned` was assigned; `None` (or a negative number) when the member has none.
    pub generation: Option<i32>,
    /// The member's `client.rack`. Ignored: no rack-aware assignment is modelled.
    pub rack: Option<String>,
}

impl MemberSubscription {
    /// A dynamic member subscribed to `topics` that owns nothing.
    pub fn new<T: Into<String>>(member_id: impl Into<String>, topics: impl IntoIterator<Item = T>) -> Self {
        let topics = topics.into_iter().map(Into::into).collect();
        MemberSubscription { member_id: member_id.into(), topics, ..MemberSubscription::default() }
    }

    /// The same member made static with `group.instance.id` = `instance_id`.
    pub fn with_instance_id(mut self, instance_id: impl Into<String>) -> Self {
        self.group_instance_id = Some(instance_id.into());
        self
    }

    /// The same member owning `owned` since `generation`.
    pub fn with_owned(mut self, owned: Vec<TopicPartition>, generation: i32) -> Self {
        self.owned = owned;
        self.generation = Some(generation);
        self
    }
}

/// The assignors of `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Assignor {
    #[serde(rename = "range")]
    Range,
    #[serde(rename = "roundrobin")]
    RoundRobin,
    #[serde(rename = "sticky")]
    Sticky,
    #[serde(rename = "cooperative-sticky")]
    CooperativeSticky,
}

impl Assignor {
    pub const ALL: [Assignor; 4] =
        [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky];

    /// The protocol name the member sends in JoinGroup (the assignor's `name()`).
    pub fn name(&self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    fn class_name(&self) -> &'static str {
        match self {
            Assignor::Range => "RangeAssignor",
            Assignor::RoundRobin => "RoundRobinAssignor",
            Assignor::Sticky => "StickyAssignor",
            Assignor::CooperativeSticky => "CooperativeStickyAssignor",
        }
    }

    /// The assignor named by its protocol name or, as in `partition.assignment.strategy`, by its class name, simple
    /// or qualified with `org.apache.kafka.clients.consumer.`.
    pub fn from_name(name: &str) -> Option<Assignor> {
        let class = name.strip_prefix("org.apache.kafka.clients.consumer.").unwrap_or(name);
        Assignor::ALL.into_iter().find(|a| a.name() == name || a.class_name() == class)
    }

    /// Whether the assignor supports the COOPERATIVE rebalance protocol (its `supportedProtocols()`); the others
    /// support only EAGER.
    pub fn supports_cooperative(&self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }
}

impl fmt::Display for Assignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Each member's partitions, keyed by member id. Every member has an entry, possibly empty.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// The assignment `assignor` computes for `members`, given each topic's partition count. Each member's partitions are
/// listed in the order Kafka's assignor adds them, except that the range assignor lists topics by name (Kafka's order
/// there follows a HashMap of topics). For `CooperativeSticky` this is what the assignor returns in one rebalance: the
/// target assignment less the partitions that must first be revoked from their current owners.
pub fn assign(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[MemberSubscription],
) -> Assignment {
    let topics = assignable_topics(partitions_per_topic, members);
    let members = leader_order(members);
    match assignor {
        Assignor::Range => range(&topics, &members),
        Assignor::RoundRobin => round_robin(&topics, &members),
        Assignor::Sticky => sticky(&topics, &members).0,
        Assignor::CooperativeSticky => cooperative_sticky(&topics, &members),
    }
}

/// The cooperative protocol's first round (KIP-429): of the `target` assignment, a member gets now the partitions it
/// already owns and those no member owns. A partition moving from one owner to another is withheld from its new owner
/// until the old owner has revoked it and a follow-up rebalance runs (CooperativeStickyAssignor's
/// computePartitionsTransferringOwnership and adjustAssignment).
pub fn cooperative_first_round(target: &Assignment, members: &[MemberSubscription]) -> Assignment {
    withhold_moving(target, &members.iter().collect::<Vec<_>>())
}

/// `cooperative_first_round` over borrowed members.
fn withhold_moving(target: &Assignment, members: &[&MemberSubscription]) -> Assignment {
    let mut owners: BTreeMap<&TopicPartition, BTreeSet<&str>> = BTreeMap::new();
    for member in members {
        for tp in &member.owned {
            owners.entry(tp).or_default().insert(&member.member_id);
        }
    }
    let may_take = |member: &str, tp: &TopicPartition| owners.get(tp).is_none_or(|o| o.contains(member));
    target
        .iter()
        .map(|(member, partitions)| {
            (member.clone(), partitions.iter().filter(|tp| may_take(member, tp)).cloned().collect())
        })
        .collect()
}

/// The topics the leader hands its assignor (AbstractPartitionAssignor.assign): those some member subscribes to that
/// exist with at least one partition.
fn assignable_topics(
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[MemberSubscription],
) -> BTreeMap<String, u32> {
    let subscribed: BTreeSet<&str> = members.iter().flat_map(|m| m.topics.iter().map(String::as_str)).collect();
    partitions_per_topic
        .iter()
        .filter(|(topic, count)| **count > 0 && subscribed.contains(topic.as_str()))
        .map(|(topic, count)| (topic.clone(), *count))
        .collect()
}

/// The members in the iteration order of the leader's HashMap of subscriptions, filled in the order given. A member id
/// given twice keeps its first place and its last subscription, as `HashMap.put` does.
fn leader_order(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut table = JavaTable::new();
    let mut latest: BTreeMap<&str, &MemberSubscription> = BTreeMap::new();
    for member in members {
        table.insert(java_spread(java_string_hash(&member.member_id)), member.member_id.as_str());
        latest.insert(&member.member_id, member);
    }
    table.iter().map(|id| latest[id]).collect()
}

fn empty_assignment(members: &[&MemberSubscription]) -> Assignment {
    members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect()
}

fn subscribes(member: &MemberSubscription, topic: &str) -> bool {
    member.topics.iter().any(|t| t == topic)
}

/// AbstractPartitionAssignor.MemberInfo's order: static members first, by `group.instance.id`, then dynamic members by
/// member id.
fn member_info_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// The members sorted as the range and round-robin assignors sort them: a stable sort of the leader's order, as
/// Java's `Collections.sort` is stable.
fn sorted_members<'a>(members: &[&'a MemberSubscription]) -> Vec<&'a MemberSubscription> {
    let mut sorted = members.to_vec();
    sorted.sort_by(|a, b| member_info_order(a, b));
    sorted
}

/// RangeAssignor: per topic, its subscribers in MemberInfo order split the partitions into contiguous ranges, the
/// first `partitions % subscribers` of them taking one partition more than the others.
fn range(topics: &BTreeMap<String, u32>, members: &[&MemberSubscription]) -> Assignment {
    let sorted = sorted_members(members);
    let mut assignment = empty_assignment(members);
    for (topic, &count) in topics {
        let subscribers: Vec<&str> =
            sorted.iter().filter(|m| subscribes(m, topic)).map(|m| m.member_id.as_str()).collect();
        if subscribers.is_empty() {
            continue;
        }
        let n = subscribers.len() as u32;
        let (per_member, with_extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in (0..).zip(&subscribers) {
            let take = per_member + u32::from(i < with_extra);
            let partitions = assignment.get_mut(*member).expect("every member has an entry");
            partitions.extend((next..next + take).map(|p| TopicPartition::new(topic.as_str(), p)));
            next += take;
        }
    }
    assignment
}

/// RoundRobinAssignor: all partitions, by topic and then number, dealt over the members in MemberInfo order in a
/// circle, skipping members not subscribed to the partition's topic.
fn round_robin(topics: &BTreeMap<String, u32>, members: &[&MemberSubscription]) -> Assignment {
    let sorted = sorted_members(members);
    let mut assignment = empty_assignment(members);
    let mut next = 0;
    for (topic, &count) in topics {
        for partition in 0..count {
            // Some member subscribes to every assignable topic, so this ends.
            while !subscribes(sorted[next], topic) {
                next = (next + 1) % sorted.len();
            }
            let member = &sorted[next].member_id;
            assignment
                .get_mut(member)
                .expect("every member has an entry")
                .push(TopicPartition::new(topic.as_str(), partition));
            next = (next + 1) % sorted.len();
        }
    }
    assignment
}

/// AbstractStickyAssignor's generation for a member without one.
const DEFAULT_GENERATION: i32 = -1;

fn generation_of(member: &MemberSubscription) -> i32 {
    member.generation.filter(|g| *g >= 0).unwrap_or(DEFAULT_GENERATION)
}

/// The member's owned partitions, each once, in the order given.
fn owned_once(member: &MemberSubscription) -> Vec<&TopicPartition> {
    let mut seen = BTreeSet::new();
    member.owned.iter().filter(|tp| seen.insert(*tp)).collect()
}

/// What AbstractStickyAssignor.allSubscriptionsEqual learns from the subscriptions: whether all members subscribe to
/// the same topics, each member's owned partitions that still exist once claims by several members are settled, the
/// partitions that two members claimed in one generation (owned by neither afterwards), and the highest generation.
struct Ownership {
    all_equal: bool,
    owned: Assignment,
    claimed_twice: BTreeSet<TopicPartition>,
    max_generation: i32,
}

/// allSubscriptionsEqual, visiting members in the leader's order. A claim from a newer generation beats an older one,
/// and two claims from one generation cancel out. Unlike Kafka, which compares each subscription with the first
/// non-empty one, a member subscribed to no topic makes the subscriptions unequal: in Kafka, such a member visited
/// before the others gets partitions of topics it does not subscribe to.
fn settle_ownership(topics: &BTreeMap<String, u32>, members: &[&MemberSubscription]) -> Ownership {
    let mut reference: Option<BTreeSet<&str>> = None;
    let mut ownership = Ownership {
        all_equal: true,
        owned: empty_assignment(members),
        claimed_twice: BTreeSet::new(),
        max_generation: DEFAULT_GENERATION,
    };
    let mut claimant: BTreeMap<&TopicPartition, &MemberSubscription> = BTreeMap::new();
    for &member in members {
        let subscription: BTreeSet<&str> = member.topics.iter().map(String::as_str).collect();
        match &reference {
            None => reference = Some(subscription),
            Some(reference) => ownership.all_equal &= subscription == *reference,
        }
        let generation = generation_of(member);
        ownership.max_generation = ownership.max_generation.max(generation);
        // Unlike Kafka, partitions past the topic's partition count are ignored too: they don't exist.
        let exists = |tp: &TopicPartition| topics.get(&tp.topic).is_some_and(|count| tp.partition < *count);
        for tp in owned_once(member).into_iter().filter(|tp| exists(tp)) {
            let other = claimant.get(tp).map(|o| (o.member_id.as_str(), generation_of(o)));
            if other.is_some_and(|(_, g)| g == generation) {
                ownership.claimed_twice.insert(tp.clone());
            } else if other.is_some_and(|(_, g)| g > generation) {
                continue;
            } else {
                ownership.owned.get_mut(&member.member_id).expect("every member has an entry").push(tp.clone());
            }
            if let Some((other, _)) = other {
                ownership.owned.get_mut(other).expect("every member has an entry").retain(|p| p != tp);
            }
            claimant.insert(tp, member);
        }
    }
    ownership
}

/// AbstractStickyAssignor.assignPartitions: the constrained algorithm when all subscriptions are equal, the general one
/// otherwise. With the assignment come, from the constrained algorithm only, the partitions it hands from one owner
/// to another (partitionsTransferringOwnership).
fn sticky(
    topics: &BTreeMap<String, u32>,
    members: &[&MemberSubscription],
) -> (Assignment, Option<BTreeMap<TopicPartition, String>>) {
    if members.is_empty() {
        return (Assignment::new(), Some(BTreeMap::new()));
    }
    let ownership = settle_ownership(topics, members);
    if ownership.all_equal {
        let (assignment, transferring) = Constrained::assign(topics, members, &ownership);
        (assignment, Some(transferring))
    } else {
        (General::assign(topics, members, ownership), None)
    }
}

/// CooperativeStickyAssignor.assignPartitions: the sticky target less the partitions changing owner, taken from the
/// constrained algorithm when it ran and otherwise computed from the members' owned partitions.
fn cooperative_sticky(topics: &BTreeMap<String, u32>, members: &[&MemberSubscription]) -> Assignment {
    let (mut target, transferring) = sticky(topics, members);
    let Some(transferring) = transferring else {
        return withhold_moving(&target, members);
    };
    for (tp, member) in transferring {
        target.get_mut(&member).expect("every member has an entry").retain(|p| *p != tp);
    }
    target
}

/// AbstractStickyAssignor.ConstrainedAssignmentBuilder, for members with equal subscriptions: every member gets
/// `min_quota` or `max_quota` partitions, and exactly `expected_over_min` members get `max_quota` (when the quotas
/// differ). Members first keep what they own up to their quota; the rest are dealt round-robin.
struct Constrained<'a> {
    min_quota: usize,
    max_quota: usize,
    expected_over_min: usize,
    over_min: usize,
    assignment: Assignment,
    /// Members below `min_quota` (unfilledMembersWithUnderMinQuotaPartitions).
    under_min: Vec<String>,
    /// Members at `min_quota` that may still get one more (unfilledMembersWithExactlyMinQuotaPartitions).
    at_min: VecDeque<String>,
    /// Owned partitions past their owner's quota, with that owner.
    maybe_revoked: BTreeMap<TopicPartition, String>,
    claimed_twice: &'a BTreeSet<TopicPartition>,
    transferring: BTreeMap<TopicPartition, String>,
}

impl<'a> Constrained<'a> {
    /// ConstrainedAssignmentBuilder.build.
    fn assign(
        topics: &BTreeMap<String, u32>,
        members: &[&MemberSubscription],
        ownership: &'a Ownership,
    ) -> (Assignment, BTreeMap<TopicPartition, String>) {
        let total = topics.values().map(|c| *c as usize).sum::<usize>();
        let n = members.len();
        let mut builder = Constrained {
            min_quota: total / n,
            max_quota: total.div_ceil(n),
            expected_over_min: total % n,
            over_min: 0,
            assignment: empty_assignment(members),
            under_min: Vec::new(),
            at_min: VecDeque::new(),
            maybe_revoked: BTreeMap::new(),
            claimed_twice: &ownership.claimed_twice,
            transferring: BTreeMap::new(),
        };
        for member in members {
            builder.keep_owned(&member.member_id, &ownership.owned[&member.member_id]);
        }
        let assigned: BTreeSet<&TopicPartition> = builder.assignment.values().flatten().collect();
        let unassigned: Vec<TopicPartition> = topics
            .iter()
            .flat_map(|(topic, count)| (0..*count).map(move |p| TopicPartition::new(topic.as_str(), p)))
            .filter(|tp| !assigned.contains(tp))
            .collect();
        builder.under_min.sort();
        builder.at_min.make_contiguous().sort();
        builder.deal(unassigned);
        (builder.assignment, builder.transferring)
    }

    /// assignOwnedPartitions for one member: keep its owned partitions (by partition number, then topic) up to the
    /// quota it can have, and note the rest as maybe revoked.
    fn keep_owned(&mut self, member: &str, owned: &[TopicPartition]) {
        let mut owned: Vec<TopicPartition> =
            owned.iter().filter(|tp| !self.claimed_twice.contains(*tp)).cloned().collect();
        owned.sort_by(|a, b| a.partition.cmp(&b.partition).then_with(|| a.topic.cmp(&b.topic)));
        let keep = if owned.len() < self.min_quota {
            self.under_min.push(member.to_string());
            owned.len()
        } else if owned.len() >= self.max_quota && self.over_min < self.expected_over_min {
            self.over_min += 1;
            if self.over_min == self.expected_over_min {
                self.at_min.clear();
            }
            self.max_quota
        } else {
            if self.over_min < self.expected_over_min {
                self.at_min.push_back(member.to_string());
            }
            self.min_quota
        };
        for tp in owned.drain(keep..) {
            self.maybe_revoked.insert(tp, member.to_string());
        }
        self.assignment.get_mut(member).expect("every member has an entry").extend(owned);
    }

    /// assignRoundRobin: deal the unassigned partitions to the members under `min_quota` in turn, and once none is left,
    /// one each to members at `min_quota`. `cursor` plays the Java iterator over `under_min`.
    fn deal(&mut self, unassigned: Vec<TopicPartition>) {
        let mut cursor = 0;
        for tp in unassigned {
            let member = if cursor < self.under_min.len() {
                cursor += 1;
                self.under_min[cursor - 1].clone()
            } else if !self.under_min.is_empty() {
                cursor = 1;
                self.under_min[0].clone()
            } else if let Some(member) = self.at_min.pop_front() {
                member
            } else {
                // Kafka throws here; the quotas leave room for every partition, so it doesn't happen.
                debug_assert!(false, "no member can take {tp}");
                return;
            };
            let count = self.assign_new(tp, &member);
            if count == self.min_quota {
                cursor -= 1;
                self.under_min.remove(cursor);
                self.at_min.push_back(member);
            } else if count == self.max_quota {
                self.over_min += 1;
            }
        }
    }

    /// assignNewPartition: a partition that another member owned, or that two members claimed, changes owner.
    fn assign_new(&mut self, tp: TopicPartition, member: &str) -> usize {
        let moves =
            self.maybe_revoked.get(&tp).is_some_and(|owner| owner != member) || self.claimed_twice.contains(&tp);
        if moves {
            self.transferring.insert(tp.clone(), member.to_string());
        }
        let partitions = self.assignment.get_mut(member).expect("every member has an entry");
        partitions.push(tp);
        partitions.len()
    }
}

/// AbstractStickyAssignor.GeneralAssignmentBuilder, for members with different subscriptions: keep what members own
/// and still subscribe to, give each unassigned partition to the least loaded subscriber, then move partitions from
/// members with two or more partitions more than another subscriber of their topic until balanced.
struct General<'a> {
    topics: &'a BTreeMap<String, u32>,
    /// topic2AllPotentialConsumers: each topic's subscribers, in the leader's order.
    consumers_of: BTreeMap<&'a str, Vec<&'a str>>,
    /// consumer2AllPotentialTopics: each member's subscribed topics that exist.
    topics_of: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// currentAssignment, less the members taken out of balancing.
    current: Assignment,
    /// currentPartitionConsumer.
    owner: BTreeMap<TopicPartition, String>,
    /// sortedCurrentSubscriptions: members by partition count, then member id.
    by_load: BTreeSet<(usize, String)>,
    movements: Movements,
}

impl<'a> General<'a> {
    /// GeneralAssignmentBuilder.build.
    fn assign(
        topics: &'a BTreeMap<String, u32>,
        members: &[&'a MemberSubscription],
        ownership: Ownership,
    ) -> Assignment {
        let previous = previous_owners(members, ownership.max_generation);
        let mut builder = General {
            topics,
            consumers_of: topics.keys().map(|t| (t.as_str(), Vec::new())).collect(),
            topics_of: BTreeMap::new(),
            current: ownership.owned,
            owner: BTreeMap::new(),
            by_load: BTreeSet::new(),
            movements: Movements::default(),
        };
        for member in members {
            let subscribed: BTreeSet<&str> =
                member.topics.iter().map(String::as_str).filter(|t| topics.contains_key(*t)).collect();
            for topic in &subscribed {
                builder.consumers_of.get_mut(topic).expect("an assignable topic").push(&member.member_id);
            }
            builder.topics_of.insert(&member.member_id, subscribed);
        }
        let revocation_required = builder.keep_subscribed();
        let sorted = builder.sorted_partitions();
        let unassigned = sorted.iter().filter(|tp| !builder.owner.contains_key(*tp)).cloned().collect();
        builder.by_load = builder.current.iter().map(|(m, p)| (p.len(), m.clone())).collect();
        builder.balance(&previous, unassigned, sorted, revocation_required);
        builder.current
    }

    /// assignOwnedPartitions: members give up owned partitions of topics they no longer subscribe to, which requires
    /// revocation. Returns whether any did.
    fn keep_subscribed(&mut self) -> bool {
        let mut revocation_required = false;
        for (member, partitions) in &mut self.current {
            let subscribed = &self.topics_of[member.as_str()];
            let before = partitions.len();
            partitions.retain(|tp| subscribed.contains(tp.topic.as_str()));
            revocation_required |= partitions.len() < before;
            for tp in partitions.iter() {
                self.owner.insert(tp.clone(), member.clone());
            }
        }
        revocation_required
    }

    /// sortedAllPartitions: topics by subscriber count, then name (TopicComparator); each topic's partitions in order.
    fn sorted_partitions(&self) -> Vec<TopicPartition> {
        let mut topics: Vec<(&str, u32)> = self.topics.iter().map(|(t, c)| (t.as_str(), *c)).collect();
        topics.sort_by_key(|(topic, _)| (self.consumers_of[topic].len(), *topic));
        topics.into_iter().flat_map(|(topic, count)| (0..count).map(move |p| TopicPartition::new(topic, p))).collect()
    }

    /// GeneralAssignmentBuilder.balance: assign the unassigned partitions, set aside the partitions and members that
    /// cannot move, move partitions towards balance, and keep the result only if it is better balanced (unless this
    /// is the group's first assignment).
    fn balance(
        &mut self,
        previous: &BTreeMap<TopicPartition, (String, i32)>,
        mut unassigned: Vec<TopicPartition>,
        mut sorted: Vec<TopicPartition>,
        revocation_required: bool,
    ) {
        let initializing = self.by_load.last().is_none_or(|(load, _)| *load == 0);
        for tp in &unassigned {
            if let Some(member) = self.least_loaded_subscriber(&tp.topic) {
                self.give(tp.clone(), member);
            }
        }
        let movable = |tp: &TopicPartition| self.consumers_of[tp.topic.as_str()].len() >= 2;
        sorted.retain(movable);
        unassigned.retain(movable);
        let fixed = self.set_aside_fixed_members();
        let before = (self.current.clone(), self.owner.clone());
        if !revocation_required {
            self.perform_reassignments(&unassigned, previous);
        }
        let reassigned = self.perform_reassignments(&sorted, previous);
        if !initializing && reassigned && balance_score(&self.current) >= balance_score(&before.0) {
            (self.current, self.owner) = before;
        }
        self.current.extend(fixed);
    }

    /// Takes out the members that cannot take part in reassignment (canConsumerParticipateInReassignment): those that
    /// have every partition they could get, all of topics nobody else subscribes to.
    fn set_aside_fixed_members(&mut self) -> Assignment {
        let fixed: Vec<String> = self
            .current
            .iter()
            .filter(|(member, partitions)| {
                partitions.len() >= self.max_assignment_size(member)
                    && partitions.iter().all(|tp| self.consumers_of[tp.topic.as_str()].len() < 2)
            })
            .map(|(member, _)| member.clone())
            .collect();
        let mut set_aside = Assignment::new();
        for member in fixed {
            let partitions = self.current.remove(&member).expect("a current member");
            self.by_load.remove(&(partitions.len(), member.clone()));
            set_aside.insert(member, partitions);
        }
        set_aside
    }

    /// getMaxAssignmentSize: every partition of the member's subscribed topics.
    fn max_assignment_size(&self, member: &str) -> usize {
        self.topics_of[member].iter().map(|t| self.topics[*t] as usize).sum()
    }

    fn load(&self, member: &str) -> usize {
        self.current[member].len()
    }

    /// The first member by load, then id, subscribed to `topic`.
    fn least_loaded_subscriber(&self, topic: &str) -> Option<String> {
        self.by_load.iter().map(|(_, m)| m).find(|m| self.topics_of[m.as_str()].contains(topic)).cloned()
    }

    /// maybeAssignPartition: the member takes an unassigned partition.
    fn give(&mut self, tp: TopicPartition, member: String) {
        self.by_load.remove(&(self.load(&member), member.clone()));
        self.current.get_mut(&member).expect("a current member").push(tp.clone());
        self.owner.insert(tp, member.clone());
        self.by_load.insert((self.load(&member), member));
    }

    /// performReassignments: pass over `partitions` until balanced, moving a partition back to its previous owner
    /// when that owner has two or more partitions fewer, or else to the least loaded subscriber when some subscriber
    /// has two or more fewer; repeat while passes move something. Returns whether anything moved.
    fn perform_reassignments(
        &mut self,
        partitions: &[TopicPartition],
        previous: &BTreeMap<TopicPartition, (String, i32)>,
    ) -> bool {
        let mut reassigned = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let load = self.load(&self.owner[tp]);
                // Unlike Kafka, the previous owner must still subscribe to the topic (Kafka would give it the
                // partition anyway) and be among the members being balanced (Kafka would fail).
                if let Some((prev, _)) = previous.get(tp)
                    && self.topics_of.get(prev.as_str()).is_some_and(|t| t.contains(tp.topic.as_str()))
                    && self.current.get(prev).is_some_and(|p| load > p.len() + 1)
                {
                    self.reassign(tp, prev.clone());
                    modified = true;
                    continue;
                }
                let subscribers = &self.consumers_of[tp.topic.as_str()];
                if subscribers.iter().any(|m| self.current.get(*m).is_some_and(|p| load > p.len() + 1)) {
                    let member = self.least_loaded_subscriber(&tp.topic).expect("a subscriber");
                    self.reassign(tp, member);
                    modified = true;
                }
            }
            reassigned |= modified;
            if !modified {
                return reassigned;
            }
        }
    }

    /// isBalanced: loads differ by at most one, or no member could take a partition of its topics from a member with
    /// two or more partitions more.
    fn is_balanced(&self) -> bool {
        let (Some((min, _)), Some((max, _))) = (self.by_load.first(), self.by_load.last()) else {
            return true;
        };
        if *min + 1 >= *max {
            return true;
        }
        self.by_load.iter().all(|(load, member)| {
            *load == self.max_assignment_size(member)
                || self.topics_of[member.as_str()].iter().all(|topic| {
                    (0..self.topics[*topic]).all(|p| match self.owner.get(&TopicPartition::new(*topic, p)) {
                        Some(other) if other != member => self.current.get(other).is_none_or(|o| load + 1 >= o.len()),
                        _ => true,
                    })
                })
        })
    }

    /// reassignPartition: move `tp`, or the partition that undoes an earlier opposite move, to `member`.
    fn reassign(&mut self, tp: &TopicPartition, member: String) {
        let moved = self.movements.partition_to_move(tp, &self.owner[tp], &member);
        self.move_partition(moved, member);
    }

    /// processPartitionMovement.
    fn move_partition(&mut self, tp: TopicPartition, to: String) {
        let from = self.owner[&tp].clone();
        self.by_load.remove(&(self.load(&from), from.clone()));
        self.by_load.remove(&(self.load(&to), to.clone()));
        self.movements.record(&tp, &from, &to);
        self.current.get_mut(&from).expect("a current member").retain(|p| *p != tp);
        self.current.get_mut(&to).expect("a current member").push(tp.clone());
        self.owner.insert(tp, to.clone());
        self.by_load.insert((self.load(&to), to));
        self.by_load.insert((self.load(&from), from));
    }
}

/// prepopulateCurrentAssignments: the partitions owned by members of older generations than the newest, each with its
/// owner of the newest such generation (the first one met, among equals, in the leader's order).
fn previous_owners(members: &[&MemberSubscription], max_generation: i32) -> BTreeMap<TopicPartition, (String, i32)> {
    let mut previous: BTreeMap<TopicPartition, (String, i32)> = BTreeMap::new();
    for member in members {
        let generation = generation_of(member);
        if generation >= max_generation {
            continue;
        }
        for tp in owned_once(member) {
            let newer = previous.get(tp).is_none_or(|(_, g)| generation > *g);
            if newer {
                previous.insert(tp.clone(), (member.member_id.clone(), generation));
            }
        }
    }
    previous
}

/// getBalanceScore: the sum, over all pairs of members, of the difference of their partition counts.
fn balance_score(assignment: &Assignment) -> usize {
    let loads: Vec<usize> = assignment.values().map(Vec::len).collect();
    loads.iter().enumerate().map(|(i, a)| loads[i + 1..].iter().map(|b| a.abs_diff(*b)).sum::<usize>()).sum()
}

/// AbstractStickyAssignor.PartitionMovements: each moved partition's first source and current destination, and per
/// topic the partitions moved between each (source, destination) pair, so that a move back undoes an earlier move.
#[derive(Default)]
struct Movements {
    moves: BTreeMap<TopicPartition, (String, String)>,
    /// Per topic and pair, a model of Kafka's HashSet of partitions, whose iteration order picks the partition moved.
    by_topic: BTreeMap<String, BTreeMap<(String, String), JavaTable<TopicPartition>>>,
}

impl Movements {
    /// getTheActualPartitionToBeMoved: moving `tp` from `from` to `to` when partitions of its topic earlier moved from
    /// `to` to (the first source of) `from` instead moves one of those back.
    fn partition_to_move(&self, tp: &TopicPartition, from: &str, to: &str) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let from = self.moves.get(tp).map_or(from, |(source, _)| source.as_str());
        match pairs.get(&(to.to_string(), from.to_string())).and_then(|set| set.iter().next()) {
            Some(moved_before) => moved_before.clone(),
            None => tp.clone(),
        }
    }

    /// movePartition: record `tp` moving from `from` to `to`, folding it into its earlier move if it had one.
    fn record(&mut self, tp: &TopicPartition, from: &str, to: &str) {
        let source = match self.forget(tp) {
            Some((source, _)) if source == to => return,
            Some((source, _)) => source,
            None => from.to_string(),
        };
        let pair = (source, to.to_string());
        self.moves.insert(tp.clone(), pair.clone());
        let set = self.by_topic.entry(tp.topic.clone()).or_default().entry(pair).or_insert_with(JavaTable::new);
        set.insert(java_spread(java_partition_hash(tp)), tp.clone());
    }

    /// removeMovementRecordOfPartition.
    fn forget(&mut self, tp: &TopicPartition) -> Option<(String, String)> {
        let pair = self.moves.remove(tp)?;
        let pairs = self.by_topic.get_mut(&tp.topic).expect("a recorded topic");
        let set = pairs.get_mut(&pair).expect("a recorded pair");
        set.remove(java_spread(java_partition_hash(tp)), tp);
        if set.is_empty() {
            pairs.remove(&pair);
        }
        if pairs.is_empty() {
            self.by_topic.remove(&tp.topic);
        }
        Some(pair)
    }
}

/// Java's `String.hashCode`: h = 31 * h + c over the UTF-16 code units, wrapping.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's `TopicPartition.hashCode`: 31 * (31 + partition) + the topic's hash, wrapping.
fn java_partition_hash(tp: &TopicPartition) -> i32 {
    31i32.wrapping_mul(31i32.wrapping_add(tp.partition as i32)).wrapping_add(java_string_hash(&tp.topic))
}

/// `HashMap.hash`: the hash code with its high half folded into its low half.
fn java_spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// A model of a `java.util.HashMap`'s (or `HashSet`'s) buckets, built with the default capacity (16) and load factor
/// (0.75), enough to reproduce its iteration order: buckets in index order, each bucket's chain in insertion order. The
/// table doubles when it holds more than three quarters of its capacity, or when a chain reaches 9 keys while it has
/// fewer than 64 buckets. Java turns such a chain into a tree in larger tables, which iterates in another order; that
/// is not modelled (it takes 9 keys whose spread hashes agree in their low 6 or more bits).
struct JavaTable<K> {
    buckets: Vec<Vec<(u32, K)>>,
    len: usize,
}

impl<K: PartialEq> JavaTable<K> {
    fn new() -> Self {
        JavaTable { buckets: (0..16).map(|_| Vec::new()).collect(), len: 0 }
    }

    fn bucket(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// `put` of a new key (a key already present keeps its place).
    fn insert(&mut self, hash: u32, key: K) {
        let b = self.bucket(hash);
        if self.buckets[b].iter().any(|(_, k)| *k == key) {
            return;
        }
        self.buckets[b].push((hash, key));
        if self.buckets[b].len() > 8 && self.buckets.len() < 64 {
            self.resize();
        }
        self.len += 1;
        if self.len > self.buckets.len() * 3 / 4 {
            self.resize();
        }
    }

    fn remove(&mut self, hash: u32, key: &K) {
        let b = self.bucket(hash);
        if let Some(i) = self.buckets[b].iter().position(|(_, k)| k == key) {
            self.buckets[b].remove(i);
            self.len -= 1;
        }
    }

    /// Doubles the buckets; each chain splits in two keeping its order, as Java's resize does.
    fn resize(&mut self) {
        let capacity = self.buckets.len() * 2;
        let mut buckets: Vec<Vec<(u32, K)>> = (0..capacity).map(|_| Vec::new()).collect();
        for (hash, key) in self.buckets.drain(..).flatten() {
            buckets[hash as usize & (capacity - 1)].push((hash, key));
        }
        self.buckets = buckets;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn iter(&self) -> impl Iterator<Item = &K> {
        self.buckets.iter().flatten().map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The generation Kafka's assignor tests give owned partitions (AbstractStickyAssignorTest.generationId).
    const GENERATION: i32 = 1;

    fn tp(topic: &str, partition: u32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn topics(counts: &[(&str, u32)]) -> BTreeMap<String, u32> {
        counts.iter().map(|(t, c)| (t.to_string(), *c)).collect()
    }

    /// A member without owned partitions (the tests' `subscription(topics, i)`).
    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription::new(id, topics.iter().copied())
    }

    /// A member owning partitions since a generation (the tests' `buildSubscriptionV2Above`); a negative generation
    /// is none.
    fn owning(id: &str, topics: &[&str], owned: Vec<TopicPartition>, generation: i32) -> MemberSubscription {
        member(id, topics).with_owned(owned, generation)
    }

    /// Partitions written as in Kafka's rack tests: "t1-0, t1-3".
    fn parse(list: &str) -> Vec<TopicPartition> {
        list.split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (topic, p) = s.rsplit_once('-').expect("topic-partition");
                tp(topic, p.parse().expect("a partition number"))
            })
            .collect()
    }

    fn set(partitions: &[TopicPartition]) -> BTreeSet<TopicPartition> {
        partitions.iter().cloned().collect()
    }

    /// `HashMap.put`: replaces the member with the same id where it is, or adds it at the end.
    fn put(members: &mut Vec<MemberSubscription>, m: MemberSubscription) {
        match members.iter_mut().find(|x| x.member_id == m.member_id) {
            Some(slot) => *slot = m,
            None => members.push(m),
        }
    }

    fn remove(members: &mut Vec<MemberSubscription>, id: &str) {
        members.retain(|m| m.member_id != id);
    }

    fn expect(a: &Assignment, member: &str, partitions: &[TopicPartition]) {
        assert_eq!(a[member], partitions, "{member} in {a:?}");
    }

    /// AbstractStickyAssignorTest.isFullyBalanced.
    fn is_fully_balanced(a: &Assignment) -> bool {
        let loads = a.values().map(Vec::len);
        loads.clone().max().unwrap_or(0) - loads.min().unwrap_or(0) <= 1
    }

    /// partitionsTransferringOwnership of the constrained algorithm, read off as what the cooperative assignor
    /// withholds from the sticky target.
    fn transferring(t: &BTreeMap<String, u32>, members: &[MemberSubscription]) -> BTreeMap<TopicPartition, String> {
        let target = assign(Assignor::Sticky, t, members);
        let first = assign(Assignor::CooperativeSticky, t, members);
        let mut moving = BTreeMap::new();
        for (m, partitions) in &target {
            moving.extend(partitions.iter().filter(|p| !first[m].contains(p)).map(|p| (p.clone(), m.clone())));
        }
        moving
    }

    /// AbstractStickyAssignorTest.verifyValidityAndBalance: each member gets only partitions of its topics, no
    /// partition goes to two members, and members whose loads differ by two or more share no topic.
    fn check_valid_and_balanced(members: &[MemberSubscription], a: &Assignment) {
        assert_eq!(members.len(), a.len());
        let subscription: BTreeMap<&str, &MemberSubscription> =
            members.iter().map(|m| (m.member_id.as_str(), m)).collect();
        let entries: Vec<(&String, &Vec<TopicPartition>)> = a.iter().collect();
        for (i, (member, partitions)) in entries.iter().enumerate() {
            for p in partitions.iter() {
                assert!(subscribes(subscription[member.as_str()], &p.topic), "{p} given to {member}: {a:?}");
            }
            for (other, other_partitions) in &entries[i + 1..] {
                assert!(set(partitions).is_disjoint(&set(other_partitions)), "{member} and {other} share: {a:?}");
                if partitions.len().abs_diff(other_partitions.len()) > 1 {
                    let topics: BTreeSet<&str> = partitions.iter().map(|p| p.topic.as_str()).collect();
                    assert!(other_partitions.iter().all(|p| !topics.contains(p.topic.as_str())), "unbalanced: {a:?}");
                }
            }
        }
    }

    /// CooperativeStickyAssignorTest.verifyCooperativeValidity: no partition is revoked from one member and added to
    /// another in the same round. Returns whether any partition is revoked.
    fn revokes(members: &[MemberSubscription], a: &Assignment) -> bool {
        let (mut added, mut revoked) = (BTreeSet::new(), BTreeSet::new());
        for m in members {
            let given = &a[&m.member_id];
            added.extend(given.iter().filter(|p| !m.owned.contains(p)).cloned());
            revoked.extend(m.owned.iter().filter(|p| !given.contains(p)).cloned());
        }
        assert!(added.is_disjoint(&revoked), "moved without revocation: {:?}", added.intersection(&revoked));
        !revoked.is_empty()
    }

    /// verifyValidityAndBalance, with CooperativeStickyAssignorTest's override for the cooperative assignor: while a
    /// round revokes partitions, rebalance again with the members owning what they were given (at most 4 times).
    /// Like Kafka's test, leaves the settled assignment in `a` and the last subscriptions in `members`.
    fn verify(assignor: Assignor, t: &BTreeMap<String, u32>, members: &mut [MemberSubscription], a: &mut Assignment) {
        if assignor == Assignor::CooperativeSticky {
            let mut rebalances = 0;
            while revokes(members, a) {
                for m in members.iter_mut() {
                    m.owned = a[&m.member_id].clone();
                    m.generation = Some(GENERATION);
                }
                *a = assign(assignor, t, members);
                rebalances += 1;
                assert!(rebalances <= 4, "no settled assignment after {rebalances} rebalances");
            }
        }
        check_valid_and_balanced(members, a);
    }

    const STICKY: [Assignor; 2] = [Assignor::Sticky, Assignor::CooperativeSticky];

    // AbstractPartitionAssignorTest.testMemberInfoSortingSomeGroupInstanceId and
    // testMemberInfoSortingWithAllGroupInstanceId.
    #[test]
    fn member_info_order_puts_static_members_first() {
        let (a, b, c) =
            (member("a", &[]), member("b", &[]).with_instance_id("y"), member("c", &[]).with_instance_id("x"));
        let sorted = sorted_members(&[&a, &b, &c]);
        assert_eq!(sorted.iter().map(|m| m.member_id.as_str()).collect::<Vec<_>>(), ["c", "b", "a"]);
        let a = a.with_instance_id("y");
        let b = member("b", &[]).with_instance_id("z");
        let sorted = sorted_members(&[&a, &b, &c]);
        assert_eq!(sorted.iter().map(|m| m.member_id.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);
    }

    #[test]
    fn assignor_names() {
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(
            Assignor::from_name("org.apache.kafka.clients.consumer.RoundRobinAssignor"),
            Some(Assignor::RoundRobin)
        );
        assert_eq!(Assignor::from_name("CooperativeStickyAssignor"), Some(Assignor::CooperativeSticky));
        assert_eq!(Assignor::from_name("uniform"), None);
        assert!(Assignor::CooperativeSticky.supports_cooperative() && !Assignor::Sticky.supports_cooperative());
    }

    // Orders printed by a JDK 17 for the same insertions.
    #[test]
    fn java_hash_order_matches_the_jdk() {
        assert_eq!(java_string_hash("consumer1"), -421004549);
        assert_eq!(java_string_hash("été"), 227742);
        assert_eq!(java_partition_hash(&tp("topic", 3)), 110547277);
        let members: Vec<MemberSubscription> = (1..=4).map(|i| member(&format!("consumer{i}"), &[])).collect();
        let order: Vec<&str> = leader_order(&members).iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(order, ["consumer4", "consumer3", "consumer2", "consumer1"]);
        let members: Vec<MemberSubscription> = (0..20).map(|i| member(&format!("member-{i}"), &[])).collect();
        let order: Vec<&str> = leader_order(&members).iter().map(|m| m.member_id.as_str()).collect();
        let jdk = "19 18 17 16 5 15 6 14 3 13 4 12 9 11 10 7 8 1 2 0".split(' ').map(|i| format!("member-{i}"));
        assert_eq!(order, jdk.collect::<Vec<_>>());
        // Nine keys in one bucket of a 16-bucket table double it.
        let mut table = JavaTable::new();
        for k in (0..9).map(|i| i * 16).chain([1]) {
            table.insert(k, k);
        }
        assert_eq!(table.iter().copied().collect::<Vec<_>>(), [0, 32, 64, 96, 128, 1, 16, 48, 80, 112]);
        let mut table = JavaTable::new();
        for k in (0..8).map(|i| i * 16).chain([1]) {
            table.insert(k, k);
        }
        table.remove(32, &32);
        table.insert(200, 200);
        table.insert(32, 32);
        assert_eq!(table.iter().copied().collect::<Vec<_>>(), [0, 16, 48, 64, 80, 96, 112, 32, 1, 200]);
    }

    /// The consumers "consumer0", "consumer1"… of AbstractPartitionAssignorTest.verifyRackAssignment, subscribed to
    /// `consumer_topics`, must get the partitions `expected` lists (each as in "t1-0, t1-3"), in any order.
    fn check_consumers(assignor: Assignor, t: &BTreeMap<String, u32>, consumer_topics: &[&[&str]], expected: &[&str]) {
        let members: Vec<MemberSubscription> =
            consumer_topics.iter().enumerate().map(|(i, topics)| member(&format!("consumer{i}"), topics)).collect();
        let a = assign(assignor, t, &members);
        for (i, partitions) in expected.iter().enumerate() {
            assert_eq!(set(&a[&format!("consumer{i}")]), set(&parse(partitions)), "consumer{i} in {a:?}");
        }
    }

    /// The assignment by `group.instance.id` (checkStaticAssignment).
    fn by_instance(a: &Assignment, members: &[MemberSubscription]) -> BTreeMap<String, Vec<TopicPartition>> {
        let instance = |m: &MemberSubscription| m.group_instance_id.clone().map(|i| (i, a[&m.member_id].clone()));
        members.iter().filter_map(instance).collect()
    }

    // RangeAssignorTest and RoundRobinAssignorTest.testOneConsumerNoTopic, testOneConsumerNonexistentTopic,
    // testOneConsumerOneTopic, testOnlyAssignsPartitionsFromSubscribedTopics and testOneConsumerMultipleTopics.
    #[test]
    fn range_and_round_robin_one_consumer() {
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let a = assign(assignor, &topics(&[]), &[member("consumer", &[])]);
            assert_eq!(a, Assignment::from([("consumer".to_string(), vec![])]));
            let a = assign(assignor, &topics(&[]), &[member("consumer", &["topic"])]);
            assert_eq!(a, Assignment::from([("consumer".to_string(), vec![])]));
            let a = assign(assignor, &topics(&[("topic", 3)]), &[member("consumer", &["topic"])]);
            expect(&a, "consumer", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
            let a = assign(assignor, &topics(&[("topic", 3), ("other", 3)]), &[member("consumer", &["topic"])]);
            expect(&a, "consumer", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
            let t = topics(&[("topic1", 1), ("topic2", 2)]);
            let a = assign(assignor, &t, &[member("consumer", &["topic1", "topic2"])]);
            expect(&a, "consumer", &[tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)]);
        }
    }

    // RangeAssignorTest and RoundRobinAssignorTest.testTwoConsumersOneTopicOnePartition,
    // testTwoConsumersOneTopicTwoPartitions and testMultipleConsumersMixedTopics: the extra consumer gets nothing,
    // and consumers of fewer topics get fewer partitions.
    #[test]
    fn range_and_round_robin_two_and_three_consumers() {
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let two = [member("consumer1", &["topic"]), member("consumer2", &["topic"])];
            let a = assign(assignor, &topics(&[("topic", 1)]), &two);
            expect(&a, "consumer1", &[tp("topic", 0)]);
            expect(&a, "consumer2", &[]);
            let a = assign(assignor, &topics(&[("topic", 2)]), &two);
            expect(&a, "consumer1", &[tp("topic", 0)]);
            expect(&a, "consumer2", &[tp("topic", 1)]);
            let mixed = [
                member("consumer1", &["topic1"]),
                member("consumer2", &["topic1", "topic2"]),
                member("consumer3", &["topic1"]),
            ];
            let a = assign(assignor, &topics(&[("topic1", 3), ("topic2", 2)]), &mixed);
            expect(&a, "consumer1", &[tp("topic1", 0)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
            expect(&a, "consumer3", &[tp("topic1", 2)]);
        }
    }

    // RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions, testTwoStaticConsumersTwoTopicsSixPartitions and
    // testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions: consumer-b sorts first by its instance id.
    #[test]
    fn range_two_topics_and_static_members() {
        let t = topics(&[("topic1", 3), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let a = assign(Assignor::Range, &t, &[member("consumer1", &both), member("consumer2", &both)]);
        expect(&a, "consumer1", &[tp("topic1", 0), tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
        expect(&a, "consumer2", &[tp("topic1", 2), tp("topic2", 2)]);
        let low = member("consumer-b", &both).with_instance_id("instance1");
        for high in [member("consumer-a", &both).with_instance_id("instance2"), member("consumer-a", &both)] {
            let a = assign(Assignor::Range, &t, &[low.clone(), high]);
            expect(&a, "consumer-b", &[tp("topic1", 0), tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
            expect(&a, "consumer-a", &[tp("topic1", 2), tp("topic2", 2)]);
        }
    }

    // RangeAssignorTest.testStaticMemberRangeAssignmentPersistent: static members keep their ranges when the dynamic
    // member is replaced.
    #[test]
    fn range_static_member_assignment_persistent() {
        let t = topics(&[("topic1", 5), ("topic2", 4)]);
        let both = ["topic1", "topic2"];
        let mut members: Vec<MemberSubscription> =
            (1..=3).map(|i| member(&format!("consumer{i}"), &both).with_instance_id(format!("instance{i}"))).collect();
        members.push(member("consumer4", &both));
        let mut expected = Assignment::from([
            ("consumer1".to_string(), vec![tp("topic1", 0), tp("topic1", 1), tp("topic2", 0)]),
            ("consumer2".to_string(), vec![tp("topic1", 2), tp("topic2", 1)]),
            ("consumer3".to_string(), vec![tp("topic1", 3), tp("topic2", 2)]),
            ("consumer4".to_string(), vec![tp("topic1", 4), tp("topic2", 3)]),
        ]);
        assert_eq!(assign(Assignor::Range, &t, &members), expected);
        members[3] = member("consumer5", &both);
        let last = expected.remove("consumer4").expect("consumer4");
        expected.insert("consumer5".to_string(), last);
        assert_eq!(assign(Assignor::Range, &t, &members), expected);
    }

    // RangeAssignorTest.testStaticMemberRangeAssignmentPersistentAfterMemberIdChanges.
    #[test]
    fn range_static_member_assignment_persistent_after_member_id_changes() {
        let t = topics(&[("topic1", 5), ("topic2", 5)]);
        let both = ["topic1", "topic2"];
        let mut members: Vec<MemberSubscription> =
            (1..=3).map(|i| member(&format!("consumer{i}"), &both).with_instance_id(format!("instance{i}"))).collect();
        let expected = BTreeMap::from([
            ("instance1".to_string(), vec![tp("topic1", 0), tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]),
            ("instance2".to_string(), vec![tp("topic1", 2), tp("topic1", 3), tp("topic2", 2), tp("topic2", 3)]),
            ("instance3".to_string(), vec![tp("topic1", 4), tp("topic2", 4)]),
        ]);
        assert_eq!(by_instance(&assign(Assignor::Range, &t, &members), &members), expected);
        members[2].member_id = "consumer4".to_string();
        members[1].member_id = "consumer5".to_string();
        assert_eq!(by_instance(&assign(Assignor::Range, &t, &members), &members), expected);
    }

    // RangeAssignorTest.testRackAwareAssignmentWithUniformSubscription, testRackAwareAssignmentWithNonEqualSubscription,
    // testRackAwareAssignmentWithUniformPartitionsNonEqualSubscription and testCoPartitionedAssignmentWithSameSubscription,
    // for the assignments without rack information.
    #[test]
    fn range_without_racks() {
        let t = topics(&[("t1", 6), ("t2", 7), ("t3", 2)]);
        let all: &[&str] = &["t1", "t2", "t3"];
        let expected = ["t1-0, t1-1, t2-0, t2-1, t2-2, t3-0", "t1-2, t1-3, t2-3, t2-4, t3-1", "t1-4, t1-5, t2-5, t2-6"];
        check_consumers(Assignor::Range, &t, &[all, all, all], &expected);
        let expected = ["t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0", "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1", "t1-4, t1-5"];
        check_consumers(Assignor::Range, &t, &[all, all, &["t1", "t3"]], &expected);
        let t = topics(&[("t1", 5), ("t2", 5), ("t3", 5)]);
        let expected = ["t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1", "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3", "t1-4, t3-4"];
        check_consumers(Assignor::Range, &t, &[all, all, &["t1", "t3"]], &expected);
        let t = topics(&[("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2), ("t5", 4), ("t6", 4)]);
        let all: &[&str] = &["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];
        let expected = [
            "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0, t5-0, t5-1, t6-0, t6-1",
            "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1, t5-2, t6-2",
            "t1-4, t1-5, t2-4, t2-5, t5-3, t6-3",
        ];
        check_consumers(Assignor::Range, &t, &[all, all, all], &expected);
    }

    // RoundRobinAssignorTest.testTwoDynamicConsumersTwoTopicsSixPartitions, testTwoStaticConsumersTwoTopicsSixPartitions
    // and testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions.
    #[test]
    fn round_robin_two_topics_and_static_members() {
        let t = topics(&[("topic1", 3), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let a = assign(Assignor::RoundRobin, &t, &[member("consumer1", &both), member("consumer2", &both)]);
        expect(&a, "consumer1", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]);
        expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
        let first = member("consumer-b", &both).with_instance_id("instance1");
        for second in [member("consumer-a", &both).with_instance_id("instance2"), member("consumer-a", &both)] {
            let a = assign(Assignor::RoundRobin, &t, &[first.clone(), second]);
            expect(&a, "consumer-b", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]);
            expect(&a, "consumer-a", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
        }
    }

    // RoundRobinAssignorTest.testStaticMemberRoundRobinAssignmentPersistent.
    #[test]
    fn round_robin_static_member_assignment_persistent() {
        let t = topics(&[("topic1", 3), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let mut members: Vec<MemberSubscription> =
            (1..=3).map(|i| member(&format!("consumer{i}"), &both).with_instance_id(format!("instance{i}"))).collect();
        members.push(member("consumer4", &both));
        let mut expected = Assignment::from([
            ("consumer1".to_string(), vec![tp("topic1", 0), tp("topic2", 1)]),
            ("consumer2".to_string(), vec![tp("topic1", 1), tp("topic2", 2)]),
            ("consumer3".to_string(), vec![tp("topic1", 2)]),
            ("consumer4".to_string(), vec![tp("topic2", 0)]),
        ]);
        assert_eq!(assign(Assignor::RoundRobin, &t, &members), expected);
        members[3] = member("consumer5", &both);
        expected.remove("consumer4");
        expected.insert("consumer5".to_string(), vec![tp("topic2", 0)]);
        assert_eq!(assign(Assignor::RoundRobin, &t, &members), expected);
    }

    // RoundRobinAssignorTest.testStaticMemberRoundRobinAssignmentPersistentAfterMemberIdChanges.
    #[test]
    fn round_robin_static_member_assignment_persistent_after_member_id_changes() {
        let t = topics(&[("topic1", 5), ("topic2", 5)]);
        let both = ["topic1", "topic2"];
        let mut members: Vec<MemberSubscription> =
            (1..=3).map(|i| member(&format!("consumer{i}"), &both).with_instance_id(format!("instance{i}"))).collect();
        let expected = BTreeMap::from([
            ("instance1".to_string(), vec![tp("topic1", 0), tp("topic1", 3), tp("topic2", 1), tp("topic2", 4)]),
            ("instance2".to_string(), vec![tp("topic1", 1), tp("topic1", 4), tp("topic2", 2)]),
            ("instance3".to_string(), vec![tp("topic1", 2), tp("topic2", 0), tp("topic2", 3)]),
        ]);
        assert_eq!(by_instance(&assign(Assignor::RoundRobin, &t, &members), &members), expected);
        members[2].member_id = "consumer4".to_string();
        members[1].member_id = "consumer5".to_string();
        assert_eq!(by_instance(&assign(Assignor::RoundRobin, &t, &members), &members), expected);
    }

    // AbstractStickyAssignorTest.testOneConsumerNoTopic, testOneConsumerNonexistentTopic, testOneConsumerOneTopic,
    // testOnlyAssignsPartitionsFromSubscribedTopics and testOneConsumerMultipleTopics, for both sticky assignors.
    #[test]
    fn sticky_one_consumer() {
        for assignor in STICKY {
            let run = |t: &[(&str, u32)], m: MemberSubscription| assign(assignor, &topics(t), &[m]);
            assert_eq!(run(&[], member("consumer", &[])), Assignment::from([("consumer".to_string(), vec![])]));
            assert_eq!(run(&[("topic", 0)], member("consumer", &["topic"]))["consumer"], []);
            let a = run(&[("topic", 3)], member("consumer", &["topic"]));
            expect(&a, "consumer", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
            let owned = vec![tp("topic", 0), tp("topic", 1), tp("other", 0), tp("other", 1)];
            let a = run(&[("topic", 2)], owning("consumer", &["topic"], owned, GENERATION));
            expect(&a, "consumer", &[tp("topic", 0), tp("topic", 1)]);
            let a = run(&[("topic1", 1), ("topic2", 2)], member("consumer", &["topic1", "topic2"]));
            expect(&a, "consumer", &[tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)]);
        }
    }

    // AbstractStickyAssignorTest.testTwoConsumersOneTopicOnePartition, testTwoConsumersOneTopicTwoPartitions,
    // testMultipleConsumersMixedTopicSubscriptions and testTwoConsumersTwoTopicsSixPartitions.
    #[test]
    fn sticky_fresh_assignments() {
        for assignor in STICKY {
            let mut two = vec![member("consumer1", &["topic"]), member("consumer2", &["topic"])];
            let mut a = assign(assignor, &topics(&[("topic", 1)]), &two);
            verify(assignor, &topics(&[("topic", 1)]), &mut two, &mut a);
            assert!(is_fully_balanced(&a) && a.values().map(Vec::len).sum::<usize>() == 1);
            let a = assign(assignor, &topics(&[("topic", 2)]), &two);
            expect(&a, "consumer1", &[tp("topic", 0)]);
            expect(&a, "consumer2", &[tp("topic", 1)]);
            let t = topics(&[("topic1", 3), ("topic2", 2)]);
            let mut mixed = vec![
                member("consumer1", &["topic1"]),
                member("consumer2", &["topic1", "topic2"]),
                member("consumer3", &["topic1"]),
            ];
            let mut a = assign(assignor, &t, &mixed);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic1", 2)]);
            expect(&a, "consumer2", &[tp("topic2", 0), tp("topic2", 1)]);
            expect(&a, "consumer3", &[tp("topic1", 1)]);
            verify(assignor, &t, &mut mixed, &mut a);
            let t = topics(&[("topic1", 3), ("topic2", 3)]);
            let both = ["topic1", "topic2"];
            let a = assign(assignor, &t, &[member("consumer1", &both), member("consumer2", &both)]);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
        }
    }

    // AbstractStickyAssignorTest.testConsumerOwningMinQuotaExpectedMaxQuota, testAllConsumersAreUnderMinQuota and
    // testAllConsumersReachExpectedQuotaAndAreConsideredFilled: owners keep their partitions, the rest are dealt.
    #[test]
    fn sticky_owners_keep_up_to_quota() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 2), ("topic2", 3)]);
            let both = ["topic1", "topic2"];
            let mut members = vec![
                owning("consumer1", &both, vec![tp("topic1", 0), tp("topic2", 1)], GENERATION),
                owning("consumer2", &both, vec![tp("topic1", 1), tp("topic2", 2)], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic2", 1), tp("topic2", 0)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 2)]);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            let mut members = vec![
                owning("consumer1", &both, vec![tp("topic1", 0)], GENERATION),
                owning("consumer2", &both, vec![tp("topic1", 1)], GENERATION),
                owning("consumer3", &both, vec![], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic2", 1)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 2)]);
            expect(&a, "consumer3", &[tp("topic2", 0)]);
            let t = topics(&[("topic", 4)]);
            let mut members = vec![
                owning("consumer1", &["topic"], vec![tp("topic", 0), tp("topic", 1)], GENERATION),
                owning("consumer2", &["topic"], vec![tp("topic", 2)], GENERATION),
                owning("consumer3", &["topic"], vec![], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer1", &[tp("topic", 0), tp("topic", 1)]);
            expect(&a, "consumer2", &[tp("topic", 2)]);
            expect(&a, "consumer3", &[tp("topic", 3)]);
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers: only one member may keep
    // maxQuota partitions, and the leader's HashMap visits consumer2 before consumer1, so consumer2 keeps two.
    #[test]
    fn sticky_max_quota_consumer_more_than_num_expected_max_capacity_members() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 2), ("topic2", 2)]);
            let both = ["topic1", "topic2"];
            let mut members = vec![
                owning("consumer1", &both, vec![tp("topic1", 0), tp("topic2", 0)], GENERATION),
                owning("consumer2", &both, vec![tp("topic1", 1), tp("topic2", 1)], GENERATION),
                owning("consumer3", &both, vec![], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            assert_eq!(transferring(&t, &members), BTreeMap::from([(tp("topic2", 0), "consumer3".to_string())]));
            verify(assignor, &t, &mut members, &mut a);
            expect(&a, "consumer1", &[tp("topic1", 0)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 1)]);
            expect(&a, "consumer3", &[tp("topic2", 0)]);
            assert!(is_fully_balanced(&a));
        }
    }

    // AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic: the cooperative two-step handover of topic-2.
    #[test]
    fn sticky_add_remove_consumer_one_topic() {
        for assignor in STICKY {
            let t = topics(&[("topic", 3)]);
            let mut members = vec![member("consumer1", &["topic"])];
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer1", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
            verify(assignor, &t, &mut members, &mut a);
            put(&mut members, owning("consumer1", &["topic"], a["consumer1"].clone(), GENERATION));
            put(&mut members, owning("consumer2", &["topic"], vec![], GENERATION));
            let mut a = assign(assignor, &t, &members);
            assert_eq!(transferring(&t, &members), BTreeMap::from([(tp("topic", 2), "consumer2".to_string())]));
            if assignor == Assignor::CooperativeSticky {
                // The first round withholds topic-2 until consumer1 has revoked it.
                expect(&a, "consumer1", &[tp("topic", 0), tp("topic", 1)]);
                expect(&a, "consumer2", &[]);
            }
            verify(assignor, &t, &mut members, &mut a);
            expect(&a, "consumer1", &[tp("topic", 0), tp("topic", 1)]);
            expect(&a, "consumer2", &[tp("topic", 2)]);
            remove(&mut members, "consumer1");
            put(&mut members, owning("consumer2", &["topic"], a["consumer2"].clone(), GENERATION));
            let mut a = assign(assignor, &t, &members);
            assert_eq!(set(&a["consumer2"]), set(&[tp("topic", 2), tp("topic", 1), tp("topic", 0)]));
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testTopicBalanceAfterReassignment: each member gets an equal share of each topic.
    #[test]
    fn sticky_topic_balance_after_reassignment() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 12), ("topic2", 12)]);
            let both = ["topic1", "topic2"];
            let per_topic = |a: &Assignment, topic: &str, n: usize| {
                assert!(a.values().all(|ps| ps.iter().filter(|p| p.topic == topic).count() == n), "{a:?}");
            };
            let mut members = vec![member("consumer1", &both)];
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            per_topic(&a, "topic1", 12);
            per_topic(&a, "topic2", 12);
            for (size, joining) in [(6, &["consumer2"][..]), (3, &["consumer3", "consumer4"][..])] {
                for m in members.clone() {
                    put(&mut members, owning(&m.member_id, &both, a[&m.member_id].clone(), GENERATION));
                }
                for id in joining {
                    put(&mut members, owning(id, &both, vec![], GENERATION));
                }
                a = assign(assignor, &t, &members);
                verify(assignor, &t, &mut members, &mut a);
                per_topic(&a, "topic1", size);
                per_topic(&a, "topic2", size);
            }
            remove(&mut members, "consumer1");
            remove(&mut members, "consumer2");
            put(&mut members, owning("consumer3", &both, a["consumer3"].clone(), GENERATION));
            put(&mut members, owning("consumer4", &both, a["consumer4"].clone(), GENERATION));
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            per_topic(&a, "topic1", 6);
            per_topic(&a, "topic2", 6);
            assert!(transferring(&t, &members).is_empty());
        }
    }

    // AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics: two members join (the cooperative assignor hands
    // over topic1-2, topic2-3 and topic2-2 in a second round), then the first two leave.
    #[test]
    fn sticky_add_remove_two_consumers_two_topics() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 3), ("topic2", 4)]);
            let both = ["topic1", "topic2"];
            let mut members = vec![member("consumer1", &both), member("consumer2", &both)];
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1), tp("topic2", 3)]);
            expect(&a, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
            verify(assignor, &t, &mut members, &mut a);
            put(&mut members, owning("consumer1", &both, a["consumer1"].clone(), GENERATION));
            put(&mut members, owning("consumer2", &both, a["consumer2"].clone(), GENERATION));
            put(&mut members, owning("consumer3", &both, vec![], GENERATION));
            put(&mut members, owning("consumer4", &both, vec![], GENERATION));
            let mut a = assign(assignor, &t, &members);
            let expected =
                [(tp("topic1", 2), "consumer3"), (tp("topic2", 3), "consumer3"), (tp("topic2", 2), "consumer4")];
            assert_eq!(transferring(&t, &members), expected.map(|(p, m)| (p, m.to_string())).into());
            verify(assignor, &t, &mut members, &mut a);
            expect(&a, "consumer1", &[tp("topic1", 0), tp("topic2", 1)]);
            expect(&a, "consumer2", &[tp("topic2", 0), tp("topic1", 1)]);
            expect(&a, "consumer3", &[tp("topic1", 2), tp("topic2", 3)]);
            expect(&a, "consumer4", &[tp("topic2", 2)]);
            remove(&mut members, "consumer1");
            remove(&mut members, "consumer2");
            put(&mut members, owning("consumer3", &both, a["consumer3"].clone(), GENERATION));
            put(&mut members, owning("consumer4", &both, a["consumer4"].clone(), GENERATION));
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer3", &[tp("topic1", 2), tp("topic2", 3), tp("topic1", 0), tp("topic2", 1)]);
            expect(&a, "consumer4", &[tp("topic2", 2), tp("topic1", 1), tp("topic2", 0)]);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testPoorRoundRobinAssignmentScenario and testMoveExistingAssignments.
    #[test]
    fn sticky_unequal_subscriptions_are_valid_and_balanced() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 2), ("topic2", 1), ("topic3", 2), ("topic4", 1), ("topic5", 2)]);
            let (all, odd) = (["topic1", "topic2", "topic3", "topic4", "topic5"], ["topic1", "topic3", "topic5"]);
            let mut members = vec![
                member("consumer1", &all),
                member("consumer2", &odd),
                member("consumer3", &odd),
                member("consumer4", &all),
            ];
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            let t: BTreeMap<String, u32> = (1..=6).map(|i| (format!("topic{i}"), 1)).collect();
            let mut members = vec![
                owning("consumer1", &["topic1", "topic2"], vec![tp("topic1", 0)], GENERATION),
                owning(
                    "consumer2",
                    &["topic1", "topic2", "topic3", "topic4"],
                    vec![tp("topic2", 0), tp("topic3", 0)],
                    GENERATION,
                ),
                owning(
                    "consumer3",
                    &["topic2", "topic3", "topic4", "topic5", "topic6"],
                    vec![tp("topic4", 0), tp("topic5", 0), tp("topic6", 0)],
                    GENERATION,
                ),
            ];
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testAddRemoveTopicTwoConsumers: a new topic is spread without moving owned
    // partitions, and removing the old topic keeps the new topic's partitions where they are.
    #[test]
    fn sticky_add_remove_topic_two_consumers() {
        for assignor in STICKY {
            let mut t = topics(&[("topic", 3)]);
            let mut members = vec![member("consumer1", &["topic"]), member("consumer2", &["topic"])];
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            let first = a.clone();
            assert!(is_fully_balanced(&first));
            t.insert("topic2".to_string(), 3);
            for id in ["consumer1", "consumer2"] {
                put(&mut members, owning(id, &["topic", "topic2"], a[id].clone(), GENERATION));
            }
            let mut a = assign(assignor, &t, &members);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            let second = a.clone();
            for id in ["consumer1", "consumer2"] {
                assert!(second[id].len() == 3 && set(&second[id]).is_superset(&set(&first[id])));
            }
            t.remove("topic");
            for id in ["consumer1", "consumer2"] {
                put(&mut members, owning(id, &["topic2"], a[id].clone(), GENERATION));
            }
            let mut a = assign(assignor, &t, &members);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            assert!(is_fully_balanced(&a));
            for id in ["consumer1", "consumer2"] {
                assert!(set(&second[id]).is_superset(&set(&a[id])));
            }
        }
    }

    /// getTopicName and getConsumerName: a prefix and the number padded to as many digits as `max` has.
    fn canonical(prefix: &str, i: usize, max: usize) -> String {
        format!("{prefix}{i:0width$}", width = max.to_string().len())
    }

    // AbstractStickyAssignorTest.testReassignmentAfterOneConsumerLeaves. Kafka's test removes "consumer10", which is
    // not in the group (its members are c01 to c19); this port also removes c10, as the test's name intends.
    #[test]
    fn sticky_reassignment_after_one_consumer_leaves() {
        for assignor in STICKY {
            let t: BTreeMap<String, u32> = (1..20).map(|i| (canonical("t", i, 20), i as u32)).collect();
            let mut members: Vec<MemberSubscription> = (1..20)
                .map(|i| MemberSubscription::new(canonical("c", i, 20), (1..=i).map(|j| canonical("t", j, 20))))
                .collect();
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            for leaving in ["consumer10", "c10"] {
                for m in &mut members {
                    m.owned = a[&m.member_id].clone();
                    m.generation = Some(GENERATION);
                }
                remove(&mut members, leaving);
                a = assign(assignor, &t, &members);
                verify(assignor, &t, &mut members, &mut a);
            }
        }
    }

    // AbstractStickyAssignorTest.testReassignmentAfterOneConsumerAdded and testSameSubscriptions.
    #[test]
    fn sticky_same_subscriptions_member_added_or_removed() {
        for assignor in STICKY {
            let t = topics(&[("topic", 20)]);
            let mut members: Vec<MemberSubscription> =
                (1..10).map(|i| member(&canonical("c", i, 10), &["topic"])).collect();
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            members.push(member(&canonical("c", 10, 10), &["topic"]));
            assert!(transferring(&t, &members).is_empty());
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            let t: BTreeMap<String, u32> = (1..15).map(|i| (canonical("t", i, 15), i as u32)).collect();
            let all: Vec<String> = t.keys().cloned().collect();
            let mut members: Vec<MemberSubscription> =
                (1..9).map(|i| MemberSubscription::new(canonical("c", i, 9), all.clone())).collect();
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            for m in &mut members {
                *m = m.clone().with_owned(a[&m.member_id].clone(), GENERATION);
            }
            remove(&mut members, &canonical("c", 5, 9));
            assert!(transferring(&t, &members).is_empty());
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testSubscriptionNotEqualAndAssignSamePartitionWith3Generation: claims on topic-2
    // from three generations, in every order.
    #[test]
    fn sticky_subscription_not_equal_and_same_partition_claimed_in_three_generations() {
        for assignor in STICKY {
            let t = topics(&[("topic", 6), ("topic1", 1)]);
            for g in [[1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]] {
                let members = [
                    owning("consumer1", &["topic"], vec![tp("topic", 0), tp("topic", 2)], g[0]),
                    owning("consumer2", &["topic"], vec![tp("topic", 1), tp("topic", 2), tp("topic", 3)], g[1]),
                    owning("consumer3", &["topic"], vec![tp("topic", 2), tp("topic", 4), tp("topic", 5)], g[2]),
                    owning("consumer4", &["topic1"], vec![tp("topic1", 0)], 2),
                ];
                let a = assign(assignor, &t, &members);
                let all: Vec<TopicPartition> = a.values().flatten().cloned().collect();
                assert_eq!(all.len(), set(&all).len(), "{a:?}");
                assert!(a.values().all(|ps| (1..=2).contains(&ps.len())), "{a:?}");
            }
        }
    }

    // AbstractStickyAssignorTest.testNewSubscription: c0 first subscribes to nothing, then to t1.
    #[test]
    fn sticky_new_subscription() {
        for assignor in STICKY {
            let t: BTreeMap<String, u32> = (1..5).map(|i| (canonical("t", i, 5), 1)).collect();
            let mut members: Vec<MemberSubscription> = (0..3)
                .map(|i| {
                    MemberSubscription::new(
                        canonical("c", i, 3),
                        (i..(3 * i).saturating_sub(1)).map(|j| canonical("t", j, 5)),
                    )
                })
                .collect();
            assert!(members[0].topics.is_empty() && members[1].topics == ["t1"]);
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            members[0].topics.push(canonical("t", 1, 5));
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testStickiness: after the first member leaves, the others keep their partition.
    #[test]
    fn sticky_stickiness() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 3)]);
            let mut members: Vec<MemberSubscription> =
                (1..=4).map(|i| member(&format!("consumer{i}"), &["topic1"])).collect();
            let mut a = assign(assignor, &t, &members);
            verify(assignor, &t, &mut members, &mut a);
            assert!(a.values().all(|ps| ps.len() <= 1));
            let before = a.clone();
            remove(&mut members, "consumer1");
            for id in ["consumer2", "consumer3", "consumer4"] {
                put(&mut members, owning(id, &["topic1"], a[id].clone(), GENERATION));
            }
            let mut a = assign(assignor, &t, &members);
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            for (id, partitions) in &a {
                assert_eq!(partitions.len(), 1);
                assert!(before[id].iter().all(|p| partitions.contains(p)), "stickiness not honoured for {id}: {a:?}");
            }
        }
    }

    // AbstractStickyAssignorTest.testAssignmentUpdatedForDeletedTopic and
    // testNoExceptionThrownWhenOnlySubscribedTopicDeleted.
    #[test]
    fn sticky_deleted_topics() {
        for assignor in STICKY {
            let t = topics(&[("topic1", 1), ("topic3", 100)]);
            let a = assign(assignor, &t, &[member("consumer", &["topic1", "topic2", "topic3"])]);
            assert_eq!(a["consumer"].len(), 101);
            let t = topics(&[("topic", 3)]);
            let a = assign(assignor, &t, &[member("consumer", &["topic"])]);
            let members = [owning("consumer", &["topic"], a["consumer"].clone(), GENERATION)];
            let a = assign(assignor, &topics(&[]), &members);
            assert_eq!(a, Assignment::from([("consumer".to_string(), vec![])]));
        }
    }

    // AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration,
    // testOwnedPartitionsAreInvalidatedForConsumerWithNoGeneration and
    // testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration: the newer generation's claims win.
    #[test]
    fn sticky_stale_claims_are_invalidated() {
        for assignor in STICKY {
            let t = topics(&[("topic", 3), ("topic2", 3)]);
            let both = ["topic", "topic2"];
            let claimed = vec![tp("topic", 0), tp("topic", 2), tp("topic2", 1)];
            for stale in [9, DEFAULT_GENERATION] {
                let mut members = vec![
                    owning("consumer1", &both, claimed.clone(), 10),
                    owning("consumer2", &both, claimed.clone(), stale),
                ];
                let mut a = assign(assignor, &t, &members);
                assert_eq!(set(&a["consumer1"]), set(&claimed));
                assert_eq!(set(&a["consumer2"]), set(&[tp("topic", 1), tp("topic2", 0), tp("topic2", 2)]));
                assert!(transferring(&t, &members).is_empty());
                verify(assignor, &t, &mut members, &mut a);
            }
            let mut members = vec![
                owning("consumer1", &both, vec![tp("topic", 0), tp("topic2", 1), tp("topic", 1)], 10),
                owning("consumer2", &both, vec![tp("topic", 0), tp("topic2", 1), tp("topic2", 2)], 8),
            ];
            let mut a = assign(assignor, &t, &members);
            assert_eq!(set(&a["consumer1"]), set(&[tp("topic", 0), tp("topic2", 1), tp("topic", 1)]));
            assert_eq!(set(&a["consumer2"]), set(&[tp("topic", 2), tp("topic2", 2), tp("topic2", 0)]));
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration.
    #[test]
    fn sticky_partition_claimed_twice_in_one_generation_changes_owner() {
        for assignor in STICKY {
            let t = topics(&[("topic", 3)]);
            let mut members = vec![
                owning("consumer1", &["topic"], vec![tp("topic", 0), tp("topic", 1)], GENERATION),
                owning("consumer2", &["topic"], vec![tp("topic", 0), tp("topic", 2)], GENERATION),
                owning("consumer3", &["topic"], vec![], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            assert_eq!(transferring(&t, &members), BTreeMap::from([(tp("topic", 0), "consumer3".to_string())]));
            verify(assignor, &t, &mut members, &mut a);
            expect(&a, "consumer1", &[tp("topic", 1)]);
            expect(&a, "consumer2", &[tp("topic", 2)]);
            expect(&a, "consumer3", &[tp("topic", 0)]);
        }
    }

    // AbstractStickyAssignorTest.testEnsurePartitionsAssignedToHighestGeneration and testNoReassignmentOnCurrentMembers.
    #[test]
    fn sticky_highest_generation_keeps_its_partitions() {
        for assignor in STICKY {
            let t = topics(&[("topic", 3), ("topic2", 3), ("topic3", 3)]);
            let all = ["topic", "topic2", "topic3"];
            let mut members = vec![
                owning("consumer1", &all, vec![tp("topic", 0), tp("topic2", 0), tp("topic3", 0)], 10),
                owning("consumer2", &all, vec![tp("topic", 1), tp("topic2", 1), tp("topic3", 1)], 9),
                owning("consumer3", &all, vec![tp("topic2", 1), tp("topic3", 0), tp("topic3", 2)], 8),
            ];
            let mut a = assign(assignor, &t, &members);
            assert_eq!(set(&a["consumer1"]), set(&[tp("topic", 0), tp("topic2", 0), tp("topic3", 0)]));
            assert_eq!(set(&a["consumer2"]), set(&[tp("topic", 1), tp("topic2", 1), tp("topic3", 1)]));
            assert_eq!(set(&a["consumer3"]), set(&[tp("topic", 2), tp("topic2", 2), tp("topic3", 2)]));
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
            let t = topics(&[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)]);
            let all = ["topic", "topic2", "topic3", "topic1"];
            let mut members = vec![
                owning("consumer1", &all, vec![], DEFAULT_GENERATION),
                owning("consumer2", &all, vec![tp("topic", 0), tp("topic2", 0), tp("topic1", 0)], 9),
                owning("consumer3", &all, vec![tp("topic3", 2), tp("topic2", 2), tp("topic1", 1)], 8),
                owning("consumer4", &all, vec![tp("topic3", 1), tp("topic", 1), tp("topic", 2)], 7),
            ];
            let mut a = assign(assignor, &t, &members);
            assert_eq!(set(&a["consumer1"]), set(&[tp("topic1", 2), tp("topic2", 1), tp("topic3", 0)]));
            assert!(transferring(&t, &members).is_empty());
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // AbstractStickyAssignorTest.testRackAwareAssignmentWithUniformSubscription and
    // testRackAwareAssignmentWithNonEqualSubscription, for the assignments without rack information: fresh, and again
    // with the members owning that assignment (with no generation), which keeps it.
    #[test]
    fn sticky_without_racks() {
        let t = topics(&[("t1", 6), ("t2", 7), ("t3", 2)]);
        let all: &[&str] = &["t1", "t2", "t3"];
        let uniform = ["t1-0, t1-3, t2-0, t2-3, t2-6", "t1-1, t1-4, t2-1, t2-4, t3-0", "t1-2, t1-5, t2-2, t2-5, t3-1"];
        let unequal = ["t1-5, t2-0, t2-2, t2-4, t2-6", "t1-3, t2-1, t2-3, t2-5, t3-0", "t1-0, t1-1, t1-2, t1-4, t3-1"];
        for assignor in STICKY {
            for (subscriptions, expected) in [([all, all, all], uniform), ([all, all, &["t1", "t3"]], unequal)] {
                check_consumers(assignor, &t, &subscriptions, &expected);
                let members: Vec<MemberSubscription> = (0..3)
                    .map(|i| owning(&format!("consumer{i}"), subscriptions[i], parse(expected[i]), DEFAULT_GENERATION))
                    .collect();
                let a = assign(assignor, &t, &members);
                assert!((0..3).all(|i| set(&a[&format!("consumer{i}")]) == set(&parse(expected[i]))), "{a:?}");
            }
        }
    }

    // AbstractStickyAssignorTest.testRackAwareAssignmentWithNonEqualSubscription, the cooperative assignor's "result is
    // same as non-rack-aware assignment if all racks match": from misaligned owners, a first round that only revokes,
    // then the target. This is the general algorithm's two-step handover.
    #[test]
    fn cooperative_sticky_unequal_subscriptions_two_step_handover() {
        let t = topics(&[("t1", 6), ("t2", 7), ("t3", 2)]);
        let all: &[&str] = &["t1", "t2", "t3"];
        let subscriptions = [all, all, &["t1", "t3"]];
        let owned = ["t1-0, t1-1, t1-2, t1-3, t1-4", "t1-5, t2-0, t2-1, t2-2, t2-3", "t2-4, t2-5, t2-6, t3-0, t3-1"];
        let intermediate = ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"];
        let target = ["t1-2, t1-3, t1-4, t2-4, t2-5", "t2-0, t2-1, t2-2, t2-3, t2-6", "t1-0, t1-1, t1-5, t3-0, t3-1"];
        for (from, to) in [(owned, intermediate), (intermediate, target)] {
            let members: Vec<MemberSubscription> = (0..3)
                .map(|i| owning(&format!("consumer{i}"), subscriptions[i], parse(from[i]), DEFAULT_GENERATION))
                .collect();
            let a = assign(Assignor::CooperativeSticky, &t, &members);
            assert!((0..3).all(|i| set(&a[&format!("consumer{i}")]) == set(&parse(to[i]))), "{a:?}");
            assert!(!revokes(&members, &a) || from == owned);
        }
    }

    // StickyAssignorTest and CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedBy-
    // MultipleConsumersInSameGenerationWithEqualPartitionsPerConsumer and ...WithUnequalPartitionsPerConsumer: topic-0,
    // claimed twice, goes to consumer3, which the cooperative assignor holds back until both have revoked it.
    #[test]
    fn sticky_owned_partition_invalidated_when_claimed_twice_in_one_generation() {
        for assignor in STICKY {
            for (count, consumer1) in [(3, vec![tp("topic", 1)]), (4, vec![tp("topic", 1), tp("topic", 3)])] {
                let t = topics(&[("topic", count)]);
                let mut members = vec![
                    owning("consumer1", &["topic"], vec![tp("topic", 0), tp("topic", 1)], GENERATION),
                    owning("consumer2", &["topic"], vec![tp("topic", 0), tp("topic", 2)], GENERATION),
                    owning("consumer3", &["topic"], vec![], GENERATION),
                ];
                let mut a = assign(assignor, &t, &members);
                expect(&a, "consumer1", &consumer1);
                expect(&a, "consumer2", &[tp("topic", 2)]);
                let consumer3 = if assignor == Assignor::Sticky { vec![tp("topic", 0)] } else { vec![] };
                expect(&a, "consumer3", &consumer3);
                verify(assignor, &t, &mut members, &mut a);
                assert!(is_fully_balanced(&a));
            }
        }
    }

    // StickyAssignorTest.testAssignmentWithMultipleGenerations1, with equal and with unequal subscriptions.
    #[test]
    fn sticky_assignment_with_multiple_generations_1() {
        let t = topics(&[("topic", 6), ("topic2", 6)]);
        let all = ["topic", "topic2"];
        for equal in [true, false] {
            let consumer2: &[&str] = if equal { &all } else { &["topic"] };
            let mut members =
                vec![member("consumer1", &all), member("consumer2", consumer2), member("consumer3", &all)];
            let mut r1 = assign(Assignor::Sticky, &t, &members);
            assert!(r1.values().all(|ps| ps.len() == 4));
            verify(Assignor::Sticky, &t, &mut members, &mut r1);
            put(&mut members, owning("consumer1", &all, r1["consumer1"].clone(), GENERATION));
            put(&mut members, owning("consumer2", consumer2, r1["consumer2"].clone(), GENERATION));
            remove(&mut members, "consumer3");
            let mut r2 = assign(Assignor::Sticky, &t, &members);
            assert!(r2.values().all(|ps| ps.len() == 6));
            if equal {
                assert!(set(&r2["consumer1"]).is_superset(&set(&r1["consumer1"])));
            }
            assert!(set(&r2["consumer2"]).is_superset(&set(&r1["consumer2"])));
            verify(Assignor::Sticky, &t, &mut members, &mut r2);
            assert!(!set(&r2["consumer2"]).is_disjoint(&set(&r1["consumer3"])));
            remove(&mut members, "consumer1");
            put(&mut members, owning("consumer2", consumer2, r2["consumer2"].clone(), 2));
            put(&mut members, owning("consumer3", &all, r1["consumer3"].clone(), 1));
            let mut r3 = assign(Assignor::Sticky, &t, &members);
            assert!(r3.values().all(|ps| ps.len() == 6));
            assert!(set(&r3["consumer2"]).is_disjoint(&set(&r3["consumer3"])));
            verify(Assignor::Sticky, &t, &mut members, &mut r3);
        }
    }

    // StickyAssignorTest.testAssignmentWithMultipleGenerations2, with equal and with unequal subscriptions.
    #[test]
    fn sticky_assignment_with_multiple_generations_2() {
        let t = topics(&[("topic", 4), ("topic2", 4), ("topic3", 4)]);
        let all = ["topic", "topic2", "topic3"];
        for equal in [true, false] {
            let consumer1: &[&str] = if equal { &all } else { &["topic"] };
            let consumer3: &[&str] = if equal { &all } else { &["topic", "topic2"] };
            let mut members =
                vec![member("consumer1", consumer1), member("consumer2", &all), member("consumer3", consumer3)];
            let mut r1 = assign(Assignor::Sticky, &t, &members);
            assert!(r1.values().all(|ps| ps.len() == 4));
            verify(Assignor::Sticky, &t, &mut members, &mut r1);
            let mut only2 = vec![owning("consumer2", &all, r1["consumer2"].clone(), 1)];
            let mut r2 = assign(Assignor::Sticky, &t, &only2);
            assert_eq!(r2["consumer2"].len(), 12);
            assert!(set(&r2["consumer2"]).is_superset(&set(&r1["consumer2"])));
            verify(Assignor::Sticky, &t, &mut only2, &mut r2);
            let mut members = vec![
                owning("consumer1", consumer1, r1["consumer1"].clone(), 1),
                owning("consumer2", &all, r2["consumer2"].clone(), 2),
                owning("consumer3", consumer3, r1["consumer3"].clone(), 1),
            ];
            let mut r3 = assign(Assignor::Sticky, &t, &members);
            assert!(r3.values().all(|ps| ps.len() == 4));
            verify(Assignor::Sticky, &t, &mut members, &mut r3);
        }
    }

    // StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations, with equal and with unequal subscriptions:
    // consumer1's claims from generation 1 lose to the others' from generation 2.
    #[test]
    fn sticky_assignment_with_conflicting_previous_generations() {
        let t = topics(&[("topic", 4), ("topic2", 4), ("topic3", 4)]);
        let all = ["topic", "topic2", "topic3"];
        for equal in [true, false] {
            let (consumer1, consumer2): (&[&str], &[&str]) =
                if equal { (&all, &all) } else { (&["topic"], &["topic", "topic2"]) };
            let c1 = if equal {
                "topic-0, topic-1, topic-2, topic2-2, topic2-3, topic3-0"
            } else {
                "topic-0, topic-1, topic-2, topic-3"
            };
            let c2 = parse("topic-0, topic-1, topic2-0, topic2-1, topic2-2, topic2-3");
            let c3 = parse("topic-2, topic-3, topic3-0, topic3-1, topic3-2, topic3-3");
            let mut members = vec![
                owning("consumer1", consumer1, parse(c1), 1),
                owning("consumer2", consumer2, c2.clone(), 2),
                owning("consumer3", &all, c3.clone(), 2),
            ];
            let mut a = assign(Assignor::Sticky, &t, &members);
            assert!(a.values().all(|ps| ps.len() == 4));
            assert!(set(&c2).is_superset(&set(&a["consumer2"])) && set(&c3).is_superset(&set(&a["consumer3"])));
            verify(Assignor::Sticky, &t, &mut members, &mut a);
        }
    }

    // StickyAssignorTest.testSchemaBackwardCompatibility (consumer2's user data has no generation),
    // StickyAssignorTest.testAssignorWithOldVersionSubscriptions and the cooperative one of the same name.
    #[test]
    fn sticky_old_subscription_versions() {
        let t = topics(&[("topic", 3)]);
        let mut members = vec![
            owning("consumer1", &["topic"], vec![tp("topic", 0), tp("topic", 2)], 1),
            owning("consumer2", &["topic"], vec![tp("topic", 1)], DEFAULT_GENERATION),
            member("consumer3", &["topic"]),
        ];
        let mut a = assign(Assignor::Sticky, &t, &members);
        assert!(a.values().all(|ps| ps.len() == 1));
        assert!(set(&[tp("topic", 0), tp("topic", 2)]).is_superset(&set(&a["consumer1"])));
        expect(&a, "consumer2", &[tp("topic", 1)]);
        verify(Assignor::Sticky, &t, &mut members, &mut a);
        for assignor in STICKY {
            let t = topics(&[("topic1", 3)]);
            let mut members = vec![
                owning("consumer1", &["topic1"], vec![tp("topic1", 0)], GENERATION),
                owning("consumer2", &["topic1"], vec![tp("topic1", 1)], GENERATION),
                owning("consumer3", &["topic1"], vec![], GENERATION),
            ];
            let mut a = assign(assignor, &t, &members);
            expect(&a, "consumer1", &[tp("topic1", 0)]);
            expect(&a, "consumer2", &[tp("topic1", 1)]);
            expect(&a, "consumer3", &[tp("topic1", 2)]);
            verify(assignor, &t, &mut members, &mut a);
        }
    }

    // The cooperative protocol as CooperativeStickyAssignorTest.verifyValidityAndBalance drives it, on
    // AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics' second step: the first round keeps what members
    // own and holds back what moves; once the owners have revoked it, the second round hands it over.
    #[test]
    fn cooperative_first_round_then_handover() {
        let t = topics(&[("topic1", 3), ("topic2", 4)]);
        let both = ["topic1", "topic2"];
        let mut members = vec![
            owning("consumer1", &both, parse("topic1-0, topic1-2, topic2-1, topic2-3"), GENERATION),
            owning("consumer2", &both, parse("topic1-1, topic2-0, topic2-2"), GENERATION),
            owning("consumer3", &both, vec![], GENERATION),
            owning("consumer4", &both, vec![], GENERATION),
        ];
        let target = assign(Assignor::Sticky, &t, &members);
        let first = assign(Assignor::CooperativeSticky, &t, &members);
        assert_eq!(cooperative_first_round(&target, &members), first);
        expect(&first, "consumer1", &parse("topic1-0, topic2-1"));
        expect(&first, "consumer2", &parse("topic2-0, topic1-1"));
        expect(&first, "consumer3", &[]);
        expect(&first, "consumer4", &[]);
        assert!(revokes(&members, &first));
        for m in &mut members {
            m.owned = first[&m.member_id].clone();
        }
        let second = assign(Assignor::CooperativeSticky, &t, &members);
        assert!(!revokes(&members, &second));
        assert_eq!(second, target);
        assert_eq!(cooperative_first_round(&target, &members), target);
    }

    /// Every partition of a subscribed topic goes to exactly one member, which subscribes to its topic.
    fn check_complete(t: &BTreeMap<String, u32>, members: &[MemberSubscription], a: &Assignment) {
        let mut given: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
        for (member, partitions) in a {
            let subscription = members.iter().find(|m| m.member_id == *member).expect("a member");
            for p in partitions {
                assert!(subscribes(subscription, &p.topic), "{p} given to {member}: {a:?}");
                assert!(given.insert(p, member).is_none(), "{p} given twice: {a:?}");
            }
        }
        let subscribed = |topic: &str| members.iter().any(|m| subscribes(m, topic));
        let expected = t.iter().filter(|(topic, _)| subscribed(topic)).map(|(_, c)| *c as usize).sum::<usize>();
        assert_eq!(given.len(), expected, "{a:?}");
    }

    /// Topics t0, t1… with the given partition counts, and members subscribing to the topics of their masks (a few to
    /// none), or all to the first member's, owning the given partitions ("gone" is a topic that doesn't exist).
    fn scenario() -> impl Strategy<Value = (BTreeMap<String, u32>, Vec<MemberSubscription>)> {
        let owned = prop::collection::vec((0..5usize, 0..9u32), 0..6);
        let member = ("[a-z]{1,8}", 1..16u8, owned, prop::option::of(0..3i32), prop::option::of(0..3u8));
        (prop::collection::vec(0..8u32, 1..5), prop::collection::vec(member, 1..9), any::<bool>()).prop_map(
            |(counts, specs, equal)| {
                let names: Vec<String> = (0..counts.len()).map(|i| format!("t{i}")).collect();
                let t: BTreeMap<String, u32> = names.iter().cloned().zip(counts).collect();
                let first_mask = specs[0].1;
                let members = specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (id, mask, owned, generation, instance))| {
                        let mask = if equal { first_mask } else { mask };
                        let mut topics: Vec<&String> =
                            names.iter().enumerate().filter(|(j, _)| mask & (1 << j) != 0).map(|(_, n)| n).collect();
                        if topics.is_empty() && mask % 4 != 0 {
                            topics.push(&names[usize::from(mask) % names.len()]);
                        }
                        let owned = owned
                            .into_iter()
                            .map(|(j, p)| tp(names.get(j).map_or("gone", |n| n.as_str()), p))
                            .collect();
                        let instance_id = instance.map(|k| format!("instance{k}-{i}"));
                        MemberSubscription {
                            member_id: format!("{id}-{i}"),
                            group_instance_id: instance_id,
                            topics: topics.into_iter().cloned().collect(),
                            owned,
                            generation,
                            rack: None,
                        }
                    })
                    .collect();
                (t, members)
            },
        )
    }

    fn all_equal(members: &[MemberSubscription]) -> bool {
        let set_of = |m: &MemberSubscription| m.topics.iter().cloned().collect::<BTreeSet<_>>();
        members.iter().all(|m| set_of(m) == set_of(&members[0]))
    }

    proptest! {
        // Like AbstractStickyAssignorTest.testReassignmentWithRandomSubscriptionsAndChanges, with any owned partitions
        // and generations: the range, round-robin and sticky assignments are complete, and the sticky one balanced when
        // all subscriptions are equal.
        #[test]
        fn eager_assignments_are_complete_and_balanced((t, members) in scenario()) {
            for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky] {
                let a = assign(assignor, &t, &members);
                check_complete(&t, &members, &a);
                if assignor == Assignor::Sticky && all_equal(&members) {
                    prop_assert!(is_fully_balanced(&a), "{a:?}");
                }
            }
        }

        // CooperativeStickyAssignorTest.verifyValidityAndBalance on random groups: no round moves a partition without
        // its revocation, the rounds settle within 4 rebalances, and the settled assignment is complete, and balanced
        // when all subscriptions are equal.
        #[test]
        fn cooperative_rounds_settle_complete_and_balanced((t, members) in scenario()) {
            let mut members = members;
            let mut a = assign(Assignor::CooperativeSticky, &t, &members);
            verify(Assignor::CooperativeSticky, &t, &mut members, &mut a);
            check_complete(&t, &members, &a);
            if all_equal(&members) {
                prop_assert!(is_fully_balanced(&a), "{a:?}");
            }
        }

        // Stickiness with equal subscriptions (AbstractStickyAssignor's constrained assignment): after members leave
        // and join, every remaining member keeps its owned partitions up to the smaller quota.
        #[test]
        fn sticky_keeps_owned_partitions_up_to_quota((t, members) in scenario(), leave in prop::collection::vec(any::<bool>(), 8), join in 0..3usize) {
            let topics: Vec<String> = members[0].topics.clone();
            let group: Vec<MemberSubscription> = members.iter().map(|m| MemberSubscription::new(m.member_id.clone(), topics.clone())).collect();
            let before = assign(Assignor::Sticky, &t, &group);
            let mut next: Vec<MemberSubscription> = group
                .iter()
                .zip(&leave)
                .filter(|(_, leaves)| !**leaves)
                .map(|(m, _)| m.clone().with_owned(before[&m.member_id].clone(), GENERATION))
                .collect();
            next.extend((0..join).map(|i| MemberSubscription::new(format!("joiner{i}"), topics.clone())));
            prop_assume!(!next.is_empty());
            let after = assign(Assignor::Sticky, &t, &next);
            let total: usize = topics.iter().map(|topic| t[topic] as usize).sum();
            let min_quota = total / next.len();
            for m in &next {
                let kept = m.owned.iter().filter(|p| after[&m.member_id].contains(p)).count();
                prop_assert!(kept >= m.owned.len().min(min_quota), "{} kept {kept} of {:?}: {after:?}", m.member_id, m.owned);
            }
        }
    }
}
