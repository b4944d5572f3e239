-- The member list of Resource Management (SPEC 5) at 100,000 members: every sort it offers reads
-- one of these indexes in order, and each index holds the columns the page picker filters on
-- (folder, name, account id), so a page never touches the table rows it skips.
-- Names sort case-insensitively, on lower(display_name), which both backends index as an expression.
CREATE INDEX members_name_ci ON directory_members (directory_id, lower(display_name), account_id, display_name);
CREATE INDEX members_folder_name_ci ON directory_members (directory_id, folder_id, lower(display_name), account_id, display_name);
CREATE INDEX members_account ON directory_members (directory_id, account_id, display_name);
CREATE INDEX members_joined ON directory_members (directory_id, joined_at, account_id, display_name);

-- Name search finds a text anywhere in a name. A trigram full-text index answers it without
-- reading every name: one row per member, keyed by the numeric account id (16 digits fit an
-- integer, and unlike an implicit rowid it survives VACUUM), kept in step by triggers.
CREATE VIRTUAL TABLE member_name_trigrams USING fts5(
    display_name,
    directory_id UNINDEXED,
    folder_id UNINDEXED,
    tokenize = 'trigram'
);
CREATE TRIGGER member_name_trigrams_insert AFTER INSERT ON directory_members BEGIN
    INSERT INTO member_name_trigrams (rowid, display_name, directory_id, folder_id)
    VALUES (CAST(new.account_id AS INTEGER), new.display_name, new.directory_id, new.folder_id);
END;
CREATE TRIGGER member_name_trigrams_delete AFTER DELETE ON directory_members BEGIN
    DELETE FROM member_name_trigrams WHERE rowid = CAST(old.account_id AS INTEGER);
END;
CREATE TRIGGER member_name_trigrams_update
AFTER UPDATE OF account_id, display_name, directory_id, folder_id ON directory_members BEGIN
    DELETE FROM member_name_trigrams WHERE rowid = CAST(old.account_id AS INTEGER);
    INSERT INTO member_name_trigrams (rowid, display_name, directory_id, folder_id)
    VALUES (CAST(new.account_id AS INTEGER), new.display_name, new.directory_id, new.folder_id);
END;
INSERT INTO member_name_trigrams (rowid, display_name, directory_id, folder_id)
SELECT CAST(account_id AS INTEGER), display_name, directory_id, folder_id FROM directory_members;
