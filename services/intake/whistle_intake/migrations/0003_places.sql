-- An incident may be placed only as finely as the caller's words allow (a community, a
-- street) or not at all yet (triage places it): the grid is no longer required.
ALTER TABLE incidents ALTER COLUMN grid_code DROP NOT NULL;
