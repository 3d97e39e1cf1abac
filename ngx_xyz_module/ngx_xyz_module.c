
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The module definition: directives, configuration and the per-worker
 * start and end of the PostgreSQL pool.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_mime.h"
#include "ngx_xyz_crm_json.h"
#include "ngx_xyz_origin.h"

#include <sodium.h>


static void *ngx_xyz_create_main_conf(ngx_conf_t *cf);
static char *ngx_xyz_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_xyz_create_loc_conf(ngx_conf_t *cf);
static char *ngx_xyz_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_xyz_pg_dsn(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_xyz_pg_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_hash_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_argon2id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_password_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_sqs_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_outbox_sweep(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_dispatch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_dispatch_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_smtp_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_crm_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_crm_batch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_crm_breaker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out, ngx_uint_t trim);
static char *ngx_xyz_dispatch_init(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_register_pages(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_xyz_accounts_init(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static ngx_int_t ngx_xyz_init_process(ngx_cycle_t *cycle);
static void ngx_xyz_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_xyz_pool_size_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_xyz_queue_size_bounds = {
    ngx_conf_check_num_bounds, 1, 1048576
};

static ngx_conf_enum_t  ngx_xyz_crm_modes[] = {
    { ngx_string("single"), NGX_XYZ_CRM_SINGLE },
    { ngx_string("hubspot_batch"), NGX_XYZ_CRM_HUBSPOT },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_xyz_commands[] = {

    { ngx_string("xyz_pg_dsn"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_xyz_pg_dsn,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_pg_pool_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, pg.size),
      &ngx_xyz_pool_size_bounds },

    { ngx_string("xyz_pg_queue_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, pg.queue_size),
      &ngx_xyz_queue_size_bounds },

    { ngx_string("xyz_pg_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, pg.connect_timeout),
      NULL },

    { ngx_string("xyz_pg_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, pg.query_timeout),
      NULL },

    { ngx_string("xyz_pg_queue_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, pg.queue_timeout),
      NULL },

    { ngx_string("xyz_pg_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_xyz_pg_backoff,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_hash_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_xyz_hash_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_hash_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_xyz_hash_queue_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_argon2id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_xyz_argon2id,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_password_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_password_length,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_confirm_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, confirm_ttl),
      NULL },

    { ngx_string("xyz_sqs_region"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, sqs.region),
      NULL },

    { ngx_string("xyz_sqs_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, sqs.endpoint),
      NULL },

    { ngx_string("xyz_sqs_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_xyz_sqs_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_sqs_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, sqs.timeout),
      NULL },

    { ngx_string("xyz_outbox_lease"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, outbox.lease),
      NULL },

    { ngx_string("xyz_outbox_sweep"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_xyz_outbox_sweep,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_dispatch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_xyz_dispatch,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_dispatch_lease"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.lease),
      NULL },

    { ngx_string("xyz_dispatch_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.poll),
      NULL },

    { ngx_string("xyz_dispatch_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_dispatch_backoff,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_ses_feedback_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_xyz_feedback_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_public_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.public_url),
      NULL },

    { ngx_string("xyz_smtp_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.smtp_url),
      NULL },

    { ngx_string("xyz_smtp_starttls"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.smtp_starttls),
      NULL },

    { ngx_string("xyz_smtp_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_smtp_auth,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_smtp_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.smtp_timeout),
      NULL },

    { ngx_string("xyz_mail_from"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.mail_from),
      NULL },

    { ngx_string("xyz_mail_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.mail_rate),
      NULL },

    { ngx_string("xyz_mail_templates"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.templates),
      NULL },

    { ngx_string("xyz_crm_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.crm_url),
      NULL },

    { ngx_string("xyz_crm_method"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.crm_method),
      NULL },

    { ngx_string("xyz_crm_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, crm_secret_file),
      NULL },

    { ngx_string("xyz_crm_body"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, crm_body_file),
      NULL },

    { ngx_string("xyz_crm_mode"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.crm_mode),
      &ngx_xyz_crm_modes },

    { ngx_string("xyz_crm_batch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_crm_batch,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_crm_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_xyz_crm_rate,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_crm_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, dispatch.crm_timeout),
      NULL },

    { ngx_string("xyz_crm_breaker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_crm_breaker,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_login"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_logout"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_me"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_confirm"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_account,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_resend"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_account,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_reset_request"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_account,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_reset"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_account,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_admin_users"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_account,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_xyz_loc_conf_t, auth),
      NULL },

    { ngx_string("xyz_auth_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_xyz_loc_conf_t, auth_role),
      NULL },

    { ngx_string("xyz_jwt_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_jwt_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_session_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, session_ttl),
      NULL },

    { ngx_string("xyz_session_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, session_zone_size),
      NULL },

    { ngx_string("xyz_session_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, session_poll),
      NULL },

    { ngx_string("xyz_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, cookie_secure),
      NULL },

    { ngx_string("xyz_reset_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, reset_ttl),
      NULL },

    { ngx_string("xyz_mail_cooldown"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, mail_cooldown),
      NULL },

    { ngx_string("xyz_mail_request_floor"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, mail_floor),
      NULL },

    { ngx_string("xyz_mail_requests_per_hour"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, mail_per_hour),
      NULL },

    { ngx_string("xyz_confirm_page"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, confirm_page),
      NULL },

    { ngx_string("xyz_confirm_landing"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, confirm_landing),
      NULL },

    { ngx_string("xyz_register_pages"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_register_pages,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_password_blocklist"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, blocklist_file),
      NULL },

    { ngx_string("xyz_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_ready"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_ready,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_register"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_register,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_body_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_xyz_loc_conf_t, body_max_size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_xyz_module_ctx = {
    ngx_xyz_auth_preconfiguration,         /* preconfiguration */
    ngx_xyz_auth_postconfiguration,        /* postconfiguration */

    ngx_xyz_create_main_conf,              /* create main configuration */
    ngx_xyz_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_xyz_create_loc_conf,               /* create location configuration */
    ngx_xyz_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_xyz_module = {
    NGX_MODULE_V1,
    &ngx_xyz_module_ctx,                   /* module context */
    ngx_xyz_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_xyz_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_xyz_exit_process,                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_xyz_create_main_conf(ngx_conf_t *cf)
{
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_main_conf_t));
    if (xmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     xmcf->pg.dsn = { 0, NULL };
     *     xmcf->hash_pool = NULL;
     *     xmcf->pg_pool = NULL;
     */

    xmcf->pg.size = NGX_CONF_UNSET_UINT;
    xmcf->pg.queue_size = NGX_CONF_UNSET_UINT;
    xmcf->pg.connect_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.query_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.queue_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->pg.backoff_min = NGX_CONF_UNSET_MSEC;
    xmcf->pg.backoff_max = NGX_CONF_UNSET_MSEC;

    xmcf->hash_queue_length = NGX_CONF_UNSET_UINT;
    xmcf->hash_queue_wait = NGX_CONF_UNSET_MSEC;
    xmcf->hash_tasks = NGX_CONF_UNSET_UINT;

    xmcf->argon2_m = NGX_CONF_UNSET_UINT;
    xmcf->argon2_t = NGX_CONF_UNSET_UINT;
    xmcf->password_min = NGX_CONF_UNSET_UINT;
    xmcf->password_max = NGX_CONF_UNSET_UINT;
    xmcf->confirm_ttl = NGX_CONF_UNSET;

    xmcf->sqs.timeout = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.lease = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.sweep = NGX_CONF_UNSET_MSEC;
    xmcf->outbox.sweep_max = NGX_CONF_UNSET_MSEC;

    xmcf->session_ttl = NGX_CONF_UNSET;
    xmcf->session_zone_size = NGX_CONF_UNSET_SIZE;
    xmcf->session_poll = NGX_CONF_UNSET_MSEC;
    xmcf->cookie_secure = NGX_CONF_UNSET;
    xmcf->reset_ttl = NGX_CONF_UNSET;
    xmcf->mail_cooldown = NGX_CONF_UNSET;
    xmcf->mail_per_hour = NGX_CONF_UNSET_UINT;
    xmcf->mail_floor = NGX_CONF_UNSET_MSEC;

    xmcf->dispatch.lease = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.poll = NGX_CONF_UNSET;
    xmcf->dispatch.backoff_base = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.backoff_max = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.smtp_starttls = NGX_CONF_UNSET;
    xmcf->dispatch.smtp_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.mail_rate = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.crm_mode = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.crm_batch = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.crm_linger = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.crm_rate = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.crm_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.breaker_failures = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.breaker_open = NGX_CONF_UNSET_MSEC;

    return xmcf;
}


static char *
ngx_xyz_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  name;

    ngx_conf_init_uint_value(xmcf->pg.size, 16);
    ngx_conf_init_uint_value(xmcf->pg.queue_size, 256);
    ngx_conf_init_msec_value(xmcf->pg.connect_timeout, 5000);
    ngx_conf_init_msec_value(xmcf->pg.query_timeout, 10000);
    ngx_conf_init_msec_value(xmcf->pg.queue_timeout, 5000);
    ngx_conf_init_msec_value(xmcf->pg.backoff_min, 200);
    ngx_conf_init_msec_value(xmcf->pg.backoff_max, 10000);

    ngx_conf_init_uint_value(xmcf->hash_queue_length, 1024);
    ngx_conf_init_msec_value(xmcf->hash_queue_wait, 5000);

    /* enough to keep a pool of as many threads as CPUs busy: more threads
     * than CPUs do not hash faster */
    ngx_conf_init_uint_value(xmcf->hash_tasks,
                             (ngx_uint_t) (2 * ngx_max(ngx_ncpu, 1)));

    if (ngx_xyz_pg_conf_timeout(cf, &xmcf->pg) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* OWASP: Argon2id, 19 MiB, two passes, one lane */
    ngx_conf_init_uint_value(xmcf->argon2_m, 19456);
    ngx_conf_init_uint_value(xmcf->argon2_t, 2);

    /* NIST SP 800-63B asks for at least 15 without a second factor; 12
     * is the project's default, raise it with xyz_password_length */
    ngx_conf_init_uint_value(xmcf->password_min, 12);
    ngx_conf_init_uint_value(xmcf->password_max, 256);

    ngx_conf_init_value(xmcf->confirm_ttl, 86400);

    ngx_conf_init_msec_value(xmcf->sqs.timeout, 5000);
    ngx_conf_init_msec_value(xmcf->outbox.lease, 30000);
    ngx_conf_init_msec_value(xmcf->outbox.sweep, 1000);
    ngx_conf_init_msec_value(xmcf->outbox.sweep_max, 60000);

    if (xmcf->sqs.region.len == 0) {
        ngx_str_set(&xmcf->sqs.region, "us-east-1");
    }

    if (ngx_xyz_metrics_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (xmcf->sqs.queue[NGX_XYZ_QUEUE_EMAIL].url.len
        || xmcf->sqs.queue[NGX_XYZ_QUEUE_CRM].url.len)
    {
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
    }

    if (ngx_xyz_dispatch_init(cf, xmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_xyz_feedback_init_conf(cf, xmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_xyz_accounts_init(cf, xmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (xmcf->registers == 0 && xmcf->logins == 0) {
        return NGX_CONF_OK;
    }

    if (xmcf->pg.dsn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"xyz_pg_dsn\" in the http block",
                           xmcf->registers ? "xyz_register" : "xyz_login");
        return NGX_CONF_ERROR;
    }

    if (xmcf->hash_pool == NULL) {
        ngx_str_set(&name, "default");

        xmcf->hash_pool = ngx_thread_pool_add(cf, &name);
        if (xmcf->hash_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_xyz_create_loc_conf(ngx_conf_t *cf)
{
    ngx_xyz_loc_conf_t  *xlcf;

    xlcf = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_loc_conf_t));
    if (xlcf == NULL) {
        return NULL;
    }

    xlcf->body_max_size = NGX_CONF_UNSET_SIZE;
    xlcf->auth = NGX_CONF_UNSET;

    return xlcf;
}


static char *
ngx_xyz_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_xyz_loc_conf_t *prev = parent;
    ngx_xyz_loc_conf_t *conf = child;

    ngx_conf_merge_size_value(conf->body_max_size, prev->body_max_size,
                              16384);
    ngx_conf_merge_value(conf->auth, prev->auth, 0);
    ngx_conf_merge_str_value(conf->auth_role, prev->auth_role, "");

    return NGX_CONF_OK;
}


static char *
ngx_xyz_pg_dsn(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    if (xmcf->pg.dsn.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "must not be empty";
    }

    /* ngx_conf_file strings are NUL-terminated, as libpq needs */
    xmcf->pg.dsn = value[1];

    return ngx_xyz_pg_conf_dsn(cf, &xmcf->pg);
}


static char *
ngx_xyz_pg_backoff(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   min, max;

    if (xmcf->pg.backoff_min != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_parse_time(&value[1], 0);
    if (min == (ngx_msec_t) NGX_ERROR || min == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid first delay \"%V\" in \"xyz_pg_backoff\"; "
                           "give a time such as 200ms", &value[1]);
        return NGX_CONF_ERROR;
    }

    max = min * 50;

    if (cf->args->nelts == 3) {
        max = ngx_parse_time(&value[2], 0);
        if (max == (ngx_msec_t) NGX_ERROR || max < min) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid longest delay \"%V\" in "
                               "\"xyz_pg_backoff\"; give a time no shorter "
                               "than the first delay", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    xmcf->pg.backoff_min = min;
    xmcf->pg.backoff_max = max;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_hash_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    if (xmcf->hash_pool) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* an undefined pool fails later with "unknown thread pool" */
    xmcf->hash_pool = ngx_thread_pool_add(cf, &value[1]);
    if (xmcf->hash_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    xmcf->hash_pool_name = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_xyz_argon2id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_uint_t   i;

    if (xmcf->argon2_m != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    xmcf->argon2_m = 19456;
    xmcf->argon2_t = 2;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len < 3 || value[i].data[1] != '=') {
            goto invalid;
        }

        v.data = value[i].data + 2;
        v.len = value[i].len - 2;

        n = ngx_atoi(v.data, v.len);
        if (n == NGX_ERROR) {
            goto invalid;
        }

        switch (value[i].data[0]) {

        case 'm':
            /* libsodium's floor is 8 KiB; its ceiling far above any use */
            if (n < 8 || n > 4194304) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"xyz_argon2id\": m is the memory in "
                                   "KiB, from 8 to 4194304");
                return NGX_CONF_ERROR;
            }

            xmcf->argon2_m = n;
            break;

        case 't':
            if (n < 1 || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"xyz_argon2id\": t is the number of "
                                   "passes, from 1 to 100");
                return NGX_CONF_ERROR;
            }

            xmcf->argon2_t = n;
            break;

        case 'p':
            if (n != 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"xyz_argon2id\": only p=1 is "
                                   "supported (libsodium hashes with one "
                                   "lane); spend more memory or passes "
                                   "instead");
                return NGX_CONF_ERROR;
            }

            break;

        default:
            goto invalid;
        }
    }

    if (xmcf->argon2_m * xmcf->argon2_t < 19456 * 2
        && !(xmcf->argon2_m >= 47104)
        && !(xmcf->argon2_m >= 12288 && xmcf->argon2_t >= 3)
        && !(xmcf->argon2_m >= 9216 && xmcf->argon2_t >= 4)
        && !(xmcf->argon2_m >= 7168 && xmcf->argon2_t >= 5))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"xyz_argon2id\" m=%ui t=%ui is below the OWASP "
                           "minimum (m=19456 t=2); use it for tests only",
                           xmcf->argon2_m, xmcf->argon2_t);
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"xyz_argon2id\"; "
                       "expected m=KiB t=passes p=1, e.g. "
                       "\"xyz_argon2id m=19456 t=2 p=1;\"", &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_xyz_password_length(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t   min, max;
    ngx_str_t  *value;

    if (xmcf->password_min != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_atoi(value[1].data, value[1].len);
    max = ngx_atoi(value[2].data, value[2].len);

    if (min == NGX_ERROR || max == NGX_ERROR || min < 1 || max < min
        || max > NGX_XYZ_PASSWORD_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_password_length %V %V\"; give the "
                           "shortest and the longest length in characters, "
                           "1 <= shortest <= longest <= %d",
                           &value[1], &value[2], NGX_XYZ_PASSWORD_MAX);
        return NGX_CONF_ERROR;
    }

    xmcf->password_min = min;
    xmcf->password_max = max;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_sqs_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t            *value;
    ngx_uint_t            q;
    ngx_xyz_sqs_queue_t  *queue;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "email") == 0) {
        q = NGX_XYZ_QUEUE_EMAIL;

    } else if (ngx_strcmp(value[1].data, "crm") == 0) {
        q = NGX_XYZ_QUEUE_CRM;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown queue \"%V\" in \"xyz_sqs_queue\"; "
                           "use \"email\" or \"crm\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    queue = &xmcf->sqs.queue[q];

    if (queue->url.len) {
        return "is duplicate";
    }

    if (ngx_strncmp(value[2].data, "http://", 7) != 0
        && ngx_strncmp(value[2].data, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_sqs_queue %V\" needs the queue URL, "
                           "e.g. https://sqs.eu-west-1.amazonaws.com/"
                           "123456789012/xyz-%V", &value[1], &value[1]);
        return NGX_CONF_ERROR;
    }

    /* ngx_conf_file strings are NUL-terminated */
    queue->url = value[2];
    queue->fifo = value[2].len > 5
                  && ngx_strncmp(value[2].data + value[2].len - 5, ".fifo", 5)
                     == 0;

    if (cf->args->nelts == 4) {
        if (value[3].len < 5 + 8 || ngx_strncmp(value[3].data, "dlq=", 4) != 0
            || (ngx_strncmp(value[3].data + 4, "http://", 7) != 0
                && ngx_strncmp(value[3].data + 4, "https://", 8) != 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"xyz_sqs_queue\"; give "
                               "the dead-letter queue as dlq=URL", &value[3]);
            return NGX_CONF_ERROR;
        }

        xmcf->dispatch.dlq[q].data = value[3].data + 4;
        xmcf->dispatch.dlq[q].len = value[3].len - 4;
    }

    return NGX_CONF_OK;
}


static char *
ngx_xyz_outbox_sweep(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   every, longest;

    if (xmcf->outbox.sweep != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    every = ngx_parse_time(&value[1], 0);
    if (every == (ngx_msec_t) NGX_ERROR || every == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid interval \"%V\" in \"xyz_outbox_sweep\"; "
                           "give a time such as 1s", &value[1]);
        return NGX_CONF_ERROR;
    }

    longest = ngx_max(every, 60000);

    if (cf->args->nelts == 3) {
        longest = ngx_parse_time(&value[2], 0);
        if (longest == (ngx_msec_t) NGX_ERROR || longest < every) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid longest delay \"%V\" in "
                               "\"xyz_outbox_sweep\"; give a time no shorter "
                               "than the interval", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    xmcf->outbox.sweep = every;
    xmcf->outbox.sweep_max = longest;

    return NGX_CONF_OK;
}


u_char *
ngx_xyz_pstrdup0(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


static char *
ngx_xyz_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (xmcf->dispatch.queues) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strcmp(value[i].data, "email") == 0) {
            xmcf->dispatch.queues |= 1 << NGX_XYZ_QUEUE_EMAIL;

        } else if (ngx_strcmp(value[i].data, "crm") == 0) {
            xmcf->dispatch.queues |= 1 << NGX_XYZ_QUEUE_CRM;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown queue \"%V\" in \"xyz_dispatch\"; "
                               "use \"email\", \"crm\" or both", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_xyz_dispatch_backoff(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    time_t      first, longest;
    ngx_str_t  *value;

    value = cf->args->elts;

    first = ngx_parse_time(&value[1], 1);
    longest = ngx_parse_time(&value[2], 1);

    if (first == (time_t) NGX_ERROR || first < 1
        || longest == (time_t) NGX_ERROR || longest < first
        || longest > 43200)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_dispatch_backoff %V %V\"; give "
                           "the first and the longest delay, at least 1s "
                           "and at most 12h", &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    xmcf->dispatch.backoff_base = first;
    xmcf->dispatch.backoff_max = longest;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_smtp_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    xmcf->dispatch.smtp_user = value[1];

    /* the password stays out of the configuration file */
    return ngx_xyz_read_file(cf, &value[2], &xmcf->dispatch.smtp_password, 1);
}


static char *
ngx_xyz_crm_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_crm_rate %V\"; give the requests "
                           "per second all dispatchers together may make",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3 && ngx_strcmp(value[2].data, "force") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"xyz_crm_rate\"; the only "
                           "option is \"force\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (n >= 100 && cf->args->nelts == 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_crm_rate %i\" is at or above the CRM's "
                           "limit of fewer than 100 requests per second; "
                           "add \"force\" if the CRM takes more", n);
        return NGX_CONF_ERROR;
    }

    xmcf->dispatch.crm_rate = n;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_crm_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_msec_t   linger;

    if (xmcf->dispatch.crm_batch != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 6 || ngx_strncmp(value[1].data, "size=", 5) != 0
        || (n = ngx_atoi(value[1].data + 5, value[1].len - 5)) == NGX_ERROR
        || n < 1 || n > 100)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"xyz_crm_batch\"; give the "
                           "contacts in one request, from 1 to 100 "
                           "(HubSpot's limit), e.g. \"size=100\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    /*
     * The linger is far under the shortest lease (10s), and a batch held
     * longer than half its lease renews it all the same.
     */

    linger = (ngx_msec_t) NGX_ERROR;

    if (value[2].len > 7 && ngx_strncmp(value[2].data, "linger=", 7) == 0) {
        s.data = value[2].data + 7;
        s.len = value[2].len - 7;
        linger = ngx_parse_time(&s, 0);
    }

    if (linger == (ngx_msec_t) NGX_ERROR || linger > 5000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"xyz_crm_batch\"; give how "
                           "long a batch waits for more records, e.g. "
                           "\"linger=200ms\", at most 5s", &value[2]);
        return NGX_CONF_ERROR;
    }

    xmcf->dispatch.crm_batch = n;
    xmcf->dispatch.crm_linger = linger;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_crm_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_msec_t   open;

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    open = ngx_parse_time(&value[2], 0);

    if (n == NGX_ERROR || n < 1 || open == (ngx_msec_t) NGX_ERROR
        || open == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_crm_breaker %V %V\"; give the "
                           "failures in a row that open it and how long it "
                           "stays open, e.g. \"xyz_crm_breaker 5 30s\"",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    xmcf->dispatch.breaker_failures = n;
    xmcf->dispatch.breaker_open = open;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t trim)
{
    u_char           *p;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         full;
    ngx_file_info_t   fi;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(full.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open \"%V\"", &full);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 1024 * 1024)
    {
        ngx_close_file(fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot be read or is over 1M", &full);
        return NGX_CONF_ERROR;
    }

    size = (size_t) ngx_file_size(&fi);

    p = ngx_pnalloc(cf->pool, size + 1);
    if (p == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, p, size);
    ngx_close_file(fd);

    if (n != (ssize_t) size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cannot read \"%V\"", &full);
        return NGX_CONF_ERROR;
    }

    /* a secret file's trailing newline is not part of the secret */

    while (trim && size && (p[size - 1] == '\n' || p[size - 1] == '\r'
                            || p[size - 1] == ' '))
    {
        size--;
    }

    p[size] = '\0';

    out->data = p;
    out->len = size;

    return NGX_CONF_OK;
}


static char *
ngx_xyz_dispatch_init(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    char                     *rv, err[128], addr[NGX_XYZ_MIME_ADDR_MAX + 1];
    size_t                    n;
    ngx_uint_t                k;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    ngx_conf_init_msec_value(dc->lease, 60000);
    ngx_conf_init_value(dc->poll, 20);
    ngx_conf_init_uint_value(dc->backoff_base, 10);
    ngx_conf_init_uint_value(dc->backoff_max, 900);
    ngx_conf_init_value(dc->smtp_starttls, 0);
    ngx_conf_init_msec_value(dc->smtp_timeout, 30000);
    ngx_conf_init_uint_value(dc->mail_rate, 0);
    ngx_conf_init_uint_value(dc->crm_mode, NGX_XYZ_CRM_SINGLE);
    ngx_conf_init_uint_value(dc->crm_rate, 90);

    if (dc->crm_batch != NGX_CONF_UNSET_UINT
        && dc->crm_mode != NGX_XYZ_CRM_HUBSPOT)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_crm_batch\" needs \"xyz_crm_mode "
                           "hubspot_batch\": the single mode sends one "
                           "record a request");
        return NGX_CONF_ERROR;
    }

    /* HubSpot's batch upsert takes 100 inputs: a backlog goes 100 a call */
    ngx_conf_init_uint_value(dc->crm_batch, 100);
    ngx_conf_init_msec_value(dc->crm_linger, 200);

    /* a batch's claims begin as its messages arrive, all in the queue */

    if ((dc->queues & (1 << NGX_XYZ_QUEUE_CRM))
        && dc->crm_mode == NGX_XYZ_CRM_HUBSPOT
        && dc->crm_batch > xmcf->pg.queue_size)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"xyz_crm_batch size=%ui\" is above "
                           "\"xyz_pg_queue_size %ui\": the claims the "
                           "queue refuses come back after their lease",
                           dc->crm_batch, xmcf->pg.queue_size);
    }
    ngx_conf_init_msec_value(dc->crm_timeout, 10000);
    ngx_conf_init_uint_value(dc->breaker_failures, 5);
    ngx_conf_init_msec_value(dc->breaker_open, 30000);

    dc->confirm_ttl = xmcf->confirm_ttl;
    dc->reset_ttl = xmcf->reset_ttl == NGX_CONF_UNSET ? 3600
                                                      : xmcf->reset_ttl;

    if (dc->crm_method.len == 0) {
        ngx_str_set(&dc->crm_method, "POST");
    }

    if (dc->queues == 0) {
        return NGX_CONF_OK;
    }

    if (xmcf->pg.dsn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch\" needs \"xyz_pg_dsn\": delivery "
                           "state and rate limits are in PostgreSQL");
        return NGX_CONF_ERROR;
    }

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {
        if ((dc->queues & (1 << k)) && xmcf->sqs.queue[k].url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_dispatch\" %s needs \"xyz_sqs_queue %s "
                               "URL\"", k ? "crm" : "email",
                               k ? "crm" : "email");
            return NGX_CONF_ERROR;
        }
    }

    if (dc->poll > 20) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch_poll\" is at most 20s, SQS's "
                           "longest poll");
        return NGX_CONF_ERROR;
    }

    if (dc->lease < 10000 || dc->lease > 43200000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch_lease\" must be from 10s to 12h");
        return NGX_CONF_ERROR;
    }

    if (dc->queues & (1 << NGX_XYZ_QUEUE_EMAIL)) {

        if (dc->smtp_url.len == 0 || dc->mail_from.len == 0
            || dc->public_url.len == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_dispatch email\" needs "
                               "\"xyz_smtp_url\", \"xyz_mail_from\" and "
                               "\"xyz_public_url\"");
            return NGX_CONF_ERROR;
        }

        /* the envelope sender and the Message-ID are made from it */

        n = ngx_xyz_mime_address_len((char *) dc->mail_from.data);

        if (n > NGX_XYZ_MIME_ADDR_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_mail_from\": the address is %uz "
                               "characters long; an address has at most %d",
                               n, NGX_XYZ_MIME_ADDR_MAX);
            return NGX_CONF_ERROR;
        }

        if (ngx_xyz_mime_address((char *) dc->mail_from.data, addr,
                                 sizeof(addr)) < 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"xyz_mail_from %V\"; give a mailbox "
                               "such as \"XYZ <no-reply@xyz.example>\"",
                               &dc->mail_from);
            return NGX_CONF_ERROR;
        }

        dc->mail_from_addr.len = ngx_strlen(addr);
        dc->mail_from_addr.data = ngx_pnalloc(cf->pool,
                                              dc->mail_from_addr.len + 1);
        if (dc->mail_from_addr.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(dc->mail_from_addr.data, addr, dc->mail_from_addr.len + 1);

        dc->mail_domain.data = (u_char *) ngx_strchr(dc->mail_from_addr.data,
                                                     '@') + 1;
        dc->mail_domain.len = dc->mail_from_addr.data
                              + dc->mail_from_addr.len - dc->mail_domain.data;

        /* no trailing slash: links are the URL plus "/confirm?..." */
        while (dc->public_url.len
               && dc->public_url.data[dc->public_url.len - 1] == '/')
        {
            dc->public_url.len--;
        }

        dc->public_url.data = ngx_xyz_pstrdup0(cf->pool, &dc->public_url);
        dc->smtp_url.data = ngx_xyz_pstrdup0(cf->pool, &dc->smtp_url);
        if (dc->public_url.data == NULL || dc->smtp_url.data == NULL) {
            return NGX_CONF_ERROR;
        }

        if (dc->templates.len == 0) {
            ngx_str_set(&dc->templates, "templates");
        }

        if (ngx_conf_full_name(cf->cycle, &dc->templates, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        rv = ngx_xyz_mail_templates(cf, dc);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (dc->queues & (1 << NGX_XYZ_QUEUE_CRM)) {

        if (dc->crm_url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_dispatch crm\" needs \"xyz_crm_url\"");
            return NGX_CONF_ERROR;
        }

        dc->crm_url.data = ngx_xyz_pstrdup0(cf->pool, &dc->crm_url);
        dc->crm_method.data = ngx_xyz_pstrdup0(cf->pool, &dc->crm_method);
        if (dc->crm_url.data == NULL || dc->crm_method.data == NULL) {
            return NGX_CONF_ERROR;
        }

        if (xmcf->crm_secret_file.len
            && ngx_xyz_read_file(cf, &xmcf->crm_secret_file, &dc->crm_secret,
                                 1)
               != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (xmcf->crm_body_file.len) {
            if (ngx_xyz_read_file(cf, &xmcf->crm_body_file, &dc->crm_body, 0)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (ngx_xyz_crm_template_check((char *) dc->crm_body.data,
                                           dc->crm_body.len, err,
                                           sizeof(err))
                < 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"xyz_crm_body %V\": %s",
                                   &xmcf->crm_body_file, err);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_xyz_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    char               *rv;
    ngx_str_t          *value, key;
    ngx_xyz_jwt_key_t  *k;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 32) {
        return "needs a key id of 1 to 32 characters";
    }

    rv = ngx_xyz_read_file(cf, &value[2], &key, 1);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (key.len < NGX_XYZ_JWT_KEY_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the key in \"%V\" is shorter than %d bytes; "
                           "make one with \"openssl rand -base64 48 > %V\"",
                           &value[2], NGX_XYZ_JWT_KEY_MIN, &value[2]);
        return NGX_CONF_ERROR;
    }

    if (xmcf->jwt_keys == NULL) {
        xmcf->jwt_keys = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_xyz_jwt_key_t));
        if (xmcf->jwt_keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* the first key signs; every key verifies, for rotation */

    k = ngx_array_push(xmcf->jwt_keys);
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    k->kid = (char *) ngx_xyz_pstrdup0(cf->pool, &value[1]);
    k->key = key.data;
    k->key_len = key.len;

    return k->kid ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static char *
ngx_xyz_register_pages(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].data[0] != '/' || value[2].data[0] != '/') {
        return "takes two paths on this site: the sign-up page and the "
               "page that follows a registration";
    }

    xmcf->register_page = value[1];
    xmcf->register_done_page = value[2];

    return NGX_CONF_OK;
}


static char *
ngx_xyz_accounts_init(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    char                 origin[512];
    ngx_str_t            data;
    ngx_pool_cleanup_t  *cln;

    ngx_conf_init_value(xmcf->session_ttl, 7200);
    ngx_conf_init_value(xmcf->cookie_secure, 1);
    ngx_conf_init_value(xmcf->reset_ttl, 3600);
    ngx_conf_init_value(xmcf->mail_cooldown, 60);
    ngx_conf_init_uint_value(xmcf->mail_per_hour, 20);
    ngx_conf_init_msec_value(xmcf->mail_floor, 50);

    if (xmcf->confirm_page.len == 0) {
        ngx_str_set(&xmcf->confirm_page, "/confirmed.html");
    }

    if (xmcf->confirm_landing.len == 0) {
        ngx_str_set(&xmcf->confirm_landing, "/confirm.html");

    } else if (xmcf->confirm_landing.data[0] != '/'
               || ngx_strlchr(xmcf->confirm_landing.data,
                              xmcf->confirm_landing.data
                              + xmcf->confirm_landing.len, '?'))
    {
        /* an internal redirect: a path on this server, no query string */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_confirm_landing\" \"%V\"; give "
                           "a path on this server without a query string, "
                           "e.g. /confirm.html", &xmcf->confirm_landing);
        return NGX_CONF_ERROR;
    }

    if (xmcf->register_page.len == 0) {
        ngx_str_set(&xmcf->register_page, "/");
    }

    if (xmcf->register_done_page.len == 0) {
        ngx_str_set(&xmcf->register_done_page, "/check-email.html");
    }

    if (xmcf->dispatch.public_url.len) {
        if (ngx_xyz_origin_of((char *) xmcf->dispatch.public_url.data,
                              xmcf->dispatch.public_url.len, origin,
                              sizeof(origin))
            < 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"xyz_public_url\" \"%V\"; give "
                               "the site's address, e.g. "
                               "https://signup.example.com",
                               &xmcf->dispatch.public_url);
            return NGX_CONF_ERROR;
        }

        xmcf->origin.len = ngx_strlen(origin);
        xmcf->origin.data = ngx_pnalloc(cf->pool, xmcf->origin.len + 1);
        if (xmcf->origin.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(xmcf->origin.data, origin, xmcf->origin.len + 1);
    }

    if (xmcf->blocklist_file.len) {
        if (ngx_xyz_read_file(cf, &xmcf->blocklist_file, &data, 0)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        xmcf->blocklist = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_blocklist_t));
        cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (xmcf->blocklist == NULL || cln == NULL
            || ngx_xyz_blocklist_load((char *) data.data, data.len,
                                      xmcf->blocklist) < 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cannot load \"xyz_password_blocklist %V\"",
                               &xmcf->blocklist_file);
            return NGX_CONF_ERROR;
        }

        /* the list is malloc()ed: freed with the cycle, on reload too */
        cln->handler = (ngx_pool_cleanup_pt) ngx_xyz_blocklist_free;
        cln->data = xmcf->blocklist;
    }

    /*
     * Wherever sessions are checked, ended ones must be seen: the zone
     * and its poll of PostgreSQL come with the keys.  Without a database
     * an nginx can check signatures only.
     */

    if (xmcf->jwt_keys && xmcf->jwt_keys->nelts) {
        if (xmcf->pg.dsn.len) {
            if (ngx_xyz_session_zone(cf, xmcf) != NGX_CONF_OK) {
                return NGX_CONF_ERROR;
            }

        } else {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "without \"xyz_pg_dsn\" this nginx cannot "
                               "see sessions ended by a logout, a password "
                               "reset, a role change or a disabled account; "
                               "they pass until they expire");
        }
    }

    if (xmcf->logins == 0 && xmcf->accounts == 0) {
        return NGX_CONF_OK;
    }

    if (xmcf->pg.dsn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the account locations need \"xyz_pg_dsn\"");
        return NGX_CONF_ERROR;
    }

    if (xmcf->logins && (xmcf->jwt_keys == NULL
                         || xmcf->jwt_keys->nelts == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_login\" and \"xyz_me\" need at least one "
                           "\"xyz_jwt_key KID FILE\" to sign sessions");
        return NGX_CONF_ERROR;
    }

    if (xmcf->logins && xmcf->dummy_hash == NULL) {
        /* unknown addresses are checked against this, at the same cost */

        if (sodium_init() < 0) {
            return NGX_CONF_ERROR;
        }

        xmcf->dummy_hash = ngx_pnalloc(cf->pool, crypto_pwhash_STRBYTES);
        if (xmcf->dummy_hash == NULL
            || crypto_pwhash_str(xmcf->dummy_hash, "no such account", 15,
                                 xmcf->argon2_t, xmcf->argon2_m * 1024)
               != 0)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_xyz_password_common(ngx_xyz_main_conf_t *xmcf, const char *password,
    size_t len)
{
    return xmcf->blocklist
           && ngx_xyz_blocklist_contains(xmcf->blocklist, password, len);
}


static ngx_int_t
ngx_xyz_init_process(ngx_cycle_t *cycle)
{
    ngx_xyz_main_conf_t  *xmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    xmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_xyz_module);

    if (xmcf == NULL || xmcf->pg.dsn.len == 0) {
        return NGX_OK;
    }

    if (sodium_init() < 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "xyz: libsodium failed to initialise");
        return NGX_ERROR;
    }

    xmcf->pg_pool = ngx_xyz_pg_pool_create(cycle, &xmcf->pg);
    if (xmcf->pg_pool == NULL) {
        return NGX_ERROR;
    }

    if (ngx_xyz_session_init_process(cycle, xmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!xmcf->relay) {
        return NGX_OK;
    }

    if (ngx_xyz_curl_init(cycle, 64) != NGX_OK
        || ngx_xyz_aws_init_process(cycle, &xmcf->sqs.region) != NGX_OK
        || ngx_xyz_outbox_init_process(cycle, xmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (xmcf->dispatch.queues
        && ngx_xyz_dispatch_init_process(cycle, xmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (xmcf->feedback_queue.len
        && ngx_xyz_feedback_init_process(cycle, xmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_xyz_exit_process(ngx_cycle_t *cycle)
{
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_xyz_module);

    /* the relay first (it holds queries and transfers), then curl, whose
     * cleanup closes its sockets, then the database connections */

    ngx_xyz_session_exit_process();
    ngx_xyz_dispatch_exit_process();
    ngx_xyz_feedback_exit_process();
    ngx_xyz_outbox_exit_process();
    ngx_xyz_curl_cleanup();
    ngx_xyz_aws_exit_process();

    if (xmcf && xmcf->pg_pool) {
        ngx_xyz_pg_pool_destroy(xmcf->pg_pool);
        xmcf->pg_pool = NULL;
    }
}
