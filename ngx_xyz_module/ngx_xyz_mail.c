
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The confirmation email (and the "already registered" notice): the
 * operator's templates in the user's language, a multipart text + HTML
 * message with headers that user input cannot break, a Message-ID made of
 * the outbox id (the same on every attempt), sent over SMTP by libcurl on
 * nginx's event loop (STARTTLS or implicit TLS, AUTH when configured).
 *
 * An SMTP 5xx is permanent (the dead-letter queue); anything else that
 * fails (no connection, 4xx such as SES's "454 Throttling", a timeout) is
 * tried again later.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_sender.h"
#include "ngx_xyz_template.h"
#include "ngx_xyz_mime.h"
#include "ngx_xyz_json.h"


#define NGX_XYZ_MAIL_CONFIRM   0
#define NGX_XYZ_MAIL_ALREADY   1
#define NGX_XYZ_MAIL_RESET     2
#define NGX_XYZ_MAIL_TYPES     3


/* a message in the making */
typedef struct {
    ngx_xyz_job_t           *job;
    yajl_val                 root;               /* the queue message */
    ngx_uint_t               type;
    ngx_uint_t               loc;
    const char              *email;
    const char              *name;
    const char              *token;
    ngx_xyz_curl_t          *h;
    char                    *subject;
    char                    *text;
    char                    *html;
} ngx_xyz_mail_t;


static char *ngx_xyz_mail_init_conf(ngx_conf_t *cf, void *conf,
    ngx_xyz_channel_t *ch, ngx_uint_t dispatched);
static char *ngx_xyz_mail_from(ngx_conf_t *cf, ngx_xyz_dispatch_conf_t *dc);
static char *ngx_xyz_mail_templates(ngx_conf_t *cf,
    ngx_xyz_dispatch_conf_t *dc);
static void ngx_xyz_mail_send(ngx_xyz_job_t **jobs, ngx_uint_t n);
static void ngx_xyz_mail_send_one(ngx_xyz_job_t *job);
static ngx_int_t ngx_xyz_mail_read(ngx_xyz_mail_t *m);
static ngx_int_t ngx_xyz_mail_render(ngx_xyz_mail_t *m,
    ngx_xyz_dispatch_conf_t *dc);
static ngx_int_t ngx_xyz_mail_build(ngx_xyz_mail_t *m,
    ngx_xyz_dispatch_conf_t *dc);
static ngx_int_t ngx_xyz_mail_envelope(ngx_xyz_mail_t *m,
    ngx_xyz_dispatch_conf_t *dc);
static void ngx_xyz_mail_done(ngx_xyz_curl_t *h);


ngx_xyz_sender_t  ngx_xyz_mail_sender = {
    "email",
    "the SMTP server",
    NGX_XYZ_QUEUE_EMAIL,
    NULL,
    ngx_xyz_mail_init_conf,
    ngx_xyz_mail_send,
    { NGX_XYZ_M_SENT_EMAIL, NGX_XYZ_M_RETRIED_EMAIL, NGX_XYZ_M_FAILED_EMAIL,
      NGX_XYZ_M_DUPLICATE_EMAIL, NGX_XYZ_M_DEAD_LETTERED_EMAIL }
};


static const char  *ngx_xyz_mail_types[] = { "confirm",
                                             "already_registered",
                                             "reset" };
static const char  *ngx_xyz_mail_locales[] = { "es", "en" };

static const char  *ngx_xyz_mail_vars[] = {
    "name", "email", "link", "login_link", "reset_link", "site", "hours"
};


static char *
ngx_xyz_mail_init_conf(ngx_conf_t *cf, void *conf, ngx_xyz_channel_t *ch,
    ngx_uint_t dispatched)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    char                     *rv;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (!dispatched) {
        ngx_conf_init_value(dc->smtp_starttls, 0);
        ngx_conf_init_msec_value(dc->smtp_timeout, 30000);
        ngx_conf_init_uint_value(dc->mail_rate, 0);

        dc->confirm_ttl = xmcf->confirm_ttl;
        dc->reset_ttl = xmcf->reset_ttl == NGX_CONF_UNSET ? 3600
                                                          : xmcf->reset_ttl;

        /* one email a send; no breaker: an SMTP failure is the message's */
        ch->rate = dc->mail_rate;
        ch->margin = 50;                    /* as the CRM's default */
        ch->probe = dc->smtp_timeout;

        return NGX_CONF_OK;
    }

    if (dc->smtp_url.len == 0 || dc->mail_from.len == 0
        || dc->public_url.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch email\" needs "
                           "\"xyz_smtp_url\", \"xyz_mail_from\" and "
                           "\"xyz_public_url\"");
        return NGX_CONF_ERROR;
    }

    rv = ngx_xyz_mail_from(cf, dc);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

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

    return ngx_xyz_mail_templates(cf, dc);
}


/* the envelope sender and the Message-ID are made from xyz_mail_from */

static char *
ngx_xyz_mail_from(ngx_conf_t *cf, ngx_xyz_dispatch_conf_t *dc)
{
    char    addr[NGX_XYZ_MIME_ADDR_MAX + 1];
    size_t  n;

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
    dc->mail_domain.len = dc->mail_from_addr.data + dc->mail_from_addr.len
                          - dc->mail_domain.data;

    return NGX_CONF_OK;
}


/* reads and checks every template at configuration time */

static char *
ngx_xyz_mail_templates(ngx_conf_t *cf, ngx_xyz_dispatch_conf_t *dc)
{
    int           n;
    char          err[128];
    u_char       *p;
    size_t        size;
    ngx_int_t     rc;
    ngx_str_t     name, file, *t;
    ngx_uint_t    type, loc, part;
    const char   *subject, *body;
    size_t        body_len;

    static const char  *ext[] = { "txt", "html" };

    for (type = 0; type < NGX_XYZ_MAIL_TYPES; type++) {
        for (loc = 0; loc < 2; loc++) {
            for (part = 0; part < 2; part++) {

                name.len = dc->templates.len + 64;
                name.data = ngx_pnalloc(cf->pool, name.len);
                if (name.data == NULL) {
                    return NGX_CONF_ERROR;
                }

                name.len = ngx_sprintf(name.data, "%V/%s.%s.%s%Z",
                                       &dc->templates,
                                       ngx_xyz_mail_types[type],
                                       ngx_xyz_mail_locales[loc], ext[part])
                           - name.data - 1;

                rc = ngx_xyz_file_read(name.data, cf->pool,
                                       (size_t) NGX_MAX_OFF_T_VALUE, 0, &file);

                if (rc == NGX_ERROR) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                       "cannot open the email template "
                                       "\"%V\" (\"xyz_mail_templates\")",
                                       &name);
                    return NGX_CONF_ERROR;
                }

                if (rc != NGX_OK) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "cannot read \"%V\"", &name);
                    return NGX_CONF_ERROR;
                }

                p = file.data;
                size = file.len;

                if (ngx_xyz_template_check((char *) p, size,
                                           ngx_xyz_mail_vars, 7, err,
                                           sizeof(err))
                    < 0)
                {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "email template \"%V\": %s; known "
                                       "placeholders: {{name}} {{email}} "
                                       "{{link}} {{login_link}} "
                                       "{{reset_link}} {{site}} {{hours}}",
                                       &name, err);
                    return NGX_CONF_ERROR;
                }

                t = dc->tpl[type][loc];

                if (part == 1) {
                    t[2].data = p;
                    t[2].len = size;
                    continue;
                }

                n = ngx_xyz_template_subject((char *) p, size, &subject,
                                             &body, &body_len);
                if (n < 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "email template \"%V\" must start "
                                       "with a \"Subject: ...\" line", &name);
                    return NGX_CONF_ERROR;
                }

                t[0].data = (u_char *) subject;
                t[0].len = n;
                t[1].data = (u_char *) body;
                t[1].len = body_len;
            }
        }
    }

    return NGX_CONF_OK;
}


/* the dispatcher's call, one job at a time: each email is a transfer */

static void
ngx_xyz_mail_send(ngx_xyz_job_t **jobs, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_xyz_mail_send_one(jobs[i]);
    }
}


static void
ngx_xyz_mail_send_one(ngx_xyz_job_t *job)
{
    ngx_int_t                 rc;
    ngx_xyz_mail_t            m;
    ngx_xyz_dispatch_conf_t  *dc;

    ngx_memzero(&m, sizeof(ngx_xyz_mail_t));

    m.job = job;
    dc = ngx_xyz_job_conf(m.job);

    if (ngx_xyz_mail_read(&m) != NGX_OK) {
        return;
    }

    m.h = ngx_xyz_curl_create(ngx_xyz_job_log(m.job));
    if (m.h == NULL) {
        yajl_tree_free(m.root);
        ngx_xyz_job_done(m.job, NGX_XYZ_RETRY, 0, "out of memory");
        return;
    }

    rc = ngx_xyz_mail_render(&m, dc);

    if (rc == NGX_OK) {
        rc = ngx_xyz_mail_build(&m, dc);
    }

    if (rc == NGX_OK) {
        rc = ngx_xyz_mail_envelope(&m, dc);
    }

    yajl_tree_free(m.root);

    if (rc == NGX_DECLINED) {
        /* the address or name would break the headers: never retried */
        ngx_xyz_curl_destroy(m.h);
        ngx_xyz_job_done(m.job, NGX_XYZ_DEAD, 0,
                         "the message cannot be built safely from its "
                         "fields");
        return;
    }

    if (rc != NGX_OK) {
        ngx_xyz_curl_destroy(m.h);
        ngx_xyz_job_done(m.job, NGX_XYZ_RETRY, 0, "out of memory");
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, m.h->log, 0,
                   "xyz mail: message built, %uz bytes, transfer %p",
                   m.h->body.len, m.h);

    m.h->upload = 1;
    m.h->timeout = dc->smtp_timeout;
    m.h->handler = ngx_xyz_mail_done;
    m.h->data = m.job;

    if (ngx_xyz_curl_start(m.h, (char *) dc->smtp_url.data) != NGX_OK) {
        ngx_xyz_curl_destroy(m.h);
        ngx_xyz_job_done(m.job, NGX_XYZ_RETRY, 0,
                         "too many transfers at once");
    }
}


/* the message's fields; a message that cannot be an email fails for good */

static ngx_int_t
ngx_xyz_mail_read(ngx_xyz_mail_t *m)
{
    const char  *s, *locale;

    m->root = yajl_tree_parse(ngx_xyz_job_msg(m->job)->body, NULL, 0);

    if (m->root == NULL) {
        ngx_xyz_job_done(m->job, NGX_XYZ_DEAD, 0,
                         "not an email message this dispatcher knows");
        return NGX_ERROR;
    }

    s = ngx_xyz_json_string(m->root, "type");
    m->email = ngx_xyz_json_string(m->root, "email");
    m->name = ngx_xyz_json_string(m->root, "name");
    m->token = ngx_xyz_json_string(m->root, "token");
    locale = ngx_xyz_json_string(m->root, "locale");

    if (s && ngx_strcmp(s, "confirm") == 0 && m->token) {
        m->type = NGX_XYZ_MAIL_CONFIRM;

    } else if (s && ngx_strcmp(s, "already_registered") == 0) {
        m->type = NGX_XYZ_MAIL_ALREADY;

    } else if (s && ngx_strcmp(s, "reset") == 0 && m->token) {
        m->type = NGX_XYZ_MAIL_RESET;

    } else {
        yajl_tree_free(m->root);
        ngx_xyz_job_done(m->job, NGX_XYZ_DEAD, 0,
                         "not an email message this dispatcher knows");
        return NGX_ERROR;
    }

    if (m->email == NULL) {
        yajl_tree_free(m->root);
        ngx_xyz_job_done(m->job, NGX_XYZ_DEAD, 0,
                         "an email without address");
        return NGX_ERROR;
    }

    m->loc = (locale && ngx_strcmp(locale, "en") == 0) ? 1 : 0;

    return NGX_OK;
}


/* the operator's templates in the user's language, filled in */

static ngx_int_t
ngx_xyz_mail_render(ngx_xyz_mail_t *m, ngx_xyz_dispatch_conf_t *dc)
{
    char               *link, *login, *reset, *site, hours[32];
    size_t              size;
    ngx_str_t          *t;
    ngx_pool_t         *pool;
    ngx_xyz_tpl_var_t   vars[7];

    pool = m->h->pool;
    t = dc->tpl[m->type][m->loc];

    /* links into the site; the token is base64url, safe in a URL */

    site = (char *) dc->public_url.data;
    size = dc->public_url.len + 128 + (m->token ? ngx_strlen(m->token) : 0);

    link = ngx_pnalloc(pool, size);
    login = ngx_pnalloc(pool, size);
    reset = ngx_pnalloc(pool, size);
    if (link == NULL || login == NULL || reset == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) link,
                m->type == NGX_XYZ_MAIL_RESET
                ? "%s/reset-complete.html?token=%s%Z"
                : "%s/confirm?token=%s%Z",
                site, m->token ? m->token : "");
    ngx_sprintf((u_char *) login, "%s/login%Z", site);
    ngx_sprintf((u_char *) reset, "%s/reset%Z", site);
    ngx_sprintf((u_char *) hours, "%T%Z",
                (m->type == NGX_XYZ_MAIL_RESET ? dc->reset_ttl
                                               : dc->confirm_ttl)
                / 3600);

    vars[0].name = "name";
    vars[0].value = m->name ? m->name : "";
    vars[1].name = "email";
    vars[1].value = m->email;
    vars[2].name = "link";
    vars[2].value = link;
    vars[3].name = "login_link";
    vars[3].value = login;
    vars[4].name = "reset_link";
    vars[4].value = reset;
    vars[5].name = "site";
    vars[5].value = site;
    vars[6].name = "hours";
    vars[6].value = hours;

    size = 6 * (t[1].len + t[2].len + 2048);

    m->subject = ngx_pnalloc(pool, t[0].len * 6 + 1024);
    m->text = ngx_pnalloc(pool, size);
    m->html = ngx_pnalloc(pool, size);
    if (m->subject == NULL || m->text == NULL || m->html == NULL) {
        return NGX_ERROR;
    }

    if (ngx_xyz_template_render((char *) t[0].data, t[0].len, vars, 7,
                                NGX_XYZ_TPL_RAW, m->subject,
                                t[0].len * 6 + 1024) < 0
        || ngx_xyz_template_render((char *) t[1].data, t[1].len, vars, 7,
                                   NGX_XYZ_TPL_RAW, m->text, size) < 0
        || ngx_xyz_template_render((char *) t[2].data, t[2].len, vars, 7,
                                   NGX_XYZ_TPL_HTML, m->html, size) < 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The multipart message, the request's body.  NGX_DECLINED: its fields
 * would break the headers.
 */

static ngx_int_t
ngx_xyz_mail_build(ngx_xyz_mail_t *m, ngx_xyz_dispatch_conf_t *dc)
{
    int              len;
    char            *out, date[64], boundary[64];
    char             msgid[sizeof("xyz-@") + NGX_INT64_LEN
                           + NGX_XYZ_MIME_ADDR_MAX];
    size_t           size;
    int64_t          id;
    ngx_xyz_mime_t   mime;

    id = ngx_xyz_job_msg(m->job)->outbox_id;

    /*
     * Stable across attempts, so that a resent copy can be recognised.
     * The sender's address, and so its domain, is at most
     * NGX_XYZ_MIME_ADDR_MAX long ("nginx -t" checks it): msgid and from
     * hold them, and the bounds hold anyway.
     */

    *ngx_snprintf((u_char *) msgid, sizeof(msgid) - 1, "xyz-%L@%V",
                  id, &dc->mail_domain) = '\0';
    ngx_sprintf((u_char *) boundary, "=_xyz_%L%Z", id);

    if (ngx_xyz_mime_date(ngx_time(), date, sizeof(date)) < 0) {
        return NGX_ERROR;
    }

    ngx_memzero(&mime, sizeof(ngx_xyz_mime_t));

    mime.from = (char *) dc->mail_from.data;
    mime.to_addr = m->email;

    /* the notice goes to the account holder: the name in this attempt is
     * whatever a stranger typed, so it names no one */
    mime.to_name = (m->type == NGX_XYZ_MAIL_ALREADY) ? NULL : m->name;
    mime.subject = m->subject;
    mime.message_id = msgid;
    mime.date = date;
    mime.boundary = boundary;
    mime.text = m->text;
    mime.text_len = ngx_strlen(m->text);
    mime.html = m->html;
    mime.html_len = ngx_strlen(m->html);
    mime.language = ngx_xyz_mail_locales[m->loc];

    size = ngx_xyz_mime_len(&mime);

    out = ngx_pnalloc(m->h->pool, size);
    if (out == NULL) {
        return NGX_ERROR;
    }

    len = ngx_xyz_mime_build(&mime, out, size);

    if (len < 0) {
        return NGX_DECLINED;
    }

    m->h->body.data = (u_char *) out;
    m->h->body.len = len;

    return NGX_OK;
}


/* MAIL FROM, RCPT TO, TLS and AUTH */

static ngx_int_t
ngx_xyz_mail_envelope(ngx_xyz_mail_t *m, ngx_xyz_dispatch_conf_t *dc)
{
    char               *line;
    char                from[NGX_XYZ_MIME_ADDR_MAX + 3];
    CURL               *easy;
    struct curl_slist  *rcpt;

    line = ngx_pnalloc(m->h->pool, ngx_strlen(m->email) + 8);
    if (line == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) line, "<%s>%Z", m->email);

    rcpt = curl_slist_append(NULL, line);
    if (rcpt == NULL) {
        return NGX_ERROR;
    }

    m->h->rcpt = rcpt;
    easy = m->h->easy;

    *ngx_snprintf((u_char *) from, sizeof(from) - 1, "<%V>",
                  &dc->mail_from_addr) = '\0';

    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpt);

    if (dc->smtp_starttls) {
        curl_easy_setopt(easy, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    }

    if (dc->smtp_user.len) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, (char *) dc->smtp_user.data);
        curl_easy_setopt(easy, CURLOPT_PASSWORD,
                         (char *) dc->smtp_password.data);
    }

    return NGX_OK;
}


static void
ngx_xyz_mail_done(ngx_xyz_curl_t *h)
{
    ngx_xyz_job_t *job = h->data;

    u_char  detail[256];

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, h->log, 0,
                   "xyz mail: transfer %p done, SMTP %l, curl code %d",
                   h, h->status, (int) h->code);

    if (h->code == CURLE_OK) {
        ngx_xyz_job_done(job, NGX_XYZ_SENT, 0, "");
        return;
    }

    /* curl's message may fill its 256 bytes: cut it, but end it */
    *ngx_snprintf(detail, sizeof(detail) - 1, "SMTP %l: %s", h->status,
                  h->error) = '\0';

    if (h->status >= 500 && h->status < 600) {
        ngx_xyz_job_done(job, NGX_XYZ_DEAD, 0, (char *) detail);
        return;
    }

    ngx_xyz_job_done(job, NGX_XYZ_RETRY, 0, (char *) detail);
}
