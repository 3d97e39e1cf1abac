
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The module definition: the directive table, and the walk over the
 * features (ngx_xyz_features[]) that create, check and start each one's
 * nested configuration.  The parsers are in ngx_xyz_directive.c.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_mime.h"
#include "ngx_xyz_crm_json.h"


static void *ngx_xyz_create_main_conf(ngx_conf_t *cf);
static char *ngx_xyz_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_xyz_needs_init(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
static void *ngx_xyz_create_loc_conf(ngx_conf_t *cf);
static char *ngx_xyz_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void ngx_xyz_dispatch_create_conf(ngx_xyz_main_conf_t *xmcf);
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

    /* core: the PostgreSQL pool, password hashing, replies, metrics */

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

    { ngx_string("xyz_retry_pace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_xyz_retry_pace,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_argon2id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_xyz_argon2id,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_body_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_xyz_loc_conf_t, body_max_size),
      NULL },

    { ngx_string("xyz_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_metrics_location },

    { ngx_string("xyz_ready"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_ready_location },

    /* registration */

    { ngx_string("xyz_register"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_register_location },

    { ngx_string("xyz_password_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_password_length,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("xyz_password_blocklist"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, reg.blocklist_file),
      NULL },

    { ngx_string("xyz_confirm_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, confirm_ttl),
      NULL },

    { ngx_string("xyz_register_pages"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_xyz_register_pages,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* relay: the outbox to SQS */

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

    /* dispatcher: SQS to mail and the CRM */

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
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
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

    /* accounts: login, sessions, confirmation, reset */

    { ngx_string("xyz_login"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_login_location },

    { ngx_string("xyz_logout"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_logout_location },

    { ngx_string("xyz_me"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_me_location },

    { ngx_string("xyz_confirm"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_confirm_location },

    { ngx_string("xyz_resend"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_resend_location },

    { ngx_string("xyz_reset_request"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_reset_request_location },

    { ngx_string("xyz_reset"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_reset_location },

    { ngx_string("xyz_admin_users"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_xyz_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_xyz_admin_users_location },

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
      offsetof(ngx_xyz_main_conf_t, acct.session_ttl),
      NULL },

    { ngx_string("xyz_session_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.session_zone_size),
      NULL },

    { ngx_string("xyz_session_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.session_poll),
      NULL },

    { ngx_string("xyz_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.cookie_secure),
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
      offsetof(ngx_xyz_main_conf_t, acct.mail_cooldown),
      NULL },

    { ngx_string("xyz_mail_request_floor"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.mail_floor),
      NULL },

    { ngx_string("xyz_mail_requests_per_hour"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.mail_per_hour),
      NULL },

    { ngx_string("xyz_confirm_page"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.confirm_page),
      NULL },

    { ngx_string("xyz_confirm_landing"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_xyz_main_conf_t, acct.confirm_landing),
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


/*
 * The dispatcher's part; its configuration is checked and prepared by
 * ngx_xyz_dispatch_init_conf() (ngx_xyz_dispatch.c) and its senders.
 */

static ngx_xyz_feature_t  ngx_xyz_dispatch_feature = {
    ngx_xyz_dispatch_create_conf,
    ngx_xyz_dispatch_init_conf,
    ngx_xyz_dispatch_init_process,
    ngx_xyz_dispatch_exit_process
};


/*
 * In the order of NGX_XYZ_CORE ... NGX_XYZ_ACCOUNTS: the core first, as
 * every other feature uses its pool; registration's token lifetimes
 * before the dispatcher, which writes them into the mails; the accounts
 * after the dispatcher, whose xyz_public_url gives the site's origin.
 */

static ngx_xyz_feature_t  *ngx_xyz_features[] = {
    &ngx_xyz_core_feature,
    &ngx_xyz_register_feature,
    &ngx_xyz_relay_feature,
    &ngx_xyz_dispatch_feature,
    &ngx_xyz_feedback_feature,
    &ngx_xyz_account_feature
};

#define ngx_xyz_nfeatures                                                     \
    (sizeof(ngx_xyz_features) / sizeof(ngx_xyz_features[0]))


static void *
ngx_xyz_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t            i;
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_main_conf_t));
    if (xmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     xmcf->pg.dsn = { 0, NULL };
     *     xmcf->hash.pool = NULL;
     *     xmcf->needs = 0;
     *     xmcf->pg_users = 0;
     *     xmcf->pg_pool = NULL;
     */

    for (i = 0; i < ngx_xyz_nfeatures; i++) {
        if (ngx_xyz_features[i]->create_conf) {
            ngx_xyz_features[i]->create_conf(xmcf);
        }
    }

    return xmcf;
}


static char *
ngx_xyz_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_uint_t  i;

    for (i = 0; i < ngx_xyz_nfeatures; i++) {
        if (ngx_xyz_features[i]->init_conf
            && ngx_xyz_features[i]->init_conf(cf, xmcf) != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return ngx_xyz_needs_init(cf, xmcf);
}


/* what the content handlers of this configuration need, once for all */

static char *
ngx_xyz_needs_init(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_str_t  name;

    if ((xmcf->needs & NGX_XYZ_NEEDS_PG) && xmcf->pg.dsn.len == 0) {

        if (xmcf->pg_users & (1 << NGX_XYZ_ACCOUNTS)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the account locations need \"xyz_pg_dsn\"");
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_register\" needs \"xyz_pg_dsn\" in the "
                           "http block");
        return NGX_CONF_ERROR;
    }

    if ((xmcf->needs & NGX_XYZ_NEEDS_KEYS)
        && (xmcf->acct.jwt_keys == NULL || xmcf->acct.jwt_keys->nelts == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_login\" and \"xyz_me\" need at least one "
                           "\"xyz_jwt_key KID FILE\" to sign sessions");
        return NGX_CONF_ERROR;
    }

    if ((xmcf->needs & NGX_XYZ_NEEDS_HASH) && xmcf->hash.pool == NULL) {
        ngx_str_set(&name, "default");

        xmcf->hash.pool = ngx_thread_pool_add(cf, &name);
        if (xmcf->hash.pool == NULL) {
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


/* the dispatcher's settings, before its directives are read */

static void
ngx_xyz_dispatch_create_conf(ngx_xyz_main_conf_t *xmcf)
{
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
    xmcf->dispatch.crm_margin = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.crm_timeout = NGX_CONF_UNSET_MSEC;
    xmcf->dispatch.breaker_failures = NGX_CONF_UNSET_UINT;
    xmcf->dispatch.breaker_open = NGX_CONF_UNSET_MSEC;
}


static ngx_int_t
ngx_xyz_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_xyz_main_conf_t  *xmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    xmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_xyz_module);

    /* every feature's work is in PostgreSQL: without it, none starts */

    if (xmcf == NULL || xmcf->pg.dsn.len == 0) {
        return NGX_OK;
    }

    for (i = 0; i < ngx_xyz_nfeatures; i++) {
        if (ngx_xyz_features[i]->init_process
            && ngx_xyz_features[i]->init_process(cycle, xmcf) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_xyz_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    /* the last started ends first: the accounts' poll, the consumers and
     * the relay (they hold queries and transfers), then curl, whose
     * cleanup closes its sockets, and the database connections last */

    for (i = ngx_xyz_nfeatures; i-- > 0; /* void */) {
        if (ngx_xyz_features[i]->exit_process) {
            ngx_xyz_features[i]->exit_process();
        }
    }
}
