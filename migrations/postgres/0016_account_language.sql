-- The language the owner chose with the switcher (en, zh-CN); none: the request's language.
ALTER TABLE accounts ADD COLUMN language TEXT;
