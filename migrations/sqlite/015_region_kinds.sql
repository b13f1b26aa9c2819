-- Which region of the image a region hash is of (frame, crop, patch, ...; see
-- src/hashing/pdq-region.ts), so that a search compares only regions that can
-- find each other (src/match/region-groups.ts). NULL for whole-image hashes,
-- and for region hashes of unknown kind (imported from other systems, or
-- stored before this column), which every search still compares.
ALTER TABLE signals ADD COLUMN region TEXT
  CHECK (region IS NULL OR region IN ('frame', 'part', 'quadrant', 'strip', 'crop', 'rotation', 'patch', 'ninth'));

-- A removal taken out of a snapshot's indexes must find its part of the index.
ALTER TABLE content_signal_removals ADD COLUMN region TEXT;

DROP TRIGGER content_signal_removed;
CREATE TRIGGER content_signal_removed AFTER DELETE ON signals
  WHEN OLD.content_item_id IS NOT NULL AND EXISTS (SELECT 1 FROM index_snapshot)
BEGIN
  INSERT INTO content_signal_removals (signal_id, type, hash, region) VALUES (OLD.id, OLD.type, OLD.hash, OLD.region);
END;
