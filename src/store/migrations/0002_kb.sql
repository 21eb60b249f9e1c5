-- 0002: the knowledge base: articles and FAQ pairs with version history, categories,
-- products, usage statistics, the index queue and embedding vectors.

CREATE TABLE kb_categories (
    id         INTEGER PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE kb_articles (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL DEFAULT 'article' CHECK (kind IN ('article', 'faq')),
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    category_id INTEGER REFERENCES kb_categories (id) ON DELETE SET NULL,
    tags        TEXT    NOT NULL DEFAULT '[]',
    status      TEXT    NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published')),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  INTEGER REFERENCES users (id) ON DELETE SET NULL
);

-- Every saved state of an article, newest version = kb_articles.version.
CREATE TABLE kb_article_versions (
    article_id  INTEGER NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    category_id INTEGER,
    tags        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    author_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    author      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE products (
    id             INTEGER PRIMARY KEY,
    marketplace    TEXT    NOT NULL CHECK (marketplace IN ('wb', 'ozon', 'other')),
    offer_id       TEXT    NOT NULL,
    marketplace_id TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL,
    category       TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    attributes     TEXT    NOT NULL DEFAULT '{}',
    price_kop      INTEGER,
    stock          INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (marketplace, offer_id)
);
CREATE INDEX products_marketplace_id ON products (marketplace_id);

-- How often each document was retrieved, used in an answer, and how those answers were rated.
-- doc is 'a:<article id>' or 'p:<product id>'.
CREATE TABLE kb_usage (
    doc               TEXT    PRIMARY KEY,
    retrieved         INTEGER NOT NULL DEFAULT 0,
    used              INTEGER NOT NULL DEFAULT 0,
    rated_good        INTEGER NOT NULL DEFAULT 0,
    rated_bad         INTEGER NOT NULL DEFAULT 0,
    last_retrieved_at INTEGER
);

-- Documents whose search-index entry is behind the database. Written in the same transaction
-- as the change; removed once the index has committed it; replayed at start after a crash.
CREATE TABLE kb_index_queue (
    doc       TEXT    PRIMARY KEY,
    queued_at INTEGER NOT NULL
);

-- Sentence-embedding vectors, one per passage of a document (little-endian f32).
CREATE TABLE kb_vectors (
    doc       TEXT    NOT NULL,
    passage   INTEGER NOT NULL,
    model     TEXT    NOT NULL,
    text_hash TEXT    NOT NULL,
    vector    BLOB    NOT NULL,
    PRIMARY KEY (doc, passage)
);
