
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
#include "ngx_xyz_dispatch.h"
#include "ngx_xyz_template.h"
#include "ngx_xyz_mime.h"
#include "ngx_xyz_json.h"


#define NGX_XYZ_MAIL_CONFIRM   0
#define NGX_XYZ_MAIL_ALREADY   1
#define NGX_XYZ_MAIL_RESET     2
#define NGX_XYZ_MAIL_TYPES     3


static void ngx_xyz_mail_done(ngx_xyz_curl_t *h);


static const char  *ngx_xyz_mail_types[] = { "confirm",
                                             "already_registered",
                                             "reset" };
static const char  *ngx_xyz_mail_locales[] = { "es", "en" };

static const char  *ngx_xyz_mail_vars[] = {
    "name", "email", "link", "login_link", "reset_link", "site", "hours"
};


/* reads and checks every template at configuration time */

char *
ngx_xyz_mail_templates(ngx_conf_t *cf, ngx_xyz_dispatch_conf_t *dc)
{
    int           n;
    char          err[128];
    u_char       *p;
    size_t        size;
    ssize_t       got;
    ngx_fd_t      fd;
    ngx_str_t     name, *t;
    ngx_uint_t    type, loc, part;
    ngx_file_info_t  fi;
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

                fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                                   0);
                if (fd == NGX_INVALID_FILE) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                       "cannot open the email template "
                                       "\"%V\" (\"xyz_mail_templates\")",
                                       &name);
                    return NGX_CONF_ERROR;
                }

                if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
                    ngx_close_file(fd);
                    return NGX_CONF_ERROR;
                }

                size = (size_t) ngx_file_size(&fi);

                p = ngx_pnalloc(cf->pool, size + 1);
                if (p == NULL) {
                    ngx_close_file(fd);
                    return NGX_CONF_ERROR;
                }

                got = ngx_read_fd(fd, p, size);
                ngx_close_file(fd);

                if (got != (ssize_t) size) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "cannot read \"%V\"", &name);
                    return NGX_CONF_ERROR;
                }

                p[size] = '\0';

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


void
ngx_xyz_mail_send(ngx_xyz_job_t *job)
{
    int                       len;
    char                     *out, *subject, *text, *html;
    char                     *link, *login, *reset, *line, *site;
    char                      date[64], boundary[64], hours[32];
    char                      from[NGX_XYZ_MIME_ADDR_MAX + 3];
    char                      msgid[sizeof("xyz-@") + NGX_INT64_LEN
                                    + NGX_XYZ_MIME_ADDR_MAX];
    size_t                    size;
    yajl_val                  root;
    ngx_str_t                *t;
    ngx_log_t                *log;
    ngx_uint_t                type, loc;
    const char               *s, *email, *name, *token, *locale;
    ngx_xyz_curl_t           *h;
    ngx_xyz_mime_t            mime;
    ngx_xyz_tpl_var_t         vars[7];
    ngx_xyz_dispatch_conf_t  *dc;
    struct curl_slist        *rcpt;

    dc = ngx_xyz_job_conf(job);
    log = ngx_xyz_job_log(job);

    root = yajl_tree_parse(job->msg->body, NULL, 0);

    s = root ? ngx_xyz_json_string(root, "type") : NULL;
    email = root ? ngx_xyz_json_string(root, "email") : NULL;
    name = root ? ngx_xyz_json_string(root, "name") : NULL;
    token = root ? ngx_xyz_json_string(root, "token") : NULL;
    locale = root ? ngx_xyz_json_string(root, "locale") : NULL;

    if (s && ngx_strcmp(s, "confirm") == 0 && token) {
        type = NGX_XYZ_MAIL_CONFIRM;

    } else if (s && ngx_strcmp(s, "already_registered") == 0) {
        type = NGX_XYZ_MAIL_ALREADY;

    } else if (s && ngx_strcmp(s, "reset") == 0 && token) {
        type = NGX_XYZ_MAIL_RESET;

    } else {
        if (root) {
            yajl_tree_free(root);
        }

        ngx_xyz_job_done(job, NGX_XYZ_DEAD, 0,
                         "not an email message this dispatcher knows");
        return;
    }

    if (email == NULL) {
        yajl_tree_free(root);
        ngx_xyz_job_done(job, NGX_XYZ_DEAD, 0, "an email without address");
        return;
    }

    loc = (locale && ngx_strcmp(locale, "en") == 0) ? 1 : 0;
    t = dc->tpl[type][loc];

    h = ngx_xyz_curl_create(log);
    if (h == NULL) {
        yajl_tree_free(root);
        ngx_xyz_job_done(job, NGX_XYZ_RETRY, 0, "out of memory");
        return;
    }

    /* links into the site; the token is base64url, safe in a URL */

    site = (char *) dc->public_url.data;
    size = dc->public_url.len + 128 + (token ? ngx_strlen(token) : 0);

    link = ngx_pnalloc(h->pool, size);
    login = ngx_pnalloc(h->pool, size);
    reset = ngx_pnalloc(h->pool, size);
    if (link == NULL || login == NULL || reset == NULL) {
        goto failed;
    }

    ngx_sprintf((u_char *) link,
                type == NGX_XYZ_MAIL_RESET ? "%s/reset-complete.html?token=%s%Z"
                                           : "%s/confirm?token=%s%Z",
                site, token ? token : "");
    ngx_sprintf((u_char *) login, "%s/login%Z", site);
    ngx_sprintf((u_char *) reset, "%s/reset%Z", site);
    ngx_sprintf((u_char *) hours, "%T%Z",
                (type == NGX_XYZ_MAIL_RESET ? dc->reset_ttl : dc->confirm_ttl)
                / 3600);

    vars[0].name = "name";
    vars[0].value = name ? name : "";
    vars[1].name = "email";
    vars[1].value = email;
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

    subject = ngx_pnalloc(h->pool, t[0].len * 6 + 1024);
    text = ngx_pnalloc(h->pool, size);
    html = ngx_pnalloc(h->pool, size);
    if (subject == NULL || text == NULL || html == NULL) {
        goto failed;
    }

    if (ngx_xyz_template_render((char *) t[0].data, t[0].len, vars, 7,
                                NGX_XYZ_TPL_RAW, subject, t[0].len * 6 + 1024)
        < 0
        || ngx_xyz_template_render((char *) t[1].data, t[1].len, vars, 7,
                                   NGX_XYZ_TPL_RAW, text, size) < 0
        || ngx_xyz_template_render((char *) t[2].data, t[2].len, vars, 7,
                                   NGX_XYZ_TPL_HTML, html, size) < 0)
    {
        goto failed;
    }

    /*
     * Stable across attempts, so that a resent copy can be recognised.
     * The sender's address, and so its domain, is at most
     * NGX_XYZ_MIME_ADDR_MAX long ("nginx -t" checks it): msgid and from
     * hold them, and the bounds hold anyway.
     */

    *ngx_snprintf((u_char *) msgid, sizeof(msgid) - 1, "xyz-%L@%V",
                  job->msg->outbox_id, &dc->mail_domain) = '\0';
    ngx_sprintf((u_char *) boundary, "=_xyz_%L%Z", job->msg->outbox_id);

    if (ngx_xyz_mime_date(ngx_time(), date, sizeof(date)) < 0) {
        goto failed;
    }

    ngx_memzero(&mime, sizeof(ngx_xyz_mime_t));

    mime.from = (char *) dc->mail_from.data;
    mime.to_addr = email;

    /* the notice goes to the account holder: the name in this attempt is
     * whatever a stranger typed, so it names no one */
    mime.to_name = (type == NGX_XYZ_MAIL_ALREADY) ? NULL : name;
    mime.subject = subject;
    mime.message_id = msgid;
    mime.date = date;
    mime.boundary = boundary;
    mime.text = text;
    mime.text_len = ngx_strlen(text);
    mime.html = html;
    mime.html_len = ngx_strlen(html);
    mime.language = ngx_xyz_mail_locales[loc];

    size = ngx_xyz_mime_len(&mime);

    out = ngx_pnalloc(h->pool, size);
    if (out == NULL) {
        goto failed;
    }

    len = ngx_xyz_mime_build(&mime, out, size);

    if (len < 0) {
        /* the address or name would break the headers: never retried */
        yajl_tree_free(root);
        ngx_xyz_curl_destroy(h);
        ngx_xyz_job_done(job, NGX_XYZ_DEAD, 0,
                         "the message cannot be built safely from its "
                         "fields");
        return;
    }

    line = ngx_pnalloc(h->pool, ngx_strlen(email) + 8);
    if (line == NULL) {
        goto failed;
    }

    ngx_sprintf((u_char *) line, "<%s>%Z", email);

    rcpt = curl_slist_append(NULL, line);
    if (rcpt == NULL) {
        goto failed;
    }

    h->rcpt = rcpt;

    *ngx_snprintf((u_char *) from, sizeof(from) - 1, "<%V>",
                  &dc->mail_from_addr) = '\0';

    curl_easy_setopt(h->easy, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h->easy, CURLOPT_MAIL_RCPT, rcpt);

    if (dc->smtp_starttls) {
        curl_easy_setopt(h->easy, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    }

    if (dc->smtp_user.len) {
        curl_easy_setopt(h->easy, CURLOPT_USERNAME,
                         (char *) dc->smtp_user.data);
        curl_easy_setopt(h->easy, CURLOPT_PASSWORD,
                         (char *) dc->smtp_password.data);
    }

    yajl_tree_free(root);
    root = NULL;

    h->body.data = (u_char *) out;
    h->body.len = len;
    h->upload = 1;
    h->timeout = dc->smtp_timeout;
    h->handler = ngx_xyz_mail_done;
    h->data = job;

    if (ngx_xyz_curl_start(h, (char *) dc->smtp_url.data) != NGX_OK) {
        ngx_xyz_curl_destroy(h);
        ngx_xyz_job_done(job, NGX_XYZ_RETRY, 0, "too many transfers at once");
    }

    return;

failed:

    if (root) {
        yajl_tree_free(root);
    }

    ngx_xyz_curl_destroy(h);
    ngx_xyz_job_done(job, NGX_XYZ_RETRY, 0, "out of memory");
}


static void
ngx_xyz_mail_done(ngx_xyz_curl_t *h)
{
    ngx_xyz_job_t *job = h->data;

    u_char  detail[256];

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
