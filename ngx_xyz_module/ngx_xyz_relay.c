
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The relay's part of the module's life: its configuration (the SQS
 * queues and the outbox's lease and sweep) and, in each worker, libcurl,
 * the AWS credentials and the outbox relay.  The dispatcher and the
 * feedback consumer run on what it starts.
 */


#include "ngx_xyz_module.h"


static void ngx_xyz_relay_create_conf(ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_relay_init_conf(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static ngx_int_t ngx_xyz_relay_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
static void ngx_xyz_relay_exit_process(void);


ngx_xyz_feature_t  ngx_xyz_relay_feature = {
    ngx_xyz_relay_create_conf,
    ngx_xyz_relay_init_conf,
    ngx_xyz_relay_init_process,
    ngx_xyz_relay_exit_process
};


static void
ngx_xyz_relay_create_conf(ngx_xyz_main_conf_t *xmcf)
{
    xmcf->sqs.timeout = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.lease = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.sweep = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.sweep_max = NGX_CONF_UNSET_MSEC;
}


static char *
ngx_xyz_relay_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_conf_init_msec_value(xmcf->sqs.timeout, 5000);
    ngx_conf_init_msec_value(xmcf->outbox.lease, 30000);
    ngx_conf_init_msec_value(xmcf->outbox.sweep, 1000);
    ngx_conf_init_msec_value(xmcf->outbox.sweep_max, 60000);

    if (xmcf->sqs.region.len == 0) {
        ngx_str_set(&xmcf->sqs.region, "us-east-1");
    }

    if (xmcf->sqs.queue[NGX_XYZ_QUEUE_EMAIL].url.len == 0
        && xmcf->sqs.queue[NGX_XYZ_QUEUE_CRM].url.len == 0)
    {
        return NGX_CONF_OK;
    }

    if (xmcf->sqs.queue[NGX_XYZ_QUEUE_EMAIL].url.len == 0
        || xmcf->sqs.queue[NGX_XYZ_QUEUE_CRM].url.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "give both \"xyz_sqs_queue email URL\" and "
                           "\"xyz_sqs_queue crm URL\"");
        return NGX_CONF_ERROR;
    }

    if (xmcf->pg.dsn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_sqs_queue\" needs \"xyz_pg_dsn\": "
                           "the outbox is in PostgreSQL");
        return NGX_CONF_ERROR;
    }

    /* NUL-terminated: signed and handed to libcurl */
    xmcf->sqs.region.data = (u_char *) ngx_xyz_pstrdup0(cf->pool,
                                                       &xmcf->sqs.region);
    if (xmcf->sqs.region.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_xyz_sqs_conf_endpoint(cf, &xmcf->sqs) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    xmcf->relay = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_xyz_relay_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    if (!xmcf->relay) {
        return NGX_OK;
    }

    if (ngx_xyz_curl_init(cycle, 64) != NGX_OK
        || ngx_xyz_aws_init_process(cycle, &xmcf->sqs.region) != NGX_OK
        || ngx_xyz_outbox_init_process(cycle, xmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_xyz_relay_exit_process(void)
{
    /* the relay first (it holds queries and transfers), then curl, whose
     * cleanup closes its sockets */

    ngx_xyz_outbox_exit_process();
    ngx_xyz_curl_cleanup();
    ngx_xyz_aws_exit_process();
}
