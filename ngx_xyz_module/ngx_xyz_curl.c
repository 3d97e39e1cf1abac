
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * One libcurl multi handle per worker, driven by nginx:
 *
 *   - the module opens and closes curl's sockets itself (open/close socket
 *     callbacks), so each has an ngx_connection_t whose events are removed
 *     before the descriptor is closed;
 *   - the socket callback turns CURL_POLL_IN/OUT into level-triggered nginx
 *     events; sockets curl makes on its own (the threaded resolver's
 *     wake-up pipe) get a connection that is dropped, not closed, on
 *     CURL_POLL_REMOVE;
 *   - the timer callback sets one cancelable nginx timer, so an exiting
 *     worker does not wait for keep-alive connections or retries.
 *
 * Every transfer has a total timeout; their number is bounded.
 */


#include "ngx_xyz_curl.h"
#include "ngx_xyz_event.h"

#include <sys/resource.h>


typedef struct {
    CURLM                  *multi;
    ngx_event_t             timer;
    ngx_log_t              *log;
    ngx_connection_t      **conns;          /* by descriptor */
    ngx_uint_t              nconns;
    ngx_queue_t             transfers;
    ngx_uint_t              active;
    ngx_uint_t              max_active;
} ngx_xyz_curl_multi_t;


static curl_socket_t ngx_xyz_curl_open_socket(void *data,
    curlsocktype purpose, struct curl_sockaddr *addr);
static int ngx_xyz_curl_close_socket(void *data, curl_socket_t s);
static int ngx_xyz_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *data, void *socketp);
static int ngx_xyz_curl_timer(CURLM *multi, long timeout_ms, void *data);
static ngx_connection_t *ngx_xyz_curl_attach(curl_socket_t s,
    ngx_uint_t owned);
static void ngx_xyz_curl_detach(ngx_connection_t *c);
static void ngx_xyz_curl_event_handler(ngx_event_t *ev);
static void ngx_xyz_curl_timer_handler(ngx_event_t *ev);
static void ngx_xyz_curl_done(void);
static size_t ngx_xyz_curl_write(char *ptr, size_t size, size_t nmemb,
    void *data);
static size_t ngx_xyz_curl_read(char *ptr, size_t size, size_t nmemb,
    void *data);
static size_t ngx_xyz_curl_header_line(char *ptr, size_t size, size_t nmemb,
    void *data);


static ngx_xyz_curl_multi_t  ngx_xyz_curl;

/* c->data of sockets curl made without asking the module */
static ngx_uint_t      ngx_xyz_curl_foreign;
static ngx_uint_t      ngx_xyz_curl_owned;


ngx_int_t
ngx_xyz_curl_init(ngx_cycle_t *cycle, ngx_uint_t max_transfers)
{
    struct rlimit  rlmt;

    if (ngx_xyz_curl.multi) {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "xyz: curl_global_init() failed");
        return NGX_ERROR;
    }

    ngx_xyz_curl.log = cycle->log;
    ngx_xyz_curl.max_active = max_transfers;

    /* descriptors stay below the open-files limit of the process */

    if (getrlimit(RLIMIT_NOFILE, &rlmt) == -1
        || rlmt.rlim_cur == RLIM_INFINITY || rlmt.rlim_cur > 1048576)
    {
        ngx_xyz_curl.nconns = 1048576;

    } else {
        ngx_xyz_curl.nconns = (ngx_uint_t) rlmt.rlim_cur;
    }

    ngx_queue_init(&ngx_xyz_curl.transfers);

    ngx_xyz_curl.conns = ngx_pcalloc(cycle->pool, ngx_xyz_curl.nconns
                                                  * sizeof(ngx_connection_t *));
    if (ngx_xyz_curl.conns == NULL) {
        return NGX_ERROR;
    }

    ngx_xyz_curl.multi = curl_multi_init();
    if (ngx_xyz_curl.multi == NULL) {
        return NGX_ERROR;
    }

    curl_multi_setopt(ngx_xyz_curl.multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_xyz_curl_socket);
    curl_multi_setopt(ngx_xyz_curl.multi, CURLMOPT_TIMERFUNCTION,
                      ngx_xyz_curl_timer);

    /* a bounded connection cache per worker, reused across transfers */
    curl_multi_setopt(ngx_xyz_curl.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long) max_transfers);
    curl_multi_setopt(ngx_xyz_curl.multi, CURLMOPT_MAXCONNECTS,
                      (long) max_transfers);

    ngx_xyz_curl.timer.handler = ngx_xyz_curl_timer_handler;
    ngx_xyz_curl.timer.log = cycle->log;
    ngx_xyz_curl.timer.data = &ngx_xyz_curl;
    ngx_xyz_curl.timer.cancelable = 1;

    return NGX_OK;
}


void
ngx_xyz_curl_cleanup(void)
{
    ngx_uint_t       i;
    ngx_queue_t     *q;
    ngx_xyz_curl_t  *h;

    if (ngx_xyz_curl.multi == NULL) {
        return;
    }

    if (ngx_xyz_curl.timer.timer_set) {
        ngx_del_timer(&ngx_xyz_curl.timer);
    }

    /* unfinished transfers are dropped; their owners retry from the database */

    while (!ngx_queue_empty(&ngx_xyz_curl.transfers)) {
        q = ngx_queue_head(&ngx_xyz_curl.transfers);
        h = ngx_queue_data(q, ngx_xyz_curl_t, queue);

        ngx_queue_remove(q);
        curl_multi_remove_handle(ngx_xyz_curl.multi, h->easy);
        ngx_xyz_curl_destroy(h);
    }

    /* closes the cached connections through the close socket callback */
    curl_multi_cleanup(ngx_xyz_curl.multi);
    ngx_xyz_curl.multi = NULL;

    for (i = 0; i < ngx_xyz_curl.nconns; i++) {
        if (ngx_xyz_curl.conns[i]) {
            ngx_xyz_curl_detach(ngx_xyz_curl.conns[i]);
        }
    }

    curl_global_cleanup();
}


ngx_uint_t
ngx_xyz_curl_active(void)
{
    return ngx_xyz_curl.active;
}


ngx_xyz_curl_t *
ngx_xyz_curl_create(ngx_log_t *log)
{
    ngx_pool_t      *pool;
    ngx_xyz_curl_t  *h;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NULL;
    }

    h = ngx_pcalloc(pool, sizeof(ngx_xyz_curl_t));
    if (h == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    h->pool = pool;
    h->log = log;
    h->timeout = 10000;
    h->response_max = 1024 * 1024;

    h->easy = curl_easy_init();
    if (h->easy == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    return h;
}


ngx_int_t
ngx_xyz_curl_header(ngx_xyz_curl_t *h, const char *line)
{
    struct curl_slist  *l;

    l = curl_slist_append(h->headers, line);
    if (l == NULL) {
        return NGX_ERROR;
    }

    h->headers = l;

    return NGX_OK;
}


ngx_int_t
ngx_xyz_curl_start(ngx_xyz_curl_t *h, const char *url)
{
    CURL  *e;

    if (ngx_xyz_curl.multi == NULL) {
        return NGX_ERROR;
    }

    if (ngx_xyz_curl.active >= ngx_xyz_curl.max_active) {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, h->log, 0,
                       "xyz curl: %p refused, %ui active",
                       h, ngx_xyz_curl.active);
        return NGX_BUSY;
    }

    /* "Expect: 100-continue" would cost a round trip on every POST */
    if (!h->keep_expect && ngx_xyz_curl_header(h, "Expect:") != NGX_OK) {
        return NGX_ERROR;
    }

    e = h->easy;

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, h);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ngx_xyz_curl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, ngx_xyz_curl_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) h->timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) ngx_min(h->timeout, 5000));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, ngx_xyz_curl_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &ngx_xyz_curl);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION,
                     ngx_xyz_curl_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, &ngx_xyz_curl);

    if (h->upload) {
        /* SMTP: the message is read from the body; curl dot-stuffs it */
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, ngx_xyz_curl_read);
        curl_easy_setopt(e, CURLOPT_READDATA, h);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t) h->body.len);

    } else if (h->body.data) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) h->body.len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body.data);
    }

    if (curl_multi_add_handle(ngx_xyz_curl.multi, e) != CURLM_OK) {
        return NGX_ERROR;
    }

    ngx_xyz_curl.active++;
    ngx_queue_insert_tail(&ngx_xyz_curl.transfers, &h->queue);

    /* not the URL: its query may carry a signature */
    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, h->log, 0,
                   "xyz curl: start %p, %uz bytes, timeout %M, %ui active",
                   h, h->body.len, h->timeout, ngx_xyz_curl.active);

    return NGX_OK;
}


void
ngx_xyz_curl_destroy(ngx_xyz_curl_t *h)
{
    if (h->easy) {
        curl_easy_cleanup(h->easy);
        h->easy = NULL;
    }

    if (h->headers) {
        curl_slist_free_all(h->headers);
        h->headers = NULL;
    }

    if (h->rcpt) {
        curl_slist_free_all(h->rcpt);
        h->rcpt = NULL;
    }

    ngx_destroy_pool(h->pool);
}


static curl_socket_t
ngx_xyz_curl_open_socket(void *data, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_socket_t  s;

    s = ngx_socket(addr->family, addr->socktype, addr->protocol);

    if (s == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ERR, ngx_xyz_curl.log, ngx_socket_errno,
                      "xyz: socket() for an outbound transfer failed");
        return CURL_SOCKET_BAD;
    }

    if ((ngx_uint_t) s >= ngx_xyz_curl.nconns
        || ngx_xyz_curl_attach(s, 1) == NULL)
    {
        ngx_close_socket(s);
        return CURL_SOCKET_BAD;
    }

    return s;
}


static int
ngx_xyz_curl_close_socket(void *data, curl_socket_t s)
{
    if ((ngx_uint_t) s < ngx_xyz_curl.nconns && ngx_xyz_curl.conns[s]) {
        ngx_xyz_curl_detach(ngx_xyz_curl.conns[s]);
    }

    return ngx_close_socket(s);
}


static int
ngx_xyz_curl_socket(CURL *easy, curl_socket_t s, int what, void *data,
    void *socketp)
{
    ngx_connection_t  *c;

    if ((ngx_uint_t) s >= ngx_xyz_curl.nconns) {
        return -1;
    }

    c = ngx_xyz_curl.conns[s];

    if (what == CURL_POLL_REMOVE) {
        /* may come for a socket never announced; closing is separate */

        if (c == NULL) {
            return 0;
        }

        if (c->data == &ngx_xyz_curl_foreign) {
            ngx_xyz_curl_detach(c);
            return 0;
        }

        what = 0;
    }

    if (c == NULL) {
        c = ngx_xyz_curl_attach(s, 0);
        if (c == NULL) {
            return -1;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz curl: socket fd:%d armed, in:%d out:%d",
                   s, (what & CURL_POLL_IN) != 0, (what & CURL_POLL_OUT) != 0);

    ngx_xyz_event_wait(c, what & CURL_POLL_IN, what & CURL_POLL_OUT);

    return 0;
}


static int
ngx_xyz_curl_timer(CURLM *multi, long timeout_ms, void *data)
{
    if (ngx_xyz_curl.timer.timer_set) {
        ngx_del_timer(&ngx_xyz_curl.timer);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_xyz_curl.log, 0,
                   "xyz curl: timer %l ms", timeout_ms);

    if (timeout_ms >= 0) {
        /* 0 means "as soon as possible": the next turn of the loop */
        ngx_add_timer(&ngx_xyz_curl.timer, (ngx_msec_t) timeout_ms);
    }

    return 0;
}


static ngx_connection_t *
ngx_xyz_curl_attach(curl_socket_t s, ngx_uint_t owned)
{
    ngx_connection_t  *c;

    c = ngx_xyz_event_attach(s, ngx_xyz_curl_event_handler,
                             owned ? &ngx_xyz_curl_owned
                                   : &ngx_xyz_curl_foreign,
                             ngx_xyz_curl.log);
    if (c == NULL) {
        return NULL;
    }

    ngx_xyz_curl.conns[s] = c;

    return c;
}


/*
 * Gives the connection back; the descriptor is closed by its owner.  Its
 * events are removed now: a socket curl made on its own may live on.
 */

static void
ngx_xyz_curl_detach(ngx_connection_t *c)
{
    ngx_xyz_curl.conns[c->fd] = NULL;
    ngx_xyz_event_detach(c, 0);
}


static void
ngx_xyz_curl_event_handler(ngx_event_t *ev)
{
    int                running;
    ngx_connection_t  *c;

    c = ev->data;

    /* c may be gone when this returns: curl can close the socket inside */

    curl_multi_socket_action(ngx_xyz_curl.multi, c->fd,
                             ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN,
                             &running);

    ngx_xyz_curl_done();
}


static void
ngx_xyz_curl_timer_handler(ngx_event_t *ev)
{
    int  running;

    curl_multi_socket_action(ngx_xyz_curl.multi, CURL_SOCKET_TIMEOUT, 0,
                             &running);

    ngx_xyz_curl_done();
}


static void
ngx_xyz_curl_done(void)
{
    int                      left;
    CURL                    *e;
    CURLMsg                 *msg;
    curl_off_t               us;
    ngx_xyz_curl_t  *h;

    while ((msg = curl_multi_info_read(ngx_xyz_curl.multi, &left)) != NULL) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        e = msg->easy_handle;
        h = NULL;

        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &h);
        curl_multi_remove_handle(ngx_xyz_curl.multi, e);
        ngx_xyz_curl.active--;

        if (h == NULL) {
            curl_easy_cleanup(e);
            continue;
        }

        ngx_queue_remove(&h->queue);

        h->code = msg->data.result;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);

        us = 0;
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);

        ngx_log_debug5(NGX_LOG_DEBUG_EVENT, h->log, 0,
                       "xyz curl: done %p, status %l, curl code %d%s, %M ms",
                       h, h->status, (int) h->code,
                       h->code == CURLE_OPERATION_TIMEDOUT ? " (timeout)" : "",
                       (ngx_msec_t) (us / 1000));

        if (h->code != CURLE_OK && h->error[0] == '\0') {
            ngx_cpystrn((u_char *) h->error,
                        (u_char *) curl_easy_strerror(h->code),
                        CURL_ERROR_SIZE);
        }

        h->handler(h);

        ngx_xyz_curl_destroy(h);
    }
}


static size_t
ngx_xyz_curl_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    ngx_xyz_curl_t *h = data;

    u_char  *p;
    size_t   n;

    n = size * nmemb;

    if (h->response.len + n > h->response_max) {
        /* curl ends the transfer with CURLE_WRITE_ERROR */
        return 0;
    }

    p = ngx_pnalloc(h->pool, h->response.len + n + 1);
    if (p == NULL) {
        return 0;
    }

    /* answers here are small; a copy per chunk keeps the code short */
    if (h->response.len) {
        ngx_memcpy(p, h->response.data, h->response.len);
    }

    ngx_memcpy(p + h->response.len, ptr, n);
    h->response.len += n;
    p[h->response.len] = '\0';
    h->response.data = p;

    return n;
}


static size_t
ngx_xyz_curl_read(char *ptr, size_t size, size_t nmemb, void *data)
{
    ngx_xyz_curl_t *h = data;

    size_t  n;

    n = ngx_min(size * nmemb, h->body.len - h->sent);

    ngx_memcpy(ptr, h->body.data + h->sent, n);
    h->sent += n;

    return n;
}


/* keeps the one answer header the module acts on: Retry-After */

static size_t
ngx_xyz_curl_header_line(char *ptr, size_t size, size_t nmemb, void *data)
{
    ngx_xyz_curl_t *h = data;

    char    *p, *last;
    size_t   n;

    n = size * nmemb;

    if (n > sizeof("Retry-After:") - 1
        && ngx_strncasecmp((u_char *) ptr, (u_char *) "Retry-After:",
                           sizeof("Retry-After:") - 1) == 0)
    {
        p = ptr + sizeof("Retry-After:") - 1;
        last = ptr + n;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        while (last > p && (last[-1] == '\r' || last[-1] == '\n'
                            || last[-1] == ' '))
        {
            last--;
        }

        n = ngx_min((size_t) (last - p), sizeof(h->retry_after) - 1);
        ngx_memcpy(h->retry_after, p, n);
        h->retry_after[n] = '\0';
    }

    return size * nmemb;
}
