
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The PostgreSQL pool.  Each worker holds up to "size" libpq connections,
 * opened on demand with PQconnectStartParams()/PQconnectPoll() and used
 * with PQsendQueryParams()/PQflush()/PQconsumeInput(), all driven by
 * level-triggered nginx events on libpq's own socket.  Queries wait in a
 * bounded queue for a free connection.  When the server cannot be reached
 * the pool refuses queries at once and tries again after a growing delay,
 * so a dead database costs a request nothing but a quick 503.
 */


#include "ngx_xyz_pg.h"
#include "ngx_xyz_event.h"
#include "ngx_xyz_rate.h"


#define NGX_XYZ_PG_FREE         0
#define NGX_XYZ_PG_CONNECTING   1
#define NGX_XYZ_PG_IDLE         2
#define NGX_XYZ_PG_SENDING      3
#define NGX_XYZ_PG_BUSY         4

#define NGX_XYZ_PG_MSG_LEN      512

/* how much longer than statement_timeout a statement is waited for */
#define NGX_XYZ_PG_TIMEOUT_GRACE  1000


struct ngx_xyz_pg_conn_s {
    ngx_xyz_pg_pool_t       *pool;
    PGconn                  *pg;
    ngx_connection_t        *c;
    ngx_file_uniq_t          uniq;           /* the socket's inode */
    ngx_xyz_pg_query_t      *query;
    PGresult                *result;
    ngx_event_t              timer;
    ngx_queue_t              queue;          /* in pool->free or pool->idle */
    ngx_uint_t               state;
};


struct ngx_xyz_pg_pool_s {
    ngx_xyz_pg_conf_t       *conf;
    ngx_log_t               *log;
    ngx_xyz_pg_conn_t       *conns;
    ngx_queue_t              free;
    ngx_queue_t              idle;
    ngx_queue_t              waiting;
    ngx_uint_t               nwaiting;
    ngx_uint_t               nconnecting;
    ngx_uint_t               nopen;          /* connecting, idle or busy */
    ngx_msec_t               backoff;
    ngx_msec_t               retry_at;
    ngx_event_t              failed;
    ngx_xyz_rate_t           rate;           /* queries done */
    time_t                   logged;         /* the last "no connection" */
    ngx_uint_t               expiring;       /* being refused: its wait
                                                ran out */
    ngx_event_t             *drain;          /* posted when no longer
                                                backlogged */
    unsigned                 down:1;
    unsigned                 backlogged:1;   /* found so, not yet drained */
};


static ngx_int_t ngx_xyz_pg_connect(ngx_xyz_pg_pool_t *pool);
static void ngx_xyz_pg_connect_poll(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_connect_failed(ngx_xyz_pg_conn_t *conn);
static ngx_int_t ngx_xyz_pg_attach(ngx_xyz_pg_conn_t *conn);
static ngx_uint_t ngx_xyz_pg_socket_changed(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_detach(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_wait(ngx_xyz_pg_conn_t *conn, ngx_uint_t rd,
    ngx_uint_t wr);
static void ngx_xyz_pg_close(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_ready(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_dispatch(ngx_xyz_pg_pool_t *pool);
static ngx_int_t ngx_xyz_pg_send(ngx_xyz_pg_conn_t *conn,
    ngx_xyz_pg_query_t *q);
static void ngx_xyz_pg_io(ngx_xyz_pg_conn_t *conn, ngx_uint_t readable);
static void ngx_xyz_pg_finish(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_lost(ngx_xyz_pg_conn_t *conn, const char *what);
static void ngx_xyz_pg_idle(ngx_xyz_pg_conn_t *conn);
static void ngx_xyz_pg_event_handler(ngx_event_t *ev);
static void ngx_xyz_pg_timer_handler(ngx_event_t *ev);
static void ngx_xyz_pg_queue_timer_handler(ngx_event_t *ev);
static void ngx_xyz_pg_failed_handler(ngx_event_t *ev);
static ngx_uint_t ngx_xyz_pg_in_backoff(ngx_xyz_pg_pool_t *pool);
static ngx_uint_t ngx_xyz_pg_over(ngx_xyz_pg_pool_t *pool);
static void ngx_xyz_pg_dequeued(ngx_xyz_pg_pool_t *pool);
static size_t ngx_xyz_pg_msg(const char *msg, u_char *buf, size_t size);
static char *ngx_xyz_pg_strdup(ngx_pool_t *pool, const char *s);


/*
 * Parses the DSN at configuration time so that "nginx -t" reports a bad
 * one, and pins the options that would make libpq fall back to weaker
 * settings on a new socket (SSL or GSS "prefer").  A new socket for the
 * next address of several is followed by ngx_xyz_pg_connect_poll().
 */

char *
ngx_xyz_pg_conf_dsn(ngx_conf_t *cf, ngx_xyz_pg_conf_t *conf)
{
    char                *err;
    ngx_uint_t           n, i, has_ssl, has_gss, has_app, has_enc;
    PQconninfoOption    *opts, *o;

    err = NULL;
    opts = PQconninfoParse((char *) conf->dsn.data, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_pg_dsn\": %s",
                           err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    n = 0;
    has_ssl = 0;
    has_gss = 0;
    has_app = 0;
    has_enc = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        n++;

        if (ngx_strcmp(o->keyword, "sslmode") == 0) {
            if (ngx_strcmp(o->val, "prefer") == 0
                || ngx_strcmp(o->val, "allow") == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                    "\"xyz_pg_dsn\": sslmode=%s may reconnect on a new "
                    "socket; use sslmode=disable on a trusted network or "
                    "sslmode=require, verify-ca or verify-full", o->val);
                goto failed;
            }

            has_ssl = 1;

        } else if (ngx_strcmp(o->keyword, "gssencmode") == 0) {
            if (ngx_strcmp(o->val, "disable") != 0
                && ngx_strcmp(o->val, "require") != 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                    "\"xyz_pg_dsn\": gssencmode=%s may reconnect on a new "
                    "socket; use gssencmode=disable or require", o->val);
                goto failed;
            }

            has_gss = 1;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            has_app = 1;

        } else if (ngx_strcmp(o->keyword, "client_encoding") == 0) {
            has_enc = 1;
        }
    }

    /* sslmode, gssencmode, application_name, client_encoding, options */
    n += 5 + 1;

    conf->keywords = ngx_pcalloc(cf->pool, n * sizeof(char *));
    conf->values = ngx_pcalloc(cf->pool, n * sizeof(char *));
    if (conf->keywords == NULL || conf->values == NULL) {
        goto failed;
    }

    i = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        conf->keywords[i] = ngx_xyz_pg_strdup(cf->pool, o->keyword);
        conf->values[i] = ngx_xyz_pg_strdup(cf->pool, o->val);

        if (conf->keywords[i] == NULL || conf->values[i] == NULL) {
            goto failed;
        }

        i++;
    }

    if (!has_ssl) {
        conf->keywords[i] = "sslmode";
        conf->values[i++] = "disable";
    }

    if (!has_gss) {
        conf->keywords[i] = "gssencmode";
        conf->values[i++] = "disable";
    }

    if (!has_app) {
        conf->keywords[i] = "application_name";
        conf->values[i++] = "ngx_xyz_module";
    }

    if (!has_enc) {
        conf->keywords[i] = "client_encoding";
        conf->values[i++] = "UTF8";
    }

    PQconninfoFree(opts);

    return NGX_CONF_OK;

failed:

    PQconninfoFree(opts);

    return NGX_CONF_ERROR;
}


/*
 * The server ends a statement at xyz_pg_query_timeout itself
 * (statement_timeout in the connection's options), and so rolls it back:
 * a closed connection alone does not stop a backend that waits for a lock,
 * which then commits what the request was told had failed.  A DSN whose
 * options set statement_timeout keeps its own.
 */

char *
ngx_xyz_pg_conf_timeout(ngx_conf_t *cf, ngx_xyz_pg_conf_t *conf)
{
    size_t       len;
    u_char      *p;
    ngx_uint_t   i;
    const char  *old;

    if (conf->keywords == NULL) {
        return NGX_CONF_OK;
    }

    old = NULL;

    for (i = 0; conf->keywords[i]; i++) {
        if (ngx_strcmp(conf->keywords[i], "options") == 0) {
            old = conf->values[i];
            break;
        }
    }

    if (old && ngx_strstr(old, "statement_timeout")) {
        return NGX_CONF_OK;
    }

    len = (old ? ngx_strlen(old) + 1 : 0)
          + sizeof("-c statement_timeout=") - 1 + NGX_INT_T_LEN + 1;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(p, "%s%s-c statement_timeout=%M%Z", old ? old : "",
                old ? " " : "", conf->query_timeout);

    /* a new one takes the slot kept free for it after the others */
    conf->keywords[i] = "options";
    conf->values[i] = (char *) p;

    return NGX_CONF_OK;
}


ngx_xyz_pg_pool_t *
ngx_xyz_pg_pool_create(ngx_cycle_t *cycle, ngx_xyz_pg_conf_t *conf)
{
    ngx_uint_t          i;
    ngx_xyz_pg_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_xyz_pg_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->conns = ngx_pcalloc(cycle->pool,
                              conf->size * sizeof(ngx_xyz_pg_conn_t));
    if (pool->conns == NULL) {
        return NULL;
    }

    pool->conf = conf;
    pool->log = cycle->log;

    ngx_queue_init(&pool->free);
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    for (i = 0; i < conf->size; i++) {
        pool->conns[i].pool = pool;
        pool->conns[i].timer.handler = ngx_xyz_pg_timer_handler;
        pool->conns[i].timer.data = &pool->conns[i];
        pool->conns[i].timer.log = cycle->log;
        ngx_queue_insert_tail(&pool->free, &pool->conns[i].queue);
    }

    pool->failed.handler = ngx_xyz_pg_failed_handler;
    pool->failed.data = pool;
    pool->failed.log = cycle->log;

    return pool;
}


void
ngx_xyz_pg_pool_destroy(ngx_xyz_pg_pool_t *pool)
{
    ngx_uint_t           i;
    ngx_queue_t         *qn;
    ngx_xyz_pg_query_t  *q;

    if (pool->failed.posted) {
        ngx_delete_posted_event(&pool->failed);
    }

    if (pool->drain && pool->drain->posted) {
        ngx_delete_posted_event(pool->drain);
    }

    while (!ngx_queue_empty(&pool->waiting)) {
        qn = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qn, ngx_xyz_pg_query_t, queue);
        ngx_xyz_pg_cancel(q);
    }

    for (i = 0; i < pool->conf->size; i++) {
        if (pool->conns[i].state != NGX_XYZ_PG_FREE) {
            if (pool->conns[i].query) {
                ngx_xyz_pg_cancel(pool->conns[i].query);
            }

            ngx_xyz_pg_close(&pool->conns[i]);
        }
    }
}


ngx_int_t
ngx_xyz_pg_available(ngx_xyz_pg_pool_t *pool)
{
    return pool->nopen > 0 || !ngx_xyz_pg_in_backoff(pool);
}


void
ngx_xyz_pg_query_init(ngx_xyz_pg_query_t *q, const char *sql, int nparams,
    const char * const *values, ngx_xyz_pg_handler_pt handler, void *data,
    ngx_log_t *log)
{
    ngx_memzero(q, sizeof(ngx_xyz_pg_query_t));

    q->sql = sql;
    q->nparams = nparams;
    q->values = values;
    q->handler = handler;
    q->data = data;
    q->log = log;
}


ngx_int_t
ngx_xyz_pg_query(ngx_xyz_pg_pool_t *pool, ngx_xyz_pg_query_t *q)
{
    if (!ngx_xyz_pg_available(pool)) {
        return NGX_DECLINED;
    }

    if (pool->nwaiting >= pool->conf->queue_size
        && ngx_queue_empty(&pool->idle))
    {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                       "xyz pg: query %p refused, %ui waiting",
                       q, pool->nwaiting);
        return NGX_BUSY;
    }

    q->pool = pool;
    q->conn = NULL;

    ngx_queue_insert_tail(&pool->waiting, &q->queue);
    pool->nwaiting++;

    ngx_memzero(&q->timer, sizeof(ngx_event_t));
    q->timer.handler = ngx_xyz_pg_queue_timer_handler;
    q->timer.data = q;
    q->timer.log = q->log;
    ngx_add_timer(&q->timer, pool->conf->queue_timeout);

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz pg: query %p queued, %ui waiting", q, pool->nwaiting);

    ngx_xyz_pg_dispatch(pool);

    return NGX_OK;
}


/*
 * The Retry-After of a request refused for want of a connection: the
 * drain time of the wait queue; 0 when nothing waits (no congestion).
 */

time_t
ngx_xyz_pg_retry_after(ngx_xyz_pg_pool_t *pool)
{
    if (pool == NULL || pool->nwaiting + pool->expiring == 0) {
        return 0;
    }

    return ngx_xyz_rate_retry_after(&pool->rate,
                                    pool->nwaiting + pool->expiring,
                                    pool->conf->queue_timeout);
}


/*
 * Backlogged: more queries wait than the pool, at the rate it has been
 * completing them, gets through in half the queue timeout.  A query
 * queued now would probably run out of time, so work whose end is a query
 * (a hash: tens of milliseconds, or with a cheap hash most of what a
 * request costs besides the query) is better held back, in its own wait
 * queue, than done for nothing.  Unknown while no rate is known.
 */

ngx_int_t
ngx_xyz_pg_backlogged(ngx_xyz_pg_pool_t *pool)
{
    if (pool == NULL || !ngx_xyz_pg_over(pool)) {
        return 0;
    }

    if (!pool->backlogged) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                       "xyz pg: backlogged, %ui waiting", pool->nwaiting);
    }

    pool->backlogged = 1;

    return 1;
}


/* ev is posted when a backlog someone found has drained */

void
ngx_xyz_pg_on_drain(ngx_xyz_pg_pool_t *pool, ngx_event_t *ev)
{
    pool->drain = ev;
}


static ngx_uint_t
ngx_xyz_pg_over(ngx_xyz_pg_pool_t *pool)
{
    return pool->rate.per_s
           && pool->nwaiting * 2000
              >= pool->rate.per_s * pool->conf->queue_timeout;
}


static void
ngx_xyz_pg_dequeued(ngx_xyz_pg_pool_t *pool)
{
    if (!pool->backlogged || ngx_xyz_pg_over(pool)) {
        return;
    }

    pool->backlogged = 0;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: backlog drained, %ui waiting", pool->nwaiting);

    if (pool->drain && !pool->drain->posted) {
        ngx_post_event(pool->drain, &ngx_posted_events);
    }
}


/* whether the refusal is worth a line in the log: one a second */

ngx_int_t
ngx_xyz_pg_log_busy(ngx_xyz_pg_pool_t *pool)
{
    if (pool->logged == ngx_time()) {
        return 0;
    }

    pool->logged = ngx_time();

    return 1;
}


void
ngx_xyz_pg_cancel(ngx_xyz_pg_query_t *q)
{
    if (q->pool == NULL) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz pg: query %p cancelled%s", q,
                   q->conn ? ", its result will be dropped" : "");

    if (q->conn) {
        /* the connection reads the result to its end and drops it */
        q->conn->query = NULL;
        q->conn = NULL;

    } else {
        ngx_queue_remove(&q->queue);
        q->pool->nwaiting--;

        if (q->timer.timer_set) {
            ngx_del_timer(&q->timer);
        }

        ngx_xyz_pg_dequeued(q->pool);
    }

    q->pool = NULL;
}


static void
ngx_xyz_pg_dispatch(ngx_xyz_pg_pool_t *pool)
{
    ngx_queue_t         *qn, *cn;
    ngx_xyz_pg_conn_t   *conn;
    ngx_xyz_pg_query_t  *q;

    while (!ngx_queue_empty(&pool->waiting) && !ngx_queue_empty(&pool->idle))
    {
        qn = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qn, ngx_xyz_pg_query_t, queue);

        cn = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(cn, ngx_xyz_pg_conn_t, queue);

        /* on failure the connection is closed and the query stays first */
        (void) ngx_xyz_pg_send(conn, q);
    }

    while (pool->nwaiting > pool->nconnecting
           && pool->nopen < pool->conf->size
           && !ngx_xyz_pg_in_backoff(pool))
    {
        if (ngx_xyz_pg_connect(pool) != NGX_OK) {
            break;
        }
    }

    if (pool->nwaiting && pool->nopen == 0 && !pool->failed.posted) {
        ngx_post_event(&pool->failed, &ngx_posted_events);
    }
}


static ngx_int_t
ngx_xyz_pg_connect(ngx_xyz_pg_pool_t *pool)
{
    ngx_queue_t        *cn;
    ngx_xyz_pg_conn_t  *conn;

    cn = ngx_queue_head(&pool->free);
    conn = ngx_queue_data(cn, ngx_xyz_pg_conn_t, queue);
    ngx_queue_remove(cn);

    conn->state = NGX_XYZ_PG_CONNECTING;
    pool->nopen++;
    pool->nconnecting++;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: connect start %p, %ui open", conn, pool->nopen);

    conn->pg = PQconnectStartParams(pool->conf->keywords,
                                    pool->conf->values, 0);

    if (conn->pg == NULL || PQstatus(conn->pg) == CONNECTION_BAD
        || ngx_xyz_pg_attach(conn) != NGX_OK)
    {
        ngx_xyz_pg_connect_failed(conn);
        return NGX_ERROR;
    }

    ngx_add_timer(&conn->timer, pool->conf->connect_timeout);

    /* as if PQconnectPoll() had answered PGRES_POLLING_WRITING */
    ngx_xyz_pg_wait(conn, 0, 1);

    return NGX_OK;
}


static void
ngx_xyz_pg_connect_poll(ngx_xyz_pg_conn_t *conn)
{
    PostgresPollingStatusType   rc;

    for ( ;; ) {
        rc = PQconnectPoll(conn->pg);

        /*
         * When an attempt fails, libpq closes its socket and tries the
         * next address (of a host list, or of a name with several) on a
         * new one, which usually gets the same descriptor number.  The
         * kernel dropped the old socket from epoll when it was closed, so
         * the events must be registered anew, or the pool would wait for
         * the connect timeout on a socket nobody watches.
         */

        if (rc != PGRES_POLLING_FAILED && ngx_xyz_pg_socket_changed(conn)) {
            ngx_log_debug2(NGX_LOG_DEBUG_EVENT, conn->pool->log, 0,
                           "xyz pg: new socket, fd:%d was fd:%d",
                           PQsocket(conn->pg), conn->c->fd);

            ngx_xyz_pg_detach(conn);

            if (ngx_xyz_pg_attach(conn) != NGX_OK) {
                ngx_xyz_pg_connect_failed(conn);
                return;
            }
        }

        switch (rc) {

        case PGRES_POLLING_READING:
            ngx_xyz_pg_wait(conn, 1, 0);
            return;

        case PGRES_POLLING_WRITING:
            ngx_xyz_pg_wait(conn, 0, 1);
            return;

        case PGRES_POLLING_OK:
            goto connected;

        case PGRES_POLLING_FAILED:
            ngx_xyz_pg_connect_failed(conn);
            return;

        default:
            /* PGRES_POLLING_ACTIVE: poll again at once */
            continue;
        }
    }

connected:

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (PQsetnonblocking(conn->pg, 1) != 0) {
        ngx_xyz_pg_connect_failed(conn);
        return;
    }

    conn->pool->nconnecting--;
    conn->state = NGX_XYZ_PG_BUSY;          /* in no list until ready */

    if (conn->pool->down) {
        ngx_log_error(NGX_LOG_NOTICE, conn->pool->log, 0,
                      "xyz: PostgreSQL is reachable again");
    }

    conn->pool->down = 0;
    conn->pool->backoff = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, conn->pool->log, 0,
                   "xyz pg: connect ok %p, fd:%d", conn, conn->c->fd);

    ngx_xyz_pg_ready(conn);
}


static void
ngx_xyz_pg_connect_failed(ngx_xyz_pg_conn_t *conn)
{
    u_char              buf[NGX_XYZ_PG_MSG_LEN];
    ngx_uint_t          level;
    const char         *msg;
    ngx_xyz_pg_pool_t  *pool;

    pool = conn->pool;

    msg = conn->pg ? PQerrorMessage(conn->pg) : "out of memory";

    if (pool->backoff == 0) {
        pool->backoff = pool->conf->backoff_min;

    } else {
        pool->backoff = ngx_min(pool->backoff * 2, pool->conf->backoff_max);
    }

    /* spread reconnects of many workers: up to a quarter less */
    pool->backoff -= ngx_random() % (pool->backoff / 4 + 1);

    /* the first failure is an error, the retries that follow are news */
    level = pool->down ? NGX_LOG_INFO : NGX_LOG_ERR;

    ngx_log_error(level, pool->log, 0,
                  "xyz: cannot connect to PostgreSQL: %*s; "
                  "next try in %Mms",
                  ngx_xyz_pg_msg(msg, buf, sizeof(buf)), buf, pool->backoff);

    pool->down = 1;
    pool->retry_at = ngx_current_msec + pool->backoff;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: connect failed %p, backoff %Mms",
                   conn, pool->backoff);

    ngx_xyz_pg_close(conn);

    if (pool->nwaiting && pool->nopen == 0 && !pool->failed.posted) {
        ngx_post_event(&pool->failed, &ngx_posted_events);
    }
}


static void
ngx_xyz_pg_failed_handler(ngx_event_t *ev)
{
    ngx_queue_t         *qn;
    ngx_xyz_pg_pool_t   *pool;
    ngx_xyz_pg_query_t  *q;

    pool = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: no connection, %ui open, %ui waiting",
                   pool->nopen, pool->nwaiting);

    /* a connection may have come up since the event was posted */

    while (pool->nopen == 0 && !ngx_queue_empty(&pool->waiting)) {
        qn = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qn, ngx_xyz_pg_query_t, queue);

        ngx_xyz_pg_cancel(q);
        q->handler(q, NGX_DECLINED, NULL);
    }
}


static ngx_int_t
ngx_xyz_pg_attach(ngx_xyz_pg_conn_t *conn)
{
    ngx_socket_t       fd;
    ngx_file_info_t    fi;
    ngx_connection_t  *c;

    fd = PQsocket(conn->pg);
    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }

    c = ngx_xyz_event_attach(fd, ngx_xyz_pg_event_handler, conn,
                             conn->pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    conn->uniq = ngx_file_uniq(&fi);
    conn->c = c;

    return NGX_OK;
}


/*
 * Whether libpq's socket is another one than the one attached: another
 * descriptor, or the same number on another socket (another inode).
 */

static ngx_uint_t
ngx_xyz_pg_socket_changed(ngx_xyz_pg_conn_t *conn)
{
    ngx_socket_t     fd;
    ngx_file_info_t  fi;

    fd = PQsocket(conn->pg);

    if (fd != conn->c->fd) {
        return 1;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return 1;
    }

    return ngx_file_uniq(&fi) != conn->uniq;
}


/*
 * Gives the ngx_connection_t back without closing the descriptor, which
 * belongs to libpq: PQfinish() closes it, and the kernel then drops it from
 * epoll, so the events need no epoll_ctl() of their own.
 */

static void
ngx_xyz_pg_detach(ngx_xyz_pg_conn_t *conn)
{
    if (conn->c == NULL) {
        return;
    }

    ngx_xyz_event_detach(conn->c, NGX_CLOSE_EVENT);
    conn->c = NULL;
}


static void
ngx_xyz_pg_wait(ngx_xyz_pg_conn_t *conn, ngx_uint_t rd, ngx_uint_t wr)
{
    ngx_xyz_event_wait(conn->c, rd, wr);
}


static void
ngx_xyz_pg_close(ngx_xyz_pg_conn_t *conn)
{
    ngx_xyz_pg_pool_t  *pool;

    pool = conn->pool;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: close %p, %ui open before", conn, pool->nopen);

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (conn->state == NGX_XYZ_PG_CONNECTING) {
        pool->nconnecting--;

    } else if (conn->state == NGX_XYZ_PG_IDLE) {
        ngx_queue_remove(&conn->queue);
    }

    ngx_xyz_pg_detach(conn);

    if (conn->result) {
        PQclear(conn->result);
        conn->result = NULL;
    }

    if (conn->pg) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }

    conn->query = NULL;
    conn->state = NGX_XYZ_PG_FREE;
    pool->nopen--;

    ngx_queue_insert_tail(&pool->free, &conn->queue);
}


static void
ngx_xyz_pg_ready(ngx_xyz_pg_conn_t *conn)
{
    ngx_xyz_pg_pool_t  *pool;

    pool = conn->pool;

    if ((ngx_exiting || ngx_quit || ngx_terminate) && pool->nwaiting == 0) {
        ngx_xyz_pg_close(conn);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: idle %p, %ui waiting", conn, pool->nwaiting);

    conn->state = NGX_XYZ_PG_IDLE;
    conn->c->idle = 1;
    ngx_queue_insert_head(&pool->idle, &conn->queue);

    /* reading while idle notices a server that went away */
    ngx_xyz_pg_wait(conn, 1, 0);

    ngx_xyz_pg_dispatch(pool);
}


static ngx_int_t
ngx_xyz_pg_send(ngx_xyz_pg_conn_t *conn, ngx_xyz_pg_query_t *q)
{
    ngx_xyz_pg_pool_t  *pool;

    pool = conn->pool;

    ngx_queue_remove(&conn->queue);
    conn->state = NGX_XYZ_PG_SENDING;
    conn->c->idle = 0;

    if (!PQsendQueryParams(conn->pg, q->sql, q->nparams, NULL, q->values,
                           q->lengths, NULL, 0))
    {
        ngx_xyz_pg_lost(conn, "cannot send a query");
        return NGX_ERROR;
    }

    ngx_queue_remove(&q->queue);
    pool->nwaiting--;

    if (q->timer.timer_set) {
        ngx_del_timer(&q->timer);
    }

    ngx_xyz_pg_dequeued(pool);

    q->conn = conn;
    conn->query = q;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz pg: query %p sent on %p, fd:%d",
                   q, conn, conn->c->fd);

    /*
     * The server's statement_timeout ends the statement first and answers;
     * this timer only catches a server that does not answer at all.
     */
    ngx_add_timer(&conn->timer,
                  pool->conf->query_timeout + NGX_XYZ_PG_TIMEOUT_GRACE);

    /* PQflush() runs on the write event, never inside the caller */
    ngx_xyz_pg_wait(conn, 1, 1);

    return NGX_OK;
}


static void
ngx_xyz_pg_event_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c;
    ngx_xyz_pg_conn_t  *conn;

    c = ev->data;
    conn = c->data;

    switch (conn->state) {

    case NGX_XYZ_PG_CONNECTING:
        ngx_xyz_pg_connect_poll(conn);
        break;

    case NGX_XYZ_PG_IDLE:
        ngx_xyz_pg_idle(conn);
        break;

    case NGX_XYZ_PG_SENDING:
    case NGX_XYZ_PG_BUSY:
        ngx_xyz_pg_io(conn, !ev->write);
        break;
    }
}


static void
ngx_xyz_pg_io(ngx_xyz_pg_conn_t *conn, ngx_uint_t readable)
{
    int        rc;
    PGresult  *res;

    if (conn->state == NGX_XYZ_PG_SENDING) {

        if (readable && !PQconsumeInput(conn->pg)) {
            ngx_xyz_pg_lost(conn, "connection lost");
            return;
        }

        rc = PQflush(conn->pg);

        if (rc == -1) {
            ngx_xyz_pg_lost(conn, "connection lost");
            return;
        }

        if (rc == 1) {
            return;
        }

        conn->state = NGX_XYZ_PG_BUSY;
        ngx_xyz_pg_wait(conn, 1, 0);

        if (!readable) {
            return;
        }
    }

    if (!PQconsumeInput(conn->pg)) {
        ngx_xyz_pg_lost(conn, "connection lost");
        return;
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);

        if (res == NULL) {
            ngx_xyz_pg_finish(conn);
            return;
        }

        if (conn->result == NULL) {
            conn->result = res;

        } else {
            PQclear(res);
        }
    }
}


static void
ngx_xyz_pg_finish(ngx_xyz_pg_conn_t *conn)
{
    char                *state, *msg;
    ngx_int_t            rc;
    PGresult            *res;
    ngx_xyz_pg_query_t  *q;

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    q = conn->query;
    res = conn->result;

    conn->query = NULL;
    conn->result = NULL;

    rc = NGX_ERROR;

    if (res) {
        switch (PQresultStatus(res)) {

        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            rc = NGX_OK;
            break;

        default:
            /* the primary message only: the detail may quote user data */
            state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

            ngx_log_error(NGX_LOG_ERR, q ? q->log : conn->pool->log, 0,
                          "xyz: PostgreSQL error %s: %s",
                          state ? state : "-", msg ? msg : "-");

            /*
             * query_canceled: statement_timeout (or an operator's cancel)
             * rolled the statement back; a timeout, not a refusal
             */
            if (state && ngx_strcmp(state, "57014") == 0) {
                rc = NGX_ETIMEDOUT;
            }
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, q ? q->log : conn->pool->log, 0,
                   "xyz pg: query %p result %i, %i rows",
                   q, rc, (ngx_int_t) (res ? PQntuples(res) : 0));

    ngx_xyz_pg_ready(conn);

    ngx_xyz_rate_count(&conn->pool->rate, ngx_current_msec);

    if (q) {
        q->pool = NULL;
        q->conn = NULL;
        q->handler(q, rc, rc == NGX_ETIMEDOUT ? NULL : res);
    }

    if (res) {
        PQclear(res);
    }
}


static void
ngx_xyz_pg_lost(ngx_xyz_pg_conn_t *conn, const char *what)
{
    u_char               buf[NGX_XYZ_PG_MSG_LEN];
    const char          *msg;
    ngx_xyz_pg_pool_t   *pool;
    ngx_xyz_pg_query_t  *q;

    pool = conn->pool;
    q = conn->query;
    msg = PQerrorMessage(conn->pg);

    ngx_log_error(NGX_LOG_ERR, q ? q->log : pool->log, 0,
                  "xyz: PostgreSQL %s: %*s",
                  what, ngx_xyz_pg_msg(msg, buf, sizeof(buf)), buf);

    ngx_xyz_pg_close(conn);

    if (q) {
        q->pool = NULL;
        q->conn = NULL;
        q->handler(q, NGX_ERROR, NULL);
    }

    ngx_xyz_pg_dispatch(pool);
}


static void
ngx_xyz_pg_idle(ngx_xyz_pg_conn_t *conn)
{
    PGnotify  *n;

    if (conn->c->close) {
        /* ngx_close_idle_connections(): reload or shutdown */
        ngx_xyz_pg_close(conn);
        return;
    }

    if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) == CONNECTION_BAD) {
        ngx_log_error(NGX_LOG_INFO, conn->pool->log, 0,
                      "xyz: idle PostgreSQL connection closed by the server");
        ngx_xyz_pg_close(conn);
        return;
    }

    while ((n = PQnotifies(conn->pg)) != NULL) {
        PQfreemem(n);
    }
}


static void
ngx_xyz_pg_timer_handler(ngx_event_t *ev)
{
    ngx_xyz_pg_conn_t   *conn;
    ngx_xyz_pg_pool_t   *pool;
    ngx_xyz_pg_query_t  *q;

    conn = ev->data;
    pool = conn->pool;

    if (conn->state == NGX_XYZ_PG_CONNECTING) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "xyz: PostgreSQL connect timed out");
        ngx_xyz_pg_connect_failed(conn);
        ngx_xyz_pg_dispatch(pool);
        return;
    }

    /*
     * A query took too long.  Closing the connection makes the server
     * abandon the statement; PQcancel() would block on a new connection.
     */

    q = conn->query;

    ngx_log_error(NGX_LOG_ERR, q ? q->log : pool->log, 0,
                  "xyz: PostgreSQL query timed out");

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "xyz pg: query %p timed out on %p", q, conn);

    ngx_xyz_pg_close(conn);

    if (q) {
        q->pool = NULL;
        q->conn = NULL;
        q->handler(q, NGX_ETIMEDOUT, NULL);
    }

    ngx_xyz_pg_dispatch(pool);
}


static void
ngx_xyz_pg_queue_timer_handler(ngx_event_t *ev)
{
    ngx_xyz_pg_pool_t   *pool;
    ngx_xyz_pg_query_t  *q;

    q = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz pg: query %p waited too long, %ui waiting",
                   q, q->pool->nwaiting);

    /* one line a second: under overload a line per refusal adds to it */

    if (q->pool->logged != ngx_time()) {
        q->pool->logged = ngx_time();
        ngx_log_error(NGX_LOG_WARN, q->log, 0,
                      "xyz: no PostgreSQL connection became free in time "
                      "(%ui waiting)", q->pool->nwaiting);
    }

    pool = q->pool;

    ngx_xyz_pg_cancel(q);

    /* still counted while its handler answers, for the Retry-After */
    pool->expiring++;
    q->handler(q, NGX_ETIMEDOUT, NULL);
    pool->expiring--;
}


static ngx_uint_t
ngx_xyz_pg_in_backoff(ngx_xyz_pg_pool_t *pool)
{
    return pool->down
           && (ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0;
}


/*
 * libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running...?\n"); one log line each is easier to grep.
 */

static size_t
ngx_xyz_pg_msg(const char *msg, u_char *buf, size_t size)
{
    size_t  n;

    for (n = 0; *msg && n < size; msg++) {
        if (*msg == '\n' || *msg == '\t' || *msg == '\r') {
            if (n && buf[n - 1] != ' ') {
                buf[n++] = ' ';
            }

            continue;
        }

        buf[n++] = *msg;
    }

    while (n && buf[n - 1] == ' ') {
        n--;
    }

    return n;
}


static char *
ngx_xyz_pg_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (char *) p;
}
