// The schema, as an ordered list of migrations (Store::migrate applies the ones not yet applied).
#include "migrations.hpp"

namespace expstream {

// Run in order, once each, under an advisory lock so that several processes starting together do
// not race. Append new steps; never edit a released one.
const char* const kMigrations[] = {
    R"SQL(
    CREATE TABLE experiments (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL,
        status       text NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'active', 'paused', 'completed')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        seq          bigint NOT NULL DEFAULT 1
    );
    CREATE TABLE variants (
        id            bigserial PRIMARY KEY,
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        position      integer NOT NULL,
        key           text NOT NULL,
        name          text NOT NULL,
        is_control    boolean NOT NULL,
        UNIQUE (experiment_id, key)
    );
    CREATE TABLE assignments (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        user_id       text NOT NULL,
        variant_id    bigint NOT NULL REFERENCES variants (id),
        assigned_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (experiment_id, user_id)
    );
    CREATE TABLE events (
        id            bigserial PRIMARY KEY,
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        user_id       text NOT NULL,
        type          text NOT NULL,
        event_id      text,
        created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX events_event_id ON events (experiment_id, event_id) WHERE event_id IS NOT NULL;
    CREATE INDEX events_conversions ON events (experiment_id, user_id) WHERE type = 'conversion';
    )SQL",
    // 2: experiments belong to a tenant (NULL: the default tenant).
    R"SQL(
    ALTER TABLE experiments ADD COLUMN tenant text;
    CREATE INDEX experiments_tenant ON experiments (tenant);
    )SQL",
    // 3: traffic weights (SRM), running-minimum p-values, the SRM alarm, results history.
    R"SQL(
    ALTER TABLE variants ADD COLUMN weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0);
    ALTER TABLE variants ADD COLUMN min_p double precision;
    ALTER TABLE experiments ADD COLUMN analysis_signature text;
    ALTER TABLE experiments ADD COLUMN srm_alerted_at timestamptz;
    CREATE TABLE results_history (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        seq           bigint NOT NULL,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        point         jsonb NOT NULL,
        PRIMARY KEY (experiment_id, seq)
    );
    )SQL",
    // 4: running totals per variant, kept by ingest in its own transaction, so a snapshot reads one
    // small row per variant however long the experiment ran. The per-row foreign-key checks on the
    // raw tables go (ingest locks the experiment row and joins the variants, which is the same
    // guarantee once per batch); a trigger keeps deleting an experiment's rows with it. Nodes
    // publish their subscriber counts with a heartbeat.
    R"SQL(
    ALTER TABLE variants ADD COLUMN participants bigint NOT NULL DEFAULT 0,
                         ADD COLUMN converters bigint NOT NULL DEFAULT 0;
    UPDATE variants v SET participants = t.participants, converters = t.converters
    FROM (SELECT a.variant_id, count(*) AS participants, count(c.user_id) AS converters
          FROM assignments a
          LEFT JOIN (SELECT DISTINCT experiment_id, user_id FROM events WHERE type = 'conversion') c
            ON c.experiment_id = a.experiment_id AND c.user_id = a.user_id
          GROUP BY a.variant_id) t
    WHERE v.id = t.variant_id;
    ALTER TABLE events DROP CONSTRAINT events_experiment_id_fkey;
    ALTER TABLE assignments DROP CONSTRAINT assignments_experiment_id_fkey;
    ALTER TABLE assignments DROP CONSTRAINT assignments_variant_id_fkey;
    CREATE FUNCTION expstream_delete_experiment_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM events WHERE experiment_id = OLD.id;
        DELETE FROM assignments WHERE experiment_id = OLD.id;
        RETURN OLD;
    END $$;
    CREATE TRIGGER experiments_delete_rows BEFORE DELETE ON experiments
        FOR EACH ROW EXECUTE FUNCTION expstream_delete_experiment_rows();
    CREATE TABLE nodes (
        node_id      text PRIMARY KEY,
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE node_subscribers (
        node_id       text NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        experiment_id text NOT NULL,
        subscribers   integer NOT NULL CHECK (subscribers > 0),
        PRIMARY KEY (node_id, experiment_id)
    );
    )SQL",
    // 5: several metrics per experiment (issue 14). Each event carries a value; each metric's
    // per-user raw total (user_totals) lets capping move a user's contribution exactly; running
    // sums per (variant, metric) of each assigned user's value x (capped; a proportion's x is 0/1),
    // x^2 and, for ratios, x*y, in numeric so that a recount matches to the digit. Existing
    // experiments get today's metric, "conversion", filled from the raw events.
    R"SQL(
    ALTER TABLE events ADD COLUMN value numeric NOT NULL DEFAULT 1;
    CREATE TABLE metrics (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        position      integer NOT NULL,
        key           text NOT NULL,
        name          text NOT NULL,
        kind          text NOT NULL CHECK (kind IN ('proportion', 'mean', 'ratio')),
        event_type    text,
        role          text NOT NULL CHECK (role IN ('primary', 'secondary', 'guardrail')),
        direction     text NOT NULL CHECK (direction IN ('increase', 'decrease')),
        cap           double precision,
        numerator     text,
        denominator   text,
        PRIMARY KEY (experiment_id, key)
    );
    CREATE TABLE user_totals (
        experiment_id uuid NOT NULL,
        metric        text NOT NULL,
        user_id       text NOT NULL,
        total         numeric NOT NULL,
        PRIMARY KEY (experiment_id, user_id, metric)
    );
    CREATE TABLE metric_sums (
        variant_id     bigint NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
        metric         text NOT NULL,
        sum            numeric NOT NULL DEFAULT 0,
        sum_squares    numeric NOT NULL DEFAULT 0,
        cross_products numeric NOT NULL DEFAULT 0,
        min_p          double precision,
        alerted        boolean NOT NULL DEFAULT false,
        PRIMARY KEY (variant_id, metric)
    );
    INSERT INTO metrics (experiment_id, position, key, name, kind, event_type, role, direction)
    SELECT id, 0, 'conversion', 'Conversion', 'proportion', 'conversion', 'primary', 'increase' FROM experiments;
    INSERT INTO user_totals (experiment_id, metric, user_id, total)
    SELECT experiment_id, 'conversion', user_id, count(*) FROM events WHERE type = 'conversion'
    GROUP BY experiment_id, user_id;
    INSERT INTO metric_sums (variant_id, metric, sum, sum_squares, min_p)
    SELECT id, 'conversion', converters, converters, min_p FROM variants;
    ALTER TABLE variants DROP COLUMN converters;
    DROP INDEX events_conversions;
    CREATE OR REPLACE FUNCTION expstream_delete_experiment_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM events WHERE experiment_id = OLD.id;
        DELETE FROM assignments WHERE experiment_id = OLD.id;
        DELETE FROM user_totals WHERE experiment_id = OLD.id;
        RETURN OLD;
    END $$;
    )SQL",
    // 6: exposure hygiene (issue 15). A user assigned to a second variant is flagged (the first
    // assignment still wins); the experiment counts them, and with exposures = 'exclude' such users
    // leave every total. The alarm past 1 % of users is raised once per transition.
    R"SQL(
    ALTER TABLE experiments ADD COLUMN exposures text NOT NULL DEFAULT 'first'
        CHECK (exposures IN ('first', 'exclude'));
    ALTER TABLE experiments ADD COLUMN multiple_exposures bigint NOT NULL DEFAULT 0;
    ALTER TABLE experiments ADD COLUMN exposures_alerted boolean NOT NULL DEFAULT false;
    ALTER TABLE assignments ADD COLUMN multiple boolean NOT NULL DEFAULT false;
    )SQL",
    // 7: CUPED (issue 15). An assignment may carry the user's pre-exposure covariates per metric
    // (the first assignment fixes them); per (variant, metric) the running sums of the covariate c,
    // c^2 and x*c. An experiment may opt out.
    R"SQL(
    ALTER TABLE experiments ADD COLUMN cuped boolean NOT NULL DEFAULT true;
    ALTER TABLE assignments ADD COLUMN covariates jsonb;
    ALTER TABLE metric_sums ADD COLUMN covariate_sum numeric NOT NULL DEFAULT 0,
                            ADD COLUMN covariate_sum_squares numeric NOT NULL DEFAULT 0,
                            ADD COLUMN covariate_products numeric NOT NULL DEFAULT 0,
                            ADD COLUMN min_p_cuped boolean NOT NULL DEFAULT false;
    )SQL",
    // 8: user ids, event ids and types and metric keys are identifiers, compared byte by byte
    // (COLLATE "C"). Under the database's default collation (a libc locale, even C.UTF-8) every index
    // probe and sort on them calls strcoll: ingest's hot path is such probes on (experiment, user,
    // metric). Columns compared with each other change together; the indexes are rebuilt.
    R"SQL(
    ALTER TABLE events ALTER COLUMN user_id TYPE text COLLATE "C",
                       ALTER COLUMN type TYPE text COLLATE "C",
                       ALTER COLUMN event_id TYPE text COLLATE "C";
    ALTER TABLE assignments ALTER COLUMN user_id TYPE text COLLATE "C";
    ALTER TABLE user_totals ALTER COLUMN user_id TYPE text COLLATE "C",
                            ALTER COLUMN metric TYPE text COLLATE "C";
    ALTER TABLE metrics ALTER COLUMN key TYPE text COLLATE "C",
                        ALTER COLUMN event_type TYPE text COLLATE "C",
                        ALTER COLUMN numerator TYPE text COLLATE "C",
                        ALTER COLUMN denominator TYPE text COLLATE "C";
    ALTER TABLE metric_sums ALTER COLUMN metric TYPE text COLLATE "C";
    )SQL",
    // 9: dimension breakdowns (issue 15). An experiment declares up to 5 dimensions; an assignment
    // carries its user's values (the first fixes them). Per dimension, every value's user count,
    // and running totals per (variant, bucket, metric) for at most 22 buckets: the values with the
    // most users (slotted, at most 20), '(other)' and '(none)'. The row of metric '' holds a
    // bucket's participants (users). A value that overtakes a slotted one takes its slot and the
    // dimension's totals are recounted from the users' totals.
    R"SQL(
    ALTER TABLE experiments ADD COLUMN dimensions text[] COLLATE "C" NOT NULL DEFAULT '{}';
    ALTER TABLE assignments ADD COLUMN attributes jsonb;
    CREATE TABLE dimension_values (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        dimension     text COLLATE "C" NOT NULL,
        value         text COLLATE "C" NOT NULL,
        users         bigint NOT NULL DEFAULT 0,
        slotted       boolean NOT NULL DEFAULT false,
        PRIMARY KEY (experiment_id, dimension, value)
    );
    CREATE INDEX dimension_values_slotted ON dimension_values (experiment_id, dimension) WHERE slotted;
    CREATE INDEX dimension_values_contenders ON dimension_values (experiment_id, dimension, users DESC)
        WHERE NOT slotted;
    CREATE TABLE dimension_sums (
        variant_id            bigint NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
        dimension             text COLLATE "C" NOT NULL,
        bucket                text COLLATE "C" NOT NULL,
        metric                text COLLATE "C" NOT NULL,
        users                 bigint NOT NULL DEFAULT 0,
        sum                   numeric NOT NULL DEFAULT 0,
        sum_squares           numeric NOT NULL DEFAULT 0,
        cross_products        numeric NOT NULL DEFAULT 0,
        covariate_sum         numeric NOT NULL DEFAULT 0,
        covariate_sum_squares numeric NOT NULL DEFAULT 0,
        covariate_products    numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (variant_id, dimension, bucket, metric)
    );
    )SQL",
    // 10: webhooks (issue 16). Subscriptions per tenant; the transitions looks and status changes
    // record (the Alerts tab); a transactional outbox of deliveries, written in the same transaction
    // as the transition, claimed with a lease (one sender at a time) and kept as the attempts' log.
    // New state flags: a metric/variant's significance, the SRM alarm, the newest look's seq (an
    // older look arriving late changes no state, so it cannot flip an alarm back).
    R"SQL(
    ALTER TABLE metric_sums ADD COLUMN significant boolean NOT NULL DEFAULT false;
    ALTER TABLE experiments ADD COLUMN srm_alarm boolean NOT NULL DEFAULT false,
                            ADD COLUMN look_seq bigint NOT NULL DEFAULT 0;
    CREATE TABLE webhooks (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant      text,
        url         text NOT NULL,
        events      text[] NOT NULL,
        experiments text[] NOT NULL,
        format      text NOT NULL CHECK (format IN ('json', 'slack')),
        secret      text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE alert_transitions (
        id            bigserial PRIMARY KEY,
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        type          text NOT NULL,
        state         text NOT NULL,
        metric        text,
        variant       text,
        detail        jsonb NOT NULL DEFAULT '{}',
        created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX alert_transitions_experiment ON alert_transitions (experiment_id, id);
    CREATE TABLE webhook_deliveries (
        seq             bigserial PRIMARY KEY,
        id              uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event           text NOT NULL,
        payload         jsonb NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        leased_until    timestamptz,
        lease_token     text,
        delivered_at    timestamptz,
        failed_at       timestamptz,
        last_attempt_at timestamptz,
        last_status     integer,
        last_latency_ms double precision,
        last_error      text
    );
    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, seq)
        WHERE delivered_at IS NULL AND failed_at IS NULL;
    )SQL",
};

const std::size_t kMigrationCount = sizeof kMigrations / sizeof kMigrations[0];

}  // namespace expstream
