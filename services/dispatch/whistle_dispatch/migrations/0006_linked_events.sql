-- A merged call's whole event (kept so that a split can dispatch it again) lives beside the
-- link, not in the case's document: the document is read and written at every further merge,
-- and the events were three quarters of it (a case of 30 callers: ~70 kB decoded, encoded and
-- written again for each new caller). Existing documents give their events to the links.
ALTER TABLE case_incidents ADD COLUMN event jsonb;
UPDATE case_incidents ci SET event = l->'event'
FROM cases c, jsonb_array_elements(c.doc->'linked') l
WHERE c.id = ci.case_id AND l->>'incident_id' = ci.incident_id AND l ? 'event';
UPDATE cases SET doc = jsonb_set(doc, '{linked}', (
    SELECT coalesce(jsonb_agg(l - 'event' ORDER BY n), '[]'::jsonb)
    FROM jsonb_array_elements(doc->'linked') WITH ORDINALITY AS x(l, n)))
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(doc->'linked') l WHERE l ? 'event');
