
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


typedef struct {
    ngx_xyz_pg_conf_t        pg;

    ngx_thread_pool_t       *hash_pool;
    ngx_str_t                hash_pool_name;
    ngx_uint_t               hash_queue_length;  /* xyz_hash_queue */
    ngx_msec_t               hash_queue_wait;
    ngx_uint_t               hash_tasks;
    ngx_uint_t               argon2_m;           /* KiB */
    ngx_uint_t               argon2_t;
    ngx_uint_t               password_min;       /* code points */
    ngx_uint_t               password_max;
    time_t                   confirm_ttl;

    ngx_uint_t               registers;          /* xyz_register locations */

    ngx_xyz_sqs_conf_t       sqs;
    ngx_xyz_outbox_conf_t    outbox;
    ngx_flag_t               relay;              /* queues configured */

    ngx_xyz_dispatch_conf_t  dispatch;
    ngx_str_t                crm_secret_file;
    ngx_str_t                crm_body_file;
    ngx_str_t                feedback_queue;     /* SES bounces and
                                                    complaints */

    /* accounts */
    ngx_uint_t               logins;             /* xyz_login, xyz_me */
    ngx_uint_t               accounts;           /* the other locations */
    ngx_array_t             *jwt_keys;           /* ngx_xyz_jwt_key_t */
    time_t                   session_ttl;
    size_t                   session_zone_size;
    ngx_msec_t               session_poll;
    ngx_shm_zone_t          *session_zone;       /* ended sessions */
    ngx_flag_t               cookie_secure;
    ngx_str_t                origin;             /* of xyz_public_url */
    char                    *dummy_hash;
    time_t                   reset_ttl;
    time_t                   mail_cooldown;
    ngx_uint_t               mail_per_hour;
    ngx_msec_t               mail_floor;
    ngx_str_t                confirm_page;
    ngx_str_t                confirm_landing;
    ngx_str_t                register_page;
    ngx_str_t                register_done_page;
    ngx_str_t                blocklist_file;
    ngx_xyz_blocklist_t     *blocklist;

    /* per worker, made in init_process */
    ngx_xyz_pg_pool_t       *pg_pool;
} ngx_xyz_main_conf_t;


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


/* ngx_xyz_module.c */

u_char *ngx_xyz_pstrdup0(ngx_pool_t *pool, ngx_str_t *s);
char *ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t trim);

/* ngx_xyz_reply.c */

ngx_int_t ngx_xyz_add_header(ngx_http_request_t *r, const char *key,
    const char *value);
ngx_int_t ngx_xyz_reply_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_xyz_reply_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *message);
ngx_int_t ngx_xyz_reply_unavailable(ngx_http_request_t *r,
    const char *message);
ngx_int_t ngx_xyz_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);

/* ngx_xyz_api.c */

ngx_int_t ngx_xyz_api_post(ngx_http_request_t *r, ngx_xyz_api_pt handler);
ngx_int_t ngx_xyz_json_type(ngx_http_request_t *r);
ngx_int_t ngx_xyz_same_origin(ngx_http_request_t *r, ngx_uint_t allow_absent);
ngx_str_t *ngx_xyz_client_key(ngx_http_request_t *r);
void ngx_xyz_token_new(char *token, char *hash);
void ngx_xyz_token_hash(const char *token, size_t len, char *hash);
void *ngx_xyz_ctx_data(ngx_http_request_t *r);
ngx_int_t ngx_xyz_ctx_set_data(ngx_http_request_t *r, void *data);
ngx_xyz_req_ctx_t *ngx_xyz_ctx(ngx_http_request_t *r);

/* ngx_xyz_hash.c */

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

char *ngx_xyz_login(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_xyz_account(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_xyz_auth_preconfiguration(ngx_conf_t *cf);
ngx_int_t ngx_xyz_auth_postconfiguration(ngx_conf_t *cf);
ngx_xyz_jwt_claims_t *ngx_xyz_auth_claims(ngx_http_request_t *r);
ngx_uint_t ngx_xyz_password_common(ngx_xyz_main_conf_t *xmcf,
    const char *password, size_t len);

/* ngx_xyz_session.c */

char *ngx_xyz_session_zone(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
ngx_int_t ngx_xyz_session_check(ngx_xyz_main_conf_t *xmcf,
    ngx_xyz_jwt_claims_t *c, ngx_log_t *log);
void ngx_xyz_session_ended(ngx_xyz_main_conf_t *xmcf, int64_t user,
    ngx_int_t version, const char *role, ngx_log_t *log);
ngx_int_t ngx_xyz_session_init_process(ngx_cycle_t *cycle,
    ngx_xyz_main_conf_t *xmcf);
void ngx_xyz_session_exit_process(void);

/* ngx_xyz_ready.c */

char *ngx_xyz_ready(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_xyz_register.c */

char *ngx_xyz_register(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


extern ngx_module_t  ngx_xyz_module;


#endif /* _NGX_XYZ_MODULE_H_INCLUDED_ */
