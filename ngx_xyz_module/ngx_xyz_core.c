
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The core every feature uses: the PostgreSQL pool, password hashing on
 * the thread pool, and the metrics zone.  Its configuration is the
 * pg and hash parts of the main configuration.
 */


#include "ngx_xyz_module.h"

#include <sodium.h>


static void ngx_xyz_core_create_conf(ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_core_init_conf(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static ngx_int_t ngx_xyz_core_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
static void ngx_xyz_core_exit_process(void);


ngx_xyz_feature_t  ngx_xyz_core_feature = {
    ngx_xyz_core_create_conf,
    ngx_xyz_core_init_conf,
    ngx_xyz_core_init_process,
    ngx_xyz_core_exit_process
};


/* the configuration whose pool this worker made */
static ngx_xyz_main_conf_t  *ngx_xyz_core_conf;


static void
ngx_xyz_core_create_conf(ngx_xyz_main_conf_t *xmcf)
{
    xmcf->pg.size = NGX_CONF_UNSET_UINT;
    xmcf->pg.queue_size = NGX_CONF_UNSET_UINT;
    xmcf->pg.connect_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.query_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.queue_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.backoff_min = NGX_CONF_UNSET_MSEC;
    xmcf->pg.backoff_max = NGX_CONF_UNSET_MSEC;

    xmcf->hash.queue_length = NGX_CONF_UNSET_UINT;
    xmcf->hash.queue_wait = NGX_CONF_UNSET_MSEC;
    xmcf->hash.tasks = NGX_CONF_UNSET_UINT;
    xmcf->retry_pace = NGX_CONF_UNSET_MSEC;

    xmcf->hash.argon2_m = NGX_CONF_UNSET_UINT;
    xmcf->hash.argon2_t = NGX_CONF_UNSET_UINT;
}


static char *
ngx_xyz_core_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_conf_init_uint_value(xmcf->pg.size, 16);
    ngx_conf_init_uint_value(xmcf->pg.queue_size, 256);
    ngx_conf_init_msec_value(xmcf->pg.connect_timeout, 5000);
    ngx_conf_init_msec_value(xmcf->pg.query_timeout, 10000);
    ngx_conf_init_msec_value(xmcf->pg.queue_timeout, 5000);
    ngx_conf_init_msec_value(xmcf->pg.backoff_min, 200);
    ngx_conf_init_msec_value(xmcf->pg.backoff_max, 10000);

    ngx_conf_init_uint_value(xmcf->hash.queue_length, 1024);
    ngx_conf_init_msec_value(xmcf->hash.queue_wait, 5000);
    ngx_conf_init_msec_value(xmcf->retry_pace, 5000);

    /* enough to keep a pool of as many threads as CPUs busy: more threads
     * than CPUs do not hash faster */
    ngx_conf_init_uint_value(xmcf->hash.tasks,
                             (ngx_uint_t) (2 * ngx_max(ngx_ncpu, 1)));

    if (ngx_xyz_pg_conf_timeout(cf, &xmcf->pg) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* OWASP: Argon2id, 19 MiB, two passes, one lane */
    ngx_conf_init_uint_value(xmcf->hash.argon2_m, 19456);
    ngx_conf_init_uint_value(xmcf->hash.argon2_t, 2);

    if (ngx_xyz_metrics_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_xyz_core_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    if (sodium_init() < 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "xyz: libsodium failed to initialise");
        return NGX_ERROR;
    }

    xmcf->pg_pool = ngx_xyz_pg_pool_create(cycle, &xmcf->pg);
    if (xmcf->pg_pool == NULL) {
        return NGX_ERROR;
    }

    ngx_xyz_core_conf = xmcf;

    return NGX_OK;
}


static void
ngx_xyz_core_exit_process(void)
{
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_xyz_core_conf;
    if (xmcf == NULL) {
        return;
    }

    ngx_xyz_core_conf = NULL;

    if (xmcf->pg_pool) {
        ngx_xyz_pg_pool_destroy(xmcf->pg_pool);
        xmcf->pg_pool = NULL;
    }
}
