
/*
 * Copyright (C) the XYZ sign-up authors
 */


#ifndef _NGX_XYZ_MODULE_H_INCLUDED_
#define _NGX_XYZ_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_pg.h"
#include "ngx_xyz_curl.h"
#include "ngx_xyz_sqs.h"
#include "ngx_xyz_aws_creds.h"
#include "ngx_xyz_metrics.h"
#include "ngx_xyz_register_input.h"
#include "ngx_xyz_sender.h"
#include "ngx_xyz_jwt.h"
#include "ngx_xyz_password.h"


typedef struct {
    ngx_msec_t               lease;
    ngx_msec_t               sweep;
    ngx_msec_t               sweep_max;
} ngx_xyz_outbox_conf_t;


/* core: password hashing on the thread pool */
typedef struct {
    ngx_thread_pool_t       *pool;
    ngx_str_t                pool_name;
    ngx_uint_t               queue_length;       /* xyz_hash_queue */
    ngx_msec_t               queue_wait;
    ngx_uint_t               tasks;
    ngx_uint_t               argon2_m;           /* KiB */
    ngx_uint_t               argon2_t;
} ngx_xyz_hash_conf_t;


/* registration, and the password rules a reset follows too */
typedef struct {
    ngx_uint_t               password_min;       /* code points */
    ngx_uint_t               password_max;
    ngx_str_t                page;               /* xyz_register_pages */
    ngx_str_t                done_page;
    ngx_str_t                blocklist_file;
    ngx_xyz_blocklist_t     *blocklist;
} ngx_xyz_register_conf_t;


/* accounts: login, sessions, confirmation and reset */
typedef struct {
    ngx_array_t             *jwt_keys;           /* ngx_xyz_jwt_key_t */
    time_t                   session_ttl;
    size_t                   session_zone_size;
    ngx_msec_t               session_poll;
    ngx_shm_zone_t          *session_zone;       /* ended sessions */
    ngx_flag_t               cookie_secure;
    char                    *dummy_hash;
    time_t                   mail_cooldown;
    ngx_uint_t               mail_per_hour;
    ngx_msec_t               mail_floor;
    ngx_str_t                confirm_page;
    ngx_str_t                confirm_landing;
} ngx_xyz_account_conf_t;


/*
 * What the locations of a configuration need, set by their directives
 * (ngx_xyz_location_t) and checked once all the http block is read.
 */
#define NGX_XYZ_NEEDS_PG         0x01            /* queries PostgreSQL */
#define NGX_XYZ_NEEDS_HASH       0x02            /* the hash thread pool */
#define NGX_XYZ_NEEDS_KEYS       0x04            /* signs sessions */


/* the features, in the order their configuration is initialised */
#define NGX_XYZ_CORE             0               /* pool, hashing, replies,
                                                    metrics */
#define NGX_XYZ_REGISTRATION     1
#define NGX_XYZ_RELAY            2               /* outbox to SQS */
#define NGX_XYZ_DISPATCHER       3
#define NGX_XYZ_FEEDBACK         4
#define NGX_XYZ_ACCOUNTS         5


typedef struct {
    /* core */
    ngx_xyz_pg_conf_t        pg;
    ngx_xyz_hash_conf_t      hash;
    ngx_msec_t               retry_pace;         /* 0: off */
    ngx_str_t                origin;             /* of xyz_public_url */

    ngx_xyz_register_conf_t  reg;
    ngx_xyz_account_conf_t   acct;

    /* tokens made by registration and accounts, their lifetimes written
     * into the mails by the dispatcher */
    time_t                   confirm_ttl;
    time_t                   reset_ttl;

    /* relay */
    ngx_xyz_sqs_conf_t       sqs;
    ngx_xyz_outbox_conf_t    outbox;
    ngx_flag_t               relay;              /* queues configured */

    /* dispatcher */
    ngx_xyz_dispatch_conf_t  dispatch;
    ngx_str_t                crm_secret_file;
    ngx_str_t                crm_body_file;
    ngx_str_t                feedback_queue;     /* SES bounces and
                                                    complaints */

    ngx_uint_t               needs;              /* NGX_XYZ_NEEDS_... */
    ngx_uint_t               pg_users;           /* 1 << NGX_XYZ_...: whose
                                                    locations query it */

    /* per worker, made in init_process */
    ngx_xyz_pg_pool_t       *pg_pool;
} ngx_xyz_main_conf_t;


/*
 * A feature's part of the module's life: the module's create_main_conf,
 * init_main_conf, init_process and exit_process call these in the order
 * of ngx_xyz_features[] (exit_process in the reverse order).  Any of them
 * may be NULL.
 */
typedef struct {
    void                   (*create_conf)(ngx_xyz_main_conf_t *xmcf);
    char                  *(*init_conf)(ngx_conf_t *cf,
                                        ngx_xyz_main_conf_t *xmcf);
    ngx_int_t              (*init_process)(ngx_cycle_t *cycle,
                                           ngx_xyz_main_conf_t *xmcf);
    void                   (*exit_process)(void);
} ngx_xyz_feature_t;


/*
 * A location directive's content handler and what it needs: carried in
 * the directive's post field, so that one setter, ngx_xyz_location(),
 * serves them all.
 */
typedef struct {
    ngx_http_handler_pt      handler;
    ngx_uint_t               feature;            /* NGX_XYZ_... */
    ngx_uint_t               needs;              /* NGX_XYZ_NEEDS_... */
} ngx_xyz_location_t;


typedef struct {
    size_t                   body_max_size;
    ngx_flag_t               auth;
    ngx_str_t                auth_role;
} ngx_xyz_loc_conf_t;


/*
 * A password to hash, or to check against a stored hash, on the thread
 * pool; lives as long as the request.  A check that succeeds against a
 * hash made with other parameters also makes the new hash.
 */
typedef struct {
    const char              *password;
    size_t                   password_len;
    unsigned long long       opslimit;
    size_t                   memlimit;
    const char              *stored;             /* NULL: hash */
    char                     hash[128];          /* crypto_pwhash_STRBYTES */
    int                      rc;                 /* 0 on success / match */
    unsigned                 mapped:4;           /* Argon2id memory: */
    unsigned                 reused:4;           /* of the arena's */
    unsigned                 rehashed:1;
    unsigned                 busy:1;             /* its wait ran out */
} ngx_xyz_hash_job_t;


/* what the request context holds for each part of the module */
typedef struct {
    void                    *data;               /* the content handler's */
    void                    *claims;             /* xyz_auth's */
    unsigned                 ended:1;            /* a valid token, but
                                                    its session ended */
} ngx_xyz_req_ctx_t;


typedef ngx_int_t (*ngx_xyz_api_pt)(ngx_http_request_t *r, yajl_val body);

/* answers a refusal: ngx_xyz_reply_error() or a location's own */
typedef ngx_int_t (*ngx_xyz_api_reject_pt)(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *field,
    const char *message);

/* what a POST location accepts beyond a small JSON body from this site */
typedef struct {
    const char                       *use;      /* the 405's words */
    ngx_xyz_api_reject_pt             reject;   /* answers 405, 413, 415 */
    ngx_http_client_body_handler_pt   read;     /* takes the raw body */
    unsigned                          form:1;   /* a form from this site */
    unsigned                          no_body:1; /* any type, not read */
} ngx_xyz_api_opts_t;


/* ngx_xyz_module.c */

u_char *ngx_xyz_pstrdup0(ngx_pool_t *pool, ngx_str_t *s);
char *ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t trim);

/* ngx_xyz_file.c */

ngx_int_t ngx_xyz_file_read(u_char *name, ngx_pool_t *pool, size_t max,
    ngx_uint_t trim, ngx_str_t *out);
char *ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t trim);

/* ngx_xyz_directive.c */

char *ngx_xyz_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_pg_dsn(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_pg_backoff(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_hash_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_xyz_argon2id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_password_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_xyz_sqs_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_outbox_sweep(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_dispatch_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_xyz_smtp_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_crm_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_crm_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_crm_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_register_pages(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the features, in their own files */

extern ngx_xyz_feature_t  ngx_xyz_core_feature;
extern ngx_xyz_feature_t  ngx_xyz_register_feature;
extern ngx_xyz_feature_t  ngx_xyz_relay_feature;
extern ngx_xyz_feature_t  ngx_xyz_feedback_feature;
extern ngx_xyz_feature_t  ngx_xyz_account_feature;

/* the location directives' content handlers, next to them */

extern ngx_xyz_location_t  ngx_xyz_register_location;    /* register.c */
extern ngx_xyz_location_t  ngx_xyz_login_location;       /* login.c */
extern ngx_xyz_location_t  ngx_xyz_logout_location;
extern ngx_xyz_location_t  ngx_xyz_me_location;
extern ngx_xyz_location_t  ngx_xyz_confirm_location;     /* account.c */
extern ngx_xyz_location_t  ngx_xyz_resend_location;
extern ngx_xyz_location_t  ngx_xyz_reset_request_location;
extern ngx_xyz_location_t  ngx_xyz_reset_location;
extern ngx_xyz_location_t  ngx_xyz_admin_users_location;
extern ngx_xyz_location_t  ngx_xyz_metrics_location;     /* metrics.c */
extern ngx_xyz_location_t  ngx_xyz_ready_location;       /* ready.c */

/* ngx_xyz_reply.c */

/* the words of a 503 for an outage or a failure of the moment */
/* a 503 sent sooner than this after the request came was refused at once
 * (not after a wait): its connection is paced (ngx_xyz_pace.c) */
#define NGX_XYZ_PACE_AT_ONCE  1000

#define NGX_XYZ_TRY_AGAIN                                                    \
    "the service is temporarily unavailable; try again shortly"

ngx_int_t ngx_xyz_add_header(ngx_http_request_t *r, const char *key,
    const char *value);
ngx_int_t ngx_xyz_reply_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_xyz_reply_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *message);
ngx_int_t ngx_xyz_reply_unavailable(ngx_http_request_t *r,
    const char *message);
ngx_int_t ngx_xyz_reply_try_again(ngx_http_request_t *r);
ngx_int_t ngx_xyz_reply_result(ngx_http_request_t *r, PGresult *res);
ngx_int_t ngx_xyz_reply_see_other(ngx_http_request_t *r, u_char *location,
    size_t len);
ngx_int_t ngx_xyz_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);

/* ngx_xyz_api.c */

ngx_int_t ngx_xyz_api_post(ngx_http_request_t *r, ngx_xyz_api_pt handler,
    const ngx_xyz_api_opts_t *opts);
ngx_int_t ngx_xyz_api_check(ngx_http_request_t *r,
    const ngx_xyz_api_opts_t *opts, ngx_int_t *rc);
ngx_int_t ngx_xyz_api_get(ngx_http_request_t *r);
ngx_int_t ngx_xyz_api_query(ngx_http_request_t *r, ngx_xyz_pg_pool_t *pool,
    const char *sql, ngx_xyz_pg_handler_pt handler);
ngx_int_t ngx_xyz_api_read(ngx_http_request_t *r,
    ngx_xyz_api_reject_pt reject, ngx_str_t *body);
ngx_int_t ngx_xyz_json_type(ngx_http_request_t *r);
ngx_int_t ngx_xyz_form_type(ngx_http_request_t *r);
ngx_int_t ngx_xyz_same_origin(ngx_http_request_t *r, ngx_uint_t allow_absent);
ngx_str_t *ngx_xyz_client_key(ngx_http_request_t *r);
void ngx_xyz_token_new(char *token, char *hash);
void ngx_xyz_token_hash(const char *token, size_t len, char *hash);
void *ngx_xyz_ctx_data(ngx_http_request_t *r);
ngx_int_t ngx_xyz_ctx_set_data(ngx_http_request_t *r, void *data);
ngx_xyz_req_ctx_t *ngx_xyz_ctx(ngx_http_request_t *r);

/* ngx_xyz_hash.c */

void ngx_xyz_pace(ngx_http_request_t *r, time_t retry_after);
char *ngx_xyz_retry_pace(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_hash_queue_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_xyz_hash_post(ngx_http_request_t *r, ngx_thread_pool_t *tp,
    ngx_xyz_hash_job_t *job, ngx_http_event_handler_pt done);
time_t ngx_xyz_hash_retry_after(void);

/* ngx_xyz_outbox.c */

ngx_int_t ngx_xyz_outbox_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
void ngx_xyz_outbox_exit_process(void);
void ngx_xyz_outbox_publish_result(PGresult *res, int col, ngx_log_t *log);

/* ngx_xyz_dispatch.c */

char *ngx_xyz_dispatch_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
ngx_int_t ngx_xyz_dispatch_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
void ngx_xyz_dispatch_exit_process(void);

/* ngx_xyz_feedback.c */

char *ngx_xyz_feedback_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_feedback_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
ngx_int_t ngx_xyz_feedback_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
void ngx_xyz_feedback_exit_process(void);

/* ngx_xyz_aws.c */

ngx_int_t ngx_xyz_aws_init_process(ngx_cycle_t *cycle, ngx_str_t *region);
void ngx_xyz_aws_exit_process(void);
const ngx_xyz_aws_creds_t *ngx_xyz_aws_credentials(void);

/* ngx_xyz_login.c, ngx_xyz_account.c, ngx_xyz_auth.c */

ngx_int_t ngx_xyz_auth_preconfiguration(ngx_conf_t *cf);
ngx_int_t ngx_xyz_auth_postconfiguration(ngx_conf_t *cf);
ngx_xyz_jwt_claims_t *ngx_xyz_auth_claims(ngx_http_request_t *r);

/* ngx_xyz_session.c */

char *ngx_xyz_session_zone(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
ngx_int_t ngx_xyz_session_check(ngx_xyz_main_conf_t *xmcf,
    ngx_xyz_jwt_claims_t *c, ngx_log_t *log);
void ngx_xyz_session_ended(ngx_xyz_main_conf_t *xmcf, int64_t user,
    ngx_int_t version, const char *role, ngx_log_t *log);
ngx_int_t ngx_xyz_session_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
void ngx_xyz_session_exit_process(void);

/* ngx_xyz_register.c */

ngx_uint_t ngx_xyz_register_password_common(ngx_xyz_main_conf_t *xmcf,
    const char *password, size_t len);


extern ngx_module_t  ngx_xyz_module;


#endif /* _NGX_XYZ_MODULE_H_INCLUDED_ */
