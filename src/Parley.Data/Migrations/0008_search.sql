-- The observer's full-text index (OBSERVER.md, "Search"): index actions' documents and Parley's own
-- messages (index 'parley.messages', with their conversation), one row per (index, document).
-- The 'simple' configuration (no stemming, no stop words) because chat text comes in any language;
-- it is written out so the generated column's expression is immutable.
CREATE TABLE search_documents (
    index_name      text NOT NULL,
    -- An index action: the event id; a Parley message: the message id. An upsert on it is idempotent.
    document_id     text NOT NULL,
    conversation_id uuid,
    message_id      uuid,
    body            text NOT NULL,
    indexed_at      timestamptz NOT NULL DEFAULT now(),
    document        tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    PRIMARY KEY (index_name, document_id)
);

-- Matching: websearch_to_tsquery('simple', q) @@ document.
CREATE INDEX idx_search_documents_document ON search_documents USING gin (document);

-- Removal of a deleted conversation's messages.
CREATE INDEX idx_search_documents_conversation ON search_documents (conversation_id) WHERE conversation_id IS NOT NULL;
