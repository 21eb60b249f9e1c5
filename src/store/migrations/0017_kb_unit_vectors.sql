-- Embeddings of the knowledge base's answer units (a sentence, a list item or a table row in
-- its document's context), keyed by the embedding model and the hash of the text embedded.
-- Computed when a document is indexed, so composing an answer never embeds on a buyer's time
-- (a cold unit cost 20–40 ms each, seconds per question).
CREATE TABLE kb_unit_vectors (
    model     TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
