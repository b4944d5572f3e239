-- The member list of Resource Management (SPEC 5) at 100,000 members: every sort it offers reads
-- one of these indexes in order, and each index holds the columns the page picker filters on
-- (folder, name, account id), so a page never touches the table rows it skips.
-- Names sort case-insensitively, on lower(display_name), which both backends index as an expression.
CREATE INDEX members_name_ci ON directory_members (directory_id, lower(display_name), account_id, display_name);
CREATE INDEX members_folder_name_ci ON directory_members (directory_id, folder_id, lower(display_name), account_id, display_name);
CREATE INDEX members_account ON directory_members (directory_id, account_id, display_name);
CREATE INDEX members_joined ON directory_members (directory_id, joined_at, account_id, display_name);

-- Name search finds a text anywhere in a name; a trigram index answers it without reading every
-- name. pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+): the database
-- owner may create it. CockroachDB has trigram indexes built in.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX members_name_trgm ON directory_members USING GIN (lower(display_name) gin_trgm_ops);
