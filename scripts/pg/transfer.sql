-- One double-entry transfer per transaction (the `transfer` function of
-- transfers-schema.sql: both rows locked, overdraft checked, both updated, recorded).
\set a random(1, 500)
\set b (:a % 500) + 1
SELECT transfer(:a, :b, 3, md5(random()::text || clock_timestamp()::text));
