create table lots (
  gtin text not null,
  lot text not null,
  org text not null,
  signer bytea not null,
  tx_id bytea not null unique,
  signature bytea not null,
  best_before date,
  attrs jsonb not null,
  created_at timestamptz not null default now(),
  primary key (gtin, lot)
);
