//! The Malachite [`Context`]: Waybill's consensus vocabulary (heights, addresses,
//! values, proposals, votes, validator sets) and proposer selection.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use waybill_types::block::ValidatorInfo;
use waybill_types::{Hash, PublicKey, Signature};

use super::scheme::WaybillSigningScheme;

/// The consensus engine's view of a block height. Converts losslessly to and from
/// [`waybill_types::Height`] (Malachite's `Height` trait cannot be implemented on
/// a type from another crate).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<waybill_types::Height> for Height {
    fn from(h: waybill_types::Height) -> Self {
        Height(h.0)
    }
}

impl From<Height> for waybill_types::Height {
    fn from(h: Height) -> Self {
        waybill_types::Height(h.0)
    }
}

/// A validator's consensus address: its Ed25519 public key. Displayed as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address(pub PublicKey);

impl mc::Address for Address {}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0.short())
    }
}

impl From<PublicKey> for Address {
    fn from(key: PublicKey) -> Self {
        Address(key)
    }
}

/// The value consensus agrees on: a block, named by its hash. The block itself
/// travels as proposal parts (or as synced bytes); votes carry only the hash.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct BlockValue {
    /// The block hash.
    pub block_hash: Hash,
}

impl BlockValue {
    /// The value for a block hash.
    pub fn new(block_hash: Hash) -> Self {
        BlockValue { block_hash }
    }
}

impl mc::Value for BlockValue {
    type Id = Hash;

    fn id(&self) -> Hash {
        self.block_hash
    }
}

/// A proposal for a block at a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockValue,
    /// Proof-of-lock round (`Round::Nil` for a new value).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mc::Proposal<WaybillContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// First part of a proposal stream: what the stream proposes and who proposes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalInit {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposer, whose key signs the `Fin` part.
    pub proposer: Address,
    /// Proof-of-lock round of the proposal.
    pub pol_round: Round,
}

/// A piece of a streamed proposal. The block's canonical bytes are cut into
/// [`Data`](ProposalPart::Data) chunks between an [`Init`](ProposalPart::Init) and a
/// [`Fin`](ProposalPart::Fin) that carries the proposer's signature over all parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Header of the stream.
    Init(ProposalInit),
    /// A chunk of the block's canonical bytes.
    Data(Bytes),
    /// The proposer's signature (domain `PROPOSAL_PART`) over the init fields and
    /// the hash of all data chunks.
    Fin(Signature),
}

impl mc::ProposalPart<WaybillContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init(_))
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// A prevote or precommit. Vote extensions are disabled; the field only exists
/// because the trait requires it and is always `None` for votes we produce.
#[derive(Clone, Debug)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<Hash>,
    /// The voter.
    pub validator: Address,
    /// Extension (unused).
    pub extension: Option<SignedExtension<WaybillContext>>,
}

// Equality ignores the extension, as Malachite requires for write-ahead-log replay.
impl PartialEq for Vote {
    fn eq(&self, other: &Self) -> bool {
        self.vote_type == other.vote_type
            && self.height == other.height
            && self.round == other.round
            && self.value == other.value
            && self.validator == other.validator
    }
}

impl Eq for Vote {}

impl mc::Vote<WaybillContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<Hash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<Hash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<WaybillContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<WaybillContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<WaybillContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A validator: address (= public key) and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Address.
    pub address: Address,
    /// Public key (the same bytes as the address).
    pub public_key: PublicKey,
    /// Voting power.
    pub voting_power: VotingPower,
}

impl mc::Validator<WaybillContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// Why a list of validators cannot be a validator set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidatorSetError {
    /// No validator with positive power.
    #[error("the validator set is empty (no validator with positive voting power)")]
    Empty,
    /// The same key twice.
    #[error("validator {0} appears twice in the validator set")]
    Duplicate(PublicKey),
    /// Total power too large for the engine's threshold arithmetic.
    #[error("total voting power {0} is too large (max {MAX_TOTAL_VOTING_POWER})")]
    TooMuchPower(u128),
}

/// Largest total voting power: the engine multiplies powers by 3 without overflow checks
/// that would be graceful, so keep a wide margin.
pub const MAX_TOTAL_VOTING_POWER: u64 = u64::MAX / 8;

/// Most proposer slots one validator gets in the round-robin schedule.
const MAX_SLOTS_PER_VALIDATOR: u64 = 8;

/// The validators of a height, sorted by public key, with a deterministic proposer
/// schedule (see [`WaybillContext`]'s `select_proposer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_voting_power: VotingPower,
    /// Indices into `validators`, one per proposer slot.
    schedule: Vec<usize>,
}

impl ValidatorSet {
    /// Build from the ledger's validator list. Validators with zero power are left
    /// out; duplicates, an empty set and an overflowing total are refused.
    pub fn new(infos: &[ValidatorInfo]) -> Result<ValidatorSet, ValidatorSetError> {
        let mut validators: Vec<Validator> = infos
            .iter()
            .filter(|v| v.voting_power > 0)
            .map(|v| Validator {
                address: Address(v.public_key),
                public_key: v.public_key,
                voting_power: v.voting_power,
            })
            .collect();
        validators.sort_by_key(|v| v.address);
        if let Some(w) = validators.windows(2).find(|w| w[0].address == w[1].address) {
            return Err(ValidatorSetError::Duplicate(w[0].public_key));
        }
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        let total: u128 = validators.iter().map(|v| u128::from(v.voting_power)).sum();
        if total > u128::from(MAX_TOTAL_VOTING_POWER) {
            return Err(ValidatorSetError::TooMuchPower(total));
        }
        let total_voting_power = total as u64; // checked just above
        let schedule = proposer_schedule(&validators);
        Ok(ValidatorSet {
            validators,
            total_voting_power,
            schedule,
        })
    }

    /// The validators, sorted by key.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The proposer for a height and round (`Round::Nil` counts as round 0).
    pub fn proposer(&self, height: Height, round: Round) -> &Validator {
        let round = u128::from(round.as_u32().unwrap_or(0));
        let slot = (u128::from(height.0) + round) % self.schedule.len() as u128;
        // `schedule` is non-empty and holds valid indices: both are invariants of `new`.
        &self.validators[self.schedule[slot as usize]]
    }
}

/// Smooth weighted round-robin over the validators, with each validator's weight
/// scaled to `1..=MAX_SLOTS_PER_VALIDATOR` slots relative to the most powerful one.
/// Equal powers give plain round-robin in key order; slots of one validator are
/// spread out, so a validator that is down never owns many consecutive rounds.
fn proposer_schedule(validators: &[Validator]) -> Vec<usize> {
    let max_power = validators
        .iter()
        .map(|v| v.voting_power)
        .max()
        .unwrap_or(1)
        .max(1);
    let weights: Vec<i64> = validators
        .iter()
        .map(|v| {
            let scaled = u128::from(v.voting_power) * u128::from(MAX_SLOTS_PER_VALIDATOR)
                / u128::from(max_power);
            scaled.clamp(1, u128::from(MAX_SLOTS_PER_VALIDATOR)) as i64
        })
        .collect();
    let divisor = weights.iter().copied().fold(0, gcd).max(1);
    let weights: Vec<i64> = weights.into_iter().map(|w| w / divisor).collect();
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; validators.len()];
    let mut schedule = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for i in 0..current.len() {
            current[i] += weights[i];
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        schedule.push(best);
    }
    schedule
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl mc::ValidatorSet<WaybillContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total_voting_power
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .and_then(|i| self.validators.get(i))
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// Waybill's Malachite context. Holds the chain id, which every consensus signature
/// covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaybillContext {
    chain_id: String,
}

impl WaybillContext {
    /// A context for `chain_id`.
    pub fn new(chain_id: impl Into<String>) -> Self {
        WaybillContext {
            chain_id: chain_id.into(),
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
}

impl mc::Context for WaybillContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = WaybillSigningScheme;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<Hash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<Hash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waybill_types::SecretKey;

    fn infos(powers: &[u64]) -> Vec<ValidatorInfo> {
        powers
            .iter()
            .enumerate()
            .map(|(i, p)| ValidatorInfo {
                public_key: SecretKey::from_label(&format!("v{i}")).public(),
                voting_power: *p,
            })
            .collect()
    }

    #[test]
    fn equal_powers_rotate_in_key_order() {
        let set = ValidatorSet::new(&infos(&[10, 10, 10, 10])).expect("valid set");
        let picks: Vec<Address> = (0..8)
            .map(|h| set.proposer(Height(h), Round::new(0)).address)
            .collect();
        for h in 0..4 {
            assert_eq!(picks[h], picks[h + 4]);
            assert_eq!(picks[h], set.validators()[h].address);
        }
        // The next round of a height goes to the next validator.
        assert_eq!(
            set.proposer(Height(1), Round::new(1)).address,
            set.proposer(Height(2), Round::new(0)).address
        );
    }

    #[test]
    fn weighted_schedule_spreads_slots() {
        let set = ValidatorSet::new(&infos(&[30, 10])).expect("valid set");
        let heavy = set
            .validators()
            .iter()
            .max_by_key(|v| v.voting_power)
            .expect("non-empty")
            .address;
        // Weights scale to 8:2 slots, reduced to 4:1.
        let picks: Vec<Address> = (0..30)
            .map(|h| set.proposer(Height(h), Round::Nil).address)
            .collect();
        let n_heavy = picks.iter().filter(|a| **a == heavy).count();
        assert_eq!(n_heavy, 24);
        // The light validator gets a slot in every window of five.
        assert!(picks.windows(5).all(|w| w.iter().any(|a| *a != heavy)));
    }

    #[test]
    fn invalid_sets_are_refused() {
        assert_eq!(ValidatorSet::new(&[]), Err(ValidatorSetError::Empty));
        assert_eq!(
            ValidatorSet::new(&infos(&[0])),
            Err(ValidatorSetError::Empty)
        );
        let mut dup = infos(&[1]);
        dup.push(dup[0].clone());
        assert!(matches!(
            ValidatorSet::new(&dup),
            Err(ValidatorSetError::Duplicate(_))
        ));
        assert!(matches!(
            ValidatorSet::new(&infos(&[u64::MAX, 1])),
            Err(ValidatorSetError::TooMuchPower(_))
        ));
    }
}
