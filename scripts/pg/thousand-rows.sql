insert into lots (gtin, lot, org, signer, tx_id, signature, best_before, attrs)
select '06900001000013', gen_random_uuid()::text, 'bench-farm', sha256(random()::text::bytea), sha256(random()::text::bytea), sha256(random()::text::bytea) || sha256(random()::text::bytea), current_date + 30, '{"origin":"CN-ZJ","variety":"navel","harvested":"2026-11-20"}' from generate_series(1, 1000);
