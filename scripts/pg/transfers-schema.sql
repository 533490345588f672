-- Double-entry accounts with row-locked balances, as a payment ledger on PostgreSQL
-- keeps them (issue 16's comparison for `waybill bench --workload transfers`).
create table accounts (
  id int primary key,
  currency char(3) not null,
  debits_posted numeric(39, 0) not null default 0,
  credits_posted numeric(39, 0) not null default 0,
  debits_must_not_exceed_credits boolean not null default true
);
create table transfers (
  id bigserial primary key,
  client_id text not null unique,
  debit int not null references accounts (id),
  credit int not null references accounts (id),
  amount numeric(39, 0) not null check (amount > 0),
  created_at timestamptz not null default now()
);
insert into accounts (id, currency, credits_posted)
select i, 'CNY', 1000000000000 from generate_series(1, 500) i;
-- One transfer: both rows locked in id order (no deadlocks between concurrent
-- transfers), the overdraft rule checked, both sums updated, the transfer recorded.
create function transfer(debit_id int, credit_id int, amt numeric, client text)
returns void language plpgsql as $$
declare d accounts%rowtype;
begin
  perform 1 from accounts where id in (debit_id, credit_id) order by id for update;
  select * into d from accounts where id = debit_id;
  if d.debits_must_not_exceed_credits and d.debits_posted + amt > d.credits_posted then
    raise exception 'exceeds_credits: account % has % available', debit_id,
      d.credits_posted - d.debits_posted;
  end if;
  update accounts set debits_posted = debits_posted + amt where id = debit_id;
  update accounts set credits_posted = credits_posted + amt where id = credit_id;
  insert into transfers (client_id, debit, credit, amount)
    values (client, debit_id, credit_id, amt);
end $$;
