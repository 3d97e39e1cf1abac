
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The directives that take more than nginx's own slots do: their parsers,
 * and the one setter of every location's content handler.  The directive
 * table is in ngx_xyz_module.c; what a directive sets is in the nested
 * configuration of its feature (ngx_xyz_module.h).
 */


#include "ngx_xyz_module.h"


/*
 * xyz_register, xyz_login, xyz_confirm, xyz_metrics, ...: the directive's
 * post field holds the handler and what it needs (ngx_xyz_location_t).
 */

char *
ngx_xyz_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_location_t        *loc = cmd->post;

    ngx_xyz_main_conf_t       *xmcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = loc->handler;

    xmcf = ngx_http_conf_get_module_main_conf(cf, ngx_xyz_module);
    xmcf->needs |= loc->needs;

    if (loc->needs & NGX_XYZ_NEEDS_PG) {
        xmcf->pg_users |= 1 << loc->feature;
    }

    return NGX_CONF_OK;
}


char *
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


char *
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


char *
ngx_xyz_hash_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    if (xmcf->hash.pool) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* an undefined pool fails later with "unknown thread pool" */
    xmcf->hash.pool = ngx_thread_pool_add(cf, &value[1]);
    if (xmcf->hash.pool == NULL) {
        return NGX_CONF_ERROR;
    }

    xmcf->hash.pool_name = value[1];

    return NGX_CONF_OK;
}


char *
ngx_xyz_argon2id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_uint_t   i;

    if (xmcf->hash.argon2_m != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    xmcf->hash.argon2_m = 19456;
    xmcf->hash.argon2_t = 2;

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

            xmcf->hash.argon2_m = n;
            break;

        case 't':
            if (n < 1 || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"xyz_argon2id\": t is the number of "
                                   "passes, from 1 to 100");
                return NGX_CONF_ERROR;
            }

            xmcf->hash.argon2_t = n;
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

    if (xmcf->hash.argon2_m * xmcf->hash.argon2_t < 19456 * 2
        && !(xmcf->hash.argon2_m >= 47104)
        && !(xmcf->hash.argon2_m >= 12288 && xmcf->hash.argon2_t >= 3)
        && !(xmcf->hash.argon2_m >= 9216 && xmcf->hash.argon2_t >= 4)
        && !(xmcf->hash.argon2_m >= 7168 && xmcf->hash.argon2_t >= 5))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"xyz_argon2id\" m=%ui t=%ui is below the OWASP "
                           "minimum (m=19456 t=2); use it for tests only",
                           xmcf->hash.argon2_m, xmcf->hash.argon2_t);
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"xyz_argon2id\"; "
                       "expected m=KiB t=passes p=1, e.g. "
                       "\"xyz_argon2id m=19456 t=2 p=1;\"", &value[i]);

    return NGX_CONF_ERROR;
}


char *
ngx_xyz_password_length(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t   min, max;
    ngx_str_t  *value;

    if (xmcf->reg.password_min != NGX_CONF_UNSET_UINT) {
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

    xmcf->reg.password_min = min;
    xmcf->reg.password_max = max;

    return NGX_CONF_OK;
}


char *
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


char *
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


char *
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


char *
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


char *
ngx_xyz_smtp_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    xmcf->dispatch.smtp_user = value[1];

    /* the password stays out of the configuration file */
    return ngx_xyz_read_file(cf, &value[2], &xmcf->dispatch.smtp_password, 1);
}


char *
ngx_xyz_crm_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i, force;
    ngx_msec_t   margin;

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_crm_rate %V\"; give the requests "
                           "per second all dispatchers together may make",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    force = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "force") == 0) {
            force = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "margin=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            margin = ngx_parse_time(&s, 0);

            if (margin == (ngx_msec_t) NGX_ERROR || margin > 500) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"xyz_crm_rate\"; give "
                                   "how late a call may reach the CRM, "
                                   "e.g. \"margin=50ms\", at most 500ms",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            xmcf->dispatch.crm_margin = margin;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"xyz_crm_rate\"; the options "
                           "are \"force\" and \"margin=\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (n >= 100 && !force) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_crm_rate %i\" is at or above the CRM's "
                           "limit of fewer than 100 requests per second; "
                           "add \"force\" if the CRM takes more", n);
        return NGX_CONF_ERROR;
    }

    xmcf->dispatch.crm_rate = n;

    return NGX_CONF_OK;
}


char *
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


char *
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


char *
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

    if (xmcf->acct.jwt_keys == NULL) {
        xmcf->acct.jwt_keys = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_xyz_jwt_key_t));
        if (xmcf->acct.jwt_keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* the first key signs; every key verifies, for rotation */

    k = ngx_array_push(xmcf->acct.jwt_keys);
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    k->kid = (char *) ngx_xyz_pstrdup0(cf->pool, &value[1]);
    k->key = key.data;
    k->key_len = key.len;

    return k->kid ? NGX_CONF_OK : NGX_CONF_ERROR;
}


char *
ngx_xyz_register_pages(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].data[0] != '/' || value[2].data[0] != '/') {
        return "takes two paths on this site: the sign-up page and the "
               "page that follows a registration";
    }

    xmcf->reg.page = value[1];
    xmcf->reg.done_page = value[2];

    return NGX_CONF_OK;
}
