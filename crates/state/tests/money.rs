//! Money through the state machine: accounts, deposits, single-phase and two-phase
//! transfers, linked batches, idempotent client ids, expiry in block time; the
//! state × action × role matrices of a pending transfer and of a new transfer; and a
//! property test over random sequences that checks, after every block, that per
//! currency Σ debits = Σ credits over all account rows and that no balance flag is
//! broken.

mod common;
use common::{key, Faulty, Ledger};

use proptest::prelude::*;
use waybill_state::money::{
    check_totals, list_accounts, load_account, load_transfer, PendingState,
};
use waybill_state::{keys, BlockContext, Execution, TxInvalid};
use waybill_types::money::{AccountId, AccountOwner, Amount, Currency};
use waybill_types::payload::money::{
    AccountFlags, CloseAccount, Deposit, OpenAccount, TransferRef, TransferSpec, Transfers,
};
use waybill_types::payload::RegisterMember;
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, Height, OrgId, Payload, PublicKey, Receipt,
    Role, SignedTx, TxStatus,
};

const CHAIN: &str = "waybill-money";
const T0: u64 = 1_767_225_600_000;
fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("test org id")
}
fn cny() -> Currency {
    Currency::new("CNY").expect("CNY")
}
fn acct(o: &str, name: &str) -> AccountId {
    AccountId::org(&org(o), cny(), name)
}
fn consumer_acct(label: &str) -> AccountId {
    AccountId {
        owner: AccountOwner::Key(key(label).public()),
        currency: cny(),
        name: "wallet".into(),
    }
}

/// - `farm`: producer, financier (the payee of most tests).
/// - `shop`: platform, financier (the payer).
/// - `rival`: platform, financier (a third party).
/// - `bank`: payment provider.
fn genesis() -> Genesis {
    let o = |id: &str, roles: Vec<Role>| GenesisOrganization {
        id: org(id),
        name: format!("{id} Ltd"),
        admin: key(&format!("{id}-admin")).public(),
        roles,
        company_prefixes: vec![],
    };
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: T0,
        organizations: vec![
            o("farm", vec![Role::Producer, Role::Financier]),
            o("shop", vec![Role::Platform, Role::Financier]),
            o("rival", vec![Role::Platform, Role::Financier]),
            o("bank", vec![Role::PaymentProvider]),
        ],
        validators: vec![GenesisValidator {
            org: org("farm"),
            public_key: key("validator").public(),
            voting_power: 1,
        }],
    }
}

/// The money chain: a [`Ledger`] whose every block is checked for the invariants.
#[derive(Clone)]
struct Chain {
    l: Ledger,
}

impl std::ops::Deref for Chain {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        &self.l
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut Ledger {
        &mut self.l
    }
}

impl Chain {
    /// Genesis, then members: `<org>-fin` (financier) in farm, shop and rival,
    /// `shop-clerk` (platform only), `bank-teller` (payment provider); then the
    /// accounts `org:<o>:CNY:main` (no overdraft) of farm, shop and rival.
    fn new() -> Chain {
        let mut c = Chain {
            l: Ledger::new(CHAIN, &genesis(), T0),
        };
        let reg = |c: &mut Chain, admin: &str, member: &str, roles: Vec<Role>| {
            c.tx(
                admin,
                Payload::RegisterMember(RegisterMember {
                    member: key(member).public(),
                    name: member.into(),
                    roles,
                }),
            )
        };
        let setup = vec![
            reg(&mut c, "farm-admin", "farm-fin", vec![Role::Financier]),
            reg(&mut c, "shop-admin", "shop-fin", vec![Role::Financier]),
            reg(&mut c, "shop-admin", "shop-clerk", vec![Role::Platform]),
            reg(&mut c, "rival-admin", "rival-fin", vec![Role::Financier]),
            reg(
                &mut c,
                "bank-admin",
                "bank-teller",
                vec![Role::PaymentProvider],
            ),
        ];
        c.block_ok(setup);
        let opens = ["farm", "shop", "rival"]
            .iter()
            .map(|o| {
                c.tx(
                    &format!("{o}-fin"),
                    Payload::OpenAccount(OpenAccount {
                        account: acct(o, "main"),
                        flags: AccountFlags {
                            debits_must_not_exceed_credits: true,
                            ..AccountFlags::default()
                        },
                    }),
                )
            })
            .collect();
        c.block_ok(opens);
        c
    }

    fn tx(&mut self, signer: &str, payload: Payload) -> SignedTx {
        let expiry = self.time(self.height + 1) + 3_600_000;
        self.l.tx_until(signer, payload, expiry)
    }

    fn time(&self, height: u64) -> u64 {
        T0 + height * 1_000
    }

    /// Execute and commit `txs` as the next block at `time_ms`; assert the money
    /// invariant after it.
    fn block_at(&mut self, time_ms: u64, txs: Vec<SignedTx>) -> Vec<Receipt> {
        let receipts = self.l.execute(time_ms, &txs);
        self.check_invariants();
        receipts
    }

    fn block(&mut self, txs: Vec<SignedTx>) -> Vec<Receipt> {
        let t = self.time(self.height + 1);
        self.block_at(t, txs)
    }

    fn block_ok(&mut self, txs: Vec<SignedTx>) {
        for r in self.block(txs) {
            assert_eq!(r.status, TxStatus::Applied, "{r:?}");
        }
    }

    /// One transaction in its own block: `Ok` or the rejection code.
    fn run(&mut self, signer: &str, payload: Payload) -> Result<(), String> {
        let tx = self.tx(signer, payload);
        match self.block(vec![tx]).remove(0).status {
            TxStatus::Applied => Ok(()),
            TxStatus::Rejected { code, .. } => Err(code),
        }
    }

    fn account(&self, id: &AccountId) -> waybill_state::money::Account {
        load_account(&self.state, id)
            .expect("reads")
            .unwrap_or_else(|| panic!("{id} is open"))
    }

    /// Posted balance (credits − debits) of an account.
    fn balance(&self, id: &AccountId) -> i128 {
        self.account(id).posted_balance()
    }

    /// Σ debits = Σ credits per currency (from the rows, and as the totals row says),
    /// and every account's flags hold.
    fn check_invariants(&self) {
        let currencies: Vec<Currency> = self
            .state
            .keys()
            .filter(|k| k.first() == Some(&keys::MONEY_TOTALS))
            .map(|k| Currency::new(std::str::from_utf8(&k[1..]).expect("ASCII")).expect("ISO"))
            .collect();
        for c in currencies {
            check_totals(&self.state, c)
                .expect("reads")
                .expect("money invariant");
        }
        for a in list_accounts(&self.state, &[keys::ACCOUNT], None, 100_000).expect("reads") {
            let debits = a.debits_posted.0 + a.debits_pending.0;
            let credits = a.credits_posted.0 + a.credits_pending.0;
            if a.flags.debits_must_not_exceed_credits {
                assert!(debits <= a.credits_posted.0, "{} overdrawn: {a:?}", a.id);
            }
            if a.flags.credits_must_not_exceed_debits {
                assert!(
                    credits <= a.debits_posted.0,
                    "{} over-credited: {a:?}",
                    a.id
                );
            }
        }
    }

    /// The bank deposits `amount` into `account`.
    fn deposit(&mut self, account: &AccountId, amount: u128) {
        self.nonce += 1;
        let id = format!("dep-{}", self.nonce);
        let r = self.run(
            "bank-teller",
            Payload::Deposit(Deposit {
                id: id.clone(),
                account: account.clone(),
                amount: Amount(amount),
                reference: format!("BANK-{id}"),
            }),
        );
        assert_eq!(r, Ok(()), "deposit into {account}");
    }
}

fn single(id: &str, debit: &AccountId, credit: &AccountId, amount: u128) -> TransferSpec {
    TransferSpec::Single {
        id: id.into(),
        debit: debit.clone(),
        credit: credit.clone(),
        amount: Amount(amount),
        reference: None,
    }
}

fn pending(
    id: &str,
    debit: &AccountId,
    credit: &AccountId,
    amount: u128,
    timeout_ms: u64,
) -> TransferSpec {
    TransferSpec::Pending {
        id: id.into(),
        debit: debit.clone(),
        credit: credit.clone(),
        amount: Amount(amount),
        timeout_ms,
        reference: None,
    }
}

fn post(id: &str, signer: &str, pending_id: &str, amount: Option<u128>) -> TransferSpec {
    TransferSpec::Post {
        id: id.into(),
        pending: TransferRef {
            signer: key(signer).public(),
            id: pending_id.into(),
        },
        amount: amount.map(Amount),
        reference: None,
    }
}

fn void(id: &str, signer: &str, pending_id: &str) -> TransferSpec {
    TransferSpec::Void {
        id: id.into(),
        pending: TransferRef {
            signer: key(signer).public(),
            id: pending_id.into(),
        },
    }
}

fn transfers(specs: Vec<TransferSpec>) -> Payload {
    Payload::Transfer(Transfers { transfers: specs })
}

#[test]
fn a_deposit_pays_in_through_the_provider_and_a_payment_moves_it() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 10_000);
    assert_eq!(c.balance(&acct("shop", "main")), 10_000);
    assert_eq!(c.balance(&acct("bank", "settlement")), -10_000);
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single(
                "pay-1",
                &acct("shop", "main"),
                &acct("farm", "main"),
                2_500
            )])
        ),
        Ok(())
    );
    assert_eq!(c.balance(&acct("shop", "main")), 7_500);
    assert_eq!(c.balance(&acct("farm", "main")), 2_500);
    // An overdraft is refused and changes nothing.
    let before = c.state.clone();
    let r = c.run(
        "shop-fin",
        transfers(vec![single(
            "pay-2",
            &acct("shop", "main"),
            &acct("farm", "main"),
            7_501,
        )]),
    );
    assert_eq!(r, Err("exceeds_credits".into()));
    assert_eq!(c.account(&acct("shop", "main")), {
        let k = keys::account(&acct("shop", "main"));
        waybill_state::decode_record::<waybill_state::money::Account>(&k, &before[&k])
            .expect("present and readable")
    });
    // A consumer's account opens with the first deposit for the key, without overdraft.
    let wallet = consumer_acct("consumer-1");
    assert!(load_account(&c.state, &wallet)
        .expect("present and readable")
        .is_none());
    c.deposit(&wallet, 500);
    let w = c.account(&wallet);
    assert!(w.flags.debits_must_not_exceed_credits);
    assert_eq!(w.posted_balance(), 500);
    // Nobody but its holder's signed payment debits a key's account.
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single("take", &wallet, &acct("shop", "main"), 1)])
        ),
        Err("not_authorized".into())
    );
}

#[test]
fn deposits_need_a_payment_provider_and_an_open_organization_account() {
    let mut c = Chain::new();
    let dep = |account: AccountId, id: &str| {
        Payload::Deposit(Deposit {
            id: id.into(),
            account,
            amount: Amount(100),
            reference: "REF-1".into(),
        })
    };
    assert_eq!(
        c.run("shop-fin", dep(acct("shop", "main"), "d1")),
        Err("not_authorized".into())
    );
    assert_eq!(
        c.run("shop-admin", dep(acct("shop", "main"), "d1")),
        Err("not_authorized".into()),
        "an organization's admin is no payment provider"
    );
    assert_eq!(
        c.run("bank-teller", dep(acct("shop", "savings"), "d1")),
        Err("unknown_account".into())
    );
    assert_eq!(
        c.run("bank-teller", dep(acct("bank", "settlement"), "d1")),
        Err("invalid".into())
    );
    assert_eq!(
        c.run("bank-teller", dep(acct("shop", "main"), "d1")),
        Ok(())
    );
    assert_eq!(
        c.run("bank-teller", dep(acct("shop", "main"), "d1")),
        Err("exists".into())
    );
    assert_eq!(
        c.run("bank-teller", dep(acct("farm", "main"), "d1")),
        Err("exists_with_different_fields".into())
    );
    // A provider's reference names one payment: booked once, whatever the client id.
    let r = c.run("bank-teller", dep(acct("farm", "main"), "d2"));
    assert_eq!(r, Err("duplicate".into()), "REF-1 is booked already");
    assert_eq!(c.balance(&acct("shop", "main")), 100);
    let booked =
        waybill_state::money::provider_transfers(&c.state, &org("bank"), None, 10).expect("reads");
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].0, "REF-1");
    assert_eq!(booked[0].1.credit, acct("shop", "main"));
}

#[test]
fn client_ids_are_idempotent_per_signer() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let t = || {
        transfers(vec![single(
            "t-1",
            &acct("shop", "main"),
            &acct("farm", "main"),
            100,
        )])
    };
    assert_eq!(c.run("shop-fin", t()), Ok(()));
    assert_eq!(
        c.run("shop-fin", t()),
        Err("exists".into()),
        "a retry is not paid twice"
    );
    assert_eq!(c.balance(&acct("farm", "main")), 100);
    let other = transfers(vec![single(
        "t-1",
        &acct("shop", "main"),
        &acct("farm", "main"),
        101,
    )]);
    assert_eq!(
        c.run("shop-fin", other),
        Err("exists_with_different_fields".into())
    );
    // Another signer's namespace is its own.
    assert_eq!(c.run("shop-admin", t()), Ok(()));
    assert_eq!(c.balance(&acct("farm", "main")), 200);
    // A rejected transfer claims no id: after the deposit, the same request succeeds.
    let big = || {
        transfers(vec![single(
            "t-2",
            &acct("shop", "main"),
            &acct("farm", "main"),
            5_000,
        )])
    };
    assert_eq!(c.run("shop-fin", big()), Err("exceeds_credits".into()));
    c.deposit(&acct("shop", "main"), 5_000);
    assert_eq!(c.run("shop-fin", big()), Ok(()));
}

#[test]
fn linked_transfers_succeed_or_fail_together() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let batch = transfers(vec![
        single("a", &acct("shop", "main"), &acct("farm", "main"), 600),
        single("b", &acct("shop", "main"), &acct("rival", "main"), 600),
    ]);
    let tx = c.tx("shop-fin", batch);
    let r = c.block(vec![tx]).remove(0);
    let TxStatus::Rejected { code, message } = r.status else {
        panic!("the second overdraws: {r:?}")
    };
    assert_eq!(code, "exceeds_credits");
    assert!(
        message.contains("transfers[1] (`b`)") && message.contains("none of the 2"),
        "{message}"
    );
    assert_eq!(
        c.balance(&acct("farm", "main")),
        0,
        "the first was not made either"
    );
    assert!(load_transfer(
        &c.state,
        &TransferRef {
            signer: key("shop-fin").public(),
            id: "a".into()
        }
    )
    .expect("present and readable")
    .is_none());
    // A later transfer of a batch sees an earlier one's effect.
    c.deposit(&acct("farm", "main"), 1);
    let chain = transfers(vec![single(
        "c",
        &acct("shop", "main"),
        &acct("farm", "main"),
        1_000,
    )]);
    assert_eq!(c.run("shop-fin", chain), Ok(()));
    let onward = transfers(vec![single(
        "d",
        &acct("farm", "main"),
        &acct("rival", "main"),
        1_001,
    )]);
    assert_eq!(c.run("farm-fin", onward), Ok(()));
    assert_eq!(c.balance(&acct("rival", "main")), 1_001);
}

#[test]
fn a_pending_transfer_posts_in_part_and_releases_the_rest() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let p = pending(
        "hold",
        &acct("shop", "main"),
        &acct("farm", "main"),
        800,
        60_000,
    );
    assert_eq!(c.run("shop-fin", transfers(vec![p])), Ok(()));
    let s = c.account(&acct("shop", "main"));
    assert_eq!(
        (
            s.posted_balance(),
            s.available_balance(),
            s.pending_balance()
        ),
        (1_000, 200, 200)
    );
    assert_eq!(c.account(&acct("farm", "main")).pending_balance(), 800);
    // Flags count pending amounts: 201 more would overdraw.
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single(
                "x",
                &acct("shop", "main"),
                &acct("rival", "main"),
                201
            )])
        ),
        Err("exceeds_credits".into())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![post("p1", "shop-fin", "hold", Some(801))])
        ),
        Err("exceeds_pending_amount".into())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![post("p1", "shop-fin", "hold", Some(500))])
        ),
        Ok(())
    );
    let s = c.account(&acct("shop", "main"));
    assert_eq!(
        (s.posted_balance(), s.available_balance(), s.debits_pending),
        (500, 500, Amount(0))
    );
    assert_eq!(c.balance(&acct("farm", "main")), 500);
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![post("p2", "shop-fin", "hold", None)])
        ),
        Err("pending_transfer_already_posted".into())
    );
    assert_eq!(
        c.run("farm-fin", transfers(vec![void("v1", "shop-fin", "hold")])),
        Err("pending_transfer_already_posted".into())
    );
    let held = load_transfer(
        &c.state,
        &TransferRef {
            signer: key("shop-fin").public(),
            id: "hold".into(),
        },
    )
    .expect("present and readable")
    .expect("present and readable");
    assert!(matches!(
        held.pending_state,
        Some(PendingState::Posted {
            amount: Amount(500),
            ..
        })
    ));
}

#[test]
fn a_pending_transfer_expires_at_the_start_of_the_first_block_at_its_deadline() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let t_create = c.time(c.height + 1);
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![pending(
                "hold",
                &acct("shop", "main"),
                &acct("farm", "main"),
                700,
                10_000
            )])
        ),
        Ok(())
    );
    // One ms before the deadline it still holds; a post in that block succeeds...
    let mut probe = c.clone();
    probe.nonce += 1_000;
    let tx = probe.tx(
        "shop-fin",
        transfers(vec![post("p", "shop-fin", "hold", None)]),
    );
    assert_eq!(
        probe.block_at(t_create + 9_999, vec![tx])[0].status,
        TxStatus::Applied
    );
    // ...but in the block at the deadline the expiry runs first, before any transaction.
    let tx = c.tx(
        "shop-fin",
        transfers(vec![post("p", "shop-fin", "hold", None)]),
    );
    let r = c.block_at(t_create + 10_000, vec![tx]).remove(0);
    assert!(
        matches!(&r.status, TxStatus::Rejected { code, .. } if code == "pending_transfer_expired"),
        "{r:?}"
    );
    let s = c.account(&acct("shop", "main"));
    assert_eq!(
        (s.available_balance(), s.debits_pending),
        (1_000, Amount(0))
    );
    assert_eq!(c.account(&acct("farm", "main")).credits_pending, Amount(0));
    assert!(
        !c.state
            .keys()
            .any(|k| k.first() == Some(&keys::PENDING_EXPIRY)),
        "the deadline row is gone"
    );
}

#[test]
fn expiry_is_bounded_per_block_and_in_deadline_order() {
    let mut c = Chain::new();
    let max = waybill_types::limits::PENDING_TRANSFERS_EXPIRED_PER_BLOCK_MAX;
    let n = max + 500;
    c.deposit(&acct("shop", "main"), n as u128);
    // Deadlines 1 ms apart, later ids with earlier deadlines.
    let per_tx = waybill_types::limits::TRANSFERS_PER_TX_MAX;
    let mut txs = Vec::new();
    for chunk in 0..n.div_ceil(per_tx) {
        let specs = (chunk * per_tx..((chunk + 1) * per_tx).min(n))
            .map(|i| {
                pending(
                    &format!("h{i}"),
                    &acct("shop", "main"),
                    &acct("farm", "main"),
                    1,
                    100_000 - i as u64,
                )
            })
            .collect();
        txs.push(c.tx("shop-fin", transfers(specs)));
    }
    c.block_ok(txs);
    let t = c.time(c.height) + 100_000;
    c.block_at(t, vec![]);
    let shop = c.account(&acct("shop", "main"));
    assert_eq!(shop.debits_pending, Amount(500), "{max} expired, 500 wait");
    // The ones left are those with the latest deadlines: the lowest ids.
    let left: Vec<bool> = (0..n)
        .map(|i| {
            let t = load_transfer(
                &c.state,
                &TransferRef {
                    signer: key("shop-fin").public(),
                    id: format!("h{i}"),
                },
            )
            .expect("present and readable")
            .expect("present and readable");
            matches!(t.pending_state, Some(PendingState::Pending { .. }))
        })
        .collect();
    assert!(left[..500].iter().all(|p| *p) && left[500..].iter().all(|p| !*p));
    c.block_at(t + 1, vec![]);
    assert_eq!(c.account(&acct("shop", "main")).debits_pending, Amount(0));
}

#[test]
fn closed_accounts_take_no_new_transfers_but_pending_ones_settle() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![pending(
                "hold",
                &acct("shop", "main"),
                &acct("farm", "main"),
                300,
                60_000
            )])
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "farm-fin",
            Payload::CloseAccount(CloseAccount {
                account: acct("farm", "main")
            })
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "farm-fin",
            Payload::CloseAccount(CloseAccount {
                account: acct("farm", "main")
            })
        ),
        Err("account_closed".into())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            Payload::CloseAccount(CloseAccount {
                account: acct("farm", "main")
            })
        ),
        Err("not_authorized".into())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single(
                "x",
                &acct("shop", "main"),
                &acct("farm", "main"),
                1
            )])
        ),
        Err("account_closed".into())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![post("p", "shop-fin", "hold", None)])
        ),
        Ok(())
    );
    assert_eq!(c.balance(&acct("farm", "main")), 300);
}

#[test]
fn flags_and_overflow() {
    let mut c = Chain::new();
    // A credit line: credits may not pass debits.
    let line = acct("farm", "credit-line");
    assert_eq!(
        c.run(
            "farm-fin",
            Payload::OpenAccount(OpenAccount {
                account: line.clone(),
                flags: AccountFlags {
                    credits_must_not_exceed_debits: true,
                    ..AccountFlags::default()
                },
            })
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "farm-fin",
            Payload::OpenAccount(OpenAccount {
                account: line.clone(),
                flags: AccountFlags::default()
            })
        ),
        Err("duplicate".into())
    );
    c.deposit(&acct("shop", "main"), 50);
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single("x", &acct("shop", "main"), &line, 1)])
        ),
        Err("exceeds_debits".into())
    );
    assert_eq!(
        c.run(
            "farm-fin",
            transfers(vec![single("draw", &line, &acct("farm", "main"), 40)])
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![single("x", &acct("shop", "main"), &line, 40)])
        ),
        Ok(())
    );
    // An account without flags (the provider's settlement) can go to 2^128-1 debits,
    // and not past: the next deposit overflows and changes nothing.
    let max = u128::MAX;
    let r = c.run(
        "bank-teller",
        Payload::Deposit(Deposit {
            id: "big".into(),
            account: acct("rival", "main"),
            amount: Amount(max),
            reference: "B".into(),
        }),
    );
    assert_eq!(
        r,
        Err("overflow".into()),
        "the settlement account's debits (50 already) would overflow"
    );
    // Opening another organization's account, or one of another currency's name clash, is refused.
    assert_eq!(
        c.run(
            "farm-fin",
            Payload::OpenAccount(OpenAccount {
                account: acct("shop", "x"),
                flags: AccountFlags::default()
            })
        ),
        Err("not_authorized".into())
    );
    assert_eq!(
        c.run(
            "shop-clerk",
            Payload::OpenAccount(OpenAccount {
                account: acct("shop", "x"),
                flags: AccountFlags::default()
            })
        ),
        Err("not_authorized".into()),
        "a platform clerk does not move the organization's money"
    );
}

#[test]
fn a_withdrawal_is_a_pending_transfer_to_the_provider_that_it_posts_or_voids() {
    let mut c = Chain::new();
    c.deposit(&acct("farm", "main"), 900);
    let settlement = acct("bank", "settlement");
    let out = pending(
        "payout-1",
        &acct("farm", "main"),
        &settlement,
        400,
        3_600_000,
    );
    assert_eq!(c.run("farm-fin", transfers(vec![out])), Ok(()));
    // The provider made the payout: it posts with its reference.
    let paid = TransferSpec::Post {
        id: "po-1".into(),
        pending: TransferRef {
            signer: key("farm-fin").public(),
            id: "payout-1".into(),
        },
        amount: None,
        reference: Some("BANK-OUT-77".into()),
    };
    assert_eq!(
        c.run("rival-fin", transfers(vec![paid.clone()])),
        Err("not_authorized".into())
    );
    assert_eq!(c.run("bank-teller", transfers(vec![paid])), Ok(()));
    assert_eq!(c.balance(&acct("farm", "main")), 500);
    assert_eq!(c.balance(&settlement), -500, "900 in, 400 out");
    // A payout that failed: the provider voids it.
    assert_eq!(
        c.run(
            "farm-fin",
            transfers(vec![pending(
                "payout-2",
                &acct("farm", "main"),
                &settlement,
                100,
                3_600_000
            )])
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "bank-teller",
            transfers(vec![void("vo-2", "farm-fin", "payout-2")])
        ),
        Ok(())
    );
    assert_eq!(c.account(&acct("farm", "main")).available_balance(), 500);
}

// ---------------------------------------------------------------------------
// The matrices.
// ---------------------------------------------------------------------------

/// What a pending transfer `hold` (shop → farm, 300) has become before the action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldState {
    Missing,
    SinglePhase,
    Pending,
    Posted,
    Voided,
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SettleAction {
    PostAll,
    PostPart,
    PostTooMuch,
    Void,
}

/// Signers: the payer's money mover, the payer's clerk (no money role), the payee's
/// money mover, a third party's money mover, the payment provider.
const SETTLERS: [&str; 5] = [
    "shop-fin",
    "shop-clerk",
    "farm-fin",
    "rival-fin",
    "bank-teller",
];

/// The expected outcome of one cell, written from the rules: an unknown transfer
/// first; then who (post: the payer's organization's money mover; void: the payee's);
/// then what became of it; then the amount.
fn expected_settle(state: HoldState, action: SettleAction, who: &str) -> Result<(), &'static str> {
    if state == HoldState::Missing {
        return Err("unknown_transfer");
    }
    let may = match action {
        SettleAction::Void => who == "farm-fin",
        _ => who == "shop-fin",
    };
    if !may {
        return Err("not_authorized");
    }
    match state {
        HoldState::Missing => unreachable!(),
        HoldState::SinglePhase => Err("not_pending"),
        HoldState::Posted => Err("pending_transfer_already_posted"),
        HoldState::Voided => Err("pending_transfer_already_voided"),
        HoldState::Expired => Err("pending_transfer_expired"),
        HoldState::Pending if action == SettleAction::PostTooMuch => Err("exceeds_pending_amount"),
        HoldState::Pending => Ok(()),
    }
}

fn chain_with_hold(state: HoldState) -> Chain {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let (s, f) = (acct("shop", "main"), acct("farm", "main"));
    let setup = match state {
        HoldState::Missing => return c,
        HoldState::SinglePhase => vec![("shop-fin", single("hold", &s, &f, 300))],
        HoldState::Pending | HoldState::Expired => {
            vec![("shop-fin", pending("hold", &s, &f, 300, 5_000))]
        }
        HoldState::Posted => vec![
            ("shop-fin", pending("hold", &s, &f, 300, 60_000)),
            ("shop-fin", post("first-post", "shop-fin", "hold", None)),
        ],
        HoldState::Voided => vec![
            ("shop-fin", pending("hold", &s, &f, 300, 60_000)),
            ("farm-fin", void("first-void", "shop-fin", "hold")),
        ],
    };
    for (who, spec) in setup {
        assert_eq!(c.run(who, transfers(vec![spec])), Ok(()));
    }
    if state == HoldState::Expired {
        let t = c.time(c.height) + 10_000;
        c.block_at(t, vec![]);
    }
    c
}

#[test]
fn pending_transfer_matrix_state_by_action_by_role() {
    let states = [
        HoldState::Missing,
        HoldState::SinglePhase,
        HoldState::Pending,
        HoldState::Posted,
        HoldState::Voided,
        HoldState::Expired,
    ];
    let actions = [
        SettleAction::PostAll,
        SettleAction::PostPart,
        SettleAction::PostTooMuch,
        SettleAction::Void,
    ];
    let mut cells = 0;
    for state in states {
        let base = chain_with_hold(state);
        for action in actions {
            for who in SETTLERS {
                let mut c = base.clone();
                let spec = match action {
                    SettleAction::PostAll => post("act", "shop-fin", "hold", None),
                    SettleAction::PostPart => post("act", "shop-fin", "hold", Some(120)),
                    SettleAction::PostTooMuch => post("act", "shop-fin", "hold", Some(301)),
                    SettleAction::Void => void("act", "shop-fin", "hold"),
                };
                let before_shop = c.account(&acct("shop", "main"));
                let got = c.run(who, transfers(vec![spec]));
                let want = expected_settle(state, action, who).map_err(String::from);
                assert_eq!(got, want, "{state:?} × {action:?} × {who}");
                let shop = c.account(&acct("shop", "main"));
                let posted = match (&got, action) {
                    (Err(_), _) => {
                        assert_eq!(
                            shop, before_shop,
                            "{state:?} × {action:?} × {who}: a rejection changes nothing"
                        );
                        continue;
                    }
                    (Ok(()), SettleAction::PostAll) => 300,
                    (Ok(()), SettleAction::PostPart) => 120,
                    (Ok(()), _) => 0,
                };
                assert_eq!(shop.debits_pending, Amount(0));
                assert_eq!(
                    shop.posted_balance(),
                    1_000 - posted,
                    "{state:?} × {action:?} × {who}"
                );
                assert_eq!(c.balance(&acct("farm", "main")), posted as i128);
                cells += 1;
            }
        }
    }
    assert_eq!(
        cells, 3,
        "post all, post part and void each succeed for exactly one signer"
    );
}

/// The accounts a new transfer may meet.
#[derive(Clone, Copy, Debug)]
enum Accounts {
    Funded,
    Insufficient,
    DebitClosed,
    CreditClosed,
    CreditUnknown,
    DebitOfAnotherOrg,
}

#[test]
fn new_transfer_matrix_accounts_by_kind_by_role() {
    let situations = [
        Accounts::Funded,
        Accounts::Insufficient,
        Accounts::DebitClosed,
        Accounts::CreditClosed,
        Accounts::CreditUnknown,
        Accounts::DebitOfAnotherOrg,
    ];
    let signers = [
        "shop-fin",
        "shop-admin",
        "shop-clerk",
        "farm-fin",
        "rival-fin",
        "bank-teller",
    ];
    for situation in situations {
        let mut base = Chain::new();
        base.deposit(&acct("shop", "main"), 1_000);
        base.deposit(&acct("rival", "main"), 1_000);
        let (mut debit, mut credit, mut amount) = (acct("shop", "main"), acct("farm", "main"), 400);
        match situation {
            Accounts::Funded => {}
            Accounts::Insufficient => amount = 1_001,
            Accounts::DebitClosed => {
                assert_eq!(
                    base.run(
                        "shop-fin",
                        Payload::CloseAccount(CloseAccount {
                            account: debit.clone()
                        })
                    ),
                    Ok(())
                );
            }
            Accounts::CreditClosed => {
                assert_eq!(
                    base.run(
                        "farm-fin",
                        Payload::CloseAccount(CloseAccount {
                            account: credit.clone()
                        })
                    ),
                    Ok(())
                );
            }
            Accounts::CreditUnknown => credit = acct("farm", "nowhere"),
            Accounts::DebitOfAnotherOrg => debit = acct("rival", "main"),
        }
        for is_pending in [false, true] {
            for who in signers {
                let mut c = base.clone();
                let spec = if is_pending {
                    pending("new", &debit, &credit, amount, 60_000)
                } else {
                    single("new", &debit, &credit, amount)
                };
                let got = c.run(who, transfers(vec![spec]));
                // Who first (the debit account's organization, by its admin or a
                // money role), then the accounts, then the balance.
                let owner_mover = match situation {
                    Accounts::DebitOfAnotherOrg => who == "rival-fin",
                    _ => who == "shop-fin" || who == "shop-admin",
                };
                let want = if !owner_mover {
                    Err("not_authorized")
                } else {
                    match situation {
                        Accounts::Funded | Accounts::DebitOfAnotherOrg => Ok(()),
                        Accounts::Insufficient => Err("exceeds_credits"),
                        Accounts::DebitClosed | Accounts::CreditClosed => Err("account_closed"),
                        Accounts::CreditUnknown => Err("unknown_account"),
                    }
                };
                assert_eq!(
                    got,
                    want.map_err(String::from),
                    "{situation:?} × pending={is_pending} × {who}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Property: random sequences keep the invariants.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        to: usize,
        amount: u128,
    },
    Single {
        from: usize,
        to: usize,
        amount: u128,
    },
    Pending {
        from: usize,
        to: usize,
        amount: u128,
        timeout_ms: u64,
    },
    Post {
        which: usize,
        part: Option<u128>,
    },
    Void {
        which: usize,
    },
    Close {
        which: usize,
    },
    Wait {
        ms: u64,
    },
}

const ORGS: [&str; 3] = ["shop", "farm", "rival"];

fn op() -> impl Strategy<Value = Op> {
    let amt = prop_oneof![1u128..500, Just(u128::MAX / 2), Just(u128::MAX)];
    prop_oneof![
        (0..3usize, amt.clone()).prop_map(|(to, amount)| Op::Deposit { to, amount }),
        (0..3usize, 0..3usize, amt.clone()).prop_map(|(from, to, amount)| Op::Single {
            from,
            to,
            amount
        }),
        (0..3usize, 0..3usize, amt, 1u64..20_000).prop_map(|(from, to, amount, timeout_ms)| {
            Op::Pending {
                from,
                to,
                amount,
                timeout_ms,
            }
        }),
        (0..64usize, proptest::option::of(1u128..400))
            .prop_map(|(which, part)| Op::Post { which, part }),
        (0..64usize).prop_map(|which| Op::Void { which }),
        (0..40usize).prop_map(|which| Op::Close { which }),
        (1u64..15_000).prop_map(|ms| Op::Wait { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("WAYBILL_MONEY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    /// Each op in its own block (a transaction per op; `Wait` is an empty block later
    /// in time, so pending transfers expire); `Chain::block_at` checks the invariants
    /// after every block.
    #[test]
    fn random_transfers_keep_debits_equal_to_credits_and_every_flag(ops in proptest::collection::vec(op(), 1..40)) {
        let mut c = Chain::new();
        let mut pendings: Vec<(String, String)> = Vec::new();
        let mut time = c.time(c.height);
        for (i, op) in ops.into_iter().enumerate() {
            time += 1_000;
            let id = format!("op{i}");
            let (who, payload) = match op {
                Op::Deposit { to, amount } => ("bank-teller".to_string(), Payload::Deposit(Deposit {
                    reference: format!("R-{id}"), id, account: acct(ORGS[to], "main"), amount: Amount(amount),
                })),
                Op::Single { from, to, amount } if from != to => (format!("{}-fin", ORGS[from]),
                    transfers(vec![single(&id, &acct(ORGS[from], "main"), &acct(ORGS[to], "main"), amount)])),
                Op::Pending { from, to, amount, timeout_ms } if from != to => {
                    let who = format!("{}-fin", ORGS[from]);
                    pendings.push((who.clone(), id.clone()));
                    (who, transfers(vec![pending(&id, &acct(ORGS[from], "main"), &acct(ORGS[to], "main"), amount, timeout_ms)]))
                }
                Op::Post { which, part } if !pendings.is_empty() => {
                    let (who, pid) = pendings[which % pendings.len()].clone();
                    (who.clone(), transfers(vec![post(&id, &who, &pid, part)]))
                }
                Op::Void { which } if !pendings.is_empty() => {
                    let (payer, pid) = pendings[which % pendings.len()].clone();
                    let t = load_transfer(&c.state, &TransferRef { signer: key(&payer).public(), id: pid.clone() }).expect("present and readable");
                    let payee = t.and_then(|t| t.credit.org_owner().cloned()).map_or("farm".to_string(), |o| o.to_string());
                    (format!("{payee}-fin"), transfers(vec![void(&id, &payer, &pid)]))
                }
                Op::Close { which } if which < 3 => (format!("{}-fin", ORGS[which]),
                    Payload::CloseAccount(CloseAccount { account: acct(ORGS[which], "main") })),
                Op::Wait { ms } => {
                    time += ms;
                    c.block_at(time, vec![]);
                    continue;
                }
                _ => continue,
            };
            let tx = c.tx(&who, payload);
            // Every outcome is a receipt (applied or a rejection code), never a panic
            // or an inadmissible transaction; the invariants are checked after the block.
            let r = c.block_at(time, vec![tx]);
            prop_assert_eq!(r.len(), 1);
        }
    }
}

#[test]
fn a_corrupt_totals_row_is_found_by_the_check() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 10);
    let k = keys::money_totals(&cny());
    let mut v = c.state[&k].clone();
    v[0] ^= 1;
    c.state.insert(k, v);
    assert!(check_totals(&c.state, cny())
        .expect("present and readable")
        .is_err());
}

#[test]
fn key_owned_accounts_are_keyed_by_the_key() {
    // A key account and an organization account of the same name do not collide.
    let k = keys::account(&consumer_acct("consumer-1"));
    let o = keys::account(&acct("shop", "wallet"));
    assert_ne!(k, o);
    let _: PublicKey = key("consumer-1").public();
}

// ---------------------------------------------------------------------------
// Store faults: a failed read halts, never rejects or applies.
// ---------------------------------------------------------------------------

/// Every read each money action makes is failed in turn (and every read of the
/// start-of-block expiry): each time the block stops with a state fault, never a
/// rejection or an applied transfer.
#[test]
fn a_failed_state_read_halts_the_block_and_never_becomes_a_rejection() {
    let mut c = Chain::new();
    c.deposit(&acct("shop", "main"), 1_000);
    let (s, f) = (acct("shop", "main"), acct("farm", "main"));
    assert_eq!(
        c.run(
            "shop-fin",
            transfers(vec![pending("held", &s, &f, 100, 60_000)])
        ),
        Ok(())
    );
    let shop_usd = AccountId::org(&org("shop"), usd(), "usd");
    assert_eq!(
        c.run(
            "shop-fin",
            Payload::OpenAccount(OpenAccount {
                account: shop_usd.clone(),
                flags: AccountFlags::default(),
            })
        ),
        Ok(())
    );
    c.deposit(&shop_usd, 500);
    let t = c.time(c.height + 1);
    assert_eq!(
        c.run(
            "bank-teller",
            quote("q", usd(), cny(), "7.1", t, t + 600_000)
        ),
        Ok(())
    );
    let cases: Vec<(&str, &str, Payload)> = vec![
        (
            "quote",
            "bank-teller",
            quote("q2", usd(), cny(), "7.2", t, t + 600_000),
        ),
        (
            "convert",
            "shop-fin",
            convert("fault-fx", &shop_usd, &s, 100, "q"),
        ),
        (
            "open",
            "farm-fin",
            Payload::OpenAccount(OpenAccount {
                account: acct("farm", "fees"),
                flags: AccountFlags::default(),
            }),
        ),
        (
            "close",
            "farm-fin",
            Payload::CloseAccount(CloseAccount {
                account: acct("farm", "main"),
            }),
        ),
        (
            "deposit into a new key account",
            "bank-teller",
            Payload::Deposit(Deposit {
                id: "fault-dep".into(),
                account: consumer_acct("consumer-9"),
                amount: Amount(5),
                reference: "F".into(),
            }),
        ),
        (
            "linked single and pending",
            "shop-fin",
            transfers(vec![
                single("fault-1", &s, &f, 10),
                pending("fault-2", &s, &f, 10, 1_000),
            ]),
        ),
        (
            "post in part",
            "shop-fin",
            transfers(vec![post("fault-p", "shop-fin", "held", Some(40))]),
        ),
        (
            "void",
            "farm-fin",
            transfers(vec![void("fault-v", "shop-fin", "held")]),
        ),
    ];
    let ctx = BlockContext {
        chain_id: CHAIN.into(),
        height: Height(c.height + 1),
        time_ms: c.time(c.height + 1),
    };
    for (what, who, payload) in cases {
        let tx = c.tx(who, payload);
        let mut ex = Execution::begin(&c.state, ctx.clone()).expect("reads");
        let baseline = ex.apply(&tx, tx.id()).cloned();
        assert!(
            matches!(&baseline, Ok(r) if r.status == TxStatus::Applied),
            "{what}: applies on a sound store: {baseline:?}"
        );
        let mut faults = 0;
        for fail_at in 0..10_000 {
            let faulty = Faulty::new(&c.state, fail_at);
            let Ok(mut ex) = Execution::begin(&faulty, ctx.clone()) else {
                continue;
            };
            let result = ex.apply(&tx, tx.id()).cloned();
            if faulty.reads.get() <= fail_at {
                assert_eq!(result, baseline, "{what}");
                break;
            }
            faults += 1;
            assert!(
                matches!(result, Err(TxInvalid::State(_))),
                "{what}: read {fail_at} failed, yet the transaction came out {result:?}"
            );
        }
        assert!(faults > 2, "{what}: the transaction reads state");
    }
    // The expiry at the start of a block: a failed read stops the block.
    let late = BlockContext {
        time_ms: c.time(c.height) + 60_000,
        ..ctx
    };
    let mut stopped = 0;
    for fail_at in 0..10_000 {
        let faulty = Faulty::new(&c.state, fail_at);
        let begun = Execution::begin(&faulty, late.clone());
        if faulty.reads.get() <= fail_at {
            let ex = begun.expect("sound");
            let out = ex.finish().expect("sound");
            assert!(
                out.writes
                    .keys()
                    .any(|k| k.first() == Some(&keys::PENDING_EXPIRY)),
                "the expiry ran"
            );
            break;
        }
        assert!(begun.is_err(), "read {fail_at} failed, yet the block began");
        stopped += 1;
    }
    assert!(
        stopped > 3,
        "the expiry reads the deadline, the transfer and both accounts"
    );
}

// ---------------------------------------------------------------------------
// FX: quoted rates and conversions.
// ---------------------------------------------------------------------------

fn usd() -> Currency {
    Currency::new("USD").expect("USD")
}

fn quote(id: &str, base: Currency, quote: Currency, rate: &str, from: u64, until: u64) -> Payload {
    Payload::PublishRate(waybill_types::payload::PublishRate {
        id: id.into(),
        base,
        quote,
        rate: rate.parse().expect("rate"),
        valid_from_ms: from,
        valid_until_ms: until,
    })
}

fn convert(id: &str, from: &AccountId, to: &AccountId, amount: u128, rate_id: &str) -> Payload {
    Payload::Convert(waybill_types::payload::Convert {
        id: id.into(),
        from: from.clone(),
        to: to.clone(),
        amount: Amount(amount),
        rate: waybill_types::payload::money::RateRef {
            provider: org("bank"),
            id: rate_id.into(),
        },
    })
}

#[test]
fn an_importer_converts_at_a_quoted_rate_through_the_providers_fx_accounts() {
    let mut c = Chain::new();
    let shop_usd = AccountId::org(&org("shop"), usd(), "usd");
    assert_eq!(
        c.run(
            "shop-fin",
            Payload::OpenAccount(OpenAccount {
                account: shop_usd.clone(),
                flags: AccountFlags {
                    debits_must_not_exceed_credits: true,
                    ..AccountFlags::default()
                }
            })
        ),
        Ok(())
    );
    c.deposit(&shop_usd, 20_000);
    let t = c.time(c.height + 1);
    // Only a payment provider quotes; never into the past; one id once.
    assert_eq!(
        c.run(
            "shop-fin",
            quote("q1", usd(), cny(), "7.2345", t, t + 60_000)
        ),
        Err("not_authorized".into())
    );
    let t = c.time(c.height + 1);
    assert_eq!(
        c.run(
            "bank-teller",
            quote("old", usd(), cny(), "7.2", t - 10_000, t)
        ),
        Err("invalid".into())
    );
    let t = c.time(c.height + 1);
    assert_eq!(
        c.run(
            "bank-teller",
            quote("q1", usd(), cny(), "7.2345", t + 1_000, t + 60_000)
        ),
        Ok(())
    );
    assert_eq!(
        c.run(
            "bank-teller",
            quote("q1", usd(), cny(), "7.3", t, t + 60_000)
        ),
        Err("duplicate".into())
    );
    let valid_from = t + 1_000;
    let until = t + 60_000;
    let main = acct("shop", "main");
    // Before its window, and at its end, the rate is refused; inside it, 100.00 USD
    // buys 723.45 CNY.
    let tx = c.tx("shop-fin", convert("fx-1", &shop_usd, &main, 10_000, "q1"));
    let r = c.block_at(valid_from - 1, vec![tx]).remove(0);
    assert!(
        matches!(&r.status, TxStatus::Rejected { code, .. } if code == "fx_rate_expired"),
        "{r:?}"
    );
    assert_eq!(
        c.run(
            "shop-fin",
            convert("fx-1", &shop_usd, &main, 10_000, "nope")
        ),
        Err("unknown_fx_rate".into())
    );
    assert_eq!(
        c.run("shop-fin", convert("fx-1", &main, &shop_usd, 10_000, "q1")),
        Err("unknown_fx_rate".into()),
        "the rate is USD→CNY only"
    );
    assert_eq!(
        c.run("farm-fin", convert("fx-1", &shop_usd, &main, 10_000, "q1")),
        Err("not_authorized".into())
    );
    assert_eq!(
        c.run("shop-fin", convert("fx-1", &shop_usd, &main, 10_000, "q1")),
        Ok(())
    );
    assert_eq!(c.balance(&shop_usd), 10_000);
    assert_eq!(c.balance(&main), 72_345);
    assert_eq!(
        c.balance(&AccountId::org(&org("bank"), usd(), "fx")),
        10_000
    );
    assert_eq!(
        c.balance(&AccountId::org(&org("bank"), cny(), "fx")),
        -72_345
    );
    // A retry converts nothing twice; more than the account holds changes nothing.
    assert_eq!(
        c.run("shop-fin", convert("fx-1", &shop_usd, &main, 10_000, "q1")),
        Err("exists".into())
    );
    assert_eq!(
        c.run("shop-fin", convert("fx-2", &shop_usd, &main, 10_001, "q1")),
        Err("exceeds_credits".into())
    );
    assert_eq!(
        c.balance(&main),
        72_345,
        "neither leg of a refused conversion was made"
    );
    // Half to even at the minor unit: 0.01 USD × 0.5 rounds to 0 and is refused;
    // 0.03 USD × 0.5 = 1.5 fen → 2; 0.05 USD × 0.5 = 2.5 fen → 2.
    let t = c.time(c.height + 1);
    assert_eq!(
        c.run(
            "bank-teller",
            quote("half", usd(), cny(), "0.5", t, t + 60_000)
        ),
        Ok(())
    );
    assert_eq!(
        c.run("shop-fin", convert("h1", &shop_usd, &main, 1, "half")),
        Err("invalid".into())
    );
    assert_eq!(
        c.run("shop-fin", convert("h3", &shop_usd, &main, 3, "half")),
        Ok(())
    );
    assert_eq!(c.balance(&main), 72_347);
    assert_eq!(
        c.run("shop-fin", convert("h5", &shop_usd, &main, 5, "half")),
        Ok(())
    );
    assert_eq!(c.balance(&main), 72_349);
    // At the end of its window the rate is refused.
    let tx = c.tx("shop-fin", convert("late", &shop_usd, &main, 100, "q1"));
    let r = c.block_at(until, vec![tx]).remove(0);
    assert!(
        matches!(&r.status, TxStatus::Rejected { code, .. } if code == "fx_rate_expired"),
        "{r:?}"
    );
}
