
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * A per-worker pool of nonblocking libpq connections driven by nginx
 * events and timers.
 */


#ifndef _NGX_XYZ_PG_H_INCLUDED_
#define _NGX_XYZ_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <libpq-fe.h>


typedef struct ngx_xyz_pg_pool_s   ngx_xyz_pg_pool_t;
typedef struct ngx_xyz_pg_conn_s   ngx_xyz_pg_conn_t;
typedef struct ngx_xyz_pg_query_s  ngx_xyz_pg_query_t;


/*
 * Called once per query, never from inside ngx_xyz_pg_query().  rc is
 * NGX_OK (res holds the result), NGX_ERROR (the statement failed: res
 * holds the error, or is NULL when the connection was lost), NGX_DECLINED
 * (no connection could be made) or NGX_ETIMEDOUT (the query or its wait
 * in the queue took too long).  The pool frees res after the call.
 */
typedef void (*ngx_xyz_pg_handler_pt)(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);


typedef struct {
    ngx_str_t                dsn;
    ngx_uint_t               size;
    ngx_uint_t               queue_size;
    ngx_msec_t               connect_timeout;
    ngx_msec_t               query_timeout;
    ngx_msec_t               queue_timeout;
    ngx_msec_t               backoff_min;
    ngx_msec_t               backoff_max;

    /* the DSN parsed at configuration time, with pinned options */
    const char             **keywords;
    const char             **values;
} ngx_xyz_pg_conf_t;


struct ngx_xyz_pg_query_s {
    /* set by the caller */
    const char              *sql;
    int                      nparams;
    const char * const      *values;
    const int               *lengths;
    ngx_xyz_pg_handler_pt    handler;
    void                    *data;
    ngx_log_t               *log;

    /* owned by the pool */
    ngx_xyz_pg_pool_t       *pool;
    ngx_xyz_pg_conn_t       *conn;
    ngx_queue_t              queue;
    ngx_event_t              timer;
};


char *ngx_xyz_pg_conf_dsn(ngx_conf_t *cf, ngx_xyz_pg_conf_t *conf);
char *ngx_xyz_pg_conf_timeout(ngx_conf_t *cf, ngx_xyz_pg_conf_t *conf);

ngx_xyz_pg_pool_t *ngx_xyz_pg_pool_create(ngx_cycle_t *cycle,
    ngx_xyz_pg_conf_t *conf);
void ngx_xyz_pg_pool_destroy(ngx_xyz_pg_pool_t *pool);

/* whether a query now has a chance; false while the database is down */
ngx_int_t ngx_xyz_pg_available(ngx_xyz_pg_pool_t *pool);

/*
 * Sets a query up from nothing: the statement, its nparams text values
 * (no lengths: NUL-terminated), and who is called with the result.  The
 * query must not be queued or running.
 */
void ngx_xyz_pg_query_init(ngx_xyz_pg_query_t *q, const char *sql,
    int nparams, const char * const *values, ngx_xyz_pg_handler_pt handler,
    void *data, ngx_log_t *log);

/*
 * Queues a query.  NGX_OK: the handler will be called.  NGX_BUSY: the wait
 * queue is full.  NGX_DECLINED: the database is down and the pool is
 * waiting before it tries again.
 */
ngx_int_t ngx_xyz_pg_query(ngx_xyz_pg_pool_t *pool, ngx_xyz_pg_query_t *q);

/*
 * Whether so many queries wait that one queued now would likely run out of
 * time; the event given to ngx_xyz_pg_on_drain() is posted once the queue
 * has drained below that again.
 */
ngx_int_t ngx_xyz_pg_backlogged(ngx_xyz_pg_pool_t *pool);
void ngx_xyz_pg_on_drain(ngx_xyz_pg_pool_t *pool, ngx_event_t *ev);

/* seconds for Retry-After while queries wait; 0 when none wait */
time_t ngx_xyz_pg_retry_after(ngx_xyz_pg_pool_t *pool);

/* true at most once a second: for a log line per refusal, rate-limited */
ngx_int_t ngx_xyz_pg_log_busy(ngx_xyz_pg_pool_t *pool);

/* forgets a queued or running query; its handler will not be called */
void ngx_xyz_pg_cancel(ngx_xyz_pg_query_t *q);


#endif /* _NGX_XYZ_PG_H_INCLUDED_ */
