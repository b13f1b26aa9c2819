-- Hash-list imports and Telegram chat exports (docs/exchange.md).

-- A strict import keeps the records it has read here, a chunk a row, until
-- the whole file has been read without a malformed row; it then applies them
-- in one transaction and deletes them (a failed one deletes them unapplied).
-- Rows of an import cut short by a crash are deleted when the store opens.
CREATE TABLE exchange_staging (
  import_id TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  records   TEXT NOT NULL CHECK (json_valid(records)),
  PRIMARY KEY (import_id, seq)
) WITHOUT ROWID;

-- One item per Telegram message and bank: re-reading a grown export adds only
-- the new messages, whatever else the import does.
CREATE UNIQUE INDEX content_items_telegram_message
  ON content_items (bank_id, json_extract(metadata, '$.telegram.chatId'), json_extract(metadata, '$.telegram.messageId'))
  WHERE platform = 'telegram' AND json_extract(metadata, '$.telegram.messageId') IS NOT NULL;
