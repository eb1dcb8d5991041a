DROP INDEX certificates_terminal_issue;
ALTER TABLE certificates DROP COLUMN renewed_from;
