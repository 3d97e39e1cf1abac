
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Ended sessions, seen by every worker and every instance within
 * seconds, without a query per request.
 *
 * PostgreSQL appends a row to session_changes whenever a user's sessions
 * must end (sql/006_sessions.sql: a password reset or change, a disabled
 * account, a role change, a logout); each raises the user's token
 * version.  One worker of each nginx (worker 0) reads the new rows every
 * xyz_session_poll and keeps, in a shared memory zone of
 * xyz_session_zone bytes, user id -> (token version, status, role) in a
 * red-black tree.  ngx_xyz_session_check() refuses a token whose version
 * is older than the user's, or whose user is no longer confirmed, and
 * gives the user's current role.
 *
 * The zone stays bounded: an entry goes once its change is older than
 * xyz_session_ttl (every token from before it has expired).  When the
 * zone is full the oldest entry makes room, and every token issued
 * before that entry's change, of a user the zone no longer knows, is
 * refused: too small a zone logs people out early, never lets an ended
 * session back in.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_jwt.h"


#define NGX_XYZ_SESSION_BATCH      1000    /* rows a poll reads */
#define NGX_XYZ_SESSION_PURGE      60      /* polls between purges */


typedef struct {
    ngx_rbtree_node_t        node;               /* key: the user id */
    ngx_queue_t              queue;              /* oldest change first */
    time_t                   changed;
    ngx_int_t                version;
    ngx_uint_t               confirmed;
    u_char                   role[NGX_XYZ_JWT_ROLE_MAX + 1];
} ngx_xyz_session_node_t;


typedef struct {
    ngx_rbtree_t             rbtree;
    ngx_rbtree_node_t        sentinel;
    ngx_queue_t              queue;
    int64_t                  cursor;             /* the last change read */
    time_t                   evicted;            /* see ngx_xyz_session_check */
    time_t                   warned;             /* evicted, when logged */
    ngx_uint_t               loaded;             /* a poll has succeeded */
    ngx_uint_t               entries;
} ngx_xyz_session_sh_t;


typedef struct {
    ngx_xyz_session_sh_t    *sh;
    ngx_slab_pool_t         *shpool;
} ngx_xyz_session_zone_t;


typedef struct {
    ngx_xyz_main_conf_t     *xmcf;
    ngx_event_t              timer;
    ngx_xyz_pg_query_t       query;
    ngx_uint_t               querying;
    ngx_uint_t               failing;
    ngx_uint_t               polls;
    const char              *values[4];
    char                     cursor[NGX_INT64_LEN + 1];
    char                     ttl[NGX_TIME_T_LEN + 16];
    char                     limit[NGX_INT_T_LEN + 1];
} ngx_xyz_session_poller_t;


static ngx_int_t ngx_xyz_session_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_xyz_session_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_xyz_session_node_t *ngx_xyz_session_lookup(
    ngx_xyz_session_sh_t *sh, ngx_rbtree_key_t key);
static void ngx_xyz_session_apply(ngx_xyz_session_zone_t *zone,
    int64_t user, ngx_int_t version, ngx_uint_t confirmed, const char *role,
    size_t role_len, time_t changed, ngx_log_t *log);
static void ngx_xyz_session_expire(ngx_xyz_session_zone_t *zone,
    time_t before);
static void ngx_xyz_session_delete(ngx_xyz_session_zone_t *zone,
    ngx_xyz_session_node_t *sn);
static void ngx_xyz_session_poll(ngx_event_t *ev);
static void ngx_xyz_session_polled(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);


static ngx_str_t  ngx_xyz_session_zone_name = ngx_string("xyz_sessions");

static ngx_xyz_session_poller_t  *ngx_xyz_session_poller;

static const char  ngx_xyz_session_sql[] =
    "SELECT change_id, user_id, token_version, status, role, changed_at "
    "FROM xyz_session_changes($1::bigint, $2::interval, $3::integer, "
    "$4::boolean)";


char *
ngx_xyz_session_zone(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_shm_zone_t          *shm_zone;
    ngx_xyz_session_zone_t  *zone;

    if (xmcf->acct.session_zone_size == NGX_CONF_UNSET_SIZE) {
        xmcf->acct.session_zone_size = 1024 * 1024;
    }

    ngx_conf_init_msec_value(xmcf->acct.session_poll, 1000);

    if (xmcf->acct.session_zone_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_session_zone\" of %uz bytes is too small; "
                           "give at least %uz (e.g. 1m, about 8000 users "
                           "whose sessions ended within xyz_session_ttl)",
                           xmcf->acct.session_zone_size, 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    if (xmcf->acct.session_poll < 50 || xmcf->acct.session_poll > 60000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_session_poll\" must be from 50ms to 60s: "
                           "it is how late an ended session is seen");
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_session_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_xyz_session_zone_name,
                                     xmcf->acct.session_zone_size,
                                     &ngx_xyz_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_xyz_session_init_zone;
    shm_zone->data = zone;

    xmcf->acct.session_zone = shm_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_xyz_session_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_xyz_session_zone_t *ozone = data;

    size_t                   len;
    ngx_xyz_session_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        /* a reload with the same size: keep what is known */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool, sizeof(ngx_xyz_session_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_xyz_session_rbtree_insert);
    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in xyz_session_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in xyz_session_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is handled (the oldest entry goes), not an error */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_xyz_session_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_xyz_session_node_t *
ngx_xyz_session_lookup(ngx_xyz_session_sh_t *sh, ngx_rbtree_key_t key)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {
        if (key == node->key) {
            return (ngx_xyz_session_node_t *) node;
        }

        node = (key < node->key) ? node->left : node->right;
    }

    return NULL;
}


/*
 * The hot path: one lookup under the zone's lock.  NGX_OK: the session
 * stands (claims->role now the user's current role); NGX_DECLINED: it
 * has ended.
 */

ngx_int_t
ngx_xyz_session_check(ngx_xyz_main_conf_t *xmcf, ngx_xyz_jwt_claims_t *c,
    ngx_log_t *log)
{
    ngx_int_t                rc;
    ngx_xyz_session_zone_t  *zone;
    ngx_xyz_session_node_t  *sn;

    if (xmcf->acct.session_zone == NULL) {
        return NGX_OK;
    }

    zone = xmcf->acct.session_zone->data;

    if (zone->sh == NULL) {
        return NGX_OK;
    }

    rc = NGX_OK;

    ngx_shmtx_lock(&zone->shpool->mutex);

    sn = ngx_xyz_session_lookup(zone->sh, (ngx_rbtree_key_t) c->sub);

    if (sn) {
        if (c->ver < sn->version || !sn->confirmed) {
            rc = NGX_DECLINED;

        } else {
            ngx_memcpy(c->role, sn->role, sizeof(c->role));
        }

    } else if (c->iat <= zone->sh->evicted) {
        /* the zone forgot this user's changes to make room: it cannot
         * tell whether a session this old has ended */
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "xyz session: user %L, version %d has ended",
                       c->sub, c->ver);
    }

    return rc;
}


/* a logout through this nginx: seen here at once, elsewhere at the poll */

void
ngx_xyz_session_ended(ngx_xyz_main_conf_t *xmcf, int64_t user,
    ngx_int_t version, const char *role, ngx_log_t *log)
{
    ngx_xyz_session_zone_t  *zone;

    if (xmcf->acct.session_zone == NULL) {
        return;
    }

    zone = xmcf->acct.session_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_xyz_session_apply(zone, user, version, 1, role, ngx_strlen(role),
                          ngx_time(), log);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* called with the zone locked; a change older than what is known is
 * ignored, so changes may come twice and in any order */

static void
ngx_xyz_session_apply(ngx_xyz_session_zone_t *zone, int64_t user,
    ngx_int_t version, ngx_uint_t confirmed, const char *role,
    size_t role_len, time_t changed, ngx_log_t *log)
{
    ngx_queue_t             *q;
    ngx_xyz_session_sh_t    *sh;
    ngx_xyz_session_node_t  *sn, *old;

    sh = zone->sh;

    sn = ngx_xyz_session_lookup(sh, (ngx_rbtree_key_t) user);

    if (sn) {
        if (version <= sn->version) {
            return;
        }

        ngx_queue_remove(&sn->queue);

    } else {
        for ( ;; ) {
            sn = ngx_slab_alloc_locked(zone->shpool,
                                       sizeof(ngx_xyz_session_node_t));
            if (sn) {
                break;
            }

            if (ngx_queue_empty(&sh->queue)) {
                return;
            }

            q = ngx_queue_head(&sh->queue);
            old = ngx_queue_data(q, ngx_xyz_session_node_t, queue);

            if (sh->evicted < old->changed) {
                sh->evicted = old->changed;
            }

            /* about once a second while the zone overflows, not per entry */

            if (sh->warned < sh->evicted) {
                sh->warned = sh->evicted;

                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "xyz: \"xyz_session_zone\" is full; sessions "
                              "issued before %T are refused, raise its size",
                              sh->evicted);
            }

            ngx_xyz_session_delete(zone, old);
        }

        sn->node.key = (ngx_rbtree_key_t) user;
        ngx_rbtree_insert(&sh->rbtree, &sn->node);
        sh->entries++;
    }

    sn->version = version;
    sn->confirmed = confirmed;
    sn->changed = changed;

    role_len = ngx_min(role_len, NGX_XYZ_JWT_ROLE_MAX);
    ngx_memcpy(sn->role, role, role_len);
    sn->role[role_len] = '\0';

    /* the queue stays about in order of change: a change is new here */
    ngx_queue_insert_tail(&sh->queue, &sn->queue);
}


static void
ngx_xyz_session_delete(ngx_xyz_session_zone_t *zone,
    ngx_xyz_session_node_t *sn)
{
    ngx_queue_remove(&sn->queue);
    ngx_rbtree_delete(&zone->sh->rbtree, &sn->node);
    ngx_slab_free_locked(zone->shpool, sn);
    zone->sh->entries--;
}


/* called with the zone locked: entries whose every older token has
 * expired are no longer needed */

static void
ngx_xyz_session_expire(ngx_xyz_session_zone_t *zone, time_t before)
{
    ngx_queue_t             *q;
    ngx_xyz_session_node_t  *sn;

    while (!ngx_queue_empty(&zone->sh->queue)) {
        q = ngx_queue_head(&zone->sh->queue);
        sn = ngx_queue_data(q, ngx_xyz_session_node_t, queue);

        if (sn->changed >= before) {
            break;
        }

        ngx_xyz_session_delete(zone, sn);
    }
}


/* the poller: in worker 0 of each nginx only, one query at a time */

ngx_int_t
ngx_xyz_session_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    ngx_xyz_session_poller_t  *p;

    if (xmcf->acct.session_zone == NULL || xmcf->pg_pool == NULL
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    p = ngx_pcalloc(cycle->pool, sizeof(ngx_xyz_session_poller_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->xmcf = xmcf;

    p->timer.handler = ngx_xyz_session_poll;
    p->timer.data = p;
    p->timer.log = cycle->log;
    p->timer.cancelable = 1;

    ngx_sprintf((u_char *) p->ttl, "%T seconds%Z",
                xmcf->acct.session_ttl + 2 * NGX_XYZ_JWT_LEEWAY);
    ngx_sprintf((u_char *) p->limit, "%d%Z", NGX_XYZ_SESSION_BATCH);

    ngx_xyz_session_poller = p;

    /* at once: until the first poll this nginx knows no ended session */
    ngx_add_timer(&p->timer, 1);

    return NGX_OK;
}


void
ngx_xyz_session_exit_process(void)
{
    ngx_xyz_session_poller_t  *p;

    p = ngx_xyz_session_poller;
    if (p == NULL) {
        return;
    }

    ngx_xyz_session_poller = NULL;

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    if (p->querying) {
        ngx_xyz_pg_cancel(&p->query);
    }
}


static void
ngx_xyz_session_poll(ngx_event_t *ev)
{
    ngx_xyz_session_poller_t *p = ev->data;

    int64_t                  cursor;
    ngx_xyz_session_zone_t  *zone;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    zone = p->xmcf->acct.session_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);
    cursor = zone->sh->cursor;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_sprintf((u_char *) p->cursor, "%L%Z", cursor);

    p->values[0] = p->cursor;
    p->values[1] = p->ttl;
    p->values[2] = p->limit;
    p->values[3] = (p->polls++ % NGX_XYZ_SESSION_PURGE == 0) ? "true"
                                                             : "false";

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "xyz session: poll from cursor %L, purge %s",
                   cursor, p->values[3]);

    ngx_xyz_pg_query_init(&p->query, ngx_xyz_session_sql, 4, p->values,
                          ngx_xyz_session_polled, p, ev->log);

    if (ngx_xyz_pg_query(p->xmcf->pg_pool, &p->query) != NGX_OK) {
        /* the database is down or the pool full: try at the next tick */
        ngx_add_timer(&p->timer, p->xmcf->acct.session_poll);
        return;
    }

    p->querying = 1;
}


static void
ngx_xyz_session_polled(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_session_poller_t *p = q->data;

    int                      i, n, forward;
    char                    *status;
    int64_t                  id, user, cursor;
    ngx_int_t                version;
    ngx_uint_t               level;
    ngx_msec_t               delay;
    ngx_xyz_session_zone_t  *zone;

    p->querying = 0;
    delay = p->xmcf->acct.session_poll;

    if (rc != NGX_OK || PQnfields(res) != 6) {
        /* once per outage, not once a second */
        level = p->failing ? NGX_LOG_INFO : NGX_LOG_ERR;

        ngx_log_error(level, p->timer.log, 0,
                      "xyz: reading ended sessions failed%s%s; sessions "
                      "ended from now on are not seen until it works",
                      res ? ": " : "",
                      res ? PQresultErrorMessage(res) : "");
        p->failing = 1;
        goto next;
    }

    if (p->failing) {
        ngx_log_error(NGX_LOG_NOTICE, p->timer.log, 0,
                      "xyz: reading ended sessions works again");
        p->failing = 0;
    }

    zone = p->xmcf->acct.session_zone->data;
    n = PQntuples(res);
    forward = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    cursor = zone->sh->cursor;

    for (i = 0; i < n; i++) {
        id = ngx_atoof((u_char *) PQgetvalue(res, i, 0),
                       PQgetlength(res, i, 0));
        user = ngx_atoof((u_char *) PQgetvalue(res, i, 1),
                         PQgetlength(res, i, 1));
        version = ngx_atoi((u_char *) PQgetvalue(res, i, 2),
                           PQgetlength(res, i, 2));
        status = PQgetvalue(res, i, 3);

        if (id <= 0 || user <= 0 || version == NGX_ERROR) {
            continue;
        }

        if (id > zone->sh->cursor) {
            forward++;
        }

        if (id > cursor) {
            cursor = id;
        }

        ngx_xyz_session_apply(zone, user, version,
                              ngx_strcmp(status, "confirmed") == 0,
                              PQgetvalue(res, i, 4), PQgetlength(res, i, 4),
                              (time_t) ngx_atoof(
                                  (u_char *) PQgetvalue(res, i, 5),
                                  PQgetlength(res, i, 5)),
                              p->timer.log);
    }

    zone->sh->cursor = cursor;
    zone->sh->loaded = 1;

    ngx_xyz_session_expire(zone, ngx_time() - p->xmcf->acct.session_ttl
                                 - 2 * NGX_XYZ_JWT_LEEWAY);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, p->timer.log, 0,
                   "xyz session: polled %d changes, %d new, cursor %L",
                   n, forward, cursor);

    if (forward >= NGX_XYZ_SESSION_BATCH) {
        /* more are waiting: read on at once */
        delay = 1;
    }

next:

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&p->timer, delay);
    }
}
