-- The merge-candidate query asks for the open cases of a district and some categories in the
-- call's grid or in a latitude band (then the longitude, the window and the texts): one index
-- for each side of that OR, which PostgreSQL combines (a BitmapOr). The index on the district
-- and the time alone left a busy district's open cases to be read one by one (a sequential
-- scan of 4,000 cases, 4–10 ms a call, once they were all in one district).
DROP INDEX IF EXISTS cases_merge_candidates;
CREATE INDEX cases_open_grid ON cases (district, category, grid_code)
    WHERE status IN ('triage', 'pending_assignment', 'dispatched', 'acknowledged',
                     'in_progress', 'reopened');
CREATE INDEX cases_open_lat ON cases (district, category, lat)
    WHERE status IN ('triage', 'pending_assignment', 'dispatched', 'acknowledged',
                     'in_progress', 'reopened');
