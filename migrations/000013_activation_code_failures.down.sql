ALTER TABLE activation_codes DROP COLUMN failures;
