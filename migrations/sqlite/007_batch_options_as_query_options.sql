-- Batch options are the query module's options ({"mode", "threshold",
-- "thresholds", "banks"}), as every route states them; batches stored before
-- named their bank filter "bankIds".
UPDATE batches
SET options = json_remove(json_set(options, '$.banks', json_extract(options, '$.bankIds')), '$.bankIds')
WHERE json_type(options, '$.bankIds') = 'array';
