-- Merge candidates are looked for near the call. Before, every call fetched and decoded the
-- document of each open case of its district within the window (up to 500) and measured the
-- distances in Python, a cost that grew with the district's open cases. The case's point is a
-- pair of columns now, so the place rule's search box rules far cases out in the query.
ALTER TABLE cases ADD COLUMN lat double precision, ADD COLUMN lon double precision;
UPDATE cases SET
    lat = CASE WHEN jsonb_typeof(doc->'facts'->'lat') = 'number'
               THEN (doc->'facts'->>'lat')::double precision END,
    lon = CASE WHEN jsonb_typeof(doc->'facts'->'lon') = 'number'
               THEN (doc->'facts'->>'lon')::double precision END
WHERE doc->'facts' ? 'lat' OR doc->'facts' ? 'lon';
