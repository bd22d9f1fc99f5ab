-- Wake the relay from a statement trigger instead of a separate pg_notify round trip.
CREATE FUNCTION whistle_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('whistle_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION whistle_outbox_notify();
