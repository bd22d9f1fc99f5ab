-- A case may be known only at community or street level, or not be placed yet (triage at the
-- district command centre places it before any department is ordered).
ALTER TABLE cases ALTER COLUMN street DROP NOT NULL;
ALTER TABLE cases ALTER COLUMN district DROP NOT NULL;
ALTER TABLE cases ALTER COLUMN community DROP NOT NULL;
ALTER TABLE cases ALTER COLUMN grid_code DROP NOT NULL;
