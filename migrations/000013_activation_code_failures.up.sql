-- A code presented with the wrong vendor or serial counts a failure; after a few the code is
-- locked (issue 15): knowing a code is not enough to find the terminal it belongs to by guessing.
ALTER TABLE activation_codes ADD COLUMN failures int NOT NULL DEFAULT 0 CHECK (failures >= 0);
