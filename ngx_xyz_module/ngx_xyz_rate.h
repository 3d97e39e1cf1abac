
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * How fast a worker's queue drains, for the Retry-After of a refusal.
 * A refused client told "come back in 2 s" while the queue ahead of it
 * holds 30 s of work comes back 15 times for nothing; told the drain time
 * of the queue (with a little jitter, so the refused do not all come back
 * in the same second) it comes back about when there is room.
 */


#ifndef _NGX_XYZ_RATE_H_INCLUDED_
#define _NGX_XYZ_RATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_msec_t               start;          /* of the current window */
    ngx_uint_t               count;          /* done in the window */
    ngx_uint_t               per_s;          /* smoothed, per second */
} ngx_xyz_rate_t;


/* one more done; called where the work completes */

static ngx_inline void
ngx_xyz_rate_count(ngx_xyz_rate_t *rt, ngx_msec_t now)
{
    ngx_msec_t  elapsed;
    ngx_uint_t  per_s;

    if (rt->start == 0) {
        rt->start = now;
    }

    rt->count++;

    elapsed = now - rt->start;

    if (elapsed < 1000) {
        return;
    }

    per_s = rt->count * 1000 / elapsed;

    /* a window of a second is noisy: halve the step toward it */
    rt->per_s = rt->per_s ? (rt->per_s + per_s + 1) / 2 : per_s;

    rt->start = now;
    rt->count = 0;
}


/*
 * The seconds a client should wait before trying again when "waiting"
 * requests are ahead of it: their drain time at the measured rate less
 * half the wait, or the configured wait while no rate is known yet; 1 to
 * 60, plus up to a half of it again, at random.
 *
 * Told the whole drain time, clients that wait 0.5 to 1.5 times what they
 * are told (the front end does, so that they do not all come back in the
 * same second) came back mostly after the queue had run dry, and the
 * hashing threads idled while they slept (make bench-journey: 28 to 82
 * thread-s of about 290).  Half a wait earlier they come back while there
 * is still work, and wait for their turn in the queue, within its wait.
 */

static ngx_inline time_t
ngx_xyz_rate_retry_after(ngx_xyz_rate_t *rt, ngx_uint_t waiting,
    ngx_msec_t wait)
{
    time_t      s;
    ngx_msec_t  drain;

    if (rt->per_s) {
        drain = (ngx_msec_t) (waiting * 1000 / rt->per_s);
        drain = (drain > wait / 2) ? drain - wait / 2 : 0;
        s = (time_t) ((drain + 999) / 1000);

    } else {
        s = (time_t) ((wait + 999) / 1000);
    }

    if (s < 1) {
        s = 1;
    }

    if (s > 60) {
        s = 60;
    }

    return s + (time_t) (ngx_random() % (s / 2 + 1));
}


#endif /* _NGX_XYZ_RATE_H_INCLUDED_ */
