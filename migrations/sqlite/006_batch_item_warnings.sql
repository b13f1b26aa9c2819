-- What an item's answer should be read with, e.g. LOW_QUALITY: a featureless
-- image is matched on its exact digests only. [{"code", "message"}, ...]
ALTER TABLE batch_items ADD COLUMN warnings TEXT CHECK (warnings IS NULL OR json_valid(warnings));
