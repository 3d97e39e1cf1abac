-- Users, confirmation tokens and the transactional outbox.
--
-- Applied once by scripts/migrate.sh, inside one transaction.

CREATE TABLE users (
    id                 bigserial    PRIMARY KEY,
    -- the address as the visitor typed it (trimmed), for the emails
    email              text         NOT NULL,
    -- the lowercased address: the identity, unique
    email_normalized   text         NOT NULL UNIQUE,
    name               text         NOT NULL,
    locale             text         NOT NULL DEFAULT 'es'
                                    CHECK (locale IN ('es', 'en')),
    -- PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash
    password_hash      text         NOT NULL,
    role               text         NOT NULL DEFAULT 'user'
                                    CHECK (role IN ('user', 'admin')),
    status             text         NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'confirmed',
                                                      'disabled')),
    marketing_consent  boolean      NOT NULL DEFAULT false,
    -- bumped on password reset to invalidate older sessions
    token_version      integer      NOT NULL DEFAULT 0,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    confirmed_at       timestamptz
);

-- Only the SHA-256 of a token is kept; the token itself travels in the email.
CREATE TABLE confirmation_tokens (
    id          bigserial    PRIMARY KEY,
    user_id     bigint       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text         NOT NULL DEFAULT 'confirm'
                             CHECK (purpose IN ('confirm', 'reset')),
    token_hash  bytea        NOT NULL UNIQUE
                             CHECK (octet_length(token_hash) = 32),
    created_at  timestamptz  NOT NULL DEFAULT now(),
    expires_at  timestamptz  NOT NULL,
    used_at     timestamptz
);

CREATE INDEX confirmation_tokens_user_idx ON confirmation_tokens (user_id);

-- One row per side effect, written in the same transaction as the user.
-- A relay publishes the rows to SQS and sets published_at; the row id is
-- the message's stable id for deduplication downstream.
CREATE TABLE outbox (
    id            bigserial    PRIMARY KEY,
    kind          text         NOT NULL CHECK (kind IN ('email', 'crm')),
    payload       jsonb        NOT NULL,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer      NOT NULL DEFAULT 0,
    last_error    text
);

CREATE INDEX outbox_pending_idx ON outbox (created_at)
    WHERE published_at IS NULL;

-- The whole registration as one statement, so that the module needs one
-- round trip and the four inserts share one transaction.
--
-- Returns 'created' for a new address and 'exists' for a known one; the
-- caller answers both the same way.  A known address gets an
-- "already registered" notice instead of a second account.
CREATE FUNCTION xyz_register(p_email text, p_email_normalized text,
                             p_name text, p_locale text, p_password_hash text,
                             p_marketing_consent boolean, p_token text,
                             p_token_hash bytea, p_token_ttl interval)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_id  bigint;
BEGIN
    INSERT INTO users (email, email_normalized, name, locale, password_hash,
                       marketing_consent)
    VALUES (p_email, p_email_normalized, p_name, p_locale, p_password_hash,
            p_marketing_consent)
    ON CONFLICT (email_normalized) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        SELECT id INTO v_id FROM users
         WHERE email_normalized = p_email_normalized;

        INSERT INTO outbox (kind, payload)
        VALUES ('email', jsonb_build_object(
                    'type', 'already_registered',
                    'user_id', v_id,
                    'email', p_email,
                    'name', p_name,
                    'locale', p_locale));

        RETURN 'exists';
    END IF;

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at)
    VALUES (v_id, 'confirm', p_token_hash, now() + p_token_ttl);

    INSERT INTO outbox (kind, payload)
    VALUES ('email', jsonb_build_object(
                'type', 'confirm',
                'user_id', v_id,
                'email', p_email,
                'name', p_name,
                'locale', p_locale,
                'token', p_token));

    INSERT INTO outbox (kind, payload)
    VALUES ('crm', jsonb_build_object(
                'type', 'registration',
                'user_id', v_id,
                'email', p_email,
                'name', p_name,
                'locale', p_locale,
                'marketing_consent', p_marketing_consent,
                'registered_at', now()));

    RETURN 'created';
END;
$$;
